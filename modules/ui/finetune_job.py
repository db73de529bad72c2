"""The fine-tuning job as the tab runs it: one at a time in this app (a second is told it is busy), losses and costs
as they come, then quality, forgetting and a download; or, stopped, where Resume continues."""

import threading

import gradio as gr

from evals import stats
from modules.models import ModelSpec
from modules.studies import fine_tuning, forgetting
from modules.ui import charts, results
from modules.ui.errors import user_errors
from modules.ui.job import run_job
from modules.ui.model_bar import load_model
from modules.ui.stop_flag import StopFlag

PLOT_EVERY_S = 1.0  # the loss plot and status at most once a second: a plot per step froze a page on a fast model
BUSY = "Busy: a fine-tuning job is already running in this app. Wait for it to finish or press Stop."


def make_handler(busy: threading.Lock, resume: bool, outputs: list):
    def handler(spec, flag: StopFlag, progress=gr.Progress(), **values):
        """Generator of {output: value} for outputs: status, loss plot, cost, quality table, quality chart, paired
        diff, outputs side by side, forgetting, file. values: the tab's controls by name (INPUT_NAMES)."""
        with user_errors():
            settings = fine_tuning.JobSettings.from_values(values, resume)
        if not busy.acquire(blocking=False):
            raise gr.Error(BUSY)
        try:
            yield from _run(outputs, spec, flag, settings, progress)
        finally:
            busy.release()

    return handler


def _run(outputs: list, spec, flag: StopFlag, settings: fine_tuning.JobSettings, progress):
    with user_errors():
        base = load_model(spec, progress)
    if ModelSpec.parse(base.spec).adapter:
        raise gr.Error("The model bar holds an adapter variant: load its base model to fine-tune from it.")
    losses, costs = {}, []
    total_steps = sum(c.steps for c in settings.configs.values()) * (2 if settings.mixture else 1)
    status, loss_plot, cost_table, *_ = outputs

    def work(report, stop):  # Stop, a closed page or an error: it stops at its next check
        trained = fine_tuning.train_methods(base, settings, report, stop)
        if stop.is_set() or not any(row["asset"] for row in trained):
            return trained, None, None
        return trained, *fine_tuning.evaluate(base, settings, trained, report, stop)

    def on_update(value):
        step = value.payload  # a training step: method, loss, seconds; a trained method: its cost row
        if "loss" in step:
            losses.setdefault(step["method"], []).append(step["loss"])
            done = sum(len(v) for v in losses.values())
            progress(min(done / total_steps, 1.0), desc=f"{step['method']} step {value.done}")
            left = step["seconds"] * (total_steps - done)  # at this step's pace; scoring comes after
            line = (f"Training **{step['method']}**: step {value.done}/{value.total} ({done}/{total_steps} steps in "
                    f"all), loss {step['loss']:.4f}, {step['seconds']:.1f} s/step · about {left:.0f} s of training "
                    "left")  # fmt: skip
            return {status: line, loss_plot: charts.losses(losses)}
        if "row" in step:
            costs.append(step["row"])
            return {cost_table: fine_tuning.cost_table(costs)}
        progress(value.fraction, desc=value.stage)
        return None  # run_job shows the stage, the count and the time so far and left

    def on_result(value):
        return dict(zip(outputs, _finished(value, base, settings)))

    # The stored example is gone once a run starts: only this run's numbers from here on.
    first = {output: None for output in outputs} | {status: "Starting: the training data, a fresh copy of the base…"}
    yield from run_job(flag, work, on_update, on_result, first, status=status, every=PLOT_EVERY_S)


def _finished(value, base, settings: fine_tuning.JobSettings) -> tuple:
    """Every output's value once the job ended: done, or stopped (then the kept checkpoints and how to resume)."""
    costs, quality, probe = value
    losses = {row["method"]: row["losses"] for row in costs}
    notes = " ".join(settings.warnings[:5])
    if quality is None:
        stopped = [row for row in costs if row["stopped"]]
        where = "".join(f" Resume continues {row['method']} from "
                        + (f"step {row['resume step']}." if row["resume step"] else "the start (no checkpoint yet).")
                        for row in stopped)  # fmt: skip
        status = (
            f"Stopped during {', '.join(row['method'] for row in stopped) or 'training'}; the last checkpoint is kept "
            f"under `LAB_HOME/training/{settings.name}/`.{where} Press **Resume** with the same settings to continue. "
        )
        return status + notes, charts.losses(losses), fine_tuning.cost_table(costs), *[None] * 7
    n = quality.per_example.example_id.nunique()
    status = (
        f"**Done.** Quality: run {quality.id}, task `{settings.task}` test split, {n} examples, zero-shot prompt, "
        f"greedy, seed 0, base {base.label}; means with 95% intervals ({stats.INTERVALS}). "
        "Adapters saved as "
        + ", ".join(f"`{row['asset']}`" for row in costs if row["asset"])
        + (f". {_probe_note(probe)}" if probe else ".")
        + (f" Data warnings: {notes}" if notes else "")
    )
    title = f"{settings.task} (test, n={n}): base vs fine-tuned"
    _, download = results.write_downloads(f"finetune-{settings.name}", None,
                                          fine_tuning.report(settings, costs, quality, probe))  # fmt: skip
    forgetting_rows = forgetting.table(probe).round(4) if probe else None
    tradeoff = charts.gain_vs_forgetting(quality, probe) if probe else None
    return (
        status, charts.losses(losses), fine_tuning.cost_table(costs), results.aggregate_table(quality),
        charts.scores(quality, title), fine_tuning.paired_table(quality).round(4),
        fine_tuning.outputs_side_by_side(quality, settings.task), forgetting_rows, download, tradeoff,
    )  # fmt: skip


def _probe_note(probe: forgetting.Probe) -> str:
    """Which probe runs, how many examples, and the smallest change those examples can tell from zero."""
    sizes = " + ".join(f"`{run.task}` n={run.per_example.example_id.nunique()}" for run in probe.runs)
    width = forgetting.resolution(probe)
    readable = f"; at this n a change within ±{width:.3f} ROUGE-L cannot be told from zero" if width is not None else ""
    return f"Forgetting probe: run {probe.ids}, {sizes}, zero-shot, pooled{readable}."


INPUT_NAMES = ("name", "methods", "task", "jsonl", "steps", "batch_size", "max_length", "seed", "lr_full",
               "lr_lora", "lr_prompt", "r", "alpha", "dropout", "targets", "virtual_tokens", "init_text",
               "eval_limit", "probe_task", "probe_limit", "mixture")  # fmt: skip
