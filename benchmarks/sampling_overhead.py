"""What keeping the sampling explorer's distributions costs: Model.top_logprobs (top 20 per step, the raw logits and
the filtered scores of the same generate call) vs Model.generate without them, same prompts, same sampling settings,
same new tokens, in one run. Target: <= 1.15x the time of plain generation at batch 1 and 8.

    python benchmarks/sampling_overhead.py                          # batch 1 and 8, 48 new tokens, embedded model
    python benchmarks/sampling_overhead.py --smoke --model DIR      # seconds: batch 1, 4 new tokens
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from evals.tasks import load_task
from modules.models import GenerationParams, get_model

NEW_TOKENS = 48
REPEATS = 3  # the median of 3: this machine is shared


def timed(call) -> tuple[float, int]:
    """(median seconds of REPEATS calls, new tokens of the last)."""
    seconds, tokens = [], 0
    for _ in range(REPEATS):
        started = time.perf_counter()
        tokens = call()
        seconds.append(time.perf_counter() - started)
    return sorted(seconds)[len(seconds) // 2], tokens


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="", help="model spec (default: the embedded model)")
    parser.add_argument("--smoke", action="store_true", help="smallest run: batch 1, 4 new tokens")
    args = parser.parse_args(argv)
    model, new_tokens = get_model(args.model), 4 if args.smoke else NEW_TOKENS
    # min_new_tokens is not a lab setting: sampling at T=0.7 with the same seed makes the same tokens in both calls.
    params = GenerationParams(max_new_tokens=new_tokens, do_sample=True, temperature=0.7, top_k=50, top_p=0.9, seed=1)
    inputs = [e.input for e in load_task("dialogue-summary").split("test")]
    print(f"{model.label}, {new_tokens} new tokens, T=0.7 top-k 50 top-p 0.9, median of {REPEATS}")
    for batch in (1,) if args.smoke else (1, 8):
        prompts = [f"Summarize: {text}" for text in inputs[:batch]]
        model.generate(prompts[:1], params)  # warm-up
        plain, made = timed(lambda prompts=prompts: sum(g.new_tokens for g in model.generate(prompts, params)))
        kept, steps = timed(lambda prompts=prompts: sum(len(s) for s in model.top_logprobs(prompts, params, k=20)))
        print(f"batch {batch}: generate {plain:.2f} s ({made} tokens), with top-20 distributions {kept:.2f} s "
              f"({steps} steps): {kept / plain:.2f}x (target <= 1.15x)")  # fmt: skip


if __name__ == "__main__":
    main()
