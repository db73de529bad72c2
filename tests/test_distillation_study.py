"""The distillation study on the tiny model: a student with half the layers trained on the teacher's distributions,
saved as a variant of the pruned student, then teacher / before / after side by side; Stop; bad settings."""

import json
import threading
from dataclasses import replace

import pytest

from modules.models import ModelSpec, adapters, get_model
from modules.studies import distillation
from modules.studies.fine_tuning import checkpoint_dir
from modules.training import distill


def test_a_student_is_distilled_saved_and_compared(tiny_model):
    settings = distillation.Settings(name="tiny-student", dropped=50, steps=2, batch_size=2, max_length=64,
                                     limit=1).checked()  # fmt: skip
    events = []
    cost, run, table = distillation.run(tiny_model, settings, events.append, threading.Event())
    assert cost["steps"] == 2 and [point["step"] for point in cost["curve"]] == [1, 2]
    assert any("curve" in e.payload for e in events)  # the live loss curve
    assert cost["asset"] == f"{tiny_model.spec}+prune:layers-50+adapter:tiny-student"
    assert list(table.model) == ["teacher", "student before", "student after"]
    layers = dict(zip(table.model, table["decoder layers"]))
    assert layers["student after"] == layers["student before"] < layers["teacher"]
    sizes = dict(zip(table.model, table["weight MB"]))
    assert sizes["student after"] < sizes["teacher"]
    assert set(run.per_example.system) == {"teacher", "student before", "student after"}
    student = get_model(cost["asset"])  # usable by spec in every tab
    assert ModelSpec.parse(student.spec).prune == "layers-50" and student.hf.config.num_hidden_layers == layers[
        "student after"]  # fmt: skip


def test_a_few_shot_teacher_is_scored_with_its_shots(tiny_model):
    settings = distillation.Settings(name="tiny-fewshot", teacher_shots=1, dropped=50, steps=1, batch_size=2,
                                     max_length=64, limit=1).checked()  # fmt: skip
    cost, run, table = distillation.run(tiny_model, settings, lambda event: None, threading.Event())
    assert list(table.model) == ["teacher (1-shot)", "student before", "student after"]
    configs = {system["name"]: system["config"]["k"] for system in run.systems}
    assert configs == {"teacher (1-shot)": 1, "student before": 0, "student after": 0}
    assert adapters.read_meta("tiny-fewshot")["teacher_shots"] == 1


def test_a_student_learns_the_teachers_answers_and_a_resume_reads_them_back(tiny_model, monkeypatch):
    settings = distillation.Settings(name="tiny-answers", learn="answers", steps=1, batch_size=2, max_length=64,
                                     limit=1).checked()  # fmt: skip
    events = []
    cost, run, table = distillation.run(tiny_model, settings, events.append, threading.Event())
    assert cost["teacher answers (s)"] > 0 and cost["asset"].endswith("+adapter:tiny-answers")
    assert any("teacher answers" in e.stage for e in events)
    saved = checkpoint_dir("tiny-answers", "distillation") / distillation.ANSWERS_FILE
    written = json.loads(saved.read_text())
    assert len(written) <= 2 and all(row["reference"] for row in written)  # steps x batch prompts, none empty
    assert adapters.read_meta("tiny-answers")["learned"] == "answers"

    def asked_again(*args, **kwargs):
        raise AssertionError("a resumed job asked the teacher again")

    monkeypatch.setattr(distill, "teacher_answers", asked_again)
    resumed = replace(settings, resume=True, steps=2)
    cost, run, table = distillation.run(tiny_model, resumed, lambda event: None, threading.Event())
    assert cost["steps"] == 2 and cost["resumed from"] == 1


def test_stop_before_the_first_step_saves_nothing(tiny_model):
    stop = threading.Event()
    stop.set()
    settings = distillation.Settings(name="tiny-stopped", steps=3, batch_size=2, max_length=64, limit=1).checked()
    cost, run, table = distillation.run(tiny_model, settings, lambda event: None, stop)
    assert cost["stopped"] and cost["asset"] is None and run is None and table.empty


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"dropped": 100}, "Layers dropped"), ({"temperature": 0}, "temperature"), ({"alpha": 2}, "alpha"),
     ({"name": "../x"}, "name"), ({"steps": 0}, "Steps"), ({"teacher_shots": 9}, "Teacher's shots"),
     ({"learn": "vibes"}, "What the student learns")],
)  # fmt: skip
def test_bad_settings_get_clear_messages(changes, message):
    with pytest.raises(ValueError, match=message):
        distillation.Settings(**changes).checked()
