"""The Attention tab: weights from one eager pass (rows sum to 1, generation untouched and held off meanwhile), the
heatmap per layer and head, the cut note, clear messages, the CLI, and the gradio_client endpoint."""

import threading
import time
from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd
import pytest
from gradio_client import Client

from evals.__main__ import main
from evals.tasks import load_task
from modules.inside import attention
from modules.models import GenerationParams, remote
from modules.ui import attention as tab
from modules.ui import attention_chart
from tests.conftest import table_rows

GREEDY = GenerationParams(max_new_tokens=6)
TASK = load_task("dialogue-summary")


@pytest.fixture(autouse=True)
def short_answers(monkeypatch):
    """The tiny model's random answers run to the limit: a few tokens keep the prompt in view."""
    monkeypatch.setattr(attention, "ANSWER_TOKENS", 4)


def test_each_row_is_a_distribution_and_each_token_is_placed(tiny_model):
    seen = tiny_model.attention("the cat sat on the mat", answer=" a dog")
    assert np.allclose(seen.weights.sum(-1).numpy(), 1.0, atol=1e-5)
    assert seen.text.endswith("assistant\n a dog") and seen.tokens[-2:] == ["a", "dog"]
    assert [seen.text[start:end] for start, end in seen.offsets] == seen.tokens


def test_the_eager_pass_leaves_generation_unchanged_and_no_generation_runs_during_it(tiny_model, monkeypatch):
    before_text = tiny_model.generate(["the cat sat"], GREEDY)[0].text
    before = tiny_model.hf.config._attn_implementation
    assert before != "eager"  # else the switch would not be tested
    events, release = [], threading.Event()
    forward = tiny_model.hf.forward

    def watched(*args, **kwargs):
        if kwargs.get("output_attentions"):
            events.append(("attention", tiny_model.hf.config._attn_implementation))
            release.wait(5)  # hold the eager pass open while a generation is asked for
            events.append(("attention done", None))
        else:
            events.append(("generate", tiny_model.hf.config._attn_implementation))
        return forward(*args, **kwargs)

    monkeypatch.setattr(tiny_model.hf, "forward", watched)
    looking = threading.Thread(target=tiny_model.attention, args=("the cat sat on the mat",))
    looking.start()
    while not events:
        time.sleep(0.01)
    texts = []
    generating = threading.Thread(target=lambda: texts.append(tiny_model.generate(["the cat sat"], GREEDY)[0].text))
    generating.start()
    generating.join(1.0)  # unlocked, the tiny model would answer well within this
    assert generating.is_alive(), "a generation ran during the eager pass"
    release.set()
    looking.join()
    generating.join()
    kinds = [kind for kind, _ in events]
    assert kinds[:2] == ["attention", "attention done"] and set(kinds[2:]) == {"generate"}
    assert events[0][1] == "eager" and {impl for kind, impl in events if kind == "generate"} == {before}
    assert texts == [before_text] and tiny_model.hf.config._attn_implementation == before


def test_the_handler_draws_a_head_the_average_and_exports(tiny_llama_dir, tiny_model):
    example = TASK.split("test")[0].id
    note, figure, layer, head, table, summary, csv_path, html_path, kept = tab.run(
        str(tiny_llama_dir), "dialogue-summary", example, "", progress=None, k=1
    )
    layers, heads, seq, _ = kept.weights.shape
    assert (layers, heads) == (2, 4) and layer.maximum == layers and head.choices[0][0] == attention_chart.AVERAGE
    heatmap = figure.data[0]
    lower = np.tril(np.ones((seq, seq), dtype=bool))
    average = kept.weights[-1].astype(np.float32).mean(axis=0)
    assert np.allclose(np.asarray(heatmap.z, dtype=float)[lower], average[lower])  # the last layer's average
    assert np.isnan(np.asarray(heatmap.z, dtype=float)[~lower]).all()  # a token cannot look ahead: blank
    assert "average over heads" in figure.layout.title.text and len(heatmap.x) == seq
    redrawn, html_again = tab.redraw(kept, 1, "head 3")  # the picker: no forward pass, the kept weights
    assert np.allclose(np.asarray(redrawn.data[0].z, dtype=float)[lower], kept.weights[0, 2][lower])
    assert "layer 1, head 3" in redrawn.layout.title.text
    legend = {trace.name for trace in figure.data[1:]}
    assert legend == set(kept.names) and "answer" in legend  # a colour for every segment in view
    shares = pd.read_csv(csv_path)
    assert list(shares.layer) == ["layer 1", "layer 2", "all layers"]
    assert shares.drop(columns="layer").sum(axis=1).tolist() == pytest.approx([1.0] * 3)
    assert list(table.columns) == list(shares.columns) and summary.startswith("Averaged over every layer")
    page = Path(html_path).read_text()
    assert "<script src=" not in page.split("Plotly.newPlot")[0] and "plotly.js" in page.lower()  # inline, offline
    assert "64 tokens read" in note and "Cut for the picture" in note  # the tiny model's context is 64 tokens


def test_a_long_prompt_is_cut_from_the_start_with_a_note_and_the_rest_keeps_its_segments(tiny_model):
    query = TASK.split("test")[0]
    picture = attention.few_shot(tiny_model, TASK, query, 2, max_tokens=30)
    assert len(picture.tokens) == 30 and picture.cut > 0 and "example 1" in picture.cut_segments
    # the names of what remains are those of the same tokens in the whole, uncut text
    shots = TASK.split("train")[:2]
    text = tiny_model.render(attention.prompting.build_prompt(tiny_model, TASK, shots, query)) + picture.answer
    offsets = tiny_model.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    parts = [*attention.template_parts(TASK, shots, query), ("answer", picture.answer)]
    names = attention.token_segments(offsets, attention.segments(text, parts))
    assert len(names) == picture.cut + 30 and picture.names == names[:1] + names[-29:]  # the first token is kept
    assert picture.names[-1] == "answer" and "input" in picture.names
    note = tab.describe(picture, "tiny")
    assert f"{picture.cut} tokens from the start were cut" in note and "the first token" in note
    assert "the last 29" in note


@pytest.mark.parametrize(
    ("task_name", "example", "prompt", "k", "message"),
    [
        ("dialogue-summary", "", "  ", 2, "The prompt is empty: pick an example"),
        ("no-such-task", "x", "", 2, "Unknown task 'no-such-task'"),
        ("dialogue-summary", "nope", "", 2, "nope"),
        ("dialogue-summary", None, "", 9, "k few-shot examples must be a whole number from 0 to 4"),
    ],
)
def test_bad_inputs_get_clear_messages(tiny_llama_dir, task_name, example, prompt, k, message):
    with pytest.raises(gr.Error, match=message):
        tab.run(str(tiny_llama_dir), task_name, example, prompt, progress=None, k=k)


def test_a_server_model_says_plainly_it_returns_no_attention(monkeypatch):
    url = "http://127.0.0.1:9/v1"  # nothing listens: the refusal comes before any request
    monkeypatch.setattr(tab, "load_model", lambda spec, progress=None: remote.RemoteModel(spec, "fake", url, 4096))
    with pytest.raises(gr.Error, match="a server does not return attention weights"):
        tab.run(f"openai:fake@{url}", "dialogue-summary", "", "Say hi", progress=None)


def test_the_cli_prints_the_shares_and_the_summary(tiny_llama_dir, tmp_path, capsys):
    out = tmp_path / "shares.json"
    code = main(["attention", "--model", str(tiny_llama_dir), "--k", "1", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0 and "Averaged over every layer and head, the answer's attention went" in printed
    assert "all layers" in printed and "example 1" in printed and out.exists()
    assert main(["attention", "--model", str(tiny_llama_dir), "--prompt", " "]) == 2
    assert "error: The prompt is empty" in capsys.readouterr().err


def test_the_endpoint_answers_a_gradio_client(served_app, tiny_llama_dir):
    client = Client(served_app, verbose=False)
    client.predict(str(tiny_llama_dir), api_name="/load_model")
    note, figure, layer, head, table, summary, csv_path, html_path = client.predict(
        "dialogue-summary", TASK.split("test")[0].id, "", 1, api_name="/attention_run"
    )
    assert "tokens read" in note and summary.startswith("Averaged over every layer")
    assert [row["layer"] for row in table_rows(table)][-1] == "all layers"
    assert csv_path.endswith(".csv") and html_path.endswith(".html")


@pytest.mark.slow
def test_on_the_embedded_model_the_answer_reads_its_input(embedded_model, monkeypatch):
    monkeypatch.setattr(attention, "ANSWER_TOKENS", 48)
    query = TASK.split("test")[0]
    started = time.perf_counter()
    picture = attention.few_shot(embedded_model, TASK, query, 2)
    seconds = time.perf_counter() - started
    shares = picture.table.loc["all layers"]
    assert picture.cut > 0 and picture.answer and shares.sum() == pytest.approx(1.0)  # ~530 tokens: cut to 256
    assert {"instruction", "example 2", "input"} <= set(shares.index) and "example 1" in picture.cut_segments
    # the answer reads its own dialogue more than the solved example kept beside it
    assert shares["input"] > shares["example 2"], shares
    print(f"one attention request, k=2: {seconds:.1f} s")
