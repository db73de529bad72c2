"""python -m evals: argument errors, and a full compare / runs / show cycle on the tiny model, through
evals.__main__.main(argv) in this process; one smoke test runs the real entry point."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from evals.__main__ import main

ROOT = Path(__file__).resolve().parents[1]


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `python -m evals ARGS`, run in this process."""
    capsys.readouterr()  # what earlier steps printed is not this command's
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_entry_point_runs_main_and_exits_with_its_code():
    # The `python -m evals` entry point itself needs a process; bounded by work (one lookup), not a clock.
    done = subprocess.run([sys.executable, "-m", "evals", "show", "424242"], cwd=ROOT, capture_output=True, text=True,
                          env=os.environ)  # fmt: skip
    assert done.returncode == 2 and "No run with id 424242" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--task", "nope", "--systems", "zero-shot"], "error: Unknown task 'nope'"),
        (["--task", "dialogue-summary", "--systems", "zero-shot,many-shot"], "error: Unknown system 'many-shot'"),
        (["--task", "dialogue-summary", "--systems", "few-shot:k=99"], "error: k=99 is larger than the train pool"),
        (["--task", "dialogue-summary", "--systems", "zero-shot", "--out", "x.txt"], "error: --out must end in"),
        (["--task", "dialogue-summary", "--systems", "zero-shot", "--model", "no-org/no-model"], "unreachable"),
    ],
)
def test_errors_exit_non_zero_with_one_clear_line(args, message, capsys, tiny_llama_dir):
    if "--model" not in args and "nope" not in args:
        args = [*args, "--model", str(tiny_llama_dir)]
    assert main(["compare", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_bad_limit_is_an_argument_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "--task", "dialogue-summary", "--systems", "zero-shot", "--limit", "0"])
    assert exit_info.value.code == 2 and "--limit: must be >= 1, got 0" in capsys.readouterr().err


def test_show_unknown_run(capsys):
    assert main(["show", "424242"]) == 2
    assert "No run with id 424242" in capsys.readouterr().err


def test_compare_runs_show_on_tiny_model(tiny_llama_dir, tmp_path, capsys):
    out = tmp_path / "results.json"
    systems = "zero-shot:max_new_tokens=3,few-shot:k=2:max_new_tokens=3"
    code, printed, err = cli(capsys, "compare", "--task", "dialogue-summary", "--systems", systems, "--limit", "3",
                             "--model", str(tiny_llama_dir), "--out", str(out))  # fmt: skip
    assert code == 0, err
    assert "Mean [95% interval: Wilson for 0/1 scores, Student t below 10 examples" in printed
    assert "too few examples for a verdict (n=3; needs 10)" in printed and "clearly" not in printed
    assert "few-shot (k=2, max_new_tokens=3)" in printed
    payload = json.loads(out.read_text())
    import torch

    dtype = "bfloat16" if torch.cuda.is_available() else "float32"  # default_device()
    assert len(payload["per_example"]) == 6 and payload["model"]["dtype"] == dtype
    run_id = payload["run_id"]
    csv = tmp_path / "results.csv"
    code, _, err = cli(capsys, "compare", "--task", "dialogue-summary", "--systems", "zero-shot:max_new_tokens=2",
                       "--limit", "2", "--model", str(tiny_llama_dir), "--out", str(csv))  # fmt: skip
    assert code == 0, err
    assert list(pd.read_csv(csv).columns[:3]) == ["system", "example_id", "output"]
    code, listed, _ = cli(capsys, "runs")
    assert code == 0 and str(run_id) in listed and "complete" in listed
    code, shown, _ = cli(capsys, "show", str(run_id))
    assert code == 0 and "6 results stored" in shown and "rougeL" in shown


def test_systems_lists_every_system_with_its_settings_and_help(capsys):
    from modules.techniques import SYSTEMS

    assert main(["systems"]) == 0
    printed = capsys.readouterr().out
    for name, (technique, _) in SYSTEMS.items():
        assert f"{name}  (technique: {technique})" in printed
    assert "k=3" in printed.split("few-shot  (technique: prompting)")[1].splitlines()[1]
    assert "Number of solved train examples shown before the query." in printed


def test_a_bad_setting_names_the_allowed_settings_with_their_help(capsys):
    assert main(["compare", "--task", "dialogue-summary", "--systems", "few-shot:kk=3"]) == 2
    error = capsys.readouterr().err
    assert "Bad setting 'kk=3'" in error and "k=3 (Number of solved train examples shown before the query)" in error
