"""The Alignment tab through gradio_client on the tiny model: a reward model trains, saves and is read on held-out
pairs; RL with and without the leash, DPO and constitutional AI train and are read beside the base and best-of-n;
the constitutional loop shows every revision and makes pairs."""

import math

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from tests.conftest import table_rows


def test_a_reward_model_trains_and_is_read_on_held_out_pairs(served_app, tiny_llama_dir):
    client = Client(served_app, verbose=False)
    client.predict(str(tiny_llama_dir), api_name="/load_model")
    status, _, by_property, chart, pairs, download = client.predict(
        "tab-rm", "hhh-preferences", 2, 4, 8, 64, 6, api_name="/alignment_train_reward"
    )
    assert "**Done.**" in status and "Held-out pairwise accuracy" in status and "n=6" in status
    assert sum(row["n"] for row in table_rows(by_property)) == 6 and len(table_rows(pairs)) == 6
    assert download.endswith(".json") and "Held-out rewards" in str(chart)


def test_the_constitutional_loop_shows_each_revision(served_app, tiny_llama_dir):
    client = Client(served_app, verbose=False)
    client.predict(str(tiny_llama_dir), api_name="/load_model")
    from modules.studies import constitutional

    status, revisions, download = client.predict(constitutional.default_principles_text(), 3, 8,
                                                 api_name="/alignment_constitutional")  # fmt: skip
    rows = table_rows(revisions)
    assert "**Done.**" in status and len(rows) == 3 and {"original", "critique", "revised"} <= set(rows[0])
    assert download.endswith(".json")


def test_best_of_n_runs_beside_zero_shot_and_both_are_read_by_the_reward_model(served_app, tiny_llama_dir):
    client = Client(served_app, verbose=False)
    client.predict(str(tiny_llama_dir), api_name="/load_model")
    client.predict("tab-rm-bon", "hhh-preferences", 1, 4, 8, 64, 2, api_name="/alignment_train_reward")
    status, aggregate, *_ = client.predict("tab-rm-bon", 3, 3, 8, api_name="/alignment_best_of_n")
    rows = table_rows(aggregate)
    assert {row["system"] for row in rows} == {"zero-shot", "best-of-3"}
    read = {row["system"] for row in rows if row["score"].startswith("reward:tab-rm-bon:")}
    assert read == {"zero-shot", "best-of-3"}
    systems = "zero-shot:max_new_tokens=4\nfew-shot:k=1:max_new_tokens=4"
    _, quality, *_ = client.predict(systems, "hhh-preferences", "", 2, "", "", "tab-rm-bon", api_name="/compare_run")
    scored = {row["system"] for row in table_rows(quality) if row["score"].startswith("reward:tab-rm-bon:")}
    assert len(scored) == 2  # the Compare tab scores any systems with a saved reward model too


def test_the_side_by_side_trains_four_policies_and_reads_six_columns(served_app, tiny_llama_dir):
    from modules.studies import constitutional

    client = Client(served_app, verbose=False)
    client.predict(str(tiny_llama_dir), api_name="/load_model")
    client.predict("tab-rm-side", "hhh-preferences", 1, 4, 8, 64, 2, api_name="/alignment_train_reward")
    status, curves, costs, side, chart, answers, revisions, download = client.predict(
        "tab-rm-side", "side", 0.2, 2, 2, 1, 2, 1, 2, constitutional.default_principles_text(),
        api_name="/alignment_side_by_side",
    )  # fmt: skip
    assert "**Done.**" in status and "`side-rl`" in status and "`side-dpo`" in status
    assert {row["policy"] for row in table_rows(costs)} >= {"RL (KL > 0)", "RL (KL = 0)", "DPO"}
    rows = table_rows(side)
    assert {"base", "best-of-4", "RL (KL > 0)", "RL (KL = 0)", "DPO"} <= {row["system"] for row in rows}
    scores = {row["score"] for row in rows}
    assert {
        "log-ratio to base (nats)",
        "refusal: harmful requests",
        "ROUGE-L F (0-1)",
        "reward (tab-rm-side)",
    } <= scores
    assert len(table_rows(answers)) == 5 and len(table_rows(revisions)) == 2  # 1 prompt per domain; 2 revised
    assert "KL to base" in str(curves) and download.endswith(".json")
    again, *_ = client.predict("tab-rm-side", "side", 0.2, 2, 2, 1, 2, 1, 2, constitutional.default_principles_text(),
                               api_name="/alignment_side_by_side_resume")  # fmt: skip
    assert "**Done.**" in again and "`side-rl` (kept)" in again  # Resume keeps what the same settings saved
    with pytest.raises(AppError, match="Pick a saved reward model"):  # a clear message, not a stack trace
        client.predict("", "side", 0.2, 2, 2, 1, 2, 1, 2, "", api_name="/alignment_side_by_side")


def test_stop_ends_the_side_by_side_within_seconds(served_app, tiny_llama_dir):
    import time

    client = Client(served_app, verbose=False)
    client.predict(str(tiny_llama_dir), api_name="/load_model")
    client.predict("tab-rm-stop", "hhh-preferences", 1, 4, 8, 64, 2, api_name="/alignment_train_reward")
    job = client.submit("tab-rm-stop", "stop", 0.2, 200, 2, 1, 2, 1, 2, "", api_name="/alignment_side_by_side")
    deadline = time.time() + 60
    while not any("Training" in str(update[0]) for update in job.outputs()) and time.time() < deadline:
        time.sleep(0.2)
    pressed = time.time()
    client.predict(api_name="/alignment_stop")
    status, *_ = job.result(timeout=60)
    assert time.time() - pressed < 5, "Stop took longer than 5 s"
    assert "Stopped" in status and "press **Resume** with the same settings" in status
    # Resume from a checkpoint is tested in tests/test_alignment_study.py (200 RL steps are minutes here).


@pytest.mark.slow
def test_the_side_by_side_on_the_embedded_model(client):
    """The real model through the page's API, each part at its smallest (the default, ~12 min, is `make examples`)."""
    client.predict("slow-rm", "hhh-preferences", 1, 4, 4, 256, 2, api_name="/alignment_train_reward")
    status, curves, costs, side, *_ = client.predict(
        "slow-rm", "slow", 0.1, 1, 2, 1, 2, 1, 1, "", api_name="/alignment_side_by_side"
    )
    assert "**Done.**" in status and "SmolLM2-135M" in status and "policies saved as `slow-rl`" in status
    rows = table_rows(side)
    ratios = {row["system"]: row["mean"] for row in rows if row["score"] == "log-ratio to base (nats)"}
    assert ratios["base"] == 0 and ratios["best-of-4"] == pytest.approx(math.log(4) - 0.75, abs=1e-4)
    assert all(row["trainable params"] > 0 for row in table_rows(costs))
