"""The run store: one SQLite file (LAB_HOME/lab.db) of runs and per-example results, written as they arrive."""

import json
import os
import socket
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from modules.paths import make_private, user_home

# Each entry upgrades the schema by one version; PRAGMA user_version records how far a file got.
MIGRATIONS = [
    """
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        created TEXT NOT NULL,
        model_spec TEXT NOT NULL,
        model_label TEXT NOT NULL,
        systems TEXT NOT NULL,          -- JSON: [{name, technique, config, model}]
        task TEXT NOT NULL,
        split TEXT NOT NULL,
        "limit" INTEGER,
        seed INTEGER NOT NULL,
        versions TEXT NOT NULL,         -- JSON: package versions
        git_commit TEXT,
        status TEXT NOT NULL,           -- running | complete | stopped | failed | incomplete
        host TEXT,
        pid INTEGER
    );
    CREATE TABLE results (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id),
        system TEXT NOT NULL,
        example_id TEXT NOT NULL,
        output TEXT NOT NULL,
        answer TEXT,
        trace TEXT NOT NULL,            -- JSON
        scores TEXT NOT NULL,           -- JSON: {score: value}
        latency_s REAL,
        prompt_tokens INTEGER,
        new_tokens INTEGER,
        UNIQUE (run_id, system, example_id)
    );
    CREATE INDEX results_run ON results(run_id);
    """,
    # v2: keep the aggregate table and the finish time with the run, so listing runs needs no recomputation.
    """
    ALTER TABLE runs ADD COLUMN finished TEXT;
    ALTER TABLE runs ADD COLUMN aggregate TEXT;
    """,
    # v3: what each system cost (wall seconds, peak memory, weight size), measured by the runner.
    """
    ALTER TABLE runs ADD COLUMN measurements TEXT;
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)
FINAL_STATUSES = ("complete", "stopped", "failed", "incomplete")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class StoreError(RuntimeError):
    """The store file cannot be used (damaged, not a database, from a newer lab); the message is for users."""


def default_store() -> "Store":
    """The lab's own store, LAB_HOME/lab.db: what the CLI, every tab and every study write to and read from."""
    return Store(user_home() / "lab.db")


class Store:
    """A connection to one lab.db. Cheap to open; every write is its own committed transaction. Until the first
    run is written, a store whose file does not exist reads as empty and creates nothing (a visitor who only looks
    leaves no file behind)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self._check_version()
            self._open(self.path if self.path.exists() else ":memory:")
        except sqlite3.DatabaseError as error:  # not a database, damaged pages, a torn header
            raise StoreError(
                f"The run store ({self.path.name} in LAB_HOME) cannot be read ({error}); move it away to start a "
                "new one. The rest of the lab works without it."
            ) from None

    def _check_version(self) -> None:
        """A file from a newer lab is refused after a read-only look: nothing in it is changed (not even WAL)."""
        if not self.path.exists():
            return
        look = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            version = look.execute("PRAGMA user_version").fetchone()[0]
        finally:
            look.close()
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"The run store ({self.path.name} in LAB_HOME) has schema v{version}, newer than this lab "
                f"(v{SCHEMA_VERSION}): use the newer lab, or move the file away to start a new one."
            )

    def _open(self, target: Path | str) -> None:
        # check_same_thread=False: Gradio workers share the store; SQLite serialises the writes.
        self.on_disk = target != ":memory:"
        self.db = sqlite3.connect(target, timeout=30, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
        self.db.execute("PRAGMA synchronous=FULL")  # a committed result survives power loss
        self.db.execute("PRAGMA busy_timeout=30000")
        self.db.execute("PRAGMA foreign_keys=ON")
        self._migrate()
        self._mark_interrupted()

    def _create_file(self) -> None:
        """The first write: the file is made 0600 (its folder 0700) before SQLite opens it; SQLite gives its
        -wal and -shm files the same mode."""
        if self.on_disk:
            return
        self.db.close()
        make_private(self.path.parent)
        os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))  # another writer may have made it: kept
        self._check_version()
        self._open(self.path)

    def close(self) -> None:
        self.db.close()

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]  # never newer: _check_version looked first
        for number in range(version, SCHEMA_VERSION):
            with self.db:
                self.db.executescript(f"BEGIN; {MIGRATIONS[number]}; PRAGMA user_version={number + 1}; COMMIT;")

    def _mark_interrupted(self) -> None:
        """Runs left 'running' by a process that is gone were killed mid-way: mark them incomplete."""
        rows = self.db.execute("SELECT id, host, pid FROM runs WHERE status = 'running'").fetchall()
        for row in rows:
            if row["host"] != socket.gethostname() or not _alive(row["pid"] or -1):
                self.finish_run(row["id"], "incomplete")

    # ---- writes
    def create_run(self, *, model_spec, model_label, systems, task, split, limit, seed, versions, git_commit) -> int:
        self._create_file()
        with self.db:
            cursor = self.db.execute(
                'INSERT INTO runs (created, model_spec, model_label, systems, task, split, "limit", seed, versions,'
                " git_commit, status, host, pid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?)",
                (
                    _now(),
                    model_spec,
                    model_label,
                    json.dumps(systems),
                    task,
                    split,
                    limit,
                    seed,
                    json.dumps(versions),
                    git_commit,
                    socket.gethostname(),
                    os.getpid(),
                ),
            )
        return cursor.lastrowid

    def add_results(self, run_id: int, rows: list[dict]) -> None:
        """Commit one batch of per-example results (one transaction, so a batch is all or nothing)."""
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO results (run_id, system, example_id, output, answer, trace, scores,"
                " latency_s, prompt_tokens, new_tokens) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        run_id,
                        r["system"],
                        r["example_id"],
                        r["output"],
                        r.get("answer"),
                        json.dumps(r.get("trace", {})),
                        json.dumps(r.get("scores", {})),
                        r.get("latency_s"),
                        r.get("prompt_tokens"),
                        r.get("new_tokens"),
                    )
                    for r in rows
                ],
            )

    def finish_run(
        self, run_id: int, status: str, aggregate: list[dict] | None = None, measurements: dict | None = None
    ) -> None:
        if status not in FINAL_STATUSES:
            raise ValueError(f"Unknown final status '{status}'.")
        with self.db:
            self.db.execute(
                "UPDATE runs SET status = ?, finished = ?, aggregate = ?, measurements = ? WHERE id = ?",
                (status, _now(), _json_or_none(aggregate), _json_or_none(measurements), run_id),
            )

    # ---- reads
    def list_runs(self, limit: int = 50, offset: int = 0, search: str = "") -> list[dict]:
        """Newest first; `search` keeps runs whose task, systems, model or status contain it (any case)."""
        pattern = f"%{search.strip()}%"
        rows = self.db.execute(
            "SELECT runs.*, (SELECT COUNT(*) FROM results WHERE run_id = runs.id) AS results FROM runs"
            " WHERE task LIKE ? OR systems LIKE ? OR model_label LIKE ? OR model_spec LIKE ? OR status LIKE ?"
            " ORDER BY id DESC LIMIT ? OFFSET ?",
            (pattern, pattern, pattern, pattern, pattern, limit, offset),
        ).fetchall()
        return [_run_dict(row) for row in rows]

    def count_runs(self, search: str = "") -> int:
        pattern = f"%{search.strip()}%"
        return self.db.execute(
            "SELECT COUNT(*) FROM runs WHERE task LIKE ? OR systems LIKE ? OR model_label LIKE ? OR model_spec LIKE ?"
            " OR status LIKE ?",
            (pattern,) * 5,
        ).fetchone()[0]

    def get_run(self, run_id: int) -> dict | None:
        row = self.db.execute(
            "SELECT runs.*, (SELECT COUNT(*) FROM results WHERE run_id = runs.id) AS results FROM runs WHERE id = ?",
            (run_id,),
        ).fetchone()
        return _run_dict(row) if row else None

    def get_results(self, run_id: int) -> list[dict]:
        rows = self.db.execute("SELECT * FROM results WHERE run_id = ? ORDER BY id", (run_id,)).fetchall()
        return [dict(row) | {"trace": json.loads(row["trace"]), "scores": json.loads(row["scores"])} for row in rows]


def _json_or_none(value) -> str | None:
    return json.dumps(value) if value is not None else None


def _run_dict(row: sqlite3.Row) -> dict:
    run = dict(row)
    for key in ("systems", "versions", "aggregate", "measurements"):
        if run.get(key):
            run[key] = json.loads(run[key])
    return run
