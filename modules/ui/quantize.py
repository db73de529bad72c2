"""Quantization tab: fp32 vs bf16 vs int8 vs 4-bit on the shared model, per-component choice, sensitivity ranking,
size / speed / perplexity / quality table, Pareto chart, and one prompt side by side."""

import json
import tempfile
from pathlib import Path

import gradio as gr
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from modules.models import GenerationParams, ModelSpec, llamacpp, loaded_specs, quantized
from modules.models.embedded import EMBEDDED_SPEC
from modules.studies import quantization
from modules.ui import model_bar
from modules.ui.background import run_in_background
from modules.ui.errors import user_errors
from modules.ui.model_bar import load_model
from modules.ui.stop_flag import StopFlag, press

COVERS = ()  # quantization makes model variants; the runner's zero-shot technique scores them (DESIGN.md)
PRECISION_CHOICES = [("bf16", "bf16"), ("int8", "int8"), ("4-bit", "4bit"), ("Q4_1 GGUF (llama.cpp)", "gguf")]
COLUMNS = ("fp32", "bf16", "int8", "4bit", "gguf")
TASKS = ["dialogue-summary", "arithmetic-word-problems"]


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


def base_model(spec, progress):
    model = load_model(spec, progress)
    if ModelSpec.parse(model.spec).is_variant:
        raise gr.Error("The model bar holds a variant: load its base model to make precision variants of it.")
    return model


def charts(table: pd.DataFrame) -> go.Figure:
    """Memory and speed bars, and the quality-vs-speed scatter with the Pareto front marked."""
    table = table.copy()
    if "pareto" not in table:
        table["pareto"] = False
    fig = make_subplots(rows=1, cols=3, subplot_titles=["weight memory (MB)", "decode tokens/s", "ROUGE-L vs speed"])
    fig.add_trace(go.Bar(x=table.variant, y=table["weight MB"], name="weight MB", showlegend=False), 1, 1)
    fig.add_trace(go.Bar(x=table.variant, y=table["tok/s batch 1"], name="batch 1"), 1, 2)
    fig.add_trace(go.Bar(x=table.variant, y=table["tok/s batch 8"], name="batch 8"), 1, 2)
    if "rougeL" in table:
        front = table[table.pareto]
        fig.add_trace(go.Scatter(x=table["tok/s batch 1"], y=table.rougeL, mode="markers+text", text=table.variant,
                                 textposition="top center", name="variants"), 1, 3)  # fmt: skip
        fig.add_trace(go.Scatter(x=front["tok/s batch 1"], y=front.rougeL, mode="lines+markers",
                                 name="Pareto front", marker={"size": 12, "symbol": "star"}), 1, 3)  # fmt: skip
        fig.update_xaxes(title_text="tokens/s at batch 1", row=1, col=3)
    fig.update_layout(height=380, barmode="group", margin={"t": 50, "b": 40})
    return fig


def sensitivity_chart(table: pd.DataFrame) -> go.Figure:
    """What each component group loses when it alone is int8: perplexity increase and ROUGE-L lost."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=["perplexity increase", "ROUGE-L lost"])
    fig.add_trace(go.Bar(x=table.variant, y=table["perplexity increase"], showlegend=False), 1, 1)
    fig.add_trace(go.Bar(x=table.variant, y=table["ROUGE-L lost"], showlegend=False), 1, 2)
    fig.update_layout(height=340, margin={"t": 50, "b": 40})
    return fig


def write_downloads(table: pd.DataFrame, run, model_info: dict) -> tuple[str, str]:
    folder = Path(tempfile.mkdtemp(prefix="quantization-"))
    csv_path, json_path = folder / "quantization.csv", folder / "quantization.json"
    table.to_csv(csv_path, index=False)
    payload = {"variants": table.to_dict(orient="records"), "quality_run": run.to_dict(model_info)}
    json_path.write_text(json.dumps(payload, indent=1, default=str))
    return str(csv_path), str(json_path)


def _stream(spec, flag: StopFlag, work, describe: str, progress, chart=charts):
    """Run work(base, report, stop) in the background; yield (status, table, chart, per-example, csv, json)."""
    with user_errors():
        base = base_model(spec, progress)
    stop = flag.event
    stop.clear()
    skip = [gr.skip()] * 5
    try:
        with user_errors():
            for kind, value in run_in_background(lambda report: work(base, report, stop)):
                if kind == "update":
                    progress(None, desc=value)
                    yield value, *skip
    finally:
        stop.set()
    table, run = value
    n = run.per_example.example_id.nunique() if not run.per_example.empty else 0
    status = (f"**{describe}** · run {run.id} ({run.status}) · task `{run.task}` test split, {n} examples, zero-shot, "
              f"greedy · base {base.label} · ROUGE-L/BLEU means with 95% bootstrap intervals · speed: 32 new "
              f"tokens (8 for CPU int4), best of 1 after a warm-up · perplexity on the "
              f"first {quantization.PERPLEXITY_TEXTS} "
              "dialogue-summary test references")  # fmt: skip
    shown = table.round(3)
    yield status, shown, chart(table), run.per_example, *write_downloads(table, run, base.info())


def measure_variants(spec, flag, precisions, components, task, limit, progress=gr.Progress()):
    with user_errors():
        names = variant_names(precisions, components, spec)

    def work(base, report, stop):
        return quantization.compare_variants(base, names, task, int(limit), report, stop)

    yield from _stream(spec, flag, work, f"Variants: {', '.join(names)}", progress)


def measure_sensitivity(spec, flag, task, limit, progress=gr.Progress()):
    def work(base, report, stop):
        return quantization.sensitivity(base, task, int(limit), report, stop)

    describe = "Sensitivity: int8 on one layer type at a time (the rest fp32), worst first"
    yield from _stream(spec, flag, work, describe, progress, sensitivity_chart)


def side_by_side(spec, precisions, components, prompt, max_new_tokens, progress=gr.Progress()):
    """One prompt through fp32 and each chosen variant; each column shows its output and tokens/s."""
    text = (prompt or "").strip()
    if not text:
        raise gr.Error("Type a prompt to send to every variant.")
    with user_errors():
        base = base_model(spec, progress)
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
            text_out, tokens, seconds = llamacpp.chat([{"role": "user", "content": text}], int(max_new_tokens))
            cells.append(f"**{quantization.GGUF}** · {tokens} tokens · **{tokens / seconds:.1f} tok/s**\n\n{text_out}")
            continue
        progress(len(cells) / len(COLUMNS), desc=f"{column}…")
        with user_errors():
            name = "fp32" if column == "fp32" else quantized.Config(column, components).name
            model = quantization.variant(base, name)
            (generation,) = model.generate([[{"role": "user", "content": text}]],
                                           GenerationParams(max_new_tokens=int(max_new_tokens)))  # fmt: skip
        rate = generation.new_tokens / generation.latency_s if generation.latency_s else 0.0
        cells.append(f"**{name}** · {generation.new_tokens} tokens · **{rate:.1f} tok/s**\n\n{generation.text}")
    return cells


def free_variants(spec):
    """Forget this base's precision variants; loads nothing (a base never loaded has none)."""
    spec = (spec or "").strip()
    names = [ModelSpec.parse(s).quant for s in list_variants(spec)]
    quantization.free(spec, names)
    return f"Freed {len(names)} variant(s): {', '.join(names) or 'none were loaded'}."


def list_variants(base_spec: str) -> list[str]:
    base = ModelSpec.parse(base_spec)
    return [s for s in loaded_specs() if ModelSpec.parse(s).with_quant(None) == base and ModelSpec.parse(s).quant]


def build(model_state: gr.State, model_info: gr.Markdown) -> None:
    reason = quantized.unavailable_reason("4bit")
    with gr.Tab("Quantization"):
        gr.Markdown(
            "Precision variants of the model in the model bar, each made from a copy (the base is never modified), "
            "kept while in use and freed on request: **fp32** (the baseline), **bf16**, **int8** (PyTorch dynamic "
            "quantization on CPU, bitsandbytes on CUDA) and **4-bit** (bitsandbytes NF4 on CUDA; on a CPU PyTorch's "
            "int4 weight-only kernel: small, exact for the embedded model, whose weights came from a 4-bit file, but "
            "~10x slower than fp32 here). Components choose which Linear layers int8/4-bit touch. A variant that "
            "would not fit in free memory is refused. **Q4_1 GGUF** runs the embedded model's original 4-bit file in "
            f"llama.cpp when it is installed (optional: `{llamacpp.INSTALL}`); it gets speed, size and perplexity, "
            "not task scores (another engine)." + (f"\n\n**4-bit is absent here:** {reason}" if reason else "")
        )
        with gr.Row():
            precisions = gr.CheckboxGroup(PRECISION_CHOICES, value=["int8"], label="Compare with fp32")
            components = gr.Radio(list(quantized.COMPONENTS), value="all-but-embeddings",
                                  label="int8 / 4-bit components")  # fmt: skip
            task = gr.Dropdown(TASKS, value=TASKS[0], label="Task for ROUGE-L / BLEU")
            limit = gr.Slider(1, 40, value=5, step=1, label="Test examples")
        with gr.Row():
            measure_button = gr.Button("Measure variants", variant="primary")
            sensitivity_button = gr.Button("Sensitivity per layer type (int8)")
            stop_button = gr.Button("Stop", variant="stop")
            free_button = gr.Button("Free variants")
        status = gr.Markdown()
        table = gr.Dataframe(label="Per variant: size, speed, perplexity, quality, fp32 agreement", interactive=False)
        chart = gr.Plot(label="Memory, speed, and quality vs speed (Pareto front starred)")
        per_example = gr.Dataframe(label="Per example", interactive=False, wrap=True)
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

    flag = gr.State(StopFlag())
    outputs = [status, table, chart, per_example, csv_file, json_file]
    events = [
        measure_button.click(measure_variants, inputs=[model_state, flag, precisions, components, task, limit],
                             outputs=outputs, api_name="quant_measure", concurrency_id="model",
                             concurrency_limit=1),
        sensitivity_button.click(measure_sensitivity, inputs=[model_state, flag, task, limit], outputs=outputs,
                                 api_name="quant_sensitivity", concurrency_id="model", concurrency_limit=1),
        side_button.click(side_by_side, inputs=[model_state, precisions, components, prompt, max_new_tokens],
                          outputs=cells, api_name="quant_side_by_side", concurrency_id="model", concurrency_limit=1),
    ]  # fmt: skip
    for event in events:
        event.then(model_bar.refresh, inputs=model_state, outputs=model_info, api_visibility="private")
    stop_button.click(press, inputs=flag, queue=False, api_name="quant_stop")
    free_button.click(free_variants, inputs=model_state, outputs=status, api_name="quant_free",
                      concurrency_id="model", concurrency_limit=1)  # fmt: skip
