"""The one-sentence result of a comparison, on hand-made per-example tables with known answers."""

import numpy as np
import pandas as pd
import pytest

from modules.ui.headline import headline


def _run(differences: list[float], score: str = "rougeL", other: str = "few-shot (k=3)") -> pd.DataFrame:
    """zero-shot and `other` on len(differences) examples; `other` = zero-shot + the difference on each."""
    base = np.linspace(0.2, 0.4, len(differences))
    ids = [f"ex-{i}" for i in range(len(differences))]
    return pd.DataFrame(
        {"system": ["zero-shot"] * len(ids) + [other] * len(ids), "example_id": ids * 2,
         score: [*base, *(base + np.asarray(differences))]}
    )  # fmt: skip


def test_a_clear_gain_is_said_with_its_interval_and_n():
    gains = [0.2, 0.18, 0.22, 0.19, 0.21, 0.2, 0.17, 0.23, 0.2, 0.2, 0.19, 0.21]
    sentence = headline(_run(gains), "zero-shot", "rougeL")
    assert sentence.startswith("few-shot (k=3) beats zero-shot on ROUGE-L F by 0.20 [0.19, 0.21]"), sentence
    assert sentence.endswith("n=12")


def test_a_clear_loss_is_said_as_worse():
    sentence = headline(_run([-0.3] * 6 + [-0.26] * 6), "zero-shot", "rougeL")
    assert sentence.startswith("few-shot (k=3) is worse than zero-shot on ROUGE-L F by 0.28 ["), sentence
    assert sentence.endswith("n=12")


def test_a_lower_is_better_score_gains_when_it_falls():
    sentence = headline(_run([-0.3] * 6 + [-0.26] * 6, "copy_rate"), "zero-shot", "copy_rate")
    assert sentence.startswith("few-shot (k=3) beats zero-shot on copy rate by 0.28 ["), sentence


def test_an_unclear_difference_is_called_so():
    sentence = headline(_run([0.1, -0.1] * 6 + [0.02]), "zero-shot", "rougeL")
    assert sentence.startswith("no clear difference between few-shot (k=3) and zero-shot on ROUGE-L F: +0.00 [")
    assert sentence.endswith("n=13")


def test_too_few_examples_get_no_verdict_however_large_the_gain():
    sentence = headline(_run([0.5, 0.6, 0.55]), "zero-shot", "rougeL")
    assert sentence == "too few examples for a verdict: few-shot (k=3) vs zero-shot on ROUGE-L F, n=3"


def test_the_clearly_better_system_is_named_over_a_larger_unclear_gain():
    clear = _run([0.2] * 6 + [0.21] * 6)
    noisy = _run([0.9, -0.5] * 6, other="one-shot")  # mean gain 0.2 as well, spread wide
    noisy.loc[noisy.system == "one-shot", "rougeL"] += 0.1  # larger mean gain than few-shot's, still unclear
    both = pd.concat([clear, noisy[noisy.system == "one-shot"]], ignore_index=True)
    assert headline(both, "zero-shot", "rougeL").startswith("few-shot (k=3) beats zero-shot")


def test_an_unknown_score_is_a_clear_error():
    with pytest.raises(ValueError, match="No score 'bleu'"):
        headline(_run([0.2] * 12), "zero-shot", "bleu")
