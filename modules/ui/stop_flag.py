"""A per-session Stop flag: the Stop button sets it, the running job sees it and ends cleanly with what it has;
a job stopped while it still waited in the queue does not start at all."""

import threading
import time

import gradio as gr
from gradio.context import LocalContext

STOPPED_IN_QUEUE = "Stopped while it waited in the queue: nothing ran."
STOPPING = "Stopping…"


class StopFlag:
    """Held in a gr.State; Gradio deep-copies the initial value per session, so each session gets its own event."""

    def __init__(self):
        self.event = threading.Event()
        self.requested = 0.0  # monotonic time of the last Run click (set at once, before the job is queued)
        self.pressed = 0.0  # monotonic time of the last Stop press
        self.running = False  # a job of this session runs now (job.run_job sets it)

    def __deepcopy__(self, memo) -> "StopFlag":
        return StopFlag()  # an Event holds a lock, which cannot be copied; a fresh flag is what a session needs


def press(flag: StopFlag) -> None:
    flag.pressed = time.monotonic()
    flag.event.set()


def stopping(flag: StopFlag):
    """On a Stop press, unqueued: the Stop buttons say "Stopping…" at once while a job runs or waits (the job may
    need a few seconds to reach its next check); wiring puts "Stop" back when the job ends. Nothing to stop: as is."""
    return gr.Button(STOPPING) if flag.running or flag.requested else gr.skip()


def request(flag: StopFlag) -> None:
    """On a Run click, unqueued: remembers when the job was asked for, so a Stop while it waits can cancel it."""
    flag.requested = time.monotonic()


def begin(flag: StopFlag) -> bool:
    """When a job starts running: False (with a notice) if Stop was pressed after the job was asked for, i.e. while
    it waited in the queue; else the flag is cleared for this job. "Asked for": the Run click in a browser, or the
    moment the event joined Gradio's queue (an API client calls the run endpoint directly: no click), whichever is
    first. So a session's Stop ends its running job and cancels its waiting ones."""
    requested, flag.requested = flag.requested, 0.0
    asked = min((t for t in (requested, _enqueued()) if t), default=0.0)
    if asked and flag.pressed > asked:
        gr.Warning(STOPPED_IN_QUEUE)
        return False
    flag.event.clear()
    return True


def _enqueued() -> float:
    """time.monotonic() when the event now running joined Gradio's queue, 0.0 outside a queued event."""
    return float(getattr(queued_event(), "enqueue_time", 0.0) or 0.0)


def queued_event():
    """The Gradio queue's event now running, None outside one: its `enqueue_time` (the monotonic clock) and `alive`
    (False once its page is gone or its client cancelled it; job.run_job stops the job then).

    Gradio exposes no public way to read it: its queue keeps each event by id until the event ends, and the running
    handler's context holds that id."""
    blocks, event_id = LocalContext.blocks.get(None), LocalContext.event_id.get(None)
    events = getattr(getattr(blocks, "_queue", None), "event_ids_to_events", None) or {}
    return events.get(event_id) if event_id else None
