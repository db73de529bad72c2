"""The saved-adapters panel of the fine-tuning tab: list, use in every tab, delete."""

import gradio as gr

from modules.models import adapters, forget, variant_spec
from modules.studies import fine_tuning
from modules.ui import model_bar, wiring
from modules.ui.errors import user_errors
from modules.ui.model_bar import load_model


def adapter_choices() -> list[str]:
    return [a["name"] for a in adapters.list_assets()]


def refresh():
    return fine_tuning.adapter_table(), gr.Dropdown(choices=adapter_choices())


def use_adapter(name, spec, progress=gr.Progress()):
    """Make the adapter variant this session's model in every tab (its base stays loaded and unchanged)."""
    if not name:
        raise gr.Error("Pick a saved adapter first.")
    with user_errors():
        meta = adapters.read_meta(name)
        variant = load_model(variant_spec(meta["base"], adapter=name), progress)
    return variant.spec, model_bar.describe(variant)


def delete_adapter(name):
    if not name:
        raise gr.Error("Pick a saved adapter first.")
    with user_errors():
        meta = adapters.read_meta(name)
        adapters.delete(name)
    forget(variant_spec(meta["base"], adapter=name))
    return f"Deleted adapter `{name}`.", fine_tuning.adapter_table(), gr.Dropdown(choices=adapter_choices(), value=None)


def build(model_state: gr.State, model_info: gr.Markdown) -> tuple[gr.Dataframe, gr.Dropdown]:
    """The panel; returns (table, choice) so a finished training job can refresh them."""
    with gr.Accordion("Saved adapters (usable in every tab)", open=False):
        table = gr.Dataframe(fine_tuning.adapter_table, label="Adapters", interactive=False)
        with gr.Row():
            choice = gr.Dropdown(adapter_choices(), label="Adapter", value=None, allow_custom_value=True)
            refresh_button = gr.Button("Refresh")
            use_button = gr.Button("Use in every tab", variant="primary")
            delete_button = gr.Button("Delete", variant="stop")
        message = gr.Markdown()
    refresh_button.click(refresh, outputs=[table, choice], api_name="finetune_adapters")
    wiring.on_model(use_button, use_adapter, [choice, model_state], [model_state, model_info], "finetune_use_adapter")
    delete_button.click(delete_adapter, inputs=choice, outputs=[message, table, choice],
                        api_name="finetune_delete_adapter")  # fmt: skip
    return table, choice
