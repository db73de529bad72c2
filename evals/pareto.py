"""The Pareto front of model variants: the ones no other variant beats on every axis at once (smaller or as small,
better or as good quality, faster or as fast, and strictly better on one)."""

import pandas as pd


def front(table: pd.DataFrame, lower: tuple[str, ...] = ("size_mb",),
          higher: tuple[str, ...] = ("quality", "tokens_per_s")) -> pd.Series:  # fmt: skip
    """A boolean Series over `table`'s rows: True where no other row dominates it on the named columns (`lower`:
    smaller is better; `higher`: larger is better). Rows with a missing value are never on the front."""
    values = pd.concat([-table[list(lower)], table[list(higher)]], axis=1)  # every column: larger is better
    complete = values.notna().all(axis=1)
    on_front = []
    for index, row in values.iterrows():
        if not complete[index]:
            on_front.append(False)
            continue
        others = values[complete & (values.index != index)]
        dominated = ((others >= row).all(axis=1) & (others > row).any(axis=1)).any()
        on_front.append(not dominated)
    return pd.Series(on_front, index=table.index, name="pareto")
