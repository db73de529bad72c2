"""The Compression tab's second half (the precision half is modules/ui/quantize.py, in the same tab): the weight-
magnitude histogram, pruned and int8 variants measured side by side, the Pareto chart, the int8 recipe's why."""

from functools import partial

import gradio as gr

from modules import inputs
from modules.models import pruned, zero_gpu
from modules.studies import compression, distillation
from modules.training import distill
from modules.ui import charts, results, tables, variant_study, wiring
from modules.ui.errors import user_errors
from modules.ui.job import run_job

METHOD_CHOICES = [("magnitude, global", "magnitude-global"), ("magnitude, per layer", "magnitude-layer"),
                  ("Wanda (|w| x input norm)", "wanda"), ("whole MLP neurons (structured)", "mlp-neurons"),
                  ("whole attention heads (structured)", "attention-heads"),
                  ("whole decoder layers (structured)", "layers")]  # fmt: skip
INT8_CHOICES = [("int8 per tensor (the old path)", "int8"), ("w8a8: SmoothQuant + int8 per token", "w8a8"),
                ("w8a8, automatic recipe", "w8a8-auto")]  # fmt: skip
LEARN_CHOICES = [("its token distributions (KL)", "distributions"), ("its answers (sequence-level)", "answers")]
assert [value for _, value in METHOD_CHOICES] == list(pruned.METHODS)
assert [value for _, value in LEARN_CHOICES] == list(distillation.LEARN)


def measure(outputs, spec, flag, int8, methods, sparsity_text, task, limit, progress=gr.Progress()):
    with user_errors():
        names = compression.variant_names(int8 or [], methods or [], sparsity_text)
        limit = inputs.whole(limit, "Test examples", 1, variant_study.MAX_EXAMPLES)

    def work(base, report, stop):
        return compression.compare(base, names, task, limit, report, stop)

    yield from variant_study.stream(outputs, spec, flag, work, f"Compression: {', '.join(names)}", progress,
                                    charts.compression_front, "compression")  # fmt: skip


def histogram(spec, progress=gr.Progress()):
    with user_errors():
        base = variant_study.base_model(spec, progress)
        values, summary = compression.magnitudes(base)
    shares = " · ".join(f"{name}: **{value:.1%}**" for name, value in summary.items() if name.startswith("share"))
    note = (f"|w| of {len(values):,} sampled weights of the decoder's linear layers ({base.label}). {shares} · "
            f"median |w| {summary['median |w| (the 50% global cut)']:.3g}. Pruning removes the smallest; the course's "
            "caveat: when few weights are near zero, cutting half removes weights that matter.")  # fmt: skip
    return charts.magnitude_histogram(values, summary), note


def show_recipe(spec, progress=gr.Progress()):
    with user_errors():
        base = variant_study.base_model(spec, progress)
        progress(0.1, desc="Calibrating and measuring each layer type (about 20-60 s on a CPU)…")
        recipe = compression.recipe(base)
    note = (f"**The automatic int8 recipe** ({recipe.summary()}): every Linear layer in w8a8 (SmoothQuant, int8 "
            f"per token), then the layer types that cost most kept in fp32 one at a time until the mean KL to fp32's "
            f"next-token distribution is within {recipe.budget:g} nats per token, on {recipe.tokens} tokens of "
            "dialogue-summary *train* examples (never the test split it is scored on).")  # fmt: skip
    return note, recipe.table().round(4), recipe.path().round(4)


def learned(settings: distillation.Settings, cost: dict) -> str:
    """What the student learned, for the status line."""
    if settings.learn == "answers":
        return f"learned the teacher's answers (sequence-level; written in {cost['teacher answers (s)']:.0f} s)"
    return f"learned its token distributions (T = {settings.temperature:g}, KL share {settings.alpha:g})"


def distil(outputs, spec, flag, name, teacher, shots, learn, dropped, steps, temperature, alpha, limit, resume=False,
           progress=gr.Progress()):  # fmt: skip
    """Train the student on the teacher's distributions or answers, live loss curve, then the three side by side."""
    status, curve_plot, table, per_example, csv_file, json_file = outputs
    with user_errors():
        if refusal := zero_gpu.refusal("fine-tuning"):
            raise ValueError(refusal)
        settings = distillation.Settings(name=inputs.text(name, "Student name", inputs.MAX_SHORT_CHARS),
                                         teacher=inputs.text(teacher, "Teacher", inputs.MAX_SHORT_CHARS),
                                         teacher_shots=shots, learn=learn or "", dropped=dropped, steps=steps,
                                         temperature=inputs.real(temperature, "Temperature", 0.01, 100),
                                         alpha=inputs.real(alpha, "KL share", 0, 1), limit=limit,
                                         resume=bool(resume)).checked()  # fmt: skip
        base = variant_study.base_model(spec, progress)

    def on_update(event):
        curve = event.payload.get("curve")
        return None if not curve else {curve_plot: charts.losses({"distillation loss": [p["loss"] for p in curve]})}

    def on_result(value):
        cost, run, shown = value
        curve = {curve_plot: charts.losses({"distillation loss": [p["loss"] for p in cost["curve"]]})}
        if run is None:
            return curve | {status: f"Stopped after {cost['steps']} steps: nothing saved. Resume continues from the "
                            "last checkpoint."}  # fmt: skip
        payload = {"cost": {k: v for k, v in cost.items() if k != "curve"}, "curve": cost["curve"],
                   "side_by_side": shown.to_dict(orient="records"), "run": run.to_dict(base.info())}  # fmt: skip
        return curve | {  # the whole curve again: a fast run's last live update can be merged away
            status: (f"**Distilled** {cost['steps']} steps at {cost['time / step (s)']:.2f} s/step · saved as "
                     f"`{cost['asset']}` (usable in every tab) · run {run.id}: ROUGE-L on {settings.limit} "
                     f"dialogue-summary test examples, greedy, 95% intervals · teacher "
                     f"{settings.teacher or base.spec} ({settings.teacher_shots}-shot; the students zero-shot), "
                     f"{learned(settings, cost)}, "
                     f"seed {settings.seed}"),
            table: gr.update(value=shown.round(3), visible=True),
            per_example: gr.update(value=tables.rounded(run.per_example), visible=True),
            **dict(zip((csv_file, json_file), results.write_downloads("distillation", shown, payload))),
        }  # fmt: skip

    first = {status: "Distillation: starting…", curve_plot: None, table: gr.update(value=None, visible=False)}
    yield from run_job(flag, lambda report, stop: distillation.run(base, settings, report, stop), on_update,
                       on_result, first, status=status)  # fmt: skip


def build(model_state: gr.State, flag: gr.State) -> tuple[list, list]:
    """The section's controls and outputs (inside the tab); its model events and its Stop buttons, for the tab's
    common wiring."""
    with gr.Accordion("Pruning, the int8 recipe, and the Pareto chart", open=True):
        gr.Markdown(
            "Pruned and int8 variants by spec (`+prune:wanda-50`, `+quant:w8a8-auto`, or both: "
            "`+prune:mlp-neurons-25+quant:w8a8`), each a copy usable in every tab. **Unstructured** pruning "
            "(magnitude, Wanda) zeroes weights but stores them dense: no speed or size gain, only the quality cost. "
            "**Structured** pruning removes whole MLP neurons, attention heads (the same number from each "
            "key/value group of a layer, so the share is approximate) or decoder layers, so the model shrinks: "
            "smaller and faster. Wanda and structured pruning calibrate on 4 dialogue-summary train examples. "
            "**Quick look** (the defaults: fp32, w8a8-auto and 25% of the MLP neurons on 3 examples): 79 s here, "
            "the model loaded; each added variant costs about 30 s, each added example about 5 s per variant."
        )  # fmt: skip
        with gr.Row():
            int8 = gr.CheckboxGroup(INT8_CHOICES, value=["w8a8-auto"], label="int8 variants")
            methods = gr.CheckboxGroup(METHOD_CHOICES, value=["mlp-neurons"], label="Pruning methods")
        with gr.Row():
            sparsity = gr.Textbox("25", label="Sparsity % (comma-separated, 1-99)", max_length=60)
            task = gr.Dropdown(variant_study.TASKS, value=variant_study.TASKS[0], label="Task for ROUGE-L / BLEU")
            limit = gr.Slider(1, variant_study.MAX_EXAMPLES, value=3, step=1, label="Examples to score")
        with gr.Row():
            measure_button = gr.Button("Compress and compare", variant="primary")
            histogram_button = gr.Button("Weight-magnitude histogram")
            recipe_button = gr.Button("Show the int8 recipe")
        status = gr.Markdown(elem_id="compression-status")
        table = gr.Dataframe(interactive=False, wrap=True, visible=False, elem_id="compression-table",
                             label="Per variant: size, speed, perplexity, quality, Pareto front")  # fmt: skip
        chart = gr.Plot(visible=False, elem_id="compression-chart",
                        label="Size against quality (95% interval); marker area: speed; stars: front")  # fmt: skip
        per_example = gr.Dataframe(label="Per example (compression)", interactive=False, wrap=True, max_chars=300,
                                   visible=False)  # fmt: skip
        with gr.Row():
            csv_file = gr.DownloadButton("Download compression CSV", value=None)
            json_file = gr.DownloadButton("Download compression JSON", value=None)
        magnitude_chart = gr.Plot(label="Weight magnitudes: how many are near zero", elem_id="compression-histogram")
        magnitude_note = gr.Markdown(elem_id="compression-histogram-note")
        recipe_note = gr.Markdown(elem_id="compression-recipe-note")
        with gr.Row():
            recipe_table = gr.Dataframe(label="int8 recipe: each layer type's cost alone", interactive=False,
                                        elem_id="compression-recipe")  # fmt: skip
            recipe_path = gr.Dataframe(label="int8 recipe: the greedy steps", interactive=False)
    with gr.Accordion("Distillation: a shallower student learns from a teacher", open=True):
        gr.Markdown(
            "The student is the model in the bar with a share of its decoder layers dropped (evenly spaced, first and "
            "last kept: `+prune:layers-50`); it is trained (all its weights) on dialogue-summary train pairs against "
            "the teacher's token distributions at a temperature (KL x T², the share you set) plus the next-token loss "
            "on the references, then saved as `<base>+prune:layers-<pct>+adapter:<name>` and compared with the "
            "teacher and with itself before. The teacher is the model in the bar, or any local model on the same "
            "tokenizer (a saved fine-tune: `smollm2-135m+adapter:<name>`); another tokenizer is refused. With "
            "**teacher's shots** k > 0 the teacher reads k train examples before each question (few-shot prompting) "
            "while the student reads the question alone: the student learns to answer without the examples as the "
            "teacher does with them (each teacher step reads a prompt about k + 1 times as long). **What the student "
            "learns**: the teacher's token distributions (KL: a local teacher on the same tokenizer), or the "
            "teacher's answers (sequence-level, Kim & Rush 2016: the teacher writes an answer to each training prompt "
            "first, the student learns those with the usual loss; any teacher, a server or another tokenizer too; "
            "temperature and KL share do not apply)."
        )  # fmt: skip
        with gr.Row():
            student_name = gr.Textbox("student", label="Student name (saved as an asset)", max_length=60)
            teacher = gr.Textbox("", label="Teacher spec (empty: the model in the bar)", max_length=300)
            teacher_shots = gr.Slider(0, distill.MAX_SHOTS, value=0, step=1,
                                      label="Teacher's shots (few-shot teacher; 0: zero-shot)")  # fmt: skip
            learn = gr.Radio(LEARN_CHOICES, value="distributions", label="What the student learns")
            dropped = gr.Slider(1, 99, value=50, step=1, label="Decoder layers dropped (%)")
        with gr.Row():
            steps = gr.Slider(1, 200, value=8, step=1, label="Distillation steps (4 pairs each)")
            temperature = gr.Number(2.0, label="Temperature")
            alpha = gr.Slider(0, 1, value=0.5, step=0.05, label="KL share (the rest: loss on references)")
            distil_limit = gr.Slider(1, 40, value=5, step=1, label="Test examples to compare")
        with gr.Row():
            distil_button = gr.Button("Distil and compare", variant="primary")
            distil_resume = gr.Button("Resume distillation")
            distil_stop = gr.Button("Stop", variant="stop")
        distil_status = gr.Markdown(elem_id="distillation-status")
        distil_curve = gr.Plot(label="Distillation loss per step", elem_id="distillation-curve")
        distil_table = gr.Dataframe(visible=False, interactive=False, wrap=True, elem_id="distillation-table",
                                    label="Teacher, student before, student after")  # fmt: skip
        distil_examples = gr.Dataframe(visible=False, interactive=False, wrap=True, max_chars=300,
                                       label="Per example (distillation)")  # fmt: skip
        with gr.Row():
            distil_csv = gr.DownloadButton("Download distillation CSV", value=None)
            distil_json = gr.DownloadButton("Download distillation JSON", value=None)
    distil_outputs = [distil_status, distil_curve, distil_table, distil_examples, distil_csv, distil_json]
    distil_inputs = [model_state, flag, student_name, teacher, teacher_shots, learn, dropped, steps, temperature,
                     alpha, distil_limit]  # fmt: skip
    outputs = [status, table, chart, per_example, csv_file, json_file]
    measure_event = wiring.on_model(measure_button, partial(measure, outputs),
                                    [model_state, flag, int8, methods, sparsity, task, limit], outputs,
                                    "compression_measure", flag=flag)  # fmt: skip
    measure_event.then(lambda: [gr.update(visible=True)] * 3, outputs=outputs[1:4], api_visibility="private")
    return [
        wiring.on_model(distil_button, partial(distil, distil_outputs), distil_inputs, distil_outputs,
                        "compression_distil", flag=flag),
        wiring.on_model(distil_resume, partial(distil, distil_outputs, resume=True), distil_inputs, distil_outputs,
                        "compression_distil_resume", flag=flag),
        measure_event,
        wiring.on_model(histogram_button, histogram, [model_state], [magnitude_chart, magnitude_note],
                        "compression_histogram"),
        wiring.on_model(recipe_button, show_recipe, [model_state], [recipe_note, recipe_table, recipe_path],
                        "compression_recipe"),
    ], [distil_stop]  # fmt: skip
