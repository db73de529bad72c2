"""The model bar: which model every tab uses (label, size, device, precision) and a switch to another spec."""

import gradio as gr

from modules import limits
from modules.models import DEFAULT_SPEC, Model, get_model, is_loaded
from modules.ui.errors import user_errors


def load_model(spec: str, progress: gr.Progress | None = None) -> Model:
    """The shared model for `spec`; shows progress while a first load (or GGUF conversion) runs."""
    if progress is not None and not is_loaded(spec):
        progress(0.1, desc=f"Loading {spec} (first use; the embedded model converts its GGUF once, ~20 s)")
    with user_errors():
        return get_model(spec)


def describe(model: Model) -> str:
    info = model.info()
    size = f"{info['parameters'] / 1e6:.1f}M parameters" if info["parameters"] else "size set by the server"
    return (
        f"**Model:** {info['label']} · {size} · device {info['device']}"
        f" · {info['dtype']} · context {info['context_length']} tokens"
        + (" · chat template" if info["chat_template"] else "")
        + f" · decoding: {info['decode']}"
        + (f" (warmed up in {info['warm_up_s']:.0f} s)" if info["warm_up_s"] else "")
    )


def initial_text(spec: str = DEFAULT_SPEC) -> str:
    if is_loaded(spec):
        return describe(get_model(spec))
    if limits.warm_model():
        return f"**Model:** `{spec}` (loading at start-up; reload the page to see it ready)"
    return f"**Model:** `{spec}` (loads on first use)"


def switch(spec: str, current: str, progress=gr.Progress()) -> tuple[str, str]:
    """Load `spec` and make it this session's model; on failure the previous model stays in use."""
    spec = (spec or "").strip()
    if not spec:
        raise gr.Error("Type a model spec: 'smollm2-135m', a local folder, or a Hugging Face id (online).")
    model = load_model(spec, progress)
    return spec, describe(model)


def refresh(spec: str) -> str:
    """The bar's text after a tab has used (and so loaded) the session's model."""
    return initial_text(spec)


def build(model_state: gr.State) -> gr.Markdown:
    """The bar; returns its text component so tabs can refresh it after the model first loads."""
    with gr.Row(equal_height=True):
        info = gr.Markdown(initial_text(), elem_id="model-info")
        spec = gr.Textbox(
            value=DEFAULT_SPEC, label="Model spec", scale=0, min_width=260,
            info="smollm2-135m (embedded), a local folder, a hub id when online, or openai:<model>[@<server URL>]",
        )  # fmt: skip
        load = gr.Button("Load model", scale=0)
    load.click(
        switch, inputs=[spec, model_state], outputs=[model_state, info], api_name="load_model",
        concurrency_id="model", concurrency_limit=1,
    )  # fmt: skip
    return info
