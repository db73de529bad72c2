"""While a job runs, the page says what is true (issue #23): the stage, the count and the time left, "Stopping…" at
once, Stop seen in every phase, a page that is gone stops its job, and a finished variant's row before the end."""

import threading
from types import SimpleNamespace

import gradio as gr

from modules import progress as progress_module
from modules.progress import Pace, Progress
from modules.ui import job
from modules.ui.job import STOPPING_LINE, run_job
from modules.ui.stop_flag import STOPPING, StopFlag, press, stopping


def test_the_line_says_stage_count_time_so_far_and_time_left(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(progress_module.time, "monotonic", lambda: now[0])
    pace = Pace()
    now[0] = 110.0
    assert pace.line(Progress("zero-shot: 2/8", 2, 8)) == "zero-shot: 2/8 · 2/8 done · 10 s so far · about 30 s left"
    assert pace.line(Progress("Loading")) == "Loading · 10 s so far"  # nothing counted: no time left is claimed
    assert pace.line(Progress("Measured int8", 8, 8)) == "Measured int8 · 8/8 done · 10 s so far"  # the next stage


def waiting(report, stop, wound_down=None):
    """A job that works until Stop, then winds down until told (bounded by the test's own events, not a clock)."""
    report(Progress("Building int8", 0, 4))
    stop.wait(30)
    if wound_down is not None:
        wound_down.wait(30)
    return "ended"


def test_ticks_show_time_passing_then_stopping_and_the_result_is_the_last_yield(monkeypatch):
    monkeypatch.setattr(job, "TICK_S", 0.01)
    flag, status, wound_down = StopFlag(), "status", threading.Event()
    shown = run_job(flag, lambda report, stop: waiting(report, stop, wound_down), lambda event: None,
                    lambda result: {status: result}, {status: "Running…"}, status=status)  # fmt: skip
    assert next(shown) == {status: "Running…"}
    assert next(shown)[status].startswith("Building int8 · 0/4 done · ")  # the report, with its count
    assert "s so far" in next(shown)[status] and flag.running  # a tick: the line again, time moving
    press(flag)
    assert next(shown) == {status: STOPPING_LINE}  # at the next tick, while the step in hand ends
    wound_down.set()
    assert [update[status] for update in shown][-1] == "ended"  # a client reads the last yield: the result
    assert not flag.running


def test_a_page_that_is_gone_stops_its_job_within_a_tick(monkeypatch):
    monkeypatch.setattr(job, "TICK_S", 0.01)
    event = SimpleNamespace(alive=True)
    monkeypatch.setattr(job, "queued_event", lambda: event)
    flag = StopFlag()
    shown = run_job(flag, waiting, lambda event: None, lambda result: result)
    assert next(shown) == gr.skip()  # no status component: a tick is a yield all the same, so Gradio can act
    event.alive = False  # Gradio's queue marks the event of a closed page (clean_events)
    assert list(shown)[-1] == "ended" and flag.event.is_set()


def test_the_stop_button_says_stopping_only_while_a_job_runs_or_waits():
    flag = StopFlag()
    assert stopping(flag) == gr.skip()  # nothing to stop: the button stays as it is
    flag.running = True
    assert stopping(flag).value == STOPPING


def test_a_measured_variants_row_comes_before_the_next_variant_and_stop_ends_a_perplexity_pass(tiny_model):
    from modules.studies import quantization

    reports, stop = [], threading.Event()

    def report(event):
        reports.append(event)
        if event.stage.startswith("Perplexity of int8"):
            stop.set()  # Stop pressed while int8's perplexity pass runs

    sizes = {"perplexity_texts": 2, "speed_repeats": 1, "new_tokens": 2, "answer_tokens": 2}  # seconds, not minutes
    table, run = quantization.compare_variants(tiny_model, ["int8"], "dialogue-summary", 1, report, stop, **sizes)
    stages = [event.stage for event in reports]
    first_row = next(i for i, event in enumerate(reports) if "table" in event.payload)
    assert list(reports[first_row].payload["table"].variant) == ["fp32"]
    assert first_row < stages.index("Building int8 (variant 2/2)…")  # fp32's row shown before int8 is built
    measuring = [event.done for event in reports if not event.stage.startswith("Scoring")]
    assert measuring == sorted(measuring)  # the count only goes up (scoring counts its answers anew)
    assert list(table.variant) == ["fp32"] and run.status == "stopped"  # int8 cut inside its pass: not kept


def test_stop_while_preparing_a_method_trains_nothing(tiny_model):
    from modules.studies import fine_tuning
    from modules.training import finetune

    stop, stages = threading.Event(), []

    def report(event):
        stages.append(event.stage)
        stop.set()  # Stop pressed while the first method is being prepared

    config = finetune.Config(method="lora", steps=2, batch_size=1, max_length=64)
    settings = fine_tuning.JobSettings(name="stopped-early", methods=("lora",), configs={"lora": config})
    assert fine_tuning.train_methods(tiny_model, settings, report, stop) == []
    assert len(stages) == 1 and stages[0].startswith("Preparing lora (1/1)")


def test_a_study_stopped_before_anything_was_measured_ends_cleanly(tiny_model):
    from modules.studies import quantization

    stop = threading.Event()
    stop.set()  # Stop pressed while the study waited to start its first variant
    table, run = quantization.sensitivity(tiny_model, "dialogue-summary", 1, lambda event: None, stop)
    assert table.empty and run.status == "stopped"
