"""The one way a tab runs a long job: not at all if Stopped in the queue, in the background, its errors shown, and
the Stop flag set however it ends."""

from collections.abc import Callable, Iterator
from threading import Event
from typing import Any

from modules.ui.background import run_in_background
from modules.ui.errors import user_errors
from modules.ui.stop_flag import StopFlag, begin

Work = Callable[[Callable[[Any], None], Event], Any]  # work(report, stop) -> result; runs in a worker thread
Show = Callable[[Any], Any]  # a report or the result -> what the handler yields ({component: value}), None: nothing


def run_job(flag: StopFlag, work: Work, on_update: Show, on_result: Show, first=None, latest_only: bool = False
            ) -> Iterator:  # fmt: skip
    """Generator for a handler to `yield from`. If Stop was pressed while the job waited in the queue nothing runs;
    else `first` (if any) is yielded, work(report, stop) runs in a worker thread, and each report and the result are
    shown through on_update and on_result (on the handler's thread, before Stop is set). The job's errors reach the
    page as the lab's messages. At the end (done, failed, page closed, event cancelled) the flag is set: a worker
    still running stops at its next check. latest_only: reports a newer one replaced are skipped."""
    if not begin(flag):
        return
    if first is not None:
        yield first
    stop = flag.event
    try:
        with user_errors():
            for kind, value in run_in_background(lambda report: work(report, stop), latest_only):
                shown = on_update(value) if kind == "update" else on_result(value)
                if shown is not None:
                    yield shown
    finally:
        stop.set()
