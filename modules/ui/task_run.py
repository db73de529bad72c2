""" "Run on task" for any tab: systems over a test split through the runner, with progress, Stop and downloads;
and the task and example pickers every tab shares."""

import gradio as gr

from evals.runner import System, compare
from evals.tasks import Example, Task, TaskError, load_task
from modules import inputs
from modules.models import Model
from modules.store import default_store
from modules.ui import model_bar
from modules.ui.background import run_in_background
from modules.ui.errors import user_errors
from modules.ui.results import render_run
from modules.ui.stop_flag import StopFlag, begin, press, request


def example_choices(task_name: str, width: int = 80) -> list[tuple[str, str]]:
    """(label, id) for the test split: the id and the start of the input, so people can tell them apart."""

    def label(text: str) -> str:
        text = text.replace("\n", " ")
        return text if len(text) <= width else f"{text[:width]}…"

    return [(f"{e.id}: {label(e.input)}", e.id) for e in load_task(task_name).split("test")]


def pick_example(task: Task, example_id, typed, what: str = "input", max_chars: int = inputs.MAX_TEXT_CHARS,
                 reference="", answer: str | None = None) -> Example:  # fmt: skip
    """The typed text when there is one (it overrides the pick, with its optional reference or answer), else the
    picked test example; empty or over-long text gets a message that says what is allowed."""
    text = inputs.text(typed, f"The {what}", max_chars)
    if text:
        reference = inputs.text(reference, "The reference", max_chars)
        return Example(id="custom", input=text, reference=reference, answer=answer, split="custom")
    if not example_id:
        raise ValueError(f"The {what} is empty: pick an example from the test split or type your own.")
    return task.example(inputs.text(example_id, "The example id", inputs.MAX_SHORT_CHARS))


def check_fits(model: Model, text: str, reserved: int, what: str = "input") -> None:
    """Refuse text that alone would not fit the model's context with `reserved` tokens left for the answer (it
    would be cut from the left, so the model would not see its start)."""
    tokens = len(model.tokenizer(text, add_special_tokens=False)["input_ids"])
    room = model.context_length - reserved
    if tokens > room:
        raise ValueError(
            f"The {what} is {tokens:,} tokens; with {reserved} tokens kept for the answer this model "
            f"({model.context_length:,}-token context) can take {room:,}. Shorten it."
        )


def examples_update(width: int = 80):
    """A task-dropdown handler: the new task's test examples, or a warning when it cannot load (offline)."""

    def update(task_name: str):
        try:
            choices = example_choices(task_name, width)
        except TaskError as error:
            gr.Warning(str(error))
            return gr.update(choices=[], value=None)
        return gr.update(choices=choices, value=choices[0][1])

    return update


def stream_run(task: Task, systems: list[System], limit: int, seed: int, model: Model, flag: StopFlag, progress):
    """Generator of (status, aggregate, chart, per-example, csv, json); Stop ends it after the batch in hand,
    which is stored and shown like a finished run (marked stopped)."""
    stop = flag.event
    if not begin(flag):
        return
    store = default_store()

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


def wire_common(events, flag, stop_buttons, model_state, model_info, stop_api_name: str) -> None:
    """What every tab wires the same way: the model bar refreshes after a run (the first run loads the model),
    and every Stop button sets the session's flag without queueing behind the job it stops."""
    for event in events:
        event.then(model_bar.refresh, inputs=model_state, outputs=model_info, api_visibility="private")
    first, *others = stop_buttons
    first.click(press, inputs=flag, queue=False, api_name=stop_api_name)
    for button in others:
        button.click(press, inputs=flag, queue=False, api_visibility="private")


def on_model(button: gr.Button, handler, inputs: list, outputs: list, api_name: str, flag: gr.State | None = None):
    """A click that uses the shared model: it queues with every other model job (one at a time), the button is
    disabled until its job ends (a second click cannot queue a duplicate), and the page scrolls to the results.
    With the session's Stop flag, the click is also noted at once (unqueued), so a Stop while the job waits
    cancels it."""
    if flag is not None:
        button.click(request, inputs=flag, queue=False, api_visibility="private")
    button.click(disabled, outputs=button, queue=False, api_visibility="private")
    event = button.click(handler, inputs=inputs, outputs=outputs, api_name=api_name, concurrency_id="model",
                         concurrency_limit=1, scroll_to_output=True)  # fmt: skip
    event.then(enabled, outputs=button, api_visibility="private")
    return event


def disabled() -> gr.Button:
    return gr.Button(interactive=False)


def enabled() -> gr.Button:
    return gr.Button(interactive=True)
