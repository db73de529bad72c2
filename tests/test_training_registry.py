"""The training registry: methods and objectives found by name, the loop minimising the objective's loss, and
training pairs that carry a preference (chosen / rejected)."""

import hashlib
import json
import types

import pytest
import torch

from evals.tasks import Example, load_task
from modules.models import adapters
from modules.progress import Progress
from modules.training import data, finetune, registry, supervised, trainer

TASK = load_task("dialogue-summary")
MAX_LENGTH = 48  # the tiny model's context is 64 tokens


def test_methods_and_objectives_are_found_by_name_and_unknown_names_list_the_known_ones():
    assert list(registry.METHODS) == ["full", "lora", "lora-attention", "lora-mlp", "lora-all", "prompt-tuning",
                                      "ia3", "qlora", "qat-8da4w", "qat-w8a8", "reward-model"]  # fmt: skip
    assert list(registry.OBJECTIVES) == ["supervised", "dpo", "reward"]
    assert registry.get_method("lora").DEFAULT_LR == finetune.DEFAULT_LR["lora"] == 1e-3
    assert registry.get_objective("supervised") is supervised
    with pytest.raises(ValueError, match=r"Unknown training method 'dpo'\. Available: full, lora, lora-attention, "):
        registry.get_method("dpo")
    with pytest.raises(ValueError, match=r"Unknown training objective 'ppo'\. Available: supervised, dpo, reward\."):
        registry.get_objective("ppo")
    with pytest.raises(ValueError, match="Unknown training objective 'ppo'"):
        finetune.Config(objective="ppo")
    for method in registry.METHODS.values():
        assert callable(method.prepare) and 0 < method.DEFAULT_LR < 1
    qat_methods = {name for name in registry.METHODS if name.startswith("qat-")}
    assert qat_methods and qat_methods <= set(adapters.FULL_COPIES)  # saved whole, loaded converted
    for objective in registry.OBJECTIVES.values():
        assert all(callable(getattr(objective, f)) for f in ("rows", "batch", "weight", "loss"))


def test_a_new_method_is_one_registry_entry(tiny_model, monkeypatch):
    """prepare() is a lookup: a method added to METHODS is what prepare builds, with its own learning rate."""
    built = []

    def prepare(base, config):
        built.append(config.method)
        return base.hf

    monkeypatch.setitem(registry.METHODS, "head-only", types.SimpleNamespace(DEFAULT_LR=5e-4, prepare=prepare))
    config = finetune.Config(method="head-only")
    assert finetune.prepare(tiny_model, config) is tiny_model.hf and built == ["head-only"] and config.lr == 5e-4


def test_the_supervised_objective_is_the_masked_next_token_loss(tiny_model):
    pairs = data.pairs_from_task(TASK)[:3]
    rows = supervised.rows(tiny_model, TASK, pairs, MAX_LENGTH)
    assert rows == [data.tokenize(tiny_model, TASK, pair, MAX_LENGTH) for pair in pairs]
    assert [supervised.weight(r) for r in rows] == [sum(label != data.IGNORE for label in r.labels) for r in rows]
    batch = supervised.batch(rows, pad_id=0)
    with torch.no_grad():
        assert torch.equal(supervised.loss(tiny_model.hf, batch), tiny_model.hf(**batch).loss)


def test_the_loop_minimises_the_objective_it_is_given(tiny_model, tmp_path):
    """A toy objective (every row weighs 1, a constant loss with a gradient path): the step losses are its loss,
    and every step is reported as one Progress with done/total and the loss and seconds in its payload."""
    net = finetune.prepare(tiny_model, finetune.Config(method="lora"))
    calls = []

    def loss(net, batch):
        calls.append(batch["input_ids"].shape[0])
        return net(input_ids=batch["input_ids"]).logits.mean() * 0 + 7.0

    toy = types.SimpleNamespace(batch=supervised.batch, weight=lambda row: 1, loss=loss)
    rows = supervised.rows(tiny_model, TASK, data.pairs_from_task(TASK)[:6], MAX_LENGTH)
    events = []
    result = trainer.train(net, rows, steps=2, batch_size=4, micro_batch=2, lr=1e-3, seed=0, pad_id=0,
                           folder=tmp_path, checkpoint_every=10, objective=toy, on_step=events.append)  # fmt: skip
    assert calls == [2, 2, 2, 2] and result.losses == pytest.approx([7.0, 7.0])
    assert [(e.done, e.total) for e in events] == [(1, 2), (2, 2)] and all(isinstance(e, Progress) for e in events)
    assert events[0].payload["loss"] == pytest.approx(7.0) and events[0].payload["seconds"] > 0
    assert events[-1].fraction == 1.0


def test_jsonl_pairs_may_carry_a_preference_that_the_supervised_objective_ignores(tiny_model, tmp_path):
    path = tmp_path / "pairs.jsonl"
    lines = [
        {"input": "#Person1#: Hi.", "reference": "They greet.", "chosen": " They say hello. ", "rejected": "Bye."},
        {"input": "#Person1#: Hi.", "reference": "They greet."},
        {"input": "x", "reference": "y", "chosen": "only one side"},
        {"input": "x", "reference": "y", "chosen": "good", "rejected": "   "},
        {"input": "x", "reference": "y", "chosen": ["not text"], "rejected": "bad"},
    ]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    pairs, errors = data.read_jsonl(path)
    assert [p.meta for p in pairs] == [{"chosen": "They say hello.", "rejected": "Bye."}, {}]
    assert errors == ["line 3: missing field 'rejected'", "line 4: 'rejected' must be non-empty text",
                      "line 5: 'chosen' must be non-empty text"]  # fmt: skip
    assert supervised.rows(tiny_model, TASK, pairs, MAX_LENGTH)[0] == data.tokenize(
        tiny_model, TASK, Example("p", pairs[0].input, pairs[0].reference), MAX_LENGTH
    )  # supervised training reads input and reference only
    plain = pairs[1]
    # a plain pair's data hash is what it always was; a preference is part of the data it identifies
    assert (
        data.data_hash([plain]) == hashlib.sha256(json.dumps([plain.input, plain.reference]).encode()).hexdigest()[:16]
    )
    assert data.data_hash([pairs[0]]) != data.data_hash([Example("a", pairs[0].input, pairs[0].reference)])
