"""The runner on a tiny model: tables, intervals, the store, Stop, paired differences."""

import threading

import pytest

from evals.runner import CHUNK, System, compare
from evals.tasks import load_task
from modules.store import Store


@pytest.fixture()
def systems(tiny_model):
    return [System.parse(text, tiny_model) for text in ("zero-shot:max_new_tokens=4", "few-shot:k=2:max_new_tokens=4")]


def test_compare_returns_tables_with_intervals_and_stores_everything(systems, tmp_path):
    task = load_task("dialogue-summary")
    store = Store(tmp_path / "lab.db")
    seen = []
    run = compare(task, systems, limit=10, store=store, progress=lambda p: seen.append((p.done, p.total)))
    assert run.status == "complete" and len(run.per_example) == 20
    assert set(run.per_example.system) == {"zero-shot (max_new_tokens=4)", "few-shot (k=2, max_new_tokens=4)"}
    assert seen[-1] == (20, 20) and len(seen) == 2 * -(-10 // CHUNK)  # one progress call per chunk
    aggregate = run.aggregate.set_index(["system", "score"])
    for score in ("rouge1", "rouge2", "rougeL", "rougeLsum", "bleu", "latency_s", "tokens_per_s"):
        row = aggregate.loc[(systems[0].name, score)]
        assert row.ci_low <= row["mean"] <= row.ci_high and row.n == 10
    assert aggregate.loc[(systems[0].name, "latency_s")].higher_is_better is False
    stored = store.get_run(run.id)
    assert stored["status"] == "complete" and stored["results"] == 20 and len(stored["aggregate"]) == len(run.aggregate)
    assert stored["versions"]["torch"] and stored["systems"][1]["config"]["k"] == 2
    difference = run.paired_difference(systems[1].name, systems[0].name, "rougeL")
    assert difference["ci_low"] <= difference["mean"] <= difference["ci_high"] and difference["n"] == 10


def test_stop_ends_the_run_after_the_current_batch(systems, tmp_path):
    stop = threading.Event()
    store = Store(tmp_path / "lab.db")

    def progress(event):
        stop.set()  # the user presses Stop while the first batch is being scored

    run = compare(load_task("dialogue-summary"), systems, limit=CHUNK + 4, store=store, progress=progress, stop=stop)
    assert run.status == "stopped" and len(run.per_example) == CHUNK
    assert store.get_run(run.id)["status"] == "stopped" and store.get_run(run.id)["results"] == CHUNK


def test_failures_mark_the_run_failed(tiny_model, tmp_path, monkeypatch):
    store = Store(tmp_path / "lab.db")
    system = System.parse("zero-shot:max_new_tokens=2", tiny_model)
    monkeypatch.setattr(tiny_model, "generate", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(RuntimeError, match="boom"):
        compare(load_task("dialogue-summary"), [system], limit=2, store=store)
    assert store.list_runs()[0]["status"] == "failed"


def test_bad_requests_are_refused_before_any_work(systems, tiny_model):
    task = load_task("dialogue-summary")
    with pytest.raises(ValueError, match="at least one system"):
        compare(task, [])
    with pytest.raises(ValueError, match="limit must be >= 1"):
        compare(task, systems, limit=0)
    with pytest.raises(ValueError, match="larger than the train pool"):
        compare(task, [System.parse("few-shot:k=100", tiny_model)])
    with pytest.raises(ValueError, match="must differ"):
        compare(task, [systems[0], systems[0]])


def test_numeric_task_scores_accuracy(tiny_model):
    run = compare(
        load_task("arithmetic-word-problems"), [System.parse("zero-shot:max_new_tokens=3", tiny_model)], limit=3
    )
    assert set(run.per_example.numeric_accuracy) <= {0.0, 1.0}
    assert "numeric_accuracy" in set(run.aggregate.score)
