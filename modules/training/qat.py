"""Quantization-aware training (torchao's QAT flow): a full fine-tune whose decoder Linears run with fake-quantized
int8 activations and int4 weights (groups of 32) in the forward pass, so training learns weights that survive the
conversion; the saved weights are plain, and the variant converts them with the same config (models/quantized.py's
8da4w), as torchao's "convert" step does. Costs a full fine-tune plus the fake quantization in every forward."""

from torch import nn

from modules.models import Model, quantized
from modules.training import full

DEFAULT_LR = full.DEFAULT_LR
COMPONENTS = "all-but-embeddings"  # the decoder's Linears; the embedding and the tied output head stay fp32


def prepare(base: Model, config) -> nn.Module:
    """An fp32 copy of the base, all of it trainable, its decoder Linears fake-quantized (torchao step="prepare")."""
    from torchao.quantization import quantize_
    from torchao.quantization.qat import QATConfig

    reason = quantized.unavailable_reason("8da4w")
    if reason:
        raise ValueError(reason)
    net = full.prepare(base, config)
    quantize_(net, QATConfig(quantized.torchao_8da4w_config(), step="prepare"),
              filter_fn=quantized.linear_filter(net, COMPONENTS))  # fmt: skip
    return net
