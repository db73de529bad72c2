"""What the in-context learning tab's three columns show: scores and warnings of a live run, or one example of the
stored example run (labelled as stored), and that run's result in one sentence."""

import pandas as pd

from evals import metrics
from evals.runner import Run, score
from evals.tasks import Example, load_task
from modules.techniques import prompting
from modules.ui.headline import headline

COLUMNS = ("Zero-shot", "One-shot", "Few-shot")
COPY_WARNING = 0.5  # an output with half its 3-grams from the input is an echo more than an answer
SHOWN_SCORES = ("rouge1", "rouge2", "rougeL", "bleu", "numeric_accuracy", "exact_match")
HEADLINE_SCORE = "rougeL"  # the usual summary score; the stored example is a summary task


def column_scores(task, example: Example, outputs) -> pd.DataFrame:
    """One row per column, scored by the runner: scores against the reference (when there is one), tokens,
    latency, tokens/s."""
    rows = []
    for name, output, values in zip(COLUMNS, outputs, score(task, [example] * len(outputs), outputs)):
        row = {"column": name, "shots": len(output.trace["shots"])}
        row |= {key: round(values[key], 4) for key in SHOWN_SCORES if key in values}
        row |= {"copy_rate": round(values["copy_rate"], 3) if "copy_rate" in values else None}
        row |= {"new_tokens": output.new_tokens, "hit max new tokens": output.new_tokens >= max_new_tokens(output)}
        row |= {"prompt cut": bool(output.trace["warnings"]), "latency_s (shared batch)": round(values["latency_s"], 2)}
        rows.append(row)
    return pd.DataFrame(rows)


def max_new_tokens(output) -> int:
    return output.trace.get("params", {}).get("max_new_tokens", 0)


def column_summary(row: dict, warnings: list[str], timing: str | None = None) -> str:
    """The column's scores once each, its cost, and what to be careful about (echo, cut answer, cut prompt)."""
    scores = " · ".join(f"**{metrics.label(n).split(' (')[0]}** {row[n]:.3f}" for n in SHOWN_SCORES if n in row)
    if timing is None:  # a live run: the three columns share one batched call
        timing = f"{row['latency_s (shared batch)']:.1f} s for the batch of all columns"
    lines = [scores or "_No reference: paste one to get scores._", f"{row['new_tokens']} new tokens · {timing}"]
    if (row.get("copy_rate") or 0) >= COPY_WARNING:
        lines.append(f"⚠️ Mostly copies its input: {row['copy_rate']:.0%} of its word 3-grams are in the input.")
    if row["hit max new tokens"]:
        lines.append("⚠️ The answer hit the max new tokens limit: it may be cut off.")
    lines += [f"⚠️ {w}" for w in warnings]  # the prompt was cut to fit the context
    return "\n\n".join(lines)


def stored_headline(stored: tuple[Run, dict] | None) -> str:
    """The stored example run's result in one sentence, labelled as stored; "" when there is none."""
    if not stored:
        return ""
    run, label = stored
    try:  # the baseline is the first system: zero-shot, the prompt with nothing added
        sentence = headline(run.per_example, run.systems[0]["name"], HEADLINE_SCORE)
    except ValueError:  # a stored run without that score: the tab opens without a headline
        return ""
    interval = " (95% interval of the paired difference)" if "[" in sentence else ""
    return (
        f"📦 **Stored example run** (not run now; {label['model']}, {run.task} test split): "
        f"**{sentence}**{interval}. Details in *Run on task* below."
    )


def stored_columns(stored: tuple[Run, dict] | None, task_name: str, example_id: str | None) -> list:
    """The three columns (outputs, summaries, prompts) and the scores table of one example of the stored run,
    labelled as stored; empty ones when the stored run does not hold that example."""
    empty = [""] * 9 + [None]
    if not stored or stored[0].task != task_name:
        return empty
    run, label = stored
    rows = run.per_example[run.per_example.example_id == example_id].set_index("system")
    systems = run.systems[: len(COLUMNS)]  # zero-, one-, few-shot, in the order of SHOWCASE["icl"]
    if len(systems) < len(COLUMNS) or any(system["name"] not in rows.index for system in systems):
        return empty
    task = load_task(task_name)
    example = task.example(example_id)
    texts, summaries, prompts, table = [], [], [], []
    for name, system in zip(COLUMNS, systems):
        values, config = rows.loc[system["name"]], system["config"]
        row = {key: round(float(values[key]), 4) for key in SHOWN_SCORES if key in values and pd.notna(values[key])}
        row |= {"copy_rate": round(float(values["copy_rate"]), 3) if "copy_rate" in values else None}
        row |= {"new_tokens": int(values["new_tokens"])}
        row |= {"hit max new tokens": row["new_tokens"] >= config["max_new_tokens"]}
        timing = f"stored run of {label['date']}"
        texts.append(values["output"])
        summaries.append("📦 **Stored example run**, not run now\n\n" + column_summary(row, [], timing))
        prompts.append(stored_prompt(task, example, config))
        table.append({"column": name, "shots": config["k"]} | row)
    return [*texts, *summaries, *prompts, pd.DataFrame(table)]


def stored_prompt(task, example: Example, config: dict) -> str:
    """The chat turns the stored run sent, rebuilt from the task's template (prompts are data); the chat template's
    own markup is the model's and is not shown."""
    settings = prompting.Config(k=config["k"], selection=config["selection"], seed=config["seed"])
    shots = prompting.select_shots(task.split("train"), example, settings)
    turns = task.prompt.messages(shots, example)
    header = "(Stored example run: the chat turns sent, each wrapped by the model's chat template)"
    return "\n\n".join([header, *(f"[{turn['role']}]\n{turn['content']}" for turn in turns)])
