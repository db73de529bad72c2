"""Score hooks: a registered score that needs a model, scored by runner.score, stored per example and aggregated
with an interval like any other score."""

import math

import pytest

from evals import metrics, score_hooks
from evals.runner import System, compare, score
from evals.tasks import load_task
from modules.store import Store
from modules.techniques import Output

TASK = load_task("dialogue-summary")


@pytest.fixture()
def registry(monkeypatch):
    """A private hook registry and score table for each test, so registrations do not leak."""
    monkeypatch.setattr(score_hooks, "HOOKS", {})
    monkeypatch.setattr(metrics, "SCORES", dict(metrics.SCORES))
    return score_hooks


def mean_loglik(model):
    """A model-based score: the tiny model's mean log-likelihood per token of each output (None under 2 tokens)."""

    def hook(task, examples, outputs):
        values = []
        for output in outputs:
            try:
                values.append(-math.log(model.perplexity([output.text])))
            except ValueError:  # fewer than two tokens: nothing to score
                values.append(None)
        return values

    return hook


def test_a_model_based_hook_is_stored_per_example_and_aggregated_with_an_interval(registry, tiny_model, tmp_path):
    registry.register_score_hook("loglik", mean_loglik(tiny_model), label="mean log-likelihood (tiny model)")
    registry.register_score_hook("long", lambda task, examples, outputs: [float(len(o.text) > 5) for o in outputs])
    system = System.parse("zero-shot:max_new_tokens=6", tiny_model)
    store = Store(tmp_path / "lab.db")
    run = compare(TASK, [system], limit=6, store=store, hooks=["loglik", "long"])
    expected = [-math.log(tiny_model.perplexity([text])) for text in run.per_example.output]
    assert run.per_example.loglik.tolist() == pytest.approx(expected)
    aggregate = run.aggregate.set_index("score")
    loglik = aggregate.loc["loglik"]
    assert loglik.n == 6 and loglik.ci_low <= loglik["mean"] <= loglik.ci_high and loglik.method == "t"  # n < 10
    assert loglik.label == "mean log-likelihood (tiny model)" and loglik.higher_is_better
    assert aggregate.loc["long"].method == "Wilson"  # 0/1 values: the Wilson interval, as accuracy gets
    stored = store.get_results(run.id)
    assert [r["scores"]["loglik"] for r in stored] == pytest.approx(expected)
    assert {"rougeL", "latency_s"} <= stored[0]["scores"].keys()  # the usual scores are all still there


def test_a_run_scores_only_the_hooks_it_names_and_none_is_not_scored(registry):
    registry.register_score_hook("half", lambda task, examples, outputs: [None, 0.5])
    examples = TASK.split("test")[:2]
    outputs = [Output(text="a summary", answer=None, trace={}, latency_s=1.0, new_tokens=2, prompt_tokens=3)] * 2
    plain = score(TASK, examples, outputs)
    assert "half" not in plain[0] and "half" not in plain[1]
    hooked = score(TASK, examples, outputs, hooks=["half"])
    assert "half" not in hooked[0] and hooked[1]["half"] == 0.5
    assert {k: v for k, v in hooked[1].items() if k != "half"} == plain[1]


def test_unknown_clashing_or_miscounting_hooks_are_refused(registry, tiny_model, tmp_path):
    system = System.parse("zero-shot:max_new_tokens=2", tiny_model)
    store = Store(tmp_path / "lab.db")
    with pytest.raises(ValueError, match=r"Unknown score hook 'reward'\. Available: none registered\."):
        compare(TASK, [system], limit=1, store=store, hooks=["reward"])
    assert store.list_runs(5) == []  # refused before a run was made
    with pytest.raises(ValueError, match="'rougeL' is a built-in score"):
        registry.register_score_hook("rougeL", lambda task, examples, outputs: [])
    with pytest.raises(ValueError, match="needs a direction|True or False"):
        registry.register_score_hook("kl", lambda task, examples, outputs: [], higher_is_better=None)
    registry.register_score_hook("short", lambda task, examples, outputs: [1.0])
    with pytest.raises(ValueError, match=r"Score hook 'short' returned 1 values for 2 outputs\."):
        compare(TASK, [system], limit=2, hooks=["short"])
