"""CLI: python -m evals compare | systems | runs | show | report | examples | tasks | scaling | attention |
sampling: the lab, no UI."""

import argparse
import json
import math
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd

from evals import comparison, report, showcase, stats
from evals import samples as sampling_study
from evals.runner import compare, parse_systems
from evals.showcase import SHOWCASE
from evals.tasks import TaskError, load_task, task_names, uploaded
from modules import limits
from modules.exports import write_csv
from modules.inside import attention, scaling
from modules.models import DEFAULT_SPEC, GenerationParams, ModelLoadError, adapters, get_model, pruned, quantized
from modules.progress import Progress
from modules.store import StoreError, default_store
from modules.techniques import SYSTEMS, prompting, settings_help


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m evals", description="Compare LLM techniques on a task.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("compare", help="run systems over a task and print the aggregate table")
    run.add_argument("--task", required=True, help="dialogue-summary, arithmetic-word-problems, ...")
    run.add_argument("--systems", required=True, help="comma-separated, e.g. zero-shot,few-shot:k=3 or "
                     "zero-shot@smollm2-135m+adapter:lora1 (a system on a model of its own)")  # fmt: skip
    run.add_argument("--baseline", default=None, help="system name the others are compared with (default: first)")
    run.add_argument("--limit", type=positive_int, default=None, help="first N examples of the split")
    run.add_argument("--split", default="test", choices=["train", "test"])
    run.add_argument("--model", default=DEFAULT_SPEC, help=f"model spec (default {DEFAULT_SPEC})")
    run.add_argument("--seed", type=int, default=0, help="seed for the bootstrap and for sampling systems")
    run.add_argument("--base-url", default=None, help="OpenAI-compatible server for openai:<model> specs "
                     "(default: LAB_OPENAI_BASE_URL); the key is read from LAB_OPENAI_API_KEY only")  # fmt: skip
    run.add_argument("--out", type=Path, default=None, help="write per-example results to .csv or .json")
    commands.add_parser("systems", help="list every system with its settings, defaults and help")
    examples = commands.add_parser("examples", help="remake the stored example runs the tabs open with")
    examples.add_argument("--only", choices=sorted(SHOWCASE), default=None, help="one tab's example only")
    examples.add_argument("--model", default=DEFAULT_SPEC, help=f"model spec (default {DEFAULT_SPEC})")
    runs = commands.add_parser("runs", help="list stored runs")
    runs.add_argument("--limit", type=int, default=20)
    show = commands.add_parser("show", help="print one stored run")
    show.add_argument("run_id", type=int)
    tasks = commands.add_parser("tasks", help="list tasks, add your own from a CSV / JSONL file, or delete one")
    tasks.add_argument("action", choices=["list", "add", "delete"])
    tasks.add_argument("name", nargs="?", help="task name (add, delete)")
    tasks.add_argument("--file", type=Path, help="add: a .csv or .jsonl with input, reference (answer, id, split)")
    tasks.add_argument("--split-column", default=None, help="add: the column that says train or test")
    tasks.add_argument("--test-share", type=float, default=0.3, help="add: share of rows in test (seeded split)")
    tasks.add_argument("--seed", type=int, default=0, help="add: seed of the split")
    report = commands.add_parser("report", help="write one stored run as a self-contained HTML report")
    report.add_argument("run_id", type=int)
    report.add_argument("--out", type=Path, required=True, help="the .html file to write")
    report.add_argument("--baseline", default=None, help="system the others are compared with (default: first)")
    report.add_argument("--question", default="", help="the question the comparison answers (report title)")
    report.add_argument("--price", type=float, default=None, help="price per GPU-hour, for cost per 1,000 examples")
    scaling_parser = commands.add_parser("scaling", help="compute-optimal parameters and tokens for a compute budget")
    scaling_parser.add_argument("--parameters", type=float, default=None, help="model parameters N, e.g. 135e6")
    scaling_parser.add_argument("--compute", type=float, default=None, help="training compute C in FLOPs, e.g. 1e21")
    scaling_parser.add_argument("--out", type=Path, default=None, help="write the table to .csv or .json")
    attention_parser = commands.add_parser("attention", help="where the answer looks: attention shares by segment")
    attention_parser.add_argument("--model", default=DEFAULT_SPEC, help=f"model spec (default {DEFAULT_SPEC})")
    attention_parser.add_argument("--task", default="company-handbook-qa", help="the task whose template builds it")
    attention_parser.add_argument("--example", default=None, help="test example id (default: the first)")
    attention_parser.add_argument("--k", type=int, default=2, help="few-shot examples before it (default 2)")
    attention_parser.add_argument("--prompt", default=None, help="a prompt of your own instead, sent as it is")
    attention_parser.add_argument("--out", type=Path, default=None, help="write the shares to .csv or .json")
    sampling_parser = commands.add_parser("sampling", help="each step's next-token distribution under a decoding "
                                          "setting; with --settings, n samples per setting, scored")  # fmt: skip
    sampling_parser.add_argument("--model", default=DEFAULT_SPEC, help=f"model spec (default {DEFAULT_SPEC})")
    sampling_parser.add_argument("--task", default="dialogue-summary", help="the task whose prompt it uses")
    sampling_parser.add_argument("--example", default=None, help="test example id (default: the first)")
    sampling_parser.add_argument("--prompt", default=None, help="an input of your own instead (no reference)")
    sampling_parser.add_argument("--greedy", action="store_true", help="greedy instead of sampling")
    sampling_parser.add_argument("--temperature", type=float, default=0.7)
    sampling_parser.add_argument("--top-k", type=int, default=40, help="0: off")
    sampling_parser.add_argument("--top-p", type=float, default=0.9, help="1: off")
    sampling_parser.add_argument("--seed", type=int, default=0)
    sampling_parser.add_argument("--max-new-tokens", type=int, default=48)
    sampling_parser.add_argument("--settings", default=None, help="comma-separated, e.g. greedy,T=0.3,T=1.2 "
                                 "(see the Sampling tab): n samples each on the example, scored")  # fmt: skip
    sampling_parser.add_argument("--n", type=int, default=5, help="samples per setting (2-10)")
    sampling_parser.add_argument("--out", type=Path, default=None, help="write the table to .csv or .json")
    return parser.parse_args(argv)


def cmd_sampling(args) -> int:
    """The Sampling tab without the page: each step's token, its probability, what the filters kept and the mass
    they held; with --settings, the per-setting table (means with intervals over the samples, diversity)."""
    if args.out is not None and args.out.suffix not in (".csv", ".json"):
        raise ValueError(f"--out must end in .csv or .json, got '{args.out}'.")
    task = load_task(args.task)
    example = task.example(args.example) if args.example else task.split("test")[0]
    if args.prompt is not None:
        if not args.prompt.strip():
            raise ValueError("The prompt is empty.")
        example = replace(example, id="typed", input=args.prompt, reference="", answer=None)
    marker = prompting.next_example_marker(task)
    params = GenerationParams(max_new_tokens=args.max_new_tokens, do_sample=not args.greedy,
                              temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, seed=args.seed,
                              stop_strings=(marker,) if marker else ())  # fmt: skip
    model = get_model(args.model)
    (steps,) = model.top_logprobs([prompting.build_prompt(model, task, [], example)], params, k=20)
    table = pd.DataFrame([{"step": i, "token": step.token, "p (model)": math.exp(step.logprob),
                           "p drawn from": math.exp(dict(step.sampled_from or []).get(step.token, -math.inf)),
                           "tokens left": len(step.sampled_from or []), "kept mass": step.kept_mass}
                          for i, step in enumerate(steps, start=1)])  # fmt: skip
    how = "greedy" if args.greedy else "sampled"
    print(f"{model.label}, example {example.id}: {how}, T={args.temperature:g}, top-k {args.top_k or 'off'}, "
          f"top-p {args.top_p:g}, seed {args.seed} ('tokens left' 20: 20 or more)")  # fmt: skip
    with pd.option_context("display.float_format", "{:.3f}".format, "display.width", 200):
        print(table.to_string(index=False))
    if args.settings:
        chosen = [label.strip() for label in args.settings.split(",") if label.strip()]
        systems = sampling_study.systems(model, chosen, args.n, args.seed, args.max_new_tokens)
        table = sampling_study.table([sampling_study.sample_one(task, example, system) for system in systems])
        with pd.option_context("display.width", 200):
            print(table.to_string(index=False))
    if args.out is not None:
        write_table(table, args.out)
    return 0


def cmd_scaling(args) -> int:
    """The scaling calculator's table at the budget, the fits' sources and why they differ."""
    table = scaling.plan(args.parameters, args.compute)
    with pd.option_context("display.float_format", "{:.4g}".format, "display.width", 200):
        print(table.to_string(index=False))
    for fit in scaling.FITS:
        print(f"{fit.name}: E={fit.E}, A={fit.A}, B={fit.B}, alpha={fit.alpha}, beta={fit.beta} ({fit.source})")
    print(scaling.WHY_THEY_DIFFER)
    if args.out is not None:
        write_table(table, args.out)
    return 0


def cmd_attention(args) -> int:
    """The answer's attention shares per layer and segment (the Attention tab's table) and its summary."""
    if args.out is not None and args.out.suffix not in (".csv", ".json"):
        raise ValueError(f"--out must end in .csv or .json, got '{args.out}'.")
    if args.prompt is not None:
        picture = attention.typed(get_model(args.model), args.prompt)
    else:
        task = load_task(args.task)
        query = task.example(args.example) if args.example else task.split("test")[0]
        picture = attention.few_shot(get_model(args.model), task, query, args.k)
    print(f"Answer (greedy): {picture.answer}")
    if picture.cut:
        print(f"Cut: {picture.cut} tokens after the first ({', '.join(picture.cut_segments)}); read the first and "
              f"the last {len(picture.tokens) - 1}.")  # fmt: skip
    table = picture.table.reset_index(names="layer")
    with pd.option_context("display.float_format", "{:.3f}".format, "display.width", 200):
        print(table.to_string(index=False))
    print(picture.summary)
    if args.out is not None:
        write_table(table, args.out)
    return 0


def write_table(table: pd.DataFrame, out: Path) -> None:
    if out.suffix not in (".csv", ".json"):
        raise ValueError(f"--out must end in .csv or .json, got '{out}'.")
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False) if out.suffix == ".csv" else table.to_json(out, orient="records", indent=1)
    print(f"Wrote {out}")


def format_aggregate(aggregate: pd.DataFrame) -> str:
    if aggregate.empty:
        return "(no results)"
    table = aggregate.assign(
        value=[
            f"{m:.3f} [{lo:.3f}, {hi:.3f}]" for m, lo, hi in zip(aggregate["mean"], aggregate.ci_low, aggregate.ci_high)
        ]
    )
    wide = table.pivot(index="system", columns="score", values="value").reindex(aggregate.system.unique())
    return wide[list(dict.fromkeys(aggregate.score))].to_string()


def cmd_compare(args: argparse.Namespace) -> int:
    if args.out is not None and args.out.suffix not in (".csv", ".json"):
        raise ValueError(f"--out must end in .csv or .json, got '{args.out}'.")
    if args.base_url:
        limits.set_openai_base_url(args.base_url)
    task = load_task(args.task)
    texts = [text for text in args.systems.split(",") if text.strip()]
    systems = parse_systems(texts, args.model, task)  # every system checked against the task before a model loads
    store = default_store()
    run = compare(task, systems, limit=args.limit, split=args.split, seed=args.seed, store=store,
                  progress=print_progress)  # fmt: skip
    n = run.per_example.example_id.nunique()
    print(f"Run {run.id} ({run.status}): task {task.name}, split {run.split}, {n} examples, seed {run.seed}")
    print("Models: " + "; ".join(dict.fromkeys(f"{s.model.spec} = {s.model.label}" for s in systems)))
    print(f"Mean [95% interval: {stats.INTERVALS}] per system:")
    print(format_aggregate(run.aggregate))
    if len(systems) > 1 and not run.per_example.empty:
        baseline = args.baseline or systems[0].name
        print(f"Paired difference from the baseline '{baseline}' (Holm-adjusted p):")
        print(comparison.readable(comparison.quality_table(run.per_example, baseline, run.seed)).to_string(index=False))
        print(comparison.MULTIPLE_COMPARISONS)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        if args.out.suffix == ".csv":
            write_csv(run.per_example, args.out)
        else:
            args.out.write_text(json.dumps(run.to_dict(systems[0].model.info()), indent=2, default=str))
        print(f"Wrote {args.out}")
    return 0


def cmd_systems(args: argparse.Namespace) -> int:
    """Every system name, the technique behind it, and each setting with its default and help (from the Config)."""
    for name, (technique, _) in SYSTEMS.items():
        print(f"{name}  (technique: {technique})")
        for setting, kind, default, help_text in settings_help(name):
            print(f"    {f'{setting}={default!r}':<32} {kind:<16} {help_text}")
    print("\nUse as --systems name or name:setting=value:setting=value, e.g. few-shot:k=5:selection=similar")
    print("Add @MODEL to run a system on a model of its own, e.g. zero-shot@smollm2-135m+quant:int8. Models:")
    print(f"    {DEFAULT_SPEC} (the default), a local folder, or a Hugging Face id (online)")
    print("    +quant:PRECISION on any of them: " + ", ".join(quantized.PRECISIONS))
    print("    +prune:METHOD-PERCENT before them (e.g. +prune:wanda-50): " + ", ".join(pruned.METHODS))
    saved = adapters.list_assets()
    for asset in saved:
        print(f"    {asset['spec']}  ({asset.get('method')}, {asset['size_mb']:.1f} MB)")
    if not saved:
        print("    (no saved adapters yet: the fine-tuning tab saves them as BASE+adapter:NAME)")
    return 0


def print_progress(event: Progress) -> None:
    print(f"  [{event.done}/{event.total}] {event.stage}", file=sys.stderr, flush=True)


def cmd_examples(args: argparse.Namespace) -> int:
    model = get_model(args.model)
    for tab in [args.only] if args.only else list(SHOWCASE):
        path = showcase.make(tab, model, print_progress)
        print(f"Wrote {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    runs = default_store().list_runs(args.limit)
    if not runs:
        print("No runs stored yet.")
        return 0
    table = pd.DataFrame(runs)[["id", "created", "status", "task", "split", "limit", "results", "model_label"]]
    table["systems"] = [", ".join(s["name"] for s in run["systems"]) for run in runs]
    print(table.to_string(index=False))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    store = default_store()
    run = store.get_run(args.run_id)
    if run is None:
        raise ValueError(f"No run with id {args.run_id}.")
    print(f"Run {run['id']} ({run['status']}), created {run['created']}, commit {run['git_commit'] or 'unknown'}")
    print(f"Task {run['task']}, split {run['split']}, limit {run['limit']}, seed {run['seed']}")
    print(f"Model: {run['model_label']}; {run['results']} results stored")
    for system in run["systems"]:
        print(f"  {system['name']}: {system['technique']} {json.dumps(system['config'])}")
    if run.get("aggregate"):
        print(format_aggregate(pd.DataFrame(run["aggregate"])))
    return 0


def cmd_tasks(args: argparse.Namespace) -> int:
    if args.action == "list":
        mine = set(uploaded.list_tasks())  # read once, not per name
        for name in task_names():
            task = load_task(name) if name in mine else None
            print(f"{name}  (uploaded: {len(task.examples)} rows)" if task else name)
        return 0
    if not args.name:
        raise ValueError(f"tasks {args.action} needs a task name.")
    if args.action == "delete":
        uploaded.delete_task(args.name)
        print(f"Deleted task {args.name}")
        return 0
    if args.file is None:
        raise ValueError("tasks add needs --file (a .csv or .jsonl).")
    task = uploaded.add_task(args.name, args.file, split_column=args.split_column, test_share=args.test_share,
                             seed=args.seed)  # fmt: skip
    print(f"Added task {task.name}: {len(task.split('train'))} train, {len(task.split('test'))} test rows, "
          f"answer type {task.answer_type}. Use it as --task {task.name}.")  # fmt: skip
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    if args.out.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"--out must end in .html, got '{args.out}'.")
    path = report.write(default_store(), args.run_id, args.out, baseline=args.baseline, question=args.question,
                        price_per_gpu_hour=args.price)  # fmt: skip
    print(f"Wrote {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    commands = {"compare": cmd_compare, "systems": cmd_systems, "examples": cmd_examples, "runs": cmd_runs,
                "show": cmd_show, "report": cmd_report, "tasks": cmd_tasks, "scaling": cmd_scaling,
                "attention": cmd_attention, "sampling": cmd_sampling}  # fmt: skip
    try:
        return commands[args.command](args)
    except (ValueError, TaskError, ModelLoadError, StoreError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
