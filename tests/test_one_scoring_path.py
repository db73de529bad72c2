"""A tab's single-example scores are the runner's scores of the same output: one scoring path in the lab."""

from evals.runner import System, compare, score
from evals.tasks import Example, load_task
from modules.models import variant_spec
from modules.store import Store
from modules.techniques import TECHNIQUES, Output, parse_system


def run_one(task_name: str, system_text: str, model, tmp_path):
    """The runner over one test example, and the stored row it wrote."""
    task = load_task(task_name)
    system = System.parse(system_text, model)
    run = compare(task, [system], limit=1, store=Store(tmp_path / "lab.db"))
    (row,) = Store(tmp_path / "lab.db").get_results(run.id)
    example = task.split("test")[0]
    (output,) = TECHNIQUES[system.technique].run(model, task, [example], system.config)
    assert output.text == row["output"]  # greedy: the same output again
    return task, example, output, row["scores"]


def test_icl_columns_score_like_the_runner(tiny_model, tmp_path):
    from modules.ui.icl_columns import column_scores

    task, example, output, stored = run_one("dialogue-summary", "zero-shot:max_new_tokens=6", tiny_model, tmp_path)
    output.trace["shots"] = []
    (row,) = column_scores(task, example, [output]).to_dict("records")
    for name in ("rouge1", "rouge2", "rougeL", "bleu"):
        assert row[name] == round(stored[name], 4), name
    assert row["new_tokens"] == stored["new_tokens"]


def test_reasoning_verdict_is_the_runners_numeric_accuracy(tiny_model, tmp_path):
    from modules.ui.reasoning import column

    task, example, output, stored = run_one("arithmetic-word-problems", "direct", tiny_model, tmp_path)
    summary, _, _ = column(output, score(task, [example], [output])[0], example.answer)
    verdict = "✅ correct" if stored["numeric_accuracy"] == 1.0 else f"❌ incorrect (expected {example.answer})"
    assert summary.splitlines()[0].endswith(verdict)
    right = Output(text=f"#### {example.answer}", answer=example.answer)  # an output with the expected answer
    assert column(right, score(task, [example], [right])[0], example.answer)[0].startswith(
        f"**Answer:** {example.answer} · ✅ correct"
    )


def test_rag_columns_score_like_the_runner(tiny_model, tmp_path):
    from modules.ui.rag import column_summary

    task, example, output, stored = run_one("company-handbook-qa", "rag-bm25:max_new_tokens=6", tiny_model, tmp_path)
    summary = column_summary(output, score(task, [example], [output])[0])
    assert f"**ROUGE-L** {stored['rougeL']:.3f} · **BLEU** {stored['bleu']:.1f}" in summary
    assert f"MRR {stored['mrr']:.2f}" in summary


def test_no_reference_means_no_quality_score_not_zero(tiny_model):
    task = load_task("dialogue-summary")
    custom = Example(id="custom", input="A: hi\nB: hello", reference="", split="custom")
    (output,) = TECHNIQUES["prompting"].run(tiny_model, task, [custom], parse_system("zero-shot:max_new_tokens=3")[2])
    (scores,) = score(task, [custom], [output])
    assert "rougeL" not in scores and "bleu" not in scores
    assert scores["new_tokens"] == output.new_tokens


def test_each_system_records_its_own_model(tiny_model, tmp_path):
    from modules.models import get_model

    variant = get_model(variant_spec(tiny_model.spec, quant="bf16"))
    task = load_task("dialogue-summary")
    config = parse_system("zero-shot:max_new_tokens=3")[2]
    systems = [System("fp32", tiny_model, "prompting", config), System("bf16", variant, "prompting", config)]
    run = compare(task, systems, limit=1, store=Store(tmp_path / "lab.db"))
    stored = Store(tmp_path / "lab.db").get_run(run.id)
    assert [s["model"] for s in stored["systems"]] == [tiny_model.spec, variant.spec]
    assert stored["model_spec"] == f"{tiny_model.spec} | {variant.spec}"
    assert stored["model_label"] == f"{tiny_model.label} | {variant.label}"
