""" "Run on task" for any tab: systems over a test split through the runner, with progress, Stop and downloads;
and the task and example pickers every tab shares."""

import time

import gradio as gr

from evals import showcase
from evals.runner import System, compare
from evals.tasks import Example, Task, TaskError, load_task, task_names, uploaded
from modules import inputs
from modules.models import Model
from modules.store import default_store
from modules.ui import charts, model_bar, results
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


def task_choices(shipped: list[str] | None = None) -> list[str]:
    """What a task dropdown offers: `shipped` (default: every shipped task), then this visitor's uploaded tasks."""
    return task_names() if shipped is None else [*shipped, *uploaded.list_tasks()]


def refresh_on_focus(dropdown: gr.Dropdown, shipped: list[str] | None = None) -> None:
    """A task dropdown's choices are made when the page is built, before this visitor uploaded anything: focusing
    it lists the tasks as they are now (unqueued: it must not wait behind a model job)."""

    def refresh():
        return gr.Dropdown(choices=task_choices(shipped))

    dropdown.focus(refresh, outputs=dropdown, queue=False, api_visibility="private")


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
    tokens = model.count_tokens(text)
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

    examples = min(limit, len(task.split("test")))
    first = f"Running {systems[0].name}… {estimate(model, systems, examples)}"
    progress(0, desc=first)
    yield first, gr.skip(), gr.skip(), gr.skip(), None, None
    started = time.perf_counter()
    try:
        with user_errors():
            for kind, value in run_in_background(job):
                if kind == "update":
                    done, total, message = value
                    left = (time.perf_counter() - started) / done * (total - done)  # from this run's own pace
                    line = f"Generating and scoring: {done}/{total} outputs ({message}) · about {left:.0f} s left"
                    progress(done / total, desc=line)
                    yield line, gr.skip(), gr.skip(), gr.skip(), None, None
                else:
                    yield render_run(value, model)
    finally:
        stop.set()  # a closed page: the runner stores the batch in hand and marks the run stopped


def reveal_tables(event, outputs: list) -> None:
    """After a run, show its tables and chart (hidden while empty; a separate step, so the API returns values)."""
    event.then(lambda: [gr.update(visible=True)] * 3, outputs=outputs[1:4], api_visibility="private")


def estimate(model: Model, systems: list[System], examples: int) -> str:
    """Roughly how long the run takes here: the tokens it may generate at the speed this model has shown so far
    (an upper bound: answers often stop before their limit). The one estimate: columns use it per system."""
    rate = model.measured_tokens_per_s
    if not rate:
        return "(time estimate after the first batch)"
    tokens = sum(
        examples * getattr(s.config, "max_new_tokens", 96) * getattr(s.config, "n", 1) for s in systems
    )  # self-consistency writes n paths
    return f"(at most ~{tokens / rate:.0f} s at the {rate:.0f} tokens/s measured here)"


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
        status = gr.Markdown(showcase.describe(label), elem_classes="stored-example")
        values = [results.aggregate_table(run), charts.scores(run, results.title(run, label["model"])), run.per_example]
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


def wire_common(events, flag, stop_buttons, model_state, model_info, stop_api_name: str) -> None:
    """What every tab wires the same way: the model bar refreshes after a run (the first run loads the model),
    and every Stop button sets the session's flag without queueing behind the job it stops."""
    for event in events:
        event.then(model_bar.refresh, inputs=model_state, outputs=model_info, api_visibility="private")
    first, *others = stop_buttons
    first.click(press, inputs=flag, queue=False, api_name=stop_api_name)
    for button in others:
        button.click(press, inputs=flag, queue=False, api_visibility="private")


def on_model(button: gr.Button, handler, inputs: list, outputs: list, api_name: str, flag: gr.State | None = None,
             scroll_to: str | None = None):  # fmt: skip
    """A click that uses the shared model: it queues with every other model job (one at a time), the button is
    disabled until its job ends (a second click cannot queue a duplicate), and the page scrolls to the results.
    With the session's Stop flag, the click is also noted at once (unqueued), so a Stop while the job waits
    cancels it."""
    if flag is not None:
        button.click(request, inputs=flag, queue=False, api_visibility="private")
    button.click(disabled, outputs=button, queue=False, api_visibility="private")
    if scroll_to:  # in the browser at once: the results' place comes into view when the job starts
        button.click(None, js=SCROLL_JS.replace("SELECTOR", scroll_to), queue=False, api_visibility="private")
    event = button.click(handler, inputs=inputs, outputs=outputs, api_name=api_name, concurrency_id="model",
                         concurrency_limit=1, scroll_to_output=True)  # fmt: skip
    event.then(enabled, outputs=button, api_visibility="private")
    return event


# The first visible element matching SELECTOR (hidden tabs hold the same classes) scrolled to the top of the view.
SCROLL_JS = (
    "() => { [...document.querySelectorAll('SELECTOR')].find(e => e.offsetParent)"
    "?.scrollIntoView({block: 'start', behavior: 'smooth'}); }"
)


def disabled() -> gr.Button:
    return gr.Button(interactive=False)


def enabled() -> gr.Button:
    return gr.Button(interactive=True)
