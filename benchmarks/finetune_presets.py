"""How long the fine-tuning tab's presets take here: 'quick look' timed end to end (training + scoring, as the tab
runs it), 'course-like' estimated from this run's measured per-step and per-example times (running it takes long).
Baseline for the ratio: the quick look itself (course-like / quick look)."""

import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("LAB_HOME", "/tmp/lab-bench-presets")

from modules.models import get_model
from modules.studies import fine_tuning


def settings(name: str, preset: str, steps: int | None = None) -> fine_tuning.JobSettings:
    job = fine_tuning.JobSettings.from_preset(name, preset)
    for config in job.configs.values():
        config.steps = steps or config.steps
    return job


def timed(base, job: fine_tuning.JobSettings) -> tuple[float, float, list[dict]]:
    """(training seconds, scoring seconds, cost rows)."""
    stop, started = threading.Event(), time.perf_counter()
    costs = fine_tuning.train_methods(base, job, lambda event: None, stop)
    trained = time.perf_counter()
    fine_tuning.evaluate(base, job, costs, lambda event: None, stop)
    return trained - started, time.perf_counter() - trained, costs


def main() -> None:
    base = get_model()
    train_s, score_s, _ = timed(base, settings("preset-quick", "quick look"))
    quick = train_s + score_s
    print(f"quick look: {quick:.0f} s ({train_s:.0f} s training 10 LoRA steps, {score_s:.0f} s scoring 2 systems x 5)")
    # course-like: time 3 steps of each method at its batch size, scoring from the quick look's per-output pace
    (methods, steps, _, _, evals, probe), _ = fine_tuning.PRESETS["course-like"]
    _, _, costs = timed(base, settings("preset-course", "course-like", steps=3))
    per_output = score_s / (2 * 5)
    estimate = sum(row["time / step (s)"] * steps for row in costs) + per_output * (1 + len(methods)) * (evals + probe)
    paces = ", ".join(f"{row['method']} {row['time / step (s)']:.1f} s/step" for row in costs)
    print(f"course-like (estimated): {estimate / 60:.0f} min = {estimate / quick:.1f}x the quick look ({paces})")


if __name__ == "__main__":
    main()
