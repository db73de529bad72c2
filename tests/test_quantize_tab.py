"""The quantization tab through gradio_client: mechanics on the tiny model, int8 vs fp32 on the embedded one."""

import pytest
from gradio_client import Client

from modules.models import quantized
from tests.conftest import table_rows


@pytest.fixture()
def tiny_client(served_app, tiny_llama_dir):
    client = Client(served_app, verbose=False)
    client.predict(str(tiny_llama_dir), api_name="/load_model")
    return client


def test_no_precision_is_a_clean_error(tiny_client):
    with pytest.raises(Exception, match="Pick at least one precision"):
        tiny_client.predict([], "all-but-embeddings", "dialogue-summary", 1, api_name="/quant_measure")


def test_measure_side_by_side_and_free_on_the_tiny_model(tiny_client, tiny_model):
    status, table, chart, per_example, csv_path, json_path = tiny_client.predict(
        ["int8", "bf16"], "mlp", "dialogue-summary", 2, api_name="/quant_measure"
    )
    measured = {row["variant"]: row for row in table_rows(table)}
    assert list(measured) == ["fp32", "int8-mlp", "bf16"] and "2 examples" in status
    base = quantized.weight_bytes(tiny_model.hf)  # the table shows MB rounded to 3 decimals
    mlp = sum(m.weight.numel() for n, m in tiny_model.hf.named_modules() if n.rsplit(".", 1)[-1] in quantized.MLP)
    expected_mb = {"fp32": base, "int8-mlp": base - 3 * mlp, "bf16": base / 2}  # int8: 1 byte a weight, not 4
    for name, size in expected_mb.items():
        assert measured[name]["weight MB"] == pytest.approx(size / 2**20, abs=6e-4), name
    from evals.tasks import load_task
    from modules import measure

    assert "first 8 dialogue-summary test references" in status
    texts = [example.reference for example in load_task("dialogue-summary").split("test")][:8]
    assert measured["fp32"]["perplexity"] == pytest.approx(measure.perplexity(tiny_model, texts), abs=6e-4)
    assert measured["fp32"]["identical to fp32"] == 1 and measured["fp32"]["ROUGE-L vs fp32 output"] == 1
    # the Pareto front (speed vs ROUGE-L): the fastest variant is on it; every other row off it is dominated
    rows = list(measured.values())
    assert max(rows, key=lambda row: row["tok/s batch 1"])["pareto"] is True
    for row in (row for row in rows if not row["pareto"]):
        faster_and_as_good = [
            o for o in rows if o["tok/s batch 1"] >= row["tok/s batch 1"] and o["rougeL"] >= row["rougeL"]
        ]
        assert len(faster_and_as_good) > 1, row  # another row besides itself
    assert csv_path.endswith(".csv") and json_path.endswith(".json")
    cells = tiny_client.predict(["int8", "4bit"], "attention", "Hello", 8, api_name="/quant_side_by_side")
    assert "tok/s" in cells[0] and "(not selected)" in cells[1] and "**int8-attention**" in cells[2]
    assert "(not selected)" in cells[3]  # w8a8
    assert "**4bit-attention**" in cells[4] and "tok/s" in cells[4]
    message = tiny_client.predict(api_name="/quant_free")  # "Freed 4 variant(s): int8-mlp, bf16, …."
    count, _, names = message.removeprefix("Freed ").removesuffix(".").partition(" variant(s): ")
    assert {"int8-mlp", "bf16", "int8-attention", "4bit-attention"} <= set(names.split(", "))
    assert int(count) == len(names.split(", "))  # other tests may have loaded more variants of the tiny model
    assert "fp32" not in names.split(", "), message  # fp32 is the base itself: it is never freed
    again = tiny_client.predict(api_name="/quant_free")
    assert again == "Freed 0 variant(s): none were loaded.", again


@pytest.mark.slow
def test_int8_against_fp32_on_the_embedded_model(client):
    status, table, *_ = client.predict(["int8"], "all-but-down_proj", "dialogue-summary", 5, api_name="/quant_measure")
    measured = {row["variant"]: row for row in table_rows(table)}
    assert "5 examples" in status and "SmolLM2-135M" in status
    fp32, int8 = measured["fp32"], measured["int8-all-but-down_proj"]
    assert "dequantized from Q4_1" in fp32["what"] and "int8 dynamic" in int8["what"]
    assert int8["weight MB"] < 0.75 * fp32["weight MB"]
    assert int8["tok/s batch 1"] > 0 and fp32["tok/s batch 8"] > 0  # ratios: benchmarks/quantization.py (noisy here)
    assert fp32["perplexity"] < int8["perplexity"] < 1.3 * fp32["perplexity"]
    assert int8["identical to fp32"] in [pytest.approx(k / 5) for k in range(6)]  # a share of 5 outputs
    assert int8["ROUGE-L vs fp32 output"] > 0.2


def test_sensitivity_ranks_every_component_group(tiny_client):
    status, table, *_ = tiny_client.predict("dialogue-summary", 1, api_name="/quant_sensitivity")
    ranked = table_rows(table)
    assert "Sensitivity" in status and len(ranked) == 8
    assert {row["variant"] for row in ranked} == {f"int8-{layer}" for layer in quantized.LAYER_TYPES}
    increases = [row["perplexity increase"] for row in ranked]
    assert increases == sorted(increases, reverse=True)


def test_the_gguf_column_says_how_to_enable_llama_cpp_when_it_is_absent(client, monkeypatch):
    from modules.models import llamacpp

    monkeypatch.setattr(llamacpp, "unavailable_reason", lambda: f"not installed: {llamacpp.INSTALL}")
    cells = client.predict(["gguf"], "all-but-embeddings", "Hello", 8, api_name="/quant_side_by_side")
    assert "Absent here:" in cells[5] and "requirements-llamacpp.txt" in cells[5]


@pytest.mark.slow
def test_the_original_gguf_through_llama_cpp_when_installed():
    pytest.importorskip("llama_cpp", reason="optional extra: pip install -r requirements-llamacpp.txt")
    from modules.models import get_model, llamacpp
    from modules.studies import quantization

    text, tokens, seconds = llamacpp.chat([{"role": "user", "content": "Say hello."}], 8)
    assert text and 0 < tokens <= 8 and seconds > 0
    assert llamacpp.decode_speed(8) > 0 and 60 < llamacpp.file_mb() < 120
    texts = quantization.held_out_texts()[:2]  # the same weights as the dequantized fp32 model: close perplexity
    assert llamacpp.perplexity(texts) == pytest.approx(quantization.measure.perplexity(get_model(), texts), rel=0.1)
