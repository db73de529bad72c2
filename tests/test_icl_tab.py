"""The in-context learning tab through gradio_client: real outputs on the embedded model, clean errors."""

import json
from pathlib import Path

import pandas as pd
import pytest

from evals import stats
from modules.paths import lab_home
from modules.store import Store

# task, example, custom input, custom reference, k, selection, seed, max new tokens, decoding, temperature, top_p
GOOD = ["dialogue-summary", "ds-045", "", "", 3, "fixed", 0, 48, "greedy", 0.7, 0.9]


def _with(**changes):
    names = ["task", "example", "custom", "reference", "k", "selection", "seed", "max_new_tokens", "decoding"]
    args = list(GOOD)
    for name, value in changes.items():
        args[names.index(name)] = value
    return args


@pytest.mark.slow
def test_one_example_on_the_embedded_model(client):
    result = client.predict(*GOOD, api_name="/icl_run")
    texts, summaries, prompts, table = result[:3], result[3:6], result[6:9], result[9]
    assert all(len(t.split()) >= 3 for t in texts) and len(set(texts)) == 3  # three real, different outputs
    assert prompts[0].count("<|im_start|>user") == 1 and prompts[2].count("<|im_start|>user") == 4
    assert "ROUGE-1" in summaries[0] and "new tokens" in summaries[0]
    scores = pd.DataFrame(table["data"], columns=table["headers"])
    assert list(scores.shots) == [0, 1, 3]
    assert scores[["rouge1", "rouge2", "rougeL"]].stack().between(0, 1).all() and scores.bleu.between(0, 100).all()
    assert (scores.new_tokens > 0).all() and (scores["latency_s (shared batch)"] > 0).all()
    assert scores["hit max new tokens"].tolist() == [n >= GOOD[7] for n in scores.new_tokens]  # max new tokens
    assert scores["prompt cut"].tolist() == [False] * 3 and scores.copy_rate.between(0, 1).all()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"example": None}, "The input is empty"),
        ({"example": None, "custom": "   "}, "The input is empty"),
        ({"k": 100}, r"k \(few-shot examples\): 100 is greater than maximum value 8; allowed: from 2 to 8\."),
        ({"max_new_tokens": 0}, "Max new tokens must be a whole number from 1 to 1024, got 0"),
        ({"max_new_tokens": 100000}, "Max new tokens must be a whole number from 1 to 1024, got 100000"),
        ({"task": "nope"}, r"Unknown task 'nope'\. Available: .*dialogue-summary"),
        ({"custom": "x" * 20_001}, "limit is 20,000"),
    ],
)
def test_bad_input_is_a_clean_error(client, changes, message):
    with pytest.raises(Exception, match=message) as error:
        client.predict(*_with(**changes), api_name="/icl_run")
    assert "Traceback" not in str(error.value)


def test_unknown_model_keeps_the_previous_one(client):
    with pytest.raises(Exception, match="no-org/no-model.*unreachable"):
        client.predict("no-org/no-model", api_name="/load_model")
    with pytest.raises(Exception, match="Type a model spec"):
        client.predict("  ", api_name="/load_model")


def test_run_on_task_with_a_tiny_model(client, tiny_llama_dir):
    info = client.predict(str(tiny_llama_dir), api_name="/load_model")  # the spec itself stays in session state
    import torch

    where = "device cuda:0 · bfloat16" if torch.cuda.is_available() else "device cpu · float32"  # default_device()
    assert tiny_llama_dir.name in info and f"{where} · context 64 tokens · chat template" in info
    # task, limit, k, selection, seed, max new tokens, decoding, temperature, top_p
    status, aggregate, _chart, per_example, csv_path, json_path = client.predict(
        "dialogue-summary", 3, 2, "fixed", 0, 3, "greedy", 0.7, 0.9, api_name="/icl_run_task"
    )
    assert "(complete)" in status and "3 examples" in status and stats.INTERVALS in status
    table = pd.DataFrame(aggregate["data"], columns=aggregate["headers"])
    assert set(table.system) == {"zero-shot", "one-shot", "few-shot (k=2)"}
    assert (table.ci_low <= table["mean"]).all() and (table["mean"] <= table.ci_high).all()
    assert len(per_example["data"]) == 9 and len(pd.read_csv(csv_path)) == 9
    payload = json.loads(Path(json_path).read_text())
    run = Store(lab_home() / "lab.db").get_run(payload["run_id"])
    assert run["status"] == "complete" and run["results"] == 9 and payload["model"]["spec"] == str(tiny_llama_dir)
