"""Sandbox cost: a trivial solution() in the full sandbox vs a plain `subprocess.run([python, -c, ...])`."""

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from modules import sandbox

TRIVIAL = "def solution():\n    return 6 * 7\n"


def time_plain(runs: int) -> list[float]:
    code = TRIVIAL + "print(solution())"
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return times


def time_sandbox(runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = sandbox.run_code(TRIVIAL)
        times.append(time.perf_counter() - started)
        assert result.ok and result.result == "42", result
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--smoke", action="store_true", help="smallest run: 1 of each (seconds)")
    args = parser.parse_args(argv)
    runs = 1 if args.smoke else args.runs
    sandbox.run_code(TRIVIAL)  # warm-up: bubblewrap detection happens once, at first use
    time_plain(1 if args.smoke else 3)
    plain, boxed = time_plain(runs), time_sandbox(runs)
    print(f"python: {sys.version.split()[0]}; layers: {'; '.join(sandbox.active_layers())}")
    print(f"plain subprocess:  median {statistics.median(plain) * 1000:6.1f} ms over {runs} runs")
    print(f"sandbox run_code:  median {statistics.median(boxed) * 1000:6.1f} ms over {runs} runs")
    ratio = statistics.median(boxed) / statistics.median(plain)
    print(f"ratio: sandbox takes {ratio:.2f}x the time of a plain subprocess (target <= 1.5x)")


if __name__ == "__main__":
    main()
