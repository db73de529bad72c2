"""Decoding settings as a technique: n samples per example under one temperature / top-k / top-p setting (or
greedy), sample i from one batched generate call over the examples with seed + i; the first sample is the output
that gets scored, all n are kept in the trace (texts and seeds) for diversity (distinct-n, self-BLEU)."""

from dataclasses import dataclass, field, replace
from threading import Event

from evals.tasks import Example, Task
from modules.models import Generation, GenerationParams, Model
from modules.techniques import prompting
from modules.techniques.output import Output

MAX_SAMPLES = 10  # per example: n rows each in the batch


@dataclass
class Config:
    n: int = field(default=5, metadata={"help": f"Samples per example (1-{MAX_SAMPLES}); the first is scored."})
    do_sample: bool = field(default=True, metadata={"help": "Sample (false: greedy, and n is 1)."})
    temperature: float = field(default=0.7, metadata={"help": "Divides the logits before the softmax."})
    top_k: int = field(default=0, metadata={"help": "Keep the k most likely tokens (0 = off)."})
    top_p: float = field(default=1.0, metadata={"help": "Keep the smallest set reaching this mass (1 = off)."})
    k: int = field(default=0, metadata={"help": "Solved train examples shown before the query."})
    seed: int = field(default=0, metadata={"help": "Seed of the sampling call."})
    max_new_tokens: int = field(default=96, metadata={"help": "Most tokens generated per sample."})

    def __post_init__(self):
        if not 1 <= self.n <= MAX_SAMPLES:
            raise ValueError(f"n (samples per example) must be between 1 and {MAX_SAMPLES}, got {self.n}.")
        if not self.do_sample and self.n != 1:
            raise ValueError("Greedy decoding gives one answer per example: use n=1, or sample.")
        self.generation_params()  # validates temperature, top-k and top-p with GenerationParams' own messages

    def generation_params(self, stop_strings: tuple[str, ...] = ()) -> GenerationParams:
        return GenerationParams(stop_strings=stop_strings, max_new_tokens=self.max_new_tokens,
                                do_sample=self.do_sample, temperature=self.temperature, top_k=self.top_k,
                                top_p=self.top_p, seed=self.seed)  # fmt: skip


def validate(task: Task, config: Config) -> None:
    prompting.validate(task, prompting.Config(k=config.k))


def run(
    model: Model, task: Task, examples: list[Example], config: Config, stop: Event | None = None, on_text=None
) -> list[Output]:
    """n generate calls over all examples, call i seeded seed + i: every sample has a seed of its own (one call
    with each prompt n times would reseed each batch it splits into and could repeat a sample)."""
    validate(task, config)
    pool = task.split("train")
    shots = [prompting.select_shots(pool, e, prompting.Config(k=config.k)) for e in examples]
    prompts = [prompting.build_prompt(model, task, s, e) for s, e in zip(shots, examples)]
    marker = prompting.next_example_marker(task)
    calls = []
    for i in range(config.n):
        params = replace(config.generation_params(stop_strings=(marker,) if marker else ()), seed=config.seed + i)
        calls.append(model.generate(prompts, params, stop=stop, on_text=on_text if i == 0 else None))
        if stop is not None and stop.is_set():
            break
    return [_output([call[row] for call in calls], s, task, config) for row, s in enumerate(shots)]


def _output(samples: list[Generation], shots: list[Example], task: Task, config: Config) -> Output:
    texts = [prompting.clean(g.text, task) for g in samples]
    seeds = [config.seed + i for i in range(len(samples))]
    output = Output.from_generation(samples[0], texts[0], prompting.extract_answer(texts[0], task),
                                    shots=[s.id for s in shots], samples=texts, seeds=seeds)  # fmt: skip
    output.new_tokens = sum(g.new_tokens for g in samples)  # the cost of the setting: all n samples
    output.latency_s = sum(g.latency_s for g in samples)
    return output
