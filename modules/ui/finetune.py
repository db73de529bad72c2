"""Fine-tuning tab: full vs LoRA (where placed) vs prompt tuning vs IA3 (vs QLoRA on CUDA) from one frozen base;
cost, quality, forgetting and the course lab's published figures side by side; saved adapters usable in every tab."""

import threading

import gradio as gr

from evals import showcase
from modules.models import zero_gpu
from modules.studies import fine_tuning
from modules.training import finetune
from modules.ui import charts, pickers, results, saved_adapters, wiring
from modules.ui.finetune_job import INPUT_NAMES, make_handler
from modules.ui.stop_flag import StopFlag

TITLE = "Fine-tuning"
COVERS = ()  # fine-tuning makes model variants; the runner's zero-shot technique scores them (docs/ARCHITECTURE.md)
METHOD_CHOICES = [("Full fine-tune", "full"), ("LoRA", "lora"), ("LoRA: attention only", "lora-attention"),
                  ("LoRA: MLP only", "lora-mlp"), ("LoRA: all linear layers", "lora-all"),
                  ("Prompt tuning", "prompt-tuning"), ("IA3 (rescaling vectors)", "ia3"),
                  ("QLoRA (CUDA only)", "qlora"),
                  ("QAT: full, through int4 weights (runs converted)", "qat-8da4w"),
                  ("QAT: full, through int8 weights (runs converted)", "qat-w8a8")]  # fmt: skip
TASKS = ["dialogue-summary", "arithmetic-word-problems"]
PROBE_TASKS = ["company-handbook-qa", "arithmetic-word-problems", "dialogue-summary"]


def reference_markdown() -> str:
    rows = "\n".join(f"| {r['method']} | {r['ROUGE-1']:.4f} | {r['ROUGE-L']:.4f} | {r['trainable']} | {r['saved']} |"
                     for r in fine_tuning.REFERENCE["rows"])  # fmt: skip
    return (
        "**Reference column: published figures, NOT measured here** (another model and dataset). "
        f"Source: {fine_tuning.REFERENCE['source']}.\n\n"
        f"| method | ROUGE-1 | ROUGE-L | trainable | saved |\n|---|---|---|---|---|\n{rows}"
    )


def apply_preset(name: str):
    """Fill the controls from a preset; 'custom' leaves them as they are."""
    if name not in fine_tuning.PRESETS:
        return [gr.skip()] * 7
    values, took = fine_tuning.PRESETS[name]
    return *values, f"Preset **{name}**: {took} (training, then scoring the base and each method)."


def shown_if_filled(table):
    return gr.update(visible=table is not None and len(table) > 0)


def stored_example() -> list:
    """(status, loss plot, cost, quality, quality chart, paired, outputs) of the stored quick-look fine-tune."""
    stored = showcase.load_stored("finetune")
    if stored is None or stored["table"] is None:
        return ["", None, None, None, None, None, None]
    run, rows = stored["run"], stored["table"].to_dict(orient="records")
    losses = {row["method"]: row["losses"] for row in rows}
    title = f"{run.task} (test, n={stored['label']['n']}): base vs fine-tuned"
    return [
        showcase.describe(stored["label"]) + " (the **quick look** preset)", charts.losses(losses),
        fine_tuning.cost_table(rows), results.aggregate_table(run), charts.scores(run, title),
        fine_tuning.paired_table(run).round(4), fine_tuning.outputs_side_by_side(run, run.task),
    ]  # fmt: skip


def build(model_state: gr.State, model_info: gr.Markdown) -> None:
    busy = threading.Lock()  # one training job per app: a second request gets BUSY, not a queue
    qlora_note = finetune.unavailable_reason("qlora")
    with gr.Tab(TITLE):
        flag = gr.State(StopFlag())  # inside the tab: a State between tabs breaks Gradio's tab bar
        gr.Markdown(
            "Train **full fine-tuning**, **LoRA** (on your chosen projections, or placed: attention only, MLP only, "
            "all linear layers, at the same rank), and the additive methods **prompt tuning** and **IA3** (learned "
            "vectors rescaling keys, values and the MLP) from fresh copies of the same frozen base "
            "(the base is never modified) on a task's train split or your own JSONL, watch the losses, then compare "
            "cost, quality (test split, 95% intervals, paired difference vs the base) and forgetting (a second "
            "task). Trained variants are saved under `LAB_HOME/adapters/` and usable in every tab."
            + (f"\n\n**Off on this Space:** {off}" if (off := zero_gpu.refusal("fine-tuning")) else "")
            + (f"\n\n**QLoRA is absent here:** {qlora_note}" if qlora_note and not off else "")
        )
        with gr.Row():
            with gr.Column():
                name = gr.Textbox("demo", label="Run name (assets: <name>-<method>)", max_lines=1)
                preset = gr.Radio(["custom", *fine_tuning.PRESETS], value="custom", label="Preset")
                preset_note = gr.Markdown()
                methods = gr.CheckboxGroup(METHOD_CHOICES, value=["lora"], label="Methods")
                task = gr.Dropdown(
                    TASKS,
                    value=TASKS[0],
                    label="Task (train split to learn, test split to score)",
                    allow_custom_value=True,
                )
                jsonl = gr.File(label="Or your own training JSONL: {\"input\": ..., \"reference\": ...} per line",
                                file_types=[".jsonl"], type="filepath")  # fmt: skip
            with gr.Column():
                steps = gr.Slider(1, 2000, value=40, step=1, label="Steps (each method)")
                batch_size = gr.Slider(1, 16, value=4, step=1, label="Batch size (rows per step)")
                max_length = gr.Slider(64, 1024, value=224, step=16, label="Max tokens per row")
                seed = gr.Number(0, precision=0, label="Seed")
            with gr.Column():
                eval_limit = gr.Slider(1, 100, value=10, step=1, label="Test examples to score")
                probe_task = gr.Dropdown(
                    PROBE_TASKS,
                    value=list(fine_tuning.PROBE_TASKS),
                    multiselect=True,
                    allow_custom_value=True,
                    label="Forgetting probe tasks (pooled into one paired comparison)",
                )
                probe_limit = gr.Slider(
                    0,
                    50,
                    value=fine_tuning.PROBE_ALL,
                    step=1,
                    label=f"Probe examples per task (0: skip; {fine_tuning.PROBE_ALL}: both whole test splits)",
                )
                mixture = gr.Textbox(label="Multi-task mixture (also train each method on it; empty: off)",
                                     placeholder="dialogue-summary: 2, company-handbook-qa: 1",
                                     max_lines=1)  # fmt: skip
        with gr.Accordion("Method settings", open=False), gr.Row():
            with gr.Column():
                lr_full = gr.Number(finetune.DEFAULT_LR["full"], label="Full: learning rate")
                lr_lora = gr.Number(finetune.DEFAULT_LR["lora"], label="LoRA / QLoRA: learning rate")
                lr_prompt = gr.Number(finetune.DEFAULT_LR["prompt-tuning"], label="Prompt tuning: learning rate")
            with gr.Column():
                r = gr.Slider(1, 64, value=8, step=1, label="LoRA r")
                alpha = gr.Slider(1, 128, value=16, step=1, label="LoRA alpha")
                dropout = gr.Slider(0, 0.5, value=0.05, step=0.01, label="LoRA dropout")
                targets = gr.CheckboxGroup(
                    list(finetune.LORA_TARGETS), value=["q_proj", "v_proj"], label="LoRA targets"
                )
            with gr.Column():
                virtual_tokens = gr.Slider(1, 100, value=20, step=1, label="Prompt tuning: virtual tokens")
                init_text = gr.Textbox(
                    "Summarize the dialogue in one sentence.", label="Soft prompt init text ('' = random)"
                )
        with gr.Row():
            train_button = gr.Button("Train and compare", variant="primary")
            resume_button = gr.Button("Resume from last checkpoint")
            stop_button = gr.Button("Stop", variant="stop")
        first = stored_example()  # what a first visit shows, labelled, until a run replaces it
        status = gr.Markdown(first[0], elem_classes="stored-example")
        loss_plot = gr.Plot(first[1], label="Loss curves")
        costs = gr.Dataframe(first[2], label="Cost per method (measured here)", interactive=False, wrap=True,
                             elem_id="finetune-costs")  # fmt: skip
        quality = gr.Dataframe(first[3], label="Quality: mean [95% interval] per system and score", interactive=False)
        quality_chart = gr.Plot(first[4], label="Quality with 95% intervals")
        paired = gr.Dataframe(first[5], label="Paired difference vs the untouched base (95% interval; sign-flip p "
                              "Holm-adjusted across methods; no verdict below 10 examples)",
                              interactive=False)  # fmt: skip
        outputs_table = gr.Dataframe(first[6], label="Outputs side by side", interactive=False, wrap=True,
                                     max_chars=300, elem_classes="side-by-side")  # fmt: skip
        forgetting = gr.Dataframe(
            label="Forgetting: ROUGE-L base → after on each probe task and pooled (paired 95% interval, sign-flip p "
            "Holm-adjusted across methods)",
            interactive=False,
            visible=False,
            wrap=True,
            elem_id="finetune-forgetting",
        )  # shown once a run has a probe (an empty table shows "1 2 3")
        tradeoff = gr.Plot(label="Gain on the target vs change on the probe (paired 95% intervals)", visible=False)
        download = gr.DownloadButton("Download JSON (settings, cost, quality, forgetting)", value=None)
        gr.Markdown(reference_markdown())
        table, choice = saved_adapters.build(model_state, model_info)

    pickers.refresh_on_focus(task, TASKS)  # and the visitor's uploaded tasks, as they are now
    pickers.refresh_on_focus(probe_task, PROBE_TASKS)
    sized = [methods, steps, batch_size, max_length, eval_limit, probe_limit, preset_note]
    preset.change(apply_preset, inputs=preset, outputs=sized, api_visibility="private")
    # By name (INPUT_NAMES, finetune_job.py), in the order the API lists them.
    widgets = [name, methods, task, jsonl, steps, batch_size, max_length, seed, lr_full, lr_lora, lr_prompt, r, alpha,
               dropout, targets, virtual_tokens, init_text, eval_limit, probe_task, probe_limit, mixture]  # fmt: skip
    outputs = [status, loss_plot, costs, quality, quality_chart, paired, outputs_table, forgetting, download, tradeoff]
    settings = dict(zip(INPUT_NAMES, widgets, strict=True))
    # Train and Resume start the same job: while either runs, both are disabled (on_model disables only the one
    # clicked, which left the other clickable during training), and both come back when it ends. Registered before
    # on_model's: the page runs a click's listeners in turn and waits for a queued job to end before the next one.
    pair = [train_button, resume_button]
    for button in pair:
        button.click(lambda: {b: gr.update(interactive=False) for b in pair}, outputs=pair, queue=False,
                     api_visibility="private")  # fmt: skip
    events = []
    for button, resume, api_name in ((train_button, False, "finetune_train"), (resume_button, True, "finetune_resume")):
        # Its own queue of 2 with one job at a time (the lock): a second request is told BUSY at once, not queued.
        event = wiring.on_model(button, make_handler(busy, resume, outputs), [model_state, flag], outputs, api_name,
                                flag=flag, concurrency=("finetune", 2), settings=settings)  # fmt: skip
        event.then(saved_adapters.refresh, outputs=[table, choice], api_visibility="private")
        event.then(shown_if_filled, inputs=forgetting, outputs=forgetting, api_visibility="private")
        event.then(lambda figure: gr.update(visible=figure is not None), inputs=tradeoff, outputs=tradeoff,
                   api_visibility="private")  # fmt: skip
        events.append(event)
    wiring.wire_common(events, flag, (stop_button,), model_state, model_info, "finetune_stop")
    for event in events:
        event.then(lambda: {b: gr.update(interactive=True) for b in pair}, outputs=pair, api_visibility="private")
