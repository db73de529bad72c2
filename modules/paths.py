"""Where the lab keeps its files: LAB_HOME (default ~/.cache/llm-technique-lab), and each visitor's own part of it.

Shared by everyone: the model cache (LAB_HOME/models). A visitor's own: uploaded collections, saved adapters,
training checkpoints and stored runs, under user_home(). Single-user (the default, locally) that is LAB_HOME
itself; per-session (on a Space, or LAB_PER_SESSION=1) it is LAB_HOME/sessions/<session id>/ (0700), which no
other session can name, made by the session's first write (reads make nothing), and deleted LAB_SESSION_TTL_HOURS
after its last use. Outside any visitor's event (the page being built, a background sweep) per-session code sees
an empty folder of this process's own that no visitor can reach: the page shows only what the lab ships.
"""

import functools
import os
import re
import shutil
import tempfile
import time
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

from modules import limits

SESSION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")  # Gradio's session hashes are 11 such characters
RESERVED_IDS = frozenset({"no-session"})  # the folder older versions shared outside events: no visitor's
INVALID = "\x00invalid"  # the session of a request whose id cannot name a folder: its file access is refused
_session: ContextVar[str | None] = ContextVar("lab_session", default=None)  # set per event by the UI layer


class SessionError(ValueError):
    """A request whose session id is empty, reserved or not a plain name: it may not touch visitor files."""


def lab_home() -> Path:
    """The lab's data folder, created on first use."""
    home = limits.home()
    home.mkdir(parents=True, exist_ok=True)
    return home


def per_session() -> bool:
    """True when each browser session gets its own files: on a Hugging Face Space (SPACE_ID is set there) unless
    LAB_PER_SESSION=0, or anywhere with LAB_PER_SESSION=1."""
    return limits.per_session()


def session_ttl_s() -> float:
    return limits.session_ttl_s()


def user_home() -> Path:
    """The current visitor's folder: LAB_HOME single-user, LAB_HOME/sessions/<id> per session (not made here:
    writers call make_private). Outside any event it is this process's own empty folder, never a visitor's."""
    if not per_session():
        return lab_home()
    session = _session.get()
    if session is None:
        return _no_visitor_home()
    if session == INVALID:
        raise SessionError("This request has no valid session id, so it cannot use files: reload the page.")
    folder = sessions_dir() / session
    if folder.is_dir():
        os.utime(folder)  # last use: expiry counts from here
    return folder


@functools.cache
def _no_visitor_home() -> Path:
    """Outside any visitor's event: a private temporary folder, empty at start, that no session id can name."""
    return Path(tempfile.mkdtemp(prefix="lab-no-visitor-"))


def stored_bytes() -> int:
    """Every byte the current visitor keeps (per session; LAB_HOME single-user)."""
    home = user_home()
    return sum(p.stat().st_size for p in home.rglob("*") if p.is_file()) if home.is_dir() else 0


def check_room(incoming_bytes: int, what: str) -> None:
    """Refuse a write that would take this session's files past LAB_SESSION_DISK_MB (shared deployments only: a
    single user's disk is their own)."""
    if not per_session():
        return
    limit, kept = limits.session_disk_bytes(), stored_bytes()
    if kept + incoming_bytes > limit:
        raise ValueError(
            f"{what} needs {incoming_bytes / 2**20:,.1f} MB, but this session keeps {kept / 2**20:,.1f} MB of its "
            f"{limit / 2**20:,.0f} MB: delete tasks, collections, adapters or checkpoints first."
        )


def make_private(folder: Path) -> Path:
    """Create `folder` and its missing parents as 0700 (names of session folders are the session ids, so no other
    local user may list them); the first write of a session makes its folder and sweeps expired ones."""
    missing = [f for f in (folder, *folder.parents) if not f.exists()]
    for part in reversed(missing):
        part.mkdir(mode=0o700, exist_ok=True)
    if any(part.parent == sessions_dir() for part in missing):
        sweep_expired()
    return folder


def sessions_dir() -> Path:
    return lab_home() / "sessions"


def valid_session_id(session_id) -> bool:
    """A plain name (Gradio's hashes, gradio_client's uuids) that is not reserved: it may name a visitor's folder."""
    return isinstance(session_id, str) and bool(SESSION_ID.match(session_id)) and session_id not in RESERVED_IDS


@contextmanager
def in_session(session_id: str | None):
    """Code inside uses `session_id`'s files (the UI layer wraps each event in this). An id that is empty, reserved
    or not a plain name is not rewritten into another (two ids must never share a folder): its file access fails."""
    if session_id is not None and not valid_session_id(session_id):
        session_id = INVALID
    token = _session.set(session_id)
    try:
        yield
    finally:
        _session.reset(token)


def current_session() -> str | None:
    if not per_session():
        return None
    if _session.get() == INVALID:
        raise SessionError("This request has no valid session id: reload the page.")
    return _session.get()


def sweep_expired(now: float | None = None) -> list[str]:
    """Delete session folders unused for longer than the TTL; returns their ids."""
    now, removed = now or time.time(), []
    folder = sessions_dir()
    for session in sorted(folder.iterdir()) if folder.is_dir() else []:
        expired = session.is_dir() and now - session.stat().st_mtime > session_ttl_s()
        if expired or session.name in RESERVED_IDS:  # 'no-session' was everyone's (older versions): it goes at once
            shutil.rmtree(session, ignore_errors=True)
            removed.append(session.name)
    return removed
