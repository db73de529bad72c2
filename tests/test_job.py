"""run_job: the one job lifecycle every tab uses (not started when Stopped in the queue, reports shown as they come,
errors as the lab's messages, Stop set however it ends)."""

import threading
from types import SimpleNamespace

import gradio as gr
import pytest

from modules.ui.job import run_job
from modules.ui.stop_flag import StopFlag, press, request


def counting(report, stop):
    for step in range(3):
        report(step)
    return "done"


def test_reports_and_the_result_are_shown_and_stop_is_set_at_the_end():
    flag = StopFlag()
    shown = list(run_job(flag, counting, lambda step: {"status": step}, lambda result: {"status": result}, "first"))
    assert shown == ["first", {"status": 0}, {"status": 1}, {"status": 2}, {"status": "done"}]
    assert flag.event.is_set()  # a worker still running would stop at its next check


def test_every_holds_fast_reports_and_merges_them_into_the_next_yield():
    """A job reporting far faster than `every` yields a few times, not per report (a plot per report froze a
    page), and nothing shown is lost: the held values are merged into the next yield and the result."""

    def fast(report, stop):
        for step in range(500):
            report(step)
        return "done"

    shown = list(run_job(StopFlag(), fast, lambda step: {"step": step, f"seen {step % 2}": step},
                         lambda result: {"status": result}, every=5.0))  # fmt: skip
    assert len(shown) == 2  # the first report at once; the rest held, then given with the result
    assert shown[0] == {"step": 0, "seen 0": 0}
    assert shown[-1] == {"step": 499, "seen 0": 498, "seen 1": 499, "status": "done"}


def test_none_shows_nothing():
    shown = list(run_job(StopFlag(), counting, lambda step: None if step else step, lambda result: None))
    assert shown == [0]


def test_stopped_in_the_queue_runs_nothing(monkeypatch):
    monkeypatch.setattr(gr, "Warning", lambda message: None)  # outside an event there is no page to tell
    ran, flag = threading.Event(), StopFlag()
    request(flag)
    flag.requested -= 1  # the Run click came before the Stop press
    press(flag)
    assert list(run_job(flag, lambda report, stop: ran.set(), print, print, "first")) == []
    assert not ran.is_set()


def test_errors_reach_the_page_as_the_labs_messages_and_stop_is_set():
    def failing(report, stop):
        report(1)
        raise ValueError("k=99 is larger than the train pool")

    flag = StopFlag()
    with pytest.raises(gr.Error, match="train pool"):
        list(run_job(flag, failing, lambda step: step, lambda result: result))
    assert flag.event.is_set()


def test_a_closed_page_sets_stop_and_the_worker_sees_it():
    def endless(report, stop):
        report("started")
        stop.wait(60)
        return stop.is_set()

    flag = StopFlag()
    shown = run_job(flag, endless, lambda text: text, lambda result: result)
    assert next(shown) == "started"
    shown.close()  # Gradio closes the generator of a cancelled event or a closed page
    assert flag.event.is_set()


def test_columns_stream_and_stop_ends_the_column_in_progress_and_starts_no_other(monkeypatch):
    """stream_columns on run_job: the live cell streams, the others say so; Stop shows the partial text unscored."""
    from evals.runner import System
    from modules.techniques import TECHNIQUES
    from modules.ui.columns import GENERATING, stream_columns

    started = []

    def run(model, task, examples, config, stop, on_text):
        started.append(config)
        on_text({0: "partial"})
        assert stop.wait(60)  # generating until Stop
        return [SimpleNamespace(text="partial answer")]

    monkeypatch.setitem(TECHNIQUES, "fake", SimpleNamespace(run=run))
    model = SimpleNamespace(measured_tokens_per_s=None)
    systems = [System(name, model, "fake", name) for name in ("first", "second")]
    cells = ["first text", "first verdict", "second text", "second verdict"]  # the components, in a tab

    def render(system, output, scores, stopped):
        return output.text, "stopped" if stopped else "scored"

    flag = StopFlag()
    shown = stream_columns(cells, None, None, systems, flag, render, lambda *a, **k: None, live=0)
    assert next(shown) == {"first text": "partial", "first verdict": GENERATING}
    press(flag)
    assert list(shown)[-1] == {"first text": "partial answer", "first verdict": "stopped"}
    assert started == ["first"]  # the second column never started
