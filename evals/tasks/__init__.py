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
    """Load a task by name: a shipped task's, else one of the visitor's own uploads. A name is never a path: it is
    looked up in those two lists, so no spelling reaches another file. `source` replaces the hub for public sets
    (a folder of <split>.jsonl: the CLI's and the tests' option, never a visitor's)."""
    if isinstance(name, str) and name in shipped_names():
        return read_task(name, TASKS_DIR / f"{name}.yaml", source)
    if uploaded.exists(name):  # only when no shipped task has the name: a shipped task always wins
        return read_task(name, uploaded.task_dir(name) / uploaded.SPEC)
    shown = name[:40] + "…" if isinstance(name, str) and len(name) > 40 else name
    raise TaskError(f"Unknown task '{shown}'. Available: {', '.join(task_names())}.")
