"""Run a long job in a worker thread and hand its progress reports to a Gradio generator as they arrive."""

import contextvars
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

DONE = object()
JOB_THREAD = "lab-job"  # named, so a server shutting down (or a test) can wait for the jobs still running


def run_in_background(job: Callable[[Callable[[Any], None]], Any], latest_only: bool = False) -> Iterator[tuple]:
    """Yields ("update", report) for each report the job makes, then ("result", value).

    The job's exception is re-raised here, in the generator's thread, so the page shows it. latest_only skips
    reports that a newer one already replaced (live text: the page only needs the newest).
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
    while (report := reports.get()) is not DONE:
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
