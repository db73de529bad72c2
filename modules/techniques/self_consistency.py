"""Self-consistency: n sampled chain-of-thought paths per question in one batched call, majority vote."""

from dataclasses import dataclass, field, replace
from threading import Event

from evals.tasks import Example, Task
from modules.techniques import few_shot_cot, prompting
from modules.techniques.answers import final_number, majority_vote
from modules.techniques.output import Output


@dataclass
class Config:
    n: int = field(default=5, metadata={"help": "Sampled reasoning paths per question."})
    k: int = field(default=2, metadata={"help": "Worked examples in each path's prompt."})
    temperature: float = field(default=0.7, metadata={"help": "Sampling temperature of the paths."})
    top_p: float = field(default=0.95, metadata={"help": "Nucleus sampling mass."})
    top_k: int = field(default=50, metadata={"help": "Top-k sampling cut (0 = off)."})
    seed: int = field(default=0, metadata={"help": "Sampling seed (recorded)."})
    max_new_tokens: int = field(default=160, metadata={"help": "Room per path."})

    def __post_init__(self):
        if not 1 <= self.n <= 40:
            raise ValueError(f"n must be between 1 and 40 paths, got {self.n}.")
        self.few_shot().prompting()

    def few_shot(self) -> few_shot_cot.Config:
        return few_shot_cot.Config(k=self.k, max_new_tokens=self.max_new_tokens)


def validate(task: Task, config: Config) -> None:
    few_shot_cot.validate(task, config.few_shot())


def run(
    model, task: Task, examples: list[Example], config: Config, stop: Event | None = None, on_text=None
) -> list[Output]:
    # Each question n times: identical prompts share their whole prefix, so the model computes it once.
    repeated = [example for example in examples for _ in range(config.n)]
    sampling = replace(
        config.few_shot().prompting(), do_sample=True, temperature=config.temperature, top_p=config.top_p,
        top_k=config.top_k, seed=config.seed,
    )  # fmt: skip
    paths = prompting.run(model, task, repeated, sampling, stop, on_text)
    outputs = []
    for start in range(0, len(paths), config.n):
        group = paths[start : start + config.n]
        answers = [final_number(p.text) for p in group]
        winner, votes = majority_vote(answers)
        chosen = group[answers.index(winner)] if winner is not None else group[0]
        trace = chosen.trace | {"votes": votes, "paths": [p.text for p in group], "path_answers": answers}
        work = sum(p.new_tokens for p in group)  # all the work done for this answer
        outputs.append(replace(chosen, answer=winner, trace=trace, new_tokens=work))
    return outputs
