"""A stored comparison as one self-contained HTML file: the question, the systems and their exact settings, versions,
seed and commit, the table with intervals and paired differences, charts (plotly inline: it opens without network),
example outputs side by side, and what the numbers do not show."""

import html
import json
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from evals import comparison, metrics, pareto, references
from evals.tasks import TaskError, load_task
from modules.store import Store

COLOURS = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#ff9da6", "#9d755d"]
EXAMPLES_SHOWN = 3  # outputs side by side: enough to see what the scores mean, short enough to read
STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2rem auto; padding: 0 1rem; color: #1a1a1a; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; font-size: 0.9rem; }
th, td { border: 1px solid #bbb; padding: 0.3rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #eef; } td.text { white-space: pre-wrap; max-width: 28rem; }
.note { background: #fff8e0; border-left: 4px solid #e0b000; padding: 0.5rem 1rem; }
"""


PANELS_PER_ROW = 3  # at 800 px a fourth panel left each under 160 px, its title over its neighbour's
GREY = "rgba(128, 128, 128, 0.35)"  # grid lines that show on a white page and on a dark one


def chart(quality: pd.DataFrame, title: str) -> go.Figure:
    """Mean per system with its 95% interval as error bars; one panel per quality score (each on its own scale), one
    colour per system named once in the legend (as tick labels, long system names swamped the bars)."""
    names = list(dict.fromkeys(quality.score)) if not quality.empty else []
    systems = list(dict.fromkeys(quality.system)) if not quality.empty else []
    cols = min(max(len(names), 1), PANELS_PER_ROW)
    rows = -(-max(len(names), 1) // cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=names or ["no results"], vertical_spacing=0.18)
    for at, score in enumerate(names):
        for index, system in enumerate(systems):
            part = quality[(quality.score == score) & (quality.system == system)]
            error = {"type": "data", "array": part.ci_high - part["mean"], "arrayminus": part["mean"] - part.ci_low,
                     "color": "#888888"}  # fmt: skip
            bars = go.Bar(x=part.system, y=part["mean"], error_y=error, name=system, legendgroup=system,
                          marker_color=COLOURS[index % len(COLOURS)], showlegend=at == 0)  # fmt: skip
            fig.add_trace(bars, at // cols + 1, at % cols + 1)
    fig.update_layout(title=title, height=120 + 300 * rows, margin={"t": 80, "l": 40, "r": 20, "b": 40})
    fig.update_xaxes(showticklabels=False)  # the legend names the systems
    return legible(fig)


def pareto_points(quality: pd.DataFrame, costs: pd.DataFrame) -> pd.DataFrame | None:
    """Per system: weight size, tokens/s and the first quality score with its interval, the Pareto front over the
    three marked; None unless the systems' weights differ (model variants: precisions, pruned, distilled)."""
    by_system = costs.set_index("system")
    sizes = by_system["weights (MB)"]
    if quality.empty or sizes.dropna().nunique() < 2:
        return None
    score = quality.score.iloc[0]
    part = quality[quality.score == score].set_index("system")
    points = pd.DataFrame({"system": part.index, "size_mb": sizes.reindex(part.index).to_numpy(),
                           "quality": part["mean"].to_numpy(), "low": part.ci_low.to_numpy(),
                           "high": part.ci_high.to_numpy(),
                           "tokens_per_s": by_system["tokens/s (median)"].reindex(part.index).to_numpy()})  # fmt: skip
    if metrics.higher_is_better(score):
        points["pareto"] = pareto.front(points)
    else:  # an error rate or a perplexity: smaller is better
        points["pareto"] = pareto.front(points, lower=("size_mb", "quality"), higher=("tokens_per_s",))
    points.attrs["score"] = metrics.label(score)
    return points


def pareto_chart(points: pd.DataFrame, quality_label: str, speed_label: str = "tokens/s") -> go.Figure:
    """Each system at its size (x) and quality (y, with its 95% interval), the marker's area its speed; the systems
    no other beats on size, speed and quality at once are stars, labelled on the front."""
    fig = go.Figure()
    fastest = points.tokens_per_s.max()
    for on_front, group in points.groupby(points.pareto.astype(bool)):
        fig.add_scatter(
            x=group.size_mb, y=group.quality, mode="markers+text", text=group.system, textposition="top center",
            name="Pareto front" if on_front else "dominated",
            marker={"size": 8 + 24 * (group.tokens_per_s / fastest).fillna(0),
                    "symbol": "star" if on_front else "circle"},
            error_y={"type": "data", "symmetric": False, "array": group.high - group.quality,
                     "arrayminus": group.quality - group.low},
            hovertemplate=f"%{{text}}<br>%{{x:.0f}} MB<br>{quality_label} %{{y:.3f}}<br>%{{customdata:.1f}} "
                          f"{speed_label}<extra></extra>",
            customdata=group.tokens_per_s,
        )  # fmt: skip
    fig.update_layout(height=420, xaxis_title="weight memory (MB): smaller is better",
                      yaxis_title=f"{quality_label} (95% interval)", margin={"t": 30, "b": 50},
                      legend={"orientation": "h", "y": -0.2})  # fmt: skip
    return legible(fig)


def legible(fig: go.Figure) -> go.Figure:
    """Readable at 800 px and on a dark page: transparent backgrounds (the page's own shows through; the lab's CSS
    lightens the text on a dark page), margins that grow to fit tick labels, a few ticks per axis, the legend in
    rows at the foot of the figure (under the axis titles) instead of a column beside the plot."""
    clear = "rgba(0,0,0,0)"
    legend = {"orientation": "h", "x": 0, "y": 0, "yref": "container", "yanchor": "bottom"}
    fig.update_layout(paper_bgcolor=clear, plot_bgcolor=clear, modebar_bgcolor=clear, legend=legend)
    fig.update_xaxes(automargin=True, nticks=6, gridcolor=GREY, zerolinecolor=GREY)
    fig.update_yaxes(automargin=True, nticks=6, gridcolor=GREY, zerolinecolor=GREY)
    fig.update_annotations(font_size=13)  # subplot titles side by side in a third of 800 px
    return fig


def build(run: dict, per_example: pd.DataFrame, baseline: str | None = None, question: str = "",
          price_per_gpu_hour: float | None = None) -> str:  # fmt: skip
    """The report's HTML for a stored run (store.get_run, or several merged: see stored_runs) and its per-example
    table (comparison.per_example_from_results)."""
    if per_example.empty:
        raise ValueError(f"Run {run['id']} has no stored results to report.")
    systems = list(dict.fromkeys(per_example.system))
    baseline = baseline or systems[0]
    quality = comparison.quality_table(per_example, baseline, seed=run["seed"])
    costs = comparison.cost_table(per_example, run.get("measurements") or {}, price_per_gpu_hour)
    n = per_example.example_id.nunique()
    question = question.strip() or f"Which of these systems should we use for the task '{run['task']}'?"
    parts = [
        f"<h1>{_e(question)}</h1>",
        f"<p>Run {run['id']} ({_e(run['status'])}), created {_e(run['created'])}: task <b>{_e(run['task'])}</b>, "
        f"split {_e(run['split'])}, <b>{n} examples</b>, seed {run['seed']}, git commit "
        f"{_e(run.get('git_commit') or 'unknown')}. Baseline: <b>{_e(baseline)}</b>.</p>",
        "<h2>Systems</h2>",
        _html_table(pd.DataFrame(_system_rows(run))),
        "<h2>Quality: mean [95% interval] and the paired difference from the baseline</h2>",
        _html_table(comparison.readable(quality)),
        f"<p>{_e(comparison.MULTIPLE_COMPARISONS)}</p>",
        chart(quality, f"{run['task']} ({run['split']}, n={n})").to_html(full_html=False, include_plotlyjs=True),
        "<h2>Cost</h2>",
        _html_table(costs.round(3)),
        "<p>Batch latency: the wall time of the batch an example was generated in (examples share it). Wall s / "
        "example: the system's whole run divided by its examples. Peak extra memory: above what was in use when the "
        "system started (CUDA's counter, or the process's resident memory on a CPU).</p>",
    ]
    points = pareto_points(quality, costs)
    if points is not None:
        label = points.attrs["score"]
        shown = points.rename(columns={"size_mb": "weights (MB)", "tokens_per_s": "tokens/s (median)",
                                       "quality": label, "low": "95% low", "high": "95% high",
                                       "pareto": "on the Pareto front"})  # fmt: skip
        parts += [
            "<h2>Size, speed and quality: the Pareto front</h2>",
            "<p>A system is on the front when no other is at once as small, as fast and as good, and better on one. "
            f"Quality: {_e(label)} (mean, 95% interval); speed: the median tokens/s of this run's batches (its batch "
            "size, not batch-1 decoding); size: the weights in memory.</p>",
            _html_table(shown.round(3)),
            pareto_chart(points, label).to_html(full_html=False, include_plotlyjs=False),
        ]
    published = references.for_task(run["task"])
    if published:
        parts += [
            "<h2>Published figures for a similar task (another model and other data: not comparable)</h2>",
            f"<p>{_e(published['source'])}</p>",
            _html_table(pd.DataFrame(published["rows"])),
        ]
    parts += ["<h2>Example outputs side by side</h2>", _html_table(_examples(run["task"], per_example), text=True)]
    parts += [
        "<h2>What these numbers do not show</h2>",
        f"<p class='note'>{n} examples from one split of one task: the intervals say how much the means could move "
        f"with other examples like these, not how the systems do on your data or another task. One model family "
        f"and size ({_e(_models(run))}); larger models can rank techniques differently. Automatic scores (ROUGE, "
        "BLEU, exact match) reward overlap with one reference, not usefulness; read the outputs. Cost figures are "
        f"from this machine ({_e(_devices(run))}) and this run's batch sizes.</p>",
        f"<h2>Versions</h2><p>{_e(json.dumps(run.get('versions') or {}))}</p>",
    ]
    title = f"LLM Technique Lab report: run {run['id']}"
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{_e(title)}</title>"
        f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>"
    )


def write(store: Store, run_id: int, out: Path, **options) -> Path:
    """Write the report of stored run `run_id` to `out` (options as in build)."""
    run, per_example = stored_runs(store, [run_id])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(build(run, per_example, **options), encoding="utf-8")
    return out


def stored_runs(store: Store, run_ids: list[int]) -> tuple[dict, pd.DataFrame]:
    """(run, per-example table) of one stored run, or of several on one task merged into one comparison paired by
    example id (the merged run's id reads '3+5', its systems and measurements are all of theirs)."""
    runs = []
    for run_id in run_ids:
        run = store.get_run(run_id)
        if run is None:
            raise ValueError(f"No run with id {run_id}.")
        runs.append(run)
    results = {run["id"]: store.get_results(run["id"]) for run in runs}
    if len(runs) == 1:
        return runs[0], comparison.per_example_from_results(results[runs[0]["id"]])
    per_example, measurements = comparison.merge_runs(runs, results)
    merged = runs[0] | {
        "id": "+".join(str(run["id"]) for run in runs), "systems": [s for run in runs for s in run["systems"]],
        "measurements": measurements, "status": ", ".join(dict.fromkeys(run["status"] for run in runs)),
    }  # fmt: skip
    return merged, per_example


def _system_rows(run: dict) -> list[dict]:
    return [{"system": s["name"], "technique": s["technique"], "settings": json.dumps(s["config"]),
             "model": s.get("model_label") or s.get("model", "")} for s in run["systems"]]  # fmt: skip


def _models(run: dict) -> str:
    return "; ".join(dict.fromkeys(s.get("model_label") or s.get("model", "?") for s in run["systems"]))


def _devices(run: dict) -> str:
    devices = {m.get("device", "?") for m in (run.get("measurements") or {}).values()}
    return ", ".join(sorted(devices)) or "device not recorded"


def _examples(task_name: str, per_example: pd.DataFrame) -> pd.DataFrame:
    """The first few examples: input and reference (when the task still loads) and every system's output."""
    ids = list(dict.fromkeys(per_example.example_id))[:EXAMPLES_SHOWN]
    outputs = per_example.pivot_table(index="example_id", columns="system", values="output", aggfunc="first")
    try:
        task = load_task(task_name)
    except TaskError:
        task = None
    rows = []
    for example_id in ids:
        example = _example(task, example_id)
        row = {"example": example_id, "input": example.input if example else "",
               "reference": example.reference if example else ""}  # fmt: skip
        rows.append(row | {system: outputs.loc[example_id].get(system, "") for system in outputs.columns})
    return pd.DataFrame(rows)


def _example(task, example_id):
    try:
        return task.example(example_id) if task else None
    except TaskError:
        return None


def _html_table(table: pd.DataFrame, text: bool = False) -> str:
    """An escaped HTML table (every cell is data, never markup)."""
    cell = "<td class='text'>{}</td>" if text else "<td>{}</td>"
    head = "".join(f"<th>{_e(c)}</th>" for c in table.columns)
    body = "".join("<tr>" + "".join(cell.format(_e(_fmt(v))) for v in row) + "</tr>" for row in table.itertuples(False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(value) -> str:
    if isinstance(value, float):
        return "" if value != value else f"{value:.4g}"
    return str(value)


def _e(text) -> str:
    return html.escape(str(text))
