"""The Compression tab's second half (the precision half is modules/ui/quantize.py, in the same tab): the weight-
magnitude histogram, pruned and int8 variants measured side by side, the Pareto chart, the int8 recipe's why."""

from functools import partial

import gradio as gr

from modules import inputs
from modules.models import pruned
from modules.studies import compression
from modules.ui import charts, variant_study, wiring
from modules.ui.errors import user_errors

METHOD_CHOICES = [("magnitude, global", "magnitude-global"), ("magnitude, per layer", "magnitude-layer"),
                  ("Wanda (|w| x input norm)", "wanda"), ("whole MLP neurons (structured)", "mlp-neurons"),
                  ("whole decoder layers (structured)", "layers")]  # fmt: skip
INT8_CHOICES = [("int8 per tensor (the old path)", "int8"), ("w8a8: SmoothQuant + int8 per token", "w8a8"),
                ("w8a8, automatic recipe", "w8a8-auto")]  # fmt: skip
assert [value for _, value in METHOD_CHOICES] == list(pruned.METHODS)


def measure(outputs, spec, flag, int8, methods, sparsity_text, task, limit, progress=gr.Progress()):
    with user_errors():
        names = compression.variant_names(int8 or [], methods or [], sparsity_text)
        limit = inputs.whole(limit, "Test examples", 1, 40)

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


def build(model_state: gr.State, flag: gr.State) -> list:
    """The section's controls and outputs (inside the tab); its model events, for the tab's common wiring."""
    with gr.Accordion("Pruning, the int8 recipe, and the Pareto chart", open=True):
        gr.Markdown(
            "Pruned and int8 variants by spec (`+prune:wanda-50`, `+quant:w8a8-auto`, or both: "
            "`+prune:mlp-neurons-25+quant:w8a8`), each a copy usable in every tab. **Unstructured** pruning "
            "(magnitude, Wanda) zeroes weights but stores them dense: no speed or size gain, only the quality cost. "
            "**Structured** pruning removes whole MLP neurons, so the matrices shrink: smaller and faster. Wanda "
            "calibrates on 4 dialogue-summary train examples."
        )  # fmt: skip
        with gr.Row():
            int8 = gr.CheckboxGroup(INT8_CHOICES, value=["w8a8-auto"], label="int8 variants")
            methods = gr.CheckboxGroup(METHOD_CHOICES, value=["wanda", "mlp-neurons"], label="Pruning methods")
        with gr.Row():
            sparsity = gr.Textbox("25, 50", label="Sparsity % (comma-separated, 1-99)", max_length=60)
            task = gr.Dropdown(variant_study.TASKS, value=variant_study.TASKS[0], label="Task for ROUGE-L / BLEU")
            limit = gr.Slider(1, 40, value=5, step=1, label="Examples to score")
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
    outputs = [status, table, chart, per_example, csv_file, json_file]
    measure_event = wiring.on_model(measure_button, partial(measure, outputs),
                                    [model_state, flag, int8, methods, sparsity, task, limit], outputs,
                                    "compression_measure", flag=flag)  # fmt: skip
    measure_event.then(lambda: [gr.update(visible=True)] * 3, outputs=outputs[1:4], api_visibility="private")
    return [
        measure_event,
        wiring.on_model(histogram_button, histogram, [model_state], [magnitude_chart, magnitude_note],
                        "compression_histogram"),
        wiring.on_model(recipe_button, show_recipe, [model_state], [recipe_note, recipe_table, recipe_path],
                        "compression_recipe"),
    ]  # fmt: skip
