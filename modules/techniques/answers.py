"""Shared by the techniques: the final number of a text, majority votes, and the reasoning prompts of a task."""

from collections import Counter

from evals.metrics.numeric_accuracy.numeric_accuracy import extract_number
from evals.tasks import Task, TaskError


def final_number(text: str) -> str | None:
    """'#### 12', 'The answer is $1,200.', '12.0' -> '12', '1200', '12'; None when there is no number."""
    number = extract_number(text)
    return None if number is None else f"{number:g}"


def majority_vote(answers: list[str | None]) -> tuple[str | None, dict[str, int]]:
    """Most common non-empty answer and all counts; a tie goes to the answer that appeared first."""
    counts = Counter(a for a in answers if a is not None)
    if not counts:
        return None, {}
    best = max(counts.values())
    winner = next(a for a in answers if a is not None and counts[a] == best)
    return winner, dict(counts.most_common())


def reasoning_prompt(task: Task, key: str) -> str:
    """A reasoning technique's prompt text from the task spec (prompts are data, not code)."""
    if key not in task.reasoning:
        raise TaskError(f"Task '{task.name}' has no '{key}' prompt: reasoning techniques need a number task.")
    return task.reasoning[key]
