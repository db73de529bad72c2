"""compare(): run systems over a task's examples in batches, score them, store them, add intervals."""

import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pandas as pd

from evals import metrics, score_hooks, stats
from evals.tasks import Example, Task
from modules.measure import MemoryWatch
from modules.models import Model, ModelSpec, adapters, get_model
from modules.models.quantized import weight_bytes
from modules.progress import Progress
from modules.redaction import redact
from modules.store import Store
from modules.techniques import TECHNIQUES, Output, parse_system

CHUNK = 16  # examples per technique call: one batched generate (measured: 20 at once 1.4x faster than 8), one commit
PACKAGES = ("torch", "transformers", "evaluate", "rouge_score", "sacrebleu", "peft", "sentence-transformers")


@dataclass
class System:
    """model variant × technique × config, under a display name."""

    name: str
    model: Model
    technique: str
    config: object

    @classmethod
    def parse(cls, text: str, model: Model) -> "System":
        name, technique, config = parse_system(text)
        return cls(name, model, technique, config)

    def describe(self) -> dict:
        return {
            "name": self.name,
            "technique": self.technique,
            "config": asdict(self.config),
            "model": redact(self.model.spec),  # a server spec may name http://user:password@host
            "model_label": self.model.label,
        }


@dataclass
class Run:
    """Per-example and aggregate tables of one comparison, plus what it was run on."""

    id: int | None
    task: str
    split: str
    seed: int
    systems: list[dict]
    per_example: pd.DataFrame
    aggregate: pd.DataFrame
    status: str = "complete"
    measurements: dict = field(default_factory=dict)  # system -> {wall_s, examples, peak_memory_mb, weight_mb}

    def to_dict(self, model_info: dict) -> dict:
        """Everything about the run for a JSON download: model, systems, aggregate, per-example rows."""
        return {
            "run_id": self.id,
            "status": self.status,
            "task": self.task,
            "split": self.split,
            "seed": self.seed,
            "model": model_info,
            "systems": self.systems,
            "measurements": self.measurements,
            "aggregate": self.aggregate.to_dict(orient="records"),
            "per_example": self.per_example.to_dict(orient="records"),
        }

    def paired_difference(self, system_a: str, system_b: str, score: str) -> dict:
        """Mean of (a - b) on the examples both finished, with its 95% paired interval and sign-flip p-value."""
        table = self.per_example.pivot(index="example_id", columns="system", values=score).dropna()
        return stats.paired_bootstrap(table[system_a], table[system_b], seed=self.seed)


MODEL_MARK = "@"  # 'few-shot:k=3@smollm2-135m+adapter:lora1': a system on a model of its own


def split_model(text: str) -> tuple[str, str | None]:
    """'zero-shot@spec' -> ('zero-shot', 'spec'); without '@' the model is the default one (None)."""
    system, mark, spec = text.strip().partition(MODEL_MARK)
    if mark and not spec.strip():
        raise ValueError(f"'{text.strip()}' names no model after '{MODEL_MARK}'.")
    return system.strip(), (spec.strip() or None)


def parse_one(text: str) -> tuple[str, str, object, str | None]:
    """'few-shot:k=3@spec' -> (display name, technique, checked Config, model spec or None), loading nothing."""
    system, spec = split_model(text)
    name, technique, config = parse_system(system)
    return (f"{name} @ {spec}" if spec else name), technique, config, spec


def parse_systems(texts: list[str], default_spec: str, task: Task | None = None) -> list[System]:
    """Systems from text, each optionally on its own model (`@spec`); every system string is checked (against
    `task` when given) before any model loads, and each model loads once however many systems use it."""
    parsed = [parse_one(text) for text in texts]
    for _, technique, config, _ in parsed if task is not None else []:
        TECHNIQUES[technique].validate(task, config)
    specs = [spec or default_spec for *_, spec in parsed]
    models = {spec: get_model(spec) for spec in dict.fromkeys(specs)}
    return [System(name, models[spec], technique, config) for (name, technique, config, _), spec in zip(parsed, specs)]


def package_versions() -> dict:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def git_commit() -> str | None:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=5
        )
    except OSError:
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def aggregate(per_example: pd.DataFrame, score_names: list[str], seed: int) -> pd.DataFrame:
    """One row per (system, score): mean, 95% interval (stats.interval; `method`), n,
    direction, label."""
    rows = []
    if per_example.empty:
        return pd.DataFrame(rows)
    for system, group in per_example.groupby("system", sort=False):
        for score in score_names:
            values = group[score].dropna() if score in group else []
            if len(values):  # a score this system does not have (recall for no retrieval) gets no row
                summary = stats.interval(values, seed=seed)
                rows.append(
                    {"system": system, "score": score, **summary}
                    | {"higher_is_better": metrics.higher_is_better(score), "label": metrics.label(score)}
                )
    return pd.DataFrame(rows)


def compare(
    task: Task,
    systems: list[System],
    limit: int | None = None,
    split: str = "test",
    seed: int = 0,
    store: Store | None = None,
    progress: Callable[[Progress], None] | None = None,
    stop: threading.Event | None = None,
    on_system: Callable[["Run"], None] | None = None,
    hooks: Sequence[str] = (),
) -> Run:
    """Run every system over the first `limit` examples of `split`; results are stored as they arrive.

    Each system's cost is measured while it runs (wall seconds, peak extra memory, weight size); on_system gets the
    run so far after each system finishes, so a page can show systems as they finish. progress gets a Progress after
    each batch (done / total outputs). hooks: registered score hooks (evals/score_hooks.py) that score every output
    too, e.g. with a reward model."""
    if not systems:
        raise ValueError("Pick at least one system to compare.")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}.")
    names = [s.name for s in systems]
    if len(set(names)) != len(names):
        raise ValueError(f"System names must differ: {names}.")
    for system in systems:
        TECHNIQUES[system.technique].validate(task, system.config)
    for name in hooks:
        score_hooks.get_score_hook(name)  # an unknown name fails before any model runs
    examples = task.split(split)[:limit]
    run_id = None
    if store is not None:
        run_id = store.create_run(
            # A run may compare several variants (quantization, fine-tuning): each system records its own model
            # (describe()), and the run's model columns name all of them, in system order.
            model_spec=" | ".join(dict.fromkeys(redact(s.model.spec) for s in systems)),
            model_label=" | ".join(dict.fromkeys(s.model.label for s in systems)),
            systems=[s.describe() for s in systems],
            task=task.name,
            split=split,
            limit=limit,
            seed=seed,
            versions=package_versions(),
            git_commit=git_commit(),
        )
    rows, total, done, status = [], len(examples) * len(systems), 0, "complete"
    measurements: dict[str, dict] = {}
    try:
        for system in systems:
            technique = TECHNIQUES[system.technique]
            remote = not system.model.capabilities.weights  # a server's memory and weights are not measured here
            watch = None if remote else MemoryWatch(system.model.device)
            started, finished = time.perf_counter(), 0
            for start in range(0, len(examples), CHUNK):
                if stop is not None and stop.is_set():
                    status = "stopped"
                    break
                chunk = examples[start : start + CHUNK]
                outputs = technique.run(system.model, task, chunk, system.config, stop=stop)
                if stop is not None and stop.is_set():
                    status = "stopped"  # the chunk in hand was cut mid-generation: partial outputs are not scored
                    break
                chunk_rows = _rows(task, system.name, chunk, outputs, hooks, system.model)
                if store is not None:
                    store.add_results(run_id, chunk_rows)
                rows.extend(chunk_rows)
                done, finished = done + len(chunk), finished + len(chunk)
                if progress is not None:
                    stage = f"{system.name}: {min(start + CHUNK, len(examples))}/{len(examples)}"
                    progress(Progress(stage, done, total, {"system": system.name}))
            measurements[system.name] = {
                "wall_s": time.perf_counter() - started, "examples": finished,
                "peak_memory_mb": float("nan") if remote else watch.stop(),
                "weight_mb": float("nan") if remote else weight_bytes(system.model.hf) / 2**20,
                "adds_mb": _adds_mb(system.model),
                "device": system.model.info()["device"],
            }  # fmt: skip
            if on_system is not None and finished:
                on_system(_run(run_id, task, split, seed, systems, rows, status, measurements))
            if status == "stopped":
                break
    except BaseException:
        if store is not None:
            store.finish_run(run_id, "failed")
        raise
    run = _run(run_id, task, split, seed, systems, rows, status, measurements)
    if store is not None:
        store.finish_run(run_id, status, run.aggregate.to_dict(orient="records"), measurements)
    return run


def score(
    task: Task, examples: list[Example], outputs: list[Output], hooks: Sequence[str] = (), model: Model | None = None
) -> list[dict[str, float]]:
    """Per-example scores: the only scoring in the lab (the runner's rows and every tab's columns come from here).

    The task's metrics score an example only where it has something to compare with (text metrics need a
    reference, answer metrics an answer or a reference: a pasted input without one gets no quality score, not 0);
    then the named score hooks (scores that need a model: evals/score_hooks.py), the trace scores (retrieval,
    injection) and the cost of the output (latency, new tokens, tokens/s).
    """
    rows: list[dict[str, float]] = [{} for _ in examples]
    for name in task.metrics:
        if name in metrics.ANSWER_METRICS:
            scored = [i for i, e in enumerate(examples) if e.answer is not None or e.reference]
        else:
            scored = [i for i, e in enumerate(examples) if e.reference]
        if not scored:
            continue
        values = metrics.score(
            [name],
            [outputs[i].text for i in scored],
            [examples[i].reference for i in scored],
            [examples[i].answer for i in scored],
            [outputs[i].answer for i in scored],
        )
        for key, column in values.items():
            for i, value in zip(scored, column):
                rows[i][key] = value
    score_hooks.apply(hooks, task, examples, outputs, rows, model)  # model: the system's, for KL to its base
    for row, example, output in zip(rows, examples, outputs):
        row |= metrics.trace_scores(example.meta, output.trace, output.text)
        if (copied := metrics.copy_rate(example.input, output.text)) is not None:
            row["copy_rate"] = copied
        row |= {"latency_s": output.latency_s, "new_tokens": output.new_tokens, "tokens_per_s": output.tokens_per_s}
    return rows


def _adds_mb(model: Model) -> float:
    """MB an adapter variant adds to its base (its own weights: what one more task costs on a shared base); NaN
    for anything else."""
    parsed = ModelSpec.parse(model.spec) if model.capabilities.weights else None
    if parsed is None or not parsed.adapter:
        return float("nan")
    return adapters.added_bytes(model, get_model(str(replace(parsed, adapter=None)))) / 2**20


def _run(run_id, task: Task, split: str, seed: int, systems: list[System], rows: list[dict], status: str,
         measurements: dict) -> Run:  # fmt: skip
    """The Run of the rows so far: per-example table, aggregate with intervals, measurements."""
    per_example = _table(rows)
    score_names = [c for c in per_example.columns if metrics.higher_is_better(c) is not None or c == "new_tokens"]
    summary = aggregate(per_example, score_names, seed)
    described = [s.describe() for s in systems]
    return Run(run_id, task.name, split, seed, described, per_example, summary, status, dict(measurements))


def _rows(task: Task, system: str, examples: list[Example], outputs: list[Output], hooks: Sequence[str],
          model: Model | None = None) -> list[dict]:  # fmt: skip
    """What the store keeps per example: the output, its answer and trace, and its scores."""
    return [
        {
            "system": system,
            "example_id": example.id,
            "output": output.text,
            "answer": output.answer,
            "trace": output.trace,
            "scores": scores,
            "latency_s": output.latency_s,
            "prompt_tokens": output.prompt_tokens,
            "new_tokens": output.new_tokens,
        }
        for example, output, scores in zip(examples, outputs, score(task, examples, outputs, hooks, model))
    ]


def _table(rows: list[dict]) -> pd.DataFrame:
    """Flat per-example table: system, example_id, output, answer, tokens, then one column per score."""
    records = [
        {k: r[k] for k in ("system", "example_id", "output", "answer", "prompt_tokens")} | r["scores"] for r in rows
    ]
    return pd.DataFrame(records)
