"""The RAG tab's "your documents" panel: upload files into a named collection (checked, stored, indexed), delete it."""

from pathlib import Path

import gradio as gr

from modules.retrieval import uploads
from modules.techniques import rag
from modules.ui import wiring
from modules.ui.errors import user_errors


def choices() -> list[tuple[str, str]]:
    """The task's shipped documents ("") and every uploaded collection."""
    return [("The task's documents", "")] + [(f"Uploaded: {name}", name) for name in uploads.list_collections()]


def upload_files(collection, paths, progress=gr.Progress()):
    """Store the accepted files, index the collection, and report each rejected file with its reason. Gradio's
    copies of the uploads are deleted afterwards, accepted or not: the collection keeps the extracted text."""
    try:
        return _store(collection, paths, progress)
    finally:
        for path in paths or []:
            Path(path).unlink(missing_ok=True)


def _store(collection, paths, progress):
    with user_errors():
        name = (collection or "").strip()
        uploads.collection_dir(name)  # validates the name before anything is read
        if not paths:
            raise ValueError("No files chosen: pick .txt, .md, .pdf or .html files.")
        progress(0.1, desc="Checking and storing files…")
        files = [(Path(path).name, Path(path)) for path in paths]  # Gradio keeps the original base name
        report = uploads.save_uploads(name, files, uploads.UploadLimits.from_env())
        lines = [f"✅ stored `{file}`" for file in report.accepted]
        lines += [f"❌ rejected `{file}`: {reason}" for file, reason in report.rejected]
        if report.accepted:
            progress(0.5, desc="Indexing (new chunks are embedded)…")
            index = rag.knowledge_base(None, rag.Config(collection=name))
            lines.append(f"\nCollection `{name}`: {len(index.sources)} documents, {len(index.chunks)} chunks indexed.")
    selected = gr.Dropdown(choices=choices(), value=name) if report.accepted else gr.Dropdown(choices=choices())
    return "\n\n".join(lines), selected


def delete_collection(collection):
    with user_errors():
        name = (collection or "").strip()
        uploads.collection_dir(name)
        uploads.delete_collection(name)
    return f"Deleted collection `{name}` (its files and index).", gr.Dropdown(choices=choices(), value="")


def build(search_in: gr.Dropdown) -> None:
    """The panel; `search_in` (the tab's collection choice) follows uploads and deletions."""
    with gr.Accordion("Your documents: upload into a named collection", open=False):
        limits = uploads.UploadLimits.from_env()
        gr.Markdown(
            f"Allowed: .txt, .md, .pdf (text extracted with pypdf), .html (tags stripped); checked by content. "
            f"At most {limits.max_files} files per upload and {limits.max_file_bytes / 2**20:g} MB per file. "
            "Stored under `LAB_HOME/collections/<name>/`; a rejected file is named with its reason and the "
            "rest of the upload goes on."
        )
        with gr.Row():
            collection_name = gr.Textbox("my-docs", label="Collection name", max_lines=1)
            files = gr.File(label="Files", file_count="multiple", type="filepath")
        with gr.Row():
            upload_button = gr.Button("Upload and index")
            delete_button = gr.Button("Delete this collection", variant="stop")
        upload_report = gr.Markdown()
    # Indexing embeds with the shared CPU, so uploads queue with the model's work.
    wiring.on_model(upload_button, upload_files, [collection_name, files], [upload_report, search_in], "rag_upload")
    delete_button.click(
        delete_collection, inputs=collection_name, outputs=[upload_report, search_in],
        api_name="rag_delete_collection",
    )  # fmt: skip
