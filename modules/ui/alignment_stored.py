"""The Alignment side by side as the tab shows it: its tables made readable, its status line, and the stored example
(evals/examples/alignment.json, made by `make examples`) the tab opens with until the visitor's own run."""

from dataclasses import dataclass

import pandas as pd

from evals import report, showcase
from modules.studies import alignment, constitutional
from modules.ui import charts

NAME = "alignment"
SIDE_TABLE = "Side by side: mean [95% interval], n, and the paired difference from base (Holm-adjusted)"
# Measured with `make examples` on this project's 2-core CPU (the stored example's label says when): the tab's
# default, reward model included. The README keeps the same figures.
QUICK_LOOK = (
    "**Quick look (these defaults): about 10 minutes on a 2-core CPU with the embedded model** (measured 615 s), "
    "after a reward model (209 s with its defaults above). RL with β > 0, RL with β = 0, DPO and constitutional "
    "AI (DPO on the model's own revisions) each train a LoRA on the shared base; then base, best-of-4 and the "
    "four policies answer the same 20 held-out prompts (4 per domain) and 8 dialogue summaries. Few steps and "
    "few examples: the intervals are wide, and they say so."
)


def cost_table(costs: list[dict]) -> pd.DataFrame:
    if not costs:
        return pd.DataFrame()
    table = pd.DataFrame(costs).drop(columns=["stopped"], errors="ignore")
    return table.round({"time / step (s)": 2, "trainable %": 3})


def readable(side: pd.DataFrame) -> pd.DataFrame:
    """The side-by-side table with its numbers rounded and its columns in reading order."""
    if side.empty:
        return side
    columns = ["system", "label", "mean", "ci_low", "ci_high", "n", "vs baseline", "diff_low", "diff_high",
               "p (Holm)", "verdict", "data"]  # fmt: skip
    table = side[[c for c in columns if c in side]].rename(columns={"label": "score", "ci_low": "95% low",
                                                                    "ci_high": "95% high"})  # fmt: skip
    return table.round(4)


def answers(outcome: alignment.Outcome) -> pd.DataFrame | None:
    """One row per held-out prompt: its domain, then each column's answer."""
    run = outcome.preferences
    if run is None or run.per_example.empty:
        return None
    table = run.per_example.pivot(index="example_id", columns="system", values="output")
    table = table[list(dict.fromkeys(run.per_example.system))]
    task = alignment.held_out(alignment.load_task(run.task), 12)
    table.insert(0, "domain", [task.example(i).meta.get("domain", "") for i in table.index])
    table.insert(1, "prompt", [task.example(i).input for i in table.index])
    return table.reset_index()


def status_line(outcome: alignment.Outcome, settings: alignment.Settings, model_label: str) -> str:
    """What finished, on what, and what the numbers are."""
    trained = ", ".join(f"`{row['asset']}`" + (" (kept)" if row.get("reused") else "")
                        for row in outcome.costs if row["asset"])  # fmt: skip
    if outcome.preferences is None:
        return (f"⏹ Stopped. Saved before the stop: {trained or 'nothing'}. A stopped policy is not saved, but its "
                "last finished step is: press **Resume** with the same settings to keep what was saved and go on "
                "from there.")  # fmt: skip
    runs = [run for run in (outcome.preferences, outcome.summaries) if run is not None]
    missing = (
        ""
        if any(row["policy"] == "constitutional" for row in outcome.costs)
        else (
            " The constitutional column is missing: every revision was empty or the original again (read them below)."
        )
    )
    return (f"**Done.** {model_label}, seed {settings.seed}, reward model `{settings.reward}`, β = {settings.beta}; "
            f"policies saved as {trained} (usable in every tab). Read on "
            + "; ".join(f"`{run.task}` (run {run.id}, {run.per_example.example_id.nunique()} examples, greedy, "
                        f"{run.status})" for run in runs)
            + ". Means with 95% intervals; differences from base paired, Holm-adjusted per score."
            + missing)  # fmt: skip


@dataclass
class Stored:
    note: str = ""
    view: tuple = (None,) * 6


def load() -> Stored:
    return showcase.load_view(NAME, _read) or Stored()


def _read(stored: dict) -> Stored:
    outcome = alignment.from_record(stored)
    seconds = stored.get("seconds", {})
    took = (f" It took {seconds['side_by_side'] / 60:.0f} min (reward model: {seconds['reward_model'] / 60:.0f} min)."
            if seconds else "")  # fmt: skip
    note = showcase.describe(stored["label"]) + took
    return Stored(note, view(outcome))


def view(outcome: alignment.Outcome) -> tuple:
    """Curves, costs, the side-by-side table and chart, the answers side by side, the revisions."""
    side = alignment.side_by_side(outcome)
    chart = report.chart(side, "Side by side: mean with 95% interval") if not side.empty else None
    return (charts.policy_curves(outcome.curves), cost_table(outcome.costs), readable(side), chart, answers(outcome),
            pd.DataFrame(constitutional.as_records(outcome.revisions)))  # fmt: skip
