"""The Compare tab and what it stands on: honest intervals, paired differences against a baseline with Holm's
adjustment, systems on models of their own, cost columns, stored runs opened and merged, and the HTML report."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from gradio_client import Client

from evals import comparison, report, stats
from evals.__main__ import main as cli_main
from evals.runner import Run, compare, parse_systems, split_model
from evals.tasks import load_task
from modules.store import default_store
from modules.studies import fine_tuning
from tests.conftest import table_rows

SHORT = ":max_new_tokens=4"  # the tiny model's context is 64 tokens


def test_a_zero_of_twenty_accuracy_does_not_print_an_interval_of_zero_width():
    assert stats.interval([0] * 20) == {"mean": 0.0, "ci_low": 0.0, "ci_high": pytest.approx(0.1611, abs=1e-4),
                                        "n": 20, "method": "Wilson"}  # fmt: skip
    half = stats.wilson_ci([1] * 5 + [0] * 5)
    assert (round(half["ci_low"], 4), round(half["ci_high"], 4)) == (0.2366, 0.7634)
    assert stats.interval([0.2, 0.4, 0.9])["method"] == "t"  # few values: Student t, wider than a bootstrap
    assert stats.interval([0.2, 0.4, 0.9] * 4)["method"] == "bootstrap"
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])


def per_example(columns: dict[str, list[float]], score: str = "numeric_accuracy") -> pd.DataFrame:
    rows = [{"system": system, "example_id": f"e{i}", score: value, "latency_s": 1.0, "new_tokens": 4,
             "tokens_per_s": 4.0} for system, values in columns.items() for i, value in enumerate(values)]  # fmt: skip
    return pd.DataFrame(rows)


def test_the_quality_table_pairs_each_system_with_the_baseline_and_adjusts_for_several():
    table = per_example({"base": [0] * 20, "better": [1] * 20, "same": [0] * 19 + [1], "worse": [0] * 20})
    quality = comparison.quality_table(table, "base").set_index("system")
    assert quality.loc["base", "verdict"] == "baseline" and pd.isna(quality.loc["base", "vs baseline"])
    assert quality.loc["better", "verdict"] == "▲ clearly better" and quality.loc["better", "vs baseline"] == 1.0
    assert quality.loc["same", "verdict"] == "no clear difference" and quality.loc["same", "paired n"] == 20
    assert quality.loc["base", "interval"] == "Wilson"
    assert quality.loc["base", "ci_high"] == pytest.approx(0.1611, abs=1e-4)  # 0 of 20: Wilson's upper end
    shown = comparison.readable(comparison.quality_table(table, "base"))
    assert shown.set_index("system").loc["better", "vs baseline [95% interval]"].startswith("+1.000 [")
    with pytest.raises(ValueError, match="baseline 'nope' is not one of the systems"):
        comparison.quality_table(table, "nope")
    lower = per_example({"a": [0.1] * 10, "b": [0.0] * 10}, score="latency_s")  # cost scores are not quality
    assert comparison.quality_scores(lower) == []


def test_one_paired_difference_function_with_holm_serves_compare_and_the_fine_tuning_tables():
    table = per_example({"base": [0.2] * 10, "up": [0.3] * 10, "mixed": [0.1, 0.3] * 5, "down": [0.1] * 6 + [0.3] * 4},
                        score="rougeL")  # fmt: skip
    differences = comparison.paired_differences(table, "base", "rougeL")
    assert list(differences) == ["up", "mixed", "down"] and differences["up"]["n"] == 10
    assert differences["up"]["mean"] == pytest.approx(0.1) and differences["mixed"]["mean"] == pytest.approx(0.0)
    raw = [d["p_value"] for d in differences.values()]
    assert [d["p_holm"] for d in differences.values()] == pytest.approx(stats.holm(raw))
    assert differences["down"]["p_holm"] > differences["down"]["p_value"]  # three systems: adjusted upwards
    quality = comparison.quality_table(table, "base").set_index("system")
    assert quality.loc["down", "p (Holm)"] == differences["down"]["p_holm"]
    run = Run(None, "dialogue-summary", "test", 0, [], table, pd.DataFrame())
    paired = fine_tuning.paired_table(run).set_index("method")
    assert list(paired.index) == ["up", "mixed", "down"] and "p (Holm)" in paired
    assert paired.loc["down", "p (Holm)"] == stats.p_text(differences["down"]["p_holm"])


def test_costs_come_from_the_runners_measurements_and_a_price():
    table = per_example({"a": [1, 0, 1, 1]})
    measured = {"a": {"wall_s": 8.0, "examples": 4, "peak_memory_mb": 12.5, "weight_mb": 100.0}}
    (row,) = comparison.cost_table(table, measured, price_per_gpu_hour=3.6).to_dict("records")
    assert row["wall s / example"] == 2.0 and row["est. cost / 1,000 examples"] == pytest.approx(2.0)
    assert row["weights (MB)"] == 100.0 and row["n"] == 4 and row["tokens/s (p25-p75)"] == "4.0-4.0"


def test_a_system_can_name_its_own_model(tiny_model):
    assert split_model("few-shot:k=3@smollm2-135m+adapter:x") == ("few-shot:k=3", "smollm2-135m+adapter:x")
    with pytest.raises(ValueError, match="names no model"):
        split_model("zero-shot@ ")
    systems = parse_systems([f"zero-shot{SHORT}", f"zero-shot{SHORT}@{tiny_model.spec}+quant:bf16"], tiny_model.spec)
    assert systems[0].model is tiny_model and systems[1].model.spec == f"{tiny_model.spec}+quant:bf16"
    assert systems[1].name == f"zero-shot (max_new_tokens=4) @ {tiny_model.spec}+quant:bf16"


@pytest.fixture()
def two_runs(tiny_model):
    """Two stored runs on one task: a prompting run and a precision run, 4 examples each."""
    task, store = load_task("dialogue-summary"), default_store()
    first = compare(task, parse_systems([f"zero-shot{SHORT}", f"few-shot:k=1{SHORT}"], tiny_model.spec), limit=4,
                    store=store)  # fmt: skip
    second = compare(task, parse_systems([f"zero-shot{SHORT}@{tiny_model.spec}+quant:bf16"], tiny_model.spec),
                     limit=4, store=store)  # fmt: skip
    return first, second


def test_the_runner_measures_each_system_and_stores_it(two_runs, tiny_model):
    first, _ = two_runs
    stored = default_store().get_run(first.id)
    assert set(stored["measurements"]) == {"zero-shot (max_new_tokens=4)", "few-shot (k=1, max_new_tokens=4)"}
    measured = stored["measurements"]["zero-shot (max_new_tokens=4)"]
    held = {t.data_ptr(): t.numel() * t.element_size() for t in (*tiny_model.hf.parameters(), *tiny_model.hf.buffers())}
    assert measured["examples"] == 4 and measured["wall_s"] > 0  # a wall time is only known to be positive
    assert measured["weight_mb"] == pytest.approx(sum(held.values()) / 2**20)  # fp32, tied tensors once


def test_stored_runs_merge_into_one_comparison_paired_by_example(two_runs):
    first, second = two_runs
    run, merged = report.stored_runs(default_store(), [first.id, second.id])
    assert run["id"] == f"{first.id}+{second.id}" and merged.system.nunique() == 3
    assert merged.groupby("system").example_id.apply(set).map(len).eq(4).all()
    quality = comparison.quality_table(merged, merged.system.iloc[0])
    assert quality["paired n"].dropna().eq(4).all()
    with pytest.raises(ValueError, match="No run with id 999999"):
        report.stored_runs(default_store(), [999999])


def test_the_report_is_one_file_with_the_settings_table_chart_and_caveats(two_runs, tmp_path):
    first, _ = two_runs
    path = report.write(default_store(), first.id, tmp_path / "r.html", question="<b>Which</b> prompt?")
    html = path.read_text()
    assert "&lt;b&gt;Which&lt;/b&gt; prompt?" in html  # what people typed is data, never markup
    assert (
        "&quot;k&quot;: 1" in html and "vs baseline [95% interval]" in html and "What these numbers do not show" in html
    )
    assert "plotly" in html and "<script src=" not in html  # the chart's library is inline: no network to open it
    assert "Published figures for a similar task" in html  # dialogue-summary has the course's Lab 2 table
    assert "the Pareto front" not in html  # one model: no size axis to trade against


def test_the_cli_runs_systems_on_their_own_models_and_writes_a_report(tiny_model, tmp_path, capsys):
    systems = f"zero-shot{SHORT},zero-shot{SHORT}@{tiny_model.spec}+quant:bf16"
    code = cli_main(["compare", "--task", "dialogue-summary", "--systems", systems, "--limit", "2", "--model",
                     tiny_model.spec])  # fmt: skip
    printed, err = capsys.readouterr()
    assert code == 0, err[-2000:]
    assert "Paired difference from the baseline 'zero-shot (max_new_tokens=4)'" in printed
    run_id = printed.split("Run ")[1].split(" ")[0]
    out = tmp_path / "report.html"
    code = cli_main(["report", run_id, "--out", str(out)])
    assert code == 0 and out.stat().st_size > 100_000, capsys.readouterr().err[-2000:]
    assert "Size, speed and quality: the Pareto front" in out.read_text()  # fp32 and bf16 weights differ
    capsys.readouterr()
    assert cli_main(["report", run_id, "--out", str(tmp_path / "r.txt")]) == 2
    assert "must end in .html" in capsys.readouterr().err


def test_the_compare_tab_runs_three_systems_across_techniques(served_app, tiny_llama_dir):
    client = Client(served_app, verbose=False)
    client.predict(str(tiny_llama_dir), api_name="/load_model")
    systems = "\n".join([f"zero-shot{SHORT}", f"few-shot:k=1{SHORT}", f"zero-shot{SHORT}@{tiny_llama_dir}+quant:bf16"])
    status, quality, costs, _chart, examples, downloads, html = client.predict(
        systems, "dialogue-summary", "zero-shot (max_new_tokens=4)", 3, 2.5, "Which prompt?", api_name="/compare_run"
    )
    rows = table_rows(quality)
    assert {row["system"] for row in rows} == {
        "zero-shot (max_new_tokens=4)",
        "few-shot (k=1, max_new_tokens=4)",
        f"zero-shot (max_new_tokens=4) @ {tiny_llama_dir}+quant:bf16",
    }
    assert all(row["vs baseline [95% interval]"] for row in rows if row["verdict"] != "baseline")
    assert len(table_rows(costs)) == 3 and all(row["est. cost / 1,000 examples"] > 0 for row in table_rows(costs))
    assert "baseline **zero-shot (max_new_tokens=4)**" in status and len(table_rows(examples)) == 9
    assert len(downloads) == 2 and Path(html).read_text().count("<table") >= 4
    with pytest.raises(Exception, match="Unknown system 'nonsense'"):
        client.predict("nonsense", "dialogue-summary", "", 3, None, "", api_name="/compare_run")
    with pytest.raises(Exception, match="at most 8 run"):
        client.predict("\n".join(["zero-shot"] * 9), "dialogue-summary", "", 3, None, "", api_name="/compare_run")


def test_the_runs_tab_searches_pages_opens_merges_and_exports(two_runs, client):
    first, second = two_runs
    table, note = client.predict("few-shot", 1, api_name="/search_runs")
    assert first.id in [row["id"] for row in table_rows(table)] and "matching 'few-shot'" in note
    status, quality, costs, _chart, _examples = client.predict(f"{first.id}, {second.id}", api_name="/open_runs")
    assert f"**Run {first.id}+{second.id}**" in status and len({r["system"] for r in table_rows(quality)}) == 3
    assert np.isfinite([row["weights (MB)"] for row in table_rows(costs)]).all()
    html = client.predict(str(first.id), api_name="/export_report")
    assert "<table" in Path(html).read_text()
    with pytest.raises(Exception, match="is not a run id"):
        client.predict("1; DROP TABLE runs", api_name="/open_runs")


def test_run_on_task_tables_show_each_systems_difference_from_the_first(two_runs):
    from modules.ui import results

    first, _ = two_runs
    table = results.aggregate_table(first)
    column = "vs zero-shot (max_new_tokens=4) [95% interval]"
    rouge = table[table.score == "rougeL"].set_index("system")
    assert rouge.loc["zero-shot (max_new_tokens=4)", "verdict"] == "baseline"
    assert rouge.loc["few-shot (k=1, max_new_tokens=4)", column].startswith(("+", "-"))
    assert table[table.score == "latency_s"][column].eq("").all()  # cost rows are not compared
