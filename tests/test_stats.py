"""Bootstrap intervals: seeded, sensible widths, paired differences."""

import numpy as np
import pytest

from evals.stats import RESAMPLES, bootstrap_ci, paired_bootstrap


def test_interval_contains_mean_and_is_reproducible():
    values = np.random.default_rng(1).normal(0.4, 0.1, size=50)
    first, again = bootstrap_ci(values, seed=3), bootstrap_ci(values, seed=3)
    assert first == again
    assert first["ci_low"] < first["mean"] < first["ci_high"] and first["n"] == 50
    assert RESAMPLES >= 1000


def test_interval_narrows_with_more_data_and_matches_normal_theory():
    rng = np.random.default_rng(2)
    small, large = rng.normal(0, 1, 25), rng.normal(0, 1, 400)
    width_small = bootstrap_ci(small)["ci_high"] - bootstrap_ci(small)["ci_low"]
    width_large = bootstrap_ci(large)["ci_high"] - bootstrap_ci(large)["ci_low"]
    assert width_large < width_small / 2.5
    assert width_large == pytest.approx(2 * 1.96 * large.std() / np.sqrt(400), rel=0.15)


def test_constant_and_empty_values():
    assert bootstrap_ci([1.0] * 10) == {"mean": 1.0, "ci_low": 1.0, "ci_high": 1.0, "n": 10}
    assert bootstrap_ci([])["n"] == 0


def test_paired_difference():
    rng = np.random.default_rng(4)
    base = rng.uniform(0, 1, 40)
    better = base + 0.1 + rng.normal(0, 0.02, 40)
    result = paired_bootstrap(better, base)
    assert result["ci_low"] > 0.05 and result["mean"] == pytest.approx(0.1, abs=0.02) and result["p_value"] < 0.01
    same = paired_bootstrap(base, base + rng.normal(0, 0.05, 40))
    assert same["ci_low"] < 0 < same["ci_high"] and same["p_value"] > 0.05
    with pytest.raises(ValueError):
        paired_bootstrap([1, 2], [1])
