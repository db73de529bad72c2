"""A comparison in one sentence: the best system against the baseline on one score, with its paired 95% interval."""

import pandas as pd

from evals import metrics
from evals.comparison import quality_scores, quality_table

# Verdict prefixes of evals.comparison.verdict (the rest of a verdict string may say more, e.g. the n it needs).
BETTER, WORSE, UNCLEAR, TOO_FEW = "▲ clearly better", "▼ clearly worse", "no clear difference", "too few examples"


def headline(per_example: pd.DataFrame, baseline: str, score: str) -> str:
    """E.g. "few-shot (k=3) beats zero-shot on ROUGE-L F by 0.20 [0.13, 0.27], n=12". Of the systems compared with
    `baseline`, it names the clearly better one that gains most, else the one that gains most, clear or not."""
    rows = _compared(per_example, baseline, score)
    name = metrics.label(score).split(" (")[0]  # "ROUGE-L F (0-1)": the range is noise in a sentence
    if rows.empty:
        return f"too few examples for a verdict: no example has both {baseline} and another system on {name}"
    sign = 1 if metrics.higher_is_better(score) else -1  # a gain is a fall for lower-is-better scores
    gains = sign * rows["vs baseline"]
    clear = rows.verdict.str.startswith(BETTER)
    row = rows.loc[gains[clear].idxmax() if clear.any() else gains.idxmax()]
    return _sentence(row, baseline, name, sign)


def stored_line(run, label: dict) -> str:
    """A stored example run's result in one bold sentence on its main score (the answer's accuracy where the task
    has one, else ROUGE-L, else its first quality score), the first system as the baseline; "" when it has no
    paired comparison to state."""
    scores = [s for s in quality_scores(run.per_example) if s != "copy_rate"]
    if not scores or run.per_example.system.nunique() < 2:
        return ""
    score = next((s for s in ("numeric_accuracy", "exact_match", "rougeL") if s in scores), scores[0])
    return f"**{headline(run.per_example, run.systems[0]['name'], score)}** (stored example run, {label['date']})."


def _compared(per_example: pd.DataFrame, baseline: str, score: str) -> pd.DataFrame:
    """The quality table's rows of `score` that hold a paired difference from `baseline`."""
    if score not in per_example:
        raise ValueError(f"No score '{score}' in this run: {', '.join(per_example.columns)}.")
    table = quality_table(per_example, baseline)
    if "vs baseline" not in table:  # the baseline alone, or no example that another system also finished
        return table.iloc[0:0]
    return table[(table.score == score) & table["vs baseline"].notna()]


def _sentence(row: pd.Series, baseline: str, name: str, sign: int) -> str:
    system, verdict, n = row.system, str(row.verdict), int(row["paired n"])
    low, high = sorted((sign * row.diff_low, sign * row.diff_high))  # the gain's interval, low end first
    gain = sign * row["vs baseline"]
    if verdict.startswith(TOO_FEW):
        return f"too few examples for a verdict: {system} vs {baseline} on {name}, n={n}"
    if verdict.startswith(BETTER):
        return f"{system} beats {baseline} on {name} by {gain:.2f} [{low:.2f}, {high:.2f}], n={n}"
    if verdict.startswith(WORSE):
        return f"{system} is worse than {baseline} on {name} by {-gain:.2f} [{-high:.2f}, {-low:.2f}], n={n}"
    # no clear difference (or a verdict this file does not know): the interval says how large it might be
    interval = f"{gain:+.2f} [{low:+.2f}, {high:+.2f}]"
    return f"no clear difference between {system} and {baseline} on {name}: {interval}, n={n}"
