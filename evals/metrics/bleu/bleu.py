"""BLEU on sacrebleu's 0-100 scale: sentence BLEU per example (exp smoothing), plus corpus BLEU of the set."""

import datasets
import evaluate
import sacrebleu


class Bleu(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description="sacrebleu BLEU, 0-100. 'bleu': sentence BLEU per example; 'corpus_bleu': one corpus score.",
            citation="Post, A Call for Clarity in Reporting BLEU Scores, WMT 2018.",
            inputs_description="predictions: list of str; references: list of str (one reference each).",
            features=datasets.Features(
                {"predictions": datasets.Value("string"), "references": datasets.Value("string")}
            ),
        )

    def _compute(self, predictions, references):
        per_example = [sacrebleu.sentence_bleu(p, [r]).score for p, r in zip(predictions, references)]
        corpus = sacrebleu.corpus_bleu(list(predictions), [list(references)]).score
        return {"bleu": per_example, "corpus_bleu": corpus}
