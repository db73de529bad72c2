"""Tasks: a YAML spec + JSONL data (or a public hub set) -> Examples with train/test splits. The shipped tasks
live here; a visitor's own uploaded tasks (evals/tasks/uploaded.py) are found by name after them."""

from pathlib import Path

from evals.tasks import uploaded
from evals.tasks.public import TaskError
from evals.tasks.task import ANSWER_TYPES, TASKS_DIR, Example, PromptTemplate, Task, read_task, shipped_names

__all__ = ["ANSWER_TYPES", "TASKS_DIR", "Example", "PromptTemplate", "Task", "TaskError", "load_task", "task_names"]


def task_names() -> list[str]:
    """The shipped tasks, then the visitor's uploaded ones."""
    return shipped_names() + uploaded.list_tasks()


def load_task(name: str, source: str | Path | None = None) -> Task:
    """Load a task by name. `source` replaces the hub for public sets (a folder of <split>.jsonl)."""
    spec_path = TASKS_DIR / f"{name}.yaml"
    if name and spec_path.is_file():
        return read_task(name, spec_path, source)
    if uploaded.exists(name):  # only when no shipped task has the name: a shipped task always wins
        return read_task(name, uploaded.task_dir(name) / uploaded.SPEC)
    raise TaskError(f"Unknown task '{name}'. Available: {', '.join(task_names())}.")
