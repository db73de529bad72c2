"""The task and example pickers every tab shares: choices, the picked or typed example, and whether it fits."""

import gradio as gr

from evals.tasks import Example, Task, TaskError, load_task, task_names, uploaded
from modules import inputs
from modules.models import Model


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
