"""The Scaling tab: its table is scaling.plan's, its chart places the real models on log axes, its downloads hold
the plan's own numbers, bad inputs get the calculator's messages, and its endpoint works through gradio_client."""

import json
from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd
import pytest

from modules.inside import scaling
from modules.ui import scaling as tab
from modules.ui.errors import guard_every_event

INPUTS = [("135e6", "1.62e21"), ("", "1e21"), ("70e9", ""), (" 1,000,000 ", "6e18")]


def trace(figure, starts: str):
    (found,) = [t for t in figure.data if t.name.startswith(starts)]
    return found


@pytest.mark.parametrize(("parameters", "compute"), INPUTS)
def test_the_table_and_the_csv_are_the_plan(parameters, compute):
    n = float(parameters.strip().replace(",", "")) if parameters.strip() else None
    expected = scaling.plan(n, float(compute) if compute else None)
    _, shown, _, csv_path, json_path, _ = tab.calculate(parameters, compute)
    assert list(shown["allocation"]) == list(expected["allocation"])
    assert list(shown["parameters N"]) == [tab.short(value) for value in expected["parameters N"]]
    for fit in scaling.FITS:
        column = f"nats per token, predicted by {fit.name}"
        (label,) = [c for c in shown if column in c]
        assert list(shown[label]) == [f"{loss:.3f}" for loss in expected[f"loss ({fit.name})"]]
    pd.testing.assert_frame_equal(pd.read_csv(csv_path), expected, rtol=1e-12)  # raw numbers, not the shown ones
    assert pd.DataFrame(json.loads(Path(json_path).read_text())["plan"]).equals(expected)


def test_numbers_are_shown_readably():
    assert [tab.short(v) for v in (135e6, 1.4e12, 999.6e9, 70e9, 1.2e16, 0.5)] == [
        "135M", "1.4T", "1T", "70B", "1.2e16", "0.5",
    ]  # fmt: skip
    status, shown, *_ = tab.calculate("135e6", "1.62e21")
    row = shown.set_index("allocation").loc["your N on this compute"]
    assert (row["parameters N"], row["tokens D"], row["tokens per parameter"]) == ("135M", "2T", "14,815")
    assert "Budget C = 1.62e21 FLOPs** (given)" in status
    status, *_ = tab.calculate("135e6", "")
    assert "from N = 135M at 20 tokens per parameter" in status


def test_the_chart_places_the_real_models_on_log_axes():
    _, shown, figure, *_ = tab.calculate("70e9", "5.88e23")
    models = scaling.models_table()
    points = trace(figure, "real models")
    assert list(points.text) == list(models["model"]) and np.allclose(points.x, models["parameters N"])
    assert np.allclose(points.y, models["tokens D"])
    assert "SmolLM2-135M (the embedded model)" in points.text and "Chinchilla" in points.text
    assert points.customdata[0][3] == models["source"][0] and "tokens per parameter" in points.hovertemplate
    assert figure.layout.xaxis.type == "log" and figure.layout.yaxis.type == "log"
    rule = trace(figure, "20 tokens per parameter")
    assert np.allclose(np.array(rule.y) / np.array(rule.x), 20)
    iso = trace(figure, "your budget: C")
    assert np.allclose(6 * np.array(iso.x) * np.array(iso.y), 5.88e23)
    chosen = trace(figure, "your budget's allocations")
    plan = scaling.plan(70e9, 5.88e23)
    assert list(chosen.text) == list(shown["allocation"]) == list(plan["allocation"])
    assert np.allclose(chosen.x, plan["parameters N"]) and np.allclose(chosen.y, plan["tokens D"])
    for fit in scaling.FITS:
        line = trace(figure, f"compute-optimal under {fit.name}")
        assert len(line.x) > 10
        for n, d in zip(line.x, line.y):  # each point is the fit's optimum at its own budget 6ND
            assert fit.optimal(6 * n * d) == pytest.approx((n, d))


def test_the_chart_exports_as_offline_html():
    *_, html_path = tab.calculate("", "1e21")
    html = Path(html_path).read_text()
    assert "Plotly.newPlot" in html and '<script src="https' not in html and len(html) > 1_000_000  # plotly.js inside
    assert "Chinchilla" in html


@pytest.mark.parametrize(("parameters", "compute", "message"), [
    ("", "", "Give the parameters N, the compute C in FLOPs, or both."),
    ("abc", "", "Parameters N must be a number such as 135e6"),
    ("", "1e21x", "Compute C must be a number such as 135e6"),
    ("0", "", "Parameters N must be a positive number"),
    ("-135e6", "1e21", "Parameters N must be a positive number"),
    ("", "-1", "Compute C must be a positive number"),
    ("", "1e50", "Compute C must be at most 1e40"),
    ("1e50", "", "Parameters N must be at most 1e40"),
    ("", "nan", "Compute C must be a positive number"),
    ("1" * 400, "", "Parameters N is 400 characters; the limit is 300"),
])  # fmt: skip
def test_bad_inputs_get_a_clear_message(parameters, compute, message):
    with pytest.raises(gr.Error) as raised:
        tab.calculate(parameters, compute)
    assert message in str(raised.value.message)


@pytest.fixture(scope="module")
def scaling_app():
    with gr.Blocks() as demo:
        tab.build(gr.State(), gr.Markdown())
    guard_every_event(demo)
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    yield demo
    demo.close()


def test_the_tab_opens_with_chinchilla_worked_out(scaling_app):
    tables = [block.value for block in scaling_app.blocks.values() if isinstance(block, gr.Dataframe)]
    first = tables[0]
    assert first["headers"][0] == "allocation" and len(first["data"]) == 4
    assert first["data"][3][:4] == ["your N on this compute", "70B", "1.4T", "20.0"]
    plots = [block.value for block in scaling_app.blocks.values() if isinstance(block, gr.Plot)]
    assert plots and plots[0] is not None
    downloads = [block.value for block in scaling_app.blocks.values() if isinstance(block, gr.DownloadButton)]
    assert len(downloads) == 3 and all(downloads)


def test_the_endpoint_through_gradio_client(scaling_app):
    from gradio_client import Client

    client = Client(scaling_app.local_url, verbose=False)
    status, table, _, csv_path, json_path, html_path = client.predict(
        parameters="135e6", compute="1.62e21", api_name="/scaling_run"
    )
    assert "1.62e21" in status and len(table["data"]) == 4
    pd.testing.assert_frame_equal(pd.read_csv(csv_path), scaling.plan(135e6, 1.62e21), rtol=1e-12)
    assert html_path.endswith(".html") and json_path.endswith(".json")
    with pytest.raises(Exception, match="Compute C must be a positive number"):
        client.predict(parameters="", compute="-1", api_name="/scaling_run")
