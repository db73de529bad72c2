"""Decoding paths: which one a model takes, the static-cache path's padding and buckets, and that the fast path
gives the eager path's greedy output (on a CPU here; compiled with CUDA graphs in the gpu-marked tests)."""

import threading

import pytest
import torch

from modules.models import GenerationParams, Model, decoding, get_model
from modules.techniques.output import Output

PROMPTS = ["hello there", "a longer prompt with several words in it to pad the others", "one", "two words"]


def with_path(monkeypatch, path: str, model: Model) -> Model:
    monkeypatch.setenv("LAB_DECODE", path)
    return Model(f"{model.spec}-{path}", model.label, model.hf, model.tokenizer)


def test_auto_is_eager_on_a_cpu_and_says_why(tiny_model, monkeypatch):
    monkeypatch.delenv("LAB_DECODE", raising=False)
    if torch.cuda.is_available():
        assert tiny_model.decode_path == decoding.COMPILED
    else:
        assert tiny_model.decode_path == decoding.EAGER and "CPU" in tiny_model.decode_reason
    assert tiny_model.info()["decode"] == tiny_model.decode_path


def test_the_setting_picks_the_path_and_a_bad_one_is_a_clear_error(tiny_model, monkeypatch):
    assert decoding.choose(tiny_model.hf, "cpu", soft_prompt=False)[0] in (decoding.EAGER, decoding.COMPILED)
    for value, path in (("eager", decoding.EAGER), ("static", decoding.STATIC), ("compiled", decoding.COMPILED)):
        monkeypatch.setenv("LAB_DECODE", value)
        assert decoding.choose(tiny_model.hf, "cuda", soft_prompt=False) == (path, f"LAB_DECODE={value}")
    monkeypatch.setenv("LAB_DECODE", "static")
    assert decoding.choose(tiny_model.hf, "cuda", soft_prompt=True)[0] == decoding.EAGER  # soft prompts: eager
    monkeypatch.setenv("LAB_DECODE", "turbo")
    with pytest.raises(ValueError, match="LAB_DECODE must be one of auto, eager, static, compiled"):
        decoding.setting()


def test_buckets_round_up_to_few_shapes():
    assert [decoding.batch_bucket(n) for n in (1, 2, 3, 5, 16, 17, 33, 64, 65)] == [1, 2, 4, 8, 16, 32, 64, 64, 65]
    assert [decoding.cache_length(p, 128) for p in (1, 128, 129, 700)] == [256, 256, 512, 1024]


def test_the_static_path_gives_the_eager_greedy_output_on_padded_batches(tiny_model, monkeypatch):
    eager, static = with_path(monkeypatch, "eager", tiny_model), with_path(monkeypatch, "static", tiny_model)
    params = GenerationParams(max_new_tokens=6, batch_size=3)  # batches of 3 and 1: run as 4 and 1
    seen: list[dict] = []
    expected = eager.generate(PROMPTS, params)
    got = static.generate(PROMPTS, params, on_text=seen.append)
    assert [g.text for g in got] == [g.text for g in expected]
    assert [g.new_tokens for g in got] == [g.new_tokens for g in expected]
    assert sorted(g.batch_size for g in got) == [1, 3, 3, 3]  # the real rows, not the padded bucket size
    assert {g.decode for g in got} == {decoding.STATIC} and {g.decode for g in expected} == {decoding.EAGER}
    assert seen and all(set(texts) <= set(range(len(PROMPTS))) for texts in seen)  # padding rows never reported
    output = Output.from_generation(got[0])
    assert output.trace["decode"] == decoding.STATIC


def test_stop_ends_a_static_path_generation_after_one_step(tiny_model, monkeypatch):
    static = with_path(monkeypatch, "static", tiny_model)
    stop = threading.Event()
    stop.set()
    generations = static.generate(PROMPTS[:2], GenerationParams(max_new_tokens=40), stop=stop)
    assert all(g.new_tokens <= 1 for g in generations)


@pytest.mark.slow
def test_the_compiled_path_runs_on_a_cpu_on_its_own_thread(tiny_model, monkeypatch):
    """torch.compile on a CPU (inductor, ~20 s for this model): same greedy text, and the work ran on the one decode
    thread, where CUDA graphs would be recorded once."""
    eager, compiled = with_path(monkeypatch, "eager", tiny_model), with_path(monkeypatch, "compiled", tiny_model)
    threads = []
    original = compiled._generate_batch
    monkeypatch.setattr(compiled, "_generate_batch", lambda *a: threads.append(threading.current_thread().name)
                        or original(*a))  # fmt: skip
    params = GenerationParams(max_new_tokens=5, batch_size=2)
    assert [g.text for g in compiled.generate(PROMPTS[:2], params)] == [
        g.text for g in eager.generate(PROMPTS[:2], params)
    ]
    assert threads and all(name.startswith("lab-decode") for name in threads)


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.mark.gpu
@cuda
def test_on_cuda_a_base_compiles_warms_up_and_says_so(embedded_model):
    assert embedded_model.decode_path == decoding.COMPILED and embedded_model.warm_up_s > 0
    assert embedded_model.info()["decode"] == decoding.COMPILED


@pytest.mark.gpu
@cuda
def test_on_cuda_the_fast_path_gives_the_eager_greedy_output(embedded_model, monkeypatch):
    """bf16 kernels differ between the paths, so a near tie can flip a token: >= 95% of rows must match."""
    from evals.tasks import load_task

    eager = with_path(monkeypatch, "eager", embedded_model)
    prompts = [f"Summarize: {e.input}" for e in load_task("dialogue-summary").split("test")[:32]]
    params = GenerationParams(max_new_tokens=32, batch_size=32)
    fast = [g.text for g in embedded_model.generate(prompts, params)]
    slow = [g.text for g in eager.generate(prompts, params)]
    assert sum(a == b for a, b in zip(fast, slow)) >= 0.95 * len(prompts)


@pytest.mark.gpu
@cuda
def test_on_cuda_a_registry_base_is_on_the_fast_path(tiny_llama_dir):
    model = get_model(str(tiny_llama_dir))
    assert model.device.type == "cuda" and model.dtype == torch.bfloat16 and model.decode_path == decoding.COMPILED
