"""Batched runner (compare) vs a per-example transformers pipeline: same prompts, greedy, speed and agreement.

python benchmarks/runner_throughput.py                       # 20 examples, few-shot k=3, embedded model
python benchmarks/runner_throughput.py --smoke --model DIR   # seconds: 2 examples, k=1, 4 new tokens
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd
import torch
import transformers
from transformers import Pipeline, pipeline

from evals import metrics
from evals.runner import System, compare
from evals.tasks import Example, Task, load_task
from modules.models import GenerationParams, Model, Prompt, get_model
from modules.techniques import prompting

TASK = "dialogue-summary"
WARM_UP_TOKENS = 8  # enough to run every code path once (prefill + decode), short enough not to matter


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=20, help="Test examples to run through both paths.")
    parser.add_argument("--k", type=int, default=3, help="Shots in the few-shot prompt.")
    parser.add_argument("--max-new-tokens", type=int, default=0, help="Room per answer (default: the technique's).")
    parser.add_argument("--model", default="", help="Model spec (default: the embedded model).")
    parser.add_argument("--smoke", action="store_true", help="Smallest run: 2 examples, k=1, 4 new tokens.")
    args = parser.parse_args(argv)
    if args.smoke:
        args.limit, args.k, args.max_new_tokens = 2, 1, 4
    return args


def built_prompts(model: Model, task: Task, examples: list[Example], config: prompting.Config) -> list[Prompt]:
    """The prompts (chat turns for this model) built the way prompting.run builds them."""
    pool = task.split("train")
    return [prompting.build_prompt(model, task, prompting.select_shots(pool, e, config), e) for e in examples]


def stop_token_ids(model: Model) -> list[int]:
    """Same stop set as Model.generate: the generation config's eos ids plus the tokenizer's eos."""
    eos = model.hf.generation_config.eos_token_id
    ids = list(eos) if isinstance(eos, list) else [eos]
    ids.append(model.tokenizer.eos_token_id)
    return sorted({i for i in ids if i is not None})


def pipeline_options(model: Model, max_new_tokens: int) -> dict:
    """Greedy decoding with the runner's special-token handling (the chat template already adds them)."""
    return {
        "return_full_text": False,
        "max_new_tokens": max_new_tokens,
        "do_sample": False,
        "add_special_tokens": not model.has_chat_template,
        "pad_token_id": model.tokenizer.pad_token_id,
        "eos_token_id": stop_token_ids(model),
    }


def warm_up(model: Model, text_generator: Pipeline, task: Task, prompt: Prompt) -> None:
    """One short generate per path, and the metric modules, so first-call overhead stays out of the timings."""
    model.generate([prompt], GenerationParams(max_new_tokens=WARM_UP_TOKENS))  # renders the chat template itself
    text_generator(model.render(prompt), **pipeline_options(model, WARM_UP_TOKENS))
    metrics.score(task.metrics, ["warm up"], ["warm up"], [None])


def time_runner(task: Task, system: System, limit: int) -> tuple[float, pd.DataFrame]:
    """Seconds for compare() (batched generation + scoring) and its per-example table."""
    started = time.perf_counter()
    run = compare(task, [system], limit=limit)
    return time.perf_counter() - started, run.per_example


def time_pipeline(
    model: Model, text_generator: Pipeline, task: Task, prompts: list[str], max_new_tokens: int
) -> tuple[float, list[str]]:
    """Seconds for one pipeline call per prompt (the naive loop) and the cleaned outputs."""
    options = pipeline_options(model, max_new_tokens)
    started = time.perf_counter()
    raw = [text_generator(prompt, **options)[0]["generated_text"] for prompt in prompts]
    seconds = time.perf_counter() - started
    # The runner strips the decoded text before clean(), so do the same here.
    return seconds, [prompting.clean(text.strip(), task).strip() for text in raw]


def machine_facts(model: Model) -> dict[str, str]:
    return {
        "cpu count": str(os.cpu_count()),
        "torch threads": str(torch.get_num_threads()),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "device": str(model.device),
        "model": model.label,
    }


def print_report(count: int, runner_s: float, pipeline_s: float, facts: dict[str, str]) -> None:
    print(f"\n{'path':<38} {'examples':>8} {'seconds':>9} {'examples/s':>11}")
    for name, seconds in (("batched runner (compare)", runner_s), ("per-example pipeline (loop)", pipeline_s)):
        print(f"{name:<38} {count:>8} {seconds:>9.1f} {count / seconds:>11.3f}")
    print("(the runner's time also includes ROUGE/BLEU scoring; the pipeline's does not)")
    print()
    for name, value in facts.items():
        print(f"{name}: {value}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    task = load_task(TASK)
    model = get_model(args.model)
    room = f":max_new_tokens={args.max_new_tokens}" if args.max_new_tokens else ""
    system = System.parse(f"few-shot:k={args.k}{room}", model)
    examples = task.split("test")[: args.limit]
    prompts = built_prompts(model, task, examples, system.config)
    # The exact texts the runner sends to the tokenizer (chat template applied), given as-is to the pipeline.
    rendered = [model.render(p) for p in prompts]
    text_generator = pipeline("text-generation", model=model.hf, tokenizer=model.tokenizer)

    warm_up(model, text_generator, task, prompts[0])
    runner_s, runner_table = time_runner(task, system, args.limit)
    pipeline_s, pipeline_outputs = time_pipeline(model, text_generator, task, rendered, system.config.max_new_tokens)

    runner_outputs = dict(zip(runner_table["example_id"], runner_table["output"]))
    same = sum(runner_outputs[e.id].strip() == text for e, text in zip(examples, pipeline_outputs))
    share = 100 * same / len(examples)
    print_report(len(examples), runner_s, pipeline_s, machine_facts(model))
    print(f"system: {system.name}, task: {TASK}, max_new_tokens: {system.config.max_new_tokens}, greedy")
    # Prompt vs answer length explains the ratio: prefill does not get cheaper per row in a batch.
    print(
        f"mean prompt tokens: {runner_table['prompt_tokens'].mean():.0f}, "
        f"mean new tokens: {runner_table['new_tokens'].mean():.1f} (max {runner_table['new_tokens'].max()})"
    )
    print(f"identical outputs: {same}/{len(examples)} ({share:.0f}%)")
    print(
        f"ratio: batched runner is {pipeline_s / runner_s:.2f}x faster than per-example pipeline (target >= 3x); "
        f"identical outputs on {same}/{len(examples)} ({share:.0f}%, target >= 90%)"
    )


if __name__ == "__main__":
    main()
