"""Pruning on the tiny model: the requested sparsity exactly, Wanda's per-row cut, structured MLP and attention-head
pruning that shrink the matrices and change nothing at 0%, the shared base untouched, clear messages for bad
settings."""

import copy
import hashlib

import pytest
import torch

from modules.models import GenerationParams, get_model, pruned


def weights_hash(net) -> str:
    digest = hashlib.sha256()
    for name, tensor in sorted(net.state_dict().items()):
        digest.update(name.encode() + tensor.detach().cpu().numpy().tobytes())
    return digest.hexdigest()


def calibration(model, texts=("the cat sat on the mat", "a dog and a cat")) -> list[torch.Tensor]:
    return [model.tokenizer(text, return_tensors="pt")["input_ids"] for text in texts]


@pytest.mark.parametrize("method", ["magnitude-global", "magnitude-layer", "wanda"])
@pytest.mark.parametrize("sparsity", [0.0, 0.3, 0.5])
def test_unstructured_pruning_hits_the_requested_sparsity_and_leaves_the_base(tiny_model, method, sparsity):
    before = weights_hash(tiny_model.hf)
    net = pruned.prune(tiny_model.hf, method, sparsity, calibration(tiny_model))
    zeros_before = pruned.sparsity_of(tiny_model.hf)
    layers = pruned.prunable(net).values()
    total = sum(m.weight.numel() for m in layers)
    if method == "magnitude-global":
        expected = int(sparsity * total)
    else:  # per matrix (magnitude) or per output row (Wanda): each rounds down on its own
        rows = [(m.weight.shape[0], m.weight.shape[1]) for m in layers]
        per = [int(sparsity * m.weight.numel()) for m in layers] if method == "magnitude-layer" else [
            r * int(sparsity * c) for r, c in rows]  # fmt: skip
        expected = sum(per)
    assert sum(int((m.weight == 0).sum()) for m in layers) == max(expected, int(zeros_before * total))
    assert weights_hash(tiny_model.hf) == before  # the shared base is untouched


def test_wanda_cuts_each_output_row_by_the_same_share(tiny_model):
    net = pruned.prune(tiny_model.hf, "wanda", 0.5, calibration(tiny_model))
    for module in pruned.prunable(net).values():
        per_row = (module.weight == 0).sum(dim=1)
        assert (per_row == module.weight.shape[1] // 2).all()


def test_structured_mlp_pruning_shrinks_the_matrices_and_changes_nothing_at_zero(tiny_model):
    ids = calibration(tiny_model)[0]
    with torch.no_grad():
        reference = tiny_model.hf(input_ids=ids).logits
        same = pruned.prune(tiny_model.hf, "mlp-neurons", 0.0)
        assert torch.equal(same(input_ids=ids).logits, reference)
        half = pruned.prune(tiny_model.hf, "mlp-neurons", 0.5)
        mlp = half.model.layers[0].mlp
        width = tiny_model.hf.model.layers[0].mlp.gate_proj.out_features
        assert mlp.gate_proj.out_features == mlp.up_proj.out_features == mlp.down_proj.in_features == width - width // 2
        assert half(input_ids=ids).logits.shape == reference.shape  # it still runs
    assert sum(p.numel() for p in half.parameters()) < sum(p.numel() for p in tiny_model.hf.parameters())


def test_attention_head_pruning_drops_whole_heads_group_by_group_and_changes_nothing_at_zero(tiny_model):
    ids = calibration(tiny_model)[0]
    layers = tiny_model.hf.model.layers
    attention = layers[0].self_attn
    heads, groups = pruned._head_counts(attention)
    with torch.no_grad():
        reference = tiny_model.hf(input_ids=ids).logits
        same = pruned.prune(tiny_model.hf, "attention-heads", 0.0, [ids])
        assert torch.equal(same(input_ids=ids).logits, reference)
        half = pruned.prune(tiny_model.hf, "attention-heads", 0.5, [ids])
        kept = [pruned._head_counts(layer.self_attn) for layer in half.model.layers]
        dropped = heads * len(layers) - sum(count for count, _ in kept)
        assert dropped == int(0.5 * heads * len(layers)) // (heads // groups) * (heads // groups)  # whole groups' slots
        for (count, per_group), layer in zip(kept, half.model.layers):
            assert count == per_group * (heads // groups) and per_group >= 1  # every key/value head keeps a query head
            assert (
                layer.self_attn.o_proj.in_features == layer.self_attn.q_proj.out_features == count * attention.head_dim
            )
            assert layer.self_attn.k_proj.out_features == attention.k_proj.out_features  # the KV cache is unchanged
        masked = copy.deepcopy(tiny_model.hf)  # the original with the dropped heads' outputs zeroed computes the same
        for full, small in zip(masked.model.layers, half.model.layers):
            size = attention.head_dim
            before = full.self_attn.q_proj.weight.split(size)
            after = small.self_attn.q_proj.weight.split(size)
            kept = {h for h, rows in enumerate(before) if any(torch.equal(rows, other) for other in after)}
            for head in set(range(heads)) - kept:
                full.self_attn.o_proj.weight[:, head * size : (head + 1) * size] = 0
        assert torch.allclose(half(input_ids=ids).logits, masked(input_ids=ids).logits, atol=1e-5)
    model = get_model(f"{tiny_model.spec}+prune:attention-heads-50")
    assert "query heads removed" in model.label
    assert model.generate(["hello"], GenerationParams(max_new_tokens=3))[0].new_tokens >= 1  # decodes with a cache
    assert sum(p.numel() for p in half.parameters()) < sum(p.numel() for p in tiny_model.hf.parameters())


def test_bad_settings_are_clear_errors(tiny_model):
    with pytest.raises(ValueError, match="below 1"):
        pruned.prune(tiny_model.hf, "magnitude-global", 1.0)
    with pytest.raises(ValueError, match="Unknown pruning method 'nope'"):
        pruned.prune(tiny_model.hf, "nope", 0.5)
    with pytest.raises(ValueError, match="Wanda needs calibration text"):
        pruned.prune(tiny_model.hf, "wanda", 0.5, [])
    with pytest.raises(ValueError, match="attention heads needs calibration text"):
        pruned.prune(tiny_model.hf, "attention-heads", 0.5, [])


def test_the_magnitude_histogram_is_a_seeded_sample(tiny_model):
    first, second = pruned.magnitudes(tiny_model.hf, 500), pruned.magnitudes(tiny_model.hf, 500)
    assert torch.equal(first, second) and len(first) == 500 and (first >= 0).all()


def test_a_pruning_is_a_variant_by_spec_usable_like_any_model(tiny_model):
    from modules.models import GenerationParams, ModelSpec, get_model

    before = weights_hash(tiny_model.hf)
    model = get_model(f"{tiny_model.spec} +prune: wanda-50")
    assert model.spec == f"{tiny_model.spec}+prune:wanda-50" and "Wanda" in model.label
    assert pruned.sparsity_of(model.hf) == pytest.approx(0.5, abs=0.02)
    assert model.generate([[{"role": "user", "content": "hi"}]], GenerationParams(max_new_tokens=3))[0].text is not None
    both = get_model(f"{tiny_model.spec}+prune:mlp-neurons-50+quant:w8a8")  # pruned, then quantized
    assert ModelSpec.parse(both.spec).prune == "mlp-neurons-50" and "per token" in both.label
    assert (
        both.hf.model.layers[0].mlp.gate_proj.out_features
        == tiny_model.hf.model.layers[0].mlp.gate_proj.out_features // 2
    )
    assert weights_hash(tiny_model.hf) == before


@pytest.mark.parametrize("bad", ["wanda", "wanda-100", "lottery-50", "wanda-half"])
def test_bad_pruning_specs_get_clear_messages(tiny_model, bad):
    from modules.models import get_model

    with pytest.raises(ValueError, match="method-|below 1|<method>-<percent>"):
        get_model(f"{tiny_model.spec}+prune:{bad}")


def test_spec_parts_keep_their_order():
    from modules.models import ModelLoadError, ModelSpec

    assert str(ModelSpec.parse("m+prune:wanda-50+adapter:a+quant:int8")) == "m+prune:wanda-50+adapter:a+quant:int8"
    for wrong in ("m+quant:int8+prune:wanda-50", "m+adapter:a+prune:wanda-50"):
        with pytest.raises(ModelLoadError, match="in this order"):
            ModelSpec.parse(wrong)


def test_a_recovery_lora_on_a_pruned_model_is_a_variant_by_spec(tiny_model, tmp_path):
    """The issue's optional recovery fine-tune: LoRA trained on the pruned model, saved on it, loaded by spec."""
    from modules.models import adapters, get_model
    from modules.training import finetune
    from tests.test_finetune import rows_for, run_training

    pruned_model = get_model(f"{tiny_model.spec}+prune:mlp-neurons-50")
    net = finetune.prepare(pruned_model, finetune.Config(method="lora", dropout=0.0))
    run_training(net, pruned_model, rows_for(pruned_model), tmp_path, lr=5e-2)
    adapters.save("recovery", net, {"method": "lora", "base": pruned_model.spec, "steps": 2, "seed": 0})
    ids = pruned_model.tokenizer("Summarize: hello", return_tensors="pt")["input_ids"]
    recovered = get_model(f"{tiny_model.spec}+prune:mlp-neurons-50+adapter:recovery")
    recovered.activate()
    with torch.no_grad():
        assert torch.allclose(recovered.hf(input_ids=ids).logits, net(input_ids=ids).logits, atol=1e-5)
    gates = [m for name, m in recovered.hf.named_modules() if name.endswith("layers.0.mlp.gate_proj")]
    assert gates[0].out_features == pruned_model.hf.model.layers[0].mlp.gate_proj.out_features  # the pruned shape
