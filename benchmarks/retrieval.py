"""Retrieval speed: indexing chunks/s and query p50/p95 for BM25, dense and hybrid at 1,000 and 10,000 chunks,
and dense search vs a naive Python loop of per-chunk cosine similarity (same vectors, same run)."""

import argparse
import math
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np

from evals.tasks import load_task
from modules.retrieval import dense
from modules.retrieval.hybrid import reciprocal_rank_fusion
from modules.retrieval.keyword import KeywordIndex


def synthetic_chunks(count: int, seed: int = 0) -> list[str]:
    """Realistic-looking chunks: 3-5 sentences drawn from the handbook, names and numbers varied."""
    handbook = load_task("company-handbook-qa").documents_dir
    sentences = [s.strip() for p in handbook.glob("*.md") for s in p.read_text().replace("\n", " ").split(". ")]
    sentences = [s for s in sentences if len(s.split()) > 5 and not s.startswith("#")]
    rng = random.Random(seed)
    chunks = []
    for index in range(count):
        picked = rng.sample(sentences, rng.randint(3, 5))
        chunks.append(f"Section {index}: " + ". ".join(picked).replace("27", str(rng.randint(2, 90))) + ".")
    return chunks


def percentiles(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered) * 1000, ordered[math.ceil(0.95 * len(ordered)) - 1] * 1000


def naive_cosine_top_k(vectors: list[list[float]], query: list[float], k: int) -> list[int]:
    """The baseline: one Python-level cosine per chunk, then a sort."""
    scores = []
    query_norm = math.sqrt(sum(q * q for q in query))
    for index, vector in enumerate(vectors):
        dot = sum(a * b for a, b in zip(vector, query))
        scores.append((dot / (math.sqrt(sum(a * a for a in vector)) * query_norm), index))
    return [index for _, index in sorted(scores, reverse=True)[:k]]


def bench(count: int, queries: list[str], k: int) -> float:
    texts = synthetic_chunks(count)
    started = time.perf_counter()
    keyword = KeywordIndex(texts)
    bm25_index_s = time.perf_counter() - started
    started = time.perf_counter()
    vectors = dense.embed(texts)
    embed_s = time.perf_counter() - started
    semantic = dense.DenseIndex(vectors)
    timings = {"bm25": [], "dense": [], "hybrid": []}
    for query in queries:
        for name, search in (
            ("bm25", lambda q: keyword.search(q, k)),
            ("dense", lambda q: semantic.search(q, k)),
            ("hybrid", lambda q: reciprocal_rank_fusion([keyword.search(q, 4 * k), semantic.search(q, 4 * k)], k)),
        ):
            started = time.perf_counter()
            search(query)
            timings[name].append(time.perf_counter() - started)
    print(f"\n{count} chunks: BM25 indexing {count / bm25_index_s:,.0f} chunks/s; ", end="")
    print(f"embedding {count / embed_s:,.0f} chunks/s")
    for name, times in timings.items():
        p50, p95 = percentiles(times)
        print(f"  {name:6s} query p50 {p50:6.1f} ms  p95 {p95:6.1f} ms", end="")
        print(f"  ({len(times)} queries, k={k}, query embedding included)")
    # Search only (query already embedded): the index's scoring + top-k vs the Python loop, same vectors.
    query_vector = dense.embed([queries[0]])[0]
    started = time.perf_counter()
    for _ in range(20):
        semantic.scores(query_vector).topk(k)
    numpy_s = (time.perf_counter() - started) / 20
    as_lists = vectors.tolist()
    started = time.perf_counter()
    naive = naive_cosine_top_k(as_lists, query_vector.tolist(), k)
    naive_s = time.perf_counter() - started
    assert naive[0] == int(np.argmax(vectors @ query_vector))
    print(f"  dense search only: index {numpy_s * 1000:.2f} ms vs Python loop {naive_s * 1000:.1f} ms")
    return naive_s / numpy_s


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--smoke", action="store_true", help="smallest run: 50 chunks, 5 queries (seconds)")
    args = parser.parse_args(argv)
    queries = [e.input for e in load_task("company-handbook-qa").examples][: 5 if args.smoke else None]
    if args.smoke:
        args.sizes = "50"
    dense.embed(["warm up"])
    ratio = 0.0
    for count in (int(s) for s in args.sizes.split(",")):
        ratio = bench(count, queries, args.k)
    print(f"\nratio: dense search is {ratio:.0f}x faster than the naive Python cosine loop at the largest size "
          f"(target >= 20x at 10,000 chunks)")  # fmt: skip


if __name__ == "__main__":
    main()
