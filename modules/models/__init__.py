"""The shared-model registry: one lazily loaded Model per spec, for every caller."""

import threading

import torch

from modules.models.embedded import EMBEDDED_SPEC, load_embedded
from modules.models.errors import ModelLoadError
from modules.models.generation import Generation, GenerationParams
from modules.models.hub import load_pretrained
from modules.models.model import Model, Prompt

DEFAULT_SPEC = EMBEDDED_SPEC
__all__ = ["DEFAULT_SPEC", "Generation", "GenerationParams", "Model", "ModelLoadError", "Prompt", "get_model"]

_loaded: dict[str, Model] = {}  # the registry itself: the only place models are kept
_load_lock = threading.RLock()  # re-entered: an adapter variant loads its base


def default_device() -> tuple[torch.device, torch.dtype]:
    """cuda + bf16 when available, else cpu + fp32 (bf16 matmuls are slow on most CPUs)."""
    if torch.cuda.is_available():
        return torch.device("cuda"), torch.bfloat16
    return torch.device("cpu"), torch.float32


ADAPTER_MARK = "+adapter:"  # '<base spec>+adapter:<name>': a saved fine-tune (LAB_HOME/adapters/<name>) on its base
QUANT_MARK = "+quant:"  # '<base spec>+quant:int8-mlp': a precision variant (modules/techniques/quantize.py)


def get_model(spec: str = DEFAULT_SPEC) -> Model:
    """The one shared Model for `spec`, loaded on first call. Raises ModelLoadError with a user message."""
    spec = (spec or DEFAULT_SPEC).strip()
    with _load_lock:
        if spec not in _loaded and ADAPTER_MARK in spec:
            from modules.training.adapters import load_variant  # training code loads only when a variant is asked

            base_spec, _, name = spec.partition(ADAPTER_MARK)
            _loaded[spec] = load_variant(get_model(base_spec), name)
        if spec not in _loaded and QUANT_MARK in spec:
            from modules.techniques import quantize

            base_spec, _, precision = spec.partition(QUANT_MARK)
            _loaded[spec] = quantize.build(get_model(base_spec), quantize.parse(precision))
        if spec not in _loaded:
            device, dtype = default_device()
            loader = load_embedded if spec == EMBEDDED_SPEC else lambda d, t: load_pretrained(spec, d, t)
            hf, tokenizer, label = loader(device, dtype)
            _loaded[spec] = Model(spec, label, hf, tokenizer)
        return _loaded[spec]


def loaded_specs() -> list[str]:
    with _load_lock:
        return list(_loaded)


def forget(spec: str) -> None:
    """Drop a loaded model (a deleted adapter's variant) so its memory can be freed."""
    with _load_lock:
        _loaded.pop(spec, None)
