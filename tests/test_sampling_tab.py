"""The Sampling tab's handlers: the explorer's steps and a clicked token, n samples per setting with seeds,
intervals and diversity, the stored example, and bad settings with clear messages."""

import math
from types import SimpleNamespace

import gradio as gr
import pandas as pd
import pytest

from evals.tasks import load_task
from modules.models import GenerationParams
from modules.techniques import prompting
from modules.ui import pickers, sampling, sampling_stored
from modules.ui.sampling_steps import COLOURS
from modules.ui.stop_flag import StopFlag

CONTROLS = dict(decoding="sample", temperature=0.8, top_k=8, top_p=0.9, seed=3, max_new_tokens=6)


def explore(spec, typed="the cat sat on the mat", **changes):
    return sampling.explore(spec, "dialogue-summary", "ds-045", typed, progress=None, **(CONTROLS | changes))


def test_the_explorer_shows_each_step_from_the_same_call_as_the_text(tiny_model):
    steps, params, tokens, line, table, figure, csv_path = explore(tiny_model.spec)
    assert 1 <= len(steps) <= 6 and len(tokens) == len(steps)
    assert [token for token, _ in tokens] == [step.token.replace("\n", "↵\n") for step in steps]
    assert {band for _, band in tokens} <= set(COLOURS)
    assert line.startswith(f"**Step 1 of {len(steps)}:**") and "top-k 8, top-p 0.9" in line
    assert len(table) == sampling.TOP and table.chosen.sum() <= 1
    assert [trace.name for trace in figure.data] == ["p (model)", "p at T=0.8", "p drawn from"]
    exported = pd.read_csv(csv_path)
    assert len(exported) == sampling.TOP * len(steps) and exported.step.max() == len(steps)
    # The tokens shown are the ones generate writes with the same settings and seed (one call gives both).
    task = load_task("dialogue-summary")
    example = pickers.pick_example(task, "ds-045", "the cat sat on the mat")
    (generated,) = tiny_model.generate([prompting.build_prompt(tiny_model, task, [], example)], params)
    assert generated.text and "".join(step.token for step in steps).startswith(generated.text)


def test_clicking_a_token_shows_the_distribution_it_was_drawn_from(tiny_model):
    steps, params, *_ = explore(tiny_model.spec)
    last = len(steps) - 1
    line, table, figure = sampling.show_step(steps, params, SimpleNamespace(index=last))
    assert line.startswith(f"**Step {last + 1} of {len(steps)}:**")
    chosen = table[table.chosen]
    if len(chosen):  # the drawn token may lie outside the 20 most likely; when shown, a filter never removed it
        assert chosen["removed by"].item() == "" and chosen["p drawn from"].item() > 0
    kept = table[table["removed by"] == ""]
    assert 0 < kept["p drawn from"].sum() <= 1.0 + len(kept) * 5e-5  # shown rounded to 4 places
    assert table.loc[table["removed by"] != "", "p drawn from"].eq(0).all()
    with pytest.raises(gr.Error, match="Press Generate first"):
        sampling.show_step(None, params, SimpleNamespace(index=0))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"top_p": 0}, "Top-p must be above 0"),
        ({"top_k": -1}, "Top-k"),
        ({"temperature": 0}, "Temperature"),
        ({"max_new_tokens": 0}, "Max new tokens"),
        ({"typed": "word " * 200}, "context"),  # the tiny model's context is 64 tokens
    ],
)
def test_bad_settings_get_clear_messages(tiny_model, changes, message):
    with pytest.raises(gr.Error, match=message):
        explore(tiny_model.spec, **changes)


def test_an_empty_prompt_uses_the_picked_example_and_an_unknown_one_is_named(tiny_model):
    with pytest.raises(gr.Error, match="no-such"):
        sampling.explore(tiny_model.spec, "dialogue-summary", "no-such", "", progress=None, **CONTROLS)


def test_n_samples_per_setting_with_seeds_intervals_and_diversity(tiny_model):
    outputs = ["status", "summary", "every", "download"]
    typed = "the cat sat on the mat"  # a typed prompt has no reference: diversity only, no quality score
    shown = list(sampling.run_samples(outputs, tiny_model.spec, StopFlag(), "dialogue-summary", "ds-045", typed,
                                      ["greedy", "T=1.2"], 3, 5, 6, progress=None))  # fmt: skip
    final = shown[-1]
    assert final["status"].startswith("**Done.** 2/2 settings")
    summary = final["summary"]
    assert summary.setting.tolist() == ["greedy", "T=1.2"]
    assert summary.seeds.tolist() == ["5", "5, 6, 7"] and summary.n.tolist() == [1, 3]
    assert "rougeL" not in summary  # the stored example (a task example) has them: see below
    assert summary.self_bleu[0] == "—" and isinstance(summary.distinct_1[1], float)
    assert len(final["every"]) == 4 and final["download"].endswith(".json")
    with pytest.raises(gr.Error, match="Unknown setting"):
        list(sampling.run_samples(outputs, tiny_model.spec, StopFlag(), "dialogue-summary", "ds-045", typed,
                                  ["T=9"], 3, 0, 6, progress=None))  # fmt: skip


def test_the_tab_opens_with_the_stored_example_labelled():
    stored = sampling_stored.load()
    assert "Stored example" in stored.note and "SmolLM2-135M" in stored.note and "n=1" in stored.note
    assert stored.steps and len(stored.tokens) == len(stored.steps)
    assert math.isclose(stored.table["p drawn from"].sum(), 1.0, abs_tol=0.2)  # the top 20 hold most of it
    assert stored.summary.setting.tolist()[0] == "greedy" and isinstance(stored.params, GenerationParams)
    assert "one sample: no interval" in stored.summary.rougeL[0] and "[" in stored.summary.rougeL[1]


def test_the_cli_prints_each_step_and_the_settings_table(tiny_llama_dir, tmp_path, capsys):
    from evals.__main__ import main

    out = tmp_path / "settings.csv"
    args = ["sampling", "--model", str(tiny_llama_dir), "--prompt", "the cat sat", "--max-new-tokens", "4",
            "--settings", "greedy,T=1.2", "--n", "3", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "top-k 40, top-p 0.9, seed 0" in printed and "kept mass" in printed and "self_bleu" in printed
    assert out.read_text().splitlines()[0].startswith("setting,n,seeds")
    assert main(["sampling", "--model", str(tiny_llama_dir), "--prompt", " "]) == 2
    assert "The prompt is empty" in capsys.readouterr().err
    assert main(["sampling", "--model", str(tiny_llama_dir), "--prompt", "x", "--top-p", "0"]) == 2
    assert "top_p must be in (0, 1]" in capsys.readouterr().err


def test_a_server_step_shows_the_models_own_top_tokens_and_says_what_is_missing():
    from modules.models.interface import Step
    from modules.ui.sampling_steps import step_view

    steps = [Step(" Hi", math.log(0.6), [(" Hi", math.log(0.6)), (" Hello", math.log(0.3))])]  # no sampled_from
    line, table, figure = step_view(steps, 0, GenerationParams(do_sample=True, temperature=0.7, top_p=0.9))
    assert "returns the model's own top tokens only" in line and "p = 0.600" in line
    assert table.columns.tolist() == ["rank", "token", "p (model)", "chosen"] and table.chosen.tolist() == [True, False]
    assert [trace.name for trace in figure.data] == ["p (model)"]
