"""Alignment cost: seconds per step of reward-model training, DPO and RL (RLOO) relative to a supervised LoRA step,
on the same preference pairs (hhh-preferences train split, 8 pairs per step), in one process; then, with --read, a
reward model trained on the whole train split and read on the held-out pairs (pairwise accuracy, 95% Wilson interval).

    python benchmarks/alignment_cost.py                    # the README's step costs (embedded model)
    python benchmarks/alignment_cost.py --read --cai 12    # and a reward model's held-out accuracy, then the
                                                           # constitutional loop on 12 held-out prompts, its
                                                           # revisions read by that reward model
    python benchmarks/alignment_cost.py --smoke --model DIR
"""

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("LAB_HOME", tempfile.mkdtemp(prefix="lab-bench-alignment-"))

import torch

from evals import stats
from evals.tasks import load_task
from modules.models import GenerationParams, get_model
from modules.studies import constitutional, reward_model
from modules.training import finetune, registry, reward, rloo, trainer

# (row, what it trains): the baseline first. Each a LoRA r=8 on q,v of the same base, same pairs, same batch.
OBJECTIVES = (("supervised", "LoRA, supervised on the chosen answers"), ("reward", "reward model: LoRA + head"),
              ("dpo", "DPO: LoRA, reference = the base"),
              ("rloo", "RL (RLOO, beta 0.05): 2 prompts x 4 sampled answers, read by a reward model"))  # fmt: skip
RL_SAMPLES, RL_NEW_TOKENS = 4, 48  # 2 prompts x 4 answers: 8 answers a step, as the others read 8 rows


def step_seconds(model, objective: str, pairs, steps: int, length: int) -> tuple[float, float]:
    """(seconds per step after a warm-up step, seconds to make the rows) for one objective on `pairs`."""
    task = load_task("hhh-preferences")
    module = rl_objective(model, task, length) if objective == "rloo" else registry.get_objective(objective)
    method = "reward-model" if objective == "reward" else "lora"
    started = time.perf_counter()
    rows = module.rows(model, task, pairs, length)  # DPO: includes the base's reference log-probabilities
    prepared_s = time.perf_counter() - started
    net = finetune.prepare(model, finetune.Config(method=method, objective="supervised" if objective == "rloo" else
                                                  objective))  # fmt: skip
    folder = Path(tempfile.mkdtemp())
    per_step = 8 // RL_SAMPLES if objective == "rloo" else 8
    common = {"batch_size": per_step, "micro_batch": per_step, "lr": 1e-4, "seed": 0,
              "pad_id": model.tokenizer.pad_token_id, "checkpoint_every": 10_000, "objective": module}  # fmt: skip
    trainer.train(net, rows, steps=1, folder=folder, **common)
    result = trainer.train(net, rows, steps=steps + 1, folder=folder, resume=True, **common)
    return result.seconds_per_step, prepared_s


def rl_objective(model, task, length: int) -> rloo.Rloo:
    """RLOO with a reward model on this base (a fresh head: the cost of reading is the same as a trained one's)."""
    net = reward.network(model)

    def read(examples, answers):
        return reward.score_answers(net, model, task, examples, answers, length)

    return rloo.Rloo(read, beta=0.05, samples=RL_SAMPLES, max_new_tokens=RL_NEW_TOKENS)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="", help="model spec (default: the embedded model)")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per objective")
    parser.add_argument("--length", type=int, default=256, help="max tokens per answer row")
    parser.add_argument("--read", action="store_true", help="also train a reward model and read held-out pairs")
    parser.add_argument("--read-steps", type=int, default=60, help="reward-model steps for --read (batch 8)")
    parser.add_argument("--cai", type=int, default=0, help="with --read: the constitutional loop on N test prompts")
    parser.add_argument("--smoke", action="store_true", help="smallest run: 1 step, short rows")
    args = parser.parse_args(argv)
    if args.smoke:
        args.steps, args.length, args.read_steps = 1, 48, 1
    model = get_model(args.model)
    pairs = load_task("hhh-preferences").split("train")[:8]
    print(f"model: {model.label}; torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores")
    print(f"8 preference pairs per step (hhh-preferences train; supervised reads the 8 chosen answers, the reward "
          f"model and DPO both answers: 16 rows; RLOO samples {RL_SAMPLES} answers of up to {RL_NEW_TOKENS} tokens "
          f"for each of 2 prompts), rows up to {args.length} tokens, {args.steps} timed steps after 1 warm-up, all "
          "in one process")  # fmt: skip
    found = {objective: step_seconds(model, objective, pairs, args.steps, args.length) for objective, _ in OBJECTIVES}
    baseline = found["supervised"][0]
    print("| objective | what | s / step | x supervised LoRA | making the rows (s) |")
    print("|---|---|---|---|---|")
    for objective, what in OBJECTIVES:
        seconds, prepared = found[objective]
        print(f"| {objective} | {what} | {seconds:.2f} | {seconds / baseline:.2f} | {prepared:.1f} |")
    if args.read:
        settings = reward_model.Settings(name="bench-reward", steps=args.read_steps, max_length=args.length,
                                         eval_limit=1 if args.smoke else 60)  # fmt: skip
        started = time.perf_counter()
        result = reward_model.train_and_read(model, settings, lambda event: None, threading.Event())
        a = result.accuracy
        print(f"\nreward model: {settings.steps} steps x batch {settings.batch_size}, r={settings.r}, seed "
              f"{settings.seed}, {result.trainable:,} trainable ({100 * result.trainable / result.total:.3f}%), "
              f"{result.seconds_per_step:.2f} s/step, {time.perf_counter() - started:.0f} s in all")  # fmt: skip
        print(f"held-out pairwise accuracy: {a['mean']:.3f} [{a['ci_low']:.3f}, {a['ci_high']:.3f}] (n={a['n']}, "
              "Wilson 95%)")  # fmt: skip
        print(reward_model.accuracy_by(result.pairs).round(3).to_string(index=False))
        print(reward_model.accuracy_by(result.pairs, "domain").round(3).to_string(index=False))
        if args.cai:
            constitutional_loop(model, args.cai, settings, args.smoke)


def constitutional_loop(model, count: int, settings, smoke: bool) -> None:
    """Answer -> critique -> revise on `count` held-out prompts (every domain in turn); time against one plain
    answer, and how often the reward model just trained prefers the revision to the original."""
    task = load_task("hhh-preferences")
    by_domain = {}
    for example in task.split("test"):
        by_domain.setdefault(example.meta["domain"], []).append(example)
    prompts = [examples[i] for i in range(count) for examples in by_domain.values() if i < len(examples)][:count]
    params = GenerationParams(max_new_tokens=8 if smoke else 96)
    principles = constitutional.parse_principles(constitutional.default_principles_text())
    started = time.perf_counter()
    model.generate([[{"role": "user", "content": p.input}] for p in prompts], params)
    plain_s = time.perf_counter() - started
    started = time.perf_counter()
    revisions = constitutional.revise(model, prompts, principles, params)
    loop_s = time.perf_counter() - started
    pairs, dropped = constitutional.preference_pairs(revisions)
    net, base = reward.load_asset(settings.name)
    revised = reward.score_answers(net, base, task, prompts, [r.revised for r in revisions], settings.max_length)
    original = reward.score_answers(net, base, task, prompts, [r.original for r in revisions], settings.max_length)
    preferred = stats.wilson_ci([float(a > b) for a, b in zip(revised, original)])
    print(f"\nconstitutional loop on {len(prompts)} held-out prompts (greedy, {params.max_new_tokens} new tokens): "
          f"{loop_s:.0f} s = {loop_s / plain_s:.1f}x one plain answer each ({plain_s:.0f} s); {len(pairs)} pairs, "
          f"{dropped} dropped (revision empty or unchanged)")  # fmt: skip
    print(f"the reward model prefers the revision in {preferred['mean']:.2f} [{preferred['ci_low']:.2f}, "
          f"{preferred['ci_high']:.2f}] of prompts (n={preferred['n']}, Wilson 95%)")  # fmt: skip
    for r in revisions[:3]:
        print(f"\n[{r.principle}] {r.prompt[:120]}\n  original: {r.original[:200]}\n  critique: "
              f"{r.critique[:200]}\n  revised:  {r.revised[:200]}")  # fmt: skip


if __name__ == "__main__":
    main()
