"""Few-shot chain-of-thought: k worked solutions from the train split, then the question.

The task's shots already are worked solutions ending in "#### N", so this is in-context learning with
those shots; the prompting technique builds the prompts and this file reads the final number.
"""

from dataclasses import dataclass, field
from threading import Event

from evals.tasks import Example, Task
from modules.techniques import prompting
from modules.techniques.answers import final_number
from modules.techniques.output import Output


@dataclass
class Config:
    k: int = field(default=2, metadata={"help": "Worked examples shown before the question."})
    selection: str = field(default="fixed", metadata={"help": "fixed | random | similar."})
    seed: int = field(default=0, metadata={"help": "Seed for random selection."})
    max_new_tokens: int = field(default=160, metadata={"help": "Room for the steps and the final line."})

    def __post_init__(self):
        self.prompting()  # validates with prompting's own messages

    def prompting(self) -> prompting.Config:
        return prompting.Config(k=self.k, selection=self.selection, seed=self.seed, max_new_tokens=self.max_new_tokens)


def validate(task: Task, config: Config) -> None:
    if task.answer_type != "number":
        raise ValueError(f"few-shot CoT needs a number task; '{task.name}' has answer type '{task.answer_type}'.")
    prompting.validate(task, config.prompting())


def run(
    model, task: Task, examples: list[Example], config: Config, stop: Event | None = None, on_text=None
) -> list[Output]:
    outputs = prompting.run(model, task, examples, config.prompting(), stop, on_text)
    for each in outputs:
        each.answer = final_number(each.text)
        each.trace["reasoning"] = each.text
    return outputs
