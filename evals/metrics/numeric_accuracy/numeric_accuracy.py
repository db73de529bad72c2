"""Numeric-answer accuracy: extract the final number of an output ("#### 12", "The answer is $1,200.") and compare."""

import math
import re

import datasets
import evaluate

NUMBER = r"-?\$?\s?\d[\d,]*(?:\.\d+)?"
# Explicit answer markers win over "the last number in the text", in this order.
MARKERS = [rf"####\s*({NUMBER})", rf"answer is:?\s*({NUMBER})", rf"answer:\s*({NUMBER})"]


def extract_number(text: str | None) -> float | None:
    """The final numeric answer in `text`, or None. Handles $, thousands commas, trailing '.0'."""
    if not text:
        return None
    for marker in MARKERS:
        found = re.findall(marker, text, flags=re.IGNORECASE)
        if found:
            return _to_float(found[-1])
    numbers = re.findall(NUMBER, text)
    return _to_float(numbers[-1]) if numbers else None


def _to_float(token: str) -> float | None:
    cleaned = token.replace("$", "").replace(",", "").replace(" ", "")
    try:
        return float(cleaned)
    except ValueError:
        return None


class NumericAccuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="1 when the number extracted from the prediction equals the reference answer, else 0.",
            citation="Cobbe et al., Training Verifiers to Solve Math Word Problems (GSM8K), 2021.",
            inputs_description="predictions: list of str; references: list of str (the numeric answer).",
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
        )

    def _compute(self, predictions, references):
        scores = []
        for prediction, reference in zip(predictions, references):
            got, want = extract_number(prediction), extract_number(reference)
            scores.append(float(got is not None and want is not None and math.isclose(got, want, abs_tol=1e-6)))
        return {"numeric_accuracy": scores}
