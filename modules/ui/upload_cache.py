"""Gradio's upload cache on a shared deployment: files older than an hour are deleted whether or not the app ever
received them (a file sent straight to /gradio_api/upload is never handed to the app, so nothing else would),
and a file is accepted only from the session that first used it (a cached path sent by another visitor is not
theirs to read or delete)."""

import functools
import inspect
import threading
import time
from pathlib import Path

import gradio as gr
from gradio.utils import get_upload_folder

from modules.paths import current_session, per_session

MAX_AGE_S = 3600  # an upload is read within seconds of arriving; a fine-tuning Resume within the hour
SWEEP_EVERY_S = 600
FILE_COMPONENTS = (gr.File, gr.UploadButton)
_claims: dict[tuple[str, int, int], str] = {}  # (path, inode, mtime ns) -> session id that first used the file
_claims_lock = threading.Lock()


def sweep(max_age_s: float = MAX_AGE_S, now: float | None = None) -> int:
    """Delete files in Gradio's upload folder older than max_age_s (and folders left empty); returns how many."""
    now, removed = now or time.time(), 0
    root = Path(get_upload_folder())
    for path in sorted(root.rglob("*"), reverse=True) if root.is_dir() else []:  # children before their folders
        try:
            if path.is_file() and now - path.stat().st_mtime > max_age_s:
                path.unlink()
                removed += 1
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
        except OSError:  # another sweep or a handler got there first
            continue
    with _claims_lock:
        for key in [key for key in _claims if not Path(key[0]).exists()]:
            del _claims[key]
    return removed


def start_sweeping() -> None:
    """On a shared deployment: sweep now (files a previous run left) and every SWEEP_EVERY_S in the background."""
    if not per_session():
        return

    def loop():
        while True:
            sweep()
            time.sleep(SWEEP_EVERY_S)

    threading.Thread(target=loop, daemon=True, name="upload-cache-sweep").start()


def claim(value):
    """`value` (a path or a list of paths from a file input) if this session may use it: the first session to
    send a cached file owns it while it exists; another session's use is refused as if it had not been uploaded."""
    session = current_session()
    if session is None or value is None:
        return value
    for path in value if isinstance(value, list) else [value]:
        try:
            stat = Path(path).stat()
        except (OSError, TypeError, ValueError):
            continue  # the handler says the file is missing
        key = (str(Path(path).resolve()), stat.st_ino, stat.st_mtime_ns)
        with _claims_lock:
            owner = _claims.setdefault(key, session)
        if owner != session:
            raise ValueError("That file was not uploaded from this page: choose the file again to upload it.")
    return value


def claim_every_file(demo: gr.Blocks) -> None:
    """Wrap each event handler that takes a file input so its files are claimed first (run before
    errors.guard_every_event, which then shows the refusal as a message)."""
    for block_function in demo.fns.values():
        positions = [i for i, c in enumerate(block_function.inputs) if isinstance(c, FILE_COMPONENTS)]
        if block_function.fn is not None and positions:
            block_function.fn = _claiming(block_function.fn, positions)


def _claiming(fn, positions: list[int]):
    def claim_arguments(args):
        return [claim(a) if i in positions else a for i, a in enumerate(args)]

    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator(*args, **kwargs):
            yield from fn(*claim_arguments(args), **kwargs)

        return generator

    @functools.wraps(fn)
    def function(*args, **kwargs):
        return fn(*claim_arguments(args), **kwargs)

    return function
