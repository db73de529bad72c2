"""LLM Technique Lab: `demo` is importable without loading a model; `python app.py` serves it."""

import os

import gradio as gr

from modules.ui import runs

TITLE = "LLM Technique Lab"


def build_demo() -> gr.Blocks:
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(f"# {TITLE}\nCompare LLM techniques side by side on one shared model, scored the same way.")
        with gr.Tabs():
            runs.build()
    return demo


demo = build_demo()

if __name__ == "__main__":
    demo.queue(default_concurrency_limit=1).launch(
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
    )
