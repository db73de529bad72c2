"""Program-aided language models (PAL): the model writes solution(); the sandbox runs it; its result is the answer."""

import re
from dataclasses import dataclass, field
from threading import Event

from evals.tasks import Example, Task
from modules import sandbox
from modules.models import GenerationParams, Model
from modules.techniques.answers import final_number, reasoning_prompt
from modules.techniques.output import Output

CODE_BLOCK = re.compile(r"```(?:python|py)?\s*\n(.*?)(?:```|$)", re.DOTALL)


@dataclass
class Config:
    k: int = field(default=3, metadata={"help": "Question -> program examples shown first (from the task spec)."})
    max_new_tokens: int = field(default=160, metadata={"help": "Room for the program."})
    timeout_s: float = field(default=5.0, metadata={"help": "Wall-clock limit for running the program."})

    def __post_init__(self):
        GenerationParams(max_new_tokens=self.max_new_tokens)
        if self.k < 0:
            raise ValueError(f"k must be >= 0, got {self.k}.")
        if not 0.5 <= self.timeout_s <= 30:
            raise ValueError(f"timeout_s must be between 0.5 and 30 seconds, got {self.timeout_s}.")


def validate(task: Task, config: Config) -> None:
    examples = task.reasoning.get("pal_examples") or []
    reasoning_prompt(task, "pal_instruction")
    if config.k > len(examples):
        raise ValueError(f"k={config.k} is larger than the {len(examples)} PAL examples of task '{task.name}'.")


def build_prompt(task: Task, question: str, k: int) -> list[dict]:
    """Chat turns: each example question is answered by its program in a python block, then the question."""
    instruction = reasoning_prompt(task, "pal_instruction")
    turns = []
    for example in task.reasoning.get("pal_examples", [])[:k]:
        turns.append({"role": "user", "content": f"{instruction}\n\nProblem: {example['question']}"})
        turns.append({"role": "assistant", "content": f"```python\n{example['code'].rstrip()}\n```"})
    turns.append({"role": "user", "content": f"{instruction}\n\nProblem: {question}"})
    return turns


def extract_code(text: str) -> str:
    """The program in the model's reply: the first fenced block, else the text from its first `def`/`import`."""
    block = CODE_BLOCK.search(text)
    if block:
        return block.group(1).strip()
    start = re.search(r"^(def |import |from )", text, flags=re.MULTILINE)
    return text[start.start() :].strip() if start else text.strip()


def run(
    model: Model, task: Task, examples: list[Example], config: Config, stop: Event | None = None, on_text=None
) -> list[Output]:
    validate(task, config)
    prompts = [build_prompt(task, e.input, config.k) for e in examples]
    generations = model.generate(
        prompts, GenerationParams(max_new_tokens=config.max_new_tokens), stop=stop, on_text=on_text
    )
    limits = sandbox.Limits(wall_s=config.timeout_s, cpu_s=max(1, int(config.timeout_s)))
    outputs = []
    for generation in generations:
        code = extract_code(generation.text)
        result = sandbox.run_code(code, limits=limits)
        answer = final_number(result.result) if result.ok and result.is_number else None
        trace = {"code": code, "sandbox": result.to_dict()}
        if result.ok and not result.is_number:
            trace["sandbox"]["error"] = f"solution() returned {result.result}, not a number"
        outputs.append(Output.from_generation(generation, code, answer, **trace))
    return outputs
