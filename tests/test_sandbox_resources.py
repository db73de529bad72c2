"""Resource attacks on the PAL sandbox: each is stopped in time and leaves the lab process as it found it."""

import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

import modules.sandbox as sandbox
from modules.sandbox import Limits, run_code

LIMITS = Limits(wall_s=2, cpu_s=1, memory_bytes=256 * 1024**2, output_chars=10_000)
ADD = "def solution():\n    return 2 + 2\n"
RSS_SLACK = 8 * 1024**2


def pal(number: int) -> str:
    """A PAL-style program, as a small model writes them."""
    return (
        "def solution():\n"
        f"    apples_start = {number}\n"
        "    apples_eaten = 3\n"
        "    apples_bought = 7\n"
        "    result = apples_start - apples_eaten + apples_bought\n"
        "    return result\n"
    )


@pytest.fixture(params=["bwrap-as-detected", "bwrap-off"])
def mode(request, monkeypatch) -> str:
    if request.param == "bwrap-off":
        monkeypatch.setattr(sandbox, "bubblewrap_works", lambda: False)  # looked up at call time; skips the cache
    return request.param


@pytest.fixture()
def host(mode, tmp_path, monkeypatch):
    """Checks, after the test, that no process, temp dir or parent memory was left behind."""
    # A private temp root, so another test session's sandbox dirs cannot blur the count.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    me = psutil.Process()
    assert run_code(ADD, limits=LIMITS).result == "4"  # warm up: imports, detection
    children, rss = {child.pid for child in me.children(recursive=True)}, me.memory_info().rss
    yield me
    assert run_code(ADD, limits=LIMITS).result == "4", "the next run after the attack failed"
    assert {child.pid for child in me.children(recursive=True)} <= children, "a child process was left running"
    assert not list(Path(tempfile.gettempdir()).glob("lab-sandbox-*")), "a sandbox temp dir was left behind"
    grown = me.memory_info().rss - rss
    assert grown < RSS_SLACK, f"the lab process grew by {grown // 2**20} MB"


class PeakRss:
    """Samples this process's RSS in a thread, so a spike during run_code shows even if it is freed after."""

    def __init__(self, process: psutil.Process):
        self.process, self.peak, self.done = process, process.memory_info().rss, threading.Event()

    def __enter__(self):
        self.start = self.peak
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while not self.done.wait(0.005):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.start


ATTACKS = [
    ("infinite_loop", "def solution():\n    while True:\n        pass\n", True, {"timeout"}),
    ("busy_wait", "def solution():\n    n = 0\n    while n >= 0:\n        n += 1\n", True, {"timeout"}),
    ("c_level_loop", "def solution():\n    return sum(range(10**15))\n", True, {"timeout"}),
    ("memory_bomb", 'def solution():\n    x = []\n    while True:\n        x.append("a" * 10**6)\n', True, {"memory"}),
    ("one_huge_allocation", 'def solution():\n    return len("a" * 10**10)\n', True, {"memory"}),
    ("recursion_bomb", "def solution():\n    return solution()\n", True, {"error"}),
    ("mutual_recursion", "def a():\n    return b()\n\ndef b():\n    return a()\n\nsolution = a\n", True, {"error"}),
    (
        "recursion_limit_raised_rejected",
        "import sys\n\ndef solution():\n    sys.setrecursionlimit(10**9)\n    return solution()\n",
        True,
        {"rejected"},
    ),
    (
        "recursion_limit_raised",
        'def solution():\n    print.__self__.__import__("sys").setrecursionlimit(10**9)\n    return f(0)\n\n'
        "def f(n):\n    return f(n + 1) + 1\n",
        False,
        {"crash", "memory", "error", "timeout"},
    ),
    ("sleep_rejected", "import time\n\ndef solution():\n    time.sleep(1e6)\n", True, {"rejected"}),
    ("sleep", 'def solution():\n    print.__self__.__import__("time").sleep(1e6)\n', False, {"timeout"}),
    (
        "cpu_signal_ignored",
        'def solution():\n    print.__self__.__import__("_signal").signal(24, 1)\n    while True:\n        pass\n',
        False,
        {"timeout"},
    ),
    (
        "lock_wait",
        'def solution():\n    lock = print.__self__.__import__("_thread").allocate_lock()\n'
        "    lock.acquire()\n    lock.acquire()\n",
        False,
        {"timeout"},
    ),
]


@pytest.mark.parametrize(("name", "code", "static_check", "kinds"), ATTACKS, ids=[a[0] for a in ATTACKS])
def test_resource_attack_is_stopped_in_time(name, code, static_check, kinds, host):
    started = time.perf_counter()
    result = run_code(code, limits=LIMITS, static_check=static_check)
    elapsed = time.perf_counter() - started
    assert result.kind in kinds, result
    assert elapsed < LIMITS.wall_s + 1
    assert result.error


@pytest.mark.parametrize(
    "code",
    [
        'def solution():\n    print("x" * 10**7)\n    return 1\n',
        'def solution():\n    for _ in range(10**6):\n        print("y" * 100)\n    return 1\n',
        'def solution():\n    print("z" * 5000, "z" * 5000, "z" * 5000)\n    return 1\n',
    ],
    ids=["one_huge_print", "many_prints", "print_just_over_the_cap"],
)
def test_huge_print_is_capped(code, host):
    with PeakRss(host) as peak:
        result = run_code(code, limits=LIMITS)
    assert result.kind in {"ok", "timeout"}
    assert len(result.stdout) <= LIMITS.output_chars + 100
    assert peak.growth < 32 * 1024**2


@pytest.mark.parametrize("fd", [1, 2])
def test_raw_output_flood_does_not_grow_the_parent(fd, host):
    code = (
        "def solution():\n"
        '    os = print.__self__.__import__("os")\n'
        "    block = b'x' * 10**7\n"
        "    for _ in range(20):\n"
        f"        os.write({fd}, block)\n"
        "    return 1\n"
    )
    with PeakRss(host) as peak:
        result = run_code(code, limits=LIMITS, static_check=False)
    assert result.kind in {"ok", "timeout", "crash", "error", "memory"}
    assert peak.growth < 64 * 1024**2, f"the lab process grew by {peak.growth // 2**20} MB"


def test_fifty_runs_in_a_row(host):
    for number in range(50):
        result = run_code(pal(number), limits=LIMITS)
        assert (result.kind, result.result, result.is_number) == ("ok", str(number + 4), True)


def test_eight_runs_at_once(host):
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda number: run_code(pal(number), limits=LIMITS), range(8)))
    assert [result.result for result in results] == [str(number + 4) for number in range(8)]
    assert {result.kind for result in results} == {"ok"}
