"""The real embedded model end to end through the CLI, and a run killed mid-way (marked slow)."""

import json
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
import torch

from evals.runner import CHUNK
from modules.paths import lab_home
from modules.store import Store
from tests.test_cli import ROOT, cli

pytestmark = pytest.mark.slow


def test_embedded_model_label_and_cache(embedded_model):
    from modules.models import embedded

    assert embedded_model.label == "SmolLM2-135M-Instruct (fp32, dequantized from Q4_1 GGUF)"
    assert embedded.is_cached() and (embedded.cache_dir() / "model.safetensors").is_file()
    assert embedded_model.num_parameters == 134_515_008 and embedded_model.has_chat_template  # output head tied


def test_the_cache_describes_plain_fp32_weights_so_transformers_trainer_takes_them(embedded_model, tmp_path):
    """The converted cache once kept GGUF's quantization_config: every transformers Trainer (so TRL) refused it."""
    from transformers import AutoModelForCausalLM, Trainer, TrainingArguments

    from modules.models import embedded

    assert "quantization_config" not in json.loads((embedded.cache_dir() / "config.json").read_text())
    model = AutoModelForCausalLM.from_pretrained(embedded.cache_dir())
    assert getattr(model.config, "quantization_config", None) is None and model.dtype == torch.float32
    Trainer(model=model, args=TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to=[]))


def test_an_old_cache_is_migrated_in_place_keeping_everything_else(tmp_path):
    from modules.models import embedded

    config = {"model_type": "llama", "hidden_size": 576, "quantization_config": {"quant_method": "gguf"}}
    (tmp_path / "config.json").write_text(json.dumps(config))
    embedded.drop_stale_quantization(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text()) == {"model_type": "llama", "hidden_size": 576}
    before = (tmp_path / "config.json").stat().st_mtime_ns
    embedded.drop_stale_quantization(tmp_path)  # a migrated cache is left as it is
    assert (tmp_path / "config.json").stat().st_mtime_ns == before and [p.name for p in tmp_path.iterdir()] == [
        "config.json"
    ]


def test_few_shot_comparison_end_to_end(embedded_model, tmp_path, capsys):
    out = tmp_path / "run.json"
    systems = "zero-shot,one-shot,few-shot:k=3"
    code, stdout, err = cli(capsys, "compare", "--task", "dialogue-summary", "--systems", systems, "--limit", "5",
                            "--out", str(out))  # fmt: skip
    assert code == 0, err
    assert "SmolLM2-135M-Instruct (fp32, dequantized from Q4_1 GGUF)" in stdout
    payload = json.loads(out.read_text())
    rows = payload["per_example"]
    assert len(rows) == 15
    for row in rows:
        assert len(row["output"].split()) >= 3 and any(c.isalpha() for c in row["output"])  # real text
        assert 0 <= row["rougeL"] <= 1 and 0 <= row["bleu"] <= 100 and row["latency_s"] > 0
    by_system = {}
    for row in rows:
        by_system.setdefault(row["system"], []).append(row["output"])
    assert len({tuple(outputs) for outputs in by_system.values()}) == 3  # the systems really differ
    means = {a["system"]: a["mean"] for a in payload["aggregate"] if a["score"] == "rougeL"}
    assert len(set(means.values())) == 3
    stored = Store(lab_home() / "lab.db").get_run(payload["run_id"])
    assert stored["status"] == "complete" and stored["results"] == 15 and stored["limit"] == 5


def test_killed_run_leaves_earlier_runs_intact_and_is_marked_incomplete(embedded_model, tiny_llama_dir, capsys):
    code, _, err = cli(capsys, "compare", "--task", "dialogue-summary", "--systems", "zero-shot:max_new_tokens=2",
                       "--limit", "2", "--model", str(tiny_llama_dir))  # fmt: skip
    assert code == 0, err
    before = Store(lab_home() / "lab.db").list_runs(limit=10_000)  # all of them: the suite stores many runs
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "evals",
            "compare",
            "--task",
            "dialogue-summary",
            "--systems",
            "few-shot:k=3,one-shot",  # 44 outputs in 4 chunks: time to kill after the first commit
            "--limit",
            "22",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    reader = sqlite3.connect(lab_home() / "lab.db")
    newest = before[0]["id"]
    deadline = time.time() + 300
    try:
        while time.time() < deadline:  # wait until the first chunk is committed, then kill
            count = reader.execute("SELECT COUNT(*) FROM results WHERE run_id > ?", (newest,)).fetchone()[0]
            if count >= CHUNK:
                break
            assert process.poll() is None, "the run ended before it could be killed"
            time.sleep(0.2)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    store = Store(lab_home() / "lab.db")  # opening the store notices the dead run
    runs = {run["id"]: run for run in store.list_runs(limit=10_000)}
    killed = runs[max(runs)]
    assert killed["id"] > newest and killed["status"] == "incomplete"
    assert CHUNK <= killed["results"] < 44 and all(r["output"] for r in store.get_results(killed["id"]))
    for run in before:
        assert runs[run["id"]]["status"] == run["status"] and runs[run["id"]]["results"] == run["results"]
