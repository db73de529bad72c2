"""Side-by-side columns on one example: each system runs in turn and its column appears, scored by the runner."""

from collections.abc import Callable

import gradio as gr

from evals.runner import System, score
from evals.tasks import Example, Task
from modules.techniques import TECHNIQUES, Output
from modules.ui.errors import user_errors
from modules.ui.stop_flag import StopFlag, begin

# render(system, output, scores, stopped) -> the column's cells; stopped: cut by Stop, so scores is empty
Render = Callable[[System, Output, dict, bool], list]
STOPPED = "⏹ **Stopped**: partial output, not scored."


def stream_columns(task: Task, example: Example, systems: list[System], flag: StopFlag, render: Render, progress):
    """Generator of every column's cells; a column not yet run keeps what it showed (gr.skip). Stop ends the
    generation in progress within one decoding step, and no later system starts."""
    if not begin(flag):
        return
    width = None
    values: list = []
    for index, system in enumerate(systems):
        if flag.event.is_set():
            break
        progress(index / len(systems), desc=f"{system.name} ({index + 1}/{len(systems)})…")
        with user_errors():
            (output,) = TECHNIQUES[system.technique].run(system.model, task, [example], system.config, flag.event)
        # Stopped mid-generation: the partial text is shown, but not scored as if it were complete.
        stopped = flag.event.is_set()
        (scores,) = [{}] if stopped else score(task, [example], [output])
        cells = list(render(system, output, scores, stopped))
        if width is None:
            width = len(cells)
            values = [gr.skip()] * (width * len(systems))
        values[index * width : (index + 1) * width] = cells
        yield values
