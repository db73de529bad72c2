"""Scaling tab: compute-optimal parameters and tokens for a budget C ≈ 6ND, the loss two published fits predict, and
real models on a tokens-vs-parameters chart; pure arithmetic (modules/inside/scaling.py), no model."""

from dataclasses import asdict
from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd
import plotly.graph_objects as go

from evals import report
from modules import inputs
from modules.inside import scaling
from modules.ui import results
from modules.ui.errors import user_errors

TITLE = "Scaling"
COVERS = ()  # no technique: arithmetic about training, not a way of prompting or changing the model
DEFAULT_PARAMETERS = "70e9"  # Chinchilla: 70B parameters on 1.4T tokens (Hoffmann et al. 2022, Table 1)
DEFAULT_COMPUTE = "5.88e23"  # 6 × 70e9 × 1.4e12; the paper's 5.76e23 counts FLOPs in more detail
SUFFIXES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))
MODEL_WIDTHS = ["20%", "8%", "6%", "8%", "8%", "11%", "11%", "28%"]  # the sources readable at 1,400 px
FRONTIER_POINTS = 80  # budgets along each fit's compute-optimal line


def number(value, name: str) -> float | None:
    """What was typed in a number box: None when empty, else a float (135e6, 1e21, 1,000); else ValueError."""
    if isinstance(value, (int, float)):
        return float(value)
    typed = inputs.text(value, name, inputs.MAX_SHORT_CHARS).replace(",", "").replace("_", "")
    if not typed:
        return None
    try:
        return float(typed)
    except ValueError:
        raise ValueError(f"{name} must be a number such as 135e6 or 1e21, got {inputs.quoted(typed)}.") from None


def short(value: float) -> str:
    """135e6 -> '135M', 1.4e12 -> '1.4T' (3 significant digits); past 1,000T, or under 1, in powers of ten."""
    value = float(f"{value:.3g}")  # rounded first: 999.6e9 is '1T', not '1e+03B'
    for size, suffix in SUFFIXES:
        if size <= value < 1e15:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}".replace("e+", "e")


def per_parameter(value: float) -> str:
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def loss_label(column: str) -> str:
    """'loss (Hoffmann et al. (2022))' -> 'loss, nats per token, predicted by Hoffmann et al. (2022)'."""
    return f"loss, nats per token, predicted by {column[len('loss (') : -1]}" if column.startswith("loss (") else column


def readable(table: pd.DataFrame) -> pd.DataFrame:
    """A plan() or models_table() as people read it: 135M parameters, 2T tokens, losses to 3 decimals."""
    shown = table.copy()
    for column in ("parameters N", "tokens D", "compute C (FLOPs)"):
        shown[column] = shown[column].map(short)
    shown["tokens per parameter"] = shown["tokens per parameter"].map(per_parameter)
    for column in [column for column in shown if column.startswith("loss (")]:
        shown[column] = shown[column].map("{:.3f}".format)  # 1.930, not 1.93: three decimals in every row
    return shown.rename(columns=loss_label)


def hover(table: pd.DataFrame) -> np.ndarray:
    """(N, D, tokens per parameter) per row, readable, for a trace's customdata."""
    return np.column_stack([table["parameters N"].map(short), table["tokens D"].map(short),
                            table["tokens per parameter"].map(per_parameter)])  # fmt: skip


def frontier(fit: scaling.Fit, budgets: np.ndarray, low: float, high: float) -> tuple[list, list]:
    """The fit's optimal (N, D) over the budgets, kept where N is within the chart's [low, high]."""
    points = [fit.optimal(c) for c in budgets]
    kept = [(n, d) for n, d in points if low <= n <= high]
    return [n for n, _ in kept], [d for _, d in kept]


def label_positions(count: int) -> list[str]:
    """Above, below, above... (neighbours such as GPT-3 and Gopher, both 300B tokens, do not print over each other),
    to the right: the smallest model's name is not cut at the chart's left edge at 800 px."""
    return ["top right" if i % 2 == 0 else "bottom right" for i in range(count)]


def chart(table: pd.DataFrame, compute: float) -> go.Figure:
    """Tokens D vs parameters N, log-log: the real models, 20 tokens per parameter, each fit's compute-optimal
    frontier, the iso-compute curve C = 6ND of the budget, and the plan's allocations on it."""
    models = scaling.models_table()
    sizes = pd.concat([models["parameters N"], table["parameters N"]])
    low, high = sizes.min() / 4, sizes.max() * 4
    grid = np.geomspace(low, high, 60)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=grid, y=scaling.TOKENS_PER_PARAMETER * grid, mode="lines",
                             name="20 tokens per parameter", line={"dash": "dash", "color": "grey"}))  # fmt: skip
    spent = pd.concat([models["compute C (FLOPs)"], pd.Series([compute])])
    budgets = np.geomspace(spent.min() / 1e4, spent.max() * 1e4, FRONTIER_POINTS)
    for fit in scaling.FITS:
        x, y = frontier(fit, budgets, low, high)
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=f"compute-optimal under {fit.name}"))
    iso = scaling.FLOPS_PER_PARAMETER_TOKEN
    fig.add_trace(go.Scatter(x=grid, y=compute / iso / grid, mode="lines", line={"dash": "dot"},
                             name=f"your budget: C = {short(compute)} FLOPs (C = 6ND)"))  # fmt: skip
    fig.add_trace(go.Scatter(
        x=models["parameters N"], y=models["tokens D"], mode="markers+text", name="real models (published N, D)",
        text=models["model"], textposition=label_positions(len(models)), marker={"size": 9},
        customdata=np.column_stack([hover(models), models["source"]]),
        hovertemplate="<b>%{text}</b><br>N %{customdata[0]} · D %{customdata[1]}<br>"
                      "%{customdata[2]} tokens per parameter<br>%{customdata[3]}<extra></extra>",
    ))  # fmt: skip
    fig.add_trace(go.Scatter(
        x=table["parameters N"], y=table["tokens D"], mode="markers", name="your budget's allocations",
        marker={"size": 15, "symbol": "star", "color": "crimson"}, text=table["allocation"], customdata=hover(table),
        hovertemplate="<b>%{text}</b><br>N %{customdata[0]} · D %{customdata[1]}<br>"
                      "%{customdata[2]} tokens per parameter<extra></extra>",
    ))  # fmt: skip
    fig.update_xaxes(type="log", title_text="parameters N")
    fig.update_yaxes(type="log", title_text="training tokens D")
    fig.update_layout(height=560, margin={"t": 40, "b": 40}, title="Training tokens vs parameters (log-log)")
    return report.legible(fig)


def status(parameters: float | None, compute: float | None, table: pd.DataFrame) -> str:
    """The budget, where it came from, and each allocation in one line."""
    c = table["compute C (FLOPs)"].iloc[0]
    given = "given" if compute is not None else f"from N = {short(parameters)} at 20 tokens per parameter: C = 120 N²"
    rows = zip(table["allocation"], table["parameters N"], table["tokens D"], table["tokens per parameter"])
    shown = "\n".join(f"- {name}: **{short(n)}** parameters on **{short(d)}** tokens ({per_parameter(r)} per "
                       "parameter)" for name, n, d, r in rows)  # fmt: skip
    return f"**Budget C = {short(c)} FLOPs** ({given})\n\n{shown}"


def calculate(parameters, compute) -> tuple:
    """(status, table, chart, CSV, JSON, chart HTML) for parameters N and / or compute C, typed as text."""
    with user_errors():
        n, c = number(parameters, "Parameters N"), number(compute, "Compute C")
        table = scaling.plan(n, c)
    figure = chart(table, table["compute C (FLOPs)"].iloc[0])
    payload = {"parameters N": n, "compute C": c, "plan": table.to_dict(orient="records"),
               "fits": [asdict(fit) for fit in scaling.FITS],
               "models": scaling.models_table().to_dict(orient="records"),
               "why_they_differ": scaling.WHY_THEY_DIFFER, "inference_cost": scaling.INFERENCE_COST}  # fmt: skip
    csv_path, json_path = results.write_downloads("scaling", table, payload)
    html_path = Path(json_path).with_name("scaling-chart.html")
    # Offline: plotly.js inside (4.8 MB). A fixed div id: the same inputs give the same file (Gradio's cache keeps one).
    html_path.write_text(figure.to_html(include_plotlyjs=True, div_id="scaling-chart"), encoding="utf-8")
    return status(n, c, table), readable(table), figure, csv_path, json_path, str(html_path)


def models_shown() -> pd.DataFrame:
    """The real models, readable, their source last."""
    shown = readable(scaling.models_table())
    return shown[[column for column in shown if column != "source"] + ["source"]]


def fits_markdown() -> str:
    """Each fit's constants with its source."""
    rows = [f"| {f.name} | {f.E} | {f.A} | {f.B} | {f.alpha} | {f.beta} |" for f in scaling.FITS]
    sources = [f"- **{f.name}**: {f.source}" for f in scaling.FITS]
    return (
        "**The fits:** L(N, D) = E + A / N^α + B / D^β, in nats per token; the compute-optimal (N, D) minimises it "
        "at C = 6ND (Kaplan et al. 2020: forward 2ND + backward 4ND FLOPs).\n\n"
        "| fit | E | A | B | α | β |\n|---|---|---|---|---|---|\n"
        + "\n".join(rows)
        + "\n\nSources:\n"
        + "\n".join(sources)
    )


def build(model_state: gr.State, model_info: gr.Markdown) -> None:
    """The tab; it ignores the model (pure arithmetic) and opens with Chinchilla's budget worked out."""
    first = calculate(DEFAULT_PARAMETERS, DEFAULT_COMPUTE)
    with gr.Tab(TITLE):
        gr.Markdown(
            "How to spend a training budget: parameters N against training tokens D, at C ≈ 6ND FLOPs. The course's "
            "rule (about **20 tokens per parameter**, Hoffmann et al. 2022) beside the optimum of two published fits "
            "of the loss. Give N, C, or both (numbers like `135e6`, `1e21`); N alone sets C to what 20 tokens per "
            "parameter cost. It opens with Chinchilla: 70B parameters, 1.4T tokens."
        )
        with gr.Row():
            parameters = gr.Textbox(DEFAULT_PARAMETERS, label="Parameters N (e.g. 135e6; empty: not given)",
                                    max_lines=1)  # fmt: skip
            compute = gr.Textbox(DEFAULT_COMPUTE, label="Compute C in FLOPs (e.g. 1e21; empty: not given)",
                                 max_lines=1)  # fmt: skip
            button = gr.Button("Calculate", variant="primary")
        summary = gr.Markdown(first[0])
        table = gr.Dataframe(first[1], interactive=False, wrap=True, label="Allocations at this budget")
        plot = gr.Plot(first[2], label="Tokens vs parameters: real models, the rule, each fit's frontier")
        with gr.Row():
            csv_file = gr.DownloadButton("Download CSV", value=first[3])
            json_file = gr.DownloadButton("Download JSON", value=first[4])
            html_file = gr.DownloadButton("Download chart (HTML, offline)", value=first[5])
        gr.Markdown(fits_markdown())
        gr.Markdown(f"**Why they differ.** {scaling.WHY_THEY_DIFFER}\n\n**Inference cost.** {scaling.INFERENCE_COST}")
        gr.Dataframe(models_shown(), interactive=False, wrap=True, column_widths=MODEL_WIDTHS,
                     label="Real models: published N and D, with sources")  # fmt: skip
    outputs = [summary, table, plot, csv_file, json_file, html_file]
    # A queue of its own: milliseconds of arithmetic never wait behind a model job (the queue shows gr.Error's text).
    light = {"concurrency_id": "scaling", "concurrency_limit": 4}
    button.click(calculate, [parameters, compute], outputs, api_name="scaling_run", **light)
    for box in (parameters, compute):
        box.submit(calculate, [parameters, compute], outputs, api_visibility="private", **light)
