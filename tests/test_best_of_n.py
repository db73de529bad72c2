"""Best-of-n against a saved reward model: it picks the highest-rewarded of its samples, so it never scores below
the first sample (what plain sampling with the same seed returns)."""

import threading

from evals.tasks import load_task
from modules.studies import reward_model
from modules.techniques import best_of_n, sampling
from modules.training import reward

TASK = load_task("hhh-preferences")


def test_best_of_n_picks_the_highest_reward_and_never_lowers_it(tiny_model, monkeypatch, tmp_path):
    monkeypatch.setenv("LAB_HOME", str(tmp_path))
    settings = reward_model.Settings(name="rm-bon", steps=2, batch_size=4, max_length=48, eval_limit=2)
    reward_model.train_and_read(tiny_model, settings, lambda event: None, threading.Event())
    examples = TASK.split("test")[:4]
    config = best_of_n.Config(reward="rm-bon", n=4, max_new_tokens=6)
    picked = best_of_n.run(tiny_model, TASK, examples, config)
    plain = sampling.run(tiny_model, TASK, examples, sampling.Config(n=1, max_new_tokens=6))
    net, base = reward.load_asset("rm-bon")
    for example, output, first in zip(examples, picked, plain):
        rewards = output.trace["rewards"]
        assert (
            output.text == output.trace["samples"][output.trace["picked"]]
            and max(rewards) == rewards[output.trace["picked"]]
        )
        assert output.trace["samples"][0] == first.text  # sample 0 is plain sampling's answer, same seed
        (first_reward,) = reward.score_answers(net, base, TASK, [example], [first.text], 256)
        assert max(rewards) >= first_reward - 1e-6
