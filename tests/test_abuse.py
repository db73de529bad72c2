"""The app probed as an attacker or a careless visitor would: every endpoint with bad values (generated from the
API description, so a new endpoint is covered without a new test), server paths, uploads, the store, CSV cells; and
the attacks on a shared deployment (Hardening 2): files, keys, Stop, memory, messages."""

import json
import logging
import os
import re
import shutil
import stat
import subprocess
import sys
import threading
import time
import uuid
import weakref
from base64 import b64encode
from collections import OrderedDict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pandas as pd
import psutil
import pytest
import yaml
from gradio_client import Client, handle_file
from gradio_client.utils import Status

from evals.__main__ import main as cli_main
from evals.runner import System, compare
from evals.tasks import TaskError, load_task, shipped_names, task_names, uploaded
from evals.tasks.task import TASKS_DIR, read_task
from modules import paths
from modules.exports import write_csv
from modules.models import GenerationParams, get_model, interrupt
from modules.paths import lab_home
from modules.redaction import redact, url_without_credentials
from modules.retrieval.index import CollectionIndex
from modules.store import SCHEMA_VERSION, Store, StoreError, default_store
from modules.techniques import parse_system, prompting
from modules.training import checkpoint, finetune, trainer
from modules.ui import session_ids, upload_cache
from tests.test_cli import ROOT
from tests.test_finetune import rows_for, run_training

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


def test_a_damaged_store_leaves_the_app_and_the_cli_working(tmp_path, monkeypatch, capsys):
    (tmp_path / "lab.db").write_bytes(b"this is not a database" * 100)
    environment = os.environ | {"LAB_HOME": str(tmp_path)}
    code = "import app; from modules.ui.runs import store_status, initial_runs; print(store_status()); initial_runs()"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, env=environment,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "The run store (lab.db in LAB_HOME) cannot be read" in done.stdout and str(tmp_path) not in done.stdout
    monkeypatch.setenv("LAB_HOME", str(tmp_path))
    capsys.readouterr()
    assert cli_main(["runs"]) == 2
    err = capsys.readouterr().err
    assert "cannot be read" in err and "Traceback" not in err


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


# ---- Files on a shared deployment (Hardening 2, items 1, 2, 7): task names as paths, the shared no-visitor
# folder, session ids, the upload cache, quotas, file modes.

ROWS = "input,reference\n" + "".join(f"the cat sat {n},a cat {n}\n" for n in range(6))


def raw_call(url: str, api_name: str, data: list) -> str:
    """An API call as plain HTTP (its own new session); returns the event stream's text."""
    event = httpx.post(f"{url}gradio_api/call/{api_name}", json={"data": data}).json()["event_id"]
    return httpx.get(f"{url}gradio_api/call/{api_name}/{event}", timeout=120).text


@pytest.fixture()
def shared(tmp_path, monkeypatch):
    """A per-session deployment with its own LAB_HOME."""
    monkeypatch.setenv("LAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LAB_PER_SESSION", "1")
    return tmp_path / "home"


def add_task_as(session: str, name: str, folder: Path) -> Path:
    source = folder / f"{name}.csv"
    source.write_text(ROWS)
    with paths.in_session(session):
        uploaded.add_task(name, source)
        return uploaded.task_dir(name)


@pytest.mark.parametrize(
    "name",
    ["../tasks/dialogue-summary", str(TASKS_DIR / "dialogue-summary"), "dialogue-summary.yaml", "/etc/passwd",
     "./dialogue-summary", "dialogue-summary/", "x" * 1_000_000, None, 3],
)  # fmt: skip
def test_a_task_name_is_a_name_never_a_path(name):
    with pytest.raises(TaskError, match="Unknown task") as error:
        load_task(name)
    assert len(str(error.value)) < 600


def test_another_sessions_task_cannot_be_loaded_by_a_path(shared, tmp_path):
    folder = add_task_as("alice", "alices-rows", tmp_path)
    with paths.in_session("bob"):
        for name in ("../sessions/alice/tasks/alices-rows/task", str(folder / "task"), str(folder)):
            with pytest.raises(TaskError, match="Unknown task"):
                load_task(name)
        assert "alices-rows" not in task_names()
    with paths.in_session("alice"):
        assert load_task("alices-rows").name == "alices-rows"


@pytest.mark.parametrize(
    ("field", "value"),
    [("data", "/etc/hostname"), ("data", "../../../etc/hostname"), ("documents", "/etc"),
     ("attack_documents", "../../modules"), ("documents", "data/../../..")],
)  # fmt: skip
def test_a_tasks_data_and_documents_come_only_from_its_own_folder(tmp_path, field, value):
    spec = yaml.safe_load((TASKS_DIR / "company-handbook-qa.yaml").read_text())
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "rows.jsonl").write_text((TASKS_DIR / spec["data"]).read_text())
    spec["data"] = "data/rows.jsonl"
    spec.pop("documents")
    spec[field] = value
    (tmp_path / "planted.yaml").write_text(yaml.safe_dump(spec))
    with pytest.raises(TaskError, match="inside the task's own folder"):
        read_task("company-handbook-qa", tmp_path / "planted.yaml")


def test_a_spec_that_names_another_task_is_refused(tmp_path):
    spec = yaml.safe_load((TASKS_DIR / "dialogue-summary.yaml").read_text())
    spec["name"] = "../../escape"
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "dialogue-summary.jsonl").write_text("")
    (tmp_path / "t.yaml").write_text(yaml.safe_dump(spec))
    with pytest.raises(TaskError, match="'name' is 'dialogue-summary'"):
        read_task("dialogue-summary", tmp_path / "t.yaml")


@pytest.mark.parametrize("name", ["../index", "_task-../../x", "/tmp/x", "", "a/b"])
def test_an_index_is_never_named_by_a_path(name):
    with pytest.raises(ValueError, match="not a path|collection"):
        CollectionIndex(name)


def test_the_page_is_built_from_shipped_tasks_only(shared, tmp_path):
    """Outside a visitor's event (the page being built) nothing a visitor wrote is listed, even in the folder older
    versions shared ('no-session'), and that folder is removed at start-up."""
    planted = add_task_as("planter", "planted", tmp_path)
    (shared / "sessions" / "planter").rename(shared / "sessions" / "no-session")
    assert task_names() == shipped_names()
    assert not list(paths.user_home().iterdir())  # this process's own empty folder
    assert not paths.user_home().is_relative_to(shared)
    assert "no-session" in paths.sweep_expired() and not (shared / "sessions" / "no-session").exists()
    assert not planted.exists()


@pytest.mark.parametrize("session", ["", "no-session", "../x", "a b", "-x", "x" * 65, "é"])
def test_reserved_empty_or_odd_session_ids_touch_no_files(shared, session):
    with paths.in_session(session), pytest.raises(paths.SessionError, match="reload the page"):
        paths.user_home()
    assert not (shared / "sessions").exists()


def test_an_odd_session_id_gets_a_clear_refusal_from_the_server(served_app, monkeypatch, tmp_path):
    """Refused before Gradio sees it (Gradio itself answered an empty id with HTTP 500); a normal id still works."""
    monkeypatch.setenv("LAB_PER_SESSION", "1")
    (tmp_path / "rows.csv").write_text(ROWS)
    with (tmp_path / "rows.csv").open("rb") as handle:
        (cached,) = httpx.post(f"{served_app}gradio_api/upload", files={"files": handle}).json()
    payload = {"path": cached, "meta": {"_type": "gradio.FileData"}, "orig_name": "rows.csv"}
    for session in ("", "no-session", "-", "a.b", "../x", 7):
        reply = httpx.post(f"{served_app}gradio_api/queue/join", json={
            "data": [payload, "planted", "", 0.3], "fn_index": None, "trigger_id": None, "session_hash": session,
            "event_data": None, "api_name": "/task_upload"})  # fmt: skip
        assert reply.status_code == 400 and reply.json()["detail"] == session_ids.REFUSAL, (session, reply.text)
    assert not (paths.sessions_dir() / "no-session").exists()
    assert Client(served_app, verbose=False).predict("dialogue-summary", api_name="/icl_examples")


def test_reading_creates_no_session_folder(shared, served_app, monkeypatch):
    monkeypatch.setenv("LAB_PER_SESSION", "1")
    before = set(paths.sessions_dir().iterdir()) if paths.sessions_dir().is_dir() else set()
    client = Client(served_app, verbose=False)
    client.predict(api_name="/list_runs")
    client.predict("dialogue-summary", api_name="/icl_examples")
    after = set(paths.sessions_dir().iterdir()) if paths.sessions_dir().is_dir() else set()
    assert after == before


def test_session_folders_and_the_store_are_private(shared):
    with paths.in_session("alice"):
        store = Store(paths.user_home() / "lab.db")
        assert not paths.user_home().exists()  # reading an absent store makes nothing
        assert store.list_runs() == [] and store.count_runs() == 0
        store.create_run(model_spec="m", model_label="m", systems=[], task="t", split="test", limit=1, seed=0,
                         versions={}, git_commit=None)  # fmt: skip
        home = paths.user_home()
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE(paths.sessions_dir().stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "lab.db").stat().st_mode) == 0o600
    assert len(Store(home / "lab.db").list_runs()) == 1


def test_a_newer_store_is_refused_without_being_changed(tmp_path):
    import sqlite3

    path = tmp_path / "lab.db"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="newer than this lab"):
        Store(path)
    assert path.read_bytes() == before and not Path(f"{path}-wal").exists()


def test_every_stored_byte_counts_against_the_session_quota(shared, tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_SESSION_DISK_MB", "0.01")  # 10 KB
    big = tmp_path / "big.csv"
    big.write_text("input,reference\n" + "".join(f"{'w' * 100} {n},r {n}\n" for n in range(200)))
    with paths.in_session("alice"), pytest.raises(ValueError, match="this session keeps 0.0 MB of its 0 MB"):
        uploaded.add_task("big", big)
    monkeypatch.setenv("LAB_SESSION_DISK_MB", "1")
    with paths.in_session("alice"):
        uploaded.add_task("big", big)
        assert paths.stored_bytes() > 20_000
        monkeypatch.setenv("LAB_SESSION_DISK_MB", "0.03")
        with pytest.raises(ValueError, match="delete tasks"):
            uploaded.add_task("big2", big)


def test_old_cached_uploads_are_swept_whether_used_or_not(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "cache"))
    old, new = tmp_path / "cache" / "abc" / "old.txt", tmp_path / "cache" / "def" / "new.txt"
    for path in (old, new):
        path.parent.mkdir(parents=True)
        path.write_text("x")
    os.utime(old, (time.time() - 2 * upload_cache.MAX_AGE_S,) * 2)
    assert upload_cache.sweep() == 1
    assert not old.exists() and not old.parent.exists() and new.exists()


def test_a_cached_upload_is_only_used_by_the_session_that_sent_it_first(served_app, tmp_path, monkeypatch):
    """Bob sends the cache path of Alice's upload to /task_upload: refused, and Alice's file stays hers."""
    monkeypatch.setenv("LAB_PER_SESSION", "1")
    (tmp_path / "rows.csv").write_text(ROWS)
    with (tmp_path / "rows.csv").open("rb") as handle:
        (cached,) = httpx.post(f"{served_app}gradio_api/upload", files={"files": handle}).json()
    alice, bob = Client(served_app, verbose=False), Client(served_app, verbose=False)
    for _ in range(100):  # Gradio may move the file into place in a background task after answering
        if Path(cached).exists():
            break
        time.sleep(0.1)
    with paths.in_session(alice.session_hash):
        upload_cache.claim(cached)  # as her page's event does when she uses it
    payload = {"path": cached, "meta": {"_type": "gradio.FileData"}, "orig_name": "rows.csv"}
    # Sent as raw JSON: gradio_client would upload a file it can read again (a new file, no longer Alice's).
    assert "not uploaded from this page" in raw_call(served_app, "task_upload", [payload, "stolen", "", 0.3])
    assert Path(cached).exists()
    with paths.in_session(bob.session_hash):
        assert "stolen" not in uploaded.list_tasks()
    report, _ = alice.predict(payload, "mine", "", 0.3, api_name="/task_upload")
    assert "Added task `mine`" in report


def test_the_claim_registry_forgets_files_that_are_gone(tmp_path, shared):
    path = tmp_path / "f.txt"
    path.write_text("x")
    with paths.in_session("alice"):
        upload_cache.claim(str(path))
    path.unlink()
    path.write_text("y")  # a new upload of the same name: a new file, free to claim
    with paths.in_session("bob"):
        assert upload_cache.claim([str(path)]) == [str(path)]
    path.unlink()
    upload_cache.sweep(max_age_s=10**9)  # deletes nothing here, but drops the claims of files that are gone
    assert not [key for key in upload_cache._claims if key[0] == str(path.resolve())]


# ---- The server key and URL credentials (Hardening 2, item 3).

KEY = "lab-echo-key-5b7d2e9f41"  # not sk-shaped: only the configured-key rule can catch it bare
USER, PASSWORD = "lab-user", "s3cret-pass"
BASIC = b64encode(f"{USER}:{PASSWORD}".encode()).decode()
SECRETS = (KEY, PASSWORD, BASIC)


class EchoServer(BaseHTTPRequestHandler):
    """An OpenAI-compatible server that lists no models, answers 'ok' to a chat request, and answers a prompt
    containing FAIL with an error echoing every request header (and the bare token, as some proxies do)."""

    def log_message(self, *args):
        pass

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._json(200, {"object": "list", "data": []})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if "FAIL" in json.dumps(body.get("messages")):
            token = (self.headers.get("Authorization") or "").split()[-1:]
            message = f"Bad request. Headers: {dict(self.headers)}\n{self.headers} token={''.join(token)}"
            return self._json(400, {"error": {"message": message}})
        if not body.get("stream"):
            return self._json(200, {"choices": [{"index": 0, "message": {"content": "ok"}}], "usage": {}})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for data in ({"choices": [{"delta": {"content": "ok"}}]}, {"choices": [], "usage": {"completion_tokens": 1}}):
            self.wfile.write(f"data: {json.dumps(data)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")


@pytest.fixture(scope="module")
def echo_port():
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _name() -> str:
    """A model name no other test has loaded (the registry keeps one model per spec)."""
    return f"echo-{uuid.uuid4().hex[:8]}"


def assert_no_secret(*texts) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in str(text), (secret, str(text)[:600])


@pytest.fixture()
def keyed(echo_port, monkeypatch):
    monkeypatch.setenv("LAB_OPENAI_BASE_URL", f"http://127.0.0.1:{echo_port}/v1")
    monkeypatch.setenv("LAB_OPENAI_API_KEY", KEY)


@pytest.fixture()
def credentialed(echo_port, monkeypatch):
    monkeypatch.setenv("LAB_OPENAI_BASE_URL", f"http://{USER}:{PASSWORD}@127.0.0.1:{echo_port}/v1")
    monkeypatch.delenv("LAB_OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def test_a_server_error_echoing_the_authorization_header_does_not_show_the_key(keyed, caplog):
    caplog.set_level(logging.DEBUG)
    model = get_model(f"openai:{_name()}")
    with pytest.raises(ValueError, match="answered 400") as raised:
        model.generate(["FAIL please"], GenerationParams(max_new_tokens=4))
    assert "Bearer ***" in str(raised.value) or "Authorization" in str(raised.value)
    assert_no_secret(raised.value, caplog.text)


def test_the_visitor_sees_no_key_when_the_server_echoes_it(keyed, client, caplog):
    """Through the served app: the model bar, then the in-context learning tab with a prompt the server refuses."""
    caplog.set_level(logging.DEBUG)
    info = client.predict(f"openai:{_name()}", api_name="/load_model")
    assert "OpenAI-compatible server" in str(info)
    with pytest.raises(Exception) as raised:  # gradio_client's AppError carries the page's message
        client.predict("dialogue-summary", "ds-045", "FAIL please", "", 2, "fixed", 0, 4, "greedy", 0.7, 0.9,
                       api_name="/icl_run")  # fmt: skip
    assert "answered 400" in str(raised.value)
    assert_no_secret(info, raised.value, caplog.text)


def test_a_logged_traceback_does_not_keep_the_key(keyed, caplog):
    """An unexpected error's traceback goes to the server log (log.exception): redacted there too."""
    from modules.ui.errors import guarded

    def handler():
        raise RuntimeError(f"upstream said Authorization: Bearer {KEY} and token {KEY}")

    caplog.set_level(logging.DEBUG)
    with pytest.raises(Exception, match="Something went wrong"):
        guarded(handler)()
    assert "RuntimeError" in caplog.text
    assert_no_secret(caplog.text, *(record.getMessage() for record in caplog.records))


def test_url_credentials_are_not_in_the_label_info_bar_errors_or_stored_run(credentialed, echo_port, caplog):
    from modules.ui import model_bar

    caplog.set_level(logging.DEBUG)
    model = get_model(f"openai:{_name()}")
    assert f"127.0.0.1:{echo_port}" in model.label
    assert_no_secret(model.label, model.info(), model_bar.describe(model))
    with pytest.raises(ValueError) as refused:
        model.generate(["FAIL please"], GenerationParams(max_new_tokens=4))
    assert f"http://127.0.0.1:{echo_port}/v1" in str(refused.value)
    name, technique, config = parse_system("zero-shot:max_new_tokens=4")
    run = compare(load_task("dialogue-summary"), [System(name, model, technique, config)], limit=1,
                  store=default_store())  # fmt: skip
    stored = default_store().get_run(run.id)
    assert stored["model_label"] == model.label
    assert_no_secret(refused.value, stored, run.to_dict(model.info()), caplog.text)


def test_url_credentials_in_a_spec_and_an_unreachable_server_stay_hidden(caplog):
    caplog.set_level(logging.DEBUG)
    spec = f"openai:{_name()}@http://{USER}:{PASSWORD}@127.0.0.1:9/v1"
    with pytest.raises(Exception, match="Cannot reach the server at http://127.0.0.1:9/v1") as raised:
        get_model(spec)
    assert_no_secret(raised.value, caplog.text)


def test_a_run_on_a_spec_naming_a_credentialed_url_stores_no_credentials(echo_port, monkeypatch, caplog):
    monkeypatch.delenv("LAB_OPENAI_API_KEY", raising=False)
    caplog.set_level(logging.DEBUG)
    model = get_model(f"openai:{_name()}@http://{USER}:{PASSWORD}@127.0.0.1:{echo_port}/v1")
    name, technique, config = parse_system("zero-shot:max_new_tokens=4")
    run = compare(load_task("dialogue-summary"), [System(name, model, technique, config)], limit=1,
                  store=default_store())  # fmt: skip
    stored = default_store().get_run(run.id)
    assert "***@127.0.0.1" in stored["model_spec"] and "HTTP Request" in caplog.text
    assert_no_secret(model.info(), stored, run.to_dict(model.info()), caplog.text)


def test_the_visitor_sees_no_url_credentials_in_the_model_bar(credentialed, client):
    info = client.predict(f"openai:{_name()}", api_name="/load_model")
    assert "OpenAI-compatible server" in str(info)
    assert_no_secret(info)


@pytest.mark.parametrize(
    ("text", "hidden", "kept"),
    [
        (f"Authorization: Bearer {KEY}", KEY, "Authorization"),
        ("{'authorization': 'Bearer abc.def-123', 'host': 'h'}", "abc.def-123", "'host': 'h'"),
        ('"Authorization": "Basic dXNlcjpwYXNz"', "dXNlcjpwYXNz", "Authorization"),
        ("x-api-key: k-998877 and more", "k-998877", "and more"),
        ("sent bearer tok_ABCDEF123 to it", "tok_ABCDEF123", "sent"),
        ("key sk-proj-AbCdEf0123456789xyz leaked", "sk-proj-AbCdEf0123456789xyz", "leaked"),
        ("see http://user:p%40ss@host:8000/v1 now", "p%40ss", "host:8000/v1 now"),
        ("https://tok@example.com/x and ftp://a:b@c", "tok@", "example.com/x"),
        (f"the key {KEY} itself", KEY, "the key"),
    ],
)
def test_redact_hides_credentials_and_keeps_the_rest(text, hidden, kept, monkeypatch):
    monkeypatch.setenv("LAB_OPENAI_API_KEY", KEY)
    out = redact(text)
    assert hidden not in out and kept in out and "***" in out


def test_redact_reads_the_keys_when_called_and_ignores_tiny_ones(monkeypatch):
    monkeypatch.delenv("LAB_OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "zq9-fresh-key")
    assert redact("got zq9-fresh-key") == "got ***"
    monkeypatch.setenv("OPENAI_API_KEY", "abc")  # under 4 characters: ordinary words stay
    assert redact("abcdef") == "abcdef"
    assert redact("nothing secret at http://host/v1, disk-cache-folder") == (
        "nothing secret at http://host/v1, disk-cache-folder"
    )


def test_url_without_credentials():
    assert url_without_credentials("http://u:p@host:8000/v1") == "http://host:8000/v1"
    assert url_without_credentials("http://host/v1") == "http://host/v1"
    assert url_without_credentials("https://a:b@c@host/v1?x=1") == "https://host/v1?x=1"


# ---- Stop in every phase (Hardening 2, item 4).

LONG_PROMPT = "the cat sat on the mat and the dog sat on the cat . " * 4  # ~48 tokens: near the 64-token context


def _stop_in_layer(layers, stop: threading.Event, at: int = 0, nth_call: int = 1):
    """Forward hooks that record each layer run and set `stop` once layer `at` has run `nth_call` times: a Stop
    pressed in the middle of a pass. Returns (the layers run after the Stop, the hook handles)."""
    after, calls = [], []

    def hook(module, args, output):
        if stop.is_set():
            after.append(module)
        elif module is layers[at]:
            calls.append(module)
            if len(calls) == nth_call:
                stop.set()

    return after, [layer.register_forward_hook(hook) for layer in layers]


def test_a_stop_during_the_prefill_ends_it_before_the_next_layer(tiny_model):
    layers = interrupt.layers(tiny_model.hf)
    assert len(layers) == 2
    stop, counted = threading.Event(), tiny_model.generated
    after, handles = _stop_in_layer(layers, stop)
    try:
        generations = tiny_model.generate([LONG_PROMPT] * 3, GenerationParams(max_new_tokens=20), stop=stop)
    finally:
        for handle in handles:
            handle.remove()
    assert after == []  # the second layer of the prompt's pass never ran, nor did any decoding step
    assert [(g.text, g.new_tokens) for g in generations] == [("", 0)] * 3
    assert tiny_model.generated == counted  # a cut prefill is not counted in the measured speed
    assert not any(layer._forward_pre_hooks for layer in layers)  # the checks are off again


def test_decoding_steps_run_without_the_layer_checks(tiny_model, monkeypatch):
    monkeypatch.setattr(tiny_model, "_eos_ids", lambda: [len(tiny_model.tokenizer) + 7])  # no row ends early
    layer = interrupt.layers(tiny_model.hf)[0]
    checks_seen = []
    handle = layer.register_forward_hook(
        lambda module, args, output: checks_seen.append(len(module._forward_pre_hooks))
    )
    try:
        (generation,) = tiny_model.generate(["the cat"], GenerationParams(max_new_tokens=5), stop=threading.Event())
    finally:
        handle.remove()
    assert generation.new_tokens == 5
    assert checks_seen == [1, 0, 0, 0, 0]  # the prompt's pass checks Stop; the 4 decoding steps carry no hook


def test_a_stop_during_the_prefill_is_a_stopped_run_whose_chunk_is_not_scored(tiny_model, tmp_path):
    stop = threading.Event()
    after, handles = _stop_in_layer(interrupt.layers(tiny_model.hf), stop)
    try:
        system = System.parse("zero-shot:max_new_tokens=50", tiny_model)
        run = compare(load_task("dialogue-summary"), [system], limit=3, store=Store(tmp_path / "lab.db"), stop=stop)
    finally:
        for handle in handles:
            handle.remove()
    assert after == []
    assert run.status == "stopped" and run.per_example.empty
    assert Store(tmp_path / "lab.db").get_run(run.id)["results"] == 0


@pytest.mark.slow
def test_a_stop_during_the_prefill_of_a_few_shot_batch_returns_within_seconds(embedded_model):
    task = load_task("dialogue-summary")
    example = task.split("test")[0]
    layers = interrupt.layers(embedded_model.hf)
    stop, pressed = threading.Event(), []
    # Stop pressed in the 5th of 30 layers of the first pass over the three prompts (0, 1 and 3 shots: the ICL tab)
    after, handles = _stop_in_layer(layers, stop, at=4)
    handles.append(layers[4].register_forward_hook(lambda *_: pressed.append(time.perf_counter())))
    try:
        outputs = prompting.run_shot_counts(embedded_model, task, example, [0, 1, 3], prompting.Config(k=3), stop=stop)
    finally:
        for handle in handles:
            handle.remove()
    returned = time.perf_counter()
    assert after == [] and [o.new_tokens for o in outputs] == [0, 0, 0]
    assert returned - pressed[0] < 2.0  # the whole pass is 15-30 s on a 2-core CPU


def test_a_training_stop_in_the_forward_ends_it_before_the_next_layer(tiny_model, tmp_path):
    net = finetune.prepare(tiny_model, finetune.Config(method="full"))
    stop = threading.Event()
    # 2 steps of 2 micro-batches: the Stop comes in the first layer of step 2's first micro-batch (layer call 5)
    after, handles = _stop_in_layer(interrupt.layers(net), stop, nth_call=3)
    try:
        result = run_training(net, tiny_model, rows_for(tiny_model), tmp_path, steps=5, stop=stop)
    finally:
        for handle in handles:
            handle.remove()
    assert after == []
    assert result.stopped and result.steps_done == 1 and len(result.losses) == 1
    assert all(p.grad is None for p in net.parameters())  # the partial step is dropped


def test_a_training_stop_in_the_backward_ends_it_before_the_next_layer(tiny_model, tmp_path):
    net = finetune.prepare(tiny_model, finetune.Config(method="full"))
    first, last = interrupt.layers(net)
    stop, backward_after = threading.Event(), []

    def press_in_backward(module, args, output):  # Stop pressed as the backward of the last layer begins
        hidden = output[0] if isinstance(output, tuple) else output
        hidden.register_hook(lambda gradient: stop.set())

    def note_first_layer_backward(module, args):  # the first layer's backward is done once its input has a gradient
        args[0].register_hook(lambda gradient: backward_after.append(stop.is_set()))

    handles = [
        last.register_forward_hook(press_in_backward),
        first.register_forward_pre_hook(note_first_layer_backward),
    ]
    try:
        result = run_training(net, tiny_model, rows_for(tiny_model), tmp_path, steps=5, stop=stop)
    finally:
        for handle in handles:
            handle.remove()
    assert backward_after == []  # the first micro-batch's backward stopped after the last layer
    assert result.stopped and result.steps_done == 0 and all(p.grad is None for p in net.parameters())


def _count_saves(monkeypatch) -> list[int]:
    saved = []
    real = checkpoint.save

    def save(folder, step, *args, **options):
        path = real(folder, step, *args, **options)
        saved.append(step if path is not None else -step)  # negative: begun, abandoned
        return path

    monkeypatch.setattr(checkpoint, "save", save)
    return saved


def test_a_stop_writes_no_large_checkpoint_and_resume_continues_from_the_last_finished_one(
    tiny_model, tmp_path, monkeypatch
):
    monkeypatch.setattr(trainer, "QUICK_SAVE_MB", 0)  # the tiny model's checkpoint counts as a full model's 1.6 GB
    saved, rows = _count_saves(monkeypatch), rows_for(tiny_model)
    net = finetune.prepare(tiny_model, finetune.Config(method="full"))
    stop = threading.Event()
    result = trainer.train(net, rows, steps=6, batch_size=4, micro_batch=2, lr=1e-3, seed=0, pad_id=0,
                           folder=tmp_path, checkpoint_every=2, stop=stop,
                           on_step=lambda event: event.done == 3 and stop.set())  # fmt: skip
    assert result.stopped and result.steps_done == 3
    assert saved == [2] and result.checkpoint.name == "checkpoint-2"  # step 3 is not written on Stop
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint-2"]
    resumed = trainer.train(finetune.prepare(tiny_model, finetune.Config(method="full")), rows, steps=4, batch_size=4,
                            micro_batch=2, lr=1e-3, seed=0, pad_id=0, folder=tmp_path, checkpoint_every=2,
                            resume=True)  # fmt: skip
    assert resumed.resumed_from == 2 and resumed.steps_done == 4 and not resumed.stopped


def test_a_stop_still_writes_a_small_checkpoint(tiny_model, tmp_path, monkeypatch):
    saved = _count_saves(monkeypatch)
    net = finetune.prepare(tiny_model, finetune.Config(method="lora"))
    assert trainer.checkpoint_mb(net) < trainer.QUICK_SAVE_MB
    stop = threading.Event()
    result = run_training(net, tiny_model, rows_for(tiny_model), tmp_path, steps=6, stop=stop,
                          on_step=lambda event: event.done == 3 and stop.set())  # fmt: skip
    assert result.stopped and saved == [3] and result.checkpoint.name == "checkpoint-3"


def test_a_stop_during_a_large_periodic_save_abandons_it(tiny_model, tmp_path, monkeypatch):
    monkeypatch.setattr(trainer, "QUICK_SAVE_MB", 0)
    saved, stop, writes = _count_saves(monkeypatch), threading.Event(), []
    real_save_file = checkpoint.save_file

    def save_file(tensors, path):  # Stop pressed while the 2nd checkpoint's weights are written
        real_save_file(tensors, path)
        writes.append(path)
        if len(writes) == 2:
            stop.set()

    monkeypatch.setattr(checkpoint, "save_file", save_file)
    net = finetune.prepare(tiny_model, finetune.Config(method="full"))
    result = trainer.train(net, rows_for(tiny_model), steps=8, batch_size=4, micro_batch=2, lr=1e-3, seed=0, pad_id=0,
                           folder=tmp_path, checkpoint_every=2, stop=stop)  # fmt: skip
    assert result.stopped and result.steps_done == 4 and saved == [2, -4]
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint-2"] and result.checkpoint.name == "checkpoint-2"


def test_an_api_clients_stop_cancels_its_own_queued_job(served_app, tiny_llama_dir, monkeypatch):
    holder, waiter = Client(served_app, verbose=False), Client(served_app, verbose=False)
    for client in (holder, waiter):
        client.predict(str(tiny_llama_dir), api_name="/load_model")
    entered, release, calls = threading.Event(), threading.Event(), []
    real = prompting.run_shot_counts

    def run_shot_counts(*args, **options):  # the first job holds the model until released
        calls.append(len(calls))
        entered.set()
        if len(calls) == 1:
            release.wait(60)
        return real(*args, **options)

    monkeypatch.setattr(prompting, "run_shot_counts", run_shot_counts)
    # task, example, custom input, custom reference, k, selection, seed, max new tokens, decoding, temperature, top_p
    arguments = ["dialogue-summary", "ds-045", "the cat sat on the mat", "a cat", 2, "fixed", 0, 2, "greedy", 0.7, 0.9]
    try:
        running = holder.submit(*arguments, api_name="/icl_run")
        assert entered.wait(60)
        queued = waiter.submit(*arguments, api_name="/icl_run")
        deadline = time.time() + 30
        while queued.status().code != Status.IN_QUEUE and time.time() < deadline:
            time.sleep(0.05)
        assert queued.status().code == Status.IN_QUEUE
        waiter.predict(api_name="/icl_stop")  # the waiting client's own Stop, over the API
    finally:
        release.set()
    running.result(timeout=60)
    nothing = queued.result(timeout=60)
    assert calls == [0] and all(value is None for value in nothing)  # the queued job never ran
    # and the session's next job runs: an earlier Stop does not cancel a later call
    texts = waiter.predict(*arguments, api_name="/icl_run")[:3]
    assert calls == [0, 1] and len(texts) == 3


# ---- Memory a visitor can make the server hold (Hardening 2, item 5).


@pytest.fixture()
def registry(monkeypatch):
    """The model registry, emptied for this test and put back after it (session fixtures hold models loaded there)."""
    import modules.models as registry

    monkeypatch.setattr(registry, "_loaded", OrderedDict())
    return registry


def test_a_folder_spelled_five_ways_is_one_model(registry, tiny_llama_dir, monkeypatch):
    monkeypatch.chdir(tiny_llama_dir.parent)
    name, parent = tiny_llama_dir.name, tiny_llama_dir.parent
    spellings = [f"./{name}", f"{name}/", str(tiny_llama_dir), f"{parent}//{name}", f"{parent}/./{name}/"]
    models = [registry.get_model(spelling) for spelling in spellings]
    assert all(model is models[0] for model in models) and registry.loaded_specs() == [str(tiny_llama_dir)]
    variants = {id(registry.get_model(f"{spelling} +quant:bf16")) for spelling in spellings}
    assert len(variants) == 1 and len(registry.loaded_specs()) == 2
    assert all(registry.is_loaded(spelling) for spelling in spellings)


def test_a_folder_error_echoes_the_spec_as_typed_never_its_resolved_path(registry, tmp_path, monkeypatch):
    from modules.models import ModelLoadError

    monkeypatch.chdir(tmp_path)
    (tmp_path / "not-a-model").mkdir()
    replies = []
    for base in ("./not-a-model", "./no-such-folder"):
        for spec in (base, f"{base}+quant:int8"):
            with pytest.raises(ModelLoadError) as error:
                registry.get_model(spec)
            replies.append(str(error.value).replace(base, "<spec>"))
    assert len(set(replies)) == 1 and str(tmp_path) not in replies[0], replies


def test_bases_beyond_the_limit_are_dropped_least_recently_used_first_with_their_variants(
    registry, tiny_llama_dir, tmp_path, monkeypatch
):
    folders = {}
    for name in ("shipped", "a", "b", "c"):
        folders[name] = str(shutil.copytree(tiny_llama_dir, tmp_path / name))
    monkeypatch.setattr(registry, "MAX_BASES", 2)
    monkeypatch.setattr(registry, "DEFAULT_SPEC", folders["shipped"])  # a Space's LAB_MODEL: never counted or dropped
    get, a, b, c = registry.get_model, folders["a"], folders["b"], folders["c"]
    get(folders["shipped"])
    first_a = weakref.ref(get(a))
    a_bf16 = weakref.ref(get(f"{a}+quant:bf16"))
    get(b)
    get(f"{a}+quant:bf16")  # using a variant is using its base: b is now the least recently used
    get(c)
    assert set(registry.loaded_specs()) == {folders["shipped"], a, f"{a}+quant:bf16", c}
    get(b)
    assert set(registry.loaded_specs()) == {folders["shipped"], c, b}
    assert first_a() is None and a_bf16() is None  # nothing else holds them: their memory went back


def test_free_variants_frees_them_when_the_sessions_model_is_one(registry, tiny_llama_dir):
    from modules.ui.quantize import free_variants

    base = registry.get_model(str(tiny_llama_dir))
    for name in ("bf16", "int8", "int8-mlp"):
        registry.get_model(f"{base.spec}+quant:{name}")
    message = free_variants(f"{tiny_llama_dir} + quant: int8")  # the session's model: a variant, spelled loosely
    assert message.startswith("Freed 3 variant(s): ") and "This session's model (int8) was one of them" in message
    assert registry.loaded_specs() == [base.spec]
    assert free_variants(base.spec) == "Freed 0 variant(s): none were loaded."


# Run as its own process: the RSS of a test process mixes in whatever earlier tests left. Six precision variants of
# the embedded model are built from two threads (the registry keeps 4), then all are freed.
RSS_SCRIPT = """
import json, threading
import psutil
from modules.models import get_model
from modules.studies import quantization

NAMES = ["bf16", "int8", "int8-mlp", "int8-attention", "int8-everything", "int8-all-but-down_proj"]
process = psutil.Process()
base = get_model()
for parameter in base.hf.parameters():
    parameter.sum()  # every weight page resident (they are mapped from the cached file): the base counts in "before"
peak = before = process.memory_info().rss


def load(names):
    global peak
    for name in names:
        get_model(f"{base.spec}+quant:{name}")
        peak = max(peak, process.memory_info().rss)


threads = [threading.Thread(target=load, args=(NAMES[i::2],)) for i in range(2)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
freed = quantization.free(base.spec, quantization.loaded_variants(base.spec))
print(json.dumps({"before": before, "peak": peak, "after": process.memory_info().rss, "freed": freed}))
"""


@pytest.mark.slow
def test_freeing_variants_gives_their_memory_back(embedded_model):
    """Measured here (MB, before / peak / after freeing): 1047 / 2292 / 1100, 1098 / 2397 / 1124, 1047 / 3058 / 1114;
    before this release existed (gc.collect only: glibc kept the freed weights in its per-thread arenas)
    1074 / 4280 / 2351. So after freeing: within 300 MB of before. The peak is not asserted: which 4 variants are kept
    when the last ones are built depends on the threads' order (they weigh 155-437 MB each, plus the 513 MB fp32 copy
    being converted), so it varies by ~0.8 GB from run to run."""
    # A fresh process: this one's RSS holds whatever earlier tests loaded. No wall-clock limit: the script's work is
    # bounded (six variants built, then freed), and a busy machine only makes it slower.
    done = subprocess.run([sys.executable, "-c", RSS_SCRIPT], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "LAB_MAX_VARIANTS": "4"})  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    mb = {key: round(measured[key] / 2**20) for key in ("before", "peak", "after")}
    assert mb["after"] - mb["before"] < 300, mb
    assert len(measured["freed"]) == 4, measured  # the two oldest were already dropped by the limit


# ---- Wrong-type values: one short sentence naming the field (Hardening 2, item 6).

BIG = "x" * 1_000_000
# Wrong values per component. The field under test gets one of them, the fields before it their defaults and the
# fields after it POISON (refused too), so no call gets past the checks of its inputs and none does real work.
WRONG = {
    "Number": [{"n": 1}, "y" * 5_000],
    "Slider": [{"n": 1}, [1, 2]],
    "Textbox": [[1, 2], {"t": "y" * 500}],
    "Dropdown": [BIG, {"d": 1}],
    "Radio": [BIG, [1]],
    "Checkbox": [BIG, {"c": 1}],
    "Checkboxgroup": [BIG, [BIG]],
    "File": [7, {"path": "y" * 500}],  # a number; a file without Gradio's meta (gradio_client leaves it as it is)
}
POISON = {"poison": 1}
GRADIO_INTERNALS = ("Could not preprocess", "validation error", "input_value=", "For further information visit",
                    "(type: <class", "Original error", "Cannot move")  # fmt: skip
MAX_REPLY = 400  # modules.ui.errors.MAX_MESSAGE
MAX_ECHO = 100  # characters of a sent value a reply may repeat
SERVER_LOGGERS = ("lab", "gradio", "uvicorn", "starlette", "fastapi", "asyncio", "root", "py")


def arguments(parameters: list[dict], index: int, value) -> list:
    """Defaults before the field under test, `value` in it, POISON after it."""
    defaults = [p["parameter_default"] if p["parameter_has_default"] else None for p in parameters[:index]]
    return [*defaults, value, *[POISON] * (len(parameters) - index - 1)]


def wrong_calls(client):
    """(endpoint, label of the field under test, arguments) for every parameter of every endpoint."""
    for name, endpoint in endpoints(client).items():
        for index, parameter in enumerate(endpoint["parameters"]):
            for wrong in WRONG.get(parameter["component"], [POISON]):
                yield name, parameter["label"], arguments(endpoint["parameters"], index, wrong)


def problems_of(reply: str | None, label: str) -> list[str]:
    """What is wrong with the reply to a wrong value sent to the field `label` (None: the call was accepted)."""
    if reply is None:
        return ["accepted"]
    found = [f"{len(reply)} characters"] if len(reply) >= MAX_REPLY else []
    found += [f"says {marker!r}" for marker in GRADIO_INTERNALS if marker in reply]
    found += ["echoes the value"] if any(c * (MAX_ECHO + 1) in reply for c in "xy") else []
    return found + ([] if label in reply else ["does not name the field"])


def send(client, name: str, arguments: list) -> str | None:
    """The app's refusal of the call, None if it answered."""
    try:
        client.submit(*arguments, api_name=name).result(timeout=60)
    except Exception as error:
        return message_of(error)
    return None


@pytest.fixture()
def tiny_session(client, tiny_llama_dir):
    """A session on the tiny model: a call that wrongly gets through costs seconds, not a model load."""
    client.predict(str(tiny_llama_dir), api_name="/load_model")
    return client


def test_every_field_refuses_a_wrong_type_in_one_short_sentence_that_names_it(tiny_session):
    found, calls = [], 0
    for name, label, arguments in wrong_calls(tiny_session):
        calls += 1
        reply = send(tiny_session, name, arguments)
        found += [
            f"{name} · {label[:40]}: {problem} · {(reply or '')[:160]!r}" for problem in problems_of(reply, label)
        ]
    assert 150 <= calls <= 500, calls  # grows with the app: 424 with the Compression tab
    assert not found, f"{len(found)} problems in {calls} calls:\n" + "\n".join(found[:25])


@pytest.mark.parametrize(
    ("endpoint", "values", "message"),
    [
        ("/quant_measure", [["int8"], "x" * 100, "dialogue-summary", 5], "int8 / 4-bit components: 'xxx"),
        ("/quant_measure", [["int9"], "mlp", "dialogue-summary", 5], "Compare with fp32: 'int9' is not in the list"),
        ("/icl_run_task", ["dialogue-summary", {"n": 1}, 3], "Examples \\(limit\\): expected a number from 1 to"),
        ("/icl_run_task", ["dialogue-summary", 1e30, 3], "Examples \\(limit\\): 1e\\+30 is greater than maximum value"),
        ("/rag_run_task", ["company-handbook-qa", 10, 3, "yes"], "injection defence\\): expected true or false"),
        ("/task_upload", [7], "CSV or JSONL file: expected a file \\(.csv, .jsonl\\) uploaded to this app"),
        ("/compare_run", ["zero-shot", BIG], "Task: 1,000,000 characters; the limit is 300"),
    ],
)  # fmt: skip
def test_a_refusal_says_which_field_and_what_it_takes(client, endpoint, values, message):
    parameters = endpoints(client)[endpoint]["parameters"]
    with pytest.raises(Exception, match=message) as error:
        client.predict(*values, *[POISON] * (len(parameters) - len(values)), api_name=endpoint)
    assert len(message_of(error.value)) < MAX_REPLY


def server_log_bytes(caplog) -> int:
    """What the server's loggers wrote (not the client's own: httpx, httpcore, gradio_client)."""
    server = [r for r in caplog.records if r.name.split(".")[0] in SERVER_LOGGERS]
    return sum(len(caplog.handler.format(record).encode()) for record in server)


def test_a_1_mb_value_leaves_under_2000_bytes_in_the_log(tiny_session, caplog, capfd):
    """Through the served app (stderr included: Gradio prints the traceback of an error it does not expect) and
    through an unexpected error whose message holds the whole value, as an OSError for a too-long file name does."""
    from modules.ui.errors import guarded

    caplog.set_level(logging.DEBUG)
    logged = {}
    for name, endpoint in endpoints(tiny_session).items():
        for index, parameter in enumerate(endpoint["parameters"]):
            if parameter["component"] in ("Dropdown", "Radio", "Checkbox", "Checkboxgroup", "Textbox"):
                caplog.clear()
                capfd.readouterr()
                send(tiny_session, name, arguments(endpoint["parameters"], index, BIG))
                logged[f"{name} {index}"] = server_log_bytes(caplog) + len(capfd.readouterr().err.encode())
    assert len(logged) >= 20 and max(logged.values()) < 2_000, sorted(logged.items(), key=lambda item: -item[1])[:5]

    def task_file(name):
        raise OSError(36, "File name too long", f"/lab/tasks/{name}.yaml")

    caplog.clear()
    with pytest.raises(Exception, match="Something went wrong \\(OSError\\)"):
        guarded(task_file)(BIG)
    logging.getLogger("lab").warning("embedder %r failed to load: %s", BIG, ValueError(BIG))
    assert "OSError: [Errno 36] File name too long" in caplog.text and "embedder 'xxx" in caplog.text
    assert len(caplog.text.encode()) < 2 * 2_000 and all(len(r.getMessage()) < 2_000 for r in caplog.records)
