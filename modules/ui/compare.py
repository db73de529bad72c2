"""Compare tab: any systems (model variant x technique x settings) on one task in one stored run, against a baseline:
scores with intervals, paired differences, costs, a chart, published figures, and an HTML report to hand over."""

from functools import partial

import gradio as gr
import pandas as pd

from evals import comparison, references, report, showcase
from evals.runner import compare, parse_one, parse_systems
from evals.tasks import load_task, task_names
from modules import inputs
from modules.progress import Progress
from modules.store import default_store
from modules.studies import reward_model
from modules.techniques import SYSTEMS, TECHNIQUES
from modules.ui import results
from modules.ui.errors import user_errors
from modules.ui.estimates import estimate
from modules.ui.headline import stored_line
from modules.ui.job import run_job
from modules.ui.pickers import refresh_on_focus
from modules.ui.stop_flag import StopFlag
from modules.ui.tables import rounded
from modules.ui.wiring import on_model, wire_common

TITLE = "Compare"
DEFAULT_TASK = "dialogue-summary"
# Prompting, and few-shot on a precision variant (the int8 that keeps down_proj, which int8 hurts most here): as
# evals/examples/compare.json, which the tab opens with. Adapters and RAG systems work the same way.
DEFAULT_SYSTEMS = "zero-shot\nfew-shot:k=3\nfew-shot:k=3@smollm2-135m+quant:int8-all-but-down_proj"
MAX_SYSTEMS = 8  # each system runs over every example: 8 already take minutes per 10 examples on a CPU
MAX_SYSTEMS_CHARS = 2000


def system_lines(text: str) -> list[str]:
    """The non-empty lines of the systems box, checked for count and length."""
    text = inputs.text(text, "The systems list", MAX_SYSTEMS_CHARS)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise ValueError("List at least one system, one per line, e.g. zero-shot or few-shot:k=3@smollm2-135m.")
    if len(lines) > MAX_SYSTEMS:
        raise ValueError(f"{len(lines)} systems; at most {MAX_SYSTEMS} run in one comparison.")
    return lines


def display_names(text: str) -> list[str]:
    """The names the systems will have in the tables, without loading any model (for the baseline picker)."""
    return [parse_one(line)[0] for line in system_lines(text)]


def baseline_choices(text: str):
    try:
        names = display_names(text)
    except ValueError:
        return gr.skip()
    return gr.update(choices=names, value=names[0])


def tables(run, baseline: str, price):
    """(quality table as people read it, cost table, chart) of the run so far."""
    title = f"{run.task} ({run.split}, n={run.per_example.example_id.nunique()}): mean and 95% interval"
    return results.comparison_view(run.per_example, run.measurements, baseline, run.seed, title, price)


def run_comparison(outputs: list, spec, flag: StopFlag, text, task_name, baseline, limit, price, question,
                   reward=None, progress=gr.Progress()):  # fmt: skip
    """Generator of {output: value}: each system's row appears as it finishes; at the end the downloads and the
    report. outputs: (status, quality, costs, chart, per-example, downloads, report), bound when wired."""
    with user_errors():
        task = load_task(task_name)
        lines = system_lines(text)
        limit = min(inputs.whole(limit, "Limit", 1, 100), len(task.split("test")))  # a small task: all of it
        price = inputs.real(price, "Price per GPU-hour", 0, 1000) if str(price or "").strip() else None
        question = inputs.text(question, "The question", inputs.MAX_SHORT_CHARS)
        for _, technique, config, _ in map(parse_one, lines):  # every system checked before the job starts
            TECHNIQUES[technique].validate(task, config)
        names = display_names(text)
        baseline = baseline if baseline in names else names[0]
        hooks = (reward_model.use_as_score(reward),) if reward else ()  # a bad name is told now, not mid-run
    store = default_store()
    status, *_, downloads, report_file = outputs
    systems = []  # filled by the job: loading the models can take a minute, shown while it runs

    def work(report_back, stop):  # Stop: the runner keeps what finished and marks the run stopped
        report_back(Progress("Loading the models the systems name (a first use converts or builds them)"))
        systems.extend(parse_systems(lines, spec, task))
        report_back(Progress(f"Models ready: {estimate(systems[0].model, systems, limit)}"))
        return compare(task, systems, limit=limit, store=store, stop=stop, on_system=report_back,
                       progress=report_back, hooks=hooks)  # fmt: skip

    def on_update(event):
        if isinstance(event, Progress):
            progress(event.fraction, desc=event.stage)
            return None  # run_job shows the stage, the count and the time left in the status
        shown = (*tables(event, baseline, price), rounded(event.per_example))  # a system finished: its rows now
        return {output: gr.update(value=value, visible=True) for output, value in zip(outputs[1:5], shown)}

    def on_result(run):
        csv_path, json_path = results.write_downloads(f"compare-{run.id}", run.per_example,
                                                      run.to_dict(systems[0].model.info()))  # fmt: skip
        html = results.download_folder() / f"report-run-{run.id}.html"
        report.write(store, run.id, html, baseline=baseline, question=question, price_per_gpu_hour=price)
        line = (
            f"**Run {run.id}** ({run.status}) · task `{task.name}`, test split, "
            f"{run.per_example.example_id.nunique()} examples, seed {run.seed} · baseline **{baseline}** · "
            f"{comparison.MULTIPLE_COMPARISONS}"
        )
        return dict(zip(outputs, (line, *tables(run, baseline, price), rounded(run.per_example), [csv_path, json_path],
                                  str(html))))  # fmt: skip

    line = f"Running {len(names)} systems on `{task.name}` (test split, {limit} examples)…"
    first = {status: line, downloads: None, report_file: None}
    first |= {output: gr.update(value=None, visible=False) for output in outputs[1:5]}  # not the stored example
    yield from run_job(flag, work, on_update, on_result, first, status=status)


def example_values():
    """(status, quality, costs, chart, per-example) of the stored example comparison the tab opens with, or None."""
    stored = showcase.load("compare")
    if stored is None:
        return None
    run, label = stored
    quality, costs, figure = tables(run, run.per_example.system.iloc[0], None)
    note = (
        f"{stored_line(run, label)}\n\n{showcase.describe(label)} Baseline: **{run.per_example.system.iloc[0]}**. "
        f"{comparison.MULTIPLE_COMPARISONS}"
    )
    return note, quality, costs, figure, rounded(run.per_example)


def published(task_name: str):
    figures = references.for_task(task_name)
    if not figures:
        return gr.update(value=None, visible=False), ""
    return gr.update(value=pd.DataFrame(figures["rows"]), visible=True), (
        f"**Published figures for a similar task** (another model and other data: shown beside ours, not "
        f"comparable): {figures['source']}"
    )


def build(model_state: gr.State, model_info: gr.Markdown) -> None:
    with gr.Tab(TITLE):
        flag = gr.State(StopFlag())  # inside the tab: a State between tabs breaks Gradio's tab bar
        gr.Markdown(
            "**Which approach for your task?** List systems, one per line: `technique[:setting=value...][@model]`. "
            "A system without `@model` uses the model in the bar; `@smollm2-135m+quant:int8` (a precision), "
            "`@smollm2-135m+adapter:NAME` (a saved fine-tune) or any other spec gives it its own. All run over the "
            "same test examples in one stored run and are compared with the baseline, example by example. "
            f"Techniques: {', '.join(SYSTEMS)} (`python -m evals systems` lists their settings)."
        )
        with gr.Row():
            with gr.Column(scale=3):
                systems = gr.Textbox(DEFAULT_SYSTEMS, lines=6, max_lines=12, label="Systems, one per line")
                question = gr.Textbox(label="The question this answers (report title, optional)", max_lines=1)
            with gr.Column(scale=2):
                task = gr.Dropdown(task_names(), value=DEFAULT_TASK, label="Task", allow_custom_value=True)
                names = display_names(DEFAULT_SYSTEMS)
                baseline = gr.Dropdown(names, value=names[0], label="Baseline system", allow_custom_value=True)
                limit = gr.Slider(1, 100, value=10, step=1, label="Examples (test split)")
                # A Textbox: Gradio's Number shows an empty value as 0, which reads as a price of 0, not "not set".
                price = gr.Textbox(label="Price per GPU-hour (optional; cost per 1,000 examples)", max_lines=1,
                                   placeholder="not set, e.g. 2.50")  # fmt: skip
                reward = gr.Dropdown(reward_model.saved(), value=None, allow_custom_value=True,
                                     label="Also score with a reward model (optional)")  # fmt: skip
        with gr.Row():
            run_button = gr.Button("Compare", variant="primary")
            stop_button = gr.Button("Stop", variant="stop")
        opening = example_values()
        shown = {"visible": opening is not None}  # an empty table shows only "1 2 3" headers: hidden until filled
        opening_status, quality_value, costs_value, chart_value, examples_value = opening or ("",) + (None,) * 4
        status = gr.Markdown(opening_status, elem_classes=["compare-status", "stored-example"])
        quality = gr.Dataframe(quality_value, label="Quality: mean [95% interval], paired difference from the "
                               "baseline", interactive=False, wrap=True, column_widths=results.QUALITY_WIDTHS,
                               **shown)  # fmt: skip
        costs = gr.Dataframe(costs_value, label="Cost per system", interactive=False, wrap=True, **shown)
        chart = gr.Plot(chart_value, label="Scores with 95% intervals", **shown)
        initial_table, initial_note = published(DEFAULT_TASK)
        reference_note = gr.Markdown(initial_note)
        reference = gr.Dataframe(initial_table["value"], label="Published figures", interactive=False,
                                 visible=initial_table["visible"])  # fmt: skip
        per_example = gr.Dataframe(examples_value, label="Per example", interactive=False, wrap=True, max_chars=300,
                                   **shown)  # fmt: skip
        with gr.Row():
            downloads = gr.File(label="CSV and JSON", file_count="multiple", interactive=False, visible=False)
            report_file = gr.File(label="Report (self-contained HTML)", interactive=False, visible=False)

    refresh_on_focus(task)  # lists tasks uploaded since the page was built
    reward.focus(lambda: gr.Dropdown(choices=reward_model.saved()), outputs=reward, queue=False,
                 api_visibility="private")  # fmt: skip
    systems.change(baseline_choices, inputs=systems, outputs=baseline, api_visibility="private")
    task.change(published, inputs=task, outputs=[reference, reference_note], api_visibility="private")
    outputs = [status, quality, costs, chart, per_example, downloads, report_file]
    event = on_model(run_button, partial(run_comparison, outputs),
                     [model_state, flag, systems, task, baseline, limit, price, question, reward], outputs,
                     "compare_run",
                     flag=flag, scroll_to=".compare-status")  # fmt: skip
    wire_common((event,), flag, (stop_button,), model_state, model_info, "compare_stop")
    revealed = [quality, costs, chart, per_example, downloads, report_file]  # filled by the run: shown from now on
    event.then(lambda: [gr.update(visible=True)] * len(revealed), outputs=revealed, api_visibility="private")
