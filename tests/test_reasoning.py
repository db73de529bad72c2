"""Reasoning techniques: answer extraction, votes, PAL prompts and code, each technique's mechanics."""

import pytest

from evals.tasks import load_task
from modules.models import Generation
from modules.techniques import TECHNIQUES, cot, direct, few_shot_cot, pal, parse_system, self_consistency
from modules.techniques.answers import final_number, majority_vote

TASK = load_task("arithmetic-word-problems")
QUESTIONS = TASK.split("test")[:2]


class ScriptedModel:
    """Stands in for a Model: replies with scripted texts, so PAL and the votes can be checked exactly."""

    has_chat_template = True

    def __init__(self, replies):
        self.replies, self.calls = list(replies), []

    def generate(self, prompts, params=None, **kwargs):
        self.calls.append((prompts, params))
        texts = [self.replies.pop(0) for _ in prompts]
        return [Generation(text=t, prompt_tokens=10, new_tokens=5, latency_s=0.5, prompt="p", params={}) for t in texts]


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("She has 4 + 4 = 8 apples.\n#### 8", "8"),
        ("So the answer is 42.", "42"),
        ("The answer is: $1,250", "1250"),
        ("Therefore the total is 12.50 dollars.", "12.5"),
        ("He pays 3 * 4 = 12. Answer: 15", "15"),
        ("Result = 7.0", "7"),
        ("I cannot solve this.", None),
    ],
)
def test_final_number(text, answer):
    assert final_number(text) == answer


def test_majority_vote_and_ties():
    assert majority_vote(["3", "5", "3", None]) == ("3", {"3": 2, "5": 1})
    assert majority_vote(["7", "9", "9", "7"])[0] == "7"  # tie: the answer seen first wins
    assert majority_vote([None, None]) == (None, {})


def test_pal_prompt_has_examples_as_code_turns():
    turns = pal.build_prompt(TASK, "What is 2 + 3?", k=2)
    assert [t["role"] for t in turns] == ["user", "assistant", "user", "assistant", "user"]
    assert turns[1]["content"].startswith("```python\ndef solution():") and turns[-1]["content"].endswith(
        "What is 2 + 3?"
    )


@pytest.mark.parametrize(
    "reply",
    [
        "```python\ndef solution():\n    return 2 + 3\n```",
        "Here is the code:\n```\ndef solution():\n    return 2 + 3\n```\nIt returns 5.",
        "def solution():\n    return 2 + 3",
        "```python\ndef solution():\n    return 2 + 3",  # cut off before the closing fence
    ],
)
def test_extract_code(reply):
    assert pal.extract_code(reply) == "def solution():\n    return 2 + 3"


def test_pal_runs_the_program_in_the_sandbox_and_takes_its_result():
    model = ScriptedModel(
        [
            "```python\ndef solution():\n    return 40 + 2\n```",
            "```python\nimport os\ndef solution():\n    return 1\n```",
        ]
    )
    good, bad = pal.run(model, TASK, QUESTIONS, pal.Config())
    assert good.answer == "42" and good.trace["sandbox"]["kind"] == "ok" and good.text.startswith("def solution")
    assert bad.answer is None and bad.trace["sandbox"]["kind"] == "rejected" and "os" in bad.trace["sandbox"]["error"]


def test_pal_with_execution_switched_off_says_so(monkeypatch):
    monkeypatch.setenv("LAB_ALLOW_CODE_EXECUTION", "0")
    (output,) = pal.run(ScriptedModel(["def solution():\n    return 1"]), TASK, QUESTIONS[:1], pal.Config())
    assert output.answer is None and output.trace["sandbox"]["kind"] == "disabled"
    assert "LAB_ALLOW_CODE_EXECUTION=0" in output.trace["sandbox"]["error"] and output.trace["code"]


def test_self_consistency_samples_n_paths_in_one_batched_call_and_votes():
    replies = ["#### 5", "#### 7", "#### 5", "#### 1", "#### 2", "#### 2"]
    model = ScriptedModel(replies)
    outputs = self_consistency.run(model, TASK, QUESTIONS, self_consistency.Config(n=3))
    assert len(model.calls) == 1 and len(model.calls[0][0]) == 6  # 2 questions x 3 paths, one call
    assert model.calls[0][1].do_sample and model.calls[0][1].temperature == 0.7
    assert [o.answer for o in outputs] == ["5", "2"]
    assert outputs[0].trace["votes"] == {"5": 2, "7": 1} and outputs[0].new_tokens == 15


def test_direct_and_cot_prompts_come_from_the_task_spec():
    model = ScriptedModel(["12", "Step one. #### 30"])
    (answer,) = direct.run(model, TASK, QUESTIONS[:1], direct.Config())
    (reasoned,) = cot.run(model, TASK, QUESTIONS[1:2], cot.Config())
    assert model.calls[0][0][0].startswith(TASK.reasoning["direct"]) and answer.answer == "12"
    assert model.calls[1][0][0].endswith(TASK.reasoning["cot_trigger"]) and reasoned.answer == "30"


def test_few_shot_cot_uses_worked_solutions(tiny_model):
    (output,) = few_shot_cot.run(tiny_model, TASK, QUESTIONS[:1], few_shot_cot.Config(k=2, max_new_tokens=4))
    assert TASK.split("train")[0].reference in output.trace["prompt"] and output.trace["shots"] == [
        "awp-001",
        "awp-002",
    ]


def test_reasoning_techniques_refuse_text_tasks_and_bad_settings():
    dialogue = load_task("dialogue-summary")
    for name in ("direct", "cot", "few-shot-cot", "self-consistency", "pal"):
        _, technique, config = parse_system(name)
        with pytest.raises(ValueError):
            TECHNIQUES[technique].validate(dialogue, config)
    with pytest.raises(ValueError, match="n must be between 1 and 40"):
        parse_system("self-consistency:n=0")
    with pytest.raises(ValueError, match="larger than the 3 PAL examples"):
        pal.validate(TASK, pal.Config(k=4))
