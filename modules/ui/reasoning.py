"""Reasoning tab: direct vs zero-shot CoT vs few-shot CoT vs self-consistency vs PAL (sandboxed) side by side."""

from functools import partial

import gradio as gr

from evals.runner import System
from evals.tasks import Example, load_task
from modules import inputs, sandbox
from modules.techniques import TECHNIQUES, cot, direct, few_shot_cot, pal, self_consistency
from modules.techniques.answers import final_number
from modules.ui import pickers, split_run, wiring
from modules.ui.columns import STOPPED, stream_columns
from modules.ui.errors import user_errors
from modules.ui.model_bar import load_model
from modules.ui.stop_flag import StopFlag

TITLE = "Reasoning"
COVERS = ("direct", "cot", "few_shot_cot", "self_consistency", "pal")  # techniques this tab shows
TASKS = ["arithmetic-word-problems", "gsm8k"]
MAX_NEW_TOKENS = 512  # ~40 s per column on a 2-core CPU; self-consistency writes n of them
MAX_QUESTION_CHARS = 2000  # a word problem; a 1 MB question once held the shared model for minutes
LIVE_CELL = 1  # per column: the reasoning or program box streams while it generates
COLUMNS = ("Direct", "Zero-shot CoT", "Few-shot CoT", "Self-consistency", "PAL")


def systems_for(model, k: int, n: int, temperature: float, seed: int, room: int = 160, top_k: int = 50) -> list[System]:
    """The five columns as runner systems (validated configs; bad values raise ValueError). room: max new tokens
    for the techniques that write steps or code (direct needs a number only)."""
    return [
        System("direct", model, "direct", direct.Config()),
        System("zero-shot CoT", model, "cot", cot.Config(max_new_tokens=room)),
        System(f"few-shot CoT (k={k})", model, "few_shot_cot",
               few_shot_cot.Config(k=k, seed=seed, max_new_tokens=room)),
        System(f"self-consistency (n={n})", model, "self_consistency",
               self_consistency.Config(n=n, k=k, temperature=temperature, top_k=top_k, seed=seed,
                                       max_new_tokens=room)),
        System("PAL", model, "pal", pal.Config(max_new_tokens=room)),
    ]  # fmt: skip


def pick_question(task, example_id, question, answer) -> Example:
    answer = inputs.text(answer, "The answer", inputs.MAX_SHORT_CHARS)
    if answer and final_number(answer) is None:
        raise ValueError(f"The answer must be a number, got '{answer[:40]}'.")
    return pickers.pick_example(task, example_id, question, "question", MAX_QUESTION_CHARS, answer=answer or None)


def settings(k, n, temperature, seed, max_new_tokens=160, top_k=50) -> tuple[int, int, float, int, int, int]:
    """The tab's controls (passed by name), checked: (k, n, temperature, seed, max new tokens for steps and code,
    top-k)."""
    k, n = inputs.whole(k, "k", 1, 3), inputs.whole(n, "n paths", 1, 10)
    temperature, seed = (
        inputs.real(temperature, "Temperature", 0.05, 2.0),
        inputs.whole(seed or 0, "Seed", 0, 2**31 - 1),
    )
    room, top_k = (
        inputs.whole(max_new_tokens, "Max new tokens", 16, MAX_NEW_TOKENS),
        inputs.whole(top_k, "Top-k", 0, 1000),
    )
    return k, n, temperature, seed, room, top_k


def column(output, scores: dict, expected: str | None) -> tuple[str, str, str]:
    """(answer + verdict + cost markdown, reasoning or code, sandbox report) for one technique; the verdict is
    the runner's numeric accuracy for this output."""
    if "numeric_accuracy" not in scores:
        verdict = "no reference answer"
    elif scores["numeric_accuracy"] == 1.0:
        verdict = "✅ correct"
    else:
        verdict = f"❌ incorrect (expected {expected})"
    summary = (
        f"**Answer:** {output.answer if output.answer is not None else '—'} · {verdict}\n\n"
        f"{output.new_tokens} new tokens · {output.latency_s:.1f} s"
    )
    if "votes" in output.trace:
        summary += "\n\nVotes: " + ", ".join(f"{a}: {c}" for a, c in output.trace["votes"].items())
    report = ""
    if "sandbox" in output.trace:
        result = output.trace["sandbox"]
        report = f"**Sandbox:** {result['kind']} in {result['duration_s']:.2f} s"
        report += f" · returned `{result['result']}`" if result["result"] is not None else ""
        report += f"\n\n{result['error']}" if result["error"] else ""
        report += f"\n\nstdout:\n```\n{result['stdout'][:2000]}\n```" if result["stdout"] else ""
    return summary, output.text, report


def run_example(cells: list, spec, flag: StopFlag, task_name, example_id, question, answer, progress=gr.Progress(),
                **controls):  # fmt: skip
    """Generator: each column appears as its technique finishes (five model calls, one after another); cells (three
    per column) are bound when wired."""
    with user_errors():
        task = load_task(task_name)
        example = pick_question(task, example_id, question, answer)
        model = load_model(spec, progress)
        systems = systems_for(model, *settings(**controls))
        pickers.check_fits(model, example.input, systems[1].config.max_new_tokens)  # CoT's room for the steps

    def render(system, output, scores, stopped):
        summary, body, report = column(output, scores, example.answer)
        return (STOPPED if stopped else summary), body, report

    yield from stream_columns(cells, task, example, systems, flag, render, progress, live=LIVE_CELL)


def run_task(outputs: list, spec, flag: StopFlag, task_name, limit, progress=gr.Progress(), **controls):
    with user_errors():
        task = load_task(task_name)
        model = load_model(spec, progress)
        systems = systems_for(model, *settings(**controls))
        for system in systems:
            TECHNIQUES[system.technique].validate(task, system.config)
        limit = inputs.whole(limit, "Limit", 1, len(task.split("test")))
    yield from split_run.stream_run(outputs, task, systems, limit, systems[3].config.seed, model, flag, progress)


def sandbox_status() -> str:
    if not sandbox.execution_allowed():
        return "**Code execution is off** (LAB_ALLOW_CODE_EXECUTION=0): PAL shows its program but does not run it."
    return "**Sandbox layers active here:** " + " · ".join(sandbox.active_layers())


def program_box(value: str | None = None) -> gr.Code:
    """PAL's program: long lines wrap in the column (unwrapped, `* 4 / 100` was cut off at the box's edge)."""
    return gr.Code(value, language="python", label="Program", interactive=False, wrap_lines=True,
                   elem_classes="pal-program")  # fmt: skip


def build(model_state: gr.State, model_info: gr.Markdown) -> None:
    choices = pickers.example_choices(TASKS[0])
    with gr.Tab(TITLE):
        flag = gr.State(StopFlag())  # inside the tab: a State between tabs breaks Gradio's tab bar
        gr.Markdown(
            "Five ways to make the same model solve a word problem. PAL's program runs in the sandbox; "
            "nothing else the model writes is ever executed."
        )
        gr.Markdown(sandbox_status)  # evaluated on each page load: shows the layers active on this host
        with gr.Row():
            with gr.Column(scale=2):
                task = gr.Dropdown(TASKS, value=TASKS[0], label="Task", allow_custom_value=True)
                example = gr.Dropdown(
                    choices, value=choices[0][1], label="Example (test split)", allow_custom_value=True
                )
                question = gr.Textbox(label="Or type a question (overrides the example)", lines=2)
                answer = gr.Textbox(label="Its numeric answer (optional, for correct/incorrect)")
            with gr.Column(scale=1):
                k = gr.Slider(1, 3, value=2, step=1, label="k worked examples (few-shot CoT, self-consistency)")
                n = gr.Slider(1, 10, value=5, step=1, label="n paths (self-consistency)")
                temperature = gr.Slider(0.1, 1.5, value=0.7, step=0.05, label="Temperature (self-consistency)")
                top_k = gr.Slider(0, 200, value=50, step=1, label="Top-k (self-consistency; 0: off)")
                seed = gr.Number(value=0, precision=0, label="Seed")
                room = "Max new tokens (steps and programs; direct answers use 16)"
                max_new_tokens = gr.Slider(16, MAX_NEW_TOKENS, value=160, step=16, label=room)
        with gr.Row():
            run_button = gr.Button("Run", variant="primary")
            stop_button = gr.Button("Stop", variant="stop")
        cells = []
        with gr.Row(equal_height=False):
            for name in COLUMNS:
                with gr.Column(min_width=220):
                    gr.Markdown(f"### {name}")
                    summary = gr.Markdown(elem_classes="reasoning-answer")
                    body = program_box() if name == "PAL" else gr.Textbox(label="Reasoning", lines=8, max_lines=20)
                    report = gr.Markdown()
                    cells += [summary, body, report]
        with gr.Accordion("Run on task (all five over the test split, stored)", open=True):
            limit, run_task_button, stop_task_button, task_outputs = split_run.build_outputs(40, 10, "reasoning")

    task.change(pickers.examples_update(), inputs=task, outputs=example, api_visibility="private")
    example_inputs = [model_state, flag, task, example, question, answer]
    controls = dict(k=k, n=n, temperature=temperature, seed=seed, max_new_tokens=max_new_tokens, top_k=top_k)
    wiring.example_and_task(
        "reasoning",
        flag,
        (run_button, partial(run_example, cells), example_inputs, controls, cells),
        (run_task_button, partial(run_task, task_outputs), [model_state, flag, task, limit], controls, task_outputs),
        (stop_button, stop_task_button),
        model_state,
        model_info,
        scroll_to=".reasoning-answer",
    )
