"""User documents for RAG: validated, sanitised uploads into LAB_HOME/collections/<name>/files.

Checked by content, not only by extension; every rejection names the file and the reason; a file that fails
to parse never stops the rest of the upload; nothing is ever written outside the collection's folder.
"""

import html.parser
import io
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from modules.limits import session_upload_bytes, upload_max_bytes, upload_max_files
from modules.paths import check_room, make_private, user_home
from modules.retrieval.index import Document

KINDS = {".txt": "text", ".md": "text", ".pdf": "pdf", ".html": "html", ".htm": "html"}
COLLECTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")


@dataclass(frozen=True)
class UploadLimits:
    max_file_bytes: int = 5 * 1024 * 1024
    max_files: int = 20

    @classmethod
    def from_env(cls) -> "UploadLimits":
        """LAB_UPLOAD_MAX_MB and LAB_UPLOAD_MAX_FILES override the defaults (for a Space with less disk)."""
        return cls(upload_max_bytes(), upload_max_files())


@dataclass
class UploadReport:
    accepted: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (file name as given, reason)


def collection_dir(name: str) -> Path:
    if not COLLECTION_NAME.match(name or ""):
        raise ValueError(f"Collection name '{name}' must be 1-40 letters, digits, '-' or '_', starting with one.")
    return user_home() / "collections" / name / "files"


def safe_filename(name: str) -> str:
    """The base name only (no folders, no '..', no leading dots), other characters replaced by '_'."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = re.sub(r"[^A-Za-z0-9._-]", "_", base).lstrip(".")
    stem, suffix = (base.rsplit(".", 1)[0], "." + base.rsplit(".", 1)[1]) if "." in base else (base, "")
    return stem[: 120 - len(suffix[:20])] + suffix[:20]  # a long name is cut in its stem, so its type survives


class _TextOfHtml(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts, self.skipping = [], 0

    def handle_starttag(self, tag, attrs):
        self.skipping += tag in ("script", "style")

    def handle_endtag(self, tag):
        self.skipping -= tag in ("script", "style") and self.skipping > 0

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


def extract_text(name: str, data: bytes) -> str:
    """Plain text of one upload; raises ValueError with the reason when the content is not what it claims."""
    kind = KINDS.get(Path(name).suffix.lower())
    if kind is None:
        raise ValueError(f"type not allowed (allowed: {', '.join(KINDS)})")
    if not data.strip():
        raise ValueError("the file is empty")
    if kind == "pdf":
        if not data.startswith(b"%PDF-"):
            raise ValueError("named .pdf but the content is not a PDF")
        return _pdf_text(data)
    if data.startswith(b"%PDF-"):
        raise ValueError(f"the content is a PDF but the name says {Path(name).suffix}")
    if b"\x00" in data:
        raise ValueError("binary content in a text file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    if kind == "html":
        parser = _TextOfHtml()
        parser.feed(text)
        text = " ".join(parser.parts)
    return re.sub(r"[ \t]+", " ", text).strip()


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader  # only when a PDF is uploaded

    try:
        reader = PdfReader(io.BytesIO(data))
        text = "\n".join(page.extract_text() or "" for page in reader.pages)
    except Exception as error:  # pypdf raises many types for broken files; each is "could not parse"
        raise ValueError(f"could not parse the PDF ({type(error).__name__})") from None
    if not text.strip():
        raise ValueError("the PDF has no extractable text")
    return text.strip()


def save_uploads(
    collection: str, files: list[tuple[str, bytes | Path]], limits: UploadLimits = UploadLimits()
) -> UploadReport:
    """Validate and store each (name, bytes or a file to read); the extracted text is saved as <safe name>.txt.

    A file is only read after its size passed the limit, so an oversized upload never lands in memory."""
    folder = collection_dir(collection)
    report = UploadReport()
    if len(files) > limits.max_files:
        raise ValueError(f"{len(files)} files at once; the limit is {limits.max_files}.")
    taken = set()
    for name, data in files:
        safe = safe_filename(name)
        if not safe or Path(safe).suffix.lower() not in KINDS:
            report.rejected.append((name, f"type not allowed (allowed: {', '.join(KINDS)})"))
            continue
        if safe.lower() in taken:
            report.rejected.append((name, "another file in this upload has the same name; rename one of them"))
            continue
        taken.add(safe.lower())
        size = data.stat().st_size if isinstance(data, Path) else len(data)
        if size > limits.max_file_bytes:
            report.rejected.append((name, f"{size:,} bytes; the limit is {limits.max_file_bytes:,}"))
            continue
        if stored_bytes() + size > session_upload_bytes():
            report.rejected.append((name, f"this session keeps at most {session_upload_bytes() / 2**20:,.0f} MB of "
                                          "documents; delete a collection first"))  # fmt: skip
            continue
        try:
            check_room(size, f"Storing {safe}")  # every byte the session keeps, not only documents
            text = extract_text(safe, data.read_bytes() if isinstance(data, Path) else data)
        except ValueError as error:
            report.rejected.append((name, str(error)))
            continue
        _write_atomically(folder, f"{safe}.txt", text)
        report.accepted.append(safe)
    return report


def _write_atomically(folder: Path, name: str, text: str) -> None:
    make_private(folder)
    target = (folder / name).resolve()
    if target.parent != folder.resolve():  # belt and braces: safe_filename already removed folders
        raise ValueError(f"refusing to write outside the collection: {name}")
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".upload-")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(temporary, target)


def stored_bytes() -> int:
    """Bytes of extracted text this visitor keeps in all collections (the session quota counts these)."""
    root = user_home() / "collections"
    return sum(p.stat().st_size for p in root.glob("*/files/*.txt")) if root.is_dir() else 0


def collection_documents(collection: str) -> list[Document]:
    """The stored uploads of a collection as Documents (id and source: the original safe file name)."""
    folder = collection_dir(collection)
    files = sorted(folder.glob("*.txt")) if folder.is_dir() else []
    return [Document(p.name.removesuffix(".txt"), p.name.removesuffix(".txt"), p.read_text()) for p in files]


def list_collections() -> list[str]:
    """Names of the collections that hold at least one stored upload."""
    root = user_home() / "collections"
    folders = sorted(root.iterdir()) if root.is_dir() else []
    return [f.name for f in folders if COLLECTION_NAME.match(f.name) and any((f / "files").glob("*.txt"))]


def delete_collection(name: str) -> None:
    """Remove a collection's files and index (the name is validated, so this cannot reach outside)."""
    folder = collection_dir(name).parent
    if not folder.is_dir():
        raise ValueError(f"No collection named '{name}'.")
    shutil.rmtree(folder, ignore_errors=True)
