""" "Run on task" for any tab: systems over a test split through the runner, with progress, Stop and downloads."""

import gradio as gr

from evals import showcase
from evals.runner import Run, System, compare
from evals.tasks import Task
from modules.models import Model
from modules.store import default_store
from modules.ui import charts, results, tables
from modules.ui.estimates import estimate
from modules.ui.headline import stored_line
from modules.ui.job import run_job
from modules.ui.results import render_run
from modules.ui.stop_flag import StopFlag


def stream_run(outputs: list, task: Task, systems: list[System], limit: int, seed: int, model: Model, flag: StopFlag,
               progress, hooks: tuple[str, ...] = ()):  # fmt: skip
    """Generator of {output: value} for outputs (status, aggregate, chart, per-example, csv, json): the stored
    example is cleared when the run starts, each system's rows appear as it finishes, the stage, count and time
    left while it runs, everything at the end. Stop ends it after the batch in hand, which is stored and shown like
    a finished run (marked stopped); so does a closed page. hooks: score hooks every output gets (a reward model)."""
    store = default_store()
    status, aggregate, chart, per_example, csv_file, json_file = outputs

    def work(report, stop):
        return compare(task, systems, limit=limit, seed=seed, store=store, progress=report, stop=stop,
                       on_system=report, hooks=hooks)  # fmt: skip

    def on_update(event):
        if isinstance(event, Run):  # a system finished: its rows, before the run ends
            figure = charts.scores(event, results.title(event, model.label))
            shown = (results.aggregate_table(event), figure, tables.rounded(event.per_example))
            return {output: gr.update(value=value, visible=True) for output, value in zip(outputs[1:4], shown)}
        progress(event.fraction, desc=event.stage)
        return None  # run_job shows the stage, the count and the time left in the status

    def on_result(run):
        return dict(zip(outputs, render_run(run, model)))

    examples = min(limit, len(task.split("test")))
    first = f"Running {len(systems)} systems on {examples} examples… {estimate(model, systems, examples)}"
    progress(0, desc=first)
    cleared = {output: gr.update(value=None, visible=False) for output in (aggregate, chart, per_example)}
    yield from run_job(flag, work, on_update, on_result, {status: first, csv_file: None, json_file: None} | cleared,
                       status=status)  # fmt: skip


def reveal_tables(event, outputs: list) -> None:
    """After a run, show its tables and chart (hidden while empty; a separate step, so the API returns values)."""
    event.then(lambda: [gr.update(visible=True)] * 3, outputs=outputs[1:4], api_visibility="private")


def build_outputs(limit_max: int, limit_default: int, tab: str | None = None):
    """The widgets of a "Run on task" section; returns (limit, run button, stop button, outputs list). They open
    with the tab's stored example run when there is one (evals/examples/<tab>.json), else the tables are hidden
    until a run fills them (an empty table only shows "1 2 3" headers)."""
    stored = showcase.load(tab) if tab else None
    with gr.Row():
        limit = gr.Slider(1, limit_max, value=min(limit_default, limit_max), step=1, label="Examples (limit)")
        run_button = gr.Button("Run on task", variant="primary")
        stop_button = gr.Button("Stop", variant="stop")
    if stored:
        run, label = stored
        shown = {"visible": True}
        status = gr.Markdown(f"{stored_line(run, label)}\n\n{showcase.describe(label)}", elem_classes="stored-example")
        values = [
            results.aggregate_table(run),
            charts.scores(run, results.title(run, label["model"])),
            tables.rounded(run.per_example),
        ]
    else:
        shown, values = {"visible": False}, [None, None, None]
        status = gr.Markdown()
    aggregate = gr.Dataframe(values[0], label="Mean [95% interval] per system and score", interactive=False, **shown)
    chart = gr.Plot(values[1], label="Scores with 95% intervals", **shown)
    per_example = gr.Dataframe(values[2], label="Per example", interactive=False, wrap=True, max_chars=300,
                               elem_classes="side-by-side", **shown)  # fmt: skip
    with gr.Row():
        csv_file = gr.DownloadButton("Download CSV", value=None)
        json_file = gr.DownloadButton("Download JSON", value=None)
    return limit, run_button, stop_button, [status, aggregate, chart, per_example, csv_file, json_file]
