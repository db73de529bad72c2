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
from modules.store import StoreError

USER_ERRORS = (ValueError, TaskError, ModelLoadError, StoreError)
MAX_MESSAGE = 400  # characters: a message never echoes unbounded input (a 1 MB name must not come back as 1 MB)
log = logging.getLogger("lab")


def shorten(message: str) -> str:
    return message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 1] + "…"


@contextmanager
def user_errors():
    try:
        yield
    except gr.Error as error:
        error.message = shorten(str(error.message))
        raise
    except USER_ERRORS as error:
        raise gr.Error(shorten(str(error))) from None


def _unexpected(error: Exception, name: str) -> gr.Error:
    log.exception("unexpected error in %s", name)
    if isinstance(error, (TypeError, OverflowError, sqlite3.Error)):
        return gr.Error("Bad input: a value is missing, not a number, or out of range. Check the fields and try again.")
    return gr.Error(f"Something went wrong ({type(error).__name__}); it is logged on the server. Nothing was lost.")


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
    """Wrap every event handler of the app with `guarded`, so a new endpoint is covered without remembering to."""
    for block_function in demo.fns.values():
        if block_function.fn is not None:
            block_function.fn = guarded(block_function.fn)
