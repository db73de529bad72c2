"""The project's own cost around decoding: Model.generate vs plain transformers `generate` on the same token ids,
greedy, same new tokens, in one run (CPU or CUDA). Prints tokens/s of each and the ratio; then the cost of the
per-step stop-string check and the live-text callback the tabs use.

    python benchmarks/decode_overhead.py                          # batch 1 and 8, 48 new tokens, embedded model
    python benchmarks/decode_overhead.py --smoke --model DIR      # seconds: batch 1, 4 new tokens
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

from evals.tasks import load_task
from modules.models import GenerationParams, get_model

NEW_TOKENS = 48


def plain(model, prompts: list[str], new_tokens: int = NEW_TOKENS) -> float:
    """transformers alone: left-padded batch, greedy, exactly `new_tokens` new tokens (eos ignored)."""
    ids = [model.tokenizer(model.render(p), add_special_tokens=False)["input_ids"] for p in prompts]
    batch = model.tokenizer.pad({"input_ids": ids}, return_tensors="pt").to(model.device)
    started = time.perf_counter()
    with torch.inference_mode():
        model.hf.generate(**batch, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                          pad_token_id=model.tokenizer.pad_token_id)  # fmt: skip
    return len(prompts) * new_tokens / (time.perf_counter() - started)


def project(model, prompts: list[str], new_tokens: int = NEW_TOKENS, **options) -> float:
    """Model.generate; its rows may stop at eos, so tokens/s counts the tokens it really made."""
    started = time.perf_counter()
    generations = model.generate(prompts, GenerationParams(max_new_tokens=new_tokens, batch_size=len(prompts)),
                                 **options)  # fmt: skip
    return sum(g.new_tokens for g in generations) / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="", help="model spec (default: the embedded model)")
    parser.add_argument("--smoke", action="store_true", help="smallest run: batch 1, 4 new tokens")
    args = parser.parse_args(argv)
    model, new_tokens = get_model(args.model), 4 if args.smoke else NEW_TOKENS
    inputs = [e.input for e in load_task("dialogue-summary").split("test")]
    for batch in (1,) if args.smoke else (1, 8):
        prompts = [f"Summarize: {text}" for text in inputs[:batch]]
        project(model, prompts[:1], new_tokens)  # warm-up
        base = plain(model, prompts, new_tokens)
        ours = project(model, prompts, new_tokens)
        stops = project(model, prompts, new_tokens, on_text=lambda texts: None)
        print(f"batch {batch}: plain transformers {base:.1f} tok/s, Model.generate {ours:.1f} tok/s "
              f"({ours / base:.2f}x), with live text {stops:.1f} tok/s ({stops / base:.2f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
