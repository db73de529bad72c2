"""Split documents into overlapping chunks with stable ids (same text + settings -> same ids)."""

import re
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Chunk:
    id: str  # "<doc_id>:<start>-<end>": character offsets, so an unchanged document keeps its ids
    doc_id: str
    text: str
    start: int
    end: int


def chunk_characters(doc_id: str, text: str, size: int = 600, overlap: int = 100) -> list[Chunk]:
    """Windows of about `size` characters, `overlap` shared with the previous one, cut at whitespace."""
    _check(size, overlap)
    spans, start = [], 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):  # move the cut back to the last whitespace, unless that loses half the window
            space = text.rfind(" ", start + size // 2, end)
            end = space if space > 0 else end
        spans.append((start, end))
        if end >= len(text):
            break
        next_start = max(end - overlap, start + 1)
        space = text.find(" ", next_start, end)  # start the next window on a word boundary
        start = space + 1 if 0 <= space < end else next_start
    return _chunks(doc_id, text, spans)


def chunk_tokens(
    doc_id: str, text: str, offsets: Callable[[str], list[tuple[int, int]]], size: int = 128, overlap: int = 32
) -> list[Chunk]:
    """Windows of `size` tokens (`offsets` gives each token's character span, e.g. a fast tokenizer's
    offset_mapping), `overlap` tokens shared with the previous window."""
    _check(size, overlap)
    spans = [s for s in offsets(text) if s[1] > s[0]]
    windows = []
    for first in range(0, max(len(spans) - overlap, 1), size - overlap):
        last = min(first + size, len(spans)) - 1
        windows.append((spans[first][0], spans[last][1]))
    return _chunks(doc_id, text, windows) if spans else []


def _check(size: int, overlap: int) -> None:
    if size < 1:
        raise ValueError(f"Chunk size must be >= 1, got {size}.")
    if not 0 <= overlap < size:
        raise ValueError(f"Overlap must be between 0 and size - 1 ({size - 1}), got {overlap}.")


def _chunks(doc_id: str, text: str, spans: list[tuple[int, int]]) -> list[Chunk]:
    chunks = []
    for start, end in spans:
        body = re.sub(r"\s+", " ", text[start:end]).strip()
        if body:
            chunks.append(Chunk(f"{doc_id}:{start}-{end}", doc_id, body, start, end))
    return chunks
