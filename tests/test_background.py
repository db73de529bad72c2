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
    release, reported = threading.Event(), threading.Event()

    def job(report):
        report("first")
        release.wait(60)  # the generator has taken "first"; the next three arrive together
        for text in ("a", "ab", "abc"):
            report(text)
        reported.set()
        return "end"

    events = run_in_background(job, latest_only=True)
    assert next(events) == ("update", "first")
    release.set()
    assert reported.wait(60)  # all three wait in the queue before the generator reads again
    assert list(events) == [("update", "abc"), ("result", "end")]  # without latest_only: a, ab, abc, end


def test_without_latest_only_every_report_arrives():
    release, reported = threading.Event(), threading.Event()

    def job(report):
        report("first")
        release.wait(60)
        for text in ("a", "ab", "abc"):
            report(text)
        reported.set()
        return "end"

    events = run_in_background(job)  # the job starts with the first read
    assert next(events) == ("update", "first")
    release.set()
    assert reported.wait(60)
    assert list(events) == [("update", "a"), ("update", "ab"), ("update", "abc"), ("result", "end")]


def test_job_errors_are_raised_in_the_caller():
    def job(report):
        report(1)
        raise ValueError("k=99 is larger than the train pool")

    events = run_in_background(job)
    assert next(events) == ("update", 1)
    with pytest.raises(ValueError, match="train pool"):
        list(events)
