"""Per-example tables as people read them: floats to 4 decimals, no column that is empty in every row."""

import pandas as pd

DECIMALS = 4  # 0.15999999999999998 -> 0.16; a score's 4th decimal is already below any interval's width


def rounded(per_example: pd.DataFrame | None) -> pd.DataFrame | None:
    """A copy with float columns rounded and all-empty columns (None, NaN or "") dropped: a summary task's "answer"
    column is all None and otherwise renders as a sliver one letter wide."""
    if per_example is None or per_example.empty:
        return per_example
    empty = [c for c in per_example if per_example[c].map(lambda v: v is None or v == "" or v != v).all()]
    table = per_example.drop(columns=empty)
    floats = table.select_dtypes("float").columns
    return table.astype({c: "float64" for c in floats}).round({c: DECIMALS for c in floats})
