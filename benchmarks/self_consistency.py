"""Self-consistency: n sampled paths per question in one batched call vs n sequential calls (same prompts).

python benchmarks/self_consistency.py                        # n=5, 2 questions, embedded model
python benchmarks/self_consistency.py --smoke --model DIR    # seconds: n=2, 1 question, 4 new tokens
"""

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

from evals.tasks import load_task
from modules.models import get_model
from modules.techniques import prompting, self_consistency


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5)
    parser.add_argument("--questions", type=int, default=2)
    parser.add_argument("--model", default="", help="model spec (default: the embedded model)")
    parser.add_argument("--smoke", action="store_true", help="smallest run: n=2, 1 question, 4 new tokens")
    args = parser.parse_args(argv)
    if args.smoke:
        args.n, args.questions = 2, 1
    model, task = get_model(args.model), load_task("arithmetic-word-problems")
    questions = task.split("test")[: args.questions]
    config = self_consistency.Config(n=args.n, **({"max_new_tokens": 4} if args.smoke else {}))
    sampling = replace(
        config.few_shot().prompting(), do_sample=True, temperature=config.temperature, top_p=config.top_p
    )
    prompting.run(model, task, questions[:1], replace(sampling, max_new_tokens=4))  # warm-up
    started = time.perf_counter()
    batched = self_consistency.run(model, task, questions, config)
    batched_s = time.perf_counter() - started
    started, sequential_tokens = time.perf_counter(), 0
    for question in questions:
        for path in range(args.n):
            (output,) = prompting.run(model, task, [question], replace(sampling, seed=path))
            sequential_tokens += output.new_tokens
    sequential_s = time.perf_counter() - started
    batched_tokens = sum(o.new_tokens for o in batched)
    print(f"model: {model.label}; torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores")
    print(f"{args.questions} questions x n={args.n} paths, k={config.k}, temperature {config.temperature}")
    print(
        f"one batched call:    {batched_s:6.2f} s, {batched_tokens} new tokens ({batched_tokens / batched_s:.1f} tok/s)"
    )
    print(f"n sequential calls:  {sequential_s:6.2f} s, {sequential_tokens} new tokens "
          f"({sequential_tokens / sequential_s:.1f} tok/s)")  # fmt: skip
    print(f"ratio: one batched call is {sequential_s / batched_s:.2f}x faster than {args.n} sequential calls "
          f"(target >= 2x; sampled paths differ in length, so compare tokens/s too)")  # fmt: skip


if __name__ == "__main__":
    main()
