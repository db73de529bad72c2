"""A per-session Stop flag: the Stop button sets it, the running job sees it and ends cleanly with what it has;
a job stopped while it still waited in the queue does not start at all."""

import threading
import time

import gradio as gr

STOPPED_IN_QUEUE = "Stopped while it waited in the queue: nothing ran."


class StopFlag:
    """Held in a gr.State; Gradio deep-copies the initial value per session, so each session gets its own event."""

    def __init__(self):
        self.event = threading.Event()
        self.requested = 0.0  # monotonic time of the last Run click (set at once, before the job is queued)
        self.pressed = 0.0  # monotonic time of the last Stop press

    def __deepcopy__(self, memo) -> "StopFlag":
        return StopFlag()  # an Event holds a lock, which cannot be copied; a fresh flag is what a session needs


def press(flag: StopFlag) -> None:
    flag.pressed = time.monotonic()
    flag.event.set()


def request(flag: StopFlag) -> None:
    """On a Run click, unqueued: remembers when the job was asked for, so a Stop while it waits can cancel it."""
    flag.requested = time.monotonic()


def begin(flag: StopFlag) -> bool:
    """When a job starts running: False (with a notice) if Stop was pressed after its Run click, i.e. while it
    waited in the queue; else the flag is cleared for this job. An API call without the click just runs."""
    requested, flag.requested = flag.requested, 0.0
    if requested and flag.pressed > requested:
        gr.Warning(STOPPED_IN_QUEUE)
        return False
    flag.event.clear()
    return True
