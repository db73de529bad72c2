"""Attention tab: where the answer looks in a few-shot prompt, per layer and head, with shares by prompt segment."""

import gradio as gr
import pandas as pd

from evals import showcase
from evals.tasks import load_task
from modules import inputs
from modules.exports import write_csv
from modules.inside import attention
from modules.models.model import ATTENTION_MAX_TOKENS
from modules.ui import attention_chart, attention_stored, model_bar, pickers, results, wiring
from modules.ui.errors import user_errors
from modules.ui.model_bar import load_model

TITLE = "Attention"
COVERS = ()  # it looks inside the model; no technique of its own (the prompt is the prompting technique's)
DEFAULT_TASK, DEFAULT_K = attention_stored.DEFAULT_TASK, attention_stored.DEFAULT_K
MAX_K = 4  # few-shot examples: more only adds tokens the picture cuts (ATTENTION_MAX_TOKENS)
MAX_PROMPT_CHARS = 8000  # a typed prompt; only its last ATTENTION_MAX_TOKENS tokens are read


def make_picture(spec, task_name, example_id, prompt, k, progress=None) -> tuple[attention.Picture, str]:
    """(picture, model label): the few-shot prompt of the picked example, or the typed prompt as it is; bad input
    raises ValueError before the model loads."""
    text = inputs.text(prompt, "The prompt", MAX_PROMPT_CHARS)
    k = inputs.whole(k, "k few-shot examples", 0, MAX_K)
    if not text:
        if not example_id:
            raise ValueError("The prompt is empty: pick an example from the test split or type a prompt.")
        task = load_task(task_name)
        query = task.example(inputs.text(example_id, "The example id", inputs.MAX_SHORT_CHARS))
    model = load_model(spec, progress)
    if progress is not None:
        progress(0.5, desc="Answering, then one forward pass with eager attention…")
    if text:
        return attention.typed(model, text), model.label
    return attention.few_shot(model, task, query, k), model.label


def describe(picture: attention.Picture, label: str) -> str:
    """What was read, the answer, and the cut when there was one."""
    answer = " ↵ ".join(picture.answer.splitlines()) or "(empty)"  # one line: a '#' at a line start is a heading
    note = (f"**{label}** · {len(picture.tokens)} tokens read · answer (greedy, first {attention.ANSWER_TOKENS} "
            f"tokens at most): “{answer}”")  # fmt: skip
    if picture.cut:
        kept, dropped = len(picture.tokens), ", ".join(picture.cut_segments) or "the start"
        note += (
            f"\n\n✂️ **Cut for the picture:** the prompt and answer are {picture.cut + kept} tokens, more than the "
            f"{kept} a picture reads here (weights grow with the square of the length): {picture.cut} tokens from the "
            f"start were cut ({dropped}). The model read only the first token (kept: models park spare attention "
            f"there) and the last {kept - 1}; the shares are of what it read."
        )
    return note


def view(picture: attention.Picture, layer, head) -> tuple:
    """(figure, its HTML file) for one layer and head: drawn from the kept weights, no forward pass."""
    layer = inputs.whole(layer, "Layer", 1, picture.weights.shape[0])
    figure = attention_chart.heatmap(picture, layer, head)
    path = results.download_folder() / f"attention-layer{layer}.html"
    path.write_text(figure.to_html(include_plotlyjs=True, full_html=True))  # plotly.js inline: opens offline
    return figure, str(path)


def shares_csv(table: pd.DataFrame) -> str:
    path = results.download_folder() / "attention-shares.csv"
    write_csv(table.reset_index(names="layer"), path)
    return str(path)


def run(spec, task_name, example_id, prompt, progress=gr.Progress(), k=2) -> tuple:
    """Outputs: note, figure, layer, head, shares table, summary, CSV, HTML, kept picture."""
    with user_errors():
        picture, label = make_picture(spec, task_name, example_id, prompt, k, progress)
        layers, heads = picture.weights.shape[:2]
        figure, html_path = view(picture, layers, attention_chart.AVERAGE)  # the last layer: closest to the answer
    layer = gr.Slider(1, layers, value=layers, step=1, label=f"Layer (1 to {layers})", interactive=True)
    head = gr.Dropdown(attention_chart.head_choices(heads), value=attention_chart.AVERAGE, interactive=True)
    table = picture.table.reset_index(names="layer").round(3)
    return (describe(picture, label), figure, layer, head, table, picture.summary, shares_csv(picture.table),
            html_path, picture)  # fmt: skip


def redraw(picture, layer, head) -> tuple:
    """The picker moved: this session's kept weights drawn again; before its first run, the stored example's (one
    copy for every session, not one per session in its State); with neither, nothing."""
    stored = attention_stored.load()
    picture = picture if picture is not None else stored[0] if stored else None
    if picture is None:
        return gr.update(), gr.update()
    with user_errors():
        return view(picture, layer, head)


def opening() -> dict:
    """What the tab opens with: the stored example (every layer, heads averaged), or nothing."""
    stored = attention_stored.load()
    if stored is None:
        return {"note": "", "figure": None, "table": None, "summary": "", "layers": 30, "heads": 9}
    picture, label, example_id = stored
    note = (f"{showcase.describe(label)} Example `{example_id}`, k={DEFAULT_K}; heads averaged (press **Show "
            f"attention** for each head's map).\n\n{describe(picture, label['model'])}")  # fmt: skip
    layers = picture.weights.shape[0]
    figure = attention_chart.heatmap(picture, layers, attention_chart.AVERAGE)
    return {"note": note, "figure": figure,
            "table": picture.table.reset_index(names="layer").round(3), "summary": picture.summary,
            "layers": layers, "heads": 0}  # fmt: skip


def build(model_state: gr.State, model_info: gr.Markdown) -> None:
    choices = pickers.example_choices(DEFAULT_TASK)
    first = opening()
    with gr.Tab(TITLE):
        kept = gr.State(None)  # this session's last picture: a picker redraws from it without the model
        gr.Markdown(
            "Where the model looks while it answers. The few-shot prompt (or yours) goes through the model once "
            "for a greedy answer, then once more with **eager attention**, which forms the weights the default "
            "kernels skip (switched for that pass only, inside the model queue). Rows are the tokens reading, "
            f"columns the tokens they look at. At most {ATTENTION_MAX_TOKENS} tokens are read: a longer prompt "
            "is cut after its first token, with a note. Models on a server return no attention weights."
        )
        with gr.Row():
            with gr.Column(scale=2):
                task = gr.Dropdown(pickers.task_choices(), value=DEFAULT_TASK, label="Task", allow_custom_value=True)
                example = gr.Dropdown(choices, value=choices[0][1], label="Example (test split)",
                                      allow_custom_value=True)  # fmt: skip
                prompt = gr.Textbox(label="Or type a prompt (sent as it is; overrides the few-shot prompt)", lines=2)
            with gr.Column(scale=1):
                k = gr.Slider(
                    0, MAX_K, value=DEFAULT_K, step=1, label="k few-shot examples (first k of the train split)"
                )
                run_button = gr.Button("Show attention", variant="primary")
        note = gr.Markdown(first["note"], elem_classes=["attention-note", "stored-example"])
        with gr.Row():
            layer = gr.Slider(1, first["layers"], value=first["layers"], step=1, label="Layer")
            head = gr.Dropdown(attention_chart.head_choices(first["heads"]), value=attention_chart.AVERAGE,
                               label="Head")  # fmt: skip
        figure = gr.Plot(first["figure"], label="Attention weights")
        summary = gr.Markdown(first["summary"])
        table = gr.Dataframe(first["table"], label="Share of the answer's attention per segment (rows sum to 1)",
                             interactive=False, wrap=True)  # fmt: skip
        with gr.Row():
            csv_file = gr.DownloadButton("Download shares (CSV)", value=None)
            html_file = gr.DownloadButton("Download figure (HTML, works offline)", value=None)

    pickers.refresh_on_focus(task)
    task.change(pickers.examples_update(), inputs=task, outputs=example, api_visibility="private")
    outputs = [note, figure, layer, head, table, summary, csv_file, html_file, kept]
    event = wiring.on_model(run_button, run, [model_state, task, example, prompt], outputs, api_name="attention_run",
                            scroll_to=".attention-note", settings={"k": k})  # fmt: skip
    event.then(model_bar.refresh, inputs=model_state, outputs=model_info, api_visibility="private")  # first load
    layer.input(
        redraw,
        inputs=[kept, layer, head],
        outputs=[figure, html_file],
        api_visibility="private",
        trigger_mode="always_last",
    )  # fmt: skip (dragging: only the last position is drawn)
    head.input(redraw, inputs=[kept, layer, head], outputs=[figure, html_file], api_visibility="private")
