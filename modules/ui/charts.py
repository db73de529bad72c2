"""Every plotly figure the tabs show: scores with intervals, precision variants, sensitivity, training loss."""

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from evals import comparison, report
from evals.runner import Run
from modules.studies import compression

QUALITY_SCORES = ("rouge1", "rouge2", "rougeL", "bleu", "numeric_accuracy", "exact_match")


def scores(run: Run, title: str) -> go.Figure:
    """Bars of the quality scores per system with 95% interval error bars; one panel per score (own scale): the
    report's chart, so a tab and a report show a run the same way."""
    data = run.aggregate
    shown = data[data.score.isin(QUALITY_SCORES)] if not data.empty else data
    return report.chart(shown, title)


def variants(table: pd.DataFrame) -> go.Figure:
    """Memory and speed bars, and the quality-vs-speed scatter with the Pareto front marked."""
    table = table.copy()
    if "pareto" not in table:
        table["pareto"] = False
    fig = make_subplots(rows=1, cols=3, subplot_titles=["weight memory (MB)", "decode tokens/s", "ROUGE-L vs speed"])
    fig.add_trace(go.Bar(x=table.variant, y=table["weight MB"], name="weight MB", showlegend=False), 1, 1)
    fig.add_trace(go.Bar(x=table.variant, y=table["tok/s batch 1"], name="batch 1"), 1, 2)
    fig.add_trace(go.Bar(x=table.variant, y=table["tok/s batch 8"], name="batch 8"), 1, 2)
    if "rougeL" in table:
        front = table[table.pareto]
        fig.add_trace(go.Scatter(x=table["tok/s batch 1"], y=table.rougeL, mode="markers+text", text=table.variant,
                                 textposition="top center", name="variants"), 1, 3)  # fmt: skip
        fig.add_trace(go.Scatter(x=front["tok/s batch 1"], y=front.rougeL, mode="lines+markers",
                                 name="Pareto front", marker={"size": 12, "symbol": "star"}), 1, 3)  # fmt: skip
        fig.update_xaxes(title_text="tokens/s at batch 1", row=1, col=3)
    fig.update_layout(height=380, barmode="group", margin={"t": 50, "b": 40})
    return report.legible(fig)


def sensitivity(table: pd.DataFrame) -> go.Figure:
    """What each layer type loses when it alone is int8: perplexity increase and ROUGE-L lost."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=["perplexity increase", "ROUGE-L lost"])
    fig.add_trace(go.Bar(x=table.variant, y=table["perplexity increase"], showlegend=False), 1, 1)
    fig.add_trace(go.Bar(x=table.variant, y=table["ROUGE-L lost"], showlegend=False), 1, 2)
    fig.update_layout(height=340, margin={"t": 50, "b": 40})
    return report.legible(fig)


def gain_vs_forgetting(quality: Run, probe: Run, score: str = "rougeL") -> go.Figure:
    """Each trained method as a point: its paired gain over the base on the target task (x) against its paired
    change on the probe task (y, below 0: forgotten), with both 95% intervals as error bars. Up and right is best."""
    gains = comparison.paired_differences(quality.per_example, "base", score, quality.seed)
    changes = comparison.paired_differences(probe.per_example, "base", score, probe.seed)
    fig = go.Figure()
    for method in [m for m in gains if m in changes]:
        gain, change = gains[method], changes[method]
        fig.add_scatter(
            x=[gain["mean"]], y=[change["mean"]], mode="markers+text", name=method, text=[method],
            textposition="top center",
            error_x={"type": "data", "symmetric": False, "array": [gain["ci_high"] - gain["mean"]],
                     "arrayminus": [gain["mean"] - gain["ci_low"]]},
            error_y={"type": "data", "symmetric": False, "array": [change["ci_high"] - change["mean"]],
                     "arrayminus": [change["mean"] - change["ci_low"]]},
        )  # fmt: skip
    fig.add_hline(y=0, line_dash="dot", line_color="#57606a")
    fig.add_vline(x=0, line_dash="dot", line_color="#57606a")
    n_target, n_probe = quality.per_example.example_id.nunique(), probe.per_example.example_id.nunique()
    fig.update_layout(
        title=f"Gain on {quality.task} (n={n_target}) vs change on {probe.task} (n={n_probe}), {score}, vs the base",
        xaxis_title=f"gain on the target task ({score}, paired 95% interval)",
        yaxis_title=f"change on the probe ({score}; < 0: forgotten)", height=420, showlegend=False,
        margin={"t": 50, "b": 50},
    )  # fmt: skip
    return report.legible(fig)


def losses(curves: dict[str, list[float]]) -> go.Figure:
    """Training loss per step, one line per method."""
    fig = go.Figure()
    for method, values in curves.items():
        mode = "lines+markers" if len(values) <= 100 else "lines"  # thousands of markers are slow to draw
        fig.add_trace(go.Scatter(x=list(range(1, len(values) + 1)), y=values, mode=mode, name=method))
    fig.update_layout(title="Training loss (mean over answer tokens) per step", xaxis_title="step",
                      yaxis_title="loss", height=320, margin={"t": 40, "b": 40})  # fmt: skip
    return report.legible(fig)


def policy_curves(curves: dict[str, list[dict]]) -> go.Figure:
    """Per training step of each policy: mean reward, log-ratio to the base (KL), answer length, loss. RL runs have
    all four; DPO only its loss. The leash shows as the KL > 0 run's KL staying low while the KL = 0 run's climbs."""
    panels = (("reward", "mean reward"), ("kl", "KL to base (nats)"), ("length", "answer tokens"), ("loss", "loss"))
    fig = make_subplots(rows=2, cols=2, subplot_titles=[title for _, title in panels], horizontal_spacing=0.1,
                        vertical_spacing=0.18)  # fmt: skip
    colors = dict(zip(curves, ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")))
    for index, (key, _) in enumerate(panels):
        for name, points in curves.items():
            shown = [p for p in points if key in p]
            if shown:
                fig.add_trace(go.Scatter(x=[p["step"] for p in shown], y=[p[key] for p in shown], name=name,
                                         mode="lines+markers", line={"color": colors[name]}, legendgroup=name,
                                         showlegend=index == 0 or (key == "loss" and "reward" not in points[0])),
                              row=index // 2 + 1, col=index % 2 + 1)  # fmt: skip
    fig.update_layout(title="Training curves per step", height=520, margin={"t": 70, "b": 40})
    return report.legible(fig)


def compression_front(table: pd.DataFrame, front: str = compression.FRONT) -> go.Figure:
    """The compression table's variants on report.pareto_chart: size (x), ROUGE-L (y, with its 95% interval), the
    marker's area the batch-1 speed, the Pareto front as stars."""
    interval = table["rougeL 95% CI"].str.strip("[]").str.split(",", expand=True).astype(float)
    points = pd.DataFrame({"system": table.variant, "size_mb": table["weight MB"], "quality": table.rougeL,
                           "low": interval[0], "high": interval[1], "tokens_per_s": table["tok/s batch 1"],
                           "pareto": table.get(front, False)})  # fmt: skip
    return report.pareto_chart(points, "ROUGE-L", "tok/s at batch 1")


def magnitude_histogram(values, summary: dict[str, float]) -> go.Figure:
    """How many weights are near zero: |w| of a sample of the decoder's linear weights, the 50% global cut marked."""
    fig = go.Figure(go.Histogram(x=values.numpy(), nbinsx=120, name="|w|"))
    cut = summary["median |w| (the 50% global cut)"]
    fig.add_vline(x=cut, line_dash="dash", annotation_text=f"50% global magnitude cut: |w| < {cut:.3g}")
    fig.update_layout(height=340, xaxis_title="|weight|", yaxis_title="weights (sample)", yaxis_type="log",
                      margin={"t": 30, "b": 50}, showlegend=False)  # fmt: skip
    return report.legible(fig)
