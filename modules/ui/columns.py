"""Side-by-side columns on one example: each system runs in turn, its text streams in token by token, and its
column is then scored by the runner."""

from collections.abc import Callable

from evals.runner import System, score
from evals.tasks import Example, Task
from modules.techniques import TECHNIQUES, Output
from modules.ui.estimates import estimate
from modules.ui.job import run_job
from modules.ui.stop_flag import StopFlag

# render(system, output, scores, stopped) -> the column's cells; stopped: cut by Stop, so scores is empty
Render = Callable[[System, Output, dict, bool], list]
STOPPED = "⏹ **Stopped**: partial output, not scored."
GENERATING = "_generating…_"


def stream_columns(cells: list, task: Task, example: Example, systems: list[System], flag: StopFlag, render: Render,
                   progress, live: int):  # fmt: skip
    """Generator of {cell: value}; `cells` holds every column's cells in turn, the same number each. While a system
    generates, its cell `live` shows the text so far and the others say so; a column not yet run keeps what it
    showed. Stop ends the generation in progress within one decoding step, and no later system starts."""
    width = len(cells) // len(systems)
    shown = {}  # what each cell shows; every report is a copy, so one a newer report replaced may be skipped

    def work(report, stop):
        for index, system in enumerate(systems):
            if stop.is_set():
                break
            took = estimate(system.model, [system], 1)
            progress(index / len(systems), desc=f"Generating {system.name} ({index + 1}/{len(systems)}) {took}")
            column = cells[index * width : (index + 1) * width]

            def first_row(texts: dict[int, str], column=column) -> None:
                if texts:  # the column shows row 0 (self-consistency: path 1)
                    text = texts[min(texts)]
                    shown.update({cell: text if i == live else GENERATING for i, cell in enumerate(column)})
                    report(dict(shown))

            technique = TECHNIQUES[system.technique]
            (output,) = technique.run(system.model, task, [example], system.config, stop, first_row)
            # Stopped mid-generation: the partial text is shown, but not scored as if it were complete.
            stopped = stop.is_set()
            (scores,) = [{}] if stopped else score(task, [example], [output])
            shown.update(zip(column, render(system, output, scores, stopped)))
            report(dict(shown))

    yield from run_job(flag, work, on_update=lambda snapshot: snapshot, on_result=lambda _: None, latest_only=True)
