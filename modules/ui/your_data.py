"""The "your own data" panel: a CSV or JSONL of input/reference rows becomes a task every tab can use; delete it."""

from pathlib import Path

import gradio as gr

from evals.tasks import Task, uploaded
from modules import inputs
from modules.ui import pickers
from modules.ui.errors import user_errors

HELP = (
    "A **.csv** (with a header line) or **.jsonl** file with the columns `input` and `reference`; optional "
    "`answer` (a number on every row makes it a number task, scored by numeric accuracy too), `id` (unique) and "
    "`split` (`train` / `test`, else a seeded split puts the test share in test). A **preference file** has "
    "`prompt` (or `input`), `chosen` and `rejected` answers and optionally `property` (helpful / honest / harmless) "
    "and `domain`: its pairs train DPO and reward models; the chosen answer is its reference. "
    f"At most {uploaded.MAX_BYTES / 2**20:g} MB and {uploaded.MAX_ROWS:,} rows; UTF-8. Problems are named by row "
    "(row N is line N of the file) and nothing is stored until the whole file is good. Your tasks are yours alone "
    "(per session on a shared Space); pick one in any tab's task list, or type its name."
)


def add_task(path, name, split_column, test_share):
    """Store the upload as a task and report it; Gradio's copy of the file is deleted either way (the task keeps
    its own checked copy)."""
    try:
        with user_errors():
            name = inputs.text(name, "The task name", inputs.MAX_SHORT_CHARS)
            uploaded.task_dir(name)  # the name is checked before the file is read
            share = inputs.real(test_share, "The test share", 0.01, 0.99)
            column = inputs.text(split_column, "The split column", inputs.MAX_SHORT_CHARS)
            if not path:
                raise ValueError("No file chosen: pick a .csv or .jsonl file with input and reference columns.")
            task = uploaded.add_task(name, Path(path), split_column=column or None, test_share=share)
    finally:
        if path:
            Path(path).unlink(missing_ok=True)
    return report(task), gr.Dropdown(choices=uploaded.list_tasks(), value=task.name)


def report(task: Task) -> str:
    train, test = len(task.split("train")), len(task.split("test"))
    return (
        f"✅ Added task `{task.name}`: {len(task.examples):,} rows ({train:,} train, {test:,} test), answer type "
        f"**{task.answer_type}**, scored by {', '.join(task.metrics)}. Pick it in any tab's task list."
    )


def delete_task(name):
    with user_errors():
        name = inputs.text(name, "The task name", inputs.MAX_SHORT_CHARS)
        uploaded.delete_task(name)
    return f"Deleted task `{name}`.", gr.Dropdown(choices=uploaded.list_tasks(), value=None)


def build() -> None:
    """The panel; a tab places it (inside an accordion)."""
    gr.Markdown(HELP)
    with gr.Row():
        file = gr.File(label="CSV or JSONL file", file_types=list(uploaded.SUFFIXES), type="filepath")
        with gr.Column():
            name = gr.Textbox("my-task", label="Task name (1-40 letters, digits, '-', '_')", max_lines=1)
            split_column = gr.Textbox(label="Split column (optional; default: 'split' when there is one)", max_lines=1)
            test_share = gr.Number(0.3, label="Test share (seeded split, 0.01-0.99)")
    add_button = gr.Button("Add task", variant="primary")
    message = gr.Markdown()
    with gr.Row():
        yours = gr.Dropdown(uploaded.list_tasks(), value=None, label="Your tasks", allow_custom_value=True)
        delete_button = gr.Button("Delete task", variant="stop")
    add_button.click(add_task, inputs=[file, name, split_column, test_share], outputs=[message, yours],
                     api_name="task_upload")  # fmt: skip
    delete_button.click(delete_task, inputs=yours, outputs=[message, yours], api_name="task_delete")
    pickers.refresh_on_focus(yours, shipped=[])  # only the uploads: shipped tasks cannot be deleted
