"""Quantization-aware training on the tiny model (torchao 8da4w: int8 activations per token, int4 weights in groups of
32): the converted model computes what the fake-quantized one did, a QAT fine-tune saves and runs converted, the PTQ
variant by spec, the shared base untouched."""

import copy
import hashlib

import torch

from modules.models import GenerationParams, adapters, get_model, quantized
from modules.training import finetune
from tests.test_finetune import rows_for, run_training

TOLERANCE = 1e-4  # max |logit difference| between the fake-quantized forward and the converted model (measured: 0)


def weights_hash(model) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.hf.state_dict().items()):
        digest.update(name.encode() + tensor.detach().cpu().numpy().tobytes())
    return digest.hexdigest()


def ids_of(model) -> torch.Tensor:
    return torch.tensor([model.tokenizer("Summarize: the cat sat on the mat", add_special_tokens=False)["input_ids"]])


def test_convert_matches_the_fake_quantized_forward(tiny_model):
    from torchao.quantization import quantize_
    from torchao.quantization.qat import QATConfig

    before = weights_hash(tiny_model)
    net = finetune.prepare(tiny_model, finetune.Config(method="qat-8da4w"))
    assert any(type(m).__name__ == "FakeQuantizedLinear" for m in net.modules())
    ids = ids_of(tiny_model)
    with torch.no_grad():
        fake = net(input_ids=ids).logits
        saved_path = quantized.torchao_8da4w(copy.deepcopy(tiny_model.hf), "all-but-embeddings")  # no training yet
        quantize_(net, QATConfig(quantized.torchao_8da4w_config(), step="convert"))  # torchao's own convert
        converted = net(input_ids=ids).logits
        assert (converted - fake).abs().max().item() <= TOLERANCE
        assert (saved_path(input_ids=ids).logits - fake).abs().max().item() <= TOLERANCE  # the variant's way
        assert (fake - tiny_model.hf(input_ids=ids).logits).abs().max().item() > TOLERANCE  # it did quantize
    assert weights_hash(tiny_model) == before


def test_a_qat_fine_tune_saves_plain_weights_and_runs_converted(tiny_model, tmp_path):
    before = weights_hash(tiny_model)
    net = finetune.prepare(tiny_model, finetune.Config(method="qat-8da4w"))
    run_training(net, tiny_model, rows_for(tiny_model), tmp_path, lr=5e-2)
    adapters.save("qat-tiny", net, {"method": "qat-8da4w", "base": tiny_model.spec, "steps": 2, "seed": 0})
    ids = ids_of(tiny_model)
    with torch.no_grad():
        trained = net(input_ids=ids).logits  # the fake-quantized forward it was trained with
        variant = get_model(f"{tiny_model.spec}+adapter:qat-tiny")
        assert "converted" in variant.label
        assert (variant.hf(input_ids=ids).logits - trained).abs().max().item() <= TOLERANCE
    assert variant.generate(["hello"], GenerationParams(max_new_tokens=2))[0].new_tokens >= 1
    assert weights_hash(tiny_model) == before


def test_post_training_8da4w_is_a_variant_by_spec(tiny_model):
    before = weights_hash(tiny_model)
    model = get_model(f"{tiny_model.spec}+quant:8da4w")
    assert "int4 weights in groups of 32" in model.label
    kinds = {type(m.weight).__name__ for m in model.hf.modules() if isinstance(m, torch.nn.Linear)}
    assert "IntxUnpackedToInt8Tensor" in kinds and "Parameter" in kinds  # the decoder's Linears; the head stays
    assert model.generate(["hello"], GenerationParams(max_new_tokens=2))[0].new_tokens >= 1
    assert weights_hash(tiny_model) == before
