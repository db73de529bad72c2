"""One progress event for every long job (runner, training loop, fine-tuning and quantization studies)."""

import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Progress:
    """What runs now, how far it is, and what it carries.

    stage: a line people read as is ("zero-shot: 16/20", "Preparing lora (1/2)…"); done / total: units finished
    of all (outputs scored, optimizer steps; total None when not counted); payload: what the event carries beyond
    the counts ({"loss", "seconds"} of a training step, {"row"} of a finished method's cost), {} otherwise.

    Live text while decoding (on_text: {row: text}) is not a Progress: it fires every generated token, and an
    event per token per row would be an allocation in the decode loop for nothing the page needs.
    """

    stage: str
    done: int = 0
    total: int | None = None
    payload: dict = field(default_factory=dict)

    @property
    def fraction(self) -> float | None:
        """done / total for a progress bar; None when not counted."""
        return min(self.done / self.total, 1.0) if self.total else None


class Pace:
    """A job's time so far and, once a unit is done, its time left at its own pace (seconds per unit so far): the
    line people read while they wait."""

    def __init__(self):
        self.started = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def line(self, event: Progress) -> str:
        """The line: "stage · 2/8 done · 12 s so far · about 36 s left", with what is known (no count: no time left)."""
        parts = [event.stage] + ([f"{event.done}/{event.total} done"] if event.total else [])
        parts.append(f"{self.elapsed():.0f} s so far")
        if event.total and 0 < event.done < event.total:
            parts.append(f"about {self.elapsed() / event.done * (event.total - event.done):.0f} s left")
        return " · ".join(parts)
