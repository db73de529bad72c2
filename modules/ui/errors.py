"""User-facing errors: the lab's own errors become gr.Error (the page and the API show the message, not a trace),
and every other failure becomes a short, generic gr.Error, with its traceback in the server log only."""

import functools
import inspect
import logging
import sqlite3
from contextlib import contextmanager

import gradio as gr

from evals.tasks import TaskError
from modules.models import ModelLoadError
from modules.paths import in_session
from modules.redaction import redact  # importing it also hides credentials in the "lab" log's records
from modules.store import StoreError
from modules.ui.refusals import explain_refusals

USER_ERRORS = (ValueError, TaskError, ModelLoadError, StoreError)
MAX_MESSAGE = 400  # characters: a message never echoes unbounded input (a 1 MB name must not come back as 1 MB)
LOG_LINE = 1_000  # characters of a log message, and of each line of a logged traceback (an exception's message)
LOG_TRACE = 20_000  # characters of a logged traceback in all (its first and last halves)
log = logging.getLogger("lab")


def _cut(text: str, limit: int = LOG_LINE) -> str:
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters in all)"


class CappedLog(logging.Filter):
    """The log echoes at most LOG_LINE characters of a message or of a traceback's line: an input may be 1 MB, and
    an exception's message may hold all of it (a too-long file name, a value that is not a number)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        if len(message) > LOG_LINE:
            record.msg, record.args = _cut(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text and len(record.exc_text) > LOG_LINE:
            trace = "\n".join(_cut(line) for line in record.exc_text.splitlines())
            half = LOG_TRACE // 2
            record.exc_text = trace if len(trace) <= LOG_TRACE else f"{trace[:half]}\n…\n{trace[-half:]}"
        return True


log.addFilter(CappedLog())


def shorten(message: str) -> str:
    message = redact(message)  # a server's error may echo the request's Authorization header or a URL's password
    return message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 1] + "…"


@contextmanager
def user_errors():
    """The lab's own errors as gr.Error; Gradio prints no traceback for them (a refused input is no server fault,
    and a visitor's every mistake must not cost the server log a screenful)."""
    try:
        yield
    except gr.Error as error:
        error.message, error.print_exception = shorten(str(error.message)), False
        raise
    except USER_ERRORS as error:
        raise gr.Error(shorten(str(error)), print_exception=False) from None


def _unexpected(error: Exception, name: str) -> gr.Error:
    log.exception("unexpected error in %s", name)  # the real traceback, capped (CappedLog): Gradio prints none
    if isinstance(error, (TypeError, OverflowError, sqlite3.Error)):
        return gr.Error(
            "Bad input: a value is missing, not a number, or out of range. Check the fields and try again.",
            print_exception=False,
        )
    return gr.Error(
        f"Something went wrong ({type(error).__name__}); it is logged on the server. Nothing was lost.",
        print_exception=False,
    )


def browser_session() -> str | None:
    """The id Gradio gives this page's session (each browser tab, each API client), None outside an event."""
    from gradio.context import LocalContext

    request = LocalContext.request.get(None)
    return getattr(request, "session_hash", None) if request is not None else None


def guarded(fn):
    """fn (a function or a generator function, as Gradio calls it) whose unexpected exceptions become a short
    gr.Error instead of Gradio's bare `{"error": null}`; the lab's own errors keep their message. It runs in its
    browser session's files (modules/paths.py), so per-session deployments need nothing in each handler."""
    name = getattr(fn, "__name__", "handler")
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def generator(*args, **kwargs):
            session = browser_session()
            steps = fn(*args, **kwargs)
            try:
                with user_errors():
                    while True:  # Gradio may run each step in another thread: the session is set per step
                        with in_session(session):
                            try:
                                value = next(steps)
                            except StopIteration:
                                return
                        yield value
            except gr.Error:
                raise
            except Exception as error:
                raise _unexpected(error, name) from None
            finally:  # a cancelled event (Stop) closes this generator: the handler's own cleanup runs now
                with in_session(session):
                    steps.close()

        return generator

    @functools.wraps(fn)
    def function(*args, **kwargs):
        try:
            with user_errors(), in_session(browser_session()):
                return fn(*args, **kwargs)
        except gr.Error:
            raise
        except Exception as error:
            raise _unexpected(error, name) from None

    return function


def guard_every_event(demo: gr.Blocks) -> None:
    """Wrap every event handler of the app with `guarded`, so a new endpoint is covered without remembering to;
    Gradio's refusal of an input (before the handler) says which field is wrong and what it takes (refusals.py)."""
    for block_function in demo.fns.values():
        if block_function.fn is not None:
            block_function.fn = guarded(block_function.fn)
    explain_refusals(demo)
