""" "Run on task" for any tab: systems over a test split through the runner, with progress, Stop and downloads."""

import gradio as gr

from evals.runner import Run, System, compare
from evals.tasks import Task, TaskError
from modules.models import Model
from modules.paths import lab_home
from modules.store import Store
from modules.ui import model_bar, results
from modules.ui.background import run_in_background
from modules.ui.errors import user_errors
from modules.ui.stop_flag import StopFlag, press


def stream_run(task: Task, systems: list[System], limit: int, seed: int, model: Model, flag: StopFlag, progress):
    """Generator of (status, aggregate, chart, per-example, csv, json); Stop ends it after the batch in hand,
    which is stored and shown like a finished run (marked stopped)."""
    stop = flag.event
    stop.clear()
    store = Store(lab_home() / "lab.db")

    def job(report):
        def progress_report(done, total, message):
            report((done, total, message))

        return compare(task, systems, limit=limit, seed=seed, store=store, progress=progress_report, stop=stop)

    progress(0, desc=f"Running {systems[0].name}…")
    try:
        with user_errors():
            for kind, value in run_in_background(job):
                if kind == "update":
                    done, total, message = value
                    progress(done / total, desc=message)
                    yield f"Running… {done}/{total} outputs ({message})", gr.skip(), gr.skip(), gr.skip(), None, None
                else:
                    yield render_run(value, model)
    finally:
        stop.set()  # a closed page: the runner stores the batch in hand and marks the run stopped


def render_run(run: Run, model: Model) -> tuple:
    n = run.per_example.example_id.nunique() if not run.per_example.empty else 0
    status = (
        f"**Run {run.id}** ({run.status}) · task `{run.task}`, split {run.split}, {n} examples, seed {run.seed} · "
        f"{model.label} · means with 95% bootstrap intervals (2000 resamples)"
    )
    title = f"{run.task} ({run.split}, n={n}) on {model.label}"
    csv_path, json_path = results.write_downloads(run, model.info())
    return status, results.aggregate_table(run), results.figure(run, title), run.per_example, csv_path, json_path


def build_outputs(limit_max: int, limit_default: int):
    """The widgets of a "Run on task" section; returns (limit, run button, stop button, outputs list)."""
    with gr.Row():
        limit = gr.Slider(1, limit_max, value=min(limit_default, limit_max), step=1, label="Examples (limit)")
        run_button = gr.Button("Run on task", variant="primary")
        stop_button = gr.Button("Stop", variant="stop")
    status = gr.Markdown()
    aggregate = gr.Dataframe(label="Mean [95% interval] per system and score", interactive=False)
    chart = gr.Plot(label="Scores with 95% intervals")
    per_example = gr.Dataframe(label="Per example", interactive=False, wrap=True)
    with gr.Row():
        csv_file = gr.DownloadButton("Download CSV", value=None)
        json_file = gr.DownloadButton("Download JSON", value=None)
    return limit, run_button, stop_button, [status, aggregate, chart, per_example, csv_file, json_file]


def examples_update(example_choices):
    """A task-dropdown handler: the new task's test examples, or a warning when it cannot load (offline)."""

    def update(task_name: str):
        try:
            choices = example_choices(task_name)
        except TaskError as error:
            gr.Warning(str(error))
            return gr.update(choices=[], value=None)
        return gr.update(choices=choices, value=choices[0][1])

    return update


def wire_common(events, flag, stop_button, stop_task_button, model_state, model_info, stop_api_name: str) -> None:
    """What every tab wires the same way: the model bar refreshes after a run (the first run loads the model),
    and both Stop buttons set the session's flag without queueing behind the job they stop."""
    for event in events:
        event.then(model_bar.refresh, inputs=model_state, outputs=model_info, api_visibility="private")
    stop_button.click(press, inputs=flag, queue=False, api_name=stop_api_name)
    stop_task_button.click(press, inputs=flag, queue=False, api_visibility="private")
