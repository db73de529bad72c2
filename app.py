"""LLM Technique Lab: `demo` is importable without loading a model; `python app.py` serves it."""

import os
import threading

import gradio as gr
from starlette.middleware import Middleware

from modules import limits, paths, space
from modules.models import DEFAULT_SPEC, get_model
from modules.retrieval.uploads import UploadLimits
from modules.training.data import MAX_JSONL_BYTES
from modules.ui import model_bar, runs, session_ids, style, tabs, upload_cache
from modules.ui.errors import guard_every_event

TITLE = "LLM Technique Lab"
# Gradio's cache (uploads, downloads) is swept hourly of files older than an hour: a public Space never fills up.
CACHE_SWEEP = (3600, 3600)


def build_demo() -> gr.Blocks:
    with gr.Blocks(title=TITLE, delete_cache=CACHE_SWEEP) as demo:
        gr.Markdown(f"# {TITLE}\nCompare LLM techniques side by side on one shared model, scored the same way.")
        if note := space.deployment_note():  # a Space (or LAB_PER_SESSION=1): whose files are whose, kept where
            gr.Markdown(note, elem_id="deployment-note")
        model_state = gr.State(DEFAULT_SPEC)  # this session's model spec; the model itself is shared
        model_info = model_bar.build(model_state)
        # Only gr.Tab directly inside gr.Tabs: Gradio 6 numbers tabs by their position among all children, so a
        # gr.State between tabs makes a clicked tab overwrite another one in the bar (tests/test_app.py checks).
        with gr.Tabs(overflow_behavior="wrap") as tab_bar:  # every tab label stays on screen at 800 px
            built = {tab.title: tab.build(model_state, model_info) for tab in tabs.TABS}  # in page order
        # A new page shows the model as it is now (loaded by another visitor, or warmed at start-up).
        demo.load(model_bar.refresh, inputs=model_state, outputs=model_info, api_visibility="private")
        run_view = built[runs.TITLE]  # ?run=ID in the address opens that run
        linked = demo.load(runs.from_link, outputs=[tab_bar, *run_view], api_visibility="private")
        linked.then(None, js=runs.SHOW_LINKED_RUN, api_visibility="private")  # the run in view, not the list above
    upload_cache.claim_every_file(demo)  # a cached upload is used only by the session that sent it first
    guard_every_event(demo)  # no handler can answer a bad input with a bare error or a traceback
    # One queue for everything; model events share concurrency_id="model", so one job runs on the model at a time.
    # Beyond LAB_QUEUE_SIZE waiting jobs a new one gets Gradio's "queue is full, try again" message.
    return demo.queue(max_size=limits.queue_size(), default_concurrency_limit=1)


def max_upload_bytes() -> int:
    """Gradio refuses a bigger upload before it reaches the cache: the larger of the document and JSONL limits
    (each is checked again, per kind, when the file is read)."""
    return max(UploadLimits.from_env().max_file_bytes, MAX_JSONL_BYTES)


def warm_up() -> None:
    """LAB_WARM_MODEL=1: load the default model in the background at start-up, so the first click does not wait."""
    if limits.warm_model():
        threading.Thread(target=get_model, args=(DEFAULT_SPEC,), daemon=True, name="warm-up").start()


def serve(**options) -> None:
    """Launch `demo` with the lab's limits; options go to launch() (tests pass a port and prevent_thread_lock)."""
    warm_up()
    paths.sweep_expired()  # session folders past their time, and the shared folder older versions used
    upload_cache.start_sweeping()  # shared deployments: Gradio's upload cache by age, whether used or not
    defaults = {
        "server_name": os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        "server_port": int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
    }
    # show_error: every handler is guarded (its errors are the lab's own short messages), so what this adds is
    # Gradio's own refusal of a value of the wrong type (a word for a number), instead of a bare error.
    # style: WCAG AA colours, narrow-screen and toast CSS, arrow keys in the tab bar and a skip link (Gradio 6 takes
    # theme, css and js in launch(), not in gr.Blocks()).
    demo.launch(
        **(defaults | options),
        max_file_size=max_upload_bytes(),
        show_error=True,
        theme=style.THEME,
        css=style.CSS,
        js=style.JS,
        # Before Gradio: a request with an empty (HTTP 500 in Gradio) or, shared, an odd session id gets a 400.
        app_kwargs={"middleware": [Middleware(session_ids.RefuseOddSessionIds)]},
    )


demo = build_demo()

if __name__ == "__main__":
    serve()
