"""Memory a visitor can make the server hold: one model per folder however it is spelled, a bound on the bases, and
freeing that really returns memory to the system (RSS measured in a fresh process)."""

import json
import os
import shutil
import subprocess
import sys
import weakref
from collections import OrderedDict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def registry(monkeypatch):
    """The model registry, emptied for this test and put back after it (session fixtures hold models loaded there)."""
    import modules.models as registry

    monkeypatch.setattr(registry, "_loaded", OrderedDict())
    return registry


def test_a_folder_spelled_five_ways_is_one_model(registry, tiny_llama_dir, monkeypatch):
    monkeypatch.chdir(tiny_llama_dir.parent)
    name, parent = tiny_llama_dir.name, tiny_llama_dir.parent
    spellings = [f"./{name}", f"{name}/", str(tiny_llama_dir), f"{parent}//{name}", f"{parent}/./{name}/"]
    models = [registry.get_model(spelling) for spelling in spellings]
    assert all(model is models[0] for model in models) and registry.loaded_specs() == [str(tiny_llama_dir)]
    variants = {id(registry.get_model(f"{spelling} +quant:bf16")) for spelling in spellings}
    assert len(variants) == 1 and len(registry.loaded_specs()) == 2
    assert all(registry.is_loaded(spelling) for spelling in spellings)


def test_a_folder_error_echoes_the_spec_as_typed_never_its_resolved_path(registry, tmp_path, monkeypatch):
    from modules.models import ModelLoadError

    monkeypatch.chdir(tmp_path)
    (tmp_path / "not-a-model").mkdir()
    replies = []
    for base in ("./not-a-model", "./no-such-folder"):
        for spec in (base, f"{base}+quant:int8"):
            with pytest.raises(ModelLoadError) as error:
                registry.get_model(spec)
            replies.append(str(error.value).replace(base, "<spec>"))
    assert len(set(replies)) == 1 and str(tmp_path) not in replies[0], replies


def test_bases_beyond_the_limit_are_dropped_least_recently_used_first_with_their_variants(
    registry, tiny_llama_dir, tmp_path, monkeypatch
):
    folders = {}
    for name in ("shipped", "a", "b", "c"):
        folders[name] = str(shutil.copytree(tiny_llama_dir, tmp_path / name))
    monkeypatch.setattr(registry, "MAX_BASES", 2)
    monkeypatch.setattr(registry, "DEFAULT_SPEC", folders["shipped"])  # a Space's LAB_MODEL: never counted or dropped
    get, a, b, c = registry.get_model, folders["a"], folders["b"], folders["c"]
    get(folders["shipped"])
    first_a = weakref.ref(get(a))
    a_bf16 = weakref.ref(get(f"{a}+quant:bf16"))
    get(b)
    get(f"{a}+quant:bf16")  # using a variant is using its base: b is now the least recently used
    get(c)
    assert set(registry.loaded_specs()) == {folders["shipped"], a, f"{a}+quant:bf16", c}
    get(b)
    assert set(registry.loaded_specs()) == {folders["shipped"], c, b}
    assert first_a() is None and a_bf16() is None  # nothing else holds them: their memory went back


def test_free_variants_frees_them_when_the_sessions_model_is_one(registry, tiny_llama_dir):
    from modules.ui.quantize import free_variants

    base = registry.get_model(str(tiny_llama_dir))
    for name in ("bf16", "int8", "int8-mlp"):
        registry.get_model(f"{base.spec}+quant:{name}")
    message = free_variants(f"{tiny_llama_dir} + quant: int8")  # the session's model: a variant, spelled loosely
    assert message.startswith("Freed 3 variant(s): ") and "This session's model (int8) was one of them" in message
    assert registry.loaded_specs() == [base.spec]
    assert free_variants(base.spec) == "Freed 0 variant(s): none were loaded."


# Run as its own process: the RSS of a test process mixes in whatever earlier tests left. Six precision variants of
# the embedded model are built from two threads (the registry keeps 4), then all are freed.
RSS_SCRIPT = """
import json, threading
import psutil
from modules.models import get_model
from modules.studies import quantization

NAMES = ["bf16", "int8", "int8-mlp", "int8-attention", "int8-everything", "int8-all-but-down_proj"]
process = psutil.Process()
base = get_model()
for parameter in base.hf.parameters():
    parameter.sum()  # every weight page resident (they are mapped from the cached file): the base counts in "before"
peak = before = process.memory_info().rss


def load(names):
    global peak
    for name in names:
        get_model(f"{base.spec}+quant:{name}")
        peak = max(peak, process.memory_info().rss)


threads = [threading.Thread(target=load, args=(NAMES[i::2],)) for i in range(2)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
freed = quantization.free(base.spec, quantization.loaded_variants(base.spec))
print(json.dumps({"before": before, "peak": peak, "after": process.memory_info().rss, "freed": freed}))
"""


@pytest.mark.slow
def test_freeing_variants_gives_their_memory_back(embedded_model):
    """Measured here (MB, before / peak / after freeing): 1047 / 2292 / 1100, 1098 / 2397 / 1124, 1047 / 3058 / 1114;
    before this release existed (gc.collect only: glibc kept the freed weights in its per-thread arenas)
    1074 / 4280 / 2351. So after freeing: within 300 MB of before. The peak is not asserted: which 4 variants are kept
    when the last ones are built depends on the threads' order (they weigh 155-437 MB each, plus the 513 MB fp32 copy
    being converted), so it varies by ~0.8 GB from run to run."""
    done = subprocess.run([sys.executable, "-c", RSS_SCRIPT], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "LAB_MAX_VARIANTS": "4"}, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    mb = {key: round(measured[key] / 2**20) for key in ("before", "peak", "after")}
    assert mb["after"] - mb["before"] < 300, mb
    assert len(measured["freed"]) == 4, measured  # the two oldest were already dropped by the limit
