"""Diversity scores against hand counts and sacrebleu itself."""

import pytest
import sacrebleu

from evals import diversity


def test_distinct_counts_unique_ngrams_over_all_samples():
    samples = ["the cat sat", "the cat ran"]
    assert diversity.distinct(samples, 1) == pytest.approx(4 / 6)  # the, cat, sat, ran of 6 words
    assert diversity.distinct(samples, 2) == pytest.approx(3 / 4)  # (the cat) twice, (cat sat), (cat ran)
    assert diversity.distinct(["same words"] * 3, 2) == pytest.approx(1 / 3)
    assert diversity.distinct(["one"], 2) is None


def test_self_bleu_is_high_for_copies_and_low_for_different_samples():
    copies = ["the meeting moved to friday afternoon"] * 3
    different = ["the meeting moved to friday", "lunch is at noon today", "bring your laptop please"]
    assert diversity.self_bleu(copies) == pytest.approx(100.0)
    assert diversity.self_bleu(different) < 10
    a, b = "the cat sat on the mat", "a cat sat on a mat"
    assert diversity.self_bleu([a, b]) == pytest.approx(
        (sacrebleu.sentence_bleu(a, [b]).score + sacrebleu.sentence_bleu(b, [a]).score) / 2
    )
    assert diversity.self_bleu(["alone"]) is None


def test_scores_leave_out_what_is_undefined():
    assert set(diversity.scores(["a b", "a c"])) == {"distinct_1", "distinct_2", "self_bleu"}
    assert diversity.scores(["a"]) == {"distinct_1": 1.0}
