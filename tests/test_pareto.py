"""The Pareto front: dominated variants are off it, ties stay on, missing values never count."""

import pandas as pd

from evals.pareto import front


def test_dominated_variants_are_off_the_front_and_ties_stay():
    table = pd.DataFrame(
        {"variant": ["fp32", "int8", "int8-bad", "pruned", "twin"], "size_mb": [540, 140, 140, 400, 140],
         "quality": [0.30, 0.29, 0.20, 0.25, 0.29], "tokens_per_s": [20, 38, 38, 25, 38]}
    )  # fmt: skip
    on = dict(zip(table.variant, front(table)))
    assert on == {"fp32": True, "int8": True, "int8-bad": False, "pruned": False, "twin": True}


def test_a_row_with_a_missing_value_is_never_on_the_front():
    table = pd.DataFrame({"size_mb": [1.0, 2.0], "quality": [None, 0.5], "tokens_per_s": [10.0, 5.0]})
    assert list(front(table)) == [False, True]
