"""Rendering results for any tab: a Run's aggregate table and status line, and the CSV / JSON downloads."""

import json
import tempfile
from pathlib import Path

import pandas as pd

from evals.runner import Run
from modules.models import Model
from modules.ui import charts


def aggregate_table(run: Run) -> pd.DataFrame:
    """One row per system and score: mean, its 95% bootstrap interval, n, and what the number is."""
    if run.aggregate.empty:
        return pd.DataFrame()
    table = run.aggregate[["system", "score", "mean", "ci_low", "ci_high", "n", "label"]].copy()
    table[["mean", "ci_low", "ci_high"]] = table[["mean", "ci_low", "ci_high"]].round(4)
    return table


def write_downloads(stem: str, table: pd.DataFrame | None, payload: dict) -> tuple[str | None, str]:
    """`<stem>.csv` (the table, when there is one) and `<stem>.json` (everything) in a fresh temp folder, so two
    sessions never share a download."""
    folder = Path(tempfile.mkdtemp(prefix=f"{stem}-"))
    csv_path = None
    if table is not None:
        csv_path = folder / f"{stem}.csv"
        table.to_csv(csv_path, index=False)
    json_path = folder / f"{stem}.json"
    json_path.write_text(json.dumps(payload, indent=1, default=str))
    return (str(csv_path) if csv_path else None), str(json_path)


def examples_in(run: Run) -> int:
    return run.per_example.example_id.nunique() if not run.per_example.empty else 0


def render_run(run: Run, model: Model) -> tuple:
    """(status, aggregate table, chart, per-example table, csv, json) of a finished or stopped run."""
    n = examples_in(run)
    status = (
        f"**Run {run.id}** ({run.status}) · task `{run.task}`, split {run.split}, {n} examples, seed {run.seed} · "
        f"{model.label} · means with 95% bootstrap intervals (2000 resamples)"
    )
    title = f"{run.task} ({run.split}, n={n}) on {model.label}"
    csv_path, json_path = write_downloads(f"run-{run.id}-{run.task}", run.per_example, run.to_dict(model.info()))
    return status, aggregate_table(run), charts.scores(run, title), run.per_example, csv_path, json_path
