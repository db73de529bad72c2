"""Bring your own data: a CSV or JSONL becomes a task (checked row by row, stored whole or not at all), usable by
load_task, the fine-tuning study and the app."""

import json
import os
import threading
from pathlib import Path

import pytest
import yaml
from gradio_client import handle_file

from evals.tasks import TASKS_DIR, load_task, task_names, uploaded
from modules.studies import fine_tuning
from modules.training import data, finetune

# Words the tiny test model knows (tests/conftest.py WORDS), so short rows fit its 64-token context.
ROWS = [(f"the cat sat on the mat {n}", f"a cat {n}") for n in range(10)]


def write_csv(path: Path, header: str, lines: list[str], bom: bool = False) -> Path:
    path.write_text(("\ufeff" if bom else "") + "\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def good_csv(path: Path) -> Path:
    return write_csv(path, "input,reference", [f"{i},{r}" for i, r in ROWS], bom=True)


def write_jsonl(path: Path, records: list) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    return path


def stored_entries() -> list[str]:
    """Everything in the visitor's tasks folder, hidden staging folders too."""
    root = uploaded.tasks_root()
    return sorted(p.name for p in root.iterdir()) if root.is_dir() else []


def splits(task) -> dict[str, str]:
    return {e.id: e.split for e in task.examples}


def test_a_good_csv_becomes_a_task_every_loader_finds(tmp_path):
    task = uploaded.add_task("csv-task", good_csv(tmp_path / "mine.csv"))
    assert [e.id for e in task.examples] == [f"row-{n}" for n in range(1, 11)]  # the BOM did not reach a column
    assert (task.examples[0].input, task.examples[0].reference) == ROWS[0]
    assert len(task.split("test")) == 3 and len(task.split("train")) == 7  # test_share 0.3 of 10 rows
    assert task.answer_type == "none" and task.metrics == ["rouge", "bleu"] and task.reasoning == {}
    assert task.origin.startswith("uploaded by a user: mine.csv, 10 rows, ") and task.license == "the uploader's"
    assert task.prompt.instruction == "Answer the input." and task.prompt.format_query(task.examples[0]) == ROWS[0][0]
    spec = yaml.safe_load((uploaded.task_dir("csv-task") / "task.yaml").read_text())
    shipped = yaml.safe_load((TASKS_DIR / "dialogue-summary.yaml").read_text())
    assert set(spec) == set(shipped) and spec["data"] == "data.jsonl"
    assert splits(load_task("csv-task")) == splits(task)
    names = task_names()
    assert "csv-task" in names and names.index("csv-task") > names.index("dialogue-summary")  # shipped first
    assert "csv-task" in uploaded.list_tasks()


def test_the_seeded_split_is_deterministic_and_keeps_both_splits(tmp_path):
    source = good_csv(tmp_path / "rows.csv")
    first = uploaded.add_task("seed-a", source, seed=7)
    again = uploaded.add_task("seed-b", source, seed=7)
    other = uploaded.add_task("seed-c", source, seed=8)
    assert splits(first) == splits(again) and splits(first) != splits(other)
    two = write_csv(tmp_path / "two.csv", "input,reference", ["a,b", "c,d"])
    for name, share in (("two-low", 0.01), ("two-high", 0.99)):
        task = uploaded.add_task(name, two, test_share=share)
        assert len(task.split("train")) == 1 and len(task.split("test")) == 1


def test_a_jsonl_with_answers_ids_and_a_named_split_column(tmp_path):
    records = [{"id": f"q{n}", "input": f"one and {n}", "reference": f"it is {n + 1}", "answer": n + 1,
                "fold": "test" if n % 4 == 0 else "train", "split": "nonsense"} for n in range(8)]  # fmt: skip
    records[1]["answer"] = "1,200"  # thousands commas are a number too
    task = uploaded.add_task("jsonl-task", write_jsonl(tmp_path / "qa.jsonl", records), split_column="Fold")
    assert [e.id for e in task.split("test")] == ["q0", "q4"] and len(task.split("train")) == 6
    assert task.answer_type == "number" and "numeric_accuracy" in task.metrics
    assert task.example("q2").answer == "3" and task.example("q1").answer == "1,200"
    assert {"direct", "cot_trigger", "pal_instruction"} <= set(task.reasoning)  # the reasoning tab can run it


def test_a_split_column_is_used_when_present_and_some_answers_make_no_number_task(tmp_path):
    source = write_csv(tmp_path / "s.csv", "Input , Reference,split,answer",
                       ["a,b,train,1", "c,d,TEST,", "e,f,train,2"])  # fmt: skip
    task = uploaded.add_task("split-col", source)
    assert splits(task) == {"row-1": "train", "row-2": "test", "row-3": "train"}
    assert task.answer_type == "none" and task.metrics == ["rouge", "bleu"]


BAD_FILES = [
    ("missing.csv", "input,answer\nx,1\ny,2\n", "no 'reference' column. Columns found: 'input', 'answer'"),
    ("empty-cell.csv", "input,reference\nx,y\n,z\n", r"row 3: 'input' is empty"),
    ("latin1.csv", b"input,reference\nok,fine\ncaf\xe9,x\n", "row 3: not UTF-8 text"),
    ("dupes.csv", "id,input,reference\na,x,y\nb,x,y\na,x,y\n", "row 4: id 'a' is already used by row 2"),
    ("answer.csv", "input,reference,answer\nx,y,3\nx,y,twelve\n", "row 3: answer 'twelve' is not a number"),
    ("split.csv", "input,reference,split\nx,y,dev\nx,y,test\n", "row 2: split 'dev' must be 'train' or 'test'"),
    ("one-row.csv", "input,reference\nx,y\n", "has 1 row"),
    ("only-train.csv", "input,reference,split\nx,y,train\nx,y,train\n", "no row has split 'test'"),
    ("commas.csv", "input,reference\nx,y,z\nx,y\n", "row 2: more cells than the header"),
    ("lines.jsonl", '{"input": "x", "reference": "y"}\n{"input": "x",\n[1]\n', "row 2: not valid JSON"),
    ("list.jsonl", '{"input": ["x"], "reference": "y"}\n{"input": "x", "reference": "y"}\n',
     "row 1: 'input' must be text or a number"),
    ("notes.txt", "input,reference\nx,y\nx,y\n", "must be a .csv or .jsonl file"),
    ("semicolons.csv", "input;reference\nx;y\nx;y\n", "separated by ';'"),
    # preference files (DPO, the reward model): both answers, different, and a known property if any
    ("half.csv", "prompt,chosen\nx,y\nx,z\n", "has a 'chosen' column but no 'rejected' column"),
    ("no-rejected.csv", "prompt,chosen,rejected\nx,y,n\nx,y,\n", "row 3: 'rejected' is empty"),
    ("same.csv", "prompt,chosen,rejected\nx,y,n\nx,y,y\n", "row 3: 'chosen' and 'rejected' are the same text"),
    ("property.jsonl", '{"prompt": "x", "chosen": "y", "rejected": "n", "property": "kind"}\n'
     '{"prompt": "x", "chosen": "y", "rejected": "n"}\n', "row 1: property 'kind' must be one of helpful, honest"),
    ("no-prompt.csv", "question,chosen,rejected\nx,y,n\nx,y,n\n", "has no 'input' column"),
]  # fmt: skip


@pytest.mark.parametrize(("file_name", "content", "message"), BAD_FILES)
def test_a_bad_file_names_its_row_and_problem_and_stores_nothing(tmp_path, file_name, content, message):
    source = tmp_path / file_name
    source.write_bytes(content if isinstance(content, bytes) else content.encode())
    before = stored_entries()
    with pytest.raises(ValueError, match=message):
        uploaded.add_task("bad-file", source)
    assert stored_entries() == before


def test_a_preference_file_becomes_a_task_whose_pairs_dpo_and_the_reward_model_read(tmp_path, tiny_model):
    from modules.training import dpo, reward

    lines = [f"the cat {n},a cat {n},the dog {n},{('helpful', 'Honest', '')[n % 3]}" for n in range(6)]
    task = uploaded.add_task("my-prefs", write_csv(tmp_path / "prefs.csv", "prompt,chosen,rejected,property", lines))
    first = task.examples[0]
    assert (first.input, first.reference) == ("the cat 0", "a cat 0")  # prompt -> input, chosen -> reference
    assert first.meta == {"chosen": "a cat 0", "rejected": "the dog 0", "property": "helpful"}
    assert task.examples[1].meta["property"] == "honest" and "property" not in task.examples[2].meta
    assert load_task("my-prefs").examples[0].meta == first.meta  # stored, not only returned
    train = task.split("train")
    assert len(reward.rows(tiny_model, task, train, 48)) == len(dpo.rows(tiny_model, task, train, 48)) == len(train)
    plain = uploaded.add_task("plain", good_csv(tmp_path / "plain.csv"))
    assert all(e.meta == {} for e in plain.examples)  # an input/reference file carries no preference


def test_many_problems_are_listed_ten_at_a_time(tmp_path):
    source = write_csv(tmp_path / "holes.csv", "input,reference", ["x,"] * 15)
    with pytest.raises(ValueError) as error:
        uploaded.add_task("holes", source)
    message = str(error.value)
    assert message.startswith("holes.csv: 15 problem(s); nothing was stored.") and "… and 5 more" in message
    assert message.count("'reference' is empty") == 10 and "row 2: " in message and "row 12: " not in message


def test_size_and_row_limits(tmp_path, monkeypatch):
    source = good_csv(tmp_path / "big.csv")
    before = stored_entries()
    monkeypatch.setattr(uploaded, "MAX_BYTES", 100)
    with pytest.raises(ValueError, match=r"big.csv is \d+ bytes; the limit is 100"):
        uploaded.add_task("too-big", source)
    monkeypatch.setattr(uploaded, "MAX_BYTES", 20 * 2**20)
    monkeypatch.setattr(uploaded, "MAX_ROWS", 4)
    with pytest.raises(ValueError, match="row 6: the file has more than 4 rows"):  # header is line 1
        uploaded.add_task("too-long", source)
    assert stored_entries() == before


@pytest.mark.parametrize(
    ("name", "message"),
    [("dialogue-summary", "name of a shipped task"), ("Arithmetic-Word-Problems", "name of a shipped task"),
     ("../escape", "must be 1-40 letters"), ("", "must be 1-40 letters"), ("x" * 41, "must be 1-40 letters")],
)  # fmt: skip
def test_names_that_would_shadow_a_shipped_task_or_leave_the_folder_are_refused(tmp_path, name, message):
    before = stored_entries()
    with pytest.raises(ValueError, match=message):
        uploaded.add_task(name, good_csv(tmp_path / "rows.csv"))
    assert stored_entries() == before
    assert load_task("dialogue-summary").origin.startswith("Written for LLM Technique Lab")


def test_an_existing_name_is_kept_and_delete_removes_the_task(tmp_path):
    uploaded.add_task("keep-me", good_csv(tmp_path / "rows.csv"))
    with pytest.raises(ValueError, match="already have a task named 'keep-me'"):
        uploaded.add_task("keep-me", good_csv(tmp_path / "rows.csv"))
    uploaded.delete_task("keep-me")
    assert "keep-me" not in task_names() and not any("keep-me" in entry for entry in stored_entries())
    with pytest.raises(ValueError, match="Unknown task 'keep-me'. Available: .*dialogue-summary"):
        load_task("keep-me")
    with pytest.raises(ValueError, match="No uploaded task named 'keep-me'"):
        uploaded.delete_task("keep-me")
    with pytest.raises(ValueError, match="No uploaded task named 'dialogue-summary'"):
        uploaded.delete_task("dialogue-summary")


def test_the_task_dropdowns_offer_uploaded_tasks(tmp_path):
    from modules.ui import pickers

    uploaded.add_task("in-dropdowns", good_csv(tmp_path / "rows.csv"))
    assert pickers.task_choices() == task_names() and "in-dropdowns" in pickers.task_choices()
    assert pickers.task_choices(["dialogue-summary"]) == ["dialogue-summary", *uploaded.list_tasks()]


def test_an_uploaded_task_trains_lora_and_is_scored_on_its_own_test_split(tiny_model, tmp_path):
    task = uploaded.add_task("tiny-train", good_csv(tmp_path / "rows.csv"))
    assert data.pairs_from_task(task) == task.split("train")
    config = finetune.Config(method="lora", steps=1, batch_size=2, max_length=48)
    settings = fine_tuning.JobSettings(name="uploaded-tiny", methods=("lora",), configs={"lora": config},
                                       task="tiny-train", eval_limit=500, probe_limit=0)  # fmt: skip
    stop = threading.Event()
    costs = fine_tuning.train_methods(tiny_model, settings, lambda report: None, stop)
    (row,) = costs
    assert row["asset"] == "uploaded-tiny-lora" and row["steps"] == 1
    quality, probe = fine_tuning.evaluate(tiny_model, settings, costs, lambda report: None, stop)
    assert probe is None and quality.task == "tiny-train" and quality.split == "test"
    assert set(quality.per_example.example_id) == {e.id for e in task.split("test")}
    assert set(quality.per_example.system) == {"base", "lora"}


def test_the_app_adds_uses_and_deletes_an_uploaded_task(client, tiny_llama_dir, tmp_path):
    from tests.test_finetune_tab import arguments

    source = good_csv(tmp_path / "client-rows.csv")
    report, yours = client.predict(handle_file(str(source)), "client-task", "", 0.5, api_name="/task_upload")
    assert "Added task `client-task`: 10 rows (5 train, 5 test)" in report and "**none**" in report
    assert yours["value"] == "client-task" and ["client-task", "client-task"] in yours["choices"]
    example, shown_input, shown_reference = client.predict("client-task", api_name="/icl_examples")  # the ICL tab
    tests = load_task("client-task").split("test")
    assert [choice[1] for choice in example["choices"]] == [e.id for e in tests] and example["value"] == tests[0].id
    assert (shown_input, shown_reference) == (tests[0].input, tests[0].reference)
    client.predict(str(tiny_llama_dir), api_name="/load_model")
    settings = {"name": "client-upload", "task": "client-task", "max_length": 64, "steps": 1, "eval_limit": 5,
                "probe_limit": 0}  # fmt: skip
    status, *_ = client.predict(*arguments(**settings), api_name="/finetune_train")
    assert "**Done.**" in status and "task `client-task` test split, 5 examples" in status
    bad = write_csv(tmp_path / "client-bad.csv", "input,reference", ["x,y", "x,"])
    with pytest.raises(Exception, match="row 3: 'reference' is empty"):
        client.predict(handle_file(str(bad)), "client-bad", "", 0.3, api_name="/task_upload")
    assert "client-bad" not in uploaded.list_tasks()
    cached = [p for p in Path(os.environ["GRADIO_TEMP_DIR"]).rglob("*.csv") if p.name.startswith("client-")]
    assert cached == []  # Gradio's copies of both uploads are gone: the task keeps its own checked copy
    message, yours = client.predict("client-task", api_name="/task_delete")
    assert message == "Deleted task `client-task`." and yours["value"] is None and "client-task" not in task_names()


def test_multi_task_trains_beside_single_task_on_a_mixture_with_an_uploaded_task(tiny_model, tmp_path, monkeypatch):
    """The mixture (a lab task and the visitor's own) trains a second row per method; both are scored on the target
    task and the probe; the mixture's rows come from both tasks in its shares."""
    from modules.training import data as training_data

    mine = uploaded.add_task("mix-mine", good_csv(tmp_path / "rows.csv"))
    drawn = {}
    original = training_data.mixture

    def recording(pools, shares, count, seed):
        drawn["pools"], drawn["shares"], drawn["count"] = {k: len(v) for k, v in pools.items()}, shares, count
        return original(pools, shares, count, seed)

    monkeypatch.setattr(training_data, "mixture", recording)
    config = finetune.Config(method="lora", steps=2, batch_size=2, max_length=48)
    values_mixture = fine_tuning.parse_mixture("dialogue-summary: 3, mix-mine: 1")
    settings = fine_tuning.JobSettings(name="mixed", methods=("lora",), configs={"lora": config}, eval_limit=2,
                                       probe_limit=2, mixture=values_mixture)  # fmt: skip
    stop = threading.Event()
    costs = fine_tuning.train_methods(tiny_model, settings, lambda report: None, stop)
    assert [row["method"] for row in costs] == ["lora", "lora (multi-task)"]
    assert [row["asset"] for row in costs] == ["mixed-lora", "mixed-lora-multitask"]
    assert drawn["shares"] == {"dialogue-summary": 3.0, "mix-mine": 1.0} and drawn["count"] == 4
    assert drawn["pools"] == {"dialogue-summary": 44, "mix-mine": len(mine.split("train"))}
    quality, probe = fine_tuning.evaluate(tiny_model, settings, costs, lambda report: None, stop)
    assert set(quality.per_example.system) == set(probe.per_example.system) == {"base", "lora", "lora (multi-task)"}
    with pytest.raises(ValueError, match="Mixture task 'no-such-task'"):
        fine_tuning.JobSettings(name="x", methods=("lora",), configs={"lora": config}, mixture={"no-such-task": 1})
    with pytest.raises(ValueError, match="task: share"):
        fine_tuning.parse_mixture(":2")
