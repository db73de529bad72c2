"""The Stored runs tab: every stored comparison (CLI or UI) in this visitor's lab.db, searchable page by page; open one
run (also by link: ?run=ID), or several on one task merged into one comparison, and export any of them as a report."""

import re

import gradio as gr
import pandas as pd

from evals import comparison, report
from modules.store import StoreError, default_store
from modules.ui import results, tables

TITLE = "Stored runs"  # not "Runs": Gradio's footer has its own "Runs"
# What tells runs apart first (their systems), the bookkeeping after.
RUN_COLUMNS = ["id", "systems", "task", "status", "model_label", "results", "limit", "split", "created"]
MAX_RUN_ID = 2**62  # SQLite integers are 64-bit; a larger id cannot exist
PAGE_SIZE = 25
MAX_MERGED = 6  # runs merged into one comparison


def runs_table(limit: int = PAGE_SIZE, offset: int = 0, search: str = "") -> pd.DataFrame:
    runs = default_store().list_runs(limit, offset, search)  # opened per call: a damaged store never stops the page
    table = pd.DataFrame(runs, columns=[c for c in RUN_COLUMNS if c != "systems"])
    table["systems"] = [", ".join(s["name"] for s in run["systems"]) for run in runs]
    return table[RUN_COLUMNS]


def search_runs(search: str, page) -> tuple[pd.DataFrame, str]:
    """One page of the runs whose task, systems, model or status contain `search`, and where it is in the list."""
    search = (search or "").strip()[:200]
    page = int(page) if isinstance(page, int | float) and page == page and 1 <= page <= 10**6 else 1
    total = default_store().count_runs(search)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(page, pages)
    table = runs_table(PAGE_SIZE, (page - 1) * PAGE_SIZE, search)
    matching = f" matching '{search}'" if search else ""
    return table, f"Page {page} of {pages}: {len(table)} of {total} runs{matching}, newest first."


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
    """The stored aggregate of one run: mean and 95% interval per system and score."""
    if run_id is None or run_id != run_id or not 1 <= run_id <= MAX_RUN_ID or run_id != int(run_id):
        raise gr.Error("Enter a run id from the table (a whole number from 1).")
    run = default_store().get_run(int(run_id))
    if run is None:
        raise gr.Error(f"No run with id {int(run_id)}.")
    if not run.get("aggregate"):
        raise gr.Error(f"Run {run['id']} is {run['status']} and has no aggregate table.")
    columns = ["system", "score", "mean", "ci_low", "ci_high", "n", "label"]
    return pd.DataFrame(run["aggregate"])[[c for c in columns if c in run["aggregate"][0]]].round(4)


def run_ids(text) -> list[int]:
    """'12' or '12, 15' -> [12, 15]: whole numbers from 1, at most MAX_MERGED."""
    parts = [p for p in re.split(r"[,\s]+", str(text or "").strip()) if p]
    if not parts:
        raise gr.Error("Enter a run id from the table, or several on one task separated by commas to merge them.")
    if len(parts) > MAX_MERGED:
        raise gr.Error(f"{len(parts)} runs; at most {MAX_MERGED} merge into one comparison.")
    ids = []
    for part in parts:
        if not part.isdigit() or not 1 <= int(part) <= MAX_RUN_ID:
            raise gr.Error(f"'{part[:20]}' is not a run id (a whole number from 1).")
        ids.append(int(part))
    return list(dict.fromkeys(ids))


def open_runs(text):
    """(status, quality table with paired differences from the first system, costs, chart, per-example) of one run
    or of several merged by example id."""
    run, per_example = report.stored_runs(default_store(), run_ids(text))
    if per_example.empty:
        raise gr.Error(f"Run {run['id']} ({run['status']}) has no stored results.")
    baseline, n = per_example.system.iloc[0], per_example.example_id.nunique()
    title = f"{run['task']} ({run['split']}, n={n}): mean and 95% interval"
    quality, costs, figure = results.comparison_view(per_example, run.get("measurements") or {}, baseline,
                                                     run["seed"], title)  # fmt: skip
    status = (
        f"**Run {run['id']}** ({run['status']}) · task `{run['task']}`, split {run['split']}, {n} examples, seed "
        f"{run['seed']} · {run['model_label']} · baseline **{baseline}** · {comparison.MULTIPLE_COMPARISONS}"
    )
    return status, quality, costs, figure, tables.rounded(per_example)


def export_report(text) -> str:
    ids = run_ids(text)
    folder = results.download_folder()
    run, per_example = report.stored_runs(default_store(), ids)
    path = folder / f"report-run-{run['id']}.html"
    path.write_text(report.build(run, per_example), encoding="utf-8")
    return str(path)


# After a ?run=ID link has filled the tab: its status line (then its tables) scrolled to the top of the view; the
# runs list above it is a page long, so the run was off screen. Polls until the status is rendered (at most 5 s).
SHOW_LINKED_RUN = """() => {
  if (!new URLSearchParams(location.search).get('run')) return;
  let tries = 0;
  const show = () => {
    const status = [...document.querySelectorAll('.run-status')].find((e) => e.offsetParent && e.textContent.trim());
    if (status) status.scrollIntoView({block: 'start'});
    else if (tries++ < 50) setTimeout(show, 100);
  };
  show();
}"""


def from_link(request: gr.Request):
    """?run=ID in the page's address opens that run in this tab."""
    wanted = (request.query_params.get("run") or "").strip() if request else ""
    if not wanted:
        return (gr.skip(),) * 7
    try:
        shown = open_runs(wanted)
    except gr.Error as error:
        return gr.update(selected="stored-runs"), wanted, f"⚠️ {error.message}", *(gr.skip(),) * 4
    return gr.update(selected="stored-runs"), wanted, *shown


def build(model_state: gr.State, model_info: gr.Markdown) -> list:
    """The tab (it reads the store, not the model); returns [ids box, status, quality, costs, chart, per-example]
    for the ?run=ID link (app.py)."""
    with gr.Tab(TITLE, id="stored-runs"):
        gr.Markdown("Every stored comparison, newest first (from the CLI `python -m evals` or the tabs).")
        gr.Markdown(store_status)
        with gr.Row():
            search = gr.Textbox(label="Search (task, system, model or status)", max_lines=1, scale=3)
            page = gr.Number(1, label="Page", precision=0, minimum=1, scale=1)
            refresh = gr.Button("Refresh", scale=1)
        page_note = gr.Markdown()
        table = gr.Dataframe(value=initial_runs, interactive=False, label="Runs in lab.db", wrap=True)
        with gr.Row():
            ids = gr.Textbox(label="Run id, or several on one task (12, 15) to merge", max_lines=1, scale=3)
            show = gr.Button("Open", variant="primary", scale=1)
            export = gr.Button("Export report", scale=1)
        report_file = gr.File(label="Report (self-contained HTML)", interactive=False)
        status = gr.Markdown(elem_classes="run-status")
        quality = gr.Dataframe(label="Quality: mean [95% interval], paired difference from the first system",
                               interactive=False, wrap=True, column_widths=results.QUALITY_WIDTHS)  # fmt: skip
        costs = gr.Dataframe(label="Cost per system", interactive=False, wrap=True)
        chart = gr.Plot(label="Scores with 95% intervals")
        per_example = gr.Dataframe(label="Per example", interactive=False, wrap=True, max_chars=300)
        # Kept for scripts: the newest page and one run's stored aggregate.
        newest = gr.Button(visible=False)
        run_id = gr.Number(label="Run id (stored aggregate only)", precision=0, visible=False)
        aggregate = gr.Dataframe(interactive=False, visible=False)
    newest.click(runs_table, outputs=table, api_name="list_runs")
    gr.on([search.submit, page.submit, refresh.click], search_runs, inputs=[search, page], outputs=[table, page_note],
          api_name="search_runs")  # fmt: skip
    run_id.submit(run_aggregate, inputs=run_id, outputs=aggregate, api_name="run_aggregate")
    opened = [status, quality, costs, chart, per_example]
    gr.on([show.click, ids.submit], open_runs, inputs=ids, outputs=opened, api_name="open_runs")
    export.click(export_report, inputs=ids, outputs=report_file, api_name="export_report")
    return [ids, *opened]
