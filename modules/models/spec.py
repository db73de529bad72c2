"""Model specs, parsed and built in one place: '<base>', '<base>+prune:<method>-<percent>', '<base>+adapter:<name>',
'<base>+quant:<precision>', and any of them together in that order, each applied to the model before it:
'<base>+prune:layers-50+adapter:student' is a fine-tune (or a distilled student) of the pruned model, and
'<base>+prune:wanda-50+quant:w8a8' the pruned model, quantized."""

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from modules.models.embedded import EMBEDDED_SPEC
from modules.models.errors import ModelLoadError

ADAPTER_MARK = "+adapter:"  # a saved fine-tune (LAB_HOME/adapters/<name>) on its base: modules/models/adapters.py
PRUNE_MARK = "+prune:"  # a pruned copy such as wanda-50 or mlp-neurons-25: modules/models/pruned.py
QUANT_MARK = "+quant:"  # a precision variant such as int8-mlp: modules/models/quantized.py
KINDS = ("prune", "adapter", "quant")  # the order the parts are applied in
MAX_SPEC_CHARS = 300  # a hub id or a folder path; a longer spec is refused without being echoed
_MARK = re.compile(r"\s*\+\s*(adapter|prune|quant)\s*:\s*")  # spaces around the marks do not make a new model


@dataclass(frozen=True)
class ModelSpec:
    base: str
    adapter: str | None = None
    quant: str | None = None
    prune: str | None = None
    # The base as it was typed, for messages only: a folder's resolved path must not tell a visitor it exists.
    typed: str | None = field(default=None, compare=False, repr=False)

    @classmethod
    def parse(cls, text: str) -> "ModelSpec":
        """' smollm2-135m +quant: bf16 ' -> ModelSpec('smollm2-135m', quant='bf16'); str() gives the one canonical
        form, so a registry keyed on it holds one model per variant, however the spec was typed (a local folder as
        its resolved absolute path: './m', 'm/' and '/abs//m' are one model)."""
        if len(text or "") > MAX_SPEC_CHARS:
            raise ModelLoadError(f"A model spec has at most {MAX_SPEC_CHARS} characters; this one has {len(text):,}.")
        base, *rest = _MARK.split((text or "").strip())
        parts = dict(zip(rest[::2], (value.strip() for value in rest[1::2])))
        kinds = rest[::2]
        if not base.strip():
            raise ModelLoadError(f"The model spec '{text}' names no base model.")
        if len(set(kinds)) != len(kinds) or kinds != sorted(kinds, key=KINDS.index):
            raise ModelLoadError(
                f"The model spec '{text}' must be '<base>[{PRUNE_MARK}<method>-<percent>][{ADAPTER_MARK}<name>]"
                f"[{QUANT_MARK}<precision>]', each part at most once and in this order."
            )
        if any(not value for value in parts.values()):
            raise ModelLoadError(f"The model spec '{text}' has an empty adapter name or precision.")
        return cls(canonical_base(base.strip()), parts.get("adapter"), parts.get("quant"), parts.get("prune"),
                   typed=base.strip())  # fmt: skip

    def __str__(self) -> str:
        adapter = f"{ADAPTER_MARK}{self.adapter}" if self.adapter else ""
        prune = f"{PRUNE_MARK}{self.prune}" if self.prune else ""
        quant = f"{QUANT_MARK}{self.quant}" if self.quant else ""
        return f"{self.base}{prune}{adapter}{quant}"

    @property
    def shown(self) -> str:
        """The base as the user typed it (messages echo this, never a resolved path)."""
        return self.typed or self.base

    @property
    def is_variant(self) -> bool:
        return bool(self.adapter or self.prune or self.quant)

    def with_adapter(self, name: str | None) -> "ModelSpec":
        return replace(self, adapter=name)

    def with_quant(self, precision: str | None) -> "ModelSpec":
        return replace(self, quant=precision)

    def with_prune(self, pruning: str | None) -> "ModelSpec":
        return replace(self, prune=pruning)


def local_folder(base: str) -> Path | None:
    """The folder `base` names on this machine, or None (a hub id, a server, a path that is no folder)."""
    try:
        folder = Path(base).expanduser()
        return folder if folder.is_dir() else None
    except (OSError, RuntimeError, ValueError):  # a name too long, '~nobody', a NUL byte: no folder either
        return None


def canonical_base(base: str) -> str:
    """An existing local folder -> its resolved absolute path; anything else (the embedded model, a hub id, a
    server) as it is. hub.load_pretrained makes the same folder test, so the key names what loads."""
    folder = None if base == EMBEDDED_SPEC else local_folder(base)
    return str(folder.resolve()) if folder else base


def variant_spec(base_spec: str, adapter: str | None = None, quant: str | None = None, prune: str | None = None) -> str:
    """The canonical spec of a variant of `base_spec`: variant_spec('smollm2-135m', quant='int8')."""
    spec = ModelSpec.parse(base_spec)
    return str(replace(spec, adapter=adapter or spec.adapter, quant=quant or spec.quant, prune=prune or spec.prune))
