"""The quantization comparison: build each precision variant, measure size / speed / perplexity, score it through
the runner next to fp32, and rank components by the quality they lose."""

import statistics
import threading
from collections.abc import Callable

import pandas as pd

from evals import comparison, stats
from evals.runner import Run, System, compare
from evals.tasks import load_task
from modules import measure
from modules.models import (
    GenerationParams,
    Model,
    ModelSpec,
    forget,
    get_model,
    llamacpp,
    loaded_specs,
    quantized,
    variant_spec,
)  # fmt: skip
from modules.models.interrupt import LayerChecks, Stopped
from modules.progress import Progress
from modules.store import default_store
from modules.techniques import Output, prompting

Report = Callable[[Progress], None]
GGUF = "gguf-q4_1"  # the optional llama.cpp row (modules/models/llamacpp.py)
PRUNE = "prune:"  # a variant name 'prune:wanda-50' is a pruned copy (modules/models/pruned.py), not a precision
SPEED_REPEATS = 3  # decode speed is the median of 3 timed runs, shown with their range (a shared machine is noisy)
PHASES = ("Building", "Timing batch 1 of", "Timing batch 8 of", "Perplexity of")  # what each variant goes through
PERPLEXITY_TEXTS = 8  # first 8 test references: a few seconds per variant, minutes for CPU int4


def held_out_texts(task_name: str = "dialogue-summary") -> list[str]:
    """Perplexity text: the task's test references (written for this project, so no model has seen them)."""
    return [e.reference for e in load_task(task_name).split("test")]


def variant(base: Model, name: str) -> Model:
    """The shared, cached variant (the registry keeps it until freed): a precision ('int8') or a pruning
    ('prune:wanda-50')."""
    return get_model(variant_of(base.spec, name))


def variant_of(base_spec: str, name: str) -> str:
    """The spec of variant `name` of `base_spec`."""
    if name.startswith(PRUNE):
        return variant_spec(base_spec, prune=name.removeprefix(PRUNE))
    return variant_spec(base_spec, quant=name)


def loaded_variants(spec: str) -> list[str]:
    """Precision names of the loaded variants of `spec`'s base (`spec` itself may be one of them; the base's own
    precision is the base, not a variant)."""
    base = ModelSpec.parse(spec).with_quant(None)
    specs = [ModelSpec.parse(loaded) for loaded in loaded_specs()]
    own = {"fp32"}  # never a separate copy: the base itself on a CPU, never built on CUDA
    if str(base) in loaded_specs():
        own.add(quantized.own_precision(get_model(str(base))))
    return [s.quant for s in specs if s.quant and s.quant not in own and s.with_quant(None) == base]


def free(spec: str, names: list[str]) -> list[str]:
    """Drop these precision variants of `spec`'s base and give their memory back; the names that were loaded."""
    base = str(ModelSpec.parse(spec).with_quant(None))
    specs = {variant_of(base, name): name for name in names if name != "fp32"}
    return [specs[dropped] for dropped in forget(*specs)]


def compare_variants(
    base: Model,
    names: list[str],
    task_name: str,
    limit: int,
    report: Report,
    stop: threading.Event,
    perplexity_texts: int = PERPLEXITY_TEXTS,
    speed_repeats: int = SPEED_REPEATS,
    new_tokens: int | None = None,
    answer_tokens: int | None = None,
) -> tuple[pd.DataFrame, Run]:
    """One row per variant (the base's own precision first, as the reference: fp32 on a CPU, bf16 on CUDA) plus the
    stored quality run. An fp32 copy of a bf16 base is never built: it would only upcast the same weights.
    speed_repeats and new_tokens (default: speed_tokens) size the speed measurement, answer_tokens the scored answers
    (default: prompting's); a benchmark's smoke run makes all three small."""
    reference = quantized.own_precision(base)
    names = [reference, *[n for n in names if n not in (reference, "fp32")]]
    task, texts = load_task(task_name), held_out_texts()[:perplexity_texts]
    models, rows = {}, []
    steps = len(names) * len(PHASES)  # the units of done / total while variants are built and measured
    for index, name in enumerate(names):
        if stop.is_set():
            break

        def phase(number: int, name=name, index=index) -> None:
            stage = f"{PHASES[number]} {name} (variant {index + 1}/{len(names)})…"
            report(Progress(stage, index * len(PHASES) + number, steps))

        phase(0)
        if name == GGUF:
            rows.append(gguf_row(texts))
            _measured(report, rows, (index + 1) * len(PHASES), steps)
            continue
        model = variant(base, name)
        try:  # Stop ends a timed run or a perplexity pass within one layer, not after the whole measurement
            with LayerChecks(model.hf, stop):
                phase(1)
                tokens = new_tokens or speed_tokens(model)
                batch_1 = measure.decode_speeds(model, 1, tokens, speed_repeats)
                phase(2)
                batch_8 = measure.decode_speeds(model, 8, tokens, speed_repeats)
                phase(3)
                ppl = measure.perplexity(model, texts)
        except Stopped:
            break
        models[name] = model
        rows.append({
            "variant": name, "what": model.label.split(" -> ")[-1] if name != reference else reference_label(base),
            "weight MB": quantized.weight_bytes(model.hf) / 2**20, "conversion s": model.conversion_s,
            "tok/s batch 1": statistics.median(batch_1), "tok/s batch 1 range": measure.spread(batch_1),
            "tok/s batch 8": statistics.median(batch_8), "tok/s batch 8 range": measure.spread(batch_8),
            "perplexity": ppl,
        })  # fmt: skip
        _measured(report, rows, (index + 1) * len(PHASES), steps)
    config = prompting.Config(k=0) if answer_tokens is None else prompting.Config(k=0, max_new_tokens=answer_tokens)
    systems = [System(name, model, "prompting", config) for name, model in models.items()]
    if not systems:  # stopped before any variant was measured: nothing to score, an empty stopped run
        empty = Run(None, task.name, "test", 0, [], pd.DataFrame(), pd.DataFrame(), "stopped")
        return readable(pd.DataFrame(rows)), empty
    total = len(systems) * min(limit, len(task.split("test")))
    report(Progress(f"Scoring: each variant answers {total // len(systems)} test examples…", 0, total))
    run = compare(task, systems, limit, store=default_store(), stop=stop, progress=lambda event: report(
        Progress(f"Scoring: {event.stage}", event.done, event.total)))  # fmt: skip
    table = pd.DataFrame(rows)
    if not run.per_example.empty:  # stopped before any answer was scored: the measurements alone
        add_scores(table, run)
    return readable(table), run


def _measured(report: Report, rows: list[dict], done: int, steps: int) -> None:
    """A measured variant's row shown at once (its quality comes once every variant is measured): payload "table",
    the rows so far."""
    report(Progress(f"Measured {rows[-1]['variant']}", done, steps, {"table": readable(pd.DataFrame(rows))}))


def readable(table: pd.DataFrame) -> pd.DataFrame:
    """The numbers people compare first, the long description of each variant last (it pushed them off screen)."""
    reference = table.variant.iloc[0] if len(table) else "fp32"
    first = ["variant", "weight MB", "tok/s batch 1", "tok/s batch 1 range", "tok/s batch 8", "tok/s batch 8 range",
             "perplexity", "rougeL", "rougeL 95% CI", "bleu",
             "bleu 95% CI", f"identical to {reference}", f"ROUGE-L vs {reference} output", "pareto",
             "conversion s"]  # fmt: skip
    ordered = [c for c in first if c in table] + [c for c in table if c not in first and c != "what"] + ["what"]
    return table[[c for c in ordered if c in table]]


def one_prompt(model: Model, prompt: str, max_new_tokens: int) -> Output:
    """One chat prompt through one variant, for the side-by-side columns (its Output carries the speed)."""
    params = GenerationParams(max_new_tokens=max_new_tokens)
    (generation,) = model.generate([[{"role": "user", "content": prompt}]], params)
    return Output.from_generation(generation)


def gguf_one_prompt(prompt: str, max_new_tokens: int) -> tuple[str, int, float]:
    """(text, new tokens, seconds) of one greedy chat prompt through the original Q4_1 file in llama.cpp.

    Not a get_model backend on purpose: this column measures the llama.cpp engine itself (its kernels, tokenizer and
    sampler on the original file) beside the dequantized model, and the in-process binding decodes one sequence at a
    time with no Stop inside a step, no batches and no variants, which the shared Model interface promises. Used as
    a model, llama.cpp goes through the registry as a server: `openai:<alias>@<url>` (modules/models/remote.py)."""
    return llamacpp.chat([{"role": "user", "content": prompt}], max_new_tokens)


def gguf_row(texts: list[str]) -> dict:
    """The original Q4_1 file through llama.cpp: another engine, so speed, size and perplexity, no task scores."""
    return {
        "variant": GGUF, "what": llamacpp.LABEL, "weight MB": llamacpp.file_mb(), "conversion s": 0.0,
        "tok/s batch 1": llamacpp.decode_speed(), "tok/s batch 8": float("nan"),  # this binding decodes one sequence
        "perplexity": llamacpp.perplexity(texts),
    }  # fmt: skip


def speed_tokens(model: Model) -> int:
    """32 new tokens per row; 8 for CPU int4, whose kernel is ~10x slower than fp32 here (minutes otherwise)."""
    return 8 if "int4 weight-only" in model.label else 32


def reference_label(base: Model) -> str:
    if "dequantized" in base.label:
        return "fp32 arithmetic on weights dequantized from Q4_1 (the embedded file), the baseline"
    return f"{quantized.own_precision(base)}, the base's own precision: the baseline"


def add_scores(table: pd.DataFrame, run: Run) -> None:
    """ROUGE-L / BLEU with intervals, and agreement with the reference's outputs, per variant (in place)."""
    per = run.per_example
    name_of_reference = table.variant.iloc[0]  # compare_variants puts the base's own precision first
    reference = per[per.system == name_of_reference].set_index("example_id").output
    for position, name in enumerate(table.variant):
        mine = per[per.system == name].set_index("example_id")
        for score in ("rougeL", "bleu"):
            row = run.aggregate[(run.aggregate.system == name) & (run.aggregate.score == score)]
            if not row.empty:
                table.loc[position, score] = row["mean"].iloc[0]
                table.loc[position, f"{score} 95% CI"] = f"[{row.ci_low.iloc[0]:.3f}, {row.ci_high.iloc[0]:.3f}]"
        shared = mine.index.intersection(reference.index)
        if len(shared):
            agreed = measure.agreement(list(mine.output[shared]), list(reference[shared]))
            table.loc[position, f"identical to {name_of_reference}"] = agreed["identical"]
            table.loc[position, f"ROUGE-L vs {name_of_reference} output"] = agreed["rougeL_vs_reference"]
    table["pareto"] = pareto_front(table)


def pareto_front(table: pd.DataFrame, speed: str = "tok/s batch 1", quality: str = "rougeL") -> list[bool]:
    """True where no other variant is at least as fast and as good, and strictly better in one of the two."""
    if quality not in table or speed not in table:
        return [False] * len(table)
    points = [(s, q) for s, q in zip(table[speed], table[quality]) if q == q]  # q != q: not scored (NaN)
    return [
        qp == qp and not any(s >= sp and q >= qp and (s > sp or q > qp) for s, q in points)
        for sp, qp in zip(table[speed], table[quality])
    ]  # fmt: skip


def sensitivity(
    base: Model, task_name: str, limit: int, report: Report, stop: threading.Event
) -> tuple[pd.DataFrame, Run]:
    """int8 on one layer type at a time vs the base's own precision: quality lost per layer type, worst first."""
    names = [f"int8-{layer}" for layer in quantized.LAYER_TYPES]
    table, run = compare_variants(base, names, task_name, limit, report, stop)
    if run.per_example.empty:  # stopped before any answer was scored: the measurements as they are
        return table, run
    reference = quantized.own_precision(base)
    baseline = table[table.variant == reference].iloc[0]
    table = table[table.variant != reference].copy()
    table["ROUGE-L lost"] = baseline["rougeL"] - table["rougeL"]
    table["perplexity increase"] = table["perplexity"] - baseline["perplexity"]
    differences = comparison.paired_differences(run.per_example, reference, "rougeL", run.seed)  # variant - reference
    for position, name in zip(table.index, table.variant):
        if d := differences.get(name):  # lost = reference - variant: the interval mirrored
            table.loc[position, "lost 95% CI"] = f"[{-d['ci_high']:+.3f}, {-d['ci_low']:+.3f}]"
            table.loc[position, "p (Holm)"] = stats.p_text(d["p_holm"])
    columns = ["variant", "what", "ROUGE-L lost", "lost 95% CI", "p (Holm)", "perplexity increase",
               f"identical to {reference}", "weight MB", "tok/s batch 1"]  # fmt: skip
    ranked = table.sort_values(["perplexity increase", "ROUGE-L lost"], ascending=False)
    return ranked[[c for c in columns if c in ranked]].reset_index(drop=True), run
