"""How long the fine-tuning tab's presets take here: 'quick look' timed end to end (training + scoring, as the tab
runs it), 'course-like' estimated from this run's measured per-step and per-example times (running it takes long).
Baseline for the ratio: the quick look itself (course-like / quick look).

    python benchmarks/finetune_presets.py                       # the presets as the tab runs them (embedded model)
    python benchmarks/finetune_presets.py --course              # also time 'course-like' end to end (~30 min)
    python benchmarks/finetune_presets.py --smoke --model DIR   # seconds: 1 step per method, 1 test example
"""

import argparse
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("LAB_HOME", "/tmp/lab-bench-presets")

from evals.tasks import load_task
from modules.models import get_model
from modules.studies import fine_tuning


def settings(name: str, preset: str, steps: int | None = None, smoke: bool = False) -> fine_tuning.JobSettings:
    job = fine_tuning.JobSettings.from_preset(name, preset)
    for config in job.configs.values():
        config.steps = 1 if smoke else steps or config.steps
        config.max_length = 32 if smoke else config.max_length
    if smoke:
        job.eval_limit, job.probe_limit = 1, 0
    return job


def timed(base, job: fine_tuning.JobSettings, score: bool = True) -> tuple[float, float, list[dict]]:
    """(training seconds, scoring seconds, cost rows); score=False trains only (scoring 0 s)."""
    stop, started = threading.Event(), time.perf_counter()
    costs = fine_tuning.train_methods(base, job, lambda event: None, stop)
    trained = time.perf_counter()
    if score:
        fine_tuning.evaluate(base, job, costs, lambda event: None, stop)
    return trained - started, time.perf_counter() - trained, costs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="", help="model spec (default: the embedded model)")
    parser.add_argument("--smoke", action="store_true", help="smallest run: 1 step per method, 1 test example")
    parser.add_argument("--course", action="store_true", help="time 'course-like' end to end too (long)")
    args = parser.parse_args(argv)
    base = get_model(args.model)
    train_s, score_s, _ = timed(base, settings("preset-quick", "quick look", smoke=args.smoke))
    quick = train_s + score_s
    print(f"quick look: {quick:.0f} s ({train_s:.0f} s training 10 LoRA steps, {score_s:.0f} s scoring 2 systems x 5)")
    # course-like: time 3 steps of each method at its batch size, scoring from the quick look's per-output pace
    (methods, steps, _, _, evals, probe), _ = fine_tuning.PRESETS["course-like"]
    job = settings("preset-course", "course-like", steps=3, smoke=args.smoke)
    _, _, costs = timed(base, job, score=False)
    probes = sum(min(probe, len(load_task(name).split("test"))) for name in job.probe_tasks) if probe else 0
    per_output = score_s / (2 * 5)
    estimate = sum(row["time / step (s)"] * steps for row in costs) + per_output * (1 + len(methods)) * (evals + probes)
    paces = ", ".join(f"{row['method']} {row['time / step (s)']:.1f} s/step" for row in costs)
    print(
        f"course-like (estimated): {estimate / 60:.0f} min = {estimate / quick:.1f}x the quick look ({paces}; "
        f"{evals} test + {probes} probe examples at the quick look's {per_output:.1f} s per output)"
    )
    if args.course:
        train_s, score_s, _ = timed(base, settings("preset-course", "course-like", smoke=args.smoke))
        course = train_s + score_s
        print(
            f"course-like (measured): {course / 60:.1f} min = {course / quick:.1f}x the quick look "
            f"({train_s / 60:.1f} min training, {score_s / 60:.1f} min scoring)"
        )


if __name__ == "__main__":
    main()
