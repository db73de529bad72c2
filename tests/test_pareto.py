"""The Pareto front: dominated variants are off it, ties stay on, missing values never count; the report draws it
where the systems' weights differ."""

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


def test_the_report_marks_the_front_of_model_variants_and_skips_it_for_one_model():
    from evals.report import pareto_chart, pareto_points

    quality = pd.DataFrame({"system": ["fp32", "int8", "pruned"], "score": "rougeL", "mean": [0.30, 0.29, 0.20],
                            "ci_low": [0.25, 0.24, 0.15], "ci_high": [0.35, 0.34, 0.25]})  # fmt: skip
    costs = pd.DataFrame({"system": ["fp32", "int8", "pruned"], "weights (MB)": [540.0, 140.0, 400.0],
                          "tokens/s (median)": [20.0, 38.0, 25.0]})  # fmt: skip
    points = pareto_points(quality, costs)
    assert dict(zip(points.system, points.pareto)) == {"fp32": True, "int8": True, "pruned": False}
    assert points.attrs["score"].startswith("ROUGE-L")
    names = {trace.name for trace in pareto_chart(points, "ROUGE-L").data}
    assert names == {"Pareto front", "dominated"}
    one_model = costs.assign(**{"weights (MB)": 540.0})  # prompting techniques on one model: no front to draw
    assert pareto_points(quality, one_model) is None
