"""What every technique returns per example: the text, the extracted answer, and a trace of how."""

from dataclasses import dataclass, field


@dataclass
class Output:
    text: str
    answer: str | None  # the extracted short answer (a number for arithmetic tasks), None when not applicable
    trace: dict = field(default_factory=dict)  # exact prompt, shots, warnings, decoding params...
    prompt_tokens: int = 0
    new_tokens: int = 0
    latency_s: float = 0.0

    @property
    def tokens_per_s(self) -> float:
        return self.new_tokens / self.latency_s if self.latency_s > 0 else 0.0
