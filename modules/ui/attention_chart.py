"""The attention heatmap: one layer's head (or the average over its heads), tokens labelled and coloured by segment."""

import html

import numpy as np
import plotly.graph_objects as go

from evals.report import legible
from modules.inside.attention import MARKUP, Picture

AVERAGE = "average over heads"
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22")
MARKUP_COLOUR = "#8c8c8c"
MAX_TICKS = 48  # labelled tokens per axis: more overlap at 800 px; hover names every token
CAP = 0.99  # colours saturate at this quantile: the first token's column (the sink) would wash out the rest


def head_choices(heads: int) -> list[str]:
    return [AVERAGE, *(f"head {h}" for h in range(1, heads + 1))]


def weights_of(picture: Picture, layer: int, head: str) -> np.ndarray:
    """(seq, seq) float32: one head of layer `layer` (1-based), or the mean over its heads."""
    layers, heads = picture.weights.shape[:2]
    if not 1 <= layer <= layers:
        raise ValueError(f"Layer must be from 1 to {layers}, got {layer}.")
    chosen = picture.weights[layer - 1].astype(np.float32)  # (heads, seq, seq)
    if head == AVERAGE:
        return chosen.mean(axis=0)
    if head not in head_choices(heads):
        raise ValueError(f"Head must be '{AVERAGE}' or head 1 to head {heads}, got '{head}'.")
    return chosen[int(head.split()[1]) - 1]


def colours(names: list[str]) -> dict[str, str]:
    """A colour per segment, in prompt order; markup grey."""
    named = [name for name in dict.fromkeys(names) if name != MARKUP]
    return {MARKUP: MARKUP_COLOUR} | {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(named)}


def shown(token: str) -> str:
    """A token as a label: whitespace made visible, markup escaped (plotly reads labels as HTML)."""
    return html.escape(token.replace("\n", "↵").replace(" ", "·")) or "∅"


def heatmap(picture: Picture, layer: int, head: str) -> go.Figure:
    """Rows: the token reading (query); columns: the token looked at (key). Above the diagonal is empty: a token
    cannot look ahead."""
    z = weights_of(picture, layer, head)
    seq = len(picture.tokens)
    z = np.where(np.tril(np.ones((seq, seq), dtype=bool)), z, np.nan)  # causal: blank, not zero
    cap = float(np.nanquantile(z, CAP)) or 1.0
    palette = colours(picture.names)
    labels = [f"{i} {shown(t)} ({name})" for i, (t, name) in enumerate(zip(picture.tokens, picture.names))]
    fig = go.Figure(go.Heatmap(z=z, x=labels, y=labels, zmin=0, zmax=cap, colorscale="Blues",
                               colorbar={"title": {"text": "weight"}, "thickness": 12},
                               hovertemplate="%{y} looks at<br>%{x}: %{z:.3f}<extra></extra>"))  # fmt: skip
    ticks = list(range(0, seq, max(1, -(-seq // MAX_TICKS))))
    text = [f'<span style="color:{palette[picture.names[i]]}">{shown(picture.tokens[i])}</span>' for i in ticks]
    axis = {"tickmode": "array", "tickvals": [labels[i] for i in ticks], "ticktext": text, "tickfont_size": 10}
    fig.update_xaxes(title_text="looked at (key)", tickangle=-60, **axis)
    fig.update_yaxes(title_text="reading (query)", autorange="reversed", **axis)
    for start, end, name in runs(picture.names):
        fig.add_shape(type="rect", xref="x", yref="paper", x0=start - 0.5, x1=end - 0.5, y0=1.005, y1=1.03,
                      fillcolor=palette[name], line_width=0)  # fmt: skip
        if start:  # a thin line where a segment begins, across and down
            line = {"color": "rgba(128, 128, 128, 0.6)", "width": 1}
            fig.add_shape(type="line", xref="x", yref="paper", x0=start - 0.5, x1=start - 0.5, y0=0, y1=1, line=line)
            fig.add_shape(type="line", xref="paper", yref="y", x0=0, x1=1, y0=start - 0.5, y1=start - 0.5, line=line)
    for name, colour in palette.items():  # the legend of segment colours (no data: the strip and labels carry it)
        if name in picture.names:
            fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=name,
                                     marker={"color": colour, "size": 10, "symbol": "square"}))  # fmt: skip
    fig.update_layout(title=f"Attention, layer {layer}, {head} (colours capped at {cap:.3f}; hover for exact weights)",
                      height=760, margin={"t": 70, "b": 60})  # fmt: skip
    legible(fig)
    fig.update_xaxes(showgrid=False)
    fig.update_yaxes(showgrid=False)
    return fig


def runs(names: list[str]) -> list[tuple[int, int, str]]:
    """(start, end, name) of each stretch of consecutive tokens in one segment."""
    stretches, start = [], 0
    for i in range(1, len(names) + 1):
        if i == len(names) or names[i] != names[start]:
            stretches.append((start, i, names[start]))
            start = i
    return stretches
