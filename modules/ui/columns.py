"""Side-by-side columns on one example: each system runs in turn, its text streams in token by token, and its
column is then scored by the runner."""

from collections.abc import Callable

import gradio as gr

from evals.runner import System, score
from evals.tasks import Example, Task
from modules.techniques import TECHNIQUES, Output
from modules.ui.background import run_in_background
from modules.ui.errors import user_errors
from modules.ui.stop_flag import StopFlag, begin
from modules.ui.task_run import estimate

# render(system, output, scores, stopped) -> the column's cells; stopped: cut by Stop, so scores is empty
Render = Callable[[System, Output, dict, bool], list]
STOPPED = "⏹ **Stopped**: partial output, not scored."
GENERATING = "_generating…_"


def stream_columns(task: Task, example: Example, systems: list[System], flag: StopFlag, render: Render, progress,
                   width: int, live: int):  # fmt: skip
    """Generator of every column's cells (`width` per column): while a system generates, its cell `live` shows
    the text so far and the others say so; a column not yet run keeps what it showed (gr.skip). Stop ends the
    generation in progress within one decoding step, and no later system starts."""
    if not begin(flag):
        return
    values: list = [gr.skip()] * (width * len(systems))
    for index, system in enumerate(systems):
        if flag.event.is_set():
            break
        took = estimate(system.model, [system], 1)
        progress(index / len(systems), desc=f"Generating {system.name} ({index + 1}/{len(systems)}) {took}")
        cells = slice(index * width, (index + 1) * width)

        def job(report, system=system):
            def first_row(texts: dict[int, str]) -> None:  # the column shows row 0 (self-consistency: path 1)
                if texts:
                    report(texts[min(texts)])

            technique = TECHNIQUES[system.technique]
            return technique.run(system.model, task, [example], system.config, flag.event, first_row)

        with user_errors():
            for kind, value in run_in_background(job, latest_only=True):
                if kind == "update":
                    values[cells] = [value if cell == live else GENERATING for cell in range(width)]
                    yield values
                else:
                    (output,) = value
        # Stopped mid-generation: the partial text is shown, but not scored as if it were complete.
        stopped = flag.event.is_set()
        (scores,) = [{}] if stopped else score(task, [example], [output])
        values[cells] = list(render(system, output, scores, stopped))
        yield values
