"""What every tab wires the same way: model jobs one at a time with their button disabled, Stop buttons unqueued,
and the model bar refreshed after a job."""

import gradio as gr

from modules.ui import model_bar, split_run
from modules.ui.stop_flag import press, request, stopping


def wire_common(events, flag, stop_buttons, model_state, model_info, stop_api_name: str) -> None:
    """What every tab wires the same way: the model bar refreshes after a run (the first run loads the model),
    and every Stop button sets the session's flag without queueing behind the job it stops, says "Stopping…" at
    once (the job reaches its next check within seconds), and says "Stop" again when the job has ended."""
    for event in events:
        event.then(model_bar.refresh, inputs=model_state, outputs=model_info, api_visibility="private")
        event.then(lambda: {button: gr.Button("Stop") for button in stop_buttons}, outputs=list(stop_buttons),
                   api_visibility="private")  # fmt: skip
    first, *others = stop_buttons
    first.click(press, inputs=flag, queue=False, api_name=stop_api_name)
    for button in others:
        button.click(press, inputs=flag, queue=False, api_visibility="private")
    for button in stop_buttons:
        button.click(stopping, inputs=flag, outputs=button, queue=False, api_visibility="private")


def on_model(button: gr.Button, handler, inputs: list, outputs: list, api_name: str, flag: gr.State | None = None,
             scroll_to: str | None = None, concurrency: tuple[str, int] = ("model", 1),
             settings: dict | None = None):  # fmt: skip
    """A click that uses the shared model: it queues with every other model job (one at a time), the button is
    disabled until its job ends (a second click cannot queue a duplicate), and the page scrolls to the results.
    With the session's Stop flag, the click is also noted at once (unqueued), so a Stop while the job waits
    cancels it. concurrency: (queue id, jobs at once); a job with a queue of its own says so. settings: controls
    the handler takes by name (`**settings`); the API lists them after `inputs`, in the dict's order."""
    if flag is not None:
        button.click(request, inputs=flag, queue=False, api_visibility="private")
    button.click(disabled, outputs=button, queue=False, api_visibility="private")
    if scroll_to:  # in the browser at once: the results' place comes into view when the job starts
        button.click(None, js=SCROLL_JS.replace("SELECTOR", scroll_to), queue=False, api_visibility="private")
    event = button.click(handler, inputs=inputs, inputs_kwargs=settings, outputs=outputs, api_name=api_name,
                         concurrency_id=concurrency[0], concurrency_limit=concurrency[1],
                         scroll_to_output=True)  # fmt: skip
    event.then(enabled, outputs=button, api_visibility="private")
    # Gradio 6's page runs .then only after a success; after an error (a bad setting) the button must come back too.
    event.failure(enabled, outputs=button, api_visibility="private")
    return event


def example_and_task(tab: str, flag, example_job: tuple, task_job: tuple, stop_buttons, model_state, model_info,
                     scroll_to: str) -> None:  # fmt: skip
    """The text tabs' two jobs, each (button, handler, inputs, settings, outputs): one example (the page scrolls to
    its columns) and the task's test split (stored; its tables shown when filled), both Stoppable. API names:
    {tab}_run, {tab}_run_task, {tab}_stop."""
    button, handler, inputs, settings, outputs = example_job
    example_event = on_model(button, handler, inputs, outputs, f"{tab}_run", flag, scroll_to, settings=settings)
    button, handler, inputs, settings, outputs = task_job
    task_event = on_model(button, handler, inputs, outputs, f"{tab}_run_task", flag, settings=settings)
    split_run.reveal_tables(task_event, outputs)
    wire_common((example_event, task_event), flag, stop_buttons, model_state, model_info, f"{tab}_stop")


# The first visible element matching SELECTOR (hidden tabs hold the same classes) scrolled to the top of the view.
SCROLL_JS = (
    "() => { [...document.querySelectorAll('SELECTOR')].find(e => e.offsetParent)"
    "?.scrollIntoView({block: 'start', behavior: 'smooth'}); }"
)


def disabled() -> gr.Button:
    return gr.Button(interactive=False)


def enabled() -> gr.Button:
    return gr.Button(interactive=True)
