"""Intervals (bootstrap, Student t at small n), the paired sign-flip test and its resolution, verdicts at small n."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from evals import comparison, report
from evals.stats import FLIPS, RESAMPLES, bootstrap_ci, p_text, paired_bootstrap, sign_flip_test, t_ci


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


def test_exact_sign_flip_p_values_of_hand_made_pairs():
    """Counted by hand over every sign pattern: 3 pairs all one way reach |sum| in 2 of 8 patterns; 8 in 2 of 256."""
    assert sign_flip_test([0.1, 0.2, 0.3]) == {"p_value": 0.25, "p_min": 0.25, "test": "exact sign-flip"}
    assert sign_flip_test([0.5] * 8)["p_value"] == pytest.approx(2 / 256)
    # (1, 2, 3, -1) sums to 5; of ±1±2±3±1, reaching |5|: +1+2+3+1 = 7, +1+2+3-1 = 5, -1+2+3+1 = 5, and the three
    # mirrored: 6 of 16.
    assert sign_flip_test([1, 2, 3, -1])["p_value"] == pytest.approx(6 / 16)
    assert sign_flip_test([1, -1, 2, -2])["p_value"] == 1.0  # the observed sum is 0: every pattern reaches it
    assert sign_flip_test([0, 0, 0]) == {"p_value": 1.0, "p_min": 1.0, "test": "exact sign-flip"}
    assert sign_flip_test([0.2, 0, 0, 0.3])["p_value"] == 0.5  # ties change nothing under a flip: 2 pairs left


def test_sign_flip_matches_scipy_permutation_test():
    """An independent implementation: scipy's exact paired permutation test of the mean difference."""
    rng = np.random.default_rng(5)
    a, b = rng.uniform(0, 1, 11), rng.uniform(0, 1, 11)
    ours = sign_flip_test(a - b)["p_value"]
    theirs = scipy_stats.permutation_test((a, b), lambda x, y: np.mean(x - y), permutation_type="samples",
                                          n_resamples=np.inf).pvalue  # fmt: skip
    assert ours == pytest.approx(theirs, abs=1e-9)


def test_monte_carlo_above_sixteen_pairs_is_never_zero():
    result = sign_flip_test(np.full(40, 0.3))
    assert result["p_value"] == result["p_min"] == pytest.approx(1 / (1 + FLIPS)) and "random" in result["test"]
    assert sign_flip_test(np.full(40, 0.3), seed=1) == result  # all positive: every seed gives the floor
    noisy = np.random.default_rng(6).normal(0, 1, 30)
    assert sign_flip_test(noisy, seed=2) == sign_flip_test(noisy, seed=2)  # seeded


def test_small_samples_get_student_t_intervals_wider_than_a_bootstrap():
    values = [0.2, 0.4, 0.9]
    t, boot = t_ci(values), bootstrap_ci(values)
    assert t["mean"] == boot["mean"] and t["ci_high"] - t["ci_low"] > 2 * (boot["ci_high"] - boot["ci_low"])
    assert paired_bootstrap([1, 2, 3], [0, 0, 0])["method"] == "t"
    assert paired_bootstrap(np.arange(12) + 1.0, np.zeros(12))["method"] == "bootstrap"


def test_p_values_print_at_the_resolution_they_have():
    assert [p_text(p) for p in (0.25, 2 / 256, 0.0004, 1.0)] == ["0.250", "0.0078", "<0.001", "1.000"]
    assert p_text(float("nan")) == ""


def _pairs(differences: list[float]) -> pd.DataFrame:
    rows = [{"example_id": str(i), "system": "base", "rougeL": 0.2, "output": "a"} for i in range(len(differences))]
    rows += [
        {"example_id": str(i), "system": "new", "rougeL": 0.2 + d, "output": "b"} for i, d in enumerate(differences)
    ]
    return pd.DataFrame(rows)


def test_three_pairs_all_better_never_get_clearly_better():
    """The visitor's case: 3 examples, every one better. The bootstrap said p<0.001 'clearly better'."""
    row = comparison.quality_table(_pairs([0.1, 0.2, 0.3]), "base").set_index("system").loc["new"]
    assert row["p (Holm)"] == 0.25 and row["verdict"].startswith("too few examples for a verdict")
    shown = comparison.readable(comparison.quality_table(_pairs([0.1, 0.2, 0.3]), "base"))
    assert "<0.001" not in shown.to_string() and "clearly" not in shown.to_string()
    enough = comparison.quality_table(_pairs([0.1, 0.2, 0.3] * 4), "base").set_index("system").loc["new"]
    assert enough["p (Holm)"] == pytest.approx(2 / 2**12) and enough["verdict"] == "▲ clearly better"


def test_the_report_says_what_the_tab_says_at_three_pairs():
    """The HTML report and the Compare / Stored runs tabs render the same table: no verdict, p = 0.25."""
    from modules.ui import results

    per_example = _pairs([0.1, 0.2, 0.3])
    systems = [{"name": name, "technique": "prompting", "config": {}, "model": "m"} for name in ("base", "new")]
    run = {"id": 1, "status": "done", "created": "today", "task": "dialogue-summary", "split": "test", "seed": 0,
           "systems": systems}  # fmt: skip
    html = report.build(run, per_example)
    shown, _costs, _chart = results.comparison_view(per_example, {}, "base", 0, "title")
    row = shown.set_index("system").loc["new"]
    assert row["p (Holm)"] == "0.250" and row["verdict"].startswith("too few examples for a verdict")
    assert f"<td>{row['verdict']}</td>" in html and "<td>0.250</td>" in html and "clearly" not in html
