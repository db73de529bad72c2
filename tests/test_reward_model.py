"""The reward model: a scalar head on the shared base, trained on preference pairs through the one training loop;
it separates a toy preference set on held-out pairs, leaves the base untouched, and reloads to the same rewards."""

import hashlib
import math

import pytest
import torch

from evals.tasks import Example, load_task
from modules.models import adapters
from modules.training import data, finetune, registry, reward, trainer

TASK = load_task("hhh-preferences")
MAX_LENGTH = 48  # the tiny model's context is 64 tokens
# in the tiny model's word-level vocabulary (tests/conftest.py WORDS): any other word is one <unk>
VOCAB = (
    "the a sat on mat summary dialogue person1 person2 answer question problem solution is of and to in it for one two"
)
WORDS = VOCAB.split()


def toy_pairs(words: list[str], split: str) -> list[Example]:
    """Separable by construction: the chosen answer always ends in 'cat', the rejected one in 'dog'."""
    return [Example(f"{split}-{w}", f"question {w}", f"{w} cat", meta={"chosen": f"{w} cat", "rejected": f"{w} dog"},
                    split=split) for w in words]  # fmt: skip


def weights_hash(model) -> str:
    digest = hashlib.sha256()
    for tensor in model.hf.state_dict().values():
        digest.update(tensor.detach().cpu().numpy().tobytes())
    return digest.hexdigest()


def trained_reward_model(tiny_model, tmp_path, steps: int = 30):
    config = finetune.Config(method="reward-model", objective="reward", r=8, target_modules=("q_proj", "v_proj"))
    net = finetune.prepare(tiny_model, config)
    rows = reward.rows(tiny_model, TASK, toy_pairs(WORDS[:16], "train"), MAX_LENGTH)
    result = trainer.train(net, rows, steps=steps, batch_size=8, micro_batch=4, lr=5e-3, seed=0,
                           pad_id=tiny_model.tokenizer.pad_token_id, folder=tmp_path / "ckpt", checkpoint_every=100,
                           objective=reward)  # fmt: skip
    return net, result


def test_the_reward_model_is_one_method_and_one_objective_in_the_registry():
    assert registry.get_method("reward-model") is reward and registry.get_objective("reward") is reward


def test_it_separates_a_toy_preference_set_on_held_out_pairs_and_leaves_the_base_untouched(tiny_model, tmp_path):
    before = weights_hash(tiny_model)
    net, result = trained_reward_model(tiny_model, tmp_path)
    assert result.losses[0] == pytest.approx(math.log(2), abs=0.1)  # a small head: rewards start near 0
    assert result.losses[-1] < 0.2
    held_out = reward.rows(tiny_model, TASK, toy_pairs(WORDS[16:], "test"), MAX_LENGTH)
    scored = reward.pair_rewards(net.eval(), held_out, tiny_model.tokenizer.pad_token_id)
    accuracy = sum(chosen > rejected for chosen, rejected in scored) / len(scored)
    assert len(scored) == 6 and accuracy >= 0.9
    assert weights_hash(tiny_model) == before
    trainable = [name for name, p in net.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in name or "score" in name for name in trainable)


def test_a_saved_reward_model_reloads_to_the_same_rewards(tiny_model, tmp_path):
    net, _ = trained_reward_model(tiny_model, tmp_path, steps=3)
    folder = adapters.save("reward-roundtrip", net, {"method": "reward-model", "base": tiny_model.spec, "seed": 0})
    rows = reward.rows(tiny_model, TASK, toy_pairs(WORDS[16:20], "test"), MAX_LENGTH)
    pad_id = tiny_model.tokenizer.pad_token_id
    loaded = reward.load(tiny_model, folder)
    flat = [r for pair in reward.pair_rewards(net.eval(), rows, pad_id) for r in pair]
    assert [r for pair in reward.pair_rewards(loaded, rows, pad_id) for r in pair] == pytest.approx(flat, abs=1e-6)
    assert len(set(flat)) == len(flat)  # not a constant: the trained head reads each answer


def test_preference_rows_need_pairs_with_both_answers(tiny_model):
    with pytest.raises(ValueError, match="needs pairs with a chosen and a rejected answer"):
        data.preference_rows(tiny_model, TASK, [Example("x", "hi", "hello")], MAX_LENGTH)
    with torch.no_grad():
        rows = reward.rows(tiny_model, TASK, TASK.split("test")[:2], MAX_LENGTH)
    assert [len(pair) for pair in rows] == [2, 2]


def test_the_study_trains_saves_and_reads_held_out_pairs_with_a_wilson_interval(tiny_model, monkeypatch, tmp_path):
    import threading

    from evals import stats
    from modules.models import get_model
    from modules.studies import reward_model

    monkeypatch.setenv("LAB_HOME", str(tmp_path))
    settings = reward_model.Settings(name="rm-study", steps=2, batch_size=4, max_length=MAX_LENGTH, eval_limit=12)
    events = []
    result = reward_model.train_and_read(tiny_model, settings, events.append, threading.Event())
    assert result.asset == "rm-study" and len(result.losses) == 2 and 0 < result.trainable < result.total
    assert list(result.pairs.columns) == ["id", "property", "domain", "chosen", "rejected", "correct"]
    assert len(result.pairs) == 12 and set(result.pairs.property) <= {"helpful", "honest", "harmless"}
    assert result.accuracy == stats.wilson_ci(result.pairs.correct.astype(float))
    by_property = reward_model.accuracy_by(result.pairs)
    assert by_property.n.sum() == 12 and (by_property["95% low"] <= by_property.accuracy).all()
    meta = adapters.read_meta("rm-study")
    assert meta["method"] == "reward-model" and meta["scores"]["held_out"] == 12
    assert any(event.payload.get("loss") for event in events if event.payload)
    with pytest.raises(ValueError, match="is a reward model: it scores answers"):
        get_model(f"{tiny_model.spec}+adapter:rm-study")


def test_a_stopped_study_keeps_nothing_and_reads_nothing(tiny_model, monkeypatch, tmp_path):
    import threading

    from modules.studies import reward_model

    monkeypatch.setenv("LAB_HOME", str(tmp_path))
    stop = threading.Event()
    stop.set()
    settings = reward_model.Settings(name="rm-stopped", steps=2, batch_size=4, max_length=MAX_LENGTH)
    result = reward_model.train_and_read(tiny_model, settings, lambda event: None, stop)
    assert result.asset is None and result.pairs.empty and not adapters.asset_dir("rm-stopped").exists()


def test_a_saved_reward_model_is_a_score_any_run_can_ask_for(tiny_model, monkeypatch, tmp_path):
    import threading

    from evals import metrics, score_hooks
    from evals.runner import System, compare
    from modules.studies import reward_model
    from modules.techniques import prompting

    monkeypatch.setenv("LAB_HOME", str(tmp_path))
    monkeypatch.setattr(score_hooks, "HOOKS", dict(score_hooks.HOOKS))  # registered for this test only
    monkeypatch.setattr(metrics, "SCORES", dict(metrics.SCORES))
    settings = reward_model.Settings(name="rm-score", steps=1, batch_size=4, max_length=MAX_LENGTH, eval_limit=2)
    reward_model.train_and_read(tiny_model, settings, lambda event: None, threading.Event())
    name = reward_model.use_as_score("rm-score", max_length=MAX_LENGTH)
    assert name.startswith("reward:rm-score:")  # and which folder: two visitors may both say "rm-score"
    systems = [System("zero-shot", tiny_model, "prompting", prompting.Config(k=0, max_new_tokens=4))]
    run = compare(TASK, systems, 3, hooks=[name])
    net, base = reward.load_asset("rm-score")
    outputs = run.per_example.sort_values("example_id")
    examples = [TASK.example(i) for i in outputs.example_id]
    expected = reward.score_answers(net, base, TASK, examples, list(outputs.output), MAX_LENGTH)
    assert list(outputs[name]) == pytest.approx(expected, abs=1e-5)  # the stored score is the model's reward
    row = run.aggregate[run.aggregate.score == name].iloc[0]
    assert row.n == 3 and row.ci_low <= row["mean"] <= row.ci_high
    with pytest.raises(ValueError, match="No saved adapter named 'nothing'"):
        reward_model.use_as_score("nothing")
