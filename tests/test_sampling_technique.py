"""Decoding settings as a technique: n samples with seeds of their own, the first scored, diversity from all n."""

import pytest

from evals.runner import score
from evals.tasks import load_task
from modules.techniques import sampling

TASK = load_task("dialogue-summary")


def test_n_samples_have_their_own_seeds_and_the_first_is_the_output(tiny_model):
    examples = TASK.split("test")[:2]
    config = sampling.Config(n=3, temperature=1.5, seed=7, max_new_tokens=5)
    outputs = sampling.run(tiny_model, TASK, examples, config)
    assert len(outputs) == 2
    for output in outputs:
        assert output.trace["seeds"] == [7, 8, 9] and len(output.trace["samples"]) == 3
        assert output.text == output.trace["samples"][0]
    again = sampling.run(tiny_model, TASK, examples, config)
    assert [o.trace["samples"] for o in again] == [o.trace["samples"] for o in outputs]  # seeded
    assert len({text for o in outputs for text in o.trace["samples"]}) > 2  # T=1.5 on a random model: they vary
    rows = score(TASK, examples, outputs)
    assert {"distinct_1", "distinct_2", "self_bleu", "rougeL"} <= set(rows[0])


def test_greedy_is_one_sample_and_bad_settings_get_messages(tiny_model):
    (output,) = sampling.run(tiny_model, TASK, TASK.split("test")[:1], sampling.Config(n=1, do_sample=False,
                                                                                         max_new_tokens=4))  # fmt: skip
    assert output.trace["seeds"] == [0] and "distinct_1" not in score(TASK, TASK.split("test")[:1], [output])[0]
    for bad, message in (({"n": 0}, "between 1 and 10"), ({"n": 3, "do_sample": False}, "use n=1"),
                         ({"top_p": 0.0}, "top_p"), ({"temperature": 0.0}, "emperature")):  # fmt: skip
        with pytest.raises(ValueError, match=message):
            sampling.Config(**bad)
