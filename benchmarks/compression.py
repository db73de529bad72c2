"""Compression: in one run on one model, (1) the automatic int8 recipe (w8a8-auto: SmoothQuant, per-token int8) against
fp32: batch-1 decode speed ratio and ROUGE-L loss with its paired 95% interval on dialogue-summary's 22 test examples
and dialogue-summary-110's 110 (targets: >= 1.8x, loss <= 1 point with an interval that includes 0), with bf16 and w8a8
(head in fp32) as controls; (2) structured pruning (whole MLP neurons, attention heads) at 25%
and 50%: speed ratio and ROUGE-L loss, and unstructured pruning's perplexity at 50% (dense, magnitude, Wanda); (3)
distillation's seconds per step against a plain fine-tune step of the same student; (4) quantization-aware training
against post-training quantization of a plain fine-tune of the same steps (8da4w: int4 weights; w8a8: int8 weights);
(5) the default distillation with a zero-shot and a 3-shot teacher, and learning the 3-shot teacher's answers; (6)
the int8 recipes w8a8's was chosen among, on train dialogues (never test): KL, greedy agreement, ROUGE-L difference.

    python benchmarks/compression.py                    # the README's figures (embedded model, ~60 minutes)
    python benchmarks/compression.py --smoke --model DIR   # seconds: 1 example, 4-token answers, 1 step
"""

import argparse
import copy
import os
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("LAB_HOME", tempfile.mkdtemp(prefix="lab-bench-compression-"))  # its assets stay out of yours

import torch

from evals import comparison
from evals.runner import System, compare
from evals.tasks import load_task
from modules import measure
from modules.models import adapters, calibration, get_model, int8_recipe, quantized
from modules.models.spec import variant_spec
from modules.store import default_store
from modules.studies import distillation, quantization
from modules.techniques import prompting
from modules.training import distill, finetune, full, qat, supervised, trainer

RECIPE = "w8a8-auto"
INT8_CONTROLS = ("bf16", "w8a8")  # "w8a8": every decoder Linear per-token int8, the output head in fp32
LARGER = "dialogue-summary-110"  # 110 test dialogues besides dialogue-summary's 22
STRUCTURED = ("prune:mlp-neurons-25", "prune:mlp-neurons-50", "prune:attention-heads-25", "prune:attention-heads-50")
UNSTRUCTURED = ("prune:magnitude-global-50", "prune:wanda-50")


def quality(base, names: list[str], limit: int, texts: int, repeats: int, smoke: bool,
            task: str = "dialogue-summary") -> None:  # fmt: skip
    """Speed, size, perplexity and ROUGE-L of each variant against the base, scored in one stored run."""
    table, run = quantization.compare_variants(base, names, task, limit, lambda event: None,
                                               threading.Event(), perplexity_texts=texts, speed_repeats=repeats,
                                               new_tokens=4 if smoke else None,
                                               answer_tokens=4 if smoke else None)  # fmt: skip
    rows = table.set_index("variant")
    reference = table.variant.iloc[0]
    differences = comparison.paired_differences(run.per_example, reference, "rougeL", run.seed)  # variant - fp32
    examples = run.per_example.example_id.nunique()
    print(f"ROUGE-L on {examples} {task} test examples (run {run.id}), zero-shot, greedy; decode at batch 1, "
          f"median of {repeats}; perplexity on {texts} test references")  # fmt: skip
    for name in table.variant:
        r = rows.loc[name]
        line = (f"- {name}: {r['weight MB']:.0f} MB, {r['tok/s batch 1']:.1f} tok/s, perplexity {r['perplexity']:.1f}, "
                f"ROUGE-L {r['rougeL']:.3f} {r['rougeL 95% CI']}")  # fmt: skip
        if name != reference and name in differences:
            d = differences[name]  # the loss is reference - variant: the interval mirrored
            speed = r["tok/s batch 1"] / rows.loc[reference, "tok/s batch 1"]
            size = r["weight MB"] / rows.loc[reference, "weight MB"]
            loss, low, high = -100 * d["mean"], -100 * d["ci_high"], -100 * d["ci_low"]
            line += (f"; ratio: {speed:.2f}x {reference} speed, {size:.2f}x size; loss {loss:+.1f} points "
                     f"[{low:+.1f}, {high:+.1f}], p (Holm) {d['p_holm']:.3f}")  # fmt: skip
        print(line)


# w8a8 on every Linear (the head rescored) made six ways: how many calibration examples give SmoothQuant its channel
# maxima, its migration strength, and down_proj left in fp32 (the last three on calibration's usual few examples)
FEW, SHIPPED = calibration.EXAMPLES, quantized.SMOOTH_EXAMPLES
RECIPES = {
    f"maxima from {FEW} examples": {"examples": FEW},
    f"maxima from {SHIPPED} examples (shipped)": {"examples": SHIPPED},
    f"alpha 0.4, maxima from {FEW}": {"examples": FEW, "alpha": 0.4},
    f"alpha 0.65, maxima from {FEW}": {"examples": FEW, "alpha": 0.65},
    f"alpha 0.8, maxima from {FEW}": {"examples": FEW, "alpha": 0.8},
    f"down_proj in fp32, maxima from {FEW}": {"examples": FEW, "keep": "down_proj"},
}


def w8a8_made(base, absmax: dict, alpha: float = quantized.SMOOTH_ALPHA, keep: str = ""):
    """w8a8 on a copy of the base: every Linear but those ending in `keep`, SmoothQuant from `absmax`."""
    net = copy.deepcopy(base.hf)
    for name in quantized.chosen_linears(net, "everything"):
        if not (keep and name.endswith(keep)):
            int8_recipe.swap(net, name, quantized.int8_layer(net, name, net.get_submodule(name), absmax[name], alpha))
    return net.eval()


def recipes(base, limit: int | None, smoke: bool) -> None:
    """The int8 recipes on train dialogues, the split the shipped one was chosen on (never test): calibration KL,
    greedy agreement, and the ROUGE-L difference to fp32 with its paired interval. The first SMOOTH_EXAMPLES train
    dialogues calibrate, so they are left out."""
    first, larger = load_task("dialogue-summary"), load_task(LARGER)
    dev = replace(first, name="int8-recipes-dev",
                  examples=first.split("train")[quantized.SMOOTH_EXAMPLES:] + larger.split("train"))  # fmt: skip
    texts = calibration.batches(base, 2 if smoke else quantized.SMOOTH_EXAMPLES)
    reference = int8_recipe.log_probs(base.hf, texts)
    counts = {options["examples"] for options in RECIPES.values()}
    maxima = {n: int8_recipe.input_absmax(base.hf, calibration.batches(base, 2 if smoke else n)) for n in counts}
    models, measured = {"fp32": base}, {}
    for name, options in RECIPES.items():
        net = w8a8_made(base, maxima[options["examples"]], options.get("alpha", quantized.SMOOTH_ALPHA),
                        options.get("keep", ""))  # fmt: skip
        picks = [a.argmax(-1) == b.argmax(-1) for a, b in zip(int8_recipe.log_probs(net, texts), reference)]
        agree = sum(p.sum().item() for p in picks) / sum(p.numel() for p in picks)
        measured[name] = (int8_recipe.mean_kl(net, texts, reference), agree)
        models[name] = base.variant(variant_spec(base.spec, quant="w8a8-everything"), name, net)
    options = prompting.Config(k=0, max_new_tokens=4) if smoke else prompting.Config(k=0)
    run = compare(dev, [System(n, m, "prompting", options) for n, m in models.items()], limit, split="train")
    differences = comparison.paired_differences(run.per_example, "fp32", "rougeL", run.seed)
    outputs = run.per_example.pivot(index="example_id", columns="system", values="output")
    print(f"int8 recipes (w8a8 on every Linear, head rescored) on {len(outputs)} train dialogues (dialogue-summary "
          f"train from #{quantized.SMOOTH_EXAMPLES + 1}, {LARGER} train); KL and greedy agreement on the "
          f"{len(texts)} calibration texts:")  # fmt: skip
    for name, (kl, agree) in measured.items():
        d = differences[name]
        print(f"- {name}: KL {kl:.4f}, greedy agreement {agree:.1%}, outputs identical to fp32's "
              f"{(outputs[name] == outputs['fp32']).mean():.0%}; ROUGE-L loss {-100 * d['mean']:+.1f} points "
              f"[{-100 * d['ci_high']:+.1f}, {-100 * d['ci_low']:+.1f}], p (Holm) {d['p_holm']:.3f}")  # fmt: skip


def perplexities(base, names: list[str], texts: list[str]) -> None:
    print(f"unstructured pruning, perplexity on {len(texts)} dialogue-summary test references "
          "(stored dense: no speed or size change):")  # fmt: skip
    print(f"- dense: {measure.perplexity(base, texts):.1f}")
    for name in names:
        model = quantization.variant(base, name)
        print(f"- {name}: {measure.perplexity(model, texts):.1f}")
        quantization.free(base.spec, [name])


def distill_step(base, keep: int, steps: int, length: int) -> None:
    """Seconds per step: the student (the base with `keep` layers) trained by distillation vs supervised alone."""
    task = load_task("dialogue-summary")
    pairs = task.split("train")[:32]
    seconds = {}
    objectives = (("supervised", supervised), ("distillation", distill.Distill(teacher=base.hf)),
                  ("distillation, 3-shot teacher", distill.Distill(teacher=base.hf, teacher_shots=3)))  # fmt: skip
    for name, objective in objectives:
        student = distill.smaller(base.hf, keep).requires_grad_(True)  # a copy of the shared base may be frozen
        rows = objective.rows(base, task, pairs, length)
        timed: list[float] = []
        record = timed.append
        trainer.train(student, rows, steps=steps + 1, batch_size=4, micro_batch=4, lr=1e-4, seed=0,
                      pad_id=base.tokenizer.pad_token_id, folder=Path(tempfile.mkdtemp()), checkpoint_every=10_000,
                      objective=objective, on_step=lambda p, record=record: record(p.payload["seconds"]))  # fmt: skip
        seconds[name] = sorted(timed[1:])[len(timed[1:]) // 2]  # the median after a warm-up step
        del student
    print(
        f"distillation: student = {keep} of {len(base.hf.model.layers)} layers, batch 4, length <= {length}, "
        f"median of {steps} steps: supervised {seconds['supervised']:.2f} s/step, distillation "
        f"{seconds['distillation']:.2f} s/step; ratio: {seconds['distillation'] / seconds['supervised']:.2f}x; with a "
        f"3-shot teacher {seconds['distillation, 3-shot teacher']:.2f} s/step "
        f"({seconds['distillation, 3-shot teacher'] / seconds['supervised']:.2f}x)"
    )


def teachers(base, limit: int, smoke: bool) -> None:
    """The tab's default distillation with a zero-shot and a 3-shot teacher, and the 3-shot teacher's answers learned
    (sequence-level): each student's ROUGE-L after."""
    for shots, learn in ((0, "distributions"), (3, "distributions"), (3, "answers")):
        smallest = {"steps": 1, "max_length": 64} if smoke else {}
        settings = distillation.Settings(name=f"bench-student-{shots}-{learn}", teacher_shots=shots, learn=learn,
                                         limit=limit, **smallest).checked()  # fmt: skip
        started = time.perf_counter()
        cost, run, table = distillation.run(base, settings, lambda event: None, threading.Event())
        rows = table.set_index("model")
        print(f"distillation, {shots}-shot teacher, learning its {learn} ({settings.steps} steps, "
              f"{time.perf_counter() - started:.0f} s, "
              f"run {run.id}, {limit} test examples): loss {cost['curve'][0]['loss']:.2f} -> "
              f"{cost['curve'][-1]['loss']:.2f}; ROUGE-L " + ", ".join(
                  f"{name} {row.rougeL:.3f} {row['rougeL 95% CI']}" for name, row in rows.iterrows()))  # fmt: skip


def qat_against_ptq(base, steps: int, limit: int, length: int) -> None:
    """The same steps as a plain full fine-tune and as QAT in each scheme (8da4w: int4 weights; w8a8: int8 weights),
    then post-training quantization of the plain one against QAT's converted model, scheme by scheme: seconds per
    step, size, speed, ROUGE-L with paired intervals."""
    task = load_task("dialogue-summary")
    rows = supervised.rows(base, task, task.split("train"), length)
    methods = ("full", *(f"qat-{scheme}" for scheme in qat.SCHEMES))
    seconds = {}
    for method in methods:
        net = finetune.prepare(base, finetune.Config(method=method))
        timed: list[float] = []
        record = timed.append
        trainer.train(net, rows, steps=steps, batch_size=4, micro_batch=4, lr=full.DEFAULT_LR, seed=0,
                      pad_id=base.tokenizer.pad_token_id, folder=Path(tempfile.mkdtemp()), checkpoint_every=10_000,
                      on_step=lambda p, record=record: record(p.payload["seconds"]))  # fmt: skip
        seconds[method] = sorted(timed)[len(timed) // 2]
        adapters.save(f"bench-{method}", net, {"method": method, "base": base.spec, "steps": steps, "seed": 0})
        del net
    systems = {"fp32 base": base.spec, "full fine-tune": f"{base.spec}+adapter:bench-full"}
    for scheme in qat.SCHEMES:
        systems[f"full fine-tune, then {scheme} (PTQ)"] = f"{base.spec}+adapter:bench-full+quant:{scheme}"
        systems[f"QAT, converted to {scheme}"] = f"{base.spec}+adapter:bench-qat-{scheme}"
    models = {name: get_model(spec) for name, spec in systems.items()}
    run = compare(task, [System(name, model, "prompting", prompting.Config(k=0)) for name, model in models.items()],
                  limit, store=default_store())  # fmt: skip
    costs = ", ".join(f"{m} {seconds[m]:.2f} ({seconds[m] / seconds['full']:.2f}x)" for m in methods)
    print(f"QAT vs PTQ: {steps} steps each (batch 4, length <= {length}, lr {full.DEFAULT_LR:g}, seed 0); median "
          f"s/step (ratio to full): {costs}; ROUGE-L on {limit} test examples (run {run.id}):")  # fmt: skip
    for name, model in models.items():
        row = run.aggregate[(run.aggregate.system == name) & (run.aggregate.score == "rougeL")].iloc[0]
        line = (f"- {name}: {quantized.weight_bytes(model.hf) / 2**20:.0f} MB, "
                f"{measure.decode_speed(model, 1, 16, 1):.1f} tok/s, ROUGE-L {row['mean']:.3f} "
                f"[{row.ci_low:.3f}, {row.ci_high:.3f}]")  # fmt: skip
        if name.startswith("QAT"):
            scheme = name.rsplit(" ", 1)[-1]
            ptq = f"full fine-tune, then {scheme} (PTQ)"
            d = comparison.paired_differences(run.per_example, ptq, "rougeL", run.seed)[name]
            line += f"; vs its PTQ {d['mean']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}], p {d['p_value']:.3f}"
        print(line)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=22, help="dialogue-summary test examples for ROUGE-L")
    parser.add_argument("--larger-limit", type=int, default=110, help=f"{LARGER} test examples for the int8 recipe")
    parser.add_argument("--repeats", type=int, default=3, help="decode timings per variant (the median is kept)")
    parts = "int8,recipes,structured,unstructured,qat,distill,teachers"
    parser.add_argument("--only", default=parts, help="parts to run")
    parser.add_argument("--qat-steps", type=int, default=16, help="steps of the plain and the QAT fine-tune")
    parser.add_argument("--model", default="", help="model spec (default: the embedded model)")
    parser.add_argument("--budget", type=float, default=int8_recipe.BUDGET_KL, help="the int8 recipe's KL budget")
    parser.add_argument("--smoke", action="store_true", help="smallest run")
    args = parser.parse_args(argv)
    if args.smoke:
        args.limit, args.larger_limit, args.repeats = 1, 1, 1
    int8_recipe.BUDGET_KL = args.budget
    base = get_model(args.model)
    parts = args.only.split(",")
    print(f"model: {base.label}; torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores")
    texts = 2 if args.smoke else quantization.PERPLEXITY_TEXTS
    started = time.perf_counter()
    if "int8" in parts:
        print("int8 recipe:", quantization.variant(base, RECIPE).label.split(" -> ")[-1])
        # the 22 test examples, then 110 more dialogues for a narrower interval; bf16 and w8a8 with its head
        # in fp32 as controls (what a change of precision nobody calls lossy, and the head kept exact, lose)
        for task, limit in (("dialogue-summary", args.limit), (LARGER, args.larger_limit)):
            quality(base, [RECIPE, *INT8_CONTROLS], limit, texts, args.repeats, args.smoke, task)
        quantization.free(base.spec, [RECIPE, *INT8_CONTROLS])
    if "recipes" in parts:
        recipes(base, 1 if args.smoke else None, args.smoke)
    if "structured" in parts:
        quality(base, list(STRUCTURED), args.limit, texts, args.repeats, args.smoke)
        quantization.free(base.spec, list(STRUCTURED))
    if "unstructured" in parts:
        perplexities(base, list(UNSTRUCTURED), quantization.held_out_texts()[:texts])
    if "qat" in parts:
        qat_against_ptq(base, 1 if args.smoke else args.qat_steps, args.limit, 64 if args.smoke else 256)
    if "distill" in parts:
        layers = len(base.hf.model.layers)
        distill_step(base, max(1, layers // 2), 1 if args.smoke else 5, 64 if args.smoke else 256)
    if "teachers" in parts:
        teachers(base, min(args.limit, 10), args.smoke)
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
