"""Statistics: 95% intervals of a mean (Wilson for 0/1 scores, Student t below SMALL_N, else bootstrap), of a paired
difference between two systems, the p-value of that difference (an exact sign-flip test where 2^n is small, a Monte
Carlo one above) and Holm's adjustment when several systems are compared with one baseline."""

from statistics import NormalDist

import numpy as np
from scipy import stats as scipy_stats

RESAMPLES = 2000  # >= 1000 keeps the 2.5/97.5 percentiles stable to about ±0.005 on 0/1 scores
SMALL_N = 10  # below this a percentile bootstrap is too narrow (it resamples the few values seen): Student t instead
EXACT_UP_TO = 16  # nonzero pairs up to which all 2^n sign patterns are enumerated (65,536 at most)
FLIPS = 20_000  # random sign patterns above that: p resolves to about 1/20,000
INTERVALS = f"Wilson for 0/1 scores, Student t below {SMALL_N} examples, percentile bootstrap otherwise"


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


def t_ci(values, confidence: float = 0.95) -> dict:
    """Mean and Student-t interval: at a handful of values it is honest about how little they say (3 values: mean
    ± 4.3 standard errors, where a percentile bootstrap gives about ± 1.6)."""
    data = np.asarray(values, dtype=float)
    if data.size < 2:
        return {"mean": float(data.mean()) if data.size else float("nan"), "ci_low": float("nan"),
                "ci_high": float("nan"), "n": int(data.size)}  # fmt: skip
    half = scipy_stats.t.ppf(1 - (1 - confidence) / 2, data.size - 1) * data.std(ddof=1) / np.sqrt(data.size)
    return {"mean": float(data.mean()), "ci_low": float(data.mean() - half), "ci_high": float(data.mean() + half),
            "n": int(data.size)}  # fmt: skip


def paired_bootstrap(a, b, confidence: float = 0.95, resamples: int = RESAMPLES, seed: int = 0) -> dict:
    """Interval of mean(a - b) over the same examples (percentile bootstrap resampling examples jointly; Student t
    below SMALL_N pairs), with the sign-flip test's p_value, p_min (the smallest p that test can give for these
    pairs) and test (which test)."""
    first, second = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if first.shape != second.shape:
        raise ValueError("paired_bootstrap needs the same examples for both systems.")
    differences = first - second
    if differences.size < SMALL_N:
        result = t_ci(differences, confidence) | {"method": "t"}
    else:
        result = bootstrap_ci(differences, confidence, resamples, seed) | {"method": "bootstrap"}
    return result | sign_flip_test(differences, seed)


def sign_flip_test(differences, seed: int = 0) -> dict:
    """Two-sided paired permutation test of mean difference 0: under "no difference" each pair's sign is a coin
    flip, so p is the share of sign patterns whose |sum| reaches the observed one. Exact up to EXACT_UP_TO nonzero
    pairs (3 pairs all positive: p = 2/8 = 0.25, never less), Monte Carlo above ((1 + hits) / (1 + FLIPS), never 0).
    Pairs that tie change nothing under a flip and are left out. Returns {p_value, p_min, test}."""
    data = np.asarray(differences, dtype=float)
    data = data[~np.isclose(data, 0.0, atol=1e-12)]
    if data.size == 0:
        return {"p_value": 1.0, "p_min": 1.0, "test": "exact sign-flip"}
    observed = abs(data.sum()) - 1e-9 * (1 + abs(data).sum())  # tolerance: equal sums must count as reaching it
    if data.size <= EXACT_UP_TO:
        patterns = 1 - 2 * ((np.arange(2**data.size)[:, None] >> np.arange(data.size)) & 1)  # (2^n, n) of ±1
        p_value = float((np.abs(patterns @ data) >= observed).mean())
        return {"p_value": p_value, "p_min": 2 / 2**data.size, "test": "exact sign-flip"}
    rng, hits = np.random.default_rng(seed), 0
    for start in range(0, FLIPS, 2000):  # in blocks: 2,000 x n signs at a time, whatever n is
        signs = rng.choice((-1.0, 1.0), size=(min(2000, FLIPS - start), data.size))
        hits += int((np.abs(signs @ data) >= observed).sum())
    return {"p_value": (1 + hits) / (1 + FLIPS), "p_min": 1 / (1 + FLIPS), "test": f"sign-flip, {FLIPS:,} random"}


def p_text(p: float) -> str:
    """A p-value as people read it, at the resolution it has: '0.25', '0.0078', '<0.001' only when it is below."""
    if p is None or np.isnan(p):
        return ""
    if p < 0.001:
        return "<0.001"
    return f"{p:.4f}" if p < 0.01 else f"{p:.3f}"


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
    """The 95% interval a mean gets in this lab: Wilson for 0/1 scores, Student t below SMALL_N values, percentile
    bootstrap otherwise; `method` says which."""
    if is_binary(values):
        return wilson_ci(values) | {"method": "Wilson"}
    if len(np.asarray(values)) < SMALL_N:
        return t_ci(values) | {"method": "t"}
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
