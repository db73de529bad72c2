"""The technique registry (one plain dict) and the system strings that name a technique + config."""

import dataclasses
import types

from modules.techniques import best_of_n, cot, direct, few_shot_cot, pal, prompting, rag, sampling, self_consistency
from modules.techniques.output import Output

# technique name -> module with Config, validate(task, config) and run(model, task, examples, config)
TECHNIQUES: dict[str, types.ModuleType] = {
    "prompting": prompting,
    "direct": direct,
    "cot": cot,
    "few_shot_cot": few_shot_cot,
    "self_consistency": self_consistency,
    "pal": pal,
    "rag": rag,
    "sampling": sampling,
    "best_of_n": best_of_n,
}

# system name -> (technique, default config fields); users add key=value overrides after a colon.
SYSTEMS: dict[str, tuple[str, dict]] = {
    "zero-shot": ("prompting", {"k": 0}),
    "one-shot": ("prompting", {"k": 1}),
    "few-shot": ("prompting", {"k": 3}),
    "direct": ("direct", {}),
    "cot": ("cot", {}),
    "few-shot-cot": ("few_shot_cot", {}),
    "self-consistency": ("self_consistency", {}),
    "pal": ("pal", {}),
    "no-retrieval": ("rag", {"method": "none"}),
    "rag-bm25": ("rag", {"method": "bm25"}),
    "rag-dense": ("rag", {"method": "dense"}),
    "rag-hybrid": ("rag", {"method": "hybrid"}),
    "greedy": ("sampling", {"do_sample": False, "n": 1}),
    "sample": ("sampling", {}),
    "top-k": ("sampling", {"temperature": 1.0, "top_k": 5}),
    "top-p": ("sampling", {"temperature": 1.0, "top_p": 0.8}),
    "best-of-n": ("best_of_n", {}),  # needs reward=<a saved reward model>
}
__all__ = ["SYSTEMS", "TECHNIQUES", "Output", "parse_system", "settings_help"]


def _convert(value: str, kind):
    if kind is bool or kind == "bool":
        if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"'{value}' is not true/false")
        return value.lower() in ("true", "1", "yes")
    for python_type in (int, float):
        if kind is python_type or kind == python_type.__name__:
            return python_type(value)
    return value


def settings_help(system: str) -> list[tuple[str, str, object, str]]:
    """(setting, type, default, help) of every setting of a system: its Config's fields and their metadata."""
    technique, defaults = SYSTEMS[system]
    rows = []
    for f in dataclasses.fields(TECHNIQUES[technique].Config):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        kind = getattr(f.type, "__name__", str(f.type))
        rows.append((f.name, kind, defaults.get(f.name, default), f.metadata.get("help", "")))
    return rows


def describe_settings(system: str) -> str:
    return "; ".join(f"{name}={default!r} ({help.rstrip('.')})" for name, _, default, help in settings_help(system))


def parse_system(text: str) -> tuple[str, str, object]:
    """'few-shot:k=3:selection=similar' -> (display name, technique name, validated Config)."""
    name, *overrides = [part.strip() for part in text.strip().split(":")]
    if name not in SYSTEMS:
        raise ValueError(f"Unknown system '{name}'. Available: {', '.join(SYSTEMS)}.")
    technique, defaults = SYSTEMS[name]
    config_class = TECHNIQUES[technique].Config
    kinds = {f.name: f.type for f in dataclasses.fields(config_class)}
    values = dict(defaults)
    for override in overrides:
        key, sep, value = override.partition("=")
        if not sep or key not in kinds:
            raise ValueError(
                f"Bad setting '{override}' in system '{text}'. Settings of {name}: {describe_settings(name)}."
            )
        try:
            values[key] = _convert(value, kinds[key])
        except ValueError as error:
            raise ValueError(f"Bad value for '{key}' in system '{text}': {error}") from error
    config = config_class(**values)
    label = name if not overrides else f"{name} ({', '.join(overrides)})"
    if name == "few-shot" and not any(o.startswith("k=") for o in overrides):
        label = f"few-shot (k={config.k})"
    return label, technique, config
