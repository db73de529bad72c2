"""What goes into and comes out of one generation call: decoding parameters and per-prompt results."""

from dataclasses import asdict, dataclass, field

from modules import limits


@dataclass
class GenerationParams:
    """Decoding settings; greedy unless do_sample is set. Recorded with every output."""

    max_new_tokens: int = field(default=128, metadata={"help": "Upper bound on generated tokens."})
    do_sample: bool = field(default=False, metadata={"help": "Sample instead of greedy decoding."})
    temperature: float = field(default=1.0, metadata={"help": "Sampling temperature (> 0)."})
    top_k: int = field(default=50, metadata={"help": "Keep the k most likely tokens (0 = all)."})
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling mass in (0, 1]."})
    seed: int = field(default=0, metadata={"help": "Random seed for sampling."})
    batch_size: int = field(default=16, metadata={"help": "Most prompts per generate call."})
    stop_strings: tuple[str, ...] = field(default=(), metadata={"help": "A row stops once it emits one of these."})

    def __post_init__(self):
        if not 1 <= self.max_new_tokens <= limits.max_new_tokens():  # LAB_MAX_NEW_TOKENS; the UI and CLI refuse more
            raise ValueError(
                f"max_new_tokens must be between 1 and {limits.max_new_tokens()}, got {self.max_new_tokens}."
            )
        if self.temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}.")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0, got {self.top_k}.")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}.")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}.")

    def to_dict(self) -> dict:
        return asdict(self) | {"stop_strings": list(self.stop_strings)}


@dataclass
class Generation:
    """One prompt's result. latency_s is the wall time of the batch it was generated in."""

    text: str
    prompt_tokens: int
    new_tokens: int
    latency_s: float
    batch_size: int = 1
    prompt: str = ""  # the exact text fed to the tokenizer (chat template applied)
    warnings: list[str] = field(default_factory=list)
    params: dict = field(default_factory=dict)
    decode: str = "eager"  # the decoding path that made it: models/decoding.py

    @property
    def tokens_per_s(self) -> float:
        return self.new_tokens / self.latency_s if self.latency_s > 0 else 0.0
