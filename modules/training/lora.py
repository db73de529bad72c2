"""LoRA: low-rank adapters on chosen projections of a copy that shares the base's frozen weights."""

from torch import nn

from modules.models import Model
from modules.models.adapters import shared_weights_copy

DEFAULT_LR = 1e-3  # tuned on dialogue-summary with the embedded model (benchmarks/finetune_cost.py)


def prepare(base: Model, config) -> nn.Module:
    """The base's module tree (its own frozen tensors) with LoRA adapters; config: finetune.Config."""
    from peft import get_peft_model  # heavy: only when training

    return get_peft_model(shared_weights_copy(base.hf), lora_config(config))


def lora_config(config):
    from peft import LoraConfig, TaskType

    return LoraConfig(
        task_type=TaskType.CAUSAL_LM, r=config.r, lora_alpha=config.alpha, lora_dropout=config.dropout,
        target_modules=list(config.target_modules),
    )  # fmt: skip
