"""RL with a KL leash (RLOO in the lab's own loop) on the tiny model with a rule as the reward: the reward rises,
and a KL coefficient > 0 keeps the policy nearer the base than 0 on the same seed."""

import pytest

from evals.tasks import Example, load_task
from modules.training import finetune, rloo, trainer

TASK = load_task("hhh-preferences")
LR, STEPS = 3e-2, 40  # the toy reward is sparse (1 in ~60 tokens is "cat"): it takes tens of steps to move
METHOD = "lora"
PROMPTS = [Example(f"p{i}", f"question {w}", "") for i, w in enumerate(["the", "a", "dog", "mat"])]


def cats(examples, texts):
    """The toy reward: how often the answer says 'cat' (a word of the tiny vocabulary)."""
    return [float(text.split().count("cat")) for text in texts]


def trained(tiny_model, tmp_path, beta: float, steps: int = STEPS):
    objective = rloo.Rloo(cats, beta=beta, samples=4, max_new_tokens=8)
    net = finetune.prepare(tiny_model, finetune.Config(method=METHOD, seed=0))
    rows = objective.rows(tiny_model, TASK, PROMPTS, 48)
    trainer.train(net, rows, steps=steps, batch_size=4, micro_batch=4, lr=LR, seed=0,
                  pad_id=tiny_model.tokenizer.pad_token_id, folder=tmp_path / f"beta-{beta}", checkpoint_every=100,
                  objective=objective)  # fmt: skip
    return objective.history


def mean(rows, key, part):
    return sum(row[key] for row in part(rows)) / len(part(rows))


def first(rows):
    return rows[:8]


def last(rows):
    return rows[len(rows) // 2 :]


def test_the_reward_rises_without_a_leash_and_the_leash_keeps_kl_lower(tiny_model, tmp_path):
    free = trained(tiny_model, tmp_path, beta=0.0)
    leashed = trained(tiny_model, tmp_path, beta=3.0)
    assert len(free) == len(leashed) == STEPS and all(set(row) == {"reward", "kl", "length"} for row in free)
    assert mean(free, "reward", last) > mean(free, "reward", first)
    assert abs(free[0]["kl"]) < 1e-4  # a fresh LoRA is the base: no divergence before the first update
    assert mean(leashed, "kl", last) < mean(free, "kl", last)
    assert all(0 < row["length"] <= 8 for row in free)


def test_bad_settings_and_a_policy_without_a_reference_are_clear_errors(tiny_model):
    with pytest.raises(ValueError, match="at least 2 answers per prompt"):
        rloo.Rloo(cats, samples=1)
    with pytest.raises(ValueError, match="KL coefficient must be >= 0"):
        rloo.Rloo(cats, beta=-1)
    objective = rloo.Rloo(cats, samples=2, max_new_tokens=2)
    rows = objective.rows(tiny_model, TASK, PROMPTS[:1], 48)
    with pytest.raises(ValueError, match="trains a peft adapter"):
        objective.loss(tiny_model.hf, objective.batch(rows, tiny_model.tokenizer.pad_token_id))
