"""A searchable collection: chunks + BM25 + embeddings, persisted under LAB_HOME/collections/<name>/index.

Re-indexing is incremental: a chunk whose id and text are unchanged keeps its stored embedding, so a
restart re-embeds nothing and an edited document re-embeds only its own changed chunks.
"""

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from modules.paths import check_room, make_private, user_home
from modules.retrieval import dense
from modules.retrieval.chunking import Chunk, chunk_characters
from modules.retrieval.hybrid import reciprocal_rank_fusion
from modules.retrieval.keyword import KeywordIndex

METHODS = ("bm25", "dense", "hybrid")


@dataclass(frozen=True)
class Document:
    id: str
    source: str  # the file it came from, shown next to every retrieved chunk
    text: str


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    source: str
    score: float
    rank: int


INDEX_NAME = re.compile(r"^(_task-)?[A-Za-z0-9][A-Za-z0-9_-]{0,59}$")  # a collection's name, or a task's index


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class CollectionIndex:
    def __init__(self, name: str, chunk_size: int = 600, overlap: int = 100, embedder: str = dense.EMBEDDED_EMBEDDER):
        if not isinstance(name, str) or not INDEX_NAME.match(name):  # a name, never a path: it names a folder
            raise ValueError(f"An index is named by a collection or '_task-<task>', not '{str(name)[:40]}'.")
        self.name, self.chunk_size, self.overlap, self.embedder = name, chunk_size, overlap, embedder
        self.folder = user_home() / "collections" / name / "index"
        self.chunks: list[Chunk] = []
        self.sources: dict[str, str] = {}
        self.vectors = np.zeros((0, 0), dtype=np.float32)
        self.keyword: KeywordIndex | None = None

    def build(self, documents: list[Document]) -> dict:
        """Chunk, reuse stored embeddings where the chunk is unchanged, embed the rest, persist atomically."""
        self.sources = {d.id: d.source for d in documents}
        self.chunks = [c for d in documents for c in chunk_characters(d.id, d.text, self.chunk_size, self.overlap)]
        stored = self._stored_vectors()
        rows = [stored.get((c.id, _digest(c.text))) for c in self.chunks]
        missing = [i for i, row in enumerate(rows) if row is None]
        if missing:
            fresh = dense.embed([self.chunks[i].text for i in missing], self.embedder)
            for position, i in enumerate(missing):
                rows[i] = fresh[position]
        self.vectors = np.vstack(rows).astype(np.float32) if rows else np.zeros((0, 384), dtype=np.float32)
        self.keyword = KeywordIndex([c.text for c in self.chunks]) if self.chunks else None
        self._save()
        return {"chunks": len(self.chunks), "embedded": len(missing), "reused": len(self.chunks) - len(missing)}

    def search(self, query: str, method: str, k: int) -> list[Hit]:
        if method not in METHODS:
            raise ValueError(f"Unknown retrieval method '{method}'. Use one of {', '.join(METHODS)}.")
        if not 1 <= k <= 50:
            raise ValueError(f"top-k must be between 1 and 50, got {k}.")
        if not self.chunks:
            return []
        keyword = lambda depth: self.keyword.search(query, depth)  # noqa: E731 (two uses below)
        semantic = lambda depth: dense.DenseIndex(self.vectors, self.embedder).search(query, depth)  # noqa: E731
        if method == "bm25":
            ranking = keyword(k)
        elif method == "dense":
            ranking = semantic(k)
        else:  # fuse deeper lists than k, so a chunk ranked k+1 by one retriever can still win
            ranking = reciprocal_rank_fusion([keyword(4 * k), semantic(4 * k)], k)
        return [
            Hit(self.chunks[i], self.sources.get(self.chunks[i].doc_id, ""), score, rank)
            for rank, (i, score) in enumerate(ranking, start=1)
        ]

    # ---- persistence
    def _stored_vectors(self) -> dict[tuple[str, str], np.ndarray]:
        manifest, vectors = self.folder / "chunks.jsonl", self.folder / "embeddings.npy"
        if not (manifest.is_file() and vectors.is_file()):
            return {}
        settings = json.loads((self.folder / "settings.json").read_text())
        if settings.get("embedder") != self.embedder:
            return {}  # other embedding space: nothing can be reused
        matrix = np.load(vectors)
        rows = [json.loads(line) for line in manifest.read_text().splitlines() if line]
        return {(r["id"], r["digest"]): matrix[i] for i, r in enumerate(rows)}

    def _save(self) -> None:
        """Write to a temp folder and rename it into place: a crash never leaves a half-written index."""
        check_room(self.vectors.nbytes + sum(len(c.text) for c in self.chunks), f"The index of '{self.name}'")
        make_private(self.folder.parent)
        staging = Path(tempfile.mkdtemp(prefix=".index-", dir=self.folder.parent))
        try:
            lines = [json.dumps(asdict(c) | {"digest": _digest(c.text)}) for c in self.chunks]
            (staging / "chunks.jsonl").write_text("\n".join(lines) + "\n")
            np.save(staging / "embeddings.npy", self.vectors)
            settings = {"embedder": self.embedder, "chunk_size": self.chunk_size, "overlap": self.overlap}
            (staging / "settings.json").write_text(json.dumps(settings | {"sources": self.sources}))
            old = self.folder.with_name(f".old-{os.getpid()}")
            if self.folder.exists():
                self.folder.rename(old)
            staging.rename(self.folder)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def handbook_documents(folder: Path) -> list[Document]:
    """The shipped handbook (company-handbook-qa's documents): one Document per Markdown file."""
    return [Document(p.stem, p.name, p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.md"))]
