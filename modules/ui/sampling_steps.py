"""The sampling explorer's step view: the generated tokens coloured by their probability (click one), and the
distribution the clicked token was drawn from, as a table and a bar chart of the top tokens before and after the
temperature, with what top-k and top-p removed."""

import math

import pandas as pd
import plotly.graph_objects as go

from evals import report
from modules.inside.sampling import kept_line, step_table
from modules.models import GenerationParams
from modules.models.interface import Step

# The chosen token's probability under the model, in four bands (a legend beats a colour scale nobody can read).
BANDS = (
    (0.9, "p ≥ 0.9", "#1a7f37"),
    (0.5, "0.5 ≤ p < 0.9", "#6cc644"),
    (0.1, "0.1 ≤ p < 0.5", "#d4a72c"),
    (0.0, "p < 0.1", "#cf222e"),
)
COLOURS = {name: colour for _, name, colour in BANDS}


def band(probability: float) -> str:
    return next(name for low, name, _ in BANDS if probability >= low)


def tokens_view(steps: list[Step]) -> list[tuple[str, str]]:
    """(token, its band) per generated token, for a gr.HighlightedText: click one to see its step."""
    return [(step.token.replace("\n", "↵\n"), band(math.exp(step.logprob))) for step in steps]


def step_view(steps: list[Step], index: int, params: GenerationParams) -> tuple[str, pd.DataFrame, go.Figure]:
    """(what happened at step `index` in words, its top-20 table, its chart)."""
    step = steps[index]
    if step.sampled_from is None:  # a server returns its top tokens but not what its filters left
        table = pd.DataFrame([{"rank": rank, "token": token, "p (model)": math.exp(logprob),
                               "chosen": token == step.token}
                              for rank, (token, logprob) in enumerate(step.top, start=1)])  # fmt: skip
        line = (f"**Step {index + 1} of {len(steps)}:** `{_visible(step.token)}` was chosen; the model gave it "
                f"p = {math.exp(step.logprob):.3f}. This backend returns the model's own top tokens only, not the "
                "distribution its filters left: temperature, top-k and top-p are not shown.")  # fmt: skip
        return line, table.assign(token=table.token.map(_visible)).round(4), chart(table, index)
    table = step_table(step, params)
    line = (
        f"**Step {index + 1} of {len(steps)}:** `{_visible(step.token)}` was chosen; the model gave it "
        f"p = {math.exp(step.logprob):.3f} before any setting. {kept_line(step, params)}"
    )
    shown = table.assign(token=table.token.map(_visible)).round(4)
    return line, shown, chart(table, index)


def chart(table: pd.DataFrame, index: int) -> go.Figure:
    """Bars of the top tokens' probability under the model, after temperature, and in the distribution the token
    was drawn from (0 where a filter removed it); the removed ones are named on the axis."""
    after_t = [column for column in table.columns if column.startswith("p at T")]
    removed_by = table["removed by"] if "removed by" in table else [""] * len(table)
    labels = [
        f"{rank}. {_visible(token)}" + (f" ✗{removed}" if removed else "") + (" ◀ chosen" if chosen else "")
        for rank, token, removed, chosen in zip(table["rank"], table.token, removed_by, table.chosen)
    ]
    fig = go.Figure()
    colours = {"p (model)": "#8c959f", **dict.fromkeys(after_t, "#0969da"), "p drawn from": "#bf3989"}
    for column, colour in colours.items():
        if column in table:
            fig.add_bar(x=labels, y=table[column], name=column, marker_color=colour)
    fig.update_layout(
        title=f"Step {index + 1}: the 20 most likely next tokens", barmode="group", yaxis_title="probability",
        height=380, margin={"t": 50, "b": 120}, legend={"orientation": "h", "y": 1.12},
    )  # fmt: skip
    fig.update_xaxes(tickangle=-45)
    return report.legible(fig)


def _visible(token: str) -> str:
    """A token as a person can read it: spaces as '␣', line breaks as '↵'."""
    return token.replace(" ", "␣").replace("\n", "↵") or "∅"
