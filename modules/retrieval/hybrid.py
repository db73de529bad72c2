"""Hybrid search: reciprocal rank fusion of several rankings (Cormack et al., 2009), k0 = 60."""

RRF_K = 60  # the paper's constant: damps the weight of top ranks so one retriever cannot dominate


def reciprocal_rank_fusion(rankings: list[list[tuple[int, float]]], k: int) -> list[tuple[int, float]]:
    """Fuse (chunk index, score) rankings by sum of 1 / (RRF_K + rank); ties broken by chunk index."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, (index, _) in enumerate(ranking, start=1):
            fused[index] = fused.get(index, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:k]
