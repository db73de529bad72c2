"""Rendering a Run for any tab: the aggregate table, a plotly chart with 95% intervals, and downloads."""

import json
import tempfile
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from evals.runner import Run

QUALITY_SCORES = ("rouge1", "rouge2", "rougeL", "bleu", "numeric_accuracy", "exact_match")


def aggregate_table(run: Run) -> pd.DataFrame:
    """One row per system and score: mean, its 95% bootstrap interval, n, and what the number is."""
    if run.aggregate.empty:
        return pd.DataFrame()
    table = run.aggregate[["system", "score", "mean", "ci_low", "ci_high", "n", "label"]].copy()
    table[["mean", "ci_low", "ci_high"]] = table[["mean", "ci_low", "ci_high"]].round(4)
    return table


def figure(run: Run, title: str) -> go.Figure:
    """Bars of the quality scores per system with 95% interval error bars; one panel per score (own scale)."""
    data = run.aggregate
    scores = [s for s in QUALITY_SCORES if not data.empty and s in set(data.score)]
    fig = make_subplots(rows=1, cols=max(len(scores), 1), subplot_titles=scores or ["no results"])
    for column, score in enumerate(scores, start=1):
        part = data[data.score == score]
        fig.add_trace(
            go.Bar(
                x=part.system,
                y=part["mean"],
                error_y={
                    "type": "data",
                    "array": part.ci_high - part["mean"],
                    "arrayminus": part["mean"] - part.ci_low,
                },
                marker_color=["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2"][: len(part)],
                showlegend=False,
                name=score,
            ),
            row=1,
            col=column,
        )
    fig.update_layout(title=title, height=380, margin={"t": 80, "l": 40, "r": 20, "b": 40})
    return fig


def write_downloads(run: Run, model_info: dict) -> tuple[str, str]:
    """CSV (per-example rows) and JSON (everything: model, systems, aggregate, rows) in a fresh temp folder."""
    folder = Path(tempfile.mkdtemp(prefix=f"run-{run.id}-"))
    csv_path, json_path = folder / f"run-{run.id}-{run.task}.csv", folder / f"run-{run.id}-{run.task}.json"
    run.per_example.to_csv(csv_path, index=False)
    json_path.write_text(json.dumps(run.to_dict(model_info), indent=2, default=str))
    return str(csv_path), str(json_path)
