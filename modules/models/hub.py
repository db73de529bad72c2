"""Any Hugging Face model id or local folder: causal LMs and seq2seq models (e.g. FLAN-T5)."""

import logging
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

from modules.models.errors import ModelLoadError
from modules.models.spec import local_folder
from modules.network import hub_reachable

log = logging.getLogger("lab")


def failure_message(spec: str) -> str:
    """One message for every failure, so it never tells a visitor whether some path exists on the server (the
    reason goes to the server log). The hub is probed only here, on failure: a local load pays no network probe."""
    offline = " (the Hugging Face hub is unreachable: offline). The embedded 'smollm2-135m' works."
    return f"Cannot load model '{spec[:100]}': it is not a model folder or Hugging Face id this lab can load" + (
        "." if hub_reachable() else offline
    )


def load_pretrained(spec: str, device: torch.device, dtype: torch.dtype, shown: str | None = None):
    """(hf model, tokenizer, label) for a local folder or a hub id; clear errors otherwise. `shown`: the spec as the
    user typed it, for the message (a folder's spec is its resolved path, which must not tell that it exists)."""
    folder = local_folder(spec)
    is_local = folder is not None
    source = str(folder) if is_local else spec
    if not is_local and not hub_reachable():
        raise ModelLoadError(failure_message(shown or spec))
    try:
        config = AutoConfig.from_pretrained(source)
        model_class = AutoModelForSeq2SeqLM if config.is_encoder_decoder else AutoModelForCausalLM
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = model_class.from_pretrained(source, dtype=dtype).to(device)
    except (OSError, ValueError, KeyError) as error:
        log.warning("model %r failed to load: %s", spec[:200], error)
        raise ModelLoadError(failure_message(shown or spec)) from None
    precision = str(dtype).removeprefix("torch.").replace("float32", "fp32").replace("bfloat16", "bf16")
    return model, tokenizer, f"{Path(spec).name if is_local else spec} ({precision})"
