"""Our local evaluate modules against direct rouge_score / sacrebleu calls, and answer extraction."""

import pytest
import sacrebleu
from rouge_score import rouge_scorer

from evals import metrics
from evals.metrics.exact_match.exact_match import normalize
from evals.metrics.numeric_accuracy.numeric_accuracy import extract_number

PAIRS = [
    ("The cat was sitting on the mat.", "A cat sat on the mat."),
    ("Laura books a check-up for Thursday at 2:30.", "Laura Chen books a dental appointment for Thursday at 2:30."),
    ("They leave together.\nBoth agree to meet at six.", "Both agree to meet at six.\nThey leave together."),
    ("", "Nothing was said."),
]


def test_rouge_matches_rouge_score():
    predictions, references = zip(*PAIRS)
    ours = metrics.load_metric("rouge").compute(predictions=list(predictions), references=list(references))
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=True)
    for index, (prediction, reference) in enumerate(PAIRS):
        direct = scorer.score(reference, prediction)
        for name in ("rouge1", "rouge2", "rougeL", "rougeLsum"):
            assert ours[name][index] == pytest.approx(direct[name].fmeasure)
    assert ours["rougeLsum"][2] != ours["rougeL"][2]  # Lsum really splits on newlines


def test_bleu_matches_sacrebleu():
    predictions, references = zip(*PAIRS)
    ours = metrics.load_metric("bleu").compute(predictions=list(predictions), references=list(references))
    for index, (prediction, reference) in enumerate(PAIRS):
        assert ours["bleu"][index] == pytest.approx(sacrebleu.sentence_bleu(prediction, [reference]).score)
    assert ours["corpus_bleu"] == pytest.approx(sacrebleu.corpus_bleu(list(predictions), [list(references)]).score)
    assert 0 < ours["bleu"][1] <= 100


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("so 3 + 9 = 12\n#### 12", 12),
        ("The answer is 12.", 12),
        ("She pays $1,200 in total.", 1200),
        ("It is 12.0", 12),
        ("First 5, then 7, the answer is: 30 apples and 2 pears", 30),
        ("#### -4", -4),
        ("The answer is $3.50", 3.5),
        ("no digits here", None),
        ("", None),
    ],
)
def test_extract_number(text, number):
    assert extract_number(text) == number


def test_score_shapes_and_answer_metrics():
    values = metrics.score(
        ["numeric_accuracy", "exact_match", "rouge", "bleu"],
        outputs=["Step.\n#### 12", "the Paris"],
        references=["worked\n#### 12", "Paris"],
        answers=["12", None],
    )
    assert values["numeric_accuracy"] == [1.0, 0.0]
    assert values["exact_match"] == [0.0, 1.0]  # the second falls back to the reference; articles ignored
    assert set(values) == {"numeric_accuracy", "exact_match", "rouge1", "rouge2", "rougeL", "rougeLsum", "bleu"}
    assert all(len(v) == 2 for v in values.values())


def test_normalize_and_directions():
    assert normalize("The  Answer, is: PARIS!") == "answer is paris"
    assert metrics.higher_is_better("rougeL") is True and metrics.higher_is_better("latency_s") is False
    with pytest.raises(ValueError, match="Unknown metric"):
        metrics.load_metric("nope")


def test_copy_rate_measures_how_much_of_an_output_echoes_its_input():
    from evals.metrics import copy_rate

    source = "Person1: can we meet at noon tomorrow? Person2: yes, at the cafe."
    assert copy_rate(source, "can we meet at noon tomorrow?") == 1.0  # 4 of 4 word 3-grams are in the input
    assert copy_rate(source, "They agree to meet at the cafe tomorrow.") == 0.0
    assert copy_rate(source, "They agree to meet at noon tomorrow?") == pytest.approx(2 / 5)
    assert copy_rate(source, "Yes.") is None  # under three words: no 3-gram to compare
