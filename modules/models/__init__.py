"""The shared-model registry: one lazily loaded Model per spec, for every caller."""

import os
import threading
from collections import OrderedDict

import torch

from modules.models import adapters, quantized, remote, zero_gpu
from modules.models.embedded import EMBEDDED_SPEC, load_embedded
from modules.models.errors import ModelLoadError
from modules.models.generation import Generation, GenerationParams
from modules.models.hub import load_pretrained
from modules.models.model import Model, Prompt
from modules.models.spec import ADAPTER_MARK, QUANT_MARK, ModelSpec, variant_spec
from modules.paths import current_session

DEFAULT_SPEC = os.environ.get("LAB_MODEL", "").strip() or EMBEDDED_SPEC  # a Space sets a Hub model here
SESSION_MARK = "@session:"
__all__ = [
    "ADAPTER_MARK", "DEFAULT_SPEC", "QUANT_MARK", "Generation", "GenerationParams", "Model", "ModelLoadError",
    "ModelSpec", "Prompt", "get_model", "variant_spec",
]  # fmt: skip

# The registry itself, keyed by canonical spec, least recently used first: the only place models are kept.
_loaded: OrderedDict[str, Model] = OrderedDict()
_load_lock = threading.RLock()  # re-entered: a variant loads its base
# Variants kept loaded; the least recently used beyond this are dropped (each can be a full copy of the weights:
# ~540 MB for the embedded model in fp32). Bases are kept; a job still using a dropped variant keeps its copy.
MAX_VARIANTS = int(os.environ.get("LAB_MAX_VARIANTS", "4"))


def default_device() -> tuple[torch.device, torch.dtype]:
    """cuda + bf16 when available, else cpu + fp32 (bf16 matmuls are slow on most CPUs)."""
    if torch.cuda.is_available():
        return torch.device("cuda"), torch.bfloat16
    return torch.device("cpu"), torch.float32


def get_model(spec: str = DEFAULT_SPEC) -> Model:
    """The one shared Model for `spec`, loaded on first call. Raises ModelLoadError with a user message."""
    parsed = ModelSpec.parse(spec or DEFAULT_SPEC)
    key = _key(parsed)
    with _load_lock:
        if key not in _loaded:
            _loaded[key] = _load(parsed)
            _evict_variants()
        _loaded.move_to_end(key)
        return _loaded[key]


def _key(spec: ModelSpec) -> str:
    """Registry key: the canonical spec; a saved adapter belongs to one visitor's files when sessions are separate,
    so another session's same name is another model (and never this one's)."""
    session = current_session() if spec.adapter else None
    return f"{spec}{SESSION_MARK}{session}" if session else str(spec)


def _evict_variants() -> None:
    parsed = {key: ModelSpec.parse(key.partition(SESSION_MARK)[0]) for key in _loaded}
    bases = {id(_loaded[key]) for key, spec in parsed.items() if not spec.is_variant}
    variants = [key for key, spec in parsed.items() if spec.is_variant and id(_loaded[key]) not in bases]
    for spec in variants[: max(0, len(variants) - MAX_VARIANTS)]:  # oldest first
        del _loaded[spec]


def _load(spec: ModelSpec) -> Model:
    """A variant is made from its parent (the precision last, so it applies to the adapted model)."""
    if remote.is_remote_spec(spec.base):
        if spec.is_variant:
            raise ModelLoadError(
                "Adapters and precisions need a local model; a server's model is used as it is served."
            )
        return remote.load(spec.base)
    if spec.quant:
        return quantized.build(get_model(str(spec.with_quant(None))), quantized.parse(spec.quant))
    if spec.adapter:
        return adapters.load_variant(get_model(spec.base), spec.adapter)
    device, dtype = default_device()
    if spec.base == EMBEDDED_SPEC:
        hf, tokenizer, label = load_embedded(device, dtype)
    else:
        hf, tokenizer, label = load_pretrained(spec.base, device, dtype)
    model = Model(spec.base, label, hf, tokenizer)
    model.warm_up()  # compiles the fast decoding path's common shapes (CUDA); nothing on the eager path
    return model


zero_gpu.resolve = get_model  # a ZeroGPU slot finds the model by its spec


def loaded_specs() -> list[str]:
    """Specs loaded and visible to the current session (another session's adapters are not listed)."""
    mine = current_session()
    with _load_lock:
        keys = list(_loaded)
    return [key.partition(SESSION_MARK)[0] for key in keys
            if SESSION_MARK not in key or key.partition(SESSION_MARK)[2] == mine]  # fmt: skip


def forget(spec: str) -> None:
    """Drop a loaded model (a deleted adapter's variant, a freed precision variant) so its memory can be freed."""
    with _load_lock:
        _loaded.pop(_key(ModelSpec.parse(spec)), None)
