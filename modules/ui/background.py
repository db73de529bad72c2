"""Run a long job in a worker thread and hand its progress reports to a Gradio generator as they arrive."""

import contextvars
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

DONE = object()
JOB_THREAD = "lab-job"  # named, so a server shutting down (or a test) can wait for the jobs still running


def run_in_background(job: Callable[[Callable[[Any], None]], Any], latest_only: bool = False,
                      tick: float | None = None) -> Iterator[tuple]:  # fmt: skip
    """Yields ("update", report) for each report the job makes, then ("result", value).

    The job's exception is re-raised here, in the generator's thread, so the page shows it. latest_only skips
    reports that a newer one already replaced (live text: the page only needs the newest). tick: after that many
    seconds without a report, ("tick", seconds since the start) comes instead: a handler that yields then lets
    Gradio see a closed page or a cancel (it acts only between yields) and lets the page show time passing.
    """
    reports, outcome = queue.Queue(), {}

    def work():
        try:
            outcome["value"] = job(reports.put)
        except Exception as error:  # handed to the generator below, never lost in the thread
            outcome["error"] = error
        finally:
            reports.put(DONE)

    # The job runs in a copy of this context: it sees the caller's browser session (modules/paths.py).
    worker = threading.Thread(target=contextvars.copy_context().run, args=(work,), daemon=True, name=JOB_THREAD)
    worker.start()
    started = time.monotonic()
    while (report := _next(reports, tick)) is not DONE:
        if report is TICK:
            yield "tick", time.monotonic() - started
            continue
        while latest_only and not reports.empty():
            newer = reports.get()
            if newer is DONE:
                reports.put(DONE)
                break
            report = newer
        yield "update", report
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    yield "result", outcome["value"]


TICK = object()


def _next(reports: queue.Queue, tick: float | None):
    """The next report, or TICK when none came within `tick` seconds."""
    try:
        return reports.get(timeout=tick)
    except queue.Empty:
        return TICK
