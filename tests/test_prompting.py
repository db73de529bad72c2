"""In-context learning: shot selection, prompt shapes, system strings, config checks."""

import pytest

from evals.tasks import load_task
from modules.techniques import SYSTEMS, TECHNIQUES, parse_system, prompting

TASK = load_task("dialogue-summary")
POOL = TASK.split("train")
QUERY = TASK.split("test")[0]


def test_fixed_random_and_similar_selection():
    fixed = prompting.select_shots(POOL, QUERY, prompting.Config(k=3))
    assert [e.id for e in fixed] == [e.id for e in POOL[:3]]
    first = prompting.select_shots(POOL, QUERY, prompting.Config(k=3, selection="random", seed=1))
    again = prompting.select_shots(POOL, QUERY, prompting.Config(k=3, selection="random", seed=1))
    other = prompting.select_shots(POOL, QUERY, prompting.Config(k=3, selection="random", seed=2))
    assert first == again and first != other and len(set(first)) == 3
    similar = prompting.select_shots(POOL, POOL[5], prompting.Config(k=2, selection="similar"))
    assert POOL[5] not in similar  # never the query itself
    query_words = prompting._words(POOL[5].input)
    overlaps = [
        len(prompting._words(e.input) & query_words) / len(prompting._words(e.input) | query_words) for e in POOL
    ]
    best = max((o, e.id) for o, e in zip(overlaps, POOL) if e.id != POOL[5].id)
    assert similar[-1].id == best[1]  # the most similar sits next to the query


def test_chat_prompt_has_one_turn_pair_per_shot(tiny_model):
    shots = POOL[:2]
    messages = prompting.build_prompt(tiny_model, TASK, shots, QUERY)
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant", "user"]
    assert messages[1]["content"] == shots[0].reference and QUERY.input in messages[-1]["content"]


def test_plain_prompt_for_models_without_chat_template():
    text = TASK.prompt.text(POOL[:1], QUERY)
    assert text.startswith(TASK.prompt.instruction)
    assert f"Summary: {POOL[0].reference}" in text and text.endswith(f"{QUERY.input}\nSummary:")


def test_clean_cuts_an_invented_next_example_only():
    assert prompting.clean("Tom lends a ladder.\n\nDialogue:\n#Person1#: more", TASK) == "Tom lends a ladder."
    assert prompting.clean("Dialogue: echoed", TASK) == "Dialogue: echoed"  # an echo at the start stays
    assert prompting.next_example_marker(TASK) == "\nDialogue:"


def test_run_keeps_the_exact_prompt_and_shots(tiny_model):
    outputs = prompting.run(tiny_model, TASK, TASK.split("test")[:3], prompting.Config(k=2, max_new_tokens=4))
    assert len(outputs) == 3
    for output in outputs:
        assert output.trace["shots"] == [e.id for e in POOL[:2]]
        assert POOL[0].reference in output.trace["prompt"] and "<|im_start|>assistant" in output.trace["prompt"]
        assert output.new_tokens >= 1 and output.answer is None  # dialogue-summary has no short answer


def test_k_larger_than_pool_is_refused():
    with pytest.raises(ValueError, match=r"k=45 is larger than the train pool .* \(44 examples\)"):
        prompting.validate(TASK, prompting.Config(k=45))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("many-shot", "Unknown system 'many-shot'"),
        ("few-shot:k", "Bad setting 'k'"),
        ("few-shot:q=3", "Bad setting 'q=3'"),
        ("few-shot:k=three", "Bad value for 'k'"),
        ("few-shot:k=-1", "k must be >= 0"),
        ("few-shot:selection=best", "selection must be one of"),
        ("few-shot:max_new_tokens=0", "max_new_tokens must be between"),
    ],
)
def test_bad_system_strings(text, message):
    with pytest.raises(ValueError, match=message):
        parse_system(text)


def test_system_strings():
    assert parse_system("zero-shot")[2].k == 0 and parse_system("one-shot")[2].k == 1
    name, technique, config = parse_system("few-shot:k=5:selection=similar")
    assert (name, technique, config.k, config.selection) == (
        "few-shot (k=5, selection=similar)",
        "prompting",
        5,
        "similar",
    )
    assert parse_system("few-shot")[0] == "few-shot (k=3)"


def test_every_technique_has_config_validate_run_a_system_a_tab_and_a_test():
    import dataclasses
    from pathlib import Path

    from modules.ui import tabs

    covered = tabs.covered()
    test_sources = " ".join(p.read_text() for p in Path(__file__).parent.glob("test_*.py"))
    for name, module in TECHNIQUES.items():
        assert callable(module.run) and callable(module.validate) and dataclasses.is_dataclass(module.Config())
        assert any(technique == name for technique, _ in SYSTEMS.values())
        assert name in covered, f"technique '{name}' has no tab"
        assert f"{name}.run(" in test_sources or f"{name}.Config(" in test_sources, f"technique '{name}' has no test"
    # Fine-tuning makes model variants rather than outputs (docs/ARCHITECTURE.md): its own tab, its own tests.
    from modules.ui import finetune as finetune_tab

    assert callable(finetune_tab.build) and "finetune.Config(" in test_sources and "/finetune_train" in test_sources
