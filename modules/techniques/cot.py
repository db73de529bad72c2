"""Zero-shot chain-of-thought: "Let's think step by step", then the final number is read off the reasoning."""

from dataclasses import dataclass, field
from threading import Event

from evals.tasks import Example, Task
from modules.models import GenerationParams, Model
from modules.techniques.answers import final_number, reasoning_prompt
from modules.techniques.output import Output


@dataclass
class Config:
    max_new_tokens: int = field(default=192, metadata={"help": "Room for the steps and the final line."})

    def __post_init__(self):
        GenerationParams(max_new_tokens=self.max_new_tokens)


def validate(task: Task, config: Config) -> None:
    reasoning_prompt(task, "cot_trigger")


def run(
    model: Model, task: Task, examples: list[Example], config: Config, stop: Event | None = None, on_text=None
) -> list[Output]:
    trigger = reasoning_prompt(task, "cot_trigger")
    prompts = [f"{task.prompt.format_query(e)}\n\n{trigger}" for e in examples]
    generations = model.generate(
        prompts, GenerationParams(max_new_tokens=config.max_new_tokens), stop=stop, on_text=on_text
    )
    return [Output.from_generation(g, answer=final_number(g.text), reasoning=g.text) for g in generations]
