"""Retrieval core: chunk boundaries and overlap, BM25 / dense / RRF rankings on a corpus with a known order."""

import pytest

from modules.retrieval.chunking import chunk_characters, chunk_tokens
from modules.retrieval.hybrid import reciprocal_rank_fusion
from modules.retrieval.keyword import KeywordIndex

TEXT = " ".join(f"word{i}" for i in range(200))  # 200 words, ~1,400 characters
CORPUS = [
    "Annual leave: every employee gets 27 days of paid holiday per year.",
    "The cafeteria serves lunch from noon until two in the afternoon.",
    "Laptops are replaced every four years by the IT helpdesk.",
    "Parking permits for the staff car park cost 12 euros a month.",
]


def test_character_chunks_cover_the_text_with_overlap_and_cut_at_spaces():
    chunks = chunk_characters("doc", TEXT, size=300, overlap=60)
    assert chunks[0].start == 0 and chunks[-1].end == len(TEXT)
    for first, second in zip(chunks, chunks[1:]):
        assert second.start < first.end  # they overlap
        assert first.end - second.start <= 60 + 10  # by about `overlap`, snapped to a word start
        assert TEXT[second.start - 1] == " "  # the next chunk starts on a word boundary
    assert all(len(c.text) <= 300 for c in chunks)
    assert all(c.text.split()[0].startswith("word") and c.text.split()[-1].startswith("word") for c in chunks)


def test_chunk_ids_are_stable_and_follow_the_text():
    first = chunk_characters("doc", TEXT, size=300, overlap=60)
    assert [c.id for c in first] == [c.id for c in chunk_characters("doc", TEXT, size=300, overlap=60)]
    assert first[0].id == f"doc:0-{first[0].end}"
    changed = chunk_characters("doc", TEXT + " extra words at the end", size=300, overlap=60)
    kept = len(first) - 1  # only the chunks that touch the changed tail differ
    assert [c.id for c in changed][:kept] == [c.id for c in first][:kept] and len(changed) >= len(first)


def test_token_chunks_use_the_tokenizers_offsets():
    def offsets(text):  # whitespace "tokenizer": one token per word
        spans, position = [], 0
        for word in text.split(" "):
            spans.append((position, position + len(word)))
            position += len(word) + 1
        return spans

    chunks = chunk_tokens("doc", TEXT, offsets, size=50, overlap=10)
    assert [len(c.text.split()) for c in chunks] == [50, 50, 50, 50, 40]
    assert chunks[1].text.split()[:10] == chunks[0].text.split()[-10:]


@pytest.mark.parametrize(("size", "overlap"), [(0, 0), (10, 10), (10, -1)])
def test_bad_chunk_settings(size, overlap):
    with pytest.raises(ValueError):
        chunk_characters("doc", TEXT, size=size, overlap=overlap)


def test_bm25_ranks_the_matching_chunk_first_and_skips_unrelated_ones():
    index = KeywordIndex(CORPUS)
    ranking = index.search("How many days of annual leave?", k=4)
    assert ranking[0][0] == 0 and all(score > 0 for _, score in ranking)
    assert [i for i, _ in index.search("car park permit price", k=2)][0] == 3
    assert index.search("", k=3) == [] and index.search("the of and", k=3) == []


def test_dense_ranks_by_meaning(embedded_embedder):
    from modules.retrieval.dense import DenseIndex, embed

    index = DenseIndex(embed(CORPUS))
    assert index.search("When can I eat a meal at work?", k=1)[0][0] == 1  # no shared keyword with chunk 1
    assert index.search("new computer for staff", k=1)[0][0] == 2
    ranking = index.search("vacation allowance", k=4)
    assert ranking[0][0] == 0 and [s for _, s in ranking] == sorted((s for _, s in ranking), reverse=True)


def test_reciprocal_rank_fusion():
    keyword = [(0, 9.0), (1, 5.0), (2, 1.0)]
    dense = [(2, 0.9), (0, 0.8), (3, 0.1)]
    fused = reciprocal_rank_fusion([keyword, dense], k=3)
    assert [i for i, _ in fused] == [0, 2, 1]  # 0 is high in both; 2 is first in one and third in the other
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)
    assert reciprocal_rank_fusion([[], []], k=3) == []


def test_collection_index_persists_and_reembeds_only_what_changed(embedded_embedder):
    from modules.retrieval.index import CollectionIndex, Document

    documents = [Document(f"d{i}", f"d{i}.md", text) for i, text in enumerate(CORPUS)]
    first = CollectionIndex("toy", chunk_size=200, overlap=20)
    assert first.build(documents) == {"chunks": 4, "embedded": 4, "reused": 0}
    assert (first.folder / "embeddings.npy").is_file() and not list(first.folder.parent.glob(".index-*"))
    again = CollectionIndex("toy", chunk_size=200, overlap=20)  # a restart: nothing to embed
    assert again.build(documents) == {"chunks": 4, "embedded": 0, "reused": 4}
    edited = [*documents[:3], Document("d3", "d3.md", "Parking permits now cost 15 euros a month.")]
    assert again.build(edited) == {"chunks": 4, "embedded": 1, "reused": 3}
    hits = again.search("How much is a parking permit?", "hybrid", 2)
    assert hits[0].chunk.doc_id == "d3" and hits[0].source == "d3.md" and hits[0].rank == 1
    assert "15 euros" in hits[0].chunk.text
    for method in ("bm25", "dense"):
        assert again.search("annual leave days", method, 1)[0].chunk.doc_id == "d0"
    with pytest.raises(ValueError, match="Unknown retrieval method"):
        again.search("x", "magic", 2)
    with pytest.raises(ValueError, match="top-k must be between 1 and 50"):
        again.search("x", "bm25", 0)


@pytest.mark.slow
def test_handbook_recall_at_4_hybrid_not_below_the_worst_retriever(embedded_embedder):
    from evals.tasks import load_task
    from modules.retrieval.index import CollectionIndex, handbook_documents

    task = load_task("company-handbook-qa")
    index = CollectionIndex("handbook-recall")
    index.build(handbook_documents(task.documents_dir))
    recall = {}
    for method in ("bm25", "dense", "hybrid"):
        found = [
            any(d in {h.chunk.doc_id for h in index.search(e.input, method, 4)} for d in e.meta["doc_ids"])
            for e in task.examples
        ]
        recall[method] = sum(found) / len(found)
    assert recall["hybrid"] >= min(recall["bm25"], recall["dense"]) and recall["hybrid"] >= 0.8, recall
