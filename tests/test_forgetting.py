"""The forgetting table: each probe task and the probes pooled, with intervals and p-values from evals.stats."""

import numpy as np
import pandas as pd
import pytest

from evals import stats
from evals.runner import Run
from modules.studies import forgetting

BASE = [0.2, 0.3, 0.25, 0.1, 0.4, 0.3, 0.2, 0.35, 0.3, 0.25, 0.2, 0.3]


def run(task: str, values: dict[str, list[float]], seed: int = 0) -> Run:
    """A stored-run stand-in: per-example ROUGE-L per system, example ids e0, e1, … (the same in every task)."""
    rows = [{"system": s, "example_id": f"e{i}", "rougeL": v} for s, vs in values.items() for i, v in enumerate(vs)]
    return Run(7, task, "test", seed, [], pd.DataFrame(rows), pd.DataFrame(), "complete", {})


def noisy_drop(drop: float, seed: int) -> list[float]:
    noise = np.random.default_rng(seed).normal(0, 0.03, len(BASE))
    return [b - drop + e for b, e in zip(BASE, noise)]


def test_pooled_rows_are_the_shared_paired_bootstrap_on_both_probes_with_holm_across_methods():
    handbook = {"base": BASE, "lora": noisy_drop(0.0, 1), "full": noisy_drop(0.05, 2)}
    arithmetic = {"base": BASE, "lora": noisy_drop(0.0, 3), "full": noisy_drop(0.05, 4)}
    probe = forgetting.Probe([run("handbook", handbook), run("arithmetic", arithmetic)])
    table = forgetting.table(probe).set_index(["probe", "method"])
    assert list(dict.fromkeys(table.index.get_level_values("probe"))) == ["handbook", "arithmetic", "all probes"]

    def by_id(system):  # every probe example's score under its pooled id, in the pooled table's (sorted) order
        scores = {f"{task}/e{i}": v for task, values in (("handbook", handbook), ("arithmetic", arithmetic))
                  for i, v in enumerate(values[system])}  # fmt: skip
        return pd.Series(scores).sort_index()

    pooled = {m: stats.paired_bootstrap(by_id(m), by_id("base"), seed=0) for m in ("lora", "full")}
    adjusted = dict(zip(pooled, stats.holm([d["p_value"] for d in pooled.values()])))
    for method, d in pooled.items():
        row = table.loc[("all probes", method)]
        assert row["n"] == 24  # the same ids in two tasks are two examples, not one
        assert (row["change"], row["95% low"], row["95% high"]) == pytest.approx((d["mean"], d["ci_low"], d["ci_high"]))
        assert row["p (Holm)"] == stats.p_text(adjusted[method])
        assert row["after"] - row["base ROUGE-L"] == pytest.approx(d["mean"])
    assert table.loc[("all probes", "full"), "verdict"] == "▼ clearly worse"
    assert table.loc[("all probes", "lora"), "verdict"] == "no clear difference"
    width = forgetting.resolution(probe)
    assert width == pytest.approx(max((d["ci_high"] - d["ci_low"]) / 2 for d in pooled.values()))


def test_one_probe_has_no_pooled_rows_and_a_stopped_probe_is_none():
    import threading

    probe = forgetting.Probe([run("handbook", {"base": BASE, "lora": BASE})])
    assert set(forgetting.table(probe).probe) == {"handbook"}
    stop = threading.Event()
    stop.set()
    assert forgetting.score([], ("company-handbook-qa",), 5, None, lambda name: None, stop) is None
