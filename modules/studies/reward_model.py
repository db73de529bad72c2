"""Train a reward model on a task's preference pairs (its train split) and read it on the held-out pairs: pairwise
accuracy with its Wilson interval, overall and per HHH property, and every pair's two rewards (for histograms)."""

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from evals import score_hooks, stats
from evals.tasks import Example, load_task
from modules.models import Model, adapters
from modules.paths import user_home
from modules.progress import Progress
from modules.training import data, finetune, reward, trainer

TASK = "hhh-preferences"


@dataclass
class Settings:
    name: str  # the asset: <name>
    task: str = TASK
    steps: int = 30
    batch_size: int = 8
    max_length: int = 256
    r: int = 8
    seed: int = 0
    eval_limit: int = 60  # held-out pairs to read

    def config(self) -> finetune.Config:
        return finetune.Config(method="reward-model", objective="reward", steps=self.steps, batch_size=self.batch_size,
                               max_length=self.max_length, r=self.r, alpha=2 * self.r, seed=self.seed)  # fmt: skip


@dataclass
class Result:
    asset: str | None  # None when stopped before the end
    losses: list[float]
    seconds_per_step: float
    trainable: int
    total: int
    pairs: pd.DataFrame  # one held-out pair per row: id, property, domain, chosen, rejected, correct
    accuracy: dict  # stats.wilson_ci of correct: mean, ci_low, ci_high, n


def train_and_read(base: Model, settings: Settings, report: Callable[[Progress], None],
                   stop: threading.Event) -> Result:  # fmt: skip
    """Train the reward model from a fresh head, save it as an asset, then score the held-out pairs."""
    task, config = load_task(settings.task), settings.config()
    train_pairs = task.split("train")
    report(Progress("Tokenizing the preference pairs…", 0, settings.steps))
    rows = reward.rows(base, task, train_pairs, config.max_length)
    net = finetune.prepare(base, config)
    result = trainer.train(
        net, rows, steps=config.steps, batch_size=config.batch_size, micro_batch=config.micro_batch, lr=config.lr,
        seed=config.seed, pad_id=base.tokenizer.pad_token_id, folder=user_home() / "training" / settings.name,
        checkpoint_every=config.checkpoint_every, stop=stop, objective=reward,
        on_step=lambda event: report(Progress("Training the reward model", event.done, event.total, event.payload)),
    )  # fmt: skip
    trainable, total = finetune.trainable_counts(net)
    if result.stopped:  # a half-trained head is neither kept nor read; its checkpoint is, for a resume
        return Result(None, result.losses, result.seconds_per_step, trainable, total, pd.DataFrame(), {})
    meta = {"method": "reward-model", "base": base.spec, "base_label": base.label, "task": settings.task,
            "config": vars(config) | {"lr": config.lr}, "data": f"{settings.task} train split",
            "data_hash": data.data_hash(train_pairs), "pairs": len(train_pairs), "seed": config.seed,
            "steps": result.steps_done, "losses": result.losses, "trainable": trainable, "total": total}  # fmt: skip
    adapters.save(settings.name, net, meta)
    held_out = task.split("test")[: settings.eval_limit]
    report(Progress(f"Reading {len(held_out)} held-out pairs…", 0, len(held_out)))
    pairs = read_pairs(net.eval(), base, task, held_out, config.max_length)
    adapters.update_meta(settings.name, scores={"pairwise_accuracy": accuracy(pairs)["mean"], "held_out": len(pairs)})
    return Result(settings.name, result.losses, result.seconds_per_step, trainable, total, pairs, accuracy(pairs))


def read_pairs(net, base: Model, task, pairs: list[Example], max_length: int) -> pd.DataFrame:
    """Each pair's two rewards and whether the chosen answer scored higher."""
    started = time.perf_counter()
    scored = reward.pair_rewards(net, reward.rows(base, task, pairs, max_length), base.tokenizer.pad_token_id)
    table = pd.DataFrame([
        {"id": pair.id, "property": pair.meta.get("property", ""), "domain": pair.meta.get("domain", ""),
         "chosen": chosen, "rejected": rejected, "correct": chosen > rejected}
        for pair, (chosen, rejected) in zip(pairs, scored)
    ])  # fmt: skip
    table.attrs["seconds"] = time.perf_counter() - started
    return table


def accuracy(pairs: pd.DataFrame) -> dict:
    """Pairwise accuracy (chosen above rejected) with its 95% Wilson interval."""
    return stats.wilson_ci(pairs.correct.astype(float))


def accuracy_by(pairs: pd.DataFrame, column: str = "property") -> pd.DataFrame:
    """Accuracy per HHH property (or domain), each with its own interval and n."""
    rows = [{column: value, **accuracy(group)} for value, group in pairs.groupby(column, sort=True)]
    return pd.DataFrame(rows).rename(columns={"mean": "accuracy", "ci_low": "95% low", "ci_high": "95% high"})


def saved() -> list[str]:
    """This visitor's saved reward models (assets whose method is reward-model)."""
    return [a["name"] for a in adapters.list_assets() if a.get("method") == "reward-model"]


def use_as_score(asset: str, max_length: int = 256) -> str:
    """Register the saved reward model `asset` as the score 'reward:<asset>' (higher is better) and return that
    name: any run can then pass hooks=[name] and the tables carry its mean, interval and paired differences."""
    net, base = reward.load_asset(asset)  # loaded once here: a clear error now, not mid-run
    # Hooks are process-wide and two visitors may both name a reward model "rm": the name carries which folder.
    name = f"reward:{asset}:{hashlib.sha256(str(adapters.asset_dir(asset)).encode()).hexdigest()[:8]}"

    def score(task, examples, outputs):
        return reward.score_answers(net, base, task, examples, [output.text for output in outputs], max_length)

    score_hooks.register_score_hook(name, score, label=f"reward ({asset})", higher_is_better=True)
    return name
