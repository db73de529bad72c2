"""Direct answering: ask for the final number only, no reasoning."""

from dataclasses import dataclass, field
from threading import Event

from evals.tasks import Example, Task
from modules.models import GenerationParams, Model
from modules.techniques.answers import final_number, reasoning_prompt
from modules.techniques.output import Output


@dataclass
class Config:
    max_new_tokens: int = field(default=16, metadata={"help": "A number needs few tokens."})

    def __post_init__(self):
        GenerationParams(max_new_tokens=self.max_new_tokens)  # same bounds, same message


def validate(task: Task, config: Config) -> None:
    reasoning_prompt(task, "direct")


def run(
    model: Model, task: Task, examples: list[Example], config: Config, stop: Event | None = None, on_text=None
) -> list[Output]:
    instruction = reasoning_prompt(task, "direct")
    prompts = [f"{instruction}\n\n{task.prompt.format_query(e)}" for e in examples]
    generations = model.generate(
        prompts, GenerationParams(max_new_tokens=config.max_new_tokens), stop=stop, on_text=on_text
    )
    return [Output.from_generation(g, answer=final_number(g.text)) for g in generations]
