"""Any Hugging Face model id or local folder: causal LMs and seq2seq models (e.g. FLAN-T5)."""

from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

from modules.models.errors import ModelLoadError
from modules.network import hub_reachable


def load_pretrained(spec: str, device: torch.device, dtype: torch.dtype):
    """(hf model, tokenizer, label) for a local folder or a hub id; clear errors otherwise."""
    is_local = Path(spec).expanduser().is_dir()
    source = str(Path(spec).expanduser()) if is_local else spec
    if not is_local and not hub_reachable():
        raise ModelLoadError(
            f"Cannot load model '{spec}': it is not a local folder and the Hugging Face hub is unreachable "
            "(offline). Use the embedded model 'smollm2-135m' or a local model folder."
        )
    try:
        config = AutoConfig.from_pretrained(source)
        model_class = AutoModelForSeq2SeqLM if config.is_encoder_decoder else AutoModelForCausalLM
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = model_class.from_pretrained(source, dtype=dtype).to(device)
    except (OSError, ValueError, KeyError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelLoadError(f"Cannot load model '{spec}': {first_line}") from error
    precision = str(dtype).removeprefix("torch.").replace("float32", "fp32").replace("bfloat16", "bf16")
    return model, tokenizer, f"{Path(spec).name if is_local else spec} ({precision})"
