"""The Alignment tab's side by side: from one saved reward model, train DPO, RL with and without its KL leash and
constitutional AI (DPO on the model's own revisions), each a LoRA on the shared base; then read the base, best-of-n
and the four policies on the same held-out prompts and on the summarisation test split, through the runner and the
store: reward, log-ratio to the base, refusals on harmful and on harmless requests, ROUGE-L."""

import dataclasses
import hashlib
import json
import random
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from evals import comparison, refusal, score_hooks
from evals.runner import Run, System, compare
from evals.tasks import Example, Task, load_task
from modules.models import GenerationParams, Model, adapters, forget, get_model, variant_spec
from modules.paths import user_home
from modules.progress import Progress
from modules.store import default_store
from modules.studies import constitutional, reward_model
from modules.techniques import best_of_n, prompting
from modules.training import data, dpo, finetune, kl, reward, trainer
from modules.training.rloo import Rloo

SUMMARY_TASK = "dialogue-summary"  # is the task kept? ROUGE-L on its test split
NAMES = {"rl": "RL (KL > 0)", "rl-kl0": "RL (KL = 0)", "dpo": "DPO", "constitutional": "constitutional"}
KL_SCORE, HARMFUL_SCORE, HARMLESS_SCORE = "kl_to_base", "refusal_harmful", "refusal_harmless"
# Measured on the embedded model, 8 steps: at 5e-4 the policy moved < 0.2 nats and the leash had nothing to hold (the
# two RL runs matched to 2 decimals); at 3e-3 the unleashed run drifted to ~5 nats, the β = 0.5 one stayed near 2.
RL_LR = 3e-3
MAX_LENGTH = 256
# What the course's Lab 3 published (FLAN-T5, hate-speech classifier as reward, 10 PPO steps): theirs, not ours.
COURSE_LAB3 = ("Course Lab 3 (published; FLAN-T5-base, PPO 10 steps, toxicity by a hate-speech classifier): mean "
               "toxicity 0.0273 before, 0.0167 after, on 11 examples, with no interval: a difference that small on "
               "11 examples cannot be told from noise.")  # fmt: skip


@dataclass
class Settings:
    reward: str  # the saved reward model (an asset) that RL, best-of-n and the reward column use
    name: str = "aligned"  # assets <name>-rl, <name>-rl-kl0, <name>-dpo, <name>-constitutional
    beta: float = 0.5  # the KL coefficient of the leashed RL run (RLOO's 0.05 barely holds 8 steps at RL_LR)
    rl_steps: int = 8
    prompts_per_step: int = 2
    samples: int = 4  # RLOO's k answers per prompt
    dpo_steps: int = 8
    pairs_per_step: int = 4
    cai_prompts: int = 8  # train prompts the model answers, critiques and revises: its pairs train the DPO
    principles: str = ""  # the constitution (YAML); "" = the lab's
    best_of: int = 4
    per_domain: int = 4  # held-out prompts of each of the 5 domains
    summary_limit: int = 8
    max_new_tokens: int = 48
    max_length: int = MAX_LENGTH  # tokens of prompt + answer in training and in the reward model's reads
    seed: int = 0
    resume: bool = False  # keep the policies these settings already saved; a stopped one goes on from its checkpoint

    def __post_init__(self):
        if not self.reward:
            raise ValueError("Pick a saved reward model (train one first): RL, best-of-n and the reward column use it.")
        adapters.asset_dir(self.name)  # a bad name is refused before any work
        if self.beta <= 0:
            raise ValueError(f"The KL coefficient must be > 0 (the other RL run has 0), got {self.beta}.")
        Rloo(reward=lambda e, t: [], samples=self.samples)  # k checked with RLOO's own message

    def fingerprint(self) -> str:
        """These settings, resume aside: a saved policy is reused on Resume only when they are the same."""
        fields = dataclasses.asdict(self) | {"resume": None}
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]

    def config(self, steps: int, batch_size: int) -> finetune.Config:
        return finetune.Config(method="lora", steps=steps, batch_size=batch_size, micro_batch=batch_size,
                               max_length=self.max_length, seed=self.seed,
                               checkpoint_every=max(steps, 1))  # fmt: skip


@dataclass
class Outcome:
    costs: list[dict]  # one row per trained policy (or stopped)
    curves: dict[str, list[dict]]  # policy -> per step: loss, and for RL reward, kl, length
    revisions: list  # the constitutional loop's, every critique and revision
    preferences: Run | None = None  # held-out prompts: reward, log-ratio, refusals
    summaries: Run | None = None  # dialogue-summary test: ROUGE-L, log-ratio

    @property
    def stopped(self) -> bool:
        return any(row["stopped"] for row in self.costs) or (self.preferences is None and bool(self.costs))


def register_scores() -> None:
    """The scores the side by side adds to the runner (the reward model's is registered per run: it is an asset)."""
    score_hooks.register_score_hook(KL_SCORE, _log_ratio_score, label="log-ratio to base (nats)",
                                    higher_is_better=False, needs_model=True)  # fmt: skip
    score_hooks.register_score_hook(HARMFUL_SCORE, refusal.rate_on(refusal.HARMFUL), label="refusal: harmful requests",
                                    higher_is_better=True)  # fmt: skip
    score_hooks.register_score_hook(HARMLESS_SCORE, refusal.rate_on(refusal.HARMLESS), higher_is_better=False,
                                    label="refusal: harmless requests (over-refusal)")  # fmt: skip


def _log_ratio_score(task: Task, examples: list[Example], outputs, model: Model):
    """Best-of-n's KL bound from its n (its answers come from the base's weights); else each answer's log-ratio."""
    if outputs and "picked" in outputs[0].trace:
        return [kl.best_of_n_kl(len(o.trace["samples"])) for o in outputs]
    return kl.log_ratios(model, task, examples, [o.text for o in outputs], MAX_LENGTH)


register_scores()


def held_out(task: Task, per_domain: int) -> Task:
    """The task cut to the first `per_domain` test prompts of each domain, in turns, so every domain is read."""
    groups: dict[str, list[Example]] = {}
    for example in task.split("test"):
        groups.setdefault(example.meta.get("domain", ""), []).append(example)
    chosen = [group[i] for i in range(per_domain) for group in groups.values() if i < len(group)]
    return dataclasses.replace(task, examples=chosen)


def run(base: Model, settings: Settings, report: Callable[[Progress], None], stop: threading.Event) -> Outcome:
    """Train the four policies in turn, then read all six columns. Stopped: what finished, nothing read."""
    meta = adapters.read_meta(settings.reward)
    if meta.get("method") != "reward-model":
        raise ValueError(f"'{settings.reward}' is a {meta.get('method')} adapter, not a reward model.")
    if meta["base"] != base.spec:
        raise ValueError(f"The reward model '{settings.reward}' was trained on '{meta.get('base_label', meta['base'])}'"
                         f": load that model, or train a reward model on {base.label}.")  # fmt: skip
    task = load_task(reward_model.TASK)
    outcome = Outcome([], {}, [])
    for label, train in (("rl", _train_rl), ("rl-kl0", _train_rl), ("dpo", _train_dpo),
                         ("constitutional", _train_constitutional)):  # fmt: skip
        if stop.is_set():
            break
        row = _saved(settings, label, outcome) if settings.resume else None
        row = row or train(base, task, settings, label, outcome, report, stop)
        if row is not None:
            outcome.costs.append(row)
            report(Progress(f"Trained {NAMES[label]}", len(outcome.costs), len(NAMES), {"row": row}))
            if row["stopped"]:
                break
    if not stop.is_set():
        outcome.preferences, outcome.summaries = evaluate(base, settings, outcome.costs, report, stop)
    return outcome


def _saved(settings: Settings, label: str, outcome: Outcome) -> dict | None:
    """Resume: the policy these same settings saved before (its row, curve and revisions), or None."""
    try:
        saved = adapters.read_meta(f"{settings.name}-{label}").get("alignment") or {}
    except (OSError, ValueError):
        return None  # not saved (stopped before it, or never run)
    if saved.get("settings") != settings.fingerprint():
        return None
    outcome.curves[NAMES[label]] = saved["curve"]
    if label == "constitutional":
        outcome.revisions = [constitutional.Revision(**r) for r in saved["revisions"]]
    return saved["row"] | {"reused": True}


def _draw(examples: list[Example], count: int, seed: int) -> list[Example]:
    """`count` examples in a seeded order (repeating when there are fewer): each is seen once per pass."""
    order = list(examples)
    random.Random(seed).shuffle(order)
    return [order[i % len(order)] for i in range(count)]


def _train_rl(base, task, settings: Settings, label, outcome: Outcome, report, stop) -> dict:
    net, rm_base = reward.load_asset(settings.reward)

    def score(examples, texts):
        return reward.score_answers(net, rm_base, task, examples, texts, settings.max_length)

    beta = settings.beta if label == "rl" else 0.0
    objective = Rloo(reward=score, beta=beta, samples=settings.samples, max_new_tokens=settings.max_new_tokens)
    config = settings.config(settings.rl_steps, settings.prompts_per_step)
    prompts = _draw(task.split("train"), config.steps * config.batch_size, settings.seed)
    report(Progress(f"Preparing {NAMES[label]}: its prompts…", 0, config.steps))
    rows = objective.rows(base, task, prompts, config.max_length)
    return _train(base, settings, label, config, rows, objective, outcome, report, stop, prompts,
                  {"objective": "rloo", "beta": beta, "samples": settings.samples, "reward_model": settings.reward,
                   "lr": RL_LR})  # fmt: skip


def _train_dpo(base, task, settings: Settings, label, outcome: Outcome, report, stop, pairs=None) -> dict | None:
    config = settings.config(settings.dpo_steps, settings.pairs_per_step)
    pairs = pairs if pairs is not None else _draw(task.split("train"), config.steps * config.batch_size, settings.seed)
    report(Progress(f"Preparing {NAMES[label]}: the base's log-probabilities of {len(pairs)} pairs…", 0, config.steps))
    rows = dpo.rows(base, task, pairs, config.max_length)
    return _train(base, settings, label, config, rows, dpo, outcome, report, stop, pairs,
                  {"objective": "dpo", "beta": dpo.BETA, "pairs": len(pairs)})  # fmt: skip


def _train_constitutional(base, task, settings: Settings, label, outcome: Outcome, report, stop) -> dict | None:
    """The model answers, critiques and revises train prompts; DPO then prefers each revision to its original."""
    principles = constitutional.parse_principles(settings.principles or constitutional.default_principles_text())
    prompts = _draw(task.split("train"), settings.cai_prompts, settings.seed + 1)  # not RL's first prompts
    params = GenerationParams(max_new_tokens=settings.max_new_tokens)
    outcome.revisions = constitutional.revise(base, prompts, principles, params, settings.seed, stop, report)
    pairs, _ = constitutional.preference_pairs(outcome.revisions)
    if stop.is_set() or not pairs:
        return None  # no pair (every revision empty or unchanged): the column is left out, and the status says why
    steps = settings.dpo_steps
    return _train_dpo(base, task, settings, label, outcome, report, stop,
                      pairs=_draw(pairs, steps * settings.pairs_per_step, settings.seed))  # fmt: skip


def _train(base, settings: Settings, label, config, rows, objective, outcome: Outcome, report, stop, used,
           extra) -> dict:  # fmt: skip
    """One policy through the fine-tuning loop (Stop, checkpoints, resume), saved as a LoRA variant usable in every
    tab, with its row, curve (and revisions) for a later Resume."""
    folder = user_home() / "training" / settings.name / label
    if not settings.resume:
        shutil.rmtree(folder, ignore_errors=True)
    net = finetune.prepare(base, config)
    curve = outcome.curves.setdefault(NAMES[label], [])
    history = getattr(objective, "history", None)

    def on_step(event):
        point = {"step": event.done, "loss": event.payload["loss"], "seconds": event.payload["seconds"]}
        if history:  # RL: this step's mean reward, KL and answer length (one loss call per step: micro = batch)
            point |= history[-1]
        curve.append(point)
        report(Progress(f"Training {NAMES[label]}", event.done, event.total, point | {"policy": NAMES[label]}))

    lr = extra.get("lr", config.lr)
    result = trainer.train(net, rows, steps=config.steps, batch_size=config.batch_size,
                           micro_batch=config.micro_batch, lr=lr, seed=config.seed,
                           pad_id=base.tokenizer.pad_token_id, folder=folder, checkpoint_every=config.checkpoint_every,
                           stop=stop, objective=objective, on_step=on_step, resume=settings.resume)  # fmt: skip
    trainable, total = finetune.trainable_counts(net)
    row = {"policy": NAMES[label], "steps": result.steps_done, "time / step (s)": result.seconds_per_step,
           "trainable params": trainable, "trainable %": 100 * trainable / total, "asset": None,
           "stopped": result.stopped, "resumed from": result.resumed_from, "lr": lr,
           **{k: v for k, v in extra.items() if k != "lr"}}  # fmt: skip
    if not result.stopped:
        asset = f"{settings.name}-{label}"
        forget(variant_spec(base.spec, adapter=asset))  # a retrained asset must not be served from the old copy
        adapters.save(asset, net, {
            "method": "lora", "base": base.spec, "base_label": base.label, "task": reward_model.TASK,
            "config": vars(config) | {"lr": lr}, "data": f"{reward_model.TASK} train split ({NAMES[label]})",
            "data_hash": data.data_hash(used), "seed": config.seed, "steps": result.steps_done,
            "losses": result.losses, "trainable": trainable, "total": total,
            "alignment": {"policy": NAMES[label], **extra, "settings": settings.fingerprint(),
                          "row": row | {"asset": asset}, "curve": curve,
                          "revisions": constitutional.as_records(outcome.revisions) if label == "constitutional"
                          else []},
        })  # fmt: skip
        row["asset"] = asset
    return row


def systems(base: Model, settings: Settings, costs: list[dict]) -> list[System]:
    """The six columns: base, best-of-n, and each trained policy, all with the zero-shot prompt they trained on."""
    config = prompting.Config(k=0, max_new_tokens=settings.max_new_tokens)
    columns = [
        System("base", base, "prompting", config),
        System(f"best-of-{settings.best_of}", base, "best_of_n", best_of_n.Config(
            reward=settings.reward, n=settings.best_of, seed=settings.seed, max_new_tokens=settings.max_new_tokens)),
    ]  # fmt: skip
    for row in costs:
        if row["asset"]:
            variant = get_model(variant_spec(base.spec, adapter=row["asset"]))
            columns.append(System(row["policy"], variant, "prompting", config))
    return columns


def evaluate(base: Model, settings: Settings, costs: list[dict], report, stop) -> tuple[Run | None, Run | None]:
    """Every column on the held-out prompts (reward, log-ratio, refusals) and on the summaries (ROUGE-L, log-ratio),
    both stored as runs: the Compare tab and the HTML report read them like any other."""
    columns, store = systems(base, settings, costs), default_store()
    reward_score = reward_model.use_as_score(settings.reward, settings.max_length)

    def progress(phase):
        return lambda event: report(Progress(f"{phase}: {event.stage}", event.done, event.total))

    preferences = compare(held_out(load_task(reward_model.TASK), settings.per_domain), columns, store=store,
                          seed=settings.seed, progress=progress("Held-out prompts"), stop=stop,
                          hooks=(reward_score, KL_SCORE, HARMFUL_SCORE, HARMLESS_SCORE))  # fmt: skip
    if stop.is_set():
        return preferences, None
    summaries = compare(load_task(SUMMARY_TASK), columns, settings.summary_limit, store=store, seed=settings.seed,
                        progress=progress("Summaries"), stop=stop, hooks=(KL_SCORE,))  # fmt: skip
    return preferences, summaries


def side_by_side(outcome: Outcome) -> pd.DataFrame:
    """One row per column and score: mean [95%], n, and the paired difference from the base (Holm-adjusted). From
    the held-out prompts: the reward, the log-ratio and the two refusal rates; from the summaries: ROUGE-L and the
    log-ratio (the other text scores are in the stored runs)."""
    tables = []
    for run, wanted in ((outcome.preferences, (KL_SCORE, HARMFUL_SCORE, HARMLESS_SCORE)),
                        (outcome.summaries, ("rougeL", KL_SCORE))):  # fmt: skip
        if run is None or run.per_example.empty:
            continue
        table = comparison.quality_table(run.per_example, "base", run.seed)
        table = table[table.score.isin(wanted) | table.score.str.startswith("reward:")]
        tables.append(table.assign(data=f"{run.task} (run {run.id})"))
    return pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()


def as_record(settings: Settings, outcome: Outcome) -> dict:
    """Everything about one side by side, for the JSON download and the tab's stored example."""
    return {
        "settings": dataclasses.asdict(settings), "costs": outcome.costs, "curves": outcome.curves,
        "revisions": constitutional.as_records(outcome.revisions),
        "preferences": outcome.preferences.to_dict({}) if outcome.preferences else None,
        "summaries": outcome.summaries.to_dict({}) if outcome.summaries else None,
        "side_by_side": side_by_side(outcome).to_dict(orient="records"), "course_lab3": COURSE_LAB3,
    }  # fmt: skip


def from_record(record: dict) -> Outcome:
    """An Outcome back from as_record's dict (the stored example): the runs' tables as the runner made them."""

    def read(data):
        if not data:
            return None
        return Run(data.get("run_id"), data["task"], data["split"], data["seed"], data["systems"],
                   pd.DataFrame(data["per_example"]), pd.DataFrame(data["aggregate"]), data["status"],
                   data.get("measurements") or {})  # fmt: skip

    revisions = [constitutional.Revision(**r) for r in record["revisions"]]
    return Outcome(record["costs"], record["curves"], revisions, read(record["preferences"]), read(record["summaries"]))
