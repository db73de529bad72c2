"""ICL tab columns: zero/one/few-shot in one batched generate call vs three sequential calls (same prompts).

python benchmarks/icl_columns.py                         # 3 examples, k=3, 96 new tokens, embedded model
python benchmarks/icl_columns.py --smoke --model DIR     # seconds: 1 example, k=1, 4 new tokens
"""

import argparse
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

from evals.tasks import load_task
from modules.models import get_model
from modules.techniques import prompting


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=3, help="test examples, each timed both ways")
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--model", default="", help="model spec (default: the embedded model)")
    parser.add_argument("--smoke", action="store_true", help="smallest run: 1 example, k=1, 4 new tokens")
    args = parser.parse_args(argv)
    if args.smoke:
        args.examples, args.k, args.max_new_tokens = 1, 1, 4
    return args


def _stamp(times: list[float]):
    return lambda texts: times.append(time.perf_counter())


def equal_length_rows(model, task, config) -> tuple[float, float]:
    """The batching gain when rows produce the same number of tokens: one prompt x3, batched vs sequential."""
    prompt = prompting.build_prompt(model, task, task.split("train")[:1], task.split("test")[0])
    params = config.generation_params()
    started = time.perf_counter()
    model.generate([prompt] * 3, params)
    batched = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(3):
        model.generate([prompt], params)
    return batched, time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    model, task = get_model(args.model), load_task("dialogue-summary")
    config = prompting.Config(k=args.k, max_new_tokens=args.max_new_tokens)
    counts = [0, 1, args.k]
    prompting.run_shot_counts(model, task, task.split("test")[0], [0], prompting.Config(max_new_tokens=4))  # warm-up
    batched_s = sequential_s = first_visible_s = single_full_s = 0.0
    same = total = 0
    for example in task.split("test")[: args.examples]:
        first_seen: list[float] = []
        started = time.perf_counter()
        batched = prompting.run_shot_counts(model, task, example, counts, config, on_text=_stamp(first_seen))
        batched_s += time.perf_counter() - started
        first_visible_s += first_seen[0] - started  # what the tab shows first: the columns' first tokens
        started = time.perf_counter()
        sequential = []
        for k in counts:
            one_started = time.perf_counter()
            sequential += prompting.run_shot_counts(model, task, example, [k], config)
            single_full_s = max(single_full_s, time.perf_counter() - one_started)
        sequential_s += time.perf_counter() - started
        same += sum(a.text == b.text for a, b in zip(batched, sequential))
        total += len(counts)
    n = args.examples
    print(f"model: {model.label}; cpu: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")  # fmt: skip
    print(f"columns: shots {counts}, max_new_tokens {args.max_new_tokens}, greedy, {n} examples")
    print(f"one batched call per example:     {batched_s / n:6.2f} s per example")
    print(f"three sequential calls:           {sequential_s / n:6.2f} s per example")
    print(f"first visible output (streamed):  {first_visible_s / n:6.2f} s after Run; slowest single column "
          f"{single_full_s:.2f} s")  # fmt: skip
    print(f"identical column outputs: {same}/{total}")
    equal_batched, equal_sequential = equal_length_rows(model, task, config)
    print(f"context: 3 rows of equal output length: batched {equal_batched:.2f} s vs sequential "
          f"{equal_sequential:.2f} s ({equal_sequential / equal_batched:.2f}x)")  # fmt: skip
    print(f"ratio: one batched call is {sequential_s / batched_s:.2f}x faster than three sequential calls "
          f"(target >= 1.8x); first output after {first_visible_s / n:.2f} s vs {single_full_s:.2f} s for one full "
          f"generation")  # fmt: skip


if __name__ == "__main__":
    main()
