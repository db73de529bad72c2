"""What every technique returns per example: the text, the extracted answer, and a trace of how."""

from dataclasses import dataclass, field

from modules.models import Generation


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

    @classmethod
    def from_generation(
        cls, generation: Generation, text: str | None = None, answer: str | None = None, **trace
    ) -> "Output":
        """The one way a technique turns a Generation into an Output: the text it keeps (default: all of it),
        its answer, and a trace that always holds the exact prompt, the warnings and the decoding settings."""
        text = generation.text if text is None else text
        base = {"prompt": generation.prompt, "warnings": generation.warnings, "params": generation.params,
                "batch_size": generation.batch_size, "decode": generation.decode}  # fmt: skip
        if text != generation.text:
            base["raw_text"] = generation.text  # what the model said before the technique cut or replaced it
        return cls(
            text=text,
            answer=answer,
            trace=base | trace,
            prompt_tokens=generation.prompt_tokens,
            new_tokens=generation.new_tokens,
            latency_s=generation.latency_s,
        )
