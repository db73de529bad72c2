"""ZeroGPU (Hugging Face Spaces): generation runs batch by batch inside @spaces.GPU slots; elsewhere a no-op.

On ZeroGPU the process has a GPU only inside a function decorated with spaces.GPU, and that function runs in a
worker process: its arguments and result travel pickled, and what it changes there (a counter, trained weights)
never reaches the app unless returned. So the lab sends each batch's model spec, prompts and settings to a slot
and gets plain Generations back. What cannot cross the process boundary: live text inside a batch (columns fill
when a batch ends) and a Stop inside a batch (it takes effect between batches). torch.compile is not supported
there, so decoding stays eager (models/decoding.py). Fine-tuning and quantization are off: a training run outlives
a slot and its weights would stay in the worker; bitsandbytes quantizes while loading on the GPU.
"""

from collections.abc import Callable, Sequence
from contextvars import ContextVar

from modules.models.generation import Generation, GenerationParams
from modules.models.interface import Capabilities
from modules.paths import in_session
from modules.space import on_zero_gpu

SLOT_MIN_S, SLOT_MAX_S = 15, 120  # seconds a slot may ask for; shorter requests get a visitor served sooner
TOKENS_PER_S_PER_ROW = 15  # conservative eager decode speed of one row on a ZeroGPU slice, for the duration asked
LOAD_S = 10  # moving the weights onto the GPU at the start of a slot
# What a local model can do here, outside a slot (see above): no training, live text and Stop only between batches;
# log-probabilities and attention have no slot function of their own. Adapters and bf16 variants still load
# (quantized.py refuses int8 / 4-bit here).
CAPABILITIES = Capabilities(weights=True, trainable=False, variants=True, live_text=False, stop_in_step=False,
                            top_logprobs=False, attention=False)  # fmt: skip
_in_slot: ContextVar[bool] = ContextVar("lab_in_gpu_slot", default=False)
# spec -> the shared Model; the registry (models/__init__.py) sets it, so this module does not import the registry
# (which imports it). The worker is a fork of the app, so it has it too.
resolve: Callable | None = None


def active() -> bool:
    """On ZeroGPU hardware (the Space sets SPACES_ZERO_GPU=true), outside a GPU slot."""
    return on_zero_gpu() and not _in_slot.get()


def refusal(feature: str) -> str | None:
    """Why `feature` (fine-tuning, quantization) is off here, or None."""
    if not on_zero_gpu():
        return None
    return (
        f"{feature.capitalize()} is off on ZeroGPU: the GPU is lent for one short call at a time, in a separate "
        f"process, so {feature} cannot run there. Run the lab on CPU or dedicated GPU hardware (or locally) for it."
    )


def slot_seconds(spec: str, session: str | None, prompts: Sequence, params: GenerationParams) -> int:
    """The duration a slot asks for: loading plus the longest row's tokens at a conservative speed, bounded."""
    seconds = LOAD_S + params.max_new_tokens / TOKENS_PER_S_PER_ROW * (1 + len(prompts) / 32)
    return int(min(max(seconds, SLOT_MIN_S), SLOT_MAX_S))


def _generate_in_slot(spec: str, session: str | None, prompts: list, params: GenerationParams) -> list[Generation]:
    """Runs inside the slot (the worker): the model by spec, in the visitor's session, generating here."""
    token = _in_slot.set(True)
    try:
        with in_session(session):
            return resolve(spec).generate(prompts, params)
    finally:
        _in_slot.reset(token)


def _gpu(function: Callable) -> Callable:
    try:
        import spaces  # imported first by the Space's entry point, before anything touches CUDA
    except ImportError:  # not installed: a plain machine, where spaces.GPU would be a no-op anyway
        return function
    return spaces.GPU(duration=slot_seconds)(function)


_generate_on_gpu = _gpu(_generate_in_slot)


def generate(
    spec: str,
    session: str | None,
    prompts: Sequence,
    params: GenerationParams,
    on_text: Callable[[dict[int, str]], None] | None,
    stop,
) -> list[Generation]:
    """Every prompt, one batch per slot; on_text gets each batch's final texts, Stop is checked between batches
    (prompts left when it is pressed come back empty, as a Stop leaves rows elsewhere)."""
    results: list[Generation] = []
    for start in range(0, len(prompts), params.batch_size):
        if stop is not None and stop.is_set():
            stopped = Generation("", 0, 0, 0.0, warnings=["Stopped before this prompt was generated."])
            return results + [stopped] * (len(prompts) - start)
        batch = list(prompts[start : start + params.batch_size])
        generations = _generate_on_gpu(spec, session, batch, params)
        if on_text is not None:
            on_text({start + i: g.text for i, g in enumerate(generations)})
        results.extend(generations)
    return results
