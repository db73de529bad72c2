"""RAG tab: no retrieval vs BM25 vs dense vs hybrid on the same question, with the chunks each one used."""

import re
from functools import partial

import gradio as gr
from bm25s.stopwords import STOPWORDS_EN

from evals.runner import System
from evals.tasks import Example, TaskError, load_task
from modules import inputs
from modules.retrieval import dense
from modules.techniques import rag
from modules.ui import documents, pickers, split_run, wiring
from modules.ui.columns import STOPPED, stream_columns
from modules.ui.errors import user_errors
from modules.ui.model_bar import load_model
from modules.ui.stop_flag import StopFlag

TITLE = "RAG"
COVERS = ("rag",)  # techniques this tab shows
TASKS = ["company-handbook-qa", "prompt-injection"]
MAX_QUESTION_CHARS = 2000  # a question, not a document: documents go in a collection
QUESTION_WIDTH = 200
MAX_NEW_TOKENS = 512  # answers are one sentence; more only costs time  # questions are short: show them whole
LIVE_CELL = 0  # per column: the answer box streams while it generates
COLUMNS = (("No retrieval", "none"), ("BM25", "bm25"), ("Dense", "dense"), ("Hybrid (RRF)", "hybrid"))
CHUNK_CHARS = 300  # of each chunk shown: enough to see why it matched
WORD = re.compile(r"\w\w+")  # a word as BM25 splits them (bm25s' pattern: two or more word characters)


def systems_for(model, k, delimit: bool, collection: str = "", embedder: str = "", max_new_tokens=96) -> list[System]:
    """The four columns as runner systems, with the controls (passed by name) checked."""
    k = inputs.whole(k, "top-k", 1, 20)
    max_new_tokens = inputs.whole(max_new_tokens, "Max new tokens", 8, MAX_NEW_TOKENS)
    embedder = (embedder or "").strip() or dense.EMBEDDED_EMBEDDER
    dense.load_embedder(embedder)  # fail before the first column, with the reason, if it cannot load
    return [
        System(name, model, "rag", rag.Config(method=method, k=k, delimit=bool(delimit), collection=collection or "",
                                               embedder=embedder, max_new_tokens=max_new_tokens))
        for name, method in COLUMNS
    ]  # fmt: skip


def reference_of(task_name, example_id, reference) -> str:
    """The reference answer shown above the four columns: the typed one, else the picked question's."""
    typed = (reference or "").strip()
    if typed:
        return f"**Reference answer:** {typed[:500]}"
    try:
        return f"**Reference answer:** {load_task(task_name).example(example_id).reference}"
    except TaskError:  # an unknown task or id: the run itself will say what is wrong
        return ""


def pick_question(task, example_id, question, reference, collection: str = "") -> Example:
    if collection and not inputs.text(question, "The question", MAX_QUESTION_CHARS):
        about = f"collection '{collection[:60]}'"
        raise ValueError(f"Type a question about {about}: the suite's questions are about the task.")
    return pickers.pick_example(task, example_id, question, "question", MAX_QUESTION_CHARS, reference)


def sources_table(output, example: Example) -> str:
    """Markdown list of the chunks a column used: rank, source file, chunk id, score; gold documents marked; each
    chunk's text wrapped, with the question's words marked."""
    if not output.trace["sources"]:
        return "_No retrieval: the model answers from what it learned in training._"
    gold = set(example.meta.get("doc_ids", []))
    terms = question_terms(example.input)
    lines = []
    for source in output.trace["sources"]:
        mark = " ⭐ gold" if source["doc_id"] in gold else ""
        lines.append(
            f"**[{source['rank']}]** `{source['source']}` · chunk `{source['chunk_id']}` · score {source['score']:.3f}"
            f"{mark}\n\n{chunk_html(source['text'][:CHUNK_CHARS] + '…', terms)}"
        )
    return "\n\n".join(lines)


def question_terms(question: str) -> set[str]:
    """The question's words BM25 matches on (lower case, English stopwords left out)."""
    return {word for word in WORD.findall(question.lower()) if word not in STOPWORDS_EN}


def chunk_html(text: str, terms: set[str]) -> str:
    """A chunk as one line of escaped HTML with `terms` in <mark>: a document's own markup, Markdown or LaTeX stays
    text (every character that means something to either is an entity), and the line wraps in its box."""
    parts = []
    for piece in re.split(r"(\w+)", text):
        escaped = "".join(c if c.isalnum() or c == " " else f"&#{ord(c)};" for c in piece)
        parts.append(f"<mark>{escaped}</mark>" if piece.lower() in terms else escaped)
    # One line (no blank line can end the HTML block early); line breaks kept as <br>.
    body = re.sub(r"(&#13;)?&#10;", "<br>", "".join(parts))
    return f'<div class="rag-chunk">{body}</div>'


def column_summary(output, scores: dict) -> str:
    """The runner's scores of one column, with what they mean."""
    parts = []
    if "rougeL" in scores:
        parts.append(f"**ROUGE-L** {scores['rougeL']:.3f} · **BLEU** {scores.get('bleu', 0.0):.1f}")
    if "recall_at_k" in scores:
        parts.append(f"gold document retrieved: {'yes' if scores['recall_at_k'] else 'no'} · MRR {scores['mrr']:.2f}")
    if "attack_success" in scores:
        parts.append("⚠️ **injection succeeded**" if scores["attack_success"] else "injection resisted")
    parts.append(f"{output.new_tokens} new tokens · {output.latency_s:.1f} s")
    return "\n\n".join(parts)


def run_example(cells: list, spec, flag: StopFlag, task_name, example_id, question, reference, progress=gr.Progress(),
                **controls):  # fmt: skip
    """Generator: each column appears as its retriever + generation finish; cells (three per column) are bound
    when wired."""
    with user_errors():
        task = load_task(task_name)
        example = pick_question(task, example_id, question, reference, controls.get("collection", ""))
        model = load_model(spec, progress)
        systems = systems_for(model, **controls)
        pickers.check_fits(model, example.input, systems[0].config.max_new_tokens)

    def render(system, output, scores, stopped):
        summary = STOPPED if stopped else column_summary(output, scores)
        return output.text, summary, sources_table(output, example)

    yield from stream_columns(cells, task, example, systems, flag, render, progress, live=LIVE_CELL)


def run_task(outputs: list, spec, flag: StopFlag, task_name, limit, progress=gr.Progress(), **controls):
    """All four over the test split, retrieving from the task's own documents (they hold the gold ids)."""
    with user_errors():
        task = load_task(task_name)
        model = load_model(spec, progress)
        systems = systems_for(model, **controls)  # no collection: the task's own documents hold the gold ids
        limit = inputs.whole(limit, "Limit", 1, len(task.split("test")))
    yield from split_run.stream_run(outputs, task, systems, limit, 0, model, flag, progress)


def sources_box(value: str = "") -> gr.Markdown:
    """Where a column's chunks show: a long list scrolls, the page does not; no LaTeX ($$ in a document is text)."""
    return gr.Markdown(value, max_height=420, latex_delimiters=[], elem_classes="rag-sources")


def build(model_state: gr.State, model_info: gr.Markdown) -> None:
    choices = pickers.example_choices(TASKS[0], QUESTION_WIDTH)
    with gr.Tab(TITLE):
        flag = gr.State(StopFlag())  # inside the tab: a State between tabs breaks Gradio's tab bar
        gr.Markdown(
            "The same question answered four ways: from the model alone, and with the top-k chunks of the "
            "knowledge base found by BM25, dense embeddings (all-MiniLM-L6-v2) or both fused (reciprocal rank "
            "fusion). Chunks go into the prompt as numbered, delimited reference data; nothing the model writes "
            "is ever executed or fetched. `prompt-injection` mixes 8 attack documents into the handbook."
        )
        with gr.Row():
            with gr.Column(scale=2):
                task = gr.Dropdown(TASKS, value=TASKS[0], label="Knowledge base and questions", allow_custom_value=True)
                example = gr.Dropdown(
                    choices, value=choices[0][1], label="Question (test split)", allow_custom_value=True
                )
                question = gr.Textbox(label="Or type a question (overrides the pick)", lines=1)
                reference = gr.Textbox(label="Its reference answer (optional, for scores)", lines=1)
            with gr.Column(scale=1):
                collection = gr.Dropdown(documents.choices(), value="", label="Search in", allow_custom_value=True)
                k = gr.Slider(1, 8, value=3, step=1, label="top-k chunks")
                delimit = gr.Checkbox(value=True, label="Delimit chunks as reference data (injection defence)")
                embedder = gr.Textbox(
                    dense.EMBEDDED_EMBEDDER, label="Dense embedding model", max_lines=1,
                    info="The embedded all-MiniLM-L6-v2, a local folder, or any sentence-transformers id when online",
                )  # fmt: skip
                max_tokens = gr.Slider(8, MAX_NEW_TOKENS, value=96, step=8, label="Max new tokens per answer")
        documents.build(collection)
        with gr.Row():
            run_button = gr.Button("Run", variant="primary")
            stop_button = gr.Button("Stop", variant="stop")
        shown_reference = gr.Markdown(reference_of(TASKS[0], choices[0][1], ""))
        cells = []
        with gr.Row(equal_height=False):
            for name, _ in COLUMNS:
                with gr.Column(min_width=240):
                    gr.Markdown(f"### {name}")
                    cells.append(gr.Textbox(label=f"{name} answer", lines=4, elem_classes="rag-answer"))
                    cells.append(gr.Markdown(elem_classes="rag-scores"))
                    with gr.Accordion("Retrieved chunks", open=True):
                        cells.append(sources_box())
        with gr.Accordion("Run on task (all four over the test split and the task's documents, stored)", open=True):
            limit, run_task_button, stop_task_button, task_outputs = split_run.build_outputs(32, 10, "rag")

    task.change(pickers.examples_update(QUESTION_WIDTH), inputs=task, outputs=example, api_visibility="private")
    for control in (task, example, reference):
        control.change(reference_of, [task, example, reference], shown_reference, api_visibility="private")
    # By name, in the order the API lists them; "Run on task" retrieves from the task's own documents.
    example_settings = dict(k=k, delimit=delimit, collection=collection, embedder=embedder, max_new_tokens=max_tokens)
    task_settings = {name: c for name, c in example_settings.items() if name != "collection"}
    example_inputs, task_inputs = (
        [model_state, flag, task, example, question, reference],
        [model_state, flag, task, limit],
    )
    wiring.example_and_task(
        "rag",
        flag,
        (run_button, partial(run_example, cells), example_inputs, example_settings, cells),
        (run_task_button, partial(run_task, task_outputs), task_inputs, task_settings, task_outputs),
        (stop_button, stop_task_button),
        model_state,
        model_info,
        scroll_to=".rag-answer",
    )
