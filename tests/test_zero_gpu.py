"""ZeroGPU's rules, on a CPU: with SPACES_ZERO_GPU set, generation goes batch by batch through the GPU-slot
function (a no-op decorator off a Space, so the same code runs here), Stop acts between batches, decoding stays
eager, and fine-tuning and quantization say they are off."""

import threading

from modules.models import GenerationParams, decoding, quantized, zero_gpu
from modules.training import finetune

PROMPTS = ["one", "two words", "three short words", "four"]


def test_generation_runs_per_batch_in_slots_with_the_same_output(tiny_model, monkeypatch):
    params = GenerationParams(max_new_tokens=4, batch_size=2)
    expected = [g.text for g in tiny_model.generate(PROMPTS, params)]
    slots, reported = [], []
    original = zero_gpu._generate_on_gpu
    monkeypatch.setattr(zero_gpu, "_generate_on_gpu", lambda *a: slots.append(a[2]) or original(*a))
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    assert zero_gpu.active()
    got = tiny_model.generate(PROMPTS, params, on_text=reported.append)
    assert [g.text for g in got] == expected and slots == [PROMPTS[:2], PROMPTS[2:]]
    assert [sorted(texts) for texts in reported] == [[0, 1], [2, 3]]  # each batch's final texts, by prompt index
    assert zero_gpu.slot_seconds("x", None, PROMPTS, params) == zero_gpu.SLOT_MIN_S
    long = GenerationParams(max_new_tokens=4096, batch_size=32)
    assert zero_gpu.slot_seconds("x", None, PROMPTS * 8, long) == zero_gpu.SLOT_MAX_S


def test_stop_takes_effect_between_batches(tiny_model, monkeypatch):
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    stop = threading.Event()
    got = tiny_model.generate(PROMPTS, GenerationParams(max_new_tokens=4, batch_size=2), on_text=lambda t: stop.set(),
                              stop=stop)  # fmt: skip
    assert len(got) == 4 and [g.new_tokens for g in got[2:]] == [0, 0]
    assert got[2].warnings == ["Stopped before this prompt was generated."]


def test_on_zero_gpu_decoding_is_eager_and_training_and_quantization_are_off(tiny_model, monkeypatch):
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    assert decoding.choose(tiny_model.hf, "cuda", soft_prompt=False) == (
        decoding.EAGER, "ZeroGPU does not run torch.compile"
    )  # fmt: skip
    assert "Fine-tuning is off on ZeroGPU" in finetune.unavailable_reason("lora")
    assert "Quantization is off on ZeroGPU" in quantized.unavailable_reason("int8")
    assert quantized.unavailable_reason("fp32") is None  # the base itself still runs
