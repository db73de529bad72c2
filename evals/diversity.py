"""Diversity of several samples for one prompt: distinct-n (Li et al. 2016: unique word n-grams / all n-grams) and
self-BLEU (Zhu et al. 2018: each sample's sentence BLEU against the others; high means the samples repeat)."""

import sacrebleu


def distinct(samples: list[str], n: int) -> float | None:
    """Unique word n-grams over all word n-grams across the samples (0-1); None when they hold no n-gram."""
    grams = [
        tuple(words[i : i + n]) for words in (s.lower().split() for s in samples) for i in range(len(words) - n + 1)
    ]
    return len(set(grams)) / len(grams) if grams else None


def self_bleu(samples: list[str]) -> float | None:
    """Mean sentence BLEU (sacrebleu, 0-100) of each sample against all the others as references; None below two
    samples (nothing to compare with)."""
    if len(samples) < 2:
        return None
    scores = [sacrebleu.sentence_bleu(s, samples[:i] + samples[i + 1 :]).score for i, s in enumerate(samples)]
    return sum(scores) / len(scores)


def scores(samples: list[str]) -> dict[str, float]:
    """distinct_1, distinct_2 and self_bleu of the samples, where defined."""
    values = {"distinct_1": distinct(samples, 1), "distinct_2": distinct(samples, 2), "self_bleu": self_bleu(samples)}
    return {name: value for name, value in values.items() if value is not None}
