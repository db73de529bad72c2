"""Shared model mechanics on tiny random models: batching, truncation, templates, sampling, registry."""

import threading

import pytest
import torch

from modules.models import GenerationParams, ModelLoadError, get_model
from modules.models import model as model_module

PROMPTS = ["the cat sat on the mat", "one two", "a dog is on the mat and the cat is in it", "summary"]


def test_batched_generation_matches_one_by_one_and_keeps_order(tiny_model):
    params = GenerationParams(max_new_tokens=6, batch_size=4)
    batched = tiny_model.generate(PROMPTS, params)
    single = [tiny_model.generate([p], params)[0] for p in PROMPTS]
    assert [g.text for g in batched] == [g.text for g in single]
    assert [g.prompt_tokens for g in batched] == [g.prompt_tokens for g in single]
    assert all(g.batch_size == 4 for g in batched)
    assert all(0 < g.new_tokens <= 6 and g.latency_s > 0 and g.tokens_per_s > 0 for g in batched)


def test_left_padding_for_decoder_only(tiny_model):
    assert tiny_model.tokenizer.padding_side == "left"


def test_chat_template_applied_and_recorded(tiny_model):
    generation = tiny_model.generate(["the cat"], GenerationParams(max_new_tokens=2))[0]
    assert generation.prompt == "<|im_start|>user\nthe cat<|im_end|>\n<|im_start|>assistant\n"
    messages = [{"role": "system", "content": "one"}, {"role": "user", "content": "two"}]
    assert tiny_model.render(messages).startswith("<|im_start|>system\none<|im_end|>")


def test_long_prompt_is_cut_from_the_left_with_a_warning(tiny_model):
    long_prompt = " ".join(["cat"] * 100) + " dog"
    generation = tiny_model.generate([long_prompt], GenerationParams(max_new_tokens=4))[0]
    assert generation.prompt_tokens == tiny_model.context_length - 4
    assert len(generation.warnings) == 1 and "truncated" in generation.warnings[0]
    assert tiny_model.generate(["cat"], GenerationParams(max_new_tokens=4))[0].warnings == []


def test_sampling_is_seeded_and_recorded(tiny_model):
    params = GenerationParams(max_new_tokens=8, do_sample=True, temperature=1.5, top_k=0, top_p=1.0, seed=7)
    first = tiny_model.generate(PROMPTS, params)
    again = tiny_model.generate(PROMPTS, params)
    other = tiny_model.generate(PROMPTS, GenerationParams(**(params.to_dict() | {"seed": 8})))
    assert [g.text for g in first] == [g.text for g in again]
    assert [g.text for g in first] != [g.text for g in other]
    assert first[0].params["seed"] == 7 and first[0].params["do_sample"] is True


def test_batch_size_is_bounded_by_free_memory(tiny_model, monkeypatch):
    free = {"bytes": 10_000}  # room for no batch at all, so one row at a time

    class Memory:
        available = property(lambda self: free["bytes"])

    # The free memory is read from psutil on CPU and from torch.cuda.mem_get_info on CUDA: both report `free`.
    monkeypatch.setattr(model_module.psutil, "virtual_memory", lambda: Memory())
    monkeypatch.setattr(model_module.torch.cuda, "mem_get_info", lambda device=None: (free["bytes"], 2 * free["bytes"]))
    assert tiny_model.max_batch_size(tokens_per_row=50, wanted=8) == 1
    generations = tiny_model.generate(PROMPTS, GenerationParams(max_new_tokens=3, batch_size=8))
    assert [g.batch_size for g in generations] == [1, 1, 1, 1]
    # keys + values of 50 tokens in every layer: exactly 3 rows fit in the KV cache's share of the free memory
    shape = tiny_model.hf.config
    head_dim = shape.hidden_size // shape.num_attention_heads
    row = 2 * shape.num_hidden_layers * shape.num_key_value_heads * head_dim * tiny_model.dtype.itemsize * 50
    free["bytes"] = int(3 * row / model_module.KV_MEMORY_SHARE)
    assert tiny_model.max_batch_size(tokens_per_row=50, wanted=8) == 3
    assert tiny_model.max_batch_size(tokens_per_row=50, wanted=2) == 2
    free["bytes"] -= 1
    assert tiny_model.max_batch_size(tokens_per_row=50, wanted=8) == 2


@pytest.mark.parametrize(
    "bad",
    [{"max_new_tokens": 0}, {"max_new_tokens": 100_000}, {"temperature": 0}, {"top_p": 1.5}, {"batch_size": 0}],
)
def test_generation_params_refuse_bad_values(bad):
    with pytest.raises(ValueError):
        GenerationParams(**bad)


def test_one_instance_per_spec_even_when_loaded_concurrently(tiny_llama_dir):
    spec = str(tiny_llama_dir) + "/"  # a new spec string for the same folder: loads once more, then shared
    found = []
    threads = [threading.Thread(target=lambda: found.append(get_model(spec))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(m) for m in found}) == 1
    assert get_model(spec) is found[0]


def test_model_info_is_honest(tiny_model):
    info = tiny_model.info()
    expected = ("cuda:0", "bfloat16") if torch.cuda.is_available() else ("cpu", "float32")  # default_device()
    assert (info["device"], info["dtype"]) == expected
    c = tiny_model.hf.config  # untied embedding and head; per layer q, o (h x h), k, v (h x kv), 3 MLP, 2 norms
    kv = c.num_key_value_heads * c.hidden_size // c.num_attention_heads
    layer = 2 * c.hidden_size**2 + 2 * c.hidden_size * kv + 3 * c.hidden_size * c.intermediate_size + 2 * c.hidden_size
    assert info["parameters"] == 2 * c.vocab_size * c.hidden_size + c.num_hidden_layers * layer + c.hidden_size
    assert info["context_length"] == 64 and info["chat_template"] is True


def test_unknown_hub_id_offline_is_a_clear_error():
    with pytest.raises(ModelLoadError) as error:
        get_model("no-such-org/no-such-model")
    message = str(error.value)
    assert "no-such-org/no-such-model" in message and "unreachable" in message


def test_seq2seq_model_generates(tiny_t5_dir):
    model = get_model(str(tiny_t5_dir))
    assert model.is_seq2seq and not model.has_chat_template
    generations = model.generate(["the cat sat", "one two three four"], GenerationParams(max_new_tokens=5))
    assert len(generations) == 2
    assert all(g.new_tokens >= 1 and g.prompt == p for g, p in zip(generations, ["the cat sat", "one two three four"]))


def test_variant_leaves_the_base_untouched(tiny_model):
    from modules.models import quantized

    before = {k: v.clone() for k, v in tiny_model.hf.state_dict().items()}
    derived = quantized.build(tiny_model, quantized.parse("bf16"))
    assert derived.spec == f"{tiny_model.spec}+quant:bf16" and derived.tokenizer is tiny_model.tokenizer
    assert derived.dtype == torch.bfloat16 and derived.hf is not tiny_model.hf  # a converted copy, on CPU and CUDA
    assert all(torch.equal(before[k], v) for k, v in tiny_model.hf.state_dict().items())


@pytest.mark.parametrize(
    "typed, canonical",
    [
        ("smollm2-135m", "smollm2-135m"),
        ("  smollm2-135m +quant: bf16 ", "smollm2-135m+quant:bf16"),
        ("smollm2-135m   +quant:bf16", "smollm2-135m+quant:bf16"),
        ("org/model + adapter : demo-lora+quant:int8", "org/model+adapter:demo-lora+quant:int8"),
    ],
)
def test_model_specs_have_one_canonical_form(typed, canonical):
    from modules.models import ModelSpec, variant_spec

    assert str(ModelSpec.parse(typed)) == canonical
    spec = ModelSpec.parse(typed)
    assert variant_spec(spec.base, adapter=spec.adapter, quant=spec.quant) == canonical


@pytest.mark.parametrize("bad", ["", "+quant:int8", "m+quant:int8+adapter:x", "m+quant:", "m+adapter:a+adapter:b"])
def test_malformed_model_specs_get_a_clear_error(bad):
    from modules.models import ModelLoadError, ModelSpec

    with pytest.raises(ModelLoadError, match="model spec"):
        ModelSpec.parse(bad)


def test_spaces_in_a_spec_do_not_load_a_second_copy(tiny_model):
    from modules.models import get_model

    spaced = get_model(f"{tiny_model.spec} +quant:  bf16")
    assert spaced is get_model(f"{tiny_model.spec}+quant:bf16")


def test_stop_on_text_stops_only_rows_whose_generated_text_has_the_marker(tiny_model):
    from modules.models.model import StopOnText

    encode = tiny_model.tokenizer.convert_tokens_to_ids
    prompt = [encode("cat"), encode("dog")]  # "cat dog" in the prompt must not count
    rows = torch.tensor(
        [prompt + [encode(w) for w in ("the", "cat", "dog")], prompt + [encode(w) for w in ("a", "mat", "sat")]]
    )
    stop = StopOnText(tiny_model.tokenizer, ("cat dog",), start=2)
    assert stop(rows, None).tolist() == [True, False]
    assert stop(rows[:, :3], None).tolist() == [False, False]


def test_shared_prefix_cache_gives_the_same_outputs(tiny_model, monkeypatch):
    shared = " ".join(["the cat sat on the mat"] * 6)  # 36 shared tokens, above MIN_SHARED_PREFIX
    prompts = [f"{shared} one two", f"{shared} three", f"{shared} four five six seven"]
    params = GenerationParams(max_new_tokens=6)
    with_prefix = tiny_model.generate(prompts, params)
    monkeypatch.setattr(model_module, "MIN_SHARED_PREFIX", 10**9)
    without = tiny_model.generate(prompts, params)
    assert [g.text for g in with_prefix] == [g.text for g in without]
    assert len(tiny_model.tokenizer(tiny_model.render(prompts[0]))["input_ids"]) > 40


def test_live_text_and_stop_event(tiny_model):
    seen: list[dict[int, str]] = []
    final = tiny_model.generate(PROMPTS[:2], GenerationParams(max_new_tokens=5), on_text=seen.append)
    assert seen and set(seen[-1]) == {0, 1}
    assert [seen[-1][i] for i in (0, 1)] == [g.text for g in final]  # the last report is the final text
    stop = threading.Event()
    stop.set()
    stopped = tiny_model.generate(PROMPTS[:2], GenerationParams(max_new_tokens=20), stop=stop)
    assert all(g.new_tokens <= 1 for g in stopped)  # one step, then the event ends every row
