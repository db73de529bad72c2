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
    class TinyMemory:
        available = 10_000  # bytes: room for no batch at all, so one row at a time

    monkeypatch.setattr(model_module.psutil, "virtual_memory", lambda: TinyMemory())
    assert tiny_model.max_batch_size(tokens_per_row=50, wanted=8) == 1
    generations = tiny_model.generate(PROMPTS, GenerationParams(max_new_tokens=3, batch_size=8))
    assert [g.batch_size for g in generations] == [1, 1, 1, 1]


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
    assert info["device"] == "cpu" and info["dtype"] == "float32"
    assert info["parameters"] == sum(p.numel() for p in tiny_model.hf.parameters())
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
    before = {k: v.clone() for k, v in tiny_model.hf.state_dict().items()}

    def zero_mlp(hf):
        for layer in hf.model.layers:
            torch.nn.init.zeros_(layer.mlp.down_proj.weight)
        return hf

    derived = tiny_model.variant("zero-mlp", zero_mlp)
    assert derived.label.endswith("+ zero-mlp")
    assert all(torch.equal(before[k], v) for k, v in tiny_model.hf.state_dict().items())
    assert not torch.equal(
        derived.hf.model.layers[0].mlp.down_proj.weight, before["model.layers.0.mlp.down_proj.weight"]
    )


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
