"""In-context learning tab: zero-, one- and few-shot side by side on one example, or over a task's test split."""

from dataclasses import replace
from functools import partial

import gradio as gr
import pandas as pd

from evals import showcase
from evals.runner import System
from evals.tasks import TaskError, load_task
from modules import inputs
from modules.techniques import prompting
from modules.ui import pickers, split_run, wiring, your_data
from modules.ui.columns import STOPPED
from modules.ui.errors import user_errors
from modules.ui.icl_columns import COLUMNS, column_scores, column_summary, stored_columns, stored_headline
from modules.ui.job import run_job
from modules.ui.model_bar import load_model
from modules.ui.stop_flag import StopFlag

TITLE = "In-context learning"
COVERS = ("prompting",)  # techniques this tab shows (tests check every registered technique has a tab)
DEFAULT_TASK = "dialogue-summary"
MAX_NEW_TOKENS_UI = 1024  # ~80 s per column at CPU speed; longer asks are refused with a message


def on_task_change(task_name: str):
    try:
        choices = pickers.example_choices(task_name, 70)
    except TaskError as error:
        gr.Warning(str(error))
        return gr.update(choices=[], value=None), "", ""
    return gr.update(choices=choices, value=choices[0][1]), *preview(task_name, choices[0][1])


def preview(task_name: str, example_id: str | None) -> tuple[str, str]:
    if not example_id:
        return "", ""
    try:
        example = load_task(task_name).example(example_id)
    except TaskError:
        return "", ""
    return example.input, example.reference


def make_config(k, selection, seed, max_new_tokens, decoding, temperature, top_p, top_k=50) -> prompting.Config:
    """The tab's settings (passed by name: `inputs_kwargs`) as a validated Config; bad values raise ValueError
    with the message to show."""
    if decoding not in ("greedy", "sampling"):
        raise ValueError("Decoding must be 'greedy' or 'sampling'.")
    return prompting.Config(
        k=inputs.whole(k, "k for few-shot (one-shot is its own column)", 2, 64),
        selection=selection,
        seed=inputs.whole(seed or 0, "Seed", 0, 2**31 - 1),
        max_new_tokens=inputs.whole(max_new_tokens, "Max new tokens", 1, MAX_NEW_TOKENS_UI),
        do_sample=decoding == "sampling",
        temperature=inputs.real(temperature, "Temperature", 0.01, 5.0),
        top_p=inputs.real(top_p, "Top-p", 0.01, 1.0),
        top_k=inputs.whole(top_k, "Top-k (0: off)", 0, 1000),
    )


def run_example(spec, flag: StopFlag, task_name, example_id, custom_input, custom_reference, progress=gr.Progress(),
                **settings):  # fmt: skip
    """Generator: the three columns fill live from one batched generate call, then scores appear."""
    with user_errors():
        task = load_task(task_name)
        config = make_config(**settings)
        example = pickers.pick_example(task, example_id, custom_input, reference=custom_reference)
        prompting.validate(task, config)
        model = load_model(spec, progress)
        pickers.check_fits(model, example.input, config.max_new_tokens)
    texts, waiting = ["", "", ""], ["_generating…_"] * 3

    def work(report, stop):  # Stop (or a closed page) ends generation within one decoding step
        return prompting.run_shot_counts(model, task, example, [0, 1, config.k], config, on_text=report, stop=stop)

    def on_update(new_texts: dict[int, str]):
        for index, text in new_texts.items():
            texts[index] = text
        return *texts, *waiting, "", "", "", None

    def on_result(outputs):
        prompts = [o.trace["prompt"] for o in outputs]
        if flag.event.is_set():  # Stop pressed: the texts are partial, so they are shown but not scored
            return *[o.text for o in outputs], *[STOPPED] * 3, *prompts, None
        table = column_scores(task, example, outputs)
        summaries = [column_summary(row, o.trace["warnings"]) for row, o in zip(table.to_dict("records"), outputs)]
        return *[o.text for o in outputs], *summaries, *prompts, table

    yield from run_job(flag, work, on_update, on_result, latest_only=True)


def run_task(outputs: list, spec, flag: StopFlag, task_name, limit, progress=gr.Progress(), **settings):
    """Generator: zero/one/few-shot over the test split through the runner, stored; results at the end."""
    with user_errors():
        task = load_task(task_name)
        config = make_config(**settings)
        prompting.validate(task, config)
        limit = inputs.whole(limit, "Limit", 1, len(task.split("test")))
        model = load_model(spec, progress)
    systems = [System("zero-shot", model, "prompting", replace(config, k=0)),
               System("one-shot", model, "prompting", replace(config, k=1)),
               System(f"few-shot (k={config.k})", model, "prompting", config)]  # fmt: skip
    yield from split_run.stream_run(outputs, task, systems, limit, config.seed, model, flag, progress)


def build(model_state: gr.State, model_info: gr.Markdown) -> None:
    choices = pickers.example_choices(DEFAULT_TASK, 70)
    stored = showcase.load("icl")
    first = stored_columns(stored, DEFAULT_TASK, choices[0][1])  # the columns open with the stored example's
    with gr.Tab(TITLE):
        flag = gr.State(StopFlag())  # inside the tab: a State between tabs breaks Gradio's tab bar
        gr.Markdown(
            "Zero-, one- and few-shot prompting of the same model on the same input, generated in one batched "
            "call. Few-shot examples come from the task's train split."
        )
        gr.Markdown(stored_headline(stored), elem_classes="icl-headline")  # the result first, above the form
        with gr.Row():
            with gr.Column(scale=2):
                task = gr.Dropdown(pickers.task_choices(), value=DEFAULT_TASK, label="Task", allow_custom_value=True)
                example = gr.Dropdown(
                    choices, value=choices[0][1], label="Example (test split)", allow_custom_value=True
                )
                first_input, first_reference = preview(DEFAULT_TASK, choices[0][1])
                shown_input = gr.Textbox(first_input, label="Example input", lines=5, interactive=False)
                shown_reference = gr.Textbox(first_reference, label="Example reference", lines=2, interactive=False)
                custom_input = gr.Textbox(label="Or paste your own input (overrides the example)", lines=3)
                custom_reference = gr.Textbox(label="Your reference (optional, for scores)", lines=1)
            with gr.Column(scale=1):
                k = gr.Slider(2, 8, value=3, step=1, label="k (few-shot examples)")
                selection = gr.Radio(list(prompting.SELECTIONS), value="fixed", label="Example selection")
                seed = gr.Number(value=0, precision=0, label="Seed (random selection, sampling)")
                max_new_tokens = gr.Number(value=96, precision=0, label=f"Max new tokens (1-{MAX_NEW_TOKENS_UI})")
                decoding = gr.Radio(["greedy", "sampling"], value="greedy", label="Decoding")
                temperature = gr.Slider(0.05, 2.0, value=0.7, step=0.05, label="Temperature (sampling)")
                top_p = gr.Slider(0.05, 1.0, value=0.9, step=0.05, label="Top-p (sampling)")
                top_k = gr.Slider(0, 200, value=50, step=1, label="Top-k (sampling; 0: off)")
        with gr.Row():
            run_button = gr.Button("Run", variant="primary")
            stop_button = gr.Button("Stop", variant="stop")
        texts, summaries, prompts = [], [], []
        with gr.Row(equal_height=False):
            for index, name in enumerate(COLUMNS):
                with gr.Column():
                    gr.Markdown(f"### {name}")
                    texts.append(gr.Textbox(first[index], label=f"{name} output", lines=4, elem_classes="icl-output"))
                    summaries.append(gr.Markdown(first[3 + index], elem_classes="icl-scores"))
                    with gr.Accordion("Exact prompt sent", open=False):
                        prompts.append(gr.Textbox(first[6 + index], show_label=False, lines=10, max_lines=30))
        empty = pd.DataFrame(columns=["column", "shots", "rouge1", "rouge2", "rougeL", "bleu", "new_tokens"])
        scores = gr.Dataframe(first[9] if first[9] is not None else empty, label="Scores per column", interactive=False)

        with gr.Accordion("Run on task (all three over the test split, stored)", open=True):
            limit, run_task_button, stop_task_button, task_outputs = split_run.build_outputs(len(choices), 10, "icl")
        with gr.Accordion("Your own data (CSV / JSONL)", open=False):
            your_data.build()

    pickers.refresh_on_focus(task)  # lists the tasks this visitor uploaded after the page was built
    task.change(on_task_change, inputs=task, outputs=[example, shown_input, shown_reference], api_name="icl_examples")
    example.change(preview, inputs=[task, example], outputs=[shown_input, shown_reference], api_visibility="private")
    # Another example: its stored columns when the stored run holds it, else empty ones (never another input's)
    columns = [*texts, *summaries, *prompts, scores]
    example.change(partial(stored_columns, stored), inputs=[task, example], outputs=columns, api_visibility="private")
    settings = dict(k=k, selection=selection, seed=seed, max_new_tokens=max_new_tokens, decoding=decoding,
                    temperature=temperature, top_p=top_p, top_k=top_k)  # fmt: skip
    example_inputs = [model_state, flag, task, example, custom_input, custom_reference]
    task_inputs = [model_state, flag, task, limit]
    wiring.example_and_task(
        "icl",
        flag,
        (run_button, run_example, example_inputs, settings, [*texts, *summaries, *prompts, scores]),
        (run_task_button, partial(run_task, task_outputs), task_inputs, settings, task_outputs),
        (stop_button, stop_task_button),
        model_state,
        model_info,
        scroll_to=".icl-output",
    )
