"""Statistics: 95% intervals of a mean (bootstrap, or Wilson for 0/1 scores), of a paired difference between two
systems, and Holm's adjustment when several systems are compared with one baseline."""

from statistics import NormalDist

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


def wilson_ci(values, confidence: float = 0.95) -> dict:
    """Mean and Wilson score interval of 0/1 values (accuracy): unlike a bootstrap it does not collapse at 0/n or
    n/n (0 of 20 right gives [0.00, 0.16], not [0.00, 0.00])."""
    data = np.asarray(values, dtype=float)
    n = data.size
    if n == 0:
        return {"mean": float("nan"), "ci_low": float("nan"), "ci_high": float("nan"), "n": 0}
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)  # 1.96 at 95%
    share = data.mean()
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(share * (1 - share) / n + z * z / (4 * n * n))
    low = 0.0 if share == 0 else max(0.0, centre - half)  # exact at the ends (rounding leaves 1e-17 otherwise)
    high = 1.0 if share == 1 else min(1.0, centre + half)
    return {"mean": float(share), "ci_low": float(low), "ci_high": float(high), "n": int(n)}


def is_binary(values) -> bool:
    data = np.asarray(values, dtype=float)
    return bool(data.size) and bool(np.isin(data, (0.0, 1.0)).all())


def interval(values, seed: int = 0) -> dict:
    """The 95% interval a mean gets in this lab: Wilson for 0/1 scores, percentile bootstrap otherwise; `method`
    says which."""
    if is_binary(values):
        return wilson_ci(values) | {"method": "Wilson"}
    return bootstrap_ci(values, seed=seed) | {"method": "bootstrap"}


def holm(p_values: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (same order): comparing m systems with one baseline, a difference is
    called clear only when its adjusted p < 0.05, so the chance of any false call stays <= 5%."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted, running = [1.0] * len(p_values), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted
