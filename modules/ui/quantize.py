"""Compression tab, its precision half: fp32 vs bf16 vs int8 (per tensor, or w8a8 per token) vs 4-bit on the shared
model, per-component choice, sensitivity ranking, size / speed / perplexity / quality table, Pareto chart, and one
prompt side by side. Pruning, the int8 recipe and the Pareto chart over size, speed and quality: ui/compression.py."""

from functools import partial

import gradio as gr

from evals import showcase
from modules import inputs
from modules.models import ModelSpec, llamacpp, quantized, zero_gpu
from modules.models.embedded import EMBEDDED_SPEC
from modules.studies import quantization
from modules.ui import charts, compression, pickers, tables, variant_study, wiring
from modules.ui.errors import user_errors
from modules.ui.stop_flag import StopFlag

TITLE = "Compression"  # was "Quantization": precision is one of the ways to compress
COVERS = ()  # quantization makes model variants; the runner's zero-shot technique scores them (docs/ARCHITECTURE.md)
PRECISION_CHOICES = [("bf16", "bf16"), ("int8", "int8"), ("w8a8 (int8 per token)", "w8a8"), ("4-bit", "4bit"),
                     ("Q4_1 GGUF (llama.cpp)", "gguf")]  # fmt: skip
COLUMNS = ("fp32", "bf16", "int8", "w8a8", "4bit", "gguf")
TASKS = variant_study.TASKS
MAX_PROMPT_CHARS = 4000  # one prompt through up to five variants, each holding the shared model


def variant_names(precisions: list[str], components: str, spec: str = EMBEDDED_SPEC) -> list[str]:
    if not precisions:
        raise ValueError("Pick at least one precision to compare with fp32.")
    names = ["fp32"]
    for precision in precisions:
        if precision == "gguf":
            reason = llamacpp.unavailable_reason() or (
                None if spec == EMBEDDED_SPEC else "the Q4_1 GGUF is the embedded model's file; load smollm2-135m"
            )
            if reason:
                gr.Warning(reason)
            else:
                names.append(quantization.GGUF)
            continue
        reason = quantized.unavailable_reason(precision)
        if reason:
            gr.Warning(f"{precision} skipped: {reason}")
            continue
        names.append(quantized.Config(precision, components).name)
    return names


def gguf_mismatch(base) -> str | None:
    return None if base.spec == EMBEDDED_SPEC else "the Q4_1 GGUF is the embedded model's own file: load smollm2-135m."


def measure_variants(outputs, spec, flag, precisions, components, task, limit, progress=gr.Progress()):
    with user_errors():
        names = variant_names(precisions, components, spec)
        limit = inputs.whole(limit, "Test examples", 1, variant_study.MAX_EXAMPLES)

    def work(base, report, stop):
        return quantization.compare_variants(base, names, task, limit, report, stop)

    yield from variant_study.stream(outputs, spec, flag, work, f"Variants: {', '.join(names)}", progress)


def measure_sensitivity(outputs, spec, flag, task, limit, progress=gr.Progress()):
    with user_errors():
        limit = inputs.whole(limit, "Test examples", 1, variant_study.MAX_EXAMPLES)

    def work(base, report, stop):
        return quantization.sensitivity(base, task, limit, report, stop)

    describe = "Sensitivity: int8 on one layer type at a time (the rest fp32), worst first"
    yield from variant_study.stream(outputs, spec, flag, work, describe, progress, charts.sensitivity)


def side_by_side(spec, precisions, components, prompt, max_new_tokens, progress=gr.Progress()):
    """One prompt through fp32 and each chosen variant; each column shows its output and tokens/s."""
    with user_errors():
        text = inputs.text(prompt, "The prompt", MAX_PROMPT_CHARS)
        if not text:
            raise ValueError("Type a prompt to send to every variant.")
        max_new_tokens = inputs.whole(max_new_tokens, "Max new tokens", 8, 256)
        base = variant_study.base_model(spec, progress)
        pickers.check_fits(base, text, max_new_tokens, "prompt")
    cells = []
    for column in COLUMNS:
        if column != "fp32" and column not in (precisions or []):
            cells.append("_(not selected)_")
            continue
        reason = (
            (llamacpp.unavailable_reason() or gguf_mismatch(base))
            if column == "gguf"
            else (quantized.unavailable_reason(column))
        )
        if reason:
            cells.append(f"_Absent here:_ {reason}")
            continue
        if column == "gguf":
            progress(len(cells) / len(COLUMNS), desc="llama.cpp…")
            text_out, tokens, seconds = quantization.gguf_one_prompt(text, max_new_tokens)
            cells.append(f"**{quantization.GGUF}** · {tokens} tokens · **{tokens / seconds:.1f} tok/s**\n\n{text_out}")
            continue
        progress(len(cells) / len(COLUMNS), desc=f"{column}…")
        with user_errors():
            # The first column is the base in its own precision (fp32 on a CPU, bf16 on CUDA): the reference.
            name = quantized.own_precision(base) if column == "fp32" else quantized.Config(column, components).name
            output = quantization.one_prompt(quantization.variant(base, name), text, max_new_tokens)
        cells.append(f"**{name}** · {output.new_tokens} tokens · **{output.tokens_per_s:.1f} tok/s**\n\n{output.text}")
    return cells


def free_variants(spec):
    """Forget the precision variants of this session's base, the session's own model too when it is one; loads
    nothing (a base never loaded has none)."""
    with user_errors():
        freed = quantization.free(spec, quantization.loaded_variants(spec))
        own = ModelSpec.parse(spec).quant
    note = f" This session's model ({own}) was one of them: its next use builds it again." if own in freed else ""
    return f"Freed {len(freed)} variant(s): {', '.join(freed) or 'none were loaded'}.{note}"


def build(model_state: gr.State, model_info: gr.Markdown) -> None:
    reason = quantized.unavailable_reason("4bit")
    with gr.Tab(TITLE):
        flag = gr.State(StopFlag())  # inside the tab: a State between tabs breaks Gradio's tab bar
        gr.Markdown(
            "Precision variants of the model in the model bar, each made from a copy (the base is never modified), "
            "kept while in use and freed on request: **fp32** (the baseline), **bf16**, **int8** (PyTorch dynamic "
            "quantization on CPU, bitsandbytes on CUDA) and **4-bit** (bitsandbytes NF4 on CUDA; on a CPU PyTorch's "
            "int4 weight-only kernel: small, exact for the embedded model, whose weights came from a 4-bit file, but "
            "~10x slower than fp32 here). Components choose which Linear layers int8/4-bit touch. A variant that "
            "would not fit in free memory is refused. **Q4_1 GGUF** runs the embedded model's original 4-bit file in "
            f"llama.cpp when it is installed (optional: `{llamacpp.INSTALL}`); it gets speed, size and perplexity, "
            "not task scores (another engine)."
            + (f"\n\n**Off on this Space:** {off}" if (off := zero_gpu.refusal("quantization")) else "")
            + (f"\n\n**4-bit is absent here:** {reason}" if reason and not off else "")
        )
        with gr.Row():
            precisions = gr.CheckboxGroup(PRECISION_CHOICES, value=["int8"], label="Compare with fp32")
            components = gr.Radio(list(quantized.COMPONENTS), value="all-but-embeddings",
                                  label="int8 / 4-bit components")  # fmt: skip
            task = gr.Dropdown(TASKS, value=TASKS[0], label="Task for ROUGE-L / BLEU", allow_custom_value=True)
            limit = gr.Slider(1, variant_study.MAX_EXAMPLES, value=5, step=1, label="Test examples")
        with gr.Row():
            measure_button = gr.Button("Measure variants", variant="primary")
            sensitivity_button = gr.Button("Sensitivity per layer type (int8)")
            stop_button = gr.Button("Stop", variant="stop")
            free_button = gr.Button("Free variants")
        stored = showcase.load_stored("quantization")  # what a first visit shows, labelled, until a run replaces it
        note, first = (showcase.describe(stored["label"]), stored["table"]) if stored else ("", None)
        status = gr.Markdown(note, elem_classes="stored-example")
        table = gr.Dataframe(None if first is None else first.round(3), interactive=False, wrap=True,
                             label="Per variant: size, speed, perplexity, quality, fp32 agreement")  # fmt: skip
        chart = gr.Plot(None if first is None else charts.variants(first),
                        label="Memory, speed, and quality vs speed (Pareto front starred)")  # fmt: skip
        per_example = gr.Dataframe(tables.rounded(stored["run"].per_example) if stored else None, label="Per example",
                                   interactive=False, wrap=True, max_chars=300)  # fmt: skip
        with gr.Row():
            csv_file = gr.DownloadButton("Download CSV", value=None)
            json_file = gr.DownloadButton("Download JSON", value=None)
        with gr.Accordion("One prompt, side by side", open=True):
            with gr.Row():
                prompt = gr.Textbox("Explain in two sentences why the sky is blue.", label="Prompt", scale=4)
                max_new_tokens = gr.Slider(8, 256, value=64, step=8, label="Max new tokens", scale=1)
                side_button = gr.Button("Generate in every column", scale=1)
            with gr.Row(equal_height=False):
                cells = [gr.Markdown(f"### {column}") for column in COLUMNS]
        section_events, section_stops = compression.build(model_state, flag)

    outputs = [status, table, chart, per_example, csv_file, json_file]
    events = [
        wiring.on_model(measure_button, partial(measure_variants, outputs),
                        [model_state, flag, precisions, components, task, limit], outputs, "quant_measure",
                        flag=flag),
        wiring.on_model(sensitivity_button, partial(measure_sensitivity, outputs), [model_state, flag, task, limit],
                        outputs, "quant_sensitivity", flag=flag),
        wiring.on_model(side_button, side_by_side, [model_state, precisions, components, prompt, max_new_tokens],
                        cells, "quant_side_by_side"),
    ]  # fmt: skip
    events += section_events
    wiring.wire_common(events, flag, (stop_button, *section_stops), model_state, model_info, "quant_stop")
    for event in events[:2]:  # cleared when a study starts, filled at its end
        event.then(lambda: [gr.update(visible=True)] * 3, outputs=outputs[1:4], api_visibility="private")
    wiring.on_model(free_button, free_variants, [model_state], [status], "quant_free")
