"""Stop acts everywhere: inside a generation (within one decoding step), in the runner (partial outputs are not
scored), and on a job that still waits in the queue (it never starts)."""

import itertools
import threading
from types import SimpleNamespace

import pytest

from evals.runner import System, compare
from evals.tasks import load_task
from modules.store import Store
from modules.ui import stop_flag
from modules.ui.stop_flag import StopFlag, begin, press, request


@pytest.fixture()
def ticking_clock(monkeypatch):
    """The flag's clock advances one tick per reading: the order of clicks is what the test says, not a sleep."""
    ticks = itertools.count(1.0)
    monkeypatch.setattr(stop_flag, "time", SimpleNamespace(monotonic=lambda: next(ticks)))


def test_stop_pressed_while_queued_cancels_the_job(ticking_clock):
    flag = StopFlag()
    request(flag)  # the Run click
    press(flag)  # Stop while the job waits for the model
    assert begin(flag) is False and flag.event.is_set()


def test_an_earlier_stop_does_not_cancel_a_later_run(ticking_clock):
    flag = StopFlag()
    press(flag)  # stopped the previous job
    request(flag)
    assert begin(flag) is True and not flag.event.is_set()
    assert begin(StopFlag()) is True  # an API call without the click runs


def test_stop_during_generation_ends_it_at_once_and_the_chunk_is_not_scored(tiny_model, tmp_path):
    stop = threading.Event()
    system = System.parse("zero-shot:max_new_tokens=200", tiny_model)
    real_generate = tiny_model.generate
    seen = []

    def generate(prompts, params=None, **options):
        stop.set()  # Stop pressed as generation starts
        generations = real_generate(prompts, params, **options)
        seen.extend(g.new_tokens for g in generations)
        return generations

    tiny_model.generate = generate
    try:
        run = compare(load_task("dialogue-summary"), [system], limit=3, store=Store(tmp_path / "lab.db"), stop=stop)
    finally:
        del tiny_model.generate
    assert seen and max(seen) <= 1  # one decoding step, not 200
    assert run.status == "stopped" and run.per_example.empty
    assert Store(tmp_path / "lab.db").get_run(run.id)["results"] == 0
