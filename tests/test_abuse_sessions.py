"""Attacks on a shared deployment's files: task names as paths, the shared no-visitor folder, session ids, the
upload cache, quotas and file modes."""

import json
import os
import stat
import time
from pathlib import Path

import httpx
import pytest
import yaml
from gradio_client import Client, handle_file

from evals.tasks import TaskError, load_task, shipped_names, task_names, uploaded
from evals.tasks.task import TASKS_DIR, read_task
from modules import paths
from modules.retrieval.index import CollectionIndex
from modules.store import SCHEMA_VERSION, Store, StoreError
from modules.ui import upload_cache

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
    monkeypatch.setenv("LAB_PER_SESSION", "1")
    (tmp_path / "rows.csv").write_text(ROWS)
    for session in ("no-session", "-", "a.b"):
        client = Client(served_app, verbose=False)
        client.session_hash = session
        with pytest.raises(Exception, match="no valid session id"):
            client.predict(handle_file(str(tmp_path / "rows.csv")), "planted", "", 0.3, api_name="/task_upload")
    assert not (paths.sessions_dir() / "no-session").exists()


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
    json.dumps(upload_cache.sweep(max_age_s=10**9))
