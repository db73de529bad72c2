"""Decoding speed by path, in one run: the project's eager path, its fast path (static cache + torch.compile), plain
transformers eager and plain transformers static cache + compile; tokens/s at two batch sizes, the ratios, and how
many greedy rows the two project paths agree on. Random weights of SmolLM2 shapes (nothing is downloaded; speed
does not depend on the weights' values). Targets on a GPU: fast >= 5x eager at batch 1, >= 80% of plain
static + compile at both batch sizes, identical greedy rows >= 95%.

    python benchmarks/gpu_decode.py                  # CUDA: 135M and 1.7B shapes, batch 1 and 32, 64 new tokens
    python benchmarks/gpu_decode.py --shapes 135m    # CPU default: the 135M shape, batch 1 and 8, 32 new tokens
    python benchmarks/gpu_decode.py --smoke --model DIR  # seconds: DIR's own shape and tokenizer, batch 1, 4 new
                                                         # tokens; on a CPU the static cache without compiling
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, CompileConfig

from modules.models import GenerationParams, Model, decoding, default_device
from modules.models.embedded import cache_dir, convert_and_cache, is_cached

PROMPT_TOKENS = 200
# SmolLM2-1.7B's shape (its config.json); same tokenizer and vocabulary as the 135M model.
SHAPE_1_7B = {"hidden_size": 2048, "intermediate_size": 8192, "num_hidden_layers": 24, "num_attention_heads": 32,
              "num_key_value_heads": 32, "rope_theta": 130000.0}  # fmt: skip


def random_model(shape: str, device: torch.device, dtype: torch.dtype, folder: Path | None = None):
    """Random weights of SmolLM2's shape ("135m", "1.7b"), or of `folder`'s own config ("own"), with its tokenizer."""
    folder = folder or (cache_dir() if is_cached() else convert_and_cache())
    config = AutoConfig.from_pretrained(folder)
    if shape == "1.7b":
        for name, value in SHAPE_1_7B.items():
            setattr(config, name, value)
    torch.manual_seed(0)
    hf = AutoModelForCausalLM.from_config(config, dtype=dtype).to(device).eval()
    return hf, AutoTokenizer.from_pretrained(folder)


def prompts(tokenizer, rows: int, tokens: int = PROMPT_TOKENS) -> list[str]:
    """Texts of ~`tokens` tokens each, different per row."""
    words = [
        "the",
        "quick",
        "brown",
        "fox",
        "jumps",
        "over",
        "a",
        "lazy",
        "dog",
        "while",
        "seven",
        "dialogue",
        "turns",
        "go",
        "by",
    ]
    return [" ".join(words[(row + i) % len(words)] for i in range(max(tokens - 30, 1))) for row in range(rows)]


def project(model: Model, texts: list[str], new_tokens: int) -> tuple[float, list[str]]:
    params = GenerationParams(max_new_tokens=new_tokens, batch_size=len(texts))
    model.generate(texts, params)  # warm-up: compiles this shape on the fast path
    sync(model)
    started = time.perf_counter()
    generations = model.generate(texts, params)
    sync(model)
    return sum(g.new_tokens for g in generations) / (time.perf_counter() - started), [g.text for g in generations]


def plain(model: Model, texts: list[str], new_tokens: int, compiled: bool) -> float:
    """transformers alone on the same token ids: exactly new_tokens per row (eos ignored)."""
    ids = [model.tokenizer(model.render(t), add_special_tokens=False)["input_ids"] for t in texts]
    batch = model.tokenizer.pad({"input_ids": ids}, return_tensors="pt").to(model.device)
    options = {"max_new_tokens": new_tokens, "min_new_tokens": new_tokens, "do_sample": False,
               "pad_token_id": model.tokenizer.pad_token_id}  # fmt: skip
    if compiled:
        compile_config = CompileConfig()
        compile_config._compile_all_devices = True
        options |= {"cache_implementation": "static", "compile_config": compile_config}
    with torch.inference_mode():
        model.hf.generate(**batch, **options)  # warm-up
        sync(model)
        started = time.perf_counter()
        model.hf.generate(**batch, **options)
        sync(model)
    return len(texts) * new_tokens / (time.perf_counter() - started)


def sync(model: Model) -> None:
    if model.device.type == "cuda":
        torch.cuda.synchronize()


def with_path(path: str, hf, tokenizer) -> Model:
    os.environ["LAB_DECODE"] = path
    try:
        return Model(f"random-{path}", f"random weights ({path})", hf, tokenizer)
    finally:
        os.environ.pop("LAB_DECODE")


def main(argv: list[str] | None = None) -> None:
    on_gpu = torch.cuda.is_available()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="+", default=["135m", "1.7b"] if on_gpu else ["135m"])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 32] if on_gpu else [1, 8])
    parser.add_argument("--new-tokens", type=int, default=64 if on_gpu else 32)
    parser.add_argument("--out", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--model", type=Path, help="a model folder whose config and tokenizer to use (shape 'own')")
    parser.add_argument("--prompt-tokens", type=int, default=PROMPT_TOKENS)
    parser.add_argument("--smoke", action="store_true", help="smallest run: --model's shape, batch 1, 4 new tokens")
    args = parser.parse_args(argv)
    fast_path = "compiled"
    if args.smoke:
        args.shapes, args.batches, args.new_tokens, args.prompt_tokens = ["own"], [1], 4, 40
        fast_path = "compiled" if on_gpu else "static"  # compiling on a CPU takes minutes and does not pay there
    device, dtype = default_device()
    print(f"device {device}, {str(dtype).removeprefix('torch.')}, torch {torch.__version__}, "
          f"{args.prompt_tokens}-token prompts, {args.new_tokens} new tokens, greedy")  # fmt: skip
    rows = []
    for shape in args.shapes:
        hf, tokenizer = random_model(shape, device, dtype, args.model if shape == "own" else None)
        eager, fast = with_path("eager", hf, tokenizer), with_path(fast_path, hf, tokenizer)
        for batch in args.batches:
            texts = prompts(tokenizer, batch, args.prompt_tokens)
            old, old_texts = project(eager, texts, args.new_tokens)
            new, new_texts = project(fast, texts, args.new_tokens)
            row = {"shape": shape, "batch": batch, "project eager": old, "project fast": new,
                   "plain eager": plain(eager, texts, args.new_tokens, compiled=False),
                   "plain static+compile": plain(eager, texts, args.new_tokens, compiled=fast_path == "compiled"),
                   "identical rows": sum(a == b for a, b in zip(old_texts, new_texts)) / batch}  # fmt: skip
            row |= {"fast / eager": new / old, "fast / plain static+compile": new / row["plain static+compile"],
                    "eager / plain eager": old / row["plain eager"]}  # fmt: skip
            rows.append(row)
            print(f"{shape} batch {batch}: project eager {old:,.1f} tok/s, project fast {new:,.1f} "
                  f"({row['fast / eager']:.2f}x eager, {row['fast / plain static+compile']:.0%} of plain "
                  f"static+compile {row['plain static+compile']:,.1f}); plain eager {row['plain eager']:,.1f} "
                  f"(project eager at {row['eager / plain eager']:.0%}); greedy rows identical "
                  f"{row['identical rows']:.0%}", flush=True)  # fmt: skip
        del hf, eager, fast
    if args.out:
        args.out.write_text(json.dumps({"device": str(device), "dtype": str(dtype), "rows": rows}, indent=1))
    print(f"(fast path = {decoding.COMPILED}; batch sizes padded to {decoding.BATCH_BUCKETS})")


if __name__ == "__main__":
    main()
