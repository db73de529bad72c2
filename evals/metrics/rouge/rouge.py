"""ROUGE-1/2/L/Lsum (F-measure) per example via rouge_score, Porter stemmer on, Lsum on newline-split sentences."""

import datasets
import evaluate
from rouge_score import rouge_scorer

ROUGE_TYPES = ["rouge1", "rouge2", "rougeL", "rougeLsum"]


class Rouge(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="ROUGE F-measures from rouge_score (stemmer on); one value per example, 0 to 1.",
            citation="Lin, ROUGE: A Package for Automatic Evaluation of Summaries, 2004.",
            inputs_description="predictions: list of str; references: list of str.",
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
        )

    def _compute(self, predictions, references):
        scorer = rouge_scorer.RougeScorer(ROUGE_TYPES, use_stemmer=True, split_summaries=False)
        per_example = {name: [] for name in ROUGE_TYPES}
        for prediction, reference in zip(predictions, references):
            # rougeLsum treats newlines as sentence breaks, as rouge_score's own CLI expects.
            scores = scorer.score(reference, prediction)
            for name in ROUGE_TYPES:
                per_example[name].append(scores[name].fmeasure)
        return per_example
