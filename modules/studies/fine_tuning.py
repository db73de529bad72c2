"""One fine-tuning comparison: train each method from the frozen base, save it as an asset, then score the base
and every variant on the task (quality) and on a second task (forgetting) through the ordinary runner."""

import gc
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from evals import comparison, metrics, references, stats
from evals.runner import Run, System, compare
from evals.tasks import Example, TaskError, load_task
from modules import inputs, limits
from modules.models import Model, adapters, forget, get_model, variant_spec
from modules.paths import user_home
from modules.progress import Progress
from modules.store import default_store
from modules.studies import forgetting
from modules.studies.forgetting import Probe
from modules.techniques import prompting
from modules.training import checkpoint, data, finetune, lora, qat, registry, trainer

QUALITY_SCORES = ("rouge1", "rouge2", "rougeL", "rougeLsum", "bleu")
REFERENCE = references.COURSE_LAB_2  # published figures (another model and dataset): shown, never mixed in


# Two probes, 72 test examples in all: enough that a 5-point ROUGE-L drop has a 95% interval clear of zero (README).
PROBE_TASKS = ("company-handbook-qa", "arithmetic-word-problems")
PROBE_ALL = 40  # per probe task: both whole test splits (32 + 40)

# Presets: (methods, steps, batch size, max tokens per row, test examples, probe examples) and the time measured
# for them on the embedded model on a 2-core CPU (benchmarks/finetune_presets.py).
PRESETS = {
    "quick look": (
        (["lora"], 10, 4, 128, 5, 0),
        "about 50 s on a 2-core CPU (measured 46 s: 28 s training, 18 s scoring)",
    ),
    "course-like": (
        (["full", "lora"], 100, 8, 224, 20, PROBE_ALL),
        "about 45 minutes on a 2-core CPU (measured 43 min: 38.6 training 100 full and 100 LoRA steps, 4.4 scoring "
        "3 systems on 20 test and 72 forgetting-probe examples)",
    ),
}


@dataclass
class JobSettings:
    name: str  # assets are saved as <name>-<method>
    methods: tuple[str, ...]
    configs: dict[str, finetune.Config]
    task: str = "dialogue-summary"
    jsonl: str | None = None  # uploaded {input, reference} pairs instead of the task's train split (a server path:
    # never stored or shown; data_label() names it)
    eval_limit: int = 10
    probe_tasks: tuple[str, ...] = PROBE_TASKS  # pooled into one paired comparison per method (forgetting.py)
    probe_limit: int = 5  # examples per probe task
    resume: bool = False
    warnings: list[str] = field(default_factory=list)
    # Multi-task: {task: share} of the train rows; each method is then also trained on this mixture, a row beside
    # its single-task one, both scored on the target task and the probe. Empty: single-task only.
    mixture: dict[str, float] = field(default_factory=dict)

    def __post_init__(self):
        adapters.asset_dir(self.name)  # validates the name
        if not self.methods:
            raise ValueError("Pick at least one method to train.")
        for method in self.methods:
            reason = finetune.unavailable_reason(method)
            if reason:
                raise ValueError(reason)
        if not 1 <= self.eval_limit <= 500 or not 0 <= self.probe_limit <= 500:
            raise ValueError("Evaluation limits must be 1-500 examples (probe: 0-500).")
        if self.probe_limit and not self.probe_tasks:
            raise ValueError("Pick a forgetting probe task, or set the probe examples to 0 to skip it.")
        for name in self.probe_tasks if self.probe_limit else ():
            try:
                load_task(name)
            except TaskError as error:
                raise ValueError(f"Forgetting probe task '{name}': {error}") from error
        if self.mixture and self.jsonl:
            raise ValueError("A multi-task mixture draws from tasks' train splits: leave the JSONL empty to use one.")
        for name, share in self.mixture.items():
            if not share > 0:
                raise ValueError(f"Mixture share of '{name}' must be above 0, got {share}.")
            try:
                data.pairs_from_task(load_task(name))
            except TaskError as error:
                raise ValueError(f"Mixture task '{name}': {error}") from error

    @classmethod
    def from_preset(cls, name: str, preset: str) -> "JobSettings":
        """Settings of a preset (PRESETS) on the default task, assets named <name>-<method>."""
        (methods, steps, batch_size, max_length, eval_limit, probe_limit), _ = PRESETS[preset]
        configs = {m: finetune.Config(method=m, steps=steps, batch_size=batch_size, max_length=max_length)
                   for m in methods}  # fmt: skip
        return cls(name=name, methods=tuple(methods), configs=configs, eval_limit=eval_limit, probe_limit=probe_limit)

    @classmethod
    def from_values(cls, values: dict, resume: bool) -> "JobSettings":
        """Settings from the tab's widget values by name (INPUT_NAMES there), checked; one Config per method."""
        whole = {key: inputs.whole(values[key], key.replace("_", " "), low, high) for key, (low, high) in {
            "steps": (1, limits.max_train_steps()), "batch_size": (1, 64), "max_length": (32, 4096),
            "seed": (0, 2**31 - 1), "r": (1, 256), "alpha": (1, 1024), "virtual_tokens": (1, 200),
            "eval_limit": (1, 500), "probe_limit": (0, 500)}.items()}  # fmt: skip
        rates = {key: inputs.real(values[key] or 0, key.replace("_", " "), 0, 0.999) for key in
                 ("lr_full", "lr_lora", "lr_prompt")}  # fmt: skip
        lrs = {"full": rates["lr_full"], **{f"qat-{scheme}": rates["lr_full"] for scheme in qat.SCHEMES},
               "lora": rates["lr_lora"], "qlora": rates["lr_lora"],
               "prompt-tuning": rates["lr_prompt"], "ia3": 0.0,  # IA3: its own default rate
               **dict.fromkeys(lora.PLACES, rates["lr_lora"])}  # fmt: skip
        methods = tuple(values["methods"] or ())
        configs = {
            method: finetune.Config(
                method=method, steps=whole["steps"], batch_size=whole["batch_size"], max_length=whole["max_length"],
                learning_rate=lrs[method], seed=whole["seed"], r=whole["r"], alpha=whole["alpha"],
                dropout=inputs.real(values["dropout"], "LoRA dropout", 0, 0.99),
                target_modules=tuple(values["targets"] or ()), virtual_tokens=whole["virtual_tokens"],
                init_text=inputs.text(values["init_text"], "The soft prompt init text", inputs.MAX_SHORT_CHARS),
            )
            for method in methods
        }  # fmt: skip
        return cls(
            name=inputs.text(values["name"], "The run name", inputs.MAX_SHORT_CHARS), methods=methods,
            configs=configs, task=values["task"], jsonl=values["jsonl"] or None, eval_limit=whole["eval_limit"],
            probe_tasks=probe_tasks(values["probe_task"]), probe_limit=whole["probe_limit"], resume=resume,
            mixture=parse_mixture(values.get("mixture")),
        )  # fmt: skip


def probe_tasks(value: str | list | None) -> tuple[str, ...]:
    """The probe picker's value (one name from an API client, a list from the page) as a tuple of names."""
    return (value,) if isinstance(value, str) else tuple(value or ())


def parse_mixture(text: str | None) -> dict[str, float]:
    """'dialogue-summary: 2, company-handbook-qa: 1' -> {task: share}; empty -> {} (single-task only)."""
    text = inputs.text(text, "The multi-task mixture", inputs.MAX_SHORT_CHARS)
    shares = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        name, _, share = part.rpartition(":")
        if not name.strip():
            raise ValueError(f"Write the mixture as task: share, task: share (got '{part}').")
        shares[name.strip()] = inputs.real(share, f"The share of '{name.strip()}'", 0.0, 1e6)
    return shares


def data_label(settings: JobSettings) -> str:
    """What the training data was, for notes and reports: the uploaded file's own name (its data hash is noted
    beside it), never the server path it was uploaded to."""
    return f"uploaded {Path(settings.jsonl).name}" if settings.jsonl else f"{settings.task} train split"


def training_pairs(settings: JobSettings) -> list[Example]:
    if settings.jsonl:
        pairs, errors = data.read_jsonl(settings.jsonl)
        settings.warnings += [f"JSONL {e}" for e in errors]
        return pairs
    return data.pairs_from_task(load_task(settings.task))


def checkpoint_dir(name: str, method: str):
    return user_home() / "training" / name / method


def train_methods(
    base: Model, settings: JobSettings, report: Callable[[Progress], None], stop: threading.Event
) -> list:
    """Train every method in turn; returns the cost rows. Reports a Progress per phase, per step (payload: method,
    loss, seconds) and per trained method (payload: its cost row)."""
    task = load_task(settings.task)
    pairs = training_pairs(settings)
    costs = []
    runs = [(method, "") for method in settings.methods]
    runs += [(method, MULTI_TASK) for method in settings.methods] if settings.mixture else []
    for index, (method, kind) in enumerate(runs):
        config, label = settings.configs[method], f"{method}{kind}"
        which = f"{label} ({index + 1}/{len(runs)})"
        report(Progress(f"Preparing {which}: tokenizing its training pairs…", index, len(runs)))
        objective = registry.get_objective(config.objective)
        if kind:
            rows, used = mixture_rows(base, settings, config, objective)
        else:
            rows, used = objective.rows(base, task, pairs, config.max_length), pairs
        if stop.is_set():  # preparing takes seconds to a minute: Stop is seen between its parts, not after them
            break
        folder = checkpoint_dir(settings.name, asset_suffix(label))
        if not settings.resume:
            shutil.rmtree(folder, ignore_errors=True)
        report(Progress(f"Preparing {which}: a fresh copy of the base…", index, len(runs)))
        net = finetune.prepare(base, config)
        if stop.is_set():
            break
        report(Progress(f"First step of {which}…", index, len(runs)))
        result = trainer.train(
            net, rows, steps=config.steps, batch_size=config.batch_size, micro_batch=config.micro_batch,
            lr=config.lr, seed=config.seed, pad_id=base.tokenizer.pad_token_id, folder=folder,
            checkpoint_every=config.checkpoint_every, resume=settings.resume, stop=stop, objective=objective,
            on_step=lambda event, m=label: report(
                Progress(f"Training {m}", event.done, event.total, event.payload | {"method": m})),
        )  # fmt: skip
        trainable, total = finetune.trainable_counts(net)
        row = {
            "method": label, "steps": result.steps_done, "final loss": result.losses[-1] if result.losses else None,
            "trainable params": trainable, "trainable %": 100 * trainable / total,
            "time / step (s)": result.seconds_per_step, "peak extra memory (MB)": result.peak_memory_mb,
            "optimizer state (MB)": result.optimizer_state_mb, "saved size (MB)": None, "asset": None,
            "stopped": result.stopped, "losses": result.losses,
            # where Resume continues (a full fine-tune stopped between checkpoints: its last periodic one)
            "resume step": int(result.checkpoint.name.removeprefix(checkpoint.PREFIX)) if result.checkpoint else 0,
        }  # fmt: skip
        if not result.stopped:
            asset = f"{settings.name}-{asset_suffix(label)}"
            forget(variant_spec(base.spec, adapter=asset))  # a retrained asset must not be served from the old copy
            meta = {
                "method": method, "base": base.spec, "base_label": base.label,
                "config": vars(config) | {"lr": config.lr},
                "task": settings.task, "data": mixture_label(settings) if kind else data_label(settings),
                "data_hash": data.data_hash(used), "pairs": len(used), "seed": config.seed,
                "steps": result.steps_done, "losses": result.losses, "trainable": trainable, "total": total,
            }  # fmt: skip
            if method in adapters.FULL_COPIES:  # trained on fp32 master weights; kept in the base's precision
                finetune.cast_parameters(net, base.dtype)
            folder = adapters.save(asset, net, meta)
            row |= {"saved size (MB)": adapters.weights_bytes(folder) / 2**20, "asset": asset}
        costs.append(row)
        report(Progress(f"Trained {label}", index + 1, len(runs), {"row": row}))
        del net  # a full copy is ~4x the weights with its optimizer: free it before the next method
        gc.collect()
        if result.stopped:
            break
    return costs


MULTI_TASK = " (multi-task)"  # a method trained on the mixture: its row's and its system's name suffix


def asset_suffix(label: str) -> str:
    """'lora (multi-task)' -> 'lora-multitask': an asset and folder name."""
    return label.replace(MULTI_TASK, "-multitask")


def mixture_label(settings: JobSettings) -> str:
    return "multi-task mixture: " + ", ".join(f"{name} {share:g}" for name, share in settings.mixture.items())


def mixture_rows(base: Model, settings: JobSettings, config, objective) -> tuple[list, list[Example]]:
    """(rows, the pairs they came from): each task's train rows in its own prompt template, drawn in the mixture's
    shares, one per training slot (steps x batch), seeded like the data order."""
    pools, used = {}, []
    for name in settings.mixture:
        mixed = load_task(name)
        task_pairs = data.pairs_from_task(mixed)
        pools[name] = objective.rows(base, mixed, task_pairs, config.max_length)
        used += task_pairs
    return data.mixture(pools, settings.mixture, config.steps * config.batch_size, config.seed), used


def zero_shot_systems(base: Model, costs: list[dict]) -> list[System]:
    """The base and each trained variant, all with the same zero-shot prompt the training used."""
    config = prompting.Config(k=0)
    systems = [System("base", base, "prompting", config)]
    for row in costs:
        if row["asset"]:
            variant = get_model(variant_spec(base.spec, adapter=row["asset"]))
            systems.append(System(row["method"], variant, "prompting", config))
    return systems


def evaluate(base: Model, settings: JobSettings, costs: list[dict], report, stop) -> tuple[Run, Probe | None]:
    """Quality on the task's test split and the forgetting probes, all stored; scores also go into each asset."""
    systems = zero_shot_systems(base, costs)
    store = default_store()

    def progress(phase):
        return lambda event: report(Progress(f"{phase}: {event.stage} ({event.done}/{event.total})", event.done,
                                             event.total))  # fmt: skip

    quality = compare(load_task(settings.task), systems, settings.eval_limit, store=store,
                      progress=progress("Quality"), stop=stop)  # fmt: skip
    probe = None
    if settings.probe_limit and settings.probe_tasks and not stop.is_set():
        probe = forgetting.score(systems, settings.probe_tasks, settings.probe_limit, store,
                                 lambda name: progress(f"Forgetting probe {name}"), stop)  # fmt: skip
    pooled = probe.per_example.groupby("system")[forgetting.SCORE].mean() if probe else {}
    for row in costs:
        if row["asset"]:
            scores = {"task": settings.task, "run": quality.id, **_means(quality, row["method"])}
            if probe is not None and row["method"] in pooled:
                scores |= {"probe_task": probe.task, "probe_run": probe.ids,
                           "probe_rougeL": float(pooled[row["method"]])}  # fmt: skip
            adapters.update_meta(row["asset"], scores=scores)
    return quality, probe


def _means(run: Run, system: str) -> dict:
    rows = run.aggregate[run.aggregate.system == system]
    return {r.score: float(r.mean) for r in rows.itertuples() if r.score in QUALITY_SCORES}


def paired_table(run: Run) -> pd.DataFrame:
    """Each trained method minus the base, per quality score: the 95% paired interval, the sign-flip p-value
    Holm-adjusted across the methods and the verdict (comparison.paired_differences and .verdict, as Compare)."""
    differences = {score: comparison.paired_differences(run.per_example, "base", score, run.seed)
                   for score in QUALITY_SCORES}  # fmt: skip
    rows = [
        {"method": system, "score": score, "difference vs base": d["mean"], "95% low": d["ci_low"],
         "95% high": d["ci_high"], "n": d["n"], "p (Holm)": stats.p_text(d["p_holm"]),
         "verdict": comparison.verdict(d, d["p_holm"], metrics.higher_is_better(score))}
        for system in run.per_example.system.unique()
        for score in QUALITY_SCORES
        if (d := differences[score].get(system))
    ]  # fmt: skip
    return pd.DataFrame(rows)


def cost_table(costs: list[dict]) -> pd.DataFrame:
    """The cost rows of the trained methods (losses are plotted, not tabled), rounded for reading."""
    if not costs:
        return pd.DataFrame()
    table = pd.DataFrame([{k: v for k, v in row.items() if k not in ("losses", "resume step")} for row in costs])
    table = table[["asset", *[c for c in table if c != "asset"]]]  # the saved name first: it was clipped last
    return table.round({"trainable %": 3, "time / step (s)": 2, "peak extra memory (MB)": 0, "optimizer state (MB)": 2,
                        "saved size (MB)": 2, "final loss": 4})  # fmt: skip


def outputs_side_by_side(run: Run, task_name: str) -> pd.DataFrame:
    """One row per example: each system's output in its own column, then the reference (last: a long reference
    first pushed the outputs off screen)."""
    table = run.per_example.pivot(index="example_id", columns="system", values="output")
    systems = list(dict.fromkeys(run.per_example.system))  # base first, then the methods in training order
    task = load_task(task_name)
    table = table[systems]
    table["reference"] = [task.example(i).reference for i in table.index]
    return table.reset_index()


def report(settings: JobSettings, costs: list[dict], quality: Run | None, probe: Probe | None) -> dict:
    """Everything about one fine-tuning comparison, for the JSON download."""
    return {
        "settings": {"name": settings.name, "task": settings.task, "data": data_label(settings),
                     "methods": settings.methods, "configs": {m: vars(c) for m, c in settings.configs.items()}},
        "cost": costs,
        "quality": quality.to_dict({}) if quality else None,
        "forgetting": [run.to_dict({}) for run in probe.runs] if probe else None,
        "forgetting_pooled": forgetting.table(probe).to_dict(orient="records") if probe else None,
        "reference_published": REFERENCE,
    }  # fmt: skip


def adapter_table() -> pd.DataFrame:
    """Saved adapters; fields an older or hand-made asset lacks show as blank, never as an error."""
    rows = [
        {"name": a["name"], "method": a.get("method"), "base": a.get("base"), "steps": a.get("steps"),
         "seed": a.get("seed"), "data": a.get("data"), "data hash": a.get("data_hash"),
         "size (MB)": round(a["size_mb"], 2), "ROUGE-L": (a.get("scores") or {}).get("rougeL"), "model spec": a["spec"]}
        for a in adapters.list_assets()
    ]  # fmt: skip
    return pd.DataFrame(rows)
