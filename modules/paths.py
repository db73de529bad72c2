"""Where the lab keeps its files: LAB_HOME (default ~/.cache/llm-technique-lab), and each visitor's own part of it.

Shared by everyone: the model cache (LAB_HOME/models). A visitor's own: uploaded collections, saved adapters,
training checkpoints and stored runs, under user_home(). Single-user (the default, locally) that is LAB_HOME
itself; per-session (on a Space, or LAB_PER_SESSION=1) it is LAB_HOME/sessions/<session id>/, which no other
session can name, and which is deleted LAB_SESSION_TTL_HOURS after its last use.
"""

import os
import re
import shutil
import time
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_session: ContextVar[str | None] = ContextVar("lab_session", default=None)  # set per event by the UI layer


def lab_home() -> Path:
    """The lab's data folder, created on first use."""
    home = Path(os.environ.get("LAB_HOME") or Path.home() / ".cache" / "llm-technique-lab")
    home.mkdir(parents=True, exist_ok=True)
    return home


def per_session() -> bool:
    """True when each browser session gets its own files: on a Hugging Face Space (SPACE_ID is set there) unless
    LAB_PER_SESSION=0, or anywhere with LAB_PER_SESSION=1."""
    setting = os.environ.get("LAB_PER_SESSION", "").strip().lower()
    if setting in ("0", "false", "no", "off"):
        return False
    return setting in ("1", "true", "yes", "on") or bool(os.environ.get("SPACE_ID"))


def session_ttl_s() -> float:
    return float(os.environ.get("LAB_SESSION_TTL_HOURS", "24")) * 3600


def user_home() -> Path:
    """The current visitor's folder: LAB_HOME single-user, LAB_HOME/sessions/<id> per session. Per session and
    outside any session (a background sweep, the CLI) it is a folder of its own, never another visitor's."""
    if not per_session():
        return lab_home()
    folder = sessions_dir() / (_session.get() or "no-session")
    if not folder.is_dir():
        folder.mkdir(parents=True)
        sweep_expired()
    os.utime(folder)  # last use: expiry counts from here
    return folder


def sessions_dir() -> Path:
    return lab_home() / "sessions"


@contextmanager
def in_session(session_id: str | None):
    """Code inside uses `session_id`'s files (the UI layer wraps each event in this)."""
    if session_id is not None and not SESSION_ID.match(session_id):
        session_id = re.sub(r"[^A-Za-z0-9_-]", "_", session_id)[:64] or None
    token = _session.set(session_id)
    try:
        yield
    finally:
        _session.reset(token)


def current_session() -> str | None:
    return _session.get() if per_session() else None


def sweep_expired(now: float | None = None) -> list[str]:
    """Delete session folders unused for longer than the TTL; returns their ids."""
    now, removed = now or time.time(), []
    folder = sessions_dir()
    for session in sorted(folder.iterdir()) if folder.is_dir() else []:
        if session.is_dir() and now - session.stat().st_mtime > session_ttl_s():
            shutil.rmtree(session, ignore_errors=True)
            removed.append(session.name)
    return removed
