"""Sampling tab: how decoding settings shape an answer. Each generated token's top-20 distribution before and after
temperature, top-k and top-p (click a token), n samples per setting side by side, and the settings over a task."""

from dataclasses import asdict
from functools import partial

import gradio as gr
import pandas as pd

from evals import samples as study
from evals import stats
from evals.tasks import load_task
from modules import inputs
from modules.inside.sampling import step_table
from modules.models import GenerationParams
from modules.techniques import prompting
from modules.ui import model_bar, pickers, results, sampling_stored, split_run, wiring
from modules.ui.errors import user_errors
from modules.ui.job import run_job
from modules.ui.model_bar import load_model
from modules.ui.sampling_steps import COLOURS, step_view, tokens_view
from modules.ui.stop_flag import StopFlag

TITLE = "Sampling"
COVERS = ("sampling",)
TASKS = ["dialogue-summary", "company-handbook-qa", "arithmetic-word-problems"]
TOP = 20  # tokens shown per step: the most a server's top_logprobs gives, so both backends show the same
MAX_NEW_TOKENS = 128
DEFAULT_SETTINGS = ["greedy", "T=0.3", "T=1.2", "top-k=5 (T=1)", "top-p=0.8 (T=1)"]
INTERVALS = f"mean [95% interval over the samples: {stats.INTERVALS}]"


def decoding(decoding, temperature, top_k, top_p, seed, max_new_tokens) -> GenerationParams:
    """The explorer's controls (by name) as checked GenerationParams; bad values raise ValueError with the message."""
    return GenerationParams(
        max_new_tokens=inputs.whole(max_new_tokens, "Max new tokens", 1, MAX_NEW_TOKENS),
        do_sample=decoding == "sample",
        temperature=inputs.real(temperature, "Temperature", 0.01, 5.0),
        top_k=inputs.whole(top_k, "Top-k (0: off)", 0, 1000),
        top_p=_top_p(top_p),
        seed=inputs.whole(seed or 0, "Seed", 0, 2**31 - 1),
    )


def _top_p(value) -> float:
    top_p = inputs.real(value, "Top-p", 0.0, 1.0)
    if top_p <= 0:
        raise ValueError("Top-p must be above 0 (it keeps the smallest set of tokens reaching that mass; 1: off).")
    return top_p


def explore(spec, task_name, example_id, typed, progress=gr.Progress(), **controls):
    """One answer generated with the settings, with every step's top-20 distribution from the same generate call."""
    with user_errors():
        task = load_task(task_name)
        example = pickers.pick_example(task, example_id, typed)
        params = decoding(**controls)
        model = load_model(spec, progress)
        pickers.check_fits(model, example.input, params.max_new_tokens)
        marker = prompting.next_example_marker(task)
        params.stop_strings = (marker,) if marker else ()
        (steps,) = model.top_logprobs([prompting.build_prompt(model, task, [], example)], params, k=TOP)
    if not steps:
        raise gr.Error("The model ended its answer at once: there is no token to show.")
    line, table, figure = step_view(steps, 0, params)
    every_step = pd.concat([step_table(step, params).assign(step=i) for i, step in enumerate(steps, start=1)])
    csv_path, _ = results.write_downloads("sampling-steps", every_step, {"params": params.to_dict(),
                                          "steps": [asdict(step) for step in steps]})  # fmt: skip
    return steps, params, tokens_view(steps), line, table, figure, csv_path


def show_step(steps, params, selected: gr.SelectData):
    """A clicked token: the distribution it was drawn from."""
    if not steps:
        raise gr.Error("Press Generate first: there is no answer to look into yet.")
    return step_view(steps, min(max(int(selected.index), 0), len(steps) - 1), params)


def run_samples(outputs: list, spec, flag: StopFlag, task_name, example_id, typed, settings, n, seed,
                max_new_tokens, progress=gr.Progress()):  # fmt: skip
    """Generator: each setting's row appears as its n samples are scored; Stop ends after the setting in hand."""
    with user_errors():
        task = load_task(task_name)
        example = pickers.pick_example(task, example_id, typed)
        n, seed = inputs.whole(n, "n samples", 2, 10), inputs.whole(seed or 0, "Seed", 0, 2**31 - 1)
        room = inputs.whole(max_new_tokens, "Max new tokens", 1, MAX_NEW_TOKENS)
        model = load_model(spec, progress)
        pickers.check_fits(model, example.input, room)
        systems = study.systems(model, list(settings or []), n, seed, room)
    status, summary, every, download = outputs
    done = []

    def work(report, stop):
        for index, system in enumerate(systems):
            if stop.is_set():
                break
            report(f"Sampling **{system.name}** ({index + 1}/{len(systems)}, {system.config.n} samples)…")
            done.append(study.sample_one(task, example, system, stop))
            report(None)
        return done

    def on_update(line):
        shown = {summary: study.table(done), every: study.samples(done)} if done else {}
        return shown | ({status: line} if line else {})

    def on_result(_):
        stopped = len(done) < len(systems)
        _, path = results.write_downloads("sampling-samples", None, {"example": example.id, "results": done})
        line = (f"{'⏹ Stopped: ' if stopped else '**Done.** '}{len(done)}/{len(systems)} settings on example "
                f"`{example.id}`, {model.label}; {INTERVALS}.")  # fmt: skip
        return {status: line, summary: study.table(done), every: study.samples(done), download: path}

    first = {status: f"Sampling {len(systems)} settings × {n}…", summary: None, every: None, download: None}
    yield from run_job(flag, work, on_update, on_result, first, status=status)


def run_task(outputs: list, spec, flag: StopFlag, task_name, limit, settings, n, seed, max_new_tokens,
             progress=gr.Progress()):  # fmt: skip
    """The chosen settings over the task's test split through the runner (stored like every run)."""
    with user_errors():
        task = load_task(task_name)
        n, seed = inputs.whole(n, "n samples", 2, 10), inputs.whole(seed or 0, "Seed", 0, 2**31 - 1)
        room = inputs.whole(max_new_tokens, "Max new tokens", 1, MAX_NEW_TOKENS)
        limit = inputs.whole(limit, "Limit", 1, len(task.split("test")))
        model = load_model(spec, progress)
        systems = study.systems(model, list(settings or []), n, seed, room)
    yield from split_run.stream_run(outputs, task, systems, limit, seed, model, flag, progress)


def build(model_state: gr.State, model_info: gr.Markdown) -> None:
    choices = pickers.example_choices(TASKS[0])
    stored = sampling_stored.load()
    with gr.Tab(TITLE):
        flag = gr.State(StopFlag())  # inside the tab: a State between tabs breaks Gradio's tab bar
        gr.Markdown(
            "The model gives a probability to every next token; decoding picks one. **Temperature** divides the "
            "logits before the softmax (below 1 sharper, above 1 flatter), **top-k** keeps the k most likely, "
            "**top-p** the smallest set whose probability reaches p; the token is drawn from what is left. "
            "Greedy always takes the most likely."
        )
        with gr.Row():
            with gr.Column(scale=2):
                task = gr.Dropdown(TASKS, value=TASKS[0], label="Task", allow_custom_value=True)
                example = gr.Dropdown(choices, value=choices[0][1], label="Example (test split)",
                                      allow_custom_value=True)  # fmt: skip
                typed = gr.Textbox(label="Or type a prompt (overrides the example)", lines=2)
            with gr.Column(scale=1):
                mode = gr.Radio(["greedy", "sample"], value="sample", label="Decoding")
                temperature = gr.Slider(0.05, 2.0, value=0.7, step=0.05, label="Temperature")
                top_k = gr.Slider(0, 200, value=40, step=1, label="Top-k (0: off)")
                top_p = gr.Slider(0.05, 1.0, value=0.9, step=0.05, label="Top-p (1: off)")
                seed = gr.Number(value=0, precision=0, label="Seed")
                max_new_tokens = gr.Slider(1, MAX_NEW_TOKENS, value=48, step=1, label="Max new tokens")
        generate = gr.Button("Generate and show each step", variant="primary")
        steps, params = gr.State(stored.steps), gr.State(stored.params)
        stored_note = gr.Markdown(stored.note, elem_classes="stored-example")
        tokens = gr.HighlightedText(stored.tokens, label="The answer, token by token (click a token)",
                                    color_map=COLOURS, show_legend=True, show_inline_category=False,
                                    elem_classes="sampling-tokens")  # fmt: skip
        step_line = gr.Markdown(stored.line)
        step_chart = gr.Plot(stored.chart, label="Top 20 next tokens")
        top_table = gr.Dataframe(stored.table, label="Top 20 next tokens: before and after the settings",
                                 interactive=False, max_height=420)  # fmt: skip
        steps_file = gr.DownloadButton("Download every step (CSV)", value=None)

        with gr.Accordion("n samples per setting, side by side (this example)", open=True):
            with gr.Row():
                chosen = gr.CheckboxGroup(list(study.SETTINGS), value=DEFAULT_SETTINGS, label="Settings")
                n = gr.Slider(2, 10, value=5, step=1, label="n samples per setting (greedy: 1)")
            with gr.Row():
                sample_button = gr.Button("Sample", variant="primary")
                stop_button = gr.Button("Stop", variant="stop")
            sample_status = gr.Markdown(stored.note, elem_classes="sampling-status")
            summary = gr.Dataframe(stored.summary, label=f"Per setting: {INTERVALS}; diversity across the samples",
                                   interactive=False, wrap=True)  # fmt: skip
            every = gr.Dataframe(stored.samples, label="Every sample with its seed and scores", interactive=False,
                                 wrap=True, max_chars=300, max_height=420)  # fmt: skip
            samples_file = gr.DownloadButton("Download JSON", value=None)
        with gr.Accordion("Run on task (the settings over the test split, stored)", open=True):
            limit, run_task_button, stop_task_button, task_outputs = split_run.build_outputs(40, 12, "sampling")

    task.change(pickers.examples_update(), inputs=task, outputs=example, api_visibility="private")
    controls = dict(decoding=mode, temperature=temperature, top_k=top_k, top_p=top_p, seed=seed,
                    max_new_tokens=max_new_tokens)  # fmt: skip
    explored = [steps, params, tokens, step_line, top_table, step_chart, steps_file]
    event = wiring.on_model(generate, explore, [model_state, task, example, typed], explored, "sampling_explore",
                            settings=controls, scroll_to=".sampling-tokens")  # fmt: skip
    event.then(lambda: "", outputs=stored_note, api_visibility="private")
    event.then(model_bar.refresh, inputs=model_state, outputs=model_info, api_visibility="private")
    tokens.select(show_step, inputs=[steps, params], outputs=[step_line, top_table, step_chart],
                  api_visibility="private", queue=False)  # fmt: skip
    sample_outputs = [sample_status, summary, every, samples_file]
    sample_event = wiring.on_model(sample_button, partial(run_samples, sample_outputs),
                                   [model_state, flag, task, example, typed, chosen, n, seed, max_new_tokens],
                                   sample_outputs, "sampling_samples", flag)  # fmt: skip
    task_event = wiring.on_model(run_task_button, partial(run_task, task_outputs),
                                 [model_state, flag, task, limit, chosen, n, seed, max_new_tokens], task_outputs,
                                 "sampling_run_task", flag)  # fmt: skip
    split_run.reveal_tables(task_event, task_outputs)
    wiring.wire_common((sample_event, task_event), flag, (stop_button, stop_task_button), model_state, model_info,
                       "sampling_stop")  # fmt: skip
