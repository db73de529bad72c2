"""A variant study as a tab's job: the base from the model bar (never a variant), the study run with Stop and live
rows, and its status, table, chart, per-example table and downloads; shared by the Compression tab's two halves."""

import gradio as gr

from evals import stats
from modules.models import ModelSpec
from modules.studies import quantization
from modules.ui import charts, results, tables
from modules.ui.errors import user_errors
from modules.ui.job import run_job
from modules.ui.model_bar import load_model
from modules.ui.stop_flag import StopFlag

TASKS = ["dialogue-summary", "dialogue-summary-110", "arithmetic-word-problems"]
MAX_EXAMPLES = 110  # the largest of their test splits (dialogue-summary-110): an int8 verdict needs that many


def base_model(spec, progress):
    model = load_model(spec, progress)
    if ModelSpec.parse(model.spec).is_variant:
        raise gr.Error("The model bar holds a variant: load its base model to make variants of it.")
    return model


def stream(outputs: list, spec, flag: StopFlag, work, describe: str, progress, chart=charts.variants,
           download: str = "quantization"):  # fmt: skip
    """Run work(base, report, stop) as the tab's job; yield {output: value} for outputs (status, table, chart,
    per-example, csv, json): the stored example cleared at the start, then the stage, count and time left (run_job)
    and each measured variant's row as it is measured, everything at the end."""
    with user_errors():
        base = base_model(spec, progress)
    status, table, *_ = outputs

    def on_update(event):
        progress(event.fraction, desc=event.stage)
        rows = event.payload.get("table")  # a measured variant: the rows so far (quality once all are measured)
        return None if rows is None else {table: gr.update(value=rows.round(3), visible=True)}

    def on_result(value):
        return dict(zip(outputs, _shown(value, base, describe, chart, download)))

    cleared = {output: gr.update(value=None, visible=False) for output in outputs[1:4]}  # not the stored example
    first = {status: f"{describe}: starting…", outputs[4]: None, outputs[5]: None} | cleared
    yield from run_job(flag, lambda report, stop: work(base, report, stop), on_update, on_result, first, status=status)


def _shown(value, base, describe: str, chart, download: str) -> tuple:
    """(status, table, chart, per-example, csv, json) of a finished study."""
    table, run = value
    n = run.per_example.example_id.nunique() if not run.per_example.empty else 0
    status = (f"**{describe}** · run {run.id} ({run.status}) · task `{run.task}` test split, {n} examples, zero-shot, "
              f"greedy · base {base.label} · ROUGE-L/BLEU means with 95% intervals ({stats.INTERVALS}) "
              f"· speed: 32 new tokens (8 for CPU int4), median of {quantization.SPEED_REPEATS} "
              f"timed runs after a warm-up · perplexity on the "
              f"first {quantization.PERPLEXITY_TEXTS} "
              "dialogue-summary test references")  # fmt: skip
    shown = table.round(3)
    payload = {"variants": table.to_dict(orient="records"), "quality_run": run.to_dict(base.info())}
    figure = None if run.per_example.empty else chart(table)  # stopped before any answer was scored: no chart
    return (
        status,
        shown,
        figure,
        tables.rounded(run.per_example),
        *results.write_downloads(download, table, payload),
    )
