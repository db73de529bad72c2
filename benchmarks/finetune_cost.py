"""Fine-tuning cost: time per step, peak memory, optimizer state and saved size for full vs LoRA vs prompt tuning
on the same batch (8 x 128 tokens), each method in a fresh process; then the demo default (40 LoRA steps on
dialogue-summary) timed end to end and scored against the untouched base with a paired 95% interval.

    python benchmarks/finetune_cost.py                          # the README's figures (embedded model)
    python benchmarks/finetune_cost.py --smoke --model DIR      # seconds: 1 step of each method on 8 x 32 tokens
                                                                # in this process, then 1 LoRA step scored on 1 example
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import psutil
import torch

from evals import comparison, stats
from evals.tasks import load_task
from modules.models import adapters, get_model
from modules.studies import fine_tuning, forgetting
from modules.training import data, finetune, trainer

METHODS = ("full", "lora", "lora-attention", "lora-mlp", "lora-all", "prompt-tuning", "ia3")


def measure(method: str, steps: int, spec: str = "", length: int = 128) -> dict:
    """One method in this process: 1 warm-up step, then `steps` timed steps on the same 8 x `length` batch."""
    model, task = get_model(spec), load_task("dialogue-summary")
    loaded_rss = psutil.Process().memory_info().rss
    rows = [data.tokenize(model, task, pair, length) for pair in data.pairs_from_task(task)[:8]]
    assert all(len(r.input_ids) == length for r in rows)
    rows = rows * (steps + 1)  # every step sees the same 8 rows in a seeded order
    net = finetune.prepare(model, finetune.Config(method=method))
    folder = Path(tempfile.mkdtemp())
    common = {"batch_size": 8, "micro_batch": 8, "lr": finetune.DEFAULT_LR[method], "seed": 0,
              "pad_id": model.tokenizer.pad_token_id, "checkpoint_every": 10_000}  # fmt: skip
    trainer.train(net, rows, steps=1, folder=folder / "warm", **common)
    result = trainer.train(net, rows, steps=steps + 1, folder=folder / "warm", resume=True, **common)
    saved = adapters.save(f"bench-{method}", net, {"method": method, "base": model.spec, "steps": 0, "seed": 0})
    trainable, total = finetune.trainable_counts(net)
    return {
        "method": method, "seconds_per_step": result.seconds_per_step,
        # the process high-water mark above the loaded base: copies, gradients, optimizer state, activations
        "peak_memory_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - loaded_rss) / 2**20,
        "optimizer_state_mb": result.optimizer_state_mb, "saved_mb": adapters.weights_bytes(saved) / 2**20,
        "trainable": trainable, "total": total,
    }  # fmt: skip


def cost_table(steps: int, spec: str = "", length: int = 128, fresh: bool = True) -> None:
    """fresh=False (a smoke run) measures each method in this process: seconds instead of an interpreter each."""
    found = {}
    for method in METHODS:
        if not fresh:
            found[method] = measure(method, steps, spec, length)
            continue
        done = subprocess.run([sys.executable, __file__, "--child", method, "--steps", str(steps), "--model", spec,
                               "--length", str(length)], capture_output=True, text=True, check=True)  # fmt: skip
        found[method] = json.loads(done.stdout.strip().splitlines()[-1])
    model = get_model(spec)
    print(f"model: {model.label}; torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores")
    where = "one fresh process per method" if fresh else "all in this process (smoke run)"
    print(f"batch 8 x {length} tokens, {steps} timed steps after 1 warm-up, {where}")
    # "lora" is the job's default (q_proj, v_proj); the placed rows use the same r=8; ratios to LoRA on all linear
    every = found["lora-all"]
    print("| method | trainable | s / step | x lora-all | peak extra memory MB | x lora-all | optimizer state MB | "
          "saved MB |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for m in found.values():
        print(f"| {m['method']} | {m['trainable']:,} ({100 * m['trainable'] / m['total']:.3f}%) | "
              f"{m['seconds_per_step']:.2f} | {m['seconds_per_step'] / every['seconds_per_step']:.2f} | "
              f"{m['peak_memory_mb']:.0f} | {m['peak_memory_mb'] / max(every['peak_memory_mb'], 1):.2f} | "
              f"{m['optimizer_state_mb']:.2f} | {m['saved_mb']:.2f} |")  # fmt: skip
    full, lora = found["full"], found["lora"]
    speed = full["seconds_per_step"] / lora["seconds_per_step"]
    print(f"ratio: LoRA step {speed:.2f}x faster than full (target >= 1.5x)")
    state = full["optimizer_state_mb"] / lora["optimizer_state_mb"]
    print(f"ratio: optimizer state {state:.0f}x smaller (target >= 100x)")
    print(f"ratio: adapter file {full['saved_mb'] / lora['saved_mb']:.0f}x smaller than the full checkpoint (>= 100x)")


def demo(methods: tuple[str, ...], limit: int, probe_limit: int, spec: str = "", smoke: bool = False,
         mixture: str = "") -> None:  # fmt: skip
    """The tab's default run for `methods` (and each on `mixture` too, if given), timed from the first step to the
    scored tables (smoke: 1 short step)."""
    model = get_model(spec)
    shortest = {"steps": 1, "max_length": 32} if smoke else {}
    configs = {method: finetune.Config(method=method, **shortest) for method in methods}
    settings = fine_tuning.JobSettings(name="bench-demo", methods=methods, configs=configs, eval_limit=limit,
                               probe_limit=probe_limit, mixture=fine_tuning.parse_mixture(mixture))  # fmt: skip
    started = time.perf_counter()
    costs = fine_tuning.train_methods(model, settings, lambda event: None, threading.Event())
    trained_s = time.perf_counter() - started
    quality, probe = fine_tuning.evaluate(model, settings, costs, lambda event: None, threading.Event())
    total_s = time.perf_counter() - started
    print("\ndemo defaults (the tab's): dialogue-summary train split (44 pairs), seed 0")
    for row in costs:
        config = configs[row["method"].removesuffix(fine_tuning.MULTI_TASK)]
        print(f"- {row['method']}: {config.steps} steps x batch {config.batch_size}, lr {config.lr}, "
              f"{row['time / step (s)']:.2f} s/step, final loss {row['final loss']:.3f}")  # fmt: skip
    print(
        f"training {trained_s:.0f} s; training + scoring {limit} test examples"
        f"{f' + {probe.per_example.example_id.nunique()} probe examples' if probe else ''} x {len(costs) + 1} systems: "
        f"{total_s:.0f} s (target for LoRA alone < 360 s)"
    )
    differences = comparison.paired_differences(quality.per_example, "base", "rougeL", quality.seed)
    print(f"\nquality (run {quality.id}, test split, n={limit}), paired difference vs base [95%], Holm-adjusted p:")
    print("| system | ROUGE-1 | ROUGE-L | BLEU | ROUGE-L minus base |")
    print("|---|---|---|---|---|")
    for system in ("base", *[row["method"] for row in costs]):
        cells = []
        for score in ("rouge1", "rougeL", "bleu"):
            row = quality.aggregate[(quality.aggregate.system == system) & (quality.aggregate.score == score)].iloc[0]
            cells.append(f"{row['mean']:.3f} [{row.ci_low:.3f}, {row.ci_high:.3f}]")
        d = differences.get(system)
        interval = f"[{d['ci_low']:+.3f}, {d['ci_high']:+.3f}]" if d else ""
        change = f"{d['mean']:+.3f} {interval}, p {stats.p_text(d['p_holm'])}" if d else "-"
        print(f"| {system} | {' | '.join(cells)} | {change} |")
    if probe is not None:
        print(f"\nforgetting (runs {probe.ids}, {probe.task}, up to {probe_limit} test examples each, zero-shot):")
        print(forgetting.table(probe).round(3).to_string(index=False))
        width = forgetting.resolution(probe)
        print(f"widest pooled half-width: ±{width:.3f} ROUGE-L (a 5-point drop is read if it is below 0.05)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--limit", type=int, default=22, help="test examples for the demo score")
    parser.add_argument("--child", choices=METHODS, help=argparse.SUPPRESS)
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument("--methods", default="lora", help="comma-separated methods for the demo run")
    parser.add_argument("--probe-limit", type=int, default=0, help="forgetting-probe examples in the demo run")
    parser.add_argument("--mixture", default="", help="also train each method on this mixture ('task: share, ...')")
    parser.add_argument("--skip-cost", action="store_true")
    parser.add_argument("--model", default="", help="model spec (default: the embedded model)")
    parser.add_argument("--length", type=int, default=128, help="tokens per row of the cost batch")
    parser.add_argument("--smoke", action="store_true", help="smallest run, in this process (seconds)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.steps, args.length, args.limit, args.probe_limit = 1, 32, 1, 0
    if args.child:
        print(json.dumps(measure(args.child, args.steps, args.model, args.length)))
        return
    if not args.skip_cost:
        cost_table(args.steps, args.model, args.length, fresh=not args.smoke)
    if not args.skip_demo:
        demo(tuple(args.methods.split(",")), args.limit, args.probe_limit, args.model, args.smoke, args.mixture)


if __name__ == "__main__":
    main()
