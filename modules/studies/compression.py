"""The compression study: pruned and int8 variants of the shared model measured side by side with the base (size,
speed, perplexity, ROUGE-L with intervals) and the Pareto front over size, speed and quality; the weight-magnitude
histogram that shows how many weights are near zero; the int8 recipe's choice and why."""

import threading

import pandas as pd
import torch

from evals import pareto
from modules.models import Model, int8_recipe, pruned
from modules.studies import quantization
from modules.studies.quantization import Report

INT8 = ("int8", "w8a8", "w8a8-auto")  # per tensor (the old path), per token + SmoothQuant, and the automatic recipe
FRONT = "pareto (size, speed, quality)"
NEAR_ZERO = (1e-3, 1e-2)  # |w| thresholds the histogram's caption counts


def sparsities(text: str) -> list[int]:
    """'25, 50' -> [25, 50]: whole percents from 1 to 99."""
    values = []
    for part in (text or "").replace(";", ",").split(","):
        if not part.strip():
            continue
        try:
            value = float(part.strip().rstrip("%"))
        except ValueError:
            shown = part.strip()[:20]
            raise ValueError(f"Sparsity '{shown}' is not a number: write percents such as 25, 50.") from None
        if not 1 <= value <= 99 or value != int(value):
            raise ValueError(f"Sparsity must be a whole percent from 1 to 99 (100% would remove every weight), got "
                             f"{part.strip()[:20]}.")  # fmt: skip
        values.append(int(value))
    return sorted(set(values))


def variant_names(int8: list[str], methods: list[str], sparsity_text: str) -> list[str]:
    """The variants to measure: the chosen int8 variants, then each pruning method at each sparsity."""
    unknown = [name for name in [*int8, *methods] if name not in (*INT8, *pruned.METHODS)]
    if unknown:
        raise ValueError(f"Unknown choice: {', '.join(unknown)}.")
    levels = sparsities(sparsity_text) if methods else []
    if methods and not levels:
        raise ValueError("Give at least one sparsity (a percent such as 50) for the pruning methods.")
    names = [*int8, *(f"{quantization.PRUNE}{method}-{level}" for method in methods for level in levels)]
    if not names:
        raise ValueError("Pick at least one int8 variant or one pruning method to compare with the base.")
    return names


def compare(
    base: Model, names: list[str], task_name: str, limit: int, report: Report, stop: threading.Event
) -> tuple[pd.DataFrame, object]:
    """quantization.compare_variants on these variants, plus the Pareto front over size, speed and quality."""
    table, run = quantization.compare_variants(base, names, task_name, limit, report, stop)
    if "rougeL" in table:
        table[FRONT] = pareto.front(table, lower=("weight MB",), higher=("rougeL", "tok/s batch 1")).to_numpy()
    return table, run


def magnitudes(base: Model) -> tuple[torch.Tensor, dict[str, float]]:
    """A seeded sample of |w| over the decoder's linear weights, and the share below each NEAR_ZERO threshold and the
    magnitude that global pruning would cut at 50%."""
    if not base.capabilities.variants:
        raise ValueError(f"The weight histogram needs a local model: '{base.spec[:80]}' runs on a server.")
    values = pruned.magnitudes(base.hf)
    summary = {f"share below {t:g}": float((values < t).float().mean()) for t in NEAR_ZERO}
    summary["median |w| (the 50% global cut)"] = float(values.median())
    return values, summary


def recipe(base: Model) -> int8_recipe.Recipe:
    """The automatic int8 recipe of this base, as built (and kept) for the w8a8-auto variant."""
    return quantization.variant(base, "w8a8-auto").recipe
