"""Forgetting: the base and each fine-tuned variant scored on one or more probe tasks they were not tuned for,
pooled into one paired comparison per method so a few points' drop can be told from noise."""

from dataclasses import dataclass
from functools import cached_property

import pandas as pd

from evals import comparison, stats
from evals.runner import Run, System, compare
from evals.tasks import load_task

SCORE = "rougeL"  # one score every probe task has, so the probes pool into one paired difference per method
POOLED = "all probes"


@dataclass
class Probe:
    """The stored run of each probe task, read as one pooled set of probe examples."""

    runs: list[Run]

    @cached_property  # read by the table, the chart, the status and the asset notes: concatenated once
    def per_example(self) -> pd.DataFrame:
        """Every probe's per-example rows, example ids prefixed by their task so two tasks' '0' stay apart."""
        frames = [run.per_example.assign(example_id=run.task + "/" + run.per_example.example_id.astype(str))
                  for run in self.runs]  # fmt: skip
        return pd.concat(frames, ignore_index=True)

    @property
    def task(self) -> str:
        return " + ".join(run.task for run in self.runs)

    @property
    def seed(self) -> int:
        return self.runs[0].seed

    @property
    def ids(self) -> str:
        return ", ".join(str(run.id) for run in self.runs)


def score(systems: list[System], tasks: tuple[str, ...], limit: int, store, progress, stop) -> Probe | None:
    """Each probe task's first `limit` test examples through the runner (stored like any run); None if stopped first."""
    runs = []
    for name in tasks:
        if stop.is_set():
            break
        runs.append(compare(load_task(name), systems, limit, store=store, progress=progress(name), stop=stop))
    return Probe(runs) if runs else None


def table(probe: Probe) -> pd.DataFrame:
    """Base -> after on each probe task and, with two or more, on all of them pooled: the change with its 95% paired
    interval and the sign-flip p-value Holm-adjusted across the methods (comparison.paired_differences)."""
    parts = [(run.task, run.per_example, run.seed) for run in probe.runs]
    if len(probe.runs) > 1:
        parts.append((POOLED, probe.per_example, probe.seed))
    rows = []
    for name, per_example, seed in parts:
        means = per_example.groupby("system", sort=False)[SCORE].mean()
        for system, d in comparison.paired_differences(per_example, "base", SCORE, seed).items():
            rows.append({
                "method": system, "probe": name, "base ROUGE-L": means["base"], "after": means[system],
                "change": d["mean"], "95% low": d["ci_low"], "95% high": d["ci_high"], "n": d["n"],
                "p (Holm)": stats.p_text(d["p_holm"]),
                "verdict": comparison.verdict(d, d["p_holm"], higher_is_better=True),
            })  # fmt: skip
    return pd.DataFrame(rows)


def resolution(probe: Probe) -> float | None:
    """The widest half-width of the pooled 95% intervals: a change smaller than this cannot be told from zero at
    this many probe examples (None without a trained method)."""
    differences = comparison.paired_differences(probe.per_example, "base", SCORE, probe.seed)
    widths = [(d["ci_high"] - d["ci_low"]) / 2 for d in differences.values()]
    return max(widths) if widths else None
