"""The fine-tuning tab through gradio_client: busy, Stop and Resume on the tiny model; LoRA + full on the real one."""

import time

import pytest
from gradio_client import Client

from tests.conftest import table_rows

NAMES = ("name", "methods", "task", "jsonl", "steps", "batch_size", "max_length", "seed", "lr_full", "lr_lora",
         "lr_prompt", "r", "alpha", "dropout", "targets", "virtual_tokens", "init_text", "eval_limit", "probe_task",
         "probe_limit", "mixture")  # fmt: skip
DEFAULTS = {"name": "tab", "methods": ["lora"], "task": "dialogue-summary", "jsonl": None, "steps": 3,
            "batch_size": 4, "max_length": 224, "seed": 0, "lr_full": 2e-5, "lr_lora": 1e-3, "lr_prompt": 3e-2,
            "r": 8, "alpha": 16, "dropout": 0.05, "targets": ["q_proj", "v_proj"], "virtual_tokens": 20,
            "init_text": "Summarize the dialogue in one sentence.", "eval_limit": 2,
            "probe_task": "company-handbook-qa", "probe_limit": 1, "mixture": ""}  # fmt: skip


def arguments(**changes) -> list:
    values = DEFAULTS | changes
    return [values[name] for name in NAMES]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"methods": []}, "at least one method"),
        ({"name": "../x"}, "Adapter name"),
        ({"targets": []}, "LoRA target"),
        ({"mixture": "dialogue-summary: 0"}, "share of 'dialogue-summary' must be above 0"),
        ({"mixture": "no-such: 1"}, "Mixture task 'no-such'"),
        ({"probe_task": ["company-handbook-qa", "no-such"]}, "Forgetting probe task 'no-such'"),
        ({"probe_task": []}, "Pick a forgetting probe task, or set the probe examples to 0"),
    ],
)
def test_bad_settings_are_clean_errors(client, changes, message):
    with pytest.raises(Exception, match=message):
        client.predict(*arguments(**changes), api_name="/finetune_train")


def test_busy_stop_and_resume_on_the_tiny_model(served_app, tiny_llama_dir):
    first, second = Client(served_app, verbose=False), Client(served_app, verbose=False)
    for client in (first, second):
        client.predict(str(tiny_llama_dir), api_name="/load_model")
    settings = {"name": "tiny-resume", "methods": ["full"], "max_length": 64, "steps": 2000, "eval_limit": 1,
                "probe_limit": 0, "lr_full": 1e-3}  # fmt: skip
    job = first.submit(*arguments(**settings), api_name="/finetune_train")
    deadline = time.time() + 60
    while not any("Training" in str(update[0]) for update in job.outputs()) and time.time() < deadline:
        time.sleep(0.2)
    with pytest.raises(Exception, match="Busy: a fine-tuning job is already running"):
        second.predict(*arguments(**settings), api_name="/finetune_train")
    pressed = time.time()
    first.predict(api_name="/finetune_stop")
    status, _, costs, *_ = job.result(timeout=60)
    assert time.time() - pressed < 5, "Stop took longer than 5 s"
    assert "Stopped during full" in status and "Resume" in status
    (cost,) = table_rows(costs)
    done = cost["steps"]
    assert cost["stopped"] and 0 < done < 2000
    resumed = first.predict(*arguments(**settings | {"steps": done + 2}), api_name="/finetune_resume")
    status, _, costs, quality, *_ = resumed
    (cost,) = table_rows(costs)
    assert "**Done.**" in status and cost["steps"] == done + 2 and cost["asset"] == "tiny-resume-full"
    assert {row["system"] for row in table_rows(quality)} == {"base", "full"}


@pytest.mark.slow
def test_lora_and_full_three_steps_on_the_embedded_model(client):
    status, _, costs, quality, _, paired, outputs, forgetting, download, tradeoff = client.predict(
        *arguments(
            name="tab-slow", methods=["lora", "full"], probe_task=["company-handbook-qa", "arithmetic-word-problems"]
        ),
        api_name="/finetune_train",
    )
    assert "**Done.**" in status and "SmolLM2-135M" in status and "2 examples" in status
    cost = {row["method"]: row for row in table_rows(costs)}
    assert cost["lora"]["steps"] == cost["full"]["steps"] == 3
    lora, full = 460_800, 134_515_008  # SmolLM2-135M: r=8 on q_proj + v_proj in 30 layers; every weight
    assert cost["lora"]["trainable params"] == lora and cost["full"]["trainable params"] == full
    assert cost["lora"]["trainable %"] == pytest.approx(100 * lora / (full + lora), abs=6e-4)
    assert cost["full"]["trainable %"] == 100
    from modules.models import get_model

    width = get_model().dtype.itemsize  # bytes a weight: fp32 on CPU, bf16 on CUDA; LoRA's own weights are fp32
    for method, params, size in (("lora", lora, 4), ("full", full, width)):
        # AdamW: two moments per trainable weight in its dtype (its 4-byte step per tensor is < 0.01 MB)
        assert cost[method]["optimizer state (MB)"] == pytest.approx(2 * size * params / 2**20, abs=0.01), method
        # on disk: the trained tensors once (tied head included), plus a small header and config
        assert cost[method]["saved size (MB)"] == pytest.approx(size * params / 2**20, abs=0.05), method
    assert {row["system"] for row in table_rows(quality)} == {"base", "lora", "full"}
    assert {row["method"] for row in table_rows(paired)} == {"lora", "full"}
    assert table_rows(outputs)[0].keys() >= {"example_id", "reference", "base", "lora", "full"}
    probes = ("company-handbook-qa", "arithmetic-word-problems", "all probes")  # each probe, then pooled
    rows = table_rows(forgetting)
    assert [(row["method"], row["probe"]) for row in rows] == [(m, p) for p in probes for m in ("lora", "full")]
    assert [row["n"] for row in rows] == [1, 1, 1, 1, 2, 2]
    assert all(row["change"] == pytest.approx(row["after"] - row["base ROUGE-L"], abs=1e-3) for row in rows)
    assert "`company-handbook-qa` n=1 + `arithmetic-word-problems` n=1" in status
    assert download.endswith(".json") and "vs change on company-handbook-qa + arithmetic-word-problems (n=2)" in str(
        tradeoff
    )
    table, choices = client.predict(api_name="/finetune_adapters")
    assert {"tab-slow-lora", "tab-slow-full"} <= {row["name"] for row in table_rows(table)}
    info = client.predict("tab-slow-lora", api_name="/finetune_use_adapter")  # the State output stays server-side
    assert "lora 'tab-slow-lora'" in str(info)
    message, table, _ = client.predict("tab-slow-full", api_name="/finetune_delete_adapter")
    assert "Deleted adapter `tab-slow-full`" in message and "tab-slow-full" not in str(table)


def test_an_uploaded_jsonl_trains_and_its_bad_lines_are_reported(served_app, tiny_llama_dir, tmp_path):
    from gradio_client import handle_file

    client = Client(served_app, verbose=False)
    client.predict(str(tiny_llama_dir), api_name="/load_model")
    good = tmp_path / "pairs.jsonl"
    good.write_text('{"input": "#Person1#: Hi.", "reference": "A greeting."}\n{"input": "no reference"}\n')
    settings = {"name": "tiny-jsonl", "methods": ["lora"], "max_length": 64, "steps": 1, "eval_limit": 1,
                "probe_limit": 0, "jsonl": handle_file(str(good))}  # fmt: skip
    status, *_ = client.predict(*arguments(**settings), api_name="/finetune_train")
    assert "**Done.**" in status and "JSONL line 2: missing field 'reference'" in status
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    with pytest.raises(Exception, match="bad.jsonl has no usable pairs. line 1: not valid JSON"):
        client.predict(*arguments(**settings | {"jsonl": handle_file(str(bad))}), api_name="/finetune_train")


def test_the_tradeoff_chart_puts_each_methods_paired_gain_against_its_probe_change():
    import pandas as pd

    from evals import comparison
    from evals.runner import Run
    from modules.ui import charts

    def run(task, values):  # {system: per-example rougeL}
        rows = [{"system": s, "example_id": f"e{i}", "rougeL": v} for s, vs in values.items() for i, v in enumerate(vs)]
        return Run(1, task, "test", 0, [], pd.DataFrame(rows), pd.DataFrame(), "complete", {})

    base = [0.2, 0.3, 0.25, 0.1, 0.4, 0.3, 0.2, 0.35, 0.3, 0.25, 0.2, 0.3]
    quality = run("target", {"base": base, "lora": [v + 0.1 for v in base], "full": [v + 0.2 for v in base]})
    probe = run("probe", {"base": base, "lora": base, "full": [v - 0.05 for v in base]})
    figure = charts.gain_vs_forgetting(quality, probe)
    points = {trace.name: (trace.x[0], trace.y[0]) for trace in figure.data}
    assert points["lora"] == pytest.approx((0.1, 0.0)) and points["full"] == pytest.approx((0.2, -0.05))
    full = comparison.paired_differences(probe.per_example, "base", "rougeL")["full"]
    (trace,) = [t for t in figure.data if t.name == "full"]
    assert trace.error_y.arrayminus[0] == pytest.approx(full["mean"] - full["ci_low"])  # the shared statistics
    assert "(n=12)" in figure.layout.title.text and "probe" in figure.layout.title.text
