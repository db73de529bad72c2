"""One comparison table: every system's scores (mean, 95% interval, n), its paired difference from a baseline system
(Holm-adjusted across the systems compared), and what each system cost. Used by the Compare tab, the report, the
CLI and merged stored runs, so they all say the same thing."""

import numpy as np
import pandas as pd

from evals import metrics, stats

COST_SCORES = ("latency_s", "new_tokens", "tokens_per_s")
CLEAR = 0.05  # a difference is marked clear when its Holm-adjusted p-value is below this
MULTIPLE_COMPARISONS = (
    "Each system is compared with the baseline on the examples both finished: a 95% interval of the paired "
    "difference (percentile bootstrap; Student t below 10 pairs) and a paired sign-flip permutation test (exact up "
    "to 16 pairs, so 3 pairs can never give p below 0.25; 20,000 random flips above). With several systems, p-values "
    "are Holm-adjusted per score, so the chance of any false 'clear' mark stays <= 5%. Below 10 pairs no verdict is "
    "given. Intervals of means: Wilson for 0/1 scores (accuracy), Student t below 10 examples, percentile bootstrap "
    "(2,000 resamples) otherwise."
)


def quality_scores(per_example: pd.DataFrame) -> list[str]:
    """Score columns that measure quality (not cost), in table order."""
    return [c for c in per_example.columns if metrics.higher_is_better(c) is not None and c not in COST_SCORES]


def quality_table(per_example: pd.DataFrame, baseline: str, seed: int = 0) -> pd.DataFrame:
    """One row per system and quality score: mean [95% interval] and n, then the paired difference from `baseline`
    with its interval, the Holm-adjusted p-value and a verdict (▲ clearly better, ▼ clearly worse)."""
    systems = list(dict.fromkeys(per_example.system))
    if baseline not in systems:
        raise ValueError(f"The baseline '{baseline}' is not one of the systems: {', '.join(systems)}.")
    rows = []
    for score in quality_scores(per_example):
        wide = per_example.pivot_table(index="example_id", columns="system", values=score, aggfunc="first")
        differences = paired_differences(per_example, baseline, score, seed)
        for system in systems:
            values = wide[system].dropna() if system in wide else []
            if not len(values):
                continue
            summary = stats.interval(values, seed=seed)
            row = {"system": system, "score": score, "mean": summary["mean"], "ci_low": summary["ci_low"],
                   "ci_high": summary["ci_high"], "n": summary["n"], "interval": summary["method"]}  # fmt: skip
            if system in differences:
                d = differences[system]
                row |= {"vs baseline": d["mean"], "diff_low": d["ci_low"], "diff_high": d["ci_high"],
                        "paired n": d["n"], "p (Holm)": d["p_holm"],
                        "verdict": verdict(d, d["p_holm"], metrics.higher_is_better(score))}  # fmt: skip
            elif system == baseline:
                row["verdict"] = "baseline"
            rows.append(row | {"label": metrics.label(score)})
    return pd.DataFrame(rows)


def paired_differences(per_example: pd.DataFrame, baseline: str, score: str, seed: int = 0) -> dict[str, dict]:
    """Every other system minus `baseline` on `score`, each on the examples both finished: {system: mean, ci_low,
    ci_high (95% paired interval), n, p_value (sign-flip test), p_min, p_holm}, p_holm adjusted across all the
    systems compared with this baseline. The paired comparison of Compare, fine-tuning, sensitivity."""
    if score not in per_example or baseline not in set(per_example.system):
        return {}
    wide = per_example.pivot_table(index="example_id", columns="system", values=score, aggfunc="first")
    differences = {}
    for system in dict.fromkeys(per_example.system):
        if system == baseline or system not in wide or baseline not in wide:
            continue
        both = wide[[system, baseline]].dropna()  # (examples both finished, 2)
        if len(both):
            differences[system] = stats.paired_bootstrap(both[system], both[baseline], seed=seed)
    adjusted = stats.holm([d["p_value"] for d in differences.values()])
    return {system: d | {"p_holm": p} for (system, d), p in zip(differences.items(), adjusted)}


def verdict(difference: dict, p_adjusted: float, higher_is_better: bool) -> str:
    """▲ clearly better / ▼ clearly worse when the Holm-adjusted p < CLEAR and the interval leaves 0; no verdict
    below stats.SMALL_N pairs (an exact test of 3 pairs cannot go below p = 0.25)."""
    if difference["n"] < stats.SMALL_N:
        return f"too few examples for a verdict (n={difference['n']}; needs {stats.SMALL_N})"
    if p_adjusted >= CLEAR or difference["ci_low"] <= 0 <= difference["ci_high"]:
        return "no clear difference"
    better = (difference["mean"] > 0) == higher_is_better
    return "▲ clearly better" if better else "▼ clearly worse"


def cost_table(per_example: pd.DataFrame, measurements: dict, price_per_gpu_hour: float | None = None) -> pd.DataFrame:
    """One row per system: latency of its batches (p50/p95), tokens/s (median with its interquartile spread), new
    tokens per example, wall seconds per example, peak extra memory, weight size, and, given a price per GPU-hour,
    the estimated cost of 1,000 examples at the measured wall time."""
    rows = []
    for system, group in per_example.groupby("system", sort=False):
        measured = measurements.get(system, {})
        speed = group["tokens_per_s"].dropna() if "tokens_per_s" in group else pd.Series(dtype=float)
        per_example_s = measured.get("wall_s", np.nan) / max(measured.get("examples", 0), 1)
        row = {
            "system": system,
            "n": len(group),
            "batch latency p50 (s)": _quantile(group, "latency_s", 0.5),
            "batch latency p95 (s)": _quantile(group, "latency_s", 0.95),
            "tokens/s (median)": speed.median() if len(speed) else np.nan,
            "tokens/s (p25-p75)": f"{speed.quantile(0.25):.1f}-{speed.quantile(0.75):.1f}" if len(speed) else "",
            "new tokens / example": group["new_tokens"].mean() if "new_tokens" in group else np.nan,
            "wall s / example": per_example_s,
            "peak extra memory (MB)": measured.get("peak_memory_mb", np.nan),
            "weights (MB)": measured.get("weight_mb", np.nan),
            "adds to its base (MB)": measured.get("adds_mb", np.nan),  # an adapter's own weights; NaN otherwise
        }
        if price_per_gpu_hour:
            row["est. cost / 1,000 examples"] = price_per_gpu_hour * per_example_s * 1000 / 3600
        rows.append(row)
    return pd.DataFrame(rows)


def _quantile(group: pd.DataFrame, column: str, q: float) -> float:
    return float(group[column].quantile(q)) if column in group and group[column].notna().any() else np.nan


def per_example_from_results(results: list[dict], prefix: str = "") -> pd.DataFrame:
    """The per-example table of stored results (store.get_results), optionally with system names prefixed."""
    records = [
        {"system": prefix + r["system"], "example_id": r["example_id"], "output": r["output"], "answer": r["answer"],
         "prompt_tokens": r["prompt_tokens"]} | r["scores"]
        for r in results
    ]  # fmt: skip
    return pd.DataFrame(records)


def merge_runs(runs: list[dict], results: dict[int, list[dict]]) -> tuple[pd.DataFrame, dict]:
    """Several stored runs of one task as one comparison, paired by example id: (per-example table, measurements).
    A system name that occurs in more than one run is prefixed with its run id."""
    tasks = {run["task"] for run in runs}
    if len(tasks) != 1:
        raise ValueError(f"Runs to merge must be on one task; these are on {', '.join(sorted(tasks))}.")
    systems = {run["id"]: {r["system"] for r in results[run["id"]]} for run in runs}
    names = [name for names_of_run in systems.values() for name in names_of_run]
    clashing = {name for name in names if names.count(name) > 1}
    tables, measurements = [], {}
    for run in runs:
        prefix = f"run {run['id']}: " if systems[run["id"]] & clashing else ""
        tables.append(per_example_from_results(results[run["id"]], prefix))
        for name, measured in (run.get("measurements") or {}).items():
            measurements[prefix + name] = measured
    return pd.concat(tables, ignore_index=True), measurements


def readable(table: pd.DataFrame) -> pd.DataFrame:
    """The quality table as people read it: 'mean [low, high]' and 'difference [low, high]' columns (the interval's
    method is said once beside the table: MULTIPLE_COMPARISONS)."""
    if table.empty:
        return table
    shown = pd.DataFrame({"system": table.system, "score": table.score, "n": table.n})
    shown["mean [95% interval]"] = [f"{m:.3f} [{lo:.3f}, {hi:.3f}]" if not pd.isna(lo) else f"{m:.3f} [one value]"
                                    for m, lo, hi in zip(table["mean"], table.ci_low, table.ci_high)]  # fmt: skip
    if "vs baseline" in table:
        shown["vs baseline [95% interval]"] = [
            "" if pd.isna(d) else f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]" if not pd.isna(lo) else f"{d:+.3f} [one pair]"
            for d, lo, hi in zip(table["vs baseline"], table.diff_low, table.diff_high)
        ]
        shown["p (Holm)"] = [stats.p_text(p) for p in table["p (Holm)"]]
    shown["verdict"] = table.get("verdict", "")
    return shown.fillna("")
