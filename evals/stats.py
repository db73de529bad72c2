"""Bootstrap statistics: 95% intervals of a mean and of a paired difference between two systems."""

import numpy as np

RESAMPLES = 2000  # >= 1000 keeps the 2.5/97.5 percentiles stable to about ±0.005 on 0/1 scores


def bootstrap_ci(values, confidence: float = 0.95, resamples: int = RESAMPLES, seed: int = 0) -> dict:
    """Mean and percentile-bootstrap interval of `values` (seeded, so the same data gives the same interval)."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return {"mean": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"), "n": 0}
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(resamples, data.size))].mean(axis=1)  # (resamples,)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return {"mean": float(data.mean()), "ci_low": float(low), "ci_high": float(high), "n": int(data.size)}


def paired_bootstrap(a, b, confidence: float = 0.95, resamples: int = RESAMPLES, seed: int = 0) -> dict:
    """Interval of mean(a - b) over the same examples, resampling examples jointly.

    p_value: two-sided share of resampled differences on the other side of zero (0 when all agree).
    """
    first, second = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if first.shape != second.shape:
        raise ValueError("paired_bootstrap needs the same examples for both systems.")
    result = bootstrap_ci(first - second, confidence, resamples, seed)
    rng = np.random.default_rng(seed)
    diffs = (first - second)[rng.integers(0, first.size, size=(resamples, first.size))].mean(axis=1)
    result["p_value"] = float(min(1.0, 2 * min((diffs <= 0).mean(), (diffs >= 0).mean()))) if first.size else 1.0
    return result
