"""Quantization: decode tokens/s and weight memory of each precision variant of the embedded model against fp32 in
the same run, the memory of the quantized layers alone, and int8's ROUGE-L loss on dialogue-summary with its
paired 95% interval (Holm-adjusted across the int8 variants compared with fp32).

    python benchmarks/quantization.py                   # the README's figures (embedded model, minutes)
    python benchmarks/quantization.py --smoke --model DIR   # seconds: fp32 and int8, 1 example, 4-token answers
"""

import argparse
import os
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from torch import nn

from evals import comparison
from modules import measure
from modules.models import get_model, llamacpp, quantized
from modules.studies import quantization

VARIANTS = ("fp32", "bf16", "int8", "int8-all-but-down_proj", "int8-attention", "int8-mlp", "int8-everything", "4bit")
SMOKE_VARIANTS = ("fp32", "int8")  # what the ratios and the ROUGE-L part below need
SLOW_TEXTS = 4  # CPU int4 scores perplexity on the first 4 references only (its kernel is ~10x slower)


def quantized_layer_bytes(base, model, names: list[str]) -> tuple[int, int]:
    """(fp32 bytes, held bytes) of the Linear layers that int8 replaces: weights and biases only."""
    modules = dict(model.hf.named_modules())
    held = sum(quantized.weight_bytes(modules[name]) for name in names)
    fp32 = sum(m.weight.numel() * 4 + (m.bias.numel() * 4 if m.bias is not None else 0)
               for name, m in base.hf.named_modules() if name in names and isinstance(m, nn.Linear))  # fmt: skip
    return fp32, held


def print_table(rows: dict, repeats: int, texts: int, tokens: int) -> None:
    fp32 = rows["fp32"]
    print(f"{tokens} new tokens per row, greedy, median of {repeats} after a warm-up; perplexity on {texts} texts")
    print("| variant | weight MB | x fp32 | conversion s | tok/s batch 1 | x fp32 | tok/s batch 8 | x fp32 | "
          "perplexity | note |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['weight_mb']:.0f} | {r['weight_mb'] / fp32['weight_mb']:.2f} | {r['conversion_s']:.1f} | "
              f"{r['b1']:.1f} | {r['b1'] / fp32['b1']:.2f} | {r['b8']:.1f} | {r['b8'] / fp32['b8']:.2f} | "
              f"{r['perplexity']:.2f} | {r['note']} |")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=22, help="dialogue-summary test examples for ROUGE-L")
    parser.add_argument("--repeats", type=int, default=3, help="decode timings per variant (the median is kept)")
    parser.add_argument("--only", default="", help="comma-separated variants to time (fp32 is always included)")
    parser.add_argument("--new-tokens", type=int, default=0, help="new tokens per timed row (default: 32; 8 CPU int4)")
    parser.add_argument("--model", default="", help="model spec (default: the embedded model)")
    parser.add_argument("--smoke", action="store_true", help="smallest run: fp32 and int8, 1 short answer")
    args = parser.parse_args(argv)
    if args.smoke:
        args.limit, args.repeats, args.new_tokens = 1, 1, 4
    base = get_model(args.model)
    print(f"model: {base.label}; torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} cores")
    rows, texts = {}, quantization.held_out_texts()[: 1 if args.smoke else None]
    chosen = ("fp32", *args.only.split(",")) if args.only else SMOKE_VARIANTS if args.smoke else VARIANTS
    for name in [v for v in VARIANTS if v in chosen]:
        model = quantization.variant(base, name)
        tokens = args.new_tokens or quantization.speed_tokens(model)
        slow = quantization.speed_tokens(model) < 32
        rows[name] = {
            "weight_mb": quantized.weight_bytes(model.hf) / 2**20,
            "conversion_s": model.conversion_s,
            "b1": measure.decode_speed(model, 1, tokens, repeats=1 if slow else args.repeats),
            "b8": measure.decode_speed(model, 8, tokens, repeats=1 if slow else args.repeats),
            "perplexity": measure.perplexity(model, texts[:SLOW_TEXTS] if slow else texts),
            "note": f"{tokens} tokens, perplexity on {SLOW_TEXTS} texts (fp32 on them: "
            f"{measure.perplexity(base, texts[:SLOW_TEXTS]):.2f})"
            if slow
            else "",
        }
        if name not in ("fp32", "int8", "int8-all-but-down_proj"):
            quantization.free(base.spec, [name])
    if llamacpp.unavailable_reason():
        print(llamacpp.unavailable_reason())
    elif (not args.only and not args.smoke) or "gguf" in chosen:  # optional: the original Q4_1 file in llama.cpp
        rows["gguf-q4_1 (llama.cpp)"] = {
            "weight_mb": llamacpp.file_mb(), "conversion_s": 0.0, "b1": llamacpp.decode_speed(), "b8": float("nan"),
            "perplexity": llamacpp.perplexity(texts), "note": "file size; one sequence at a time in this binding",
        }  # fmt: skip
    fp32 = rows["fp32"]
    print_table(rows, args.repeats, len(texts), args.new_tokens or 32)
    if args.only:
        return
    int8 = quantization.variant(base, "int8")
    fp32_bytes, held = quantized_layer_bytes(base, int8, quantized.chosen_linears(base.hf, "all-but-embeddings"))
    print(f"ratio: int8 decode at batch 1 is {rows['int8']['b1'] / fp32['b1']:.2f}x fp32 (target >= 2x)")
    print(
        f"ratio: the int8 layers hold {held / fp32_bytes:.2f}x their fp32 bytes (target <= 0.3x); whole model "
        f"{rows['int8']['weight_mb'] / fp32['weight_mb']:.2f}x (embeddings and the output head stay fp32)"
    )
    names = ["int8"] if args.smoke else ["int8", "int8-all-but-down_proj"]
    table, run = quantization.compare_variants(base, names, "dialogue-summary", args.limit,
                                               lambda event: print(event.stage), threading.Event(),
                                               perplexity_texts=len(texts), speed_repeats=args.repeats,
                                               new_tokens=args.new_tokens or None,
                                               answer_tokens=4 if args.smoke else None)  # fmt: skip
    scores = table.set_index("variant")
    differences = comparison.paired_differences(run.per_example, "fp32", "rougeL", run.seed)  # variant - fp32
    print(f"ROUGE-L on {args.limit} dialogue-summary test examples (run {run.id}), zero-shot, greedy:")
    for name in ("fp32", *names):
        line = f"- {name}: {scores.loc[name, 'rougeL']:.3f} {scores.loc[name, 'rougeL 95% CI']}"
        if name != "fp32":
            d = differences[name]  # the loss is fp32 - variant: the interval mirrored
            speed = rows[name]["b1"] / fp32["b1"]
            line += (f"; loss (fp32 - {name}) {-100 * d['mean']:+.1f} points [{-100 * d['ci_high']:+.1f}, "
                     f"{-100 * d['ci_low']:+.1f}] (target <= 1.0), p (Holm) {d['p_holm']:.3f}; identical to fp32 "
                     f"{scores.loc[name, 'identical to fp32']:.0%}; decode {speed:.2f}x fp32 at batch 1")  # fmt: skip
        print(line)


if __name__ == "__main__":
    main()
