"""The Runs tab: every stored comparison (CLI or UI) from LAB_HOME/lab.db, with its aggregate table."""

import gradio as gr
import pandas as pd

from modules.store import StoreError, default_store

# What tells runs apart first (their systems), the bookkeeping after.
RUN_COLUMNS = ["id", "systems", "task", "status", "model_label", "results", "limit", "split", "created"]
MAX_RUN_ID = 2**62  # SQLite integers are 64-bit; a larger id cannot exist


def runs_table(limit: int = 100) -> pd.DataFrame:
    runs = default_store().list_runs(limit)  # opened per call: a damaged store never stops the page from loading
    table = pd.DataFrame(runs, columns=[c for c in RUN_COLUMNS if c != "systems"])
    table["systems"] = [", ".join(s["name"] for s in run["systems"]) for run in runs]
    return table[RUN_COLUMNS]


def store_status() -> str:
    """Empty when the store opens; else the reason, shown above the (then empty) table."""
    try:
        default_store().close()
    except StoreError as error:
        return f"⚠️ {error}"
    return ""


def initial_runs() -> pd.DataFrame:
    try:
        return runs_table()
    except StoreError:
        return pd.DataFrame(columns=RUN_COLUMNS)


def run_aggregate(run_id: float | None) -> pd.DataFrame:
    """The stored aggregate of one run: mean and 95% bootstrap interval per system and score."""
    if run_id is None or run_id != run_id or not 1 <= run_id <= MAX_RUN_ID or run_id != int(run_id):
        raise gr.Error("Enter a run id from the table (a whole number from 1).")
    run = default_store().get_run(int(run_id))
    if run is None:
        raise gr.Error(f"No run with id {int(run_id)}.")
    if not run.get("aggregate"):
        raise gr.Error(f"Run {run['id']} is {run['status']} and has no aggregate table.")
    columns = ["system", "score", "mean", "ci_low", "ci_high", "n", "label"]
    return pd.DataFrame(run["aggregate"])[columns].round(4)


def build() -> None:
    with gr.Tab("Stored runs"):  # not "Runs": Gradio's footer has its own "Runs" (per-browser history)
        gr.Markdown("Every stored comparison, newest first (from the CLI `python -m evals` or the tabs).")
        gr.Markdown(store_status)
        refresh = gr.Button("Refresh")
        table = gr.Dataframe(value=initial_runs, interactive=False, label="Runs in lab.db", wrap=True)
        with gr.Row():
            run_id = gr.Number(label="Run id", precision=0)
            show = gr.Button("Show aggregate")
        aggregate = gr.Dataframe(interactive=False, label="Mean [95% bootstrap interval] per system and score")
        refresh.click(runs_table, outputs=table, api_name="list_runs")
        show.click(run_aggregate, inputs=run_id, outputs=aggregate, api_name="run_aggregate")
