"""The SQLite run store: durability settings, incremental results, interrupted runs, migrations."""

import json
import sqlite3

import pytest

from modules.store import MIGRATIONS, SCHEMA_VERSION, Store

RUN = dict(
    model_spec="tiny",
    model_label="tiny (fp32)",
    systems=[{"name": "zero-shot"}],
    task="dialogue-summary",
    split="test",
    limit=2,
    seed=0,
    versions={"torch": "x"},
    git_commit=None,
)


def _row(example_id: str) -> dict:
    return {"system": "zero-shot", "example_id": example_id, "output": "hi", "scores": {"rougeL": 0.5}, "trace": {}}


def test_durability_settings(tmp_path):
    store = Store(tmp_path / "lab.db")
    assert not (tmp_path / "lab.db").exists()  # nothing is written until the first run
    store.create_run(**RUN)
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert store.db.execute("PRAGMA busy_timeout").fetchone()[0] == 30000
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_results_are_visible_to_another_connection_as_they_arrive(tmp_path):
    store = Store(tmp_path / "lab.db")
    run_id = store.create_run(**RUN)
    store.add_results(run_id, [_row("a")])
    reader = sqlite3.connect(tmp_path / "lab.db")
    assert reader.execute("SELECT COUNT(*) FROM results WHERE run_id = ?", (run_id,)).fetchone()[0] == 1
    store.add_results(run_id, [_row("b")])
    store.finish_run(run_id, "complete", [{"system": "zero-shot", "score": "rougeL", "mean": 0.5}])
    run = store.get_run(run_id)
    assert run["status"] == "complete" and run["results"] == 2 and run["aggregate"][0]["mean"] == 0.5
    assert [r["scores"]["rougeL"] for r in store.get_results(run_id)] == [0.5, 0.5]
    assert store.list_runs()[0]["id"] == run_id


def test_run_left_running_by_a_dead_process_is_marked_incomplete(tmp_path):
    store = Store(tmp_path / "lab.db")
    run_id = store.create_run(**RUN)
    store.add_results(run_id, [_row("a")])
    with store.db:
        store.db.execute("UPDATE runs SET pid = 999999999 WHERE id = ?", (run_id,))  # a pid that cannot exist
    reopened = Store(tmp_path / "lab.db")
    assert reopened.get_run(run_id)["status"] == "incomplete" and reopened.get_run(run_id)["results"] == 1
    live = reopened.create_run(**RUN)  # this process is alive: its run stays running
    assert Store(tmp_path / "lab.db").get_run(live)["status"] == "running"


def test_migrates_a_version_1_file_keeping_its_data(tmp_path):
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(MIGRATIONS[0] + "; PRAGMA user_version=1;")
    old.execute(
        "INSERT INTO runs (created, model_spec, model_label, systems, task, split, seed, versions, status)"
        " VALUES ('2026-01-01', 's', 'l', ?, 't', 'test', 0, '{}', 'complete')",
        (json.dumps([{"name": "zero-shot"}]),),
    )
    old.commit()
    old.close()
    store = Store(path)
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    run = store.get_run(1)
    assert run["task"] == "t" and run["aggregate"] is None and "finished" in run


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "future.db"
    sqlite3.connect(path).execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(RuntimeError, match="newer than this lab"):
        Store(path)


def test_unknown_final_status_is_refused(tmp_path):
    store = Store(tmp_path / "lab.db")
    with pytest.raises(ValueError):
        store.finish_run(store.create_run(**RUN), "done-ish")
