"""Keyword search: BM25 over chunk texts via bm25s (sparse scores, English stopwords, no stemming)."""

import logging

import bm25s
import numpy as np

logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG otherwise


class KeywordIndex:
    def __init__(self, texts: list[str]):
        self.size = len(texts)
        self.retriever = bm25s.BM25()
        self.retriever.index(bm25s.tokenize(texts, stopwords="en", show_progress=False), show_progress=False)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """(chunk index, BM25 score) best first; chunks sharing no word with the query are left out."""
        k = min(k, self.size)
        if k == 0 or not query.strip():
            return []
        tokens = bm25s.tokenize([query], stopwords="en", show_progress=False)
        if not tokens.vocab:
            return []
        indices, scores = self.retriever.retrieve(tokens, k=k, show_progress=False, n_threads=1)
        return [(int(i), float(s)) for i, s in zip(indices[0], scores[0]) if s > 0 and np.isfinite(s)]
