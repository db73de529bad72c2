"""Full fine-tuning: every weight trained, on an fp32 deep copy of the base."""

import copy

import torch
from torch import nn

from modules.models import Model

DEFAULT_LR = 2e-5  # a small step: every weight moves (benchmarks/finetune_cost.py)


def prepare(base: Model, config) -> nn.Module:
    """An fp32 copy of the base, all of it trainable (config: finetune.Config, unused beyond the method)."""
    # fp32 master weights whatever the base's precision: in bf16 (8-bit mantissa) an update of 2e-5 to a weight near 1
    # rounds away, so a bf16 copy would barely train. Costs 2x a bf16 copy's memory. (LoRA and prompt-tuning
    # parameters are fp32 already: peft upcasts adapter weights by default.)
    net = cast_parameters(copy.deepcopy(base.hf), torch.float32)
    net.requires_grad_(True)
    return net


def cast_parameters(net: nn.Module, dtype: torch.dtype) -> nn.Module:
    """Parameters to `dtype` in place (buffers such as rotary frequencies stay as they are). Not net.to(dtype):
    transformers refuses .to/.float on a model loaded from GGUF (it carries a quantization config)."""
    for parameter in net.parameters():
        if parameter.dtype != dtype:
            parameter.data = parameter.data.to(dtype)
    return net
