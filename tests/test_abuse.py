"""The app probed as an attacker or a careless visitor would: every endpoint with bad values (generated from the
API description, so a new endpoint is covered without a new test), server paths, uploads, the store, CSV cells."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest
from gradio_client import Client, handle_file

from modules.exports import write_csv
from modules.paths import lab_home
from tests.test_cli import ROOT

# Bad values per component; round r sends the r-th of each (cycling) to every parameter at once, so each call
# fails at its first check and no call does real work.
BAD = {
    "Textbox": ["x" * 1_000_000, "../../../../etc/passwd", "", "\x00\ud800"[:1]],
    "Number": ["abc", "NaN", 1e30, None],  # (a float NaN cannot be sent: gradio_client refuses non-JSON floats)
    "Slider": ["NaN", "abc", -1e30, None],
    "Dropdown": ["nope" * 50, None, "../../etc", "x" * 100_000],
    "Radio": ["nope", None],
    "Checkbox": [None, "abc"],
    "Checkboxgroup": [["nope"], None, "abc"],
    "File": [None],
}
ROUNDS = 4
PATH_SHAPES = re.compile(r"/tmp/|/root/|/home/|site-packages|Traceback|File \"")


def endpoints(client) -> dict:
    return client.view_api(return_format="dict", print_info=False)["named_endpoints"]


def message_of(error: Exception) -> str:
    return str(getattr(error, "message", None) or error)


def leaks(text: str) -> list[str]:
    """Server paths or internals in a reply: LAB_HOME, temp or home folders, Python tracebacks."""
    found = PATH_SHAPES.findall(text)
    if str(lab_home()) in text:
        found.append("LAB_HOME")
    return found


def test_every_endpoint_answers_bad_values_with_a_short_clear_message(client):
    bare, long_replies, leaked, calls = [], [], [], 0
    for name, endpoint in endpoints(client).items():
        components = [p["component"] for p in endpoint["parameters"]]
        if not components:
            continue
        for round_ in range(ROUNDS):
            values = [BAD.get(c, [None])[round_ % len(BAD.get(c, [None]))] for c in components]
            calls += 1
            try:
                reply = str(client.predict(*values, api_name=name))
            except Exception as error:  # the app's refusal: it must say what is wrong
                text = message_of(error)
                if not text or text in ("None", "null") or "has not enabled verbose error reporting" in text:
                    bare.append(f"{name} round {round_}")
                if len(text) > 1000:
                    long_replies.append(f"{name} round {round_}: {len(text)} characters")
                leaked += [f"{name} round {round_}: {hit}" for hit in leaks(text)]
                continue
            leaked += [f"{name} round {round_} (reply): {hit}" for hit in leaks(reply) if hit != "/tmp/"]
    assert calls >= 60, calls
    assert not bare, bare
    assert not long_replies, long_replies
    assert not leaked, leaked


@pytest.mark.parametrize(
    ("endpoint", "arguments", "message"),
    [
        ("/run_aggregate", [1e30], "whole number from 1"),
        ("/run_aggregate", ["abc"], "whole number from 1|number"),
        ("/load_model", ["m" * 1_000_000], "at most 300 characters"),
        ("/icl_run_task", ["dialogue-summary", 1e30, 3, "fixed", 0, 96, "greedy", 0.7, 0.9],
         "maximum value 22|Limit must be"),
        ("/reasoning_run", ["arithmetic-word-problems", "awp-081", "q" * 1_000_000, "", 2, 3, 0.7, 0],
         "limit is 2,000"),
        ("/quant_side_by_side", [["int8"], "mlp", "p" * 1_000_000, 64], "limit is 4,000"),
        ("/rag_delete_collection", ["never-made"], "No collection named 'never-made'"),
    ],
)  # fmt: skip
def test_named_bad_inputs_get_messages_that_say_what_is_allowed(client, endpoint, arguments, message):
    started = time.perf_counter()
    with pytest.raises(Exception, match=message) as error:
        client.predict(*arguments, api_name=endpoint)
    assert len(message_of(error.value)) < 500 and time.perf_counter() - started < 30


def test_a_model_error_never_tells_whether_a_server_path_exists(client, tmp_path):
    (tmp_path / "not-a-model").mkdir()
    replies = []
    for spec in (str(tmp_path / "not-a-model"), str(tmp_path / "no-such-folder")):
        with pytest.raises(Exception) as error:
            client.predict(spec, api_name="/load_model")
        replies.append(message_of(error.value).replace(spec[:100], "<spec>"))
    assert replies[0] == replies[1] and "not a model folder or Hugging Face id" in replies[0]


def test_another_session_never_sees_a_server_path_of_an_upload(served_app, tiny_llama_dir, tmp_path):
    from tests.test_finetune_tab import arguments

    owner = Client(served_app, verbose=False)
    owner.predict(str(tiny_llama_dir), api_name="/load_model")
    record = tmp_path / "customers.jsonl"
    record.write_text('{"input": "#Person1#: My card is 4111-1111.", "reference": "A card number."}\n')
    settings = {"name": "abuse-upload", "methods": ["lora"], "max_length": 64, "steps": 1, "eval_limit": 1,
                "probe_limit": 0, "jsonl": handle_file(str(record))}  # fmt: skip
    status, *rest = owner.predict(*arguments(**settings), api_name="/finetune_train")
    assert "**Done.**" in status
    stranger = Client(served_app, verbose=False)
    table, _ = stranger.predict(api_name="/finetune_adapters")
    (row,) = [dict(zip(table["headers"], r)) for r in table["data"] if r[0] == "abuse-upload-lora"]
    assert row["data"] == "uploaded customers.jsonl" and len(row["data hash"]) >= 16
    shown = str(table).replace(str(tiny_llama_dir), "<the base model folder this session loaded>")
    assert not leaks(shown) and os.environ["GRADIO_TEMP_DIR"] not in shown
    with pytest.raises(Exception, match="No saved adapter named") as error:
        stranger.predict("abuse-upload-lora-x", api_name="/finetune_delete_adapter")
    assert not leaks(message_of(error.value))


def gradio_cache_files(names: set[str]) -> list[Path]:
    return [p for p in Path(os.environ["GRADIO_TEMP_DIR"]).rglob("*") if p.is_file() and p.name in names]


def test_uploads_leave_nothing_in_gradio_cache_and_oversized_ones_are_refused_first(client, tmp_path):
    import app

    (tmp_path / "virus.exe").write_bytes(b"MZ\x90\x00" * 100)
    (tmp_path / "blank.txt").write_bytes(b"")
    (tmp_path / "ok-doc.md").write_text("The rooftop garden opens at noon.")
    report, _ = client.predict("abuse-docs", [handle_file(str(p)) for p in sorted(tmp_path.iterdir())],
                               api_name="/rag_upload")  # fmt: skip
    assert "rejected `virus.exe`" in report and "rejected `blank.txt`" in report and "stored `ok-doc.md`" in report
    assert gradio_cache_files({"virus.exe", "blank.txt", "ok-doc.md"}) == []
    huge = tmp_path / "huge.txt"
    with huge.open("wb") as out:
        out.truncate(app.max_upload_bytes() + 1)
    with pytest.raises(Exception, match="exceeds the maximum file size"):
        client.predict("abuse-docs", [handle_file(str(huge))], api_name="/rag_upload")
    assert gradio_cache_files({"huge.txt"}) == []


def test_a_damaged_store_leaves_the_app_and_the_cli_working(tmp_path):
    (tmp_path / "lab.db").write_bytes(b"this is not a database" * 100)
    environment = os.environ | {"LAB_HOME": str(tmp_path)}
    code = "import app; from modules.ui.runs import store_status, initial_runs; print(store_status()); initial_runs()"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=environment,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "The run store (lab.db in LAB_HOME) cannot be read" in done.stdout and str(tmp_path) not in done.stdout
    cli = subprocess.run([sys.executable, "-m", "evals", "runs"], cwd=ROOT, capture_output=True, text=True,
                         env=environment, timeout=300)  # fmt: skip
    assert cli.returncode == 2 and "cannot be read" in cli.stderr and "Traceback" not in cli.stderr


def test_csv_cells_never_run_as_formulas(tmp_path):
    table = pd.DataFrame({"output": ['=HYPERLINK("http://x","click")', "+1+2", "-3", "@SUM(A1)", "\tx", "plain"],
                          "score": [0.5, -1.0, 2.0, 0.0, 1.0, 3.0]})  # fmt: skip
    write_csv(table, tmp_path / "out.csv")
    back = pd.read_csv(tmp_path / "out.csv", keep_default_na=False)
    assert all(not cell.startswith(("=", "+", "-", "@", "\t")) for cell in back.output)
    assert back.output[0] == '\'=HYPERLINK("http://x","click")' and back.output[5] == "plain"
    assert list(back.score) == [0.5, -1.0, 2.0, 0.0, 1.0, 3.0]  # numbers stay numbers


@pytest.mark.slow
def test_specs_that_differ_only_in_spacing_share_one_variant(embedded_model):
    from modules.models import get_model, loaded_specs

    first = get_model("smollm2-135m+quant:bf16")
    rss = psutil.Process().memory_info().rss
    for spaces in range(1, 11):
        assert get_model("smollm2-135m" + " " * spaces + "+quant:" + " " * (spaces % 3) + "bf16") is first
    assert psutil.Process().memory_info().rss - rss < 50 * 2**20
    assert sum("bf16" in spec for spec in loaded_specs()) == 1
