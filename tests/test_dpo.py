"""The DPO objective: reference log-probabilities from the untouched base, a zero margin before training, and a
margin that training raises on its own pairs (tiny model for the mechanics, the embedded model for behaviour)."""

import math

import pytest
import torch

from evals.tasks import Example, load_task
from modules.training import data, dpo, finetune, supervised, trainer

TASK = load_task("hhh-preferences")
MAX_LENGTH = 48  # the tiny model's context is 64 tokens


def mean_margin(net, rows, pad_id: int) -> float:
    with torch.no_grad():
        return dpo.margins(net, dpo.batch(rows, pad_id)).mean().item()


def test_an_answers_log_probability_is_the_negative_summed_cross_entropy_transformers_computes(tiny_model):
    pair = TASK.split("train")[0]
    row = data.tokenize(tiny_model, TASK, pair, MAX_LENGTH)
    batch = supervised.batch([row], pad_id=tiny_model.tokenizer.pad_token_id)
    answer_tokens = sum(label != data.IGNORE for label in row.labels)
    with torch.no_grad():
        expected = -tiny_model.hf(**batch).loss * answer_tokens  # transformers' mean over the labelled tokens
        assert dpo.answer_logprobs(tiny_model.hf, batch).item() == pytest.approx(expected.item(), rel=1e-5)


def test_rows_pair_each_prompt_with_both_answers_and_the_base_as_reference(tiny_model):
    pairs = TASK.split("train")[:3]
    rows = dpo.rows(tiny_model, TASK, pairs, MAX_LENGTH)
    for pair, row in zip(pairs, rows):
        chosen = Example(pair.id, pair.input, pair.meta["chosen"])
        assert row.chosen == data.tokenize(tiny_model, TASK, chosen, MAX_LENGTH)
        assert row.rejected == data.tokenize(tiny_model, TASK, Example(pair.id, pair.input, pair.meta["rejected"]),
                                             MAX_LENGTH)  # fmt: skip
    reference = dpo.answer_logprobs_of(tiny_model.hf, [rows[1].rejected], tiny_model.tokenizer.pad_token_id)
    assert rows[1].reference_rejected == pytest.approx(reference[0], rel=1e-5)  # batching does not change it
    with pytest.raises(ValueError, match="needs pairs with a chosen and a rejected answer"):
        dpo.rows(tiny_model, TASK, [Example("x", "hi", "hello")], MAX_LENGTH)


def test_before_training_the_margin_is_zero_and_the_loss_is_log_2(tiny_model):
    """A fresh LoRA is the base (B = 0): policy and reference agree, so every margin is 0 and the loss log 2."""
    net = finetune.prepare(tiny_model, finetune.Config(method="lora"))
    rows = dpo.rows(tiny_model, TASK, TASK.split("train")[:4], MAX_LENGTH)
    batch = dpo.batch(rows, tiny_model.tokenizer.pad_token_id)
    with torch.no_grad():
        assert dpo.margins(net, batch).abs().max().item() < 1e-4
        assert dpo.loss(net, batch).item() == pytest.approx(math.log(2), abs=1e-5)


def test_dpo_raises_the_chosen_over_rejected_margin_on_its_training_pairs(tiny_model, tmp_path):
    net = finetune.prepare(tiny_model, finetune.Config(method="lora", objective="dpo"))
    rows = dpo.rows(tiny_model, TASK, TASK.split("train")[:4], MAX_LENGTH)
    pad_id = tiny_model.tokenizer.pad_token_id
    result = trainer.train(net, rows, steps=12, batch_size=4, micro_batch=2, lr=2e-2, seed=0, pad_id=pad_id,
                           folder=tmp_path, checkpoint_every=100, objective=dpo)  # fmt: skip
    assert result.losses[0] == pytest.approx(math.log(2), abs=1e-3) and result.losses[-1] < 0.6
    assert mean_margin(net, rows, pad_id) > 1.0  # log-ratio units: chosen now clearly above rejected


@pytest.mark.slow
def test_dpo_on_the_embedded_model_raises_its_training_margin(embedded_model, tmp_path):
    net = finetune.prepare(embedded_model, finetune.Config(method="lora", objective="dpo"))
    rows = dpo.rows(embedded_model, TASK, TASK.split("train")[:4], 160)
    pad_id = embedded_model.tokenizer.pad_token_id
    assert abs(mean_margin(net, rows, pad_id)) < 1e-3
    result = trainer.train(net, rows, steps=6, batch_size=4, micro_batch=2, lr=1e-3, seed=0, pad_id=pad_id,
                           folder=tmp_path, checkpoint_every=100, objective=dpo)  # fmt: skip
    assert result.losses[-1] < result.losses[0] and mean_margin(net, rows, pad_id) > 0.5
