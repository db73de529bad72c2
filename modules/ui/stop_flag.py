"""A per-session Stop flag: the Stop button sets it, the running job sees it and ends cleanly with what it has."""

import threading


class StopFlag:
    """Held in a gr.State; Gradio deep-copies the initial value per session, so each session gets its own event."""

    def __init__(self):
        self.event = threading.Event()

    def __deepcopy__(self, memo) -> "StopFlag":
        return StopFlag()  # an Event holds a lock, which cannot be copied; a fresh flag is what a session needs


def press(flag: StopFlag) -> None:
    flag.event.set()
