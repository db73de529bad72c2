"""Best-of-n: n sampled answers per example (the sampling technique's), each read by a saved reward model; the
highest-rewarded one is the output. No training: the baseline RL has to beat, at n generations and n reads per
example. Every sample, its reward and which one was picked stay in the trace."""

from dataclasses import dataclass, field
from threading import Event

from evals.tasks import Example, Task
from modules.models import Model, adapters
from modules.techniques import prompting, sampling
from modules.techniques.output import Output


@dataclass
class Config:
    reward: str = field(default="", metadata={"help": "The saved reward model (its asset name) that picks."})
    n: int = field(default=4, metadata={"help": f"Samples per example (1-{sampling.MAX_SAMPLES})."})
    temperature: float = field(default=0.7, metadata={"help": "Sampling temperature."})
    top_p: float = field(default=1.0, metadata={"help": "Nucleus mass kept (1 = off)."})
    seed: int = field(default=0, metadata={"help": "Sample i is drawn with seed + i."})
    max_new_tokens: int = field(default=96, metadata={"help": "Most tokens generated per sample."})

    def __post_init__(self):
        self.sampling()  # n, temperature and top-p checked with the sampling technique's own messages

    def sampling(self) -> sampling.Config:
        return sampling.Config(n=self.n, temperature=self.temperature, top_p=self.top_p, seed=self.seed,
                               max_new_tokens=self.max_new_tokens)  # fmt: skip


def validate(task: Task, config: Config) -> None:
    sampling.validate(task, config.sampling())
    if not config.reward:
        raise ValueError("Best-of-n needs a reward model: train one, then name it (reward=<its name>).")
    method = adapters.read_meta(config.reward).get("method")  # a clear error when there is no such asset
    if method != "reward-model":
        raise ValueError(f"'{config.reward}' is a {method} adapter, not a reward model.")


def run(
    model: Model, task: Task, examples: list[Example], config: Config, stop: Event | None = None, on_text=None
) -> list[Output]:
    validate(task, config)
    outputs = sampling.run(model, task, examples, config.sampling(), stop, on_text)
    if stop is not None and stop.is_set():
        return outputs
    from modules.training import reward  # here: training's data module imports the techniques (a cycle at the top)

    net, base = reward.load_asset(config.reward)
    for example, output in zip(examples, outputs):
        samples = output.trace["samples"]
        rewards = reward.score_answers(net, base, task, [example] * len(samples), samples)
        best = max(range(len(samples)), key=rewards.__getitem__)
        output.text, output.answer = samples[best], prompting.extract_answer(samples[best], task)
        output.trace |= {"rewards": rewards, "picked": best, "reward_model": config.reward}
    return outputs
