"""One progress event for every long job (runner, training loop, fine-tuning and quantization studies)."""

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
