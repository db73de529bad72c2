"""The distillation study: a student (the base with a share of its decoder layers dropped, '+prune:layers-<pct>')
trained on the teacher's token distributions (the teacher zero-shot, or reading a k-shot prompt;
modules/training/distill.py) by the one training loop (Stop, atomic checkpoints, resume), saved as an asset of the
student, then teacher, student before and student after side by side: ROUGE-L with intervals through the runner and
the store, weight memory and decode speed."""

import shutil
import threading
from dataclasses import dataclass, replace

import pandas as pd

from evals.runner import Run, System, compare
from evals.tasks import load_task
from modules import inputs, limits, measure
from modules.models import Model, adapters, forget, get_model, quantized, variant_spec
from modules.progress import Progress
from modules.store import default_store
from modules.studies.fine_tuning import checkpoint_dir
from modules.studies.quantization import Report
from modules.techniques import prompting
from modules.training import distill, finetune, trainer

TASK = "dialogue-summary"
LR = 1e-4  # a full fine-tune of a shallower copy: measured to move the loss within 8 steps here


@dataclass
class Settings:
    name: str = "student"
    teacher: str = ""  # a model spec; empty: the base itself
    teacher_shots: int = 0  # the teacher reads a k-shot prompt, the student the zero-shot one (0: the same prompt)
    dropped: int = 50  # percent of the decoder layers the student drops
    steps: int = 8
    batch_size: int = 4
    temperature: float = 2.0
    alpha: float = 0.5  # the KL term's share; the rest is the next-token loss on the references
    max_length: int = 256
    limit: int = 5  # test examples scored
    seed: int = 0
    resume: bool = False

    def checked(self) -> "Settings":
        """These settings with whole numbers where whole numbers belong; a clear message for anything out of range."""
        adapters.asset_dir(self.name)  # validates the name
        distill.Distill(teacher=None, temperature=self.temperature, alpha=self.alpha)  # its own checks
        return replace(
            self, dropped=inputs.whole(self.dropped, "Layers dropped (%)", 1, 99),
            teacher_shots=inputs.whole(self.teacher_shots, "Teacher's shots", 0, 8),
            steps=inputs.whole(self.steps, "Steps", 1, limits.max_train_steps()),
            batch_size=inputs.whole(self.batch_size, "Batch size", 1, 64),
            max_length=inputs.whole(self.max_length, "Max length", 32, 4096),
            limit=inputs.whole(self.limit, "Test examples", 1, 40), seed=inputs.whole(self.seed, "Seed", 0, 2**31 - 1),
        )  # fmt: skip


def student_spec(base: Model, dropped: int) -> str:
    return variant_spec(base.spec, prune=f"layers-{int(dropped)}")


def run(base: Model, settings: Settings, report: Report, stop: threading.Event) -> tuple[dict, Run, pd.DataFrame]:
    """Train, save and compare; (cost row with the loss curve, the stored run, the side-by-side table)."""
    teacher = get_model(settings.teacher) if settings.teacher.strip() else base
    if not teacher.capabilities.variants:
        raise ValueError("The teacher must be a local model: its token distributions are read from its network "
                         "(a server's few top log-probabilities are not enough for the KL term).")  # fmt: skip
    student = get_model(student_spec(base, settings.dropped))
    distill.check_tokenizers(teacher, student)
    objective = distill.Distill(teacher=teacher.hf, temperature=settings.temperature, alpha=settings.alpha,
                                teacher_shots=settings.teacher_shots)  # fmt: skip
    task = load_task(TASK)
    report(Progress("Preparing: tokenizing the training pairs…", 0, settings.steps))
    rows = objective.rows(student, task, task.split("train"), settings.max_length)
    folder = checkpoint_dir(settings.name, "distillation")
    if not settings.resume:
        shutil.rmtree(folder, ignore_errors=True)
    net = finetune.prepare(student, finetune.Config(method="full", seed=settings.seed))
    curve = []

    def on_step(event):
        curve.append({"step": event.done, "loss": event.payload["loss"], "seconds": event.payload["seconds"]})
        report(Progress("Distilling", event.done, event.total, {"curve": list(curve)}))

    result = trainer.train(net, rows, steps=settings.steps, batch_size=settings.batch_size,
                           micro_batch=settings.batch_size, lr=LR, seed=settings.seed,
                           pad_id=student.tokenizer.pad_token_id, folder=folder, checkpoint_every=settings.steps,
                           resume=settings.resume, stop=stop, objective=objective, on_step=on_step)  # fmt: skip
    cost = {"steps": result.steps_done, "time / step (s)": result.seconds_per_step, "stopped": result.stopped,
            "resumed from": result.resumed_from, "curve": curve, "asset": None}  # fmt: skip
    if result.stopped:
        return cost, None, pd.DataFrame()
    finetune.cast_parameters(net, student.dtype)
    meta = {"method": "full", "base": student.spec, "base_label": student.label, "task": TASK,
            "steps": result.steps_done, "seed": settings.seed, "losses": result.losses, "distilled_from": teacher.spec,
            "temperature": settings.temperature, "alpha": settings.alpha,
            "teacher_shots": settings.teacher_shots}  # fmt: skip
    after_spec = variant_spec(student.spec, adapter=settings.name)
    forget(after_spec)  # a retrained student must not be served from the old copy
    adapters.save(settings.name, net, meta)
    cost["asset"] = after_spec
    del net
    shots = settings.teacher_shots
    teacher_name = f"teacher ({shots}-shot)" if shots else "teacher"  # scored as it taught: with its shots
    columns = {teacher_name: teacher, "student before": student, "student after": get_model(after_spec)}
    report(Progress("Scoring teacher, student before and after…", 0, 1))
    systems = [System(name, model, "prompting", prompting.Config(k=shots if name == teacher_name else 0))
               for name, model in columns.items()]  # fmt: skip
    scored = compare(task, systems, settings.limit, store=default_store(), stop=stop, progress=lambda event: report(
        Progress(f"Scoring: {event.stage}", event.done, event.total)))  # fmt: skip
    return cost, scored, side_by_side(columns, scored)


def side_by_side(columns: dict[str, Model], scored: Run) -> pd.DataFrame:
    rows = []
    for name, model in columns.items():
        score = scored.aggregate[(scored.aggregate.system == name) & (scored.aggregate.score == "rougeL")]
        rows.append({
            "model": name, "spec": model.spec, "decoder layers": model.hf.config.num_hidden_layers,
            "weight MB": quantized.weight_bytes(model.hf) / 2**20,
            "tok/s batch 1": measure.decode_speed(model, 1, 16, 1),
            "rougeL": score["mean"].iloc[0] if len(score) else float("nan"),
            "rougeL 95% CI": f"[{score.ci_low.iloc[0]:.3f}, {score.ci_high.iloc[0]:.3f}]" if len(score) else "",
        })  # fmt: skip
    return pd.DataFrame(rows)
