"""The shared-model registry: one lazily loaded Model per spec, for every caller."""

import threading
from collections import OrderedDict

import torch

from modules import limits
from modules.models import adapters, memory, pruned, quantized, remote, zero_gpu
from modules.models.embedded import EMBEDDED_SPEC, load_embedded
from modules.models.errors import ModelLoadError
from modules.models.generation import Generation, GenerationParams
from modules.models.hub import load_pretrained
from modules.models.interface import Capabilities, LanguageModel, Unsupported
from modules.models.model import Model, Prompt
from modules.models.spec import ADAPTER_MARK, QUANT_MARK, ModelSpec, variant_spec
from modules.paths import current_session

DEFAULT_SPEC = limits.model() or EMBEDDED_SPEC  # a Space sets a Hub model here
SESSION_MARK = "@session:"
__all__ = [
    "ADAPTER_MARK", "DEFAULT_SPEC", "QUANT_MARK", "Capabilities", "Generation", "GenerationParams", "LanguageModel",
    "Model", "ModelLoadError", "ModelSpec", "Prompt", "Unsupported", "get_model", "variant_spec",
]  # fmt: skip

# The registry itself, keyed by canonical spec, least recently used first: the only place models are kept.
_loaded: OrderedDict[str, LanguageModel] = OrderedDict()
_load_lock = threading.RLock()  # re-entered: a variant loads its base
# Variants kept loaded; the least recently used beyond this are dropped (each can be a full copy of the weights:
# ~540 MB for the embedded model in fp32). A job still using a dropped model keeps its copy until it ends.
MAX_VARIANTS = limits.max_variants()  # read once, at import; tests set the attribute
# Bases other than the shipped one (DEFAULT_SPEC, the embedded model) kept loaded: folders, hub ids, servers. The least
# recently used beyond this are dropped with their variants (a hub model can be GBs; visitors name them freely).
MAX_BASES = limits.max_bases()


def default_device() -> tuple[torch.device, torch.dtype]:
    """cuda + bf16 when available, else cpu + fp32 (bf16 matmuls are slow on most CPUs)."""
    if torch.cuda.is_available():
        return torch.device("cuda"), torch.bfloat16
    return torch.device("cpu"), torch.float32


def get_model(spec: str = DEFAULT_SPEC) -> LanguageModel:
    """The one shared model for `spec` (a local Model or a server's RemoteModel), loaded on first call. Raises
    ModelLoadError with a user message."""
    return _get(ModelSpec.parse(spec or DEFAULT_SPEC))


def _get(spec: ModelSpec) -> LanguageModel:
    """get_model for a parsed spec (a variant's base keeps the spelling its user typed, for messages)."""
    key = _key(spec)
    with _load_lock:
        model = _loaded.get(key)
        if model is None:
            model = _loaded[key] = _load(spec)
            memory.release(collect=_evict(keep=key))  # evicted models; the copy a variant was made from
        _loaded.move_to_end(key)
        return model


def is_loaded(spec: str) -> bool:
    """Whether `spec`, however it is spelled, is loaded (for this session, where it is an adapter)."""
    try:
        key = _key(ModelSpec.parse(spec or DEFAULT_SPEC))
    except ModelLoadError:
        return False
    with _load_lock:
        return key in _loaded


def _key(spec: ModelSpec) -> str:
    """Registry key: the canonical spec; a saved adapter belongs to one visitor's files when sessions are separate,
    so another session's same name is another model (and never this one's)."""
    session = current_session() if spec.adapter else None
    return f"{spec}{SESSION_MARK}{session}" if session else str(spec)


def _shipped_bases() -> set[str]:
    try:
        return {EMBEDDED_SPEC, ModelSpec.parse(DEFAULT_SPEC).base}
    except ModelLoadError:  # a malformed LAB_MODEL fails where it is loaded, not here
        return {EMBEDDED_SPEC}


def _evict(keep: str) -> bool:
    """Drop the least recently used beyond the limits: bases beyond MAX_BASES (with their variants), then variants
    beyond MAX_VARIANTS. `keep`, just asked for, stays whatever the limits. Whether any was dropped."""
    specs = {key: ModelSpec.parse(key.partition(SESSION_MARK)[0]) for key in _loaded}
    by_use = dict.fromkeys(spec.base for spec in reversed(specs.values()))  # newest first; a variant uses its base
    extra = [base for base in by_use if base not in _shipped_bases()][max(MAX_BASES, 1) :]  # keep's base is first
    dropped = {key for key, spec in specs.items() if spec.base in extra}
    kept = [key for key in specs if key not in dropped]
    bases = {id(_loaded[key]) for key in kept if not specs[key].is_variant}  # an fp32 'variant' may be its base
    variants = [key for key in kept if specs[key].is_variant and id(_loaded[key]) not in bases]
    dropped.update(variants[: max(0, len(variants) - MAX_VARIANTS)])  # oldest first
    dropped.discard(keep)
    for key in dropped:
        del _loaded[key]
    return bool(dropped)


def _load(spec: ModelSpec) -> LanguageModel:
    """A variant is made from its parent (the precision last, so it applies to the adapted model)."""
    if remote.is_remote_spec(spec.base):
        if spec.is_variant:
            raise ModelLoadError(
                "Adapters, pruning and precisions need a local model; a server's model is used as it is served."
            )
        return remote.load(spec.base)
    if spec.quant:
        return quantized.build(_get(spec.with_quant(None)), quantized.parse(spec.quant))
    if spec.adapter:
        return adapters.load_variant(_get(spec.with_adapter(None)), spec.adapter)
    if spec.prune:
        return pruned.build(_get(spec.with_prune(None)), spec.prune)
    device, dtype = default_device()
    if spec.base == EMBEDDED_SPEC:
        hf, tokenizer, label = load_embedded(device, dtype)
    else:
        hf, tokenizer, label = load_pretrained(spec.base, device, dtype, shown=spec.shown)
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


def forget(*specs: str) -> list[str]:
    """Drop loaded models (a deleted adapter's variant, freed precision variants) and give their memory back to the
    system; the specs that were loaded. A job still running on one frees its copy when it ends."""
    with _load_lock:
        dropped = [spec for spec in specs if _loaded.pop(_key(ModelSpec.parse(spec)), None) is not None]
        memory.release()
    return dropped
