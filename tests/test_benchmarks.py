"""Every benchmark still runs: each script's smallest setting (--smoke), on the tiny model where it takes one, in this
process. A benchmark that no longer imports or crashes fails here; its ratios are its own business, never checked."""

import importlib.util
import os
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
TINY = "TINY"  # replaced by the tiny model's folder
SMOKE = {
    "alignment_cost": ["--smoke", "--read", "--cai", "2", "--model", TINY],
    "compression": ["--smoke", "--model", TINY],
    "decode_overhead": ["--smoke", "--model", TINY],
    "finetune_cost": ["--smoke", "--model", TINY],
    "finetune_presets": ["--smoke", "--model", TINY],
    "gpu_decode": ["--smoke", "--model", TINY],  # on a CPU: the static cache without compiling
    "icl_columns": ["--smoke", "--model", TINY],
    "quantization": ["--smoke", "--model", TINY],
    "remote_throughput": ["--smoke"],
    "retrieval": ["--smoke"],
    "runner_throughput": ["--smoke", "--model", TINY],
    "sampling_overhead": ["--smoke", "--model", TINY],
    "sandbox_overhead": ["--smoke"],
    "self_consistency": ["--smoke", "--model", TINY],
    "startup": ["--smoke", "--model", TINY],
}


def needs() -> dict[str, str | None]:
    """Why a benchmark's run is skipped here (it is still imported), or None."""
    llama_cpp = importlib.util.find_spec("llama_cpp") is not None
    return {"remote_throughput": None if llama_cpp else "needs llama-cpp-python[server] (make test installs it)"}


def load(name: str):
    """The benchmark script as a module, imported by path (benchmarks/ is no package)."""
    spec = importlib.util.spec_from_file_location(f"benchmark_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture()
def untouched_process(monkeypatch):
    """Scripts set environment variables and sys.path for themselves: put both back afterwards."""
    saved = dict(os.environ)
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield
    os.environ.clear()
    os.environ.update(saved)


def test_every_benchmark_script_has_a_smoke_run():
    assert sorted(path.stem for path in BENCHMARKS.glob("*.py")) == sorted(SMOKE)


# remote_throughput starts llama.cpp's server on the embedded GGUF (~30 s here): with the other embedded-model tests.
SLOW = {"remote_throughput"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in sorted(SMOKE)])
def test_the_benchmark_runs_its_smallest_setting(name, tiny_llama_dir, untouched_process, capsys):
    module = load(name)  # an import error fails here, whatever the machine
    assert callable(module.main)
    if reason := needs().get(name):
        pytest.skip(reason)
    module.main([str(tiny_llama_dir) if arg == TINY else arg for arg in SMOKE[name]])
    assert capsys.readouterr().out.strip()  # it reported something
