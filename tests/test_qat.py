"""Quantization-aware training on the tiny model, both schemes (8da4w: int8 activations per token, int4 weights in
groups of 32; w8a8: int8 activations per token, int8 weights per channel): the converted model computes what the
fake-quantized one did, a QAT fine-tune saves and runs converted, the PTQ variant by spec, the shared base untouched."""

import copy
import hashlib

import pytest
import torch

from modules.models import GenerationParams, adapters, get_model, quantized
from modules.training import finetune, qat
from tests.test_finetune import rows_for, run_training

# max |logit difference| between the fake-quantized forward and the converted model; measured: 0 (8da4w), 1e-7 (w8a8,
# float rounding), against 2.8e-3 between w8a8 and fp32 (torchao's own per-token fake quantizer missed by 1.6e-2)
TOLERANCE = 1e-4


def weights_hash(model) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(model.hf.state_dict().items()):
        digest.update(name.encode() + tensor.detach().cpu().numpy().tobytes())
    return digest.hexdigest()


def ids_of(model) -> torch.Tensor:
    return torch.tensor([model.tokenizer("Summarize: the cat sat on the mat", add_special_tokens=False)["input_ids"]])


@pytest.mark.parametrize("scheme", qat.SCHEMES)
def test_convert_matches_the_fake_quantized_forward(tiny_model, scheme):
    from torchao.quantization import quantize_
    from torchao.quantization.qat import QATConfig

    before = weights_hash(tiny_model)
    net = finetune.prepare(tiny_model, finetune.Config(method=f"qat-{scheme}"))
    assert any(type(m).__name__ == "FakeQuantizedLinear" for m in net.modules())
    ids = ids_of(tiny_model)
    with torch.no_grad():
        fake = net(input_ids=ids).logits
        saved_path = quantized.qat_convert(copy.deepcopy(tiny_model.hf), scheme)  # the variant's way; no training yet
        if scheme == "8da4w":
            quantize_(net, QATConfig(quantized.torchao_8da4w_config(), step="convert"))  # torchao's own convert
        else:  # torchao's convert without a PTQ config gives plain Linears back; the lab's kernel then
            quantize_(net, QATConfig(step="convert"))
            assert not any(type(m).__name__ == "FakeQuantizedLinear" for m in net.modules())
            net = quantized.token_int8(net, quantized.QAT_COMPONENTS)
        converted = net(input_ids=ids).logits
        assert (converted - fake).abs().max().item() <= TOLERANCE
        assert (saved_path(input_ids=ids).logits - fake).abs().max().item() <= TOLERANCE  # the variant's way
        assert (fake - tiny_model.hf(input_ids=ids).logits).abs().max().item() > TOLERANCE  # it did quantize
    assert weights_hash(tiny_model) == before


@pytest.mark.parametrize("scheme", qat.SCHEMES)
def test_a_qat_fine_tune_saves_plain_weights_and_runs_converted(tiny_model, tmp_path, scheme):
    before = weights_hash(tiny_model)
    net = finetune.prepare(tiny_model, finetune.Config(method=f"qat-{scheme}"))
    run_training(net, tiny_model, rows_for(tiny_model), tmp_path, lr=5e-2)
    assert (
        net.get_submodule("model.layers.0.self_attn.q_proj").weight
        != tiny_model.hf.get_submodule("model.layers.0.self_attn.q_proj").weight
    ).any()  # the straight-through gradients reached the weights
    adapters.save(
        f"qat-tiny-{scheme}", net, {"method": f"qat-{scheme}", "base": tiny_model.spec, "steps": 2, "seed": 0}
    )
    ids = ids_of(tiny_model)
    with torch.no_grad():
        trained = net(input_ids=ids).logits  # the fake-quantized forward it was trained with
        variant = get_model(f"{tiny_model.spec}+adapter:qat-tiny-{scheme}")
        assert quantized.QAT_SCHEMES[scheme] in variant.label
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
