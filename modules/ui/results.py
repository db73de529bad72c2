"""Rendering results for any tab: a Run's aggregate table and status line, and the CSV / JSON downloads."""

import json
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import pandas as pd

from evals import comparison, report, stats
from evals.runner import Run
from modules.exports import write_csv
from modules.models import Model
from modules.ui import charts, tables


def aggregate_table(run: Run) -> pd.DataFrame:
    """One row per system and score: mean, its 95% interval (stats.interval), n, and what the number is."""
    if run.aggregate.empty:
        return pd.DataFrame()
    table = run.aggregate[["system", "score", "mean", "ci_low", "ci_high", "n", "label"]].copy()
    table[["mean", "ci_low", "ci_high"]] = table[["mean", "ci_low", "ci_high"]].round(4)
    table["note"] = [
        "" if n >= SMALL_SAMPLE else f"n={n}: a wide (Student t) interval; too few examples for a verdict"
        for n in table.n
    ]
    return with_paired_differences(table, run)


# Column shares of a readable quality table: all seven columns on a 1,400 px screen, long system names wrapping.
QUALITY_WIDTHS = ["27%", "9%", "5%", "17%", "19%", "8%", "15%"]  # system, score, n, mean, vs baseline, p, verdict


def comparison_view(
    per_example: pd.DataFrame,
    measurements: dict,
    baseline: str,
    seed: int,
    title: str,
    price_per_gpu_hour: float | None = None,
) -> tuple:
    """(quality table as people read it, cost table, chart) of a comparison against `baseline` (the first system
    when it is not among them): what the Compare and Stored runs tabs show."""
    if baseline not in set(per_example.system):
        baseline = per_example.system.iloc[0]
    quality = comparison.quality_table(per_example, baseline, seed)
    costs = comparison.cost_table(per_example, measurements, price_per_gpu_hour).round(3)
    return comparison.readable(quality), costs, report.chart(quality, title)


def with_paired_differences(table: pd.DataFrame, run: Run) -> pd.DataFrame:
    """The table plus, for each quality score, every system's paired difference from the first system (95%
    interval, Holm-adjusted verdict): whether a column really beats another, not only whose mean is higher."""
    systems = list(dict.fromkeys(run.per_example.system)) if not run.per_example.empty else []
    if len(systems) < 2:
        return table
    first = systems[0]
    quality = comparison.readable(comparison.quality_table(run.per_example, first, run.seed))
    column = f"vs {first} [95% interval]"
    paired = quality[["system", "score", "vs baseline [95% interval]", "verdict"]].rename(
        columns={"vs baseline [95% interval]": column}
    )
    merged = table.merge(paired, on=["system", "score"], how="left")
    return merged.fillna({column: "", "verdict": ""})


DOWNLOADS_TTL_S = 600  # Gradio copies a returned file into its own cache at once; ours are swept after this


def downloads_root() -> Path:
    return Path(tempfile.gettempdir()) / "llm-lab-downloads"


def sweep_downloads(max_age_s: float = DOWNLOADS_TTL_S) -> None:
    """Delete download folders older than max_age_s: every run writes one, none may pile up."""
    root = downloads_root()
    for folder in root.iterdir() if root.is_dir() else []:
        if time.time() - folder.stat().st_mtime > max_age_s:
            shutil.rmtree(folder, ignore_errors=True)


def download_folder() -> Path:
    """A fresh folder for one run's downloads, so two sessions never share one; older folders are swept."""
    sweep_downloads()
    folder = downloads_root() / uuid.uuid4().hex
    folder.mkdir(parents=True)
    return folder


def write_downloads(stem: str, table: pd.DataFrame | None, payload: dict) -> tuple[str | None, str]:
    """`<stem>.csv` (the table, when there is one; spreadsheet-safe) and `<stem>.json` (everything) in a fresh
    download folder."""
    folder = download_folder()
    csv_path = None
    if table is not None:
        csv_path = folder / f"{stem}.csv"
        write_csv(table, csv_path)
    json_path = folder / f"{stem}.json"
    json_path.write_text(json.dumps(payload, indent=1, default=str))
    return (str(csv_path) if csv_path else None), str(json_path)


SMALL_SAMPLE = stats.SMALL_N  # below this intervals are Student t (a bootstrap only reflects the few values drawn)


def examples_in(run: Run) -> int:
    return run.per_example.example_id.nunique() if not run.per_example.empty else 0


def render_run(run: Run, model: Model) -> tuple:
    """(status, aggregate table, chart, per-example table, csv, json) of a finished or stopped run."""
    n = examples_in(run)
    status = (
        f"**Run {run.id}** ({run.status}) · task `{run.task}`, split {run.split}, {n} examples, seed {run.seed} · "
        f"{model.label} · means with 95% intervals ({stats.INTERVALS}); paired differences: sign-flip test, "
        "Holm-adjusted"
        + (f"\n\n⚠️ Only {n} examples: wide intervals, no verdicts below {SMALL_SAMPLE}; run more." * (n < SMALL_SAMPLE))
    )
    csv_path, json_path = write_downloads(f"run-{run.id}-{run.task}", run.per_example, run.to_dict(model.info()))
    figure = charts.scores(run, title(run, model.label))
    return status, aggregate_table(run), figure, tables.rounded(run.per_example), csv_path, json_path


def title(run: Run, model_label: str) -> str:
    return f"{run.task} ({run.split}, n={examples_in(run)}) on {model_label}"
