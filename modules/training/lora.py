"""LoRA: low-rank adapters on chosen projections of a copy that shares the base's frozen weights; and LoRA placed on
fixed projections (attention only, MLP only, every linear layer), each a method of its own, so one job trains them
as rows of one table at the same rank and answers the course's "LoRA on the attention layers alone is often enough"."""

import types
from dataclasses import replace

from torch import nn

from modules.models import Model
from modules.models.adapters import shared_weights_copy

DEFAULT_LR = 1e-3  # tuned on dialogue-summary with the embedded model (benchmarks/finetune_cost.py)


def prepare(base: Model, config) -> nn.Module:
    """The base's module tree (its own frozen tensors) with LoRA adapters; config: finetune.Config."""
    from peft import get_peft_model  # heavy: only when training

    return get_peft_model(shared_weights_copy(base.hf), lora_config(config))


ATTENTION = ("q_proj", "k_proj", "v_proj", "o_proj")
MLP = ("gate_proj", "up_proj", "down_proj")
PLACES = {"lora-attention": ATTENTION, "lora-mlp": MLP, "lora-all": ATTENTION + MLP}


def placed(targets: tuple[str, ...]) -> types.SimpleNamespace:
    """A registry method: LoRA on `targets` whatever the job's target setting (its r, alpha and dropout kept)."""
    return types.SimpleNamespace(
        DEFAULT_LR=DEFAULT_LR, prepare=lambda base, config: prepare(base, replace(config, target_modules=targets))
    )


def lora_config(config):
    from peft import LoraConfig, TaskType

    return LoraConfig(
        task_type=TaskType.CAUSAL_LM, r=config.r, lora_alpha=config.alpha, lora_dropout=config.dropout,
        target_modules=list(config.target_modules),
    )  # fmt: skip
