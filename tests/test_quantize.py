"""Precision variants on the tiny random Llama: they build, generate, shrink, touch only what was chosen, leave
the base alone; perplexity matches a direct loss computation; memory checks refuse clearly."""

import math

import pytest
import torch
from torch import nn

from modules import measure
from modules.models import GenerationParams, get_model, quantized
from tests.conftest import weights_hash


def linear_kinds(model) -> dict[str, str]:
    """Module name -> "Linear" (float) or its quantized class's display name, for every Linear-like layer."""
    linears = {name: m for name, m in model.hf.named_modules() if type(m).__name__ == "Linear"}
    return {name: "Linear" if type(m) is nn.Linear else m._get_name() for name, m in linears.items()}


@pytest.mark.parametrize("name", ["bf16", "int8", "int8-attention", "int8-mlp", "int8-everything", "4bit", "4bit-mlp"])
def test_each_variant_builds_generates_and_leaves_the_base_alone(tiny_model, name):
    before = weights_hash(tiny_model)
    variant = quantized.build(tiny_model, quantized.parse(name))
    (generation,) = variant.generate(["Hello there"], GenerationParams(max_new_tokens=4))
    assert generation.new_tokens >= 1 and variant.conversion_s > 0
    config = quantized.parse(name)  # the conversion happened: every weight bf16, or exactly the chosen layers packed
    if config.precision == "bf16":
        assert {p.dtype for p in variant.hf.parameters()} == {torch.bfloat16}
    else:
        kind = "Int4Linear" if config.precision == "4bit" else "DynamicQuantizedLinear"
        converted = {n for n, m in variant.hf.named_modules() if m._get_name() == kind}
        assert converted == set(quantized.chosen_linears(tiny_model.hf, config.components))
    assert weights_hash(tiny_model) == before and variant.hf is not tiny_model.hf
    assert variant.spec == f"{tiny_model.spec}+quant:{name}"


def test_memory_shrinks_where_expected(tiny_model):
    base = quantized.weight_bytes(tiny_model.hf)
    sizes = {name: quantized.weight_bytes(quantized.build(tiny_model, quantized.parse(name)).hf)
             for name in ("bf16", "int8", "int8-everything", "4bit")}  # fmt: skip
    linears = {n: m.weight.numel() for n, m in tiny_model.hf.named_modules() if isinstance(m, nn.Linear)}
    body = sum(count for n, count in linears.items() if not n.endswith("lm_head"))  # what int8 / 4bit convert
    embedding = tiny_model.hf.get_input_embeddings().weight
    assert sizes["bf16"] == base / 2
    assert sizes["int8"] == base - 3 * body  # 4 bytes -> 1 byte a weight (one per-tensor scale, no biases here)
    # everything: the head too, and the embedding at 1 byte a weight plus a float32 scale and zero point per row
    everything = sizes["int8"] - 3 * linears["lm_head"] - 3 * embedding.numel() + 2 * 4 * embedding.shape[0]
    assert sizes["int8-everything"] == everything
    # 4-bit: half a byte a weight plus a float32 scale and zero point per group of 32 weights
    assert sizes["4bit"] == base - 4 * body + body // 2 + 2 * 4 * body // quantized.INT4_GROUP
    # the quantized layers alone: int8 weights take exactly a quarter of their fp32 bytes
    fp32_linear = sum(m.weight.numel() * 4 for n, m in tiny_model.hf.named_modules()
                      if isinstance(m, nn.Linear) and not n.endswith("lm_head"))  # fmt: skip
    int8 = quantized.build(tiny_model, quantized.parse("int8"))
    int8_linear = sum(m.weight().numel() for m in int8.hf.modules() if callable(getattr(m, "weight", None)))
    assert 4 * int8_linear == fp32_linear


@pytest.mark.parametrize(
    ("components", "expected"),
    [
        ("attention", set(quantized.ATTENTION)),
        ("mlp", set(quantized.MLP)),
        ("all-but-embeddings", set(quantized.ATTENTION) | set(quantized.MLP)),
        ("all-but-down_proj", set(quantized.ATTENTION) | {"gate_proj", "up_proj"}),
        ("everything", set(quantized.ATTENTION) | set(quantized.MLP) | {"lm_head"}),
        ("down_proj", {"down_proj"}),
    ],
)
def test_component_choice_touches_only_the_chosen_modules(tiny_model, components, expected):
    variant = quantized.build(tiny_model, quantized.Config("int8", components))
    kinds = linear_kinds(variant)
    touched = {name.rsplit(".", 1)[-1] for name, kind in kinds.items() if kind != "Linear"}
    assert touched == expected
    float_embedding = type(variant.hf.get_input_embeddings()) is nn.Embedding
    assert float_embedding == (components != "everything")


def test_perplexity_matches_a_direct_loss_computation(tiny_model):
    texts = ["The meeting moved to Thursday.", "Anna asks Ben for the report by noon."]
    nll, tokens = 0.0, 0
    with torch.no_grad():
        for text in texts:
            ids = tiny_model.tokenizer(text, return_tensors="pt")["input_ids"]
            logits = tiny_model.hf(input_ids=ids).logits[0, :-1]
            nll += torch.nn.functional.cross_entropy(logits, ids[0, 1:], reduction="sum").item()
            tokens += ids.shape[1] - 1
    assert measure.perplexity(tiny_model, texts) == pytest.approx(math.exp(nll / tokens), rel=1e-5)
    with pytest.raises(ValueError, match="at least one text"):
        measure.perplexity(tiny_model, [""])


def test_decode_speed_and_agreement(tiny_model):
    assert measure.decode_speed(tiny_model, batch_size=2, new_tokens=4) > 0
    same = measure.agreement(["a b c", "d e"], ["a b c", "x y"])
    assert same == {"identical": 0.5, "rougeL_vs_reference": 0.5}  # ROUGE-L 1 for the same text, 0 for no overlap


def test_variants_come_from_the_registry_and_fp32_is_the_base(tiny_model):
    assert get_model(f"{tiny_model.spec}+quant:fp32") is tiny_model
    assert get_model(f"{tiny_model.spec}+quant:int8-mlp") is get_model(f"{tiny_model.spec}+quant:int8-mlp")


def test_bad_choices_and_low_memory_are_clear_errors(tiny_model, monkeypatch):
    with pytest.raises(ValueError, match="precision must be one of"):
        quantized.parse("int3")
    with pytest.raises(ValueError, match="components must be one of"):
        quantized.parse("int8-heads")
    monkeypatch.setattr(quantized, "MEMORY_SHARE", 1e-9)
    with pytest.raises(ValueError, match="Not enough free memory to build this variant"):
        quantized.build(tiny_model, quantized.parse("bf16"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA uses bitsandbytes for 4-bit")
def test_int4_linear_packs_and_multiplies_like_its_fp32_layer():
    torch.manual_seed(0)
    linear = nn.Linear(128, 96)
    packed = quantized.Int4Linear(linear)
    x = torch.randn(3, 5, 128)
    exact, approx = linear(x), packed(x)
    assert approx.shape == exact.shape
    assert (approx - exact).abs().max() < 0.1 * exact.abs().max()  # 16 levels per group of 32 weights
    # half a byte a weight, a float32 scale and zero point per 32 weights, the fp32 bias: vs 4 bytes a weight + bias
    assert quantized.weight_bytes(linear) == 4 * (128 * 96 + 96)
    assert quantized.weight_bytes(packed) == 128 * 96 // 2 + 2 * 4 * 128 * 96 // quantized.INT4_GROUP + 4 * 96


def test_a_precision_variant_is_a_model_spec_on_the_command_line(tiny_llama_dir, capsys):
    from evals.__main__ import main

    spec = f"{tiny_llama_dir}+quant:int8-mlp"
    assert main(["compare", "--task", "dialogue-summary", "--systems", "zero-shot:max_new_tokens=2", "--limit", "1",
                 "--model", spec]) == 0  # fmt: skip
    assert "int8 dynamic (PyTorch), mlp" in capsys.readouterr().out


def test_a_bf16_base_is_its_own_reference(bf16_base):
    """On CUDA the base loads in bf16: the comparison's reference is then bf16 (the base itself), labelled so, and
    no fp32 copy is asked for (it raised "no fp32 baseline" on every GPU)."""
    import threading

    from modules.studies import quantization

    base = bf16_base
    assert base.dtype == torch.bfloat16 and quantized.own_precision(base) == "bf16"
    assert quantized.build(base, quantized.parse("bf16")) is base
    with pytest.raises(ValueError, match="adds nothing"):
        quantized.build(base, quantized.parse("fp32"))
    table, run = quantization.compare_variants(base, ["fp32", "bf16"], "dialogue-summary", 1, lambda m: None,
                                               threading.Event(), perplexity_texts=1)  # fmt: skip
    assert list(table.variant) == ["bf16"] and "bf16, the base's own precision: the baseline" in table.what[0]
    assert table["identical to bf16"][0] == 1 and set(run.per_example.system) == {"bf16"}


@pytest.mark.parametrize("components", [*quantized.COMPONENTS, *quantized.LAYER_TYPES])
def test_bitsandbytes_leaves_alone_exactly_what_the_cpu_path_leaves_alone(tiny_model, components):
    """On CUDA the component choice goes to bitsandbytes as a skip list; it must cover the same layer types as the
    CPU path's chosen_linears (before, all-but-down_proj and single layer types quantized everything)."""
    chosen = {name.rsplit(".", 1)[-1] for name in quantized.chosen_linears(tiny_model.hf, components)}
    skipped = set(quantized.bitsandbytes_skip(components))
    assert chosen | skipped == set(quantized.LAYER_TYPES) and not chosen & skipped


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="bitsandbytes int8 runs on CUDA only")
def test_bitsandbytes_int8_quantizes_only_the_chosen_layers_on_cuda(tiny_model):
    pytest.importorskip("bitsandbytes")
    variant = quantized.build(tiny_model, quantized.parse("int8-down_proj"))
    kinds = {name.rsplit(".", 1)[-1] for name, module in variant.hf.named_modules() if "8bit" in type(module).__name__}
    assert kinds == {"down_proj"} and variant.dtype in (torch.bfloat16, torch.int8)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="bitsandbytes NF4 runs on CUDA only")
@pytest.mark.parametrize("components", ["mlp", "all-but-down_proj", "q_proj"])
def test_bitsandbytes_nf4_quantizes_only_the_chosen_layers_on_cuda(tiny_model, components):
    pytest.importorskip("bitsandbytes")
    variant = quantized.build(tiny_model, quantized.parse(f"4bit-{components}"))
    kinds = {name.rsplit(".", 1)[-1] for name, module in variant.hf.named_modules() if "4bit" in type(module).__name__}
    expected = {name.rsplit(".", 1)[-1] for name in quantized.chosen_linears(tiny_model.hf, components)}
    assert kinds == expected
    assert variant.generate(["hello"], GenerationParams(max_new_tokens=2))[0].new_tokens >= 1


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="the base is bf16 on CUDA only")
def test_on_cuda_the_bf16_base_is_the_quantization_reference(tiny_model):
    import threading

    from modules.studies import quantization

    pytest.importorskip("bitsandbytes")
    assert tiny_model.dtype == torch.bfloat16 and quantized.own_precision(tiny_model) == "bf16"
    table, run = quantization.compare_variants(tiny_model, ["bf16", "int8"], "dialogue-summary", 1, lambda m: None,
                                               threading.Event(), perplexity_texts=1)  # fmt: skip
    assert list(table.variant) == ["bf16", "int8"] and "the base's own precision" in table.what[0]
    assert set(run.per_example.system) == {"bf16", "int8"}
