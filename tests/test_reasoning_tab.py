"""The reasoning tab through gradio_client, and the five techniques end to end on the embedded model."""

import json

import pytest

from tests.test_cli import cli

# task, example, question, numeric answer, k, n, temperature, seed
GOOD = ["arithmetic-word-problems", "awp-081", "", "", 2, 3, 0.7, 0]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({1: None}, "The question is empty"),
        ({2: "What is 2 + 2?", 3: "four"}, "The answer must be a number, got 'four'"),
        ({5: 0}, "less than minimum value 1"),
    ],
)
def test_bad_input_is_a_clean_error(client, changes, message):
    args = list(GOOD)
    for index, value in changes.items():
        args[index] = value
    with pytest.raises(Exception, match=message):
        client.predict(*args, api_name="/reasoning_run")


@pytest.mark.slow
def test_five_columns_on_the_embedded_model(client):
    cells = client.predict(*GOOD, api_name="/reasoning_run")
    summaries, bodies, reports = cells[0::3], cells[1::3], cells[2::3]
    for summary in summaries:  # the verdict must match the answer shown: awp-081's answer is 266
        first_line = summary.splitlines()[0]
        answer = first_line.removeprefix("**Answer:** ").partition(" · ")[0]
        right = answer not in ("", "—") and float(answer) == 266
        verdict = "✅ correct" if right else "❌ incorrect (expected 266)"
        assert first_line == f"**Answer:** {answer} · {verdict}", summary
    assert "Votes:" in summaries[3] and "def solution" in bodies[4] and "**Sandbox:**" in reports[4]
    assert all(b.strip() for b in bodies)


@pytest.mark.slow
def test_five_techniques_end_to_end_through_the_cli(tmp_path, capsys):
    """Bounded by work (5 examples, 5 systems), run in this process: no wait on a subprocess's clock."""
    out = tmp_path / "reasoning.json"
    systems = "direct,cot,few-shot-cot,self-consistency:n=3,pal"
    code, _, err = cli(capsys, "compare", "--task", "arithmetic-word-problems", "--systems", systems, "--limit", "5",
                       "--out", str(out))  # fmt: skip
    assert code == 0, err
    payload = json.loads(out.read_text())
    assert len(payload["per_example"]) == 25
    accuracy = {a["system"]: a for a in payload["aggregate"] if a["score"] == "numeric_accuracy"}
    assert set(accuracy) == {"direct", "cot", "few-shot-cot", "self-consistency (n=3)", "pal"}
    assert all(0 <= a["ci_low"] <= a["mean"] <= a["ci_high"] <= 1 and a["n"] == 5 for a in accuracy.values())
    pal_rows = [r for r in payload["per_example"] if r["system"] == "pal"]
    assert all(r["output"].strip() for r in pal_rows)
