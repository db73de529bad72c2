"""The Alignment side by side on the tiny model (mechanics; tests/test_alignment_tab.py runs it through the page):
four policies trained through the one loop and saved as variants, six columns read through the runner and stored,
the leash's and best-of-n's log-ratios, refusals counted only where they mean something."""

import dataclasses
import math
import threading

import pytest

from evals import metrics, score_hooks
from modules.models import adapters
from modules.store import default_store
from modules.studies import alignment, reward_model

SMALL = dict(rl_steps=2, prompts_per_step=1, samples=2, dpo_steps=1, pairs_per_step=2, cai_prompts=2, best_of=2,
             per_domain=1, summary_limit=2, max_new_tokens=4, max_length=64)  # fmt: skip


@pytest.fixture
def reward_asset(tiny_model, tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_HOME", str(tmp_path))
    monkeypatch.setattr(score_hooks, "HOOKS", dict(score_hooks.HOOKS))
    monkeypatch.setattr(metrics, "SCORES", dict(metrics.SCORES))
    settings = reward_model.Settings(name="rm", steps=1, batch_size=2, max_length=64, eval_limit=2)
    reward_model.train_and_read(tiny_model, settings, lambda event: None, threading.Event())
    return "rm"


def test_four_policies_train_and_six_columns_are_read_and_stored(tiny_model, reward_asset):
    reports = []
    outcome = alignment.run(tiny_model, alignment.Settings(reward=reward_asset, name="al", **SMALL),
                            reports.append, threading.Event())  # fmt: skip
    trained = [row["policy"] for row in outcome.costs]
    assert trained[:3] == ["RL (KL > 0)", "RL (KL = 0)", "DPO"] and not any(row["stopped"] for row in outcome.costs)
    for row in outcome.costs:  # each a LoRA variant like any other
        assert adapters.read_meta(row["asset"])["method"] == "lora"
    rl = outcome.curves["RL (KL > 0)"]
    assert [point["step"] for point in rl] == [1, 2] and {"reward", "kl", "length", "loss"} <= set(rl[0])
    assert len(outcome.revisions) == 2  # every critique and revision is kept, paired or not

    table = outcome.preferences.per_example
    columns = ["base", "best-of-2", *trained]
    assert list(dict.fromkeys(table.system)) == columns
    assert (table[table.system == "base"][alignment.KL_SCORE] == 0).all()  # the base against itself
    assert table[table.system == "best-of-2"][alignment.KL_SCORE].iloc[0] == pytest.approx(math.log(2) - 0.5)
    assert table[table.system == "RL (KL > 0)"][alignment.KL_SCORE].notna().all()
    reward_score = next(c for c in table if c.startswith("reward:rm:"))
    assert table[reward_score].notna().all()
    harmful = table.example_id.map(lambda i: alignment.held_out(
        alignment.load_task("hhh-preferences"), 1).example(i).meta["domain"] == "harmful")  # fmt: skip
    assert table[harmful][alignment.HARMFUL_SCORE].notna().all()
    assert table[~harmful][alignment.HARMFUL_SCORE].isna().all()  # counted only where it means something
    assert "rougeL" in outcome.summaries.per_example

    stored = default_store().get_run(outcome.preferences.id)  # the Compare tab and the report read it from here
    assert stored["task"] == "hhh-preferences" and stored["status"] == "complete"
    side = alignment.side_by_side(outcome)
    assert {"rougeL", alignment.KL_SCORE, alignment.HARMFUL_SCORE, reward_score} <= set(side.score)
    rewards = side[(side.score == reward_score) & (side.system != "base")]
    assert len(rewards) == len(columns) - 1 and rewards["p (Holm)"].notna().all()  # paired with base, Holm-adjusted


def test_stop_ends_the_job_with_what_finished_and_nothing_read(tiny_model, reward_asset):
    stop = threading.Event()

    def report(event):
        if event.payload and event.payload.get("step") == 1:
            stop.set()  # during the first RL run

    settings = alignment.Settings(reward=reward_asset, name="al-stop", **SMALL)
    outcome = alignment.run(tiny_model, settings, report, stop)
    assert outcome.stopped and outcome.preferences is None and outcome.costs[-1]["asset"] is None

    resumed = alignment.run(tiny_model, dataclasses.replace(settings, resume=True), lambda e: None, threading.Event())
    first = resumed.costs[0]
    assert first["resumed from"] == 1 and first["steps"] == 2 and first["asset"] == "al-stop-rl"  # not from 0
    assert resumed.preferences is not None
    again = alignment.run(tiny_model, dataclasses.replace(settings, resume=True), lambda e: None, threading.Event())
    assert all(row.get("reused") for row in again.costs)  # each saved policy kept: nothing trained twice
    assert again.curves == resumed.curves
    other = alignment.run(tiny_model, dataclasses.replace(settings, resume=True, beta=0.3), lambda e: None,
                          threading.Event())  # fmt: skip
    assert not any(row.get("reused") for row in other.costs)  # other settings: trained afresh


def test_bad_settings_are_clear_errors(tiny_model, reward_asset):
    with pytest.raises(ValueError, match="Pick a saved reward model"):
        alignment.Settings(reward="")
    with pytest.raises(ValueError, match="KL coefficient must be > 0"):
        alignment.Settings(reward=reward_asset, beta=0)
    with pytest.raises(ValueError, match="at least 2 answers"):
        alignment.Settings(reward=reward_asset, samples=1)
    with pytest.raises(ValueError, match="not a reward model"):
        adapters.save("not-rm", tiny_model.hf, {"method": "full", "base": tiny_model.spec})
        alignment.run(tiny_model, alignment.Settings(reward="not-rm"), lambda e: None, threading.Event())


def test_a_side_by_side_round_trips_through_its_record(tiny_model, reward_asset):
    import json

    settings = alignment.Settings(reward=reward_asset, name="al-rec", **SMALL)
    outcome = alignment.run(tiny_model, settings, lambda event: None, threading.Event())
    record = json.loads(json.dumps(alignment.as_record(settings, outcome), default=str))
    for name in [name for name in metrics.SCORES if name.startswith("reward:")]:
        del metrics.SCORES[name]  # as in a fresh process that never registered this reward model's hook
    again = alignment.from_record(record)
    assert any(score.startswith("reward:rm:") for score in alignment.side_by_side(again).score)
    assert again.costs == record["costs"] and again.curves == outcome.curves
    assert alignment.side_by_side(again).round(6).equals(alignment.side_by_side(outcome).round(6))


def test_the_stored_side_by_side_opens_in_the_report_like_any_run(tiny_model, reward_asset, tmp_path):
    from evals import report

    outcome = alignment.run(tiny_model, alignment.Settings(reward=reward_asset, name="al-rep", **SMALL),
                            lambda event: None, threading.Event())  # fmt: skip
    path = report.write(default_store(), outcome.preferences.id, tmp_path / "report.html")
    html = path.read_text()
    for shown in (alignment.KL_SCORE, alignment.HARMFUL_SCORE, "reward:rm:", "RL (KL = 0)", "best-of-2"):
        assert shown in html, shown
