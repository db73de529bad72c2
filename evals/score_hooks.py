"""Registered scores that need a model (a reward model's score, KL to a reference), applied by runner.score."""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from evals import metrics
from evals.tasks import Example, Task
from modules.techniques.output import Output

# fn(task, examples, outputs) -> one value per output (None: not scored). It may run a model: it is called once
# per batch of outputs (the runner's CHUNK), so a model scores them in one pass. A hook registered with
# needs_model=True is called fn(task, examples, outputs, model): the system's own model (KL to its base).
HookFn = Callable[[Task, list[Example], list[Output]], list[float | None]]


@dataclass(frozen=True)
class ScoreHook:
    name: str
    fn: HookFn
    label: str
    higher_is_better: bool
    needs_model: bool = False


HOOKS: dict[str, ScoreHook] = {}


def register_score_hook(name: str, fn: HookFn, *, label: str | None = None, higher_is_better: bool = True,
                        needs_model: bool = False) -> None:  # fmt: skip
    """Make `name` a score like any other: stored per example, aggregated with its interval (Wilson for 0/1 values,
    else bootstrap), compared with a baseline. A run opts in by name: compare(..., hooks=[name])."""
    if name in metrics.SCORES and name not in HOOKS and name not in metrics.HOOK_SCORES:
        raise ValueError(f"'{name}' is a built-in score; give the hook another name.")
    if not isinstance(higher_is_better, bool):
        raise ValueError("higher_is_better must be True or False: the tables need a direction to compare.")
    HOOKS[name] = ScoreHook(name, fn, label or name, higher_is_better, needs_model)
    metrics.SCORES[name] = (label or name, higher_is_better)  # its label and direction wherever scores are shown


def get_score_hook(name: str) -> ScoreHook:
    if name not in HOOKS:
        raise ValueError(f"Unknown score hook '{name}'. Available: {', '.join(HOOKS) or 'none registered'}.")
    return HOOKS[name]


def apply(names: Sequence[str], task: Task, examples: list[Example], outputs: list[Output], rows: list[dict],
          model=None) -> None:  # fmt: skip
    """Each named hook's values into `rows` (one dict of scores per example), in place; None or NaN: not scored.
    `model`: the system's, for the hooks that need it."""
    for name in names:
        hook = get_score_hook(name)
        values = list(hook.fn(task, examples, outputs, model) if hook.needs_model else hook.fn(task, examples, outputs))
        if len(values) != len(outputs):
            raise ValueError(f"Score hook '{name}' returned {len(values)} values for {len(outputs)} outputs.")
        for row, value in zip(rows, values):
            if value is not None and math.isfinite(float(value)):
                row[name] = float(value)
