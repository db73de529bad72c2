"""Which decoding path a model uses: eager (dynamic KV cache) or fast (static KV cache + torch.compile).

Eager decoding pays Python and kernel-launch overhead at every step; on a GPU that, not the arithmetic, sets the
pace (measured on an H200: 45 tok/s eager vs 290 tok/s static + compile for SmolLM2-135M at batch 1). The fast
path gives transformers a static cache, whose shapes never change, so its decode step compiles once into CUDA
graphs. Each new (batch size, cache length) shape compiles again (seconds), so both are rounded up to a few
buckets, and a warm-up at load time compiles the common ones before a visitor waits for them.

LAB_DECODE picks the path: auto (the default: compiled on CUDA where transformers can compile the model, eager
elsewhere), eager, static (static cache without compiling: the fast path's mechanics, testable on a CPU) or
compiled (static + compile on any device, CPUs included: for benchmarks).
"""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from modules import limits
from modules.space import on_zero_gpu

T = TypeVar("T")
EAGER = "eager"
STATIC = "static cache"
COMPILED = "static cache + torch.compile"
SETTINGS = {"auto": None, "eager": EAGER, "static": STATIC, "compiled": COMPILED}
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)  # a batch runs padded up to the next one: at most 7 compiled batch shapes
LENGTH_BUCKET = 256  # cache length (prompt + new tokens) rounds up to a multiple: a few shapes cover every prompt
# The warm-up's cache length. transformers keeps a model's static cache at the longest length used so far, so after
# the warm-up every shorter batch (few-shot prompts are ~700 tokens) reuses the warmed graphs.
WARM_CACHE_LENGTH = 1024


def setting() -> str:
    return limits.decode()  # one of SETTINGS' keys (limits.DECODE_CHOICES)


def choose(hf, device_type: str, soft_prompt: bool) -> tuple[str, str]:
    """(path, why) for a model: the path its generations use and a short reason a person can read."""
    wanted = SETTINGS[setting()]
    if wanted == EAGER:
        return EAGER, "LAB_DECODE=eager"
    blocker = _static_blocker(hf, soft_prompt)
    if blocker:
        return EAGER, blocker
    if wanted is not None:
        return wanted, f"LAB_DECODE={setting()}"
    if on_zero_gpu():
        return EAGER, "ZeroGPU does not run torch.compile"
    if device_type != "cuda":
        return EAGER, "on a CPU the decode step is compute-bound: compiling saves little and costs minutes"
    return COMPILED, "CUDA: static cache + compiled decode step (CUDA graphs)"


def _static_blocker(hf, soft_prompt: bool) -> str | None:
    """Why a static cache cannot serve this model, or None."""
    if soft_prompt:
        return "a soft prompt is generated from embeddings, outside the compiled step"
    if hasattr(hf, "peft_config"):
        return "peft adapters run eager (the compiled path is measured on bases only)"
    if hf.config.is_encoder_decoder:
        return "encoder-decoder model"
    if not getattr(hf, "_can_compile_fullgraph", False):
        return f"transformers cannot compile {type(hf).__name__}"
    quantizer = getattr(hf, "hf_quantizer", None)
    if quantizer is not None and not quantizer.is_compileable:
        return f"its quantization ({type(quantizer).__name__}) cannot be compiled"
    return None


def batch_bucket(rows: int) -> int:
    """The batch size a batch of `rows` runs as (extra rows are copies whose outputs are dropped)."""
    return next((size for size in BATCH_BUCKETS if size >= rows), rows)


def cache_length(longest_prompt: int, max_new_tokens: int) -> int:
    """Static cache length for a batch: prompt + new tokens, rounded up to a multiple of LENGTH_BUCKET."""
    needed = longest_prompt + max_new_tokens
    return -(-needed // LENGTH_BUCKET) * LENGTH_BUCKET


def generate_options(path: str, longest_prompt: int, max_new_tokens: int) -> dict:
    """Extra arguments for transformers' generate on `path`."""
    if path == EAGER:
        return {}
    from transformers import CompileConfig

    options = {"cache_implementation": "static", "max_cache_len": cache_length(longest_prompt, max_new_tokens)}
    if path == STATIC:
        return options | {"disable_compile": True}
    compile_config = CompileConfig()  # mode "reduce-overhead": CUDA graphs on a GPU
    compile_config._compile_all_devices = True  # transformers compiles on its own only on accelerators; CPUs too
    return options | {"compile_config": compile_config}


# CUDA graphs recorded by torch.compile belong to the thread that recorded them (torch keeps them thread-local),
# and Gradio serves each event from a pool thread: compiled generations all run on this one thread, so graphs are
# recorded once, not once per pool thread (each recording is seconds and GPU memory).
_decode_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lab-decode")


def on_decode_thread(path: str, work: Callable[[], T]) -> T:
    """work() on the one decode thread for the compiled path (waits for it); in place for the others."""
    if path != COMPILED:
        return work()
    return _decode_thread.submit(work).result()
