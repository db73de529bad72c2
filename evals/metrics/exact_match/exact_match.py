"""Exact match after SQuAD-style normalisation (lower case, no punctuation, no articles, single spaces)."""

import re
import string

import datasets
import evaluate


def normalize(text: str) -> str:
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


class ExactMatch(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="1 when the normalised prediction equals the normalised reference, else 0.",
            citation="Rajpurkar et al., SQuAD, 2016.",
            inputs_description="predictions: list of str; references: list of str.",
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
        )

    def _compute(self, predictions, references):
        return {"exact_match": [float(normalize(p) == normalize(r)) for p, r in zip(predictions, references)]}
