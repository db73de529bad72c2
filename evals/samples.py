"""Decoding settings side by side on one example: n samples per setting (greedy, temperatures, top-k, top-p, a
combination), every sample scored by the runner, each score's mean with a 95% interval over the samples, and the
samples' diversity (distinct-1/2, self-BLEU)."""

from dataclasses import replace
from threading import Event

import pandas as pd

from evals import diversity, stats
from evals.runner import System, score
from evals.tasks import Example, Task
from modules.models import Model
from modules.techniques import prompting, sampling

# label -> the settings it changes from sampling.Config's defaults (T=0.7, top-k off, top-p off).
SETTINGS = {
    "greedy": {"do_sample": False, "n": 1},
    "T=0.3": {"temperature": 0.3},
    "T=0.7": {"temperature": 0.7},
    "T=1.2": {"temperature": 1.2},
    "top-k=5 (T=1)": {"temperature": 1.0, "top_k": 5},
    "top-p=0.8 (T=1)": {"temperature": 1.0, "top_p": 0.8},
    "T=0.7, top-k=40, top-p=0.9": {"temperature": 0.7, "top_k": 40, "top_p": 0.9},
}
QUALITY = ("rougeL", "bleu", "numeric_accuracy", "exact_match")  # whichever the task scores


def systems(model: Model, labels: list[str], n: int, seed: int, max_new_tokens: int, k: int = 0) -> list[System]:
    """The chosen settings as runner systems of the `sampling` technique (n samples each; greedy gives one)."""
    if not labels:
        raise ValueError("Pick at least one setting.")
    unknown = [label for label in labels if label not in SETTINGS]
    if unknown:
        raise ValueError(f"Unknown setting(s): {', '.join(unknown)}. Choose from: {', '.join(SETTINGS)}.")
    common = {"n": n, "seed": seed, "max_new_tokens": max_new_tokens, "k": k}
    return [System(label, model, "sampling", sampling.Config(**(common | SETTINGS[label]))) for label in labels]


def sample_one(task: Task, example: Example, system: System, stop: Event | None = None) -> dict:
    """One setting on one example: its samples and seeds, each sample scored, the means with intervals."""
    (output,) = sampling.run(system.model, task, [example], system.config, stop)
    texts, seeds = output.trace["samples"], output.trace["seeds"]
    one_each = [replace(output, text=text, answer=prompting.extract_answer(text, task), trace={}) for text in texts]
    scored = score(task, [example] * len(texts), one_each)
    return {"setting": system.name, "samples": texts, "seeds": seeds, "scores": scored,
            "diversity": diversity.scores(texts), "new_tokens": output.new_tokens}  # fmt: skip


def table(results: list[dict]) -> pd.DataFrame:
    """One row per setting: n and seeds, each quality score's mean [95% interval over the samples], diversity."""
    rows = []
    for result in results:
        row = {"setting": result["setting"], "n": len(result["samples"]),
               "seeds": ", ".join(map(str, result["seeds"]))}  # fmt: skip
        for name in QUALITY:
            values = [s[name] for s in result["scores"] if name in s]
            if values:
                row[name] = _with_interval(values)
        for name in ("distinct_1", "distinct_2", "self_bleu"):
            row[name] = round(result["diversity"][name], 3) if name in result["diversity"] else "—"
        row["new tokens (all samples)"] = result["new_tokens"]
        rows.append(row)
    return pd.DataFrame(rows)


def samples(results: list[dict]) -> pd.DataFrame:
    """Every sample: setting, seed, text and its scores."""
    rows = []
    for result in results:
        for text, seed, scores in zip(result["samples"], result["seeds"], result["scores"]):
            rows.append({"setting": result["setting"], "seed": seed, "sample": text}
                        | {name: round(scores[name], 4) for name in QUALITY if name in scores})  # fmt: skip
    return pd.DataFrame(rows)


def _with_interval(values: list[float]) -> str:
    mean = sum(values) / len(values)
    if len(values) < 2:
        return f"{mean:.3f} (one sample: no interval)"
    ci = stats.interval(values)  # Student t at a few samples can reach below 0, where no score can be
    return f"{mean:.3f} [{max(ci['ci_low'], 0.0):.3f}, {ci['ci_high']:.3f}]"
