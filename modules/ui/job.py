"""The one way a tab runs a long job: not at all if Stopped in the queue, in the background, its errors shown, and
the Stop flag set however it ends."""

import time
from collections.abc import Callable, Iterator
from threading import Event
from typing import Any

import gradio as gr

from modules.progress import Pace, Progress
from modules.ui.background import run_in_background
from modules.ui.errors import user_errors
from modules.ui.stop_flag import STOPPING, StopFlag, begin, queued_event

Work = Callable[[Callable[[Any], None], Event], Any]  # work(report, stop) -> result; runs in a worker thread
Show = Callable[[Any], Any]  # a report or the result -> what the handler yields ({component: value}), None: nothing
TICK_S = 1.0  # a closed page or a cancel is seen within a second (Gradio acts only between yields); the clock moves
STOPPING_LINE = f"⏹ **{STOPPING}** the step in hand ends first; what finished is kept."


def run_job(flag: StopFlag, work: Work, on_update: Show, on_result: Show, first=None, latest_only: bool = False,
            status=None, every: float = 0.0) -> Iterator:  # fmt: skip
    """Generator for a handler to `yield from`. If Stop was pressed while the job waited in the queue nothing runs;
    else `first` (if any) is yielded, work(report, stop) runs in a worker thread, and each report and the result are
    shown through on_update and on_result (on the handler's thread, before Stop is set). The job's errors reach the
    page as the lab's messages. At the end (done, failed, page closed, event cancelled) the flag is set: a worker
    still running stops at its next check. latest_only: reports a newer one replaced are skipped.

    While it runs, a yield at least every TICK_S: a page that is gone (or a cancelled event) sets Stop within a
    second. With `status` (a component), each Progress report and each tick show there the stage, done / total,
    time so far and time left (Pace: at the job's own pace), or "Stopping…"."""
    if not begin(flag):
        return
    flag.running, event, line = True, queued_event(), _StatusLine(status, Pace(), first)
    last, ticked, held, shown_at = first, False, None, 0.0
    if first is not None:
        yield first
    stop = flag.event
    try:
        with user_errors():
            for kind, value in run_in_background(lambda report: work(report, stop), latest_only, TICK_S):
                if kind == "tick":
                    if event is not None and (not event.alive or getattr(event, "closed", False)):
                        stop.set()  # the page is gone or the event was cancelled: nobody waits for the rest
                    if held is not None:  # what waited for its turn goes now
                        yield held
                        last, held, shown_at = held, None, time.monotonic()
                        continue
                    yield line.tick(stop.is_set())
                    ticked = True
                    continue
                if kind == "update":
                    shown = line.update(value, on_update(value), stop.is_set())
                else:
                    shown = line.update(value, on_result(value))
                shown = _merged(held, shown)
                if shown is not None and kind == "update" and time.monotonic() - shown_at < every:
                    held = shown
                    continue
                if shown is not None:
                    yield shown
                    last, ticked, held, shown_at = shown, False, None, time.monotonic()
            if ticked and last is not None:
                yield last  # a client reads the last yield as the result: never a tick's
    finally:
        flag.running = False
        stop.set()


def _merged(held, shown):
    """A held yield and a newer one as one: the newer values win; a non-dict (a whole-output value) replaces."""
    if held is None or shown is None:
        return shown if shown is not None else held
    return held | shown if isinstance(held, dict) and isinstance(shown, dict) else shown


class _StatusLine:
    """What the job's status component says while it runs: a Progress report's stage, count, time so far and time
    left (Pace), or the tab's own last line with the time so far; "Stopping…" once Stop is set. No component: a
    tick shows nothing new (but is a yield all the same, so Gradio can act)."""

    def __init__(self, component, pace: Pace, first):
        self.component, self.pace = component, pace
        said = first.get(component) if isinstance(first, dict) else None
        self.text = said if isinstance(said, str) else "Starting…"
        self.progress: Progress | None = None

    def update(self, value, shown, stopping: bool = False):
        """What to show for a report (or, stopping False, the result): the tab's own status line, else the
        Progress's; "Stopping…" instead while a stopped job sends its last reports."""
        if self.component is None:
            return shown
        if shown and isinstance(shown.get(self.component), str):  # the tab said it: kept, time so far on ticks
            self.text, self.progress = shown[self.component], None
        elif isinstance(value, Progress):
            self.progress = value
            shown = (shown or {}) | {self.component: self.pace.line(value)}
        return shown | {self.component: STOPPING_LINE} if stopping and shown else shown

    def tick(self, stopping: bool):
        if self.component is None:
            return gr.skip()
        if stopping:
            return {self.component: STOPPING_LINE}
        if self.progress is not None:
            return {self.component: self.pace.line(self.progress)}
        return {self.component: self.pace.line(Progress(self.text))}
