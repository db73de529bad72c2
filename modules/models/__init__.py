"""The shared-model registry: one lazily loaded Model per spec, for every caller."""

import threading

import torch

from modules.models import adapters, quantized
from modules.models.embedded import EMBEDDED_SPEC, load_embedded
from modules.models.errors import ModelLoadError
from modules.models.generation import Generation, GenerationParams
from modules.models.hub import load_pretrained
from modules.models.model import Model, Prompt
from modules.models.spec import ADAPTER_MARK, QUANT_MARK, ModelSpec, variant_spec

DEFAULT_SPEC = EMBEDDED_SPEC
__all__ = [
    "ADAPTER_MARK", "DEFAULT_SPEC", "QUANT_MARK", "Generation", "GenerationParams", "Model", "ModelLoadError",
    "ModelSpec", "Prompt", "get_model", "variant_spec",
]  # fmt: skip

_loaded: dict[str, Model] = {}  # the registry itself, keyed by canonical spec: the only place models are kept
_load_lock = threading.RLock()  # re-entered: a variant loads its base


def default_device() -> tuple[torch.device, torch.dtype]:
    """cuda + bf16 when available, else cpu + fp32 (bf16 matmuls are slow on most CPUs)."""
    if torch.cuda.is_available():
        return torch.device("cuda"), torch.bfloat16
    return torch.device("cpu"), torch.float32


def get_model(spec: str = DEFAULT_SPEC) -> Model:
    """The one shared Model for `spec`, loaded on first call. Raises ModelLoadError with a user message."""
    parsed = ModelSpec.parse(spec or DEFAULT_SPEC)
    key = str(parsed)
    with _load_lock:
        if key not in _loaded:
            _loaded[key] = _load(parsed)
        return _loaded[key]


def _load(spec: ModelSpec) -> Model:
    """A variant is made from its parent (the precision last, so it applies to the adapted model)."""
    if spec.quant:
        return quantized.build(get_model(str(spec.with_quant(None))), quantized.parse(spec.quant))
    if spec.adapter:
        return adapters.load_variant(get_model(spec.base), spec.adapter)
    device, dtype = default_device()
    if spec.base == EMBEDDED_SPEC:
        hf, tokenizer, label = load_embedded(device, dtype)
    else:
        hf, tokenizer, label = load_pretrained(spec.base, device, dtype)
    return Model(spec.base, label, hf, tokenizer)


def loaded_specs() -> list[str]:
    with _load_lock:
        return list(_loaded)


def forget(spec: str) -> None:
    """Drop a loaded model (a deleted adapter's variant, a freed precision variant) so its memory can be freed."""
    with _load_lock:
        _loaded.pop(str(ModelSpec.parse(spec)), None)
