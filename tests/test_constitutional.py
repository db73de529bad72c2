"""Constitutional AI's data step: principles read from YAML with clear errors, the answer / critique / revision
turns in order, and (revision, original) pairs that DPO and the reward model read."""

import threading

import pytest

from evals.tasks import load_task
from modules.models import Generation, GenerationParams
from modules.studies import constitutional
from modules.training import dpo, reward

TASK = load_task("hhh-preferences")


def test_the_default_principles_cover_the_three_properties():
    principles = constitutional.parse_principles(constitutional.default_principles_text())
    assert [p.property for p in principles] == ["harmless", "honest", "helpful"]
    assert all(p.critique.endswith(".") and p.revision.endswith(".") for p in principles)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("principles: [", "not valid YAML"),
        ("rules: []", "non-empty list under 'principles'"),
        ("principles:\n  - name: x\n    property: helpful\n    critique: c\n", "Principle 1: 'revision' must be"),
        ("principles:\n  - {name: x, property: kind, critique: c, revision: r}\n", "Principle 1: property must be"),
        ("", "non-empty list under 'principles'"),
    ],
)
def test_bad_principles_are_clear_errors(text, message):
    with pytest.raises(ValueError, match=message):
        constitutional.parse_principles(text)


def test_each_prompt_is_answered_critiqued_against_its_principle_and_revised(tiny_model, monkeypatch):
    calls = []

    def generate(prompts, params, stop=None, on_text=None):
        calls.append([list(turns) for turns in prompts])
        stage = ("answer", "critique", "revised")[(len(calls) - 1) % 3]
        return [Generation(f"{stage} {i}", 1, 1, 0.1) for i in range(len(prompts))]

    monkeypatch.setattr(tiny_model, "generate", generate)
    prompts = TASK.split("test")[:4]
    principles = constitutional.parse_principles(constitutional.default_principles_text())
    revisions = constitutional.revise(tiny_model, prompts, principles, GenerationParams(max_new_tokens=4), seed=3)
    assert len(calls) == 3 and [r.original for r in revisions] == [f"answer {i}" for i in range(4)]
    by_name = {p.name: p for p in principles}
    for i, (prompt, revision) in enumerate(zip(prompts, revisions)):
        principle = by_name[revision.principle]
        assert calls[2][i] == [
            {"role": "user", "content": prompt.input}, {"role": "assistant", "content": f"answer {i}"},
            {"role": "user", "content": principle.critique}, {"role": "assistant", "content": f"critique {i}"},
            {"role": "user", "content": principle.revision},
        ]  # fmt: skip
        assert (revision.critique, revision.revised, revision.property) == (f"critique {i}", f"revised {i}",
                                                                            principle.property)  # fmt: skip
    again = constitutional.revise(tiny_model, prompts, principles, GenerationParams(max_new_tokens=4), seed=3)
    assert [r.principle for r in again] == [r.principle for r in revisions]  # the draw is seeded


def test_revisions_become_pairs_dpo_and_the_reward_model_read_and_empty_ones_are_dropped(tiny_model):
    prompts = TASK.split("test")[:3]
    principles = constitutional.parse_principles(constitutional.default_principles_text())
    revisions = constitutional.revise(tiny_model, prompts, principles, GenerationParams(max_new_tokens=6))
    assert len(revisions) == 3 and all(isinstance(r.revised, str) for r in revisions)
    revisions[0].revised = revisions[0].original  # a revision that changed nothing teaches nothing
    pairs, dropped = constitutional.preference_pairs(revisions)
    assert dropped == 1 + sum(1 for r in revisions[1:] if not r.revised or r.revised == r.original)
    for pair in pairs:
        assert pair.meta["chosen"] == pair.reference and pair.meta["rejected"] != pair.reference
        assert pair.meta["property"] in constitutional.PROPERTIES and pair.split == "train"
    if pairs:
        assert len(dpo.rows(tiny_model, TASK, pairs, 48)) == len(reward.rows(tiny_model, TASK, pairs, 48)) == len(pairs)
    records = constitutional.as_records(revisions)
    assert set(records[0]) == {"prompt_id", "prompt", "principle", "property", "original", "critique", "revised"}


def test_a_stopped_loop_returns_no_half_revisions(tiny_model):
    stop = threading.Event()
    stop.set()
    principles = constitutional.parse_principles(constitutional.default_principles_text())
    assert constitutional.revise(tiny_model, TASK.split("test")[:2], principles, GenerationParams(max_new_tokens=2),
                                 stop=stop) == []  # fmt: skip


def test_a_property_is_read_without_case_as_uploads_read_it():
    (principle,) = constitutional.parse_principles(
        "principles:\n  - {name: x, property: Harmless, critique: c, revision: r}\n"
    )
    assert principle.property == "harmless"
