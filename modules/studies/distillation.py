"""The distillation study: a student (the base with a share of its decoder layers dropped, '+prune:layers-<pct>')
trained on the teacher's token distributions (the teacher zero-shot, or reading a k-shot prompt;
modules/training/distill.py) by the one training loop (Stop, atomic checkpoints, resume), saved as an asset of the
student, then teacher, student before and student after side by side: ROUGE-L with intervals through the runner and
the store, weight memory and decode speed."""

import json
import shutil
import threading
import time
from dataclasses import asdict, dataclass, replace

import pandas as pd

from evals.runner import Run, System, compare
from evals.tasks import Example, Task, load_task
from modules import inputs, limits, measure
from modules.models import Model, adapters, forget, get_model, quantized, variant_spec
from modules.progress import Progress
from modules.store import default_store
from modules.studies.fine_tuning import checkpoint_dir
from modules.studies.quantization import Report
from modules.techniques import prompting
from modules.training import distill, finetune, supervised, trainer

TASK = "dialogue-summary"
LR = 1e-4  # a full fine-tune of a shallower copy: measured to move the loss within 8 steps here
# What the student learns: the teacher's token distributions (KL; a local teacher on the same tokenizer), or the
# teacher's answers (sequence-level: the next-token loss on what the teacher wrote; any teacher, a server included).
LEARN = ("distributions", "answers")
ANSWERS_FILE = "teacher_answers.json"  # kept beside the checkpoints: a resumed job does not ask the teacher again


@dataclass
class Settings:
    name: str = "student"
    teacher: str = ""  # a model spec; empty: the base itself
    teacher_shots: int = 0  # the teacher reads a k-shot prompt, the student the zero-shot one (0: the same prompt)
    learn: str = "distributions"  # one of LEARN
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
        if self.learn not in LEARN:
            raise ValueError(f"What the student learns must be one of {', '.join(LEARN)}, got '{self.learn[:40]}'.")
        distill.Distill(teacher=None, temperature=self.temperature, alpha=self.alpha)  # its own checks
        return replace(
            self, dropped=inputs.whole(self.dropped, "Layers dropped (%)", 1, 99),
            teacher_shots=inputs.whole(self.teacher_shots, "Teacher's shots", 0, distill.MAX_SHOTS),
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
    student = get_model(student_spec(base, settings.dropped))
    if settings.learn == "distributions":
        if not teacher.capabilities.variants:
            raise ValueError(
                "Learning token distributions needs a local teacher: they are read from its network (a server's few "
                "top log-probabilities are not enough for the KL term). Let the student learn the teacher's answers "
                "instead (sequence-level), which any server can give."
            )
        distill.check_tokenizers(teacher, student)
    task = load_task(TASK)
    folder = checkpoint_dir(settings.name, "distillation")
    if not settings.resume:
        shutil.rmtree(folder, ignore_errors=True)
    cost = {"steps": 0, "time / step (s)": float("nan"), "stopped": True, "resumed from": 0, "curve": [], "asset": None}
    if settings.learn == "answers":
        started = time.perf_counter()
        pairs = answers_of(teacher, task, settings, folder, report, stop)
        if pairs is None:
            return cost, None, pd.DataFrame()
        cost["teacher answers (s)"] = time.perf_counter() - started
        objective = supervised
    else:
        pairs = task.split("train")
        objective = distill.Distill(teacher=teacher.hf, temperature=settings.temperature, alpha=settings.alpha,
                                    teacher_shots=settings.teacher_shots)  # fmt: skip
    report(Progress("Preparing: tokenizing the training pairs…", 0, settings.steps))
    rows = objective.rows(student, task, pairs, settings.max_length)
    net = finetune.prepare(student, finetune.Config(method="full", seed=settings.seed))
    curve = []

    def on_step(event):
        curve.append({"step": event.done, "loss": event.payload["loss"], "seconds": event.payload["seconds"]})
        report(Progress("Distilling", event.done, event.total, {"curve": list(curve)}))

    result = trainer.train(net, rows, steps=settings.steps, batch_size=settings.batch_size,
                           micro_batch=settings.batch_size, lr=LR, seed=settings.seed,
                           pad_id=student.tokenizer.pad_token_id, folder=folder, checkpoint_every=settings.steps,
                           resume=settings.resume, stop=stop, objective=objective, on_step=on_step)  # fmt: skip
    cost |= {"steps": result.steps_done, "time / step (s)": result.seconds_per_step, "stopped": result.stopped,
             "resumed from": result.resumed_from, "curve": curve}  # fmt: skip
    if result.stopped:
        return cost, None, pd.DataFrame()
    finetune.cast_parameters(net, student.dtype)
    meta = {"method": "full", "base": student.spec, "base_label": student.label, "task": TASK,
            "steps": result.steps_done, "seed": settings.seed, "losses": result.losses, "distilled_from": teacher.spec,
            "temperature": settings.temperature, "alpha": settings.alpha,
            "teacher_shots": settings.teacher_shots, "learned": settings.learn}  # fmt: skip
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


def answers_of(teacher: Model, task: Task, settings: Settings, folder, report: Report,
               stop: threading.Event) -> list[Example] | None:  # fmt: skip
    """The training pairs with the teacher's answers as references: as many as the job's steps x batch will read
    (at most the train split), read back from the job's folder when resuming; None when stopped."""
    saved = folder / ANSWERS_FILE
    if settings.resume and saved.exists():
        return [Example(**row) for row in json.loads(saved.read_text(encoding="utf-8"))]
    pairs = task.split("train")[: settings.steps * settings.batch_size]
    report(Progress(f"The teacher answers {len(pairs)} training prompts…", 0, len(pairs)))
    written = distill.teacher_answers(teacher, task, pairs, settings.teacher_shots, stop, lambda done, total: report(
        Progress("The teacher answers the training prompts", done, total)))  # fmt: skip
    if written is not None:
        folder.mkdir(parents=True, exist_ok=True)
        partial = saved.with_suffix(".tmp")
        partial.write_text(json.dumps([asdict(pair) for pair in written]), encoding="utf-8")
        partial.replace(saved)  # atomic: a crash leaves the old file or none, never half of one
    return written


def side_by_side(columns: dict[str, Model], scored: Run) -> pd.DataFrame:
    rows = []
    for name, model in columns.items():
        score = scored.aggregate[(scored.aggregate.system == name) & (scored.aggregate.score == "rougeL")]
        local = model.capabilities.variants  # a server's weights are not here: no layers, size or local speed
        rows.append({
            "model": name, "spec": model.spec,
            "decoder layers": model.hf.config.num_hidden_layers if local else float("nan"),
            "weight MB": quantized.weight_bytes(model.hf) / 2**20 if local else float("nan"),
            "tok/s batch 1": measure.decode_speed(model, 1, 16, 1) if local else float("nan"),  # a server's own
            "rougeL": score["mean"].iloc[0] if len(score) else float("nan"),
            "rougeL 95% CI": f"[{score.ci_low.iloc[0]:.3f}, {score.ci_high.iloc[0]:.3f}]" if len(score) else "",
        })  # fmt: skip
    return pd.DataFrame(rows)
