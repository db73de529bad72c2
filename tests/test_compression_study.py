"""The compression study on the tiny model: the variants a visitor picks become specs, bad sparsities get clear
messages, the comparison stores one run with every variant and marks the Pareto front over size, speed and quality."""

import threading

import pytest

from modules.studies import compression


def test_choices_become_variant_names():
    names = compression.variant_names(["w8a8-auto"], ["wanda", "mlp-neurons"], "50, 25 ,50")
    assert names == ["w8a8-auto", "prune:wanda-25", "prune:wanda-50", "prune:mlp-neurons-25", "prune:mlp-neurons-50"]
    assert compression.sparsities("30%; 10") == [10, 30]


@pytest.mark.parametrize(
    ("int8", "methods", "text", "message"),
    [
        ([], ["wanda"], "100", "whole percent from 1 to 99"),
        ([], ["wanda"], "0", "whole percent from 1 to 99"),
        ([], ["wanda"], "12.5", "whole percent"),
        ([], ["wanda"], "half", "not a number"),
        ([], ["wanda"], " ", "at least one sparsity"),
        ([], [], "50", "Pick at least one"),
        (["int4"], [], "", "Unknown choice: int4"),
    ],
)  # fmt: skip
def test_bad_choices_are_clear_messages(int8, methods, text, message):
    with pytest.raises(ValueError, match=message):
        compression.variant_names(int8, methods, text)


def test_the_comparison_scores_every_variant_and_marks_the_front(tiny_model):
    names = compression.variant_names(["w8a8"], ["mlp-neurons", "magnitude-global"], "50")
    events = []
    table, run = compression.compare(tiny_model, names, "dialogue-summary", 2, events.append, threading.Event())
    assert list(table.variant) == ["fp32", *names]
    assert set(run.per_example.system) == {"fp32", *names} and run.per_example.example_id.nunique() == 2
    assert table[compression.FRONT].dtype == bool and table[compression.FRONT].any()
    rows = table.set_index("variant")
    assert rows.loc["prune:mlp-neurons-50", "weight MB"] < rows.loc["fp32", "weight MB"]  # structured: smaller
    assert rows.loc["prune:magnitude-global-50", "weight MB"] == pytest.approx(rows.loc["fp32", "weight MB"])  # dense


def test_the_histogram_counts_weights_near_zero(tiny_model):
    values, summary = compression.magnitudes(tiny_model)
    assert (values >= 0).all() and 0 <= summary["share below 0.001"] <= summary["share below 0.01"] <= 1
    assert summary["median |w| (the 50% global cut)"] == pytest.approx(float(values.median()))
