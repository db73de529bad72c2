"""What a task is (Example, PromptTemplate, Task) and how one is read from its YAML spec and JSONL data."""

import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from evals.tasks.public import TaskError, load_hub_records

ANSWER_TYPES = ("none", "number", "text")
TASKS_DIR = Path(__file__).parent  # the shipped tasks: <name>.yaml here, their data in data/


def shipped_names() -> list[str]:
    return sorted(p.stem for p in TASKS_DIR.glob("*.yaml"))


def _inside(folder: Path, relative, task_name: str, field: str) -> Path:
    """`folder / relative`, refused unless it stays inside `folder`: a task's data and documents come only from its
    own folder, however its YAML spells them (an absolute path, '..', a link pointing out)."""
    if not isinstance(relative, str) or not relative:
        raise TaskError(f"Task '{task_name}': '{field}' must name a file or folder beside its spec.")
    path = (folder / relative).resolve()
    if not path.is_relative_to(folder.resolve()):
        raise TaskError(f"Task '{task_name}': '{field}' must stay inside the task's own folder.")
    return path


@dataclass(frozen=True)
class Example:
    id: str
    input: str
    reference: str
    answer: str | None = None
    meta: dict = field(default_factory=dict, hash=False, compare=False)
    split: str = "test"


@dataclass(frozen=True)
class PromptTemplate:
    """How the task is put to a model; the same fields serve chat models (turns) and plain models (text)."""

    instruction: str
    query: str  # how an input is shown, uses {input}
    answer: str  # how a solved example's answer is shown, uses {reference} and {answer}
    answer_prefix: str  # plain-text models only: the cue before the answer, e.g. "Summary:"

    def format_query(self, example: Example) -> str:
        return self.query.format(input=example.input)

    def format_answer(self, example: Example) -> str:
        return self.answer.format(reference=example.reference, answer=example.answer or "")

    def messages(self, shots: list[Example], query: Example) -> list[dict]:
        """Chat form: each shot is a user turn and the assistant's answer, then the query as the last turn."""
        turns = []
        for shot in shots:
            turns.append({"role": "user", "content": f"{self.instruction}\n\n{self.format_query(shot)}"})
            turns.append({"role": "assistant", "content": self.format_answer(shot)})
        turns.append({"role": "user", "content": f"{self.instruction}\n\n{self.format_query(query)}"})
        return turns

    def text(self, shots: list[Example], query: Example) -> str:
        """Plain form for models without a chat template (base LMs, T5)."""
        solved = [f"{self.format_query(s)}\n{self.answer_prefix} {self.format_answer(s)}" for s in shots]
        return "\n\n".join([self.instruction, *solved, f"{self.format_query(query)}\n{self.answer_prefix}"])


@dataclass
class Task:
    name: str
    description: str
    origin: str
    license: str
    answer_type: str
    metrics: list[str]
    prompt: PromptTemplate
    examples: list[Example]
    documents_dir: Path | None = None
    attack_documents_dir: Path | None = None  # prompt-injection documents mixed into the knowledge base
    reasoning: dict = field(default_factory=dict)  # prompts of the reasoning techniques, for number tasks

    @property
    def document_dirs(self) -> list[Path]:
        """The knowledge base retrieval searches: the task's documents plus any attack documents."""
        return [d for d in (self.documents_dir, self.attack_documents_dir) if d is not None]

    def split(self, name: str) -> list[Example]:
        if name not in ("train", "test"):
            raise TaskError(f"Unknown split '{name}': use 'train' or 'test'.")
        return [e for e in self.examples if e.split == name]

    def example(self, example_id: str) -> Example:
        for e in self.examples:
            if e.id == example_id:
                return e
        raise TaskError(f"Task '{self.name}' has no example '{example_id}'.")


def read_task(name: str, spec_path: Path, source: str | Path | None = None) -> Task:
    """The task a YAML spec describes; its data and document folders are inside the spec's folder (checked)."""
    folder = spec_path.parent
    spec = yaml.safe_load(spec_path.read_text(encoding="utf-8"))
    if not isinstance(spec, dict) or spec.get("name") != name:
        raise TaskError(f"Task '{name}': its spec must be a mapping whose 'name' is '{name}'.")
    if "hub" in spec:
        records = load_hub_records(name, spec["hub"], source)
    else:
        lines = _inside(folder, spec.get("data"), name, "data").read_text(encoding="utf-8").splitlines()
        records = [json.loads(line) for line in lines if line.strip()]
    if spec["answer_type"] not in ANSWER_TYPES:
        raise TaskError(f"Task '{name}': answer_type must be one of {ANSWER_TYPES}.")
    examples = [
        Example(
            id=r["id"],
            input=r["input"],
            reference=r["reference"],
            answer=r.get("answer"),
            meta=r.get("meta") or {},
            split=r["split"],
        )
        for r in records
    ]
    return Task(
        name=spec["name"],
        description=spec["description"],
        origin=spec["origin"],
        license=spec["license"],
        answer_type=spec["answer_type"],
        metrics=list(spec["metrics"]),
        prompt=PromptTemplate(**spec["prompt"]),
        examples=examples,
        documents_dir=_inside(folder, spec["documents"], name, "documents") if spec.get("documents") else None,
        attack_documents_dir=_inside(folder, spec["attack_documents"], name, "attack_documents")
        if spec.get("attack_documents")
        else None,
        reasoning=spec.get("reasoning") or {},
    )
