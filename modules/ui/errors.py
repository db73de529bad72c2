"""Turn the lab's own user-facing errors into gr.Error, so the page and the API show the message, not a trace."""

from contextlib import contextmanager

import gradio as gr

from evals.tasks import TaskError
from modules.models import ModelLoadError

USER_ERRORS = (ValueError, TaskError, ModelLoadError)


@contextmanager
def user_errors():
    try:
        yield
    except gr.Error:
        raise
    except USER_ERRORS as error:
        raise gr.Error(str(error)) from None
