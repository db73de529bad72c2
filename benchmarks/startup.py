"""Embedded model startup: first load (GGUF conversion into an empty LAB_HOME) vs cached safetensors load.

python benchmarks/startup.py                        # the embedded model, cached load median of 3
python benchmarks/startup.py --smoke --model DIR    # a first and one cached load of DIR (two fresh processes)
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
CACHED_REPEATS = 3
# Runs in a fresh interpreter so no import or file-handle cache from an earlier load helps;
# only get_model() is timed, after the imports it needs.
LOAD_SCRIPT = """
import json, sys, time
from modules.models import get_model
started = time.perf_counter()
model = get_model(sys.argv[1])
print(json.dumps({"seconds": time.perf_counter() - started, "label": model.label}))
"""


def timed_load(lab_home: Path, spec: str = "") -> dict:
    """{'seconds', 'label'} from one get_model(spec) call (default: the embedded model) in a new subprocess using
    `lab_home`."""
    env = os.environ | {"LAB_HOME": str(lab_home), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", LOAD_SCRIPT, spec], cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"model load failed (exit {result.returncode}):\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])  # the JSON line is printed last


def machine_facts(label: str) -> dict[str, str]:
    return {
        "cpu count": str(os.cpu_count()),
        "torch threads": str(torch.get_num_threads()),
        "torch": torch.__version__,
        "model": label,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="", help="model spec (default: the embedded model)")
    parser.add_argument("--repeats", type=int, default=CACHED_REPEATS, help="cached loads (the median is kept)")
    parser.add_argument("--smoke", action="store_true", help="smallest run: one cached load")
    args = parser.parse_args(argv)
    repeats = 1 if args.smoke else args.repeats
    lab_home = Path(tempfile.mkdtemp(prefix="lab-startup-"))
    try:
        first = timed_load(lab_home, args.model)
        cached = [timed_load(lab_home, args.model)["seconds"] for _ in range(repeats)]
    finally:
        shutil.rmtree(lab_home, ignore_errors=True)
    cached_median = statistics.median(cached)
    print(f"first load (GGUF conversion + cache write): {first['seconds']:.2f} s")
    runs = ", ".join(f"{seconds:.2f}" for seconds in cached)
    print(f"cached load, median of {repeats}: {cached_median:.2f} s (runs: {runs})")
    for name, value in machine_facts(first["label"]).items():
        print(f"{name}: {value}")
    print(
        f"ratio: cached load is {first['seconds'] / cached_median:.1f}x faster than first load with GGUF conversion "
        "(target >= 3x)"
    )


if __name__ == "__main__":
    main()
