"""The shipped task suites, the arithmetic generator, and the public-set loaders (fake local data, offline)."""

import json
import re

import pytest

from evals.metrics.numeric_accuracy.numeric_accuracy import extract_number
from evals.tasks import TASKS_DIR, TaskError, load_task, task_names
from evals.tasks.generate_arithmetic import generate


@pytest.mark.parametrize(("name", "train", "test"), [("dialogue-summary", 44, 22), ("dialogue-summary-110", 40, 110)])
def test_dialogue_summary_suites(name, train, test):
    task = load_task(name)
    assert (len(task.split("train")), len(task.split("test"))) == (train, test)
    assert len({e.input for e in task.examples}) == len(task.examples)  # no two dialogues alike
    assert len({e.meta["topic"] for e in task.examples}) == len(task.examples)
    for example in task.examples:
        assert example.input.startswith("#Person1#:") and "#Person2#:" in example.input
        assert len(re.findall(r"[.!?](?:\s|$)", example.reference)) == 1  # one sentence
    assert "CC0" in task.license and "Written for LLM Technique Lab" in task.origin


def test_the_larger_dialogue_set_shares_nothing_with_the_first():
    first, larger = load_task("dialogue-summary").examples, load_task("dialogue-summary-110").examples
    assert not {e.id for e in first} & {e.id for e in larger}
    assert not {e.input for e in first} & {e.input for e in larger}
    assert not {e.meta["topic"] for e in first} & {e.meta["topic"] for e in larger}


def test_arithmetic_suite_answers_match_worked_solutions():
    task = load_task("arithmetic-word-problems")
    assert len(task.examples) >= 100 and task.answer_type == "number"
    for example in task.examples:
        assert example.reference.splitlines()[-1] == f"#### {example.answer}"
        assert extract_number(example.reference) == float(example.answer)


def test_arithmetic_generator_is_deterministic_and_matches_shipped_file():
    assert generate(seed=1234) == generate(seed=1234)
    assert generate(seed=1) != generate(seed=1234)
    shipped = [json.loads(line) for line in (TASKS_DIR / "data/arithmetic-word-problems.jsonl").open()]
    assert shipped == generate(seed=1234)


def test_arithmetic_worked_steps_are_correct():
    for record in generate(seed=99, count=60):
        for left, right in re.findall(r"(\d[\d ×÷+\-]*\d) = \$?(\d+)", record["reference"]):
            expression = left.replace("×", "*").replace("÷", "//")
            assert eval(expression) == int(right), (record["id"], left, right)  # noqa: S307 (our own digits)


def test_handbook_suite_questions_point_to_real_documents():
    task = load_task("company-handbook-qa")
    documents = {p.stem: p.read_text() for p in task.documents_dir.glob("*.md")}
    assert len(documents) >= 30 and len(task.examples) >= 40
    for example in task.examples:
        doc_ids = example.meta["doc_ids"]
        assert doc_ids and all(d in documents for d in doc_ids)
        number = re.search(r"\d+", example.answer)
        key = number.group() if number else example.answer
        assert any(key in documents[d] for d in doc_ids), example.id


def test_unknown_task_is_a_clear_error():
    with pytest.raises(TaskError, match="Unknown task 'nope'. Available: .*dialogue-summary"):
        load_task("nope")
    assert {"dialogue-summary", "arithmetic-word-problems", "company-handbook-qa"} <= set(task_names())


def test_split_names_are_checked():
    with pytest.raises(TaskError, match="Unknown split"):
        load_task("dialogue-summary").split("validation")


@pytest.mark.parametrize("name", ["dialogsum", "gsm8k", "squad"])
def test_public_sets_offline_raise_a_clear_error(name):
    with pytest.raises(TaskError, match="unreachable"):
        load_task(name)


def _write_jsonl(path, rows):
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")


def test_public_loaders_map_a_fake_local_dataset(tmp_path):
    dialogsum = tmp_path / "dialogsum"
    dialogsum.mkdir()
    row = {"id": "train_1", "dialogue": "#Person1#: Hi.\n#Person2#: Hello.", "summary": "They greet.", "topic": "hi"}
    _write_jsonl(dialogsum / "train.jsonl", [row])
    _write_jsonl(dialogsum / "test.jsonl", [row | {"id": "test_1"}])
    task = load_task("dialogsum", source=dialogsum)
    assert [(e.id, e.split, e.reference) for e in task.examples] == [
        ("train_1", "train", "They greet."),
        ("test_1", "test", "They greet."),
    ]

    gsm8k = tmp_path / "gsm8k"
    gsm8k.mkdir()
    math_row = {"question": "What is 600 + 600?", "answer": "600 + 600 = 1200\n#### 1,200"}
    _write_jsonl(gsm8k / "train.jsonl", [math_row])
    _write_jsonl(gsm8k / "test.jsonl", [math_row])
    example = load_task("gsm8k", source=gsm8k).split("test")[0]
    assert example.answer == "1200" and example.input == "What is 600 + 600?"

    squad = tmp_path / "squad"
    squad.mkdir()
    qa = {
        "id": "q1",
        "title": "T",
        "context": "Paris is in France.",
        "question": "Where is Paris?",
        "answers": {"text": ["France", "in France"], "answer_start": [12, 9]},
    }
    _write_jsonl(squad / "train.jsonl", [qa])
    _write_jsonl(squad / "validation.jsonl", [qa | {"id": "q2"}])
    example = load_task("squad", source=squad).split("test")[0]
    assert example.id == "q2" and example.answer == "France" and "Where is Paris?" in example.input
    assert example.meta["all_answers"] == ["France", "in France"]
