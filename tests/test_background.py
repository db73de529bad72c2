"""run_in_background: reports arrive in order, the result comes last, errors reach the caller."""

import threading

import pytest

from modules.ui.background import run_in_background


def test_reports_then_result():
    def job(report):
        for step in range(3):
            report(step)
        return "done"

    assert list(run_in_background(job)) == [("update", 0), ("update", 1), ("update", 2), ("result", "done")]


def test_latest_only_skips_replaced_reports():
    release = threading.Event()

    def job(report):
        report("first")
        release.wait(5)  # the generator has taken "first"; the next three arrive together
        for text in ("a", "ab", "abc"):
            report(text)
        return "end"

    events = run_in_background(job, latest_only=True)
    assert next(events) == ("update", "first")
    release.set()
    rest = list(events)
    assert rest[-1] == ("result", "end") and rest[-2] == ("update", "abc") and len(rest) <= 4


def test_job_errors_are_raised_in_the_caller():
    def job(report):
        report(1)
        raise ValueError("k=99 is larger than the train pool")

    events = run_in_background(job)
    assert next(events) == ("update", 1)
    with pytest.raises(ValueError, match="train pool"):
        list(events)
