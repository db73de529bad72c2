"""Quantization-aware training (torchao's QAT flow): a full fine-tune whose decoder Linears run fake-quantized in the
forward pass, so training learns weights that survive the conversion. Two schemes, each ending in a fast path:
8da4w (int8 activations per token, int4 weights in groups of 32; converted by torchao's own config) and w8a8 (int8
activations per token, int8 weights per output channel; converted to the lab's TokenInt8Linear, fbgemm's kernel,
without SmoothQuant: the weights were trained against this very grid). The saved weights are plain; the variant
converts them (torchao's "convert" step). Costs a full fine-tune plus the fake quantization in every forward."""

import types
import warnings

import torch
from torch import nn

from modules.models import Model, quantized
from modules.training import full

DEFAULT_LR = full.DEFAULT_LR
SCHEMES = tuple(quantized.QAT_SCHEMES)  # the convert step is quantized.qat_convert: a saved fine-tune loads through it


def method(scheme: str) -> types.SimpleNamespace:
    """A registry method: QAT with `scheme`'s fake quantization."""
    return types.SimpleNamespace(DEFAULT_LR=DEFAULT_LR, prepare=lambda base, config: prepare(base, config, scheme))


def qat_config(scheme: str):
    """torchao's prepare-step config: 8da4w from its PTQ config; w8a8's int8 weights per output channel from a
    fake-quantize config (torchao 0.18's QATConfig refuses its own int8-weight PTQ config); w8a8's activations are
    TokenFakeQuant, set after it."""
    from torchao.quantization.qat import IntxFakeQuantizeConfig, QATConfig

    if scheme == "8da4w":
        return QATConfig(quantized.torchao_8da4w_config(), step="prepare")
    return QATConfig(weight_config=IntxFakeQuantizeConfig(torch.int8, "per_channel", is_symmetric=True), step="prepare")


class TokenFakeQuant(nn.Module):
    """TokenInt8Linear's activation grid, fake, with a straight-through gradient: each token divided by its largest
    |value|, then the whole tensor quantized as fbgemm's dynamic kernel does (one uint8 scale and zero point from
    its range). torchao's per-token fake quantizer is asymmetric per token (its symmetric one is not implemented):
    with it the converted model missed the trained one by as much as int8 itself (measured on the tiny model)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = x.detach().abs().amax(-1, keepdim=True).clamp(min=1e-6)
        with warnings.catch_warnings():  # PyTorch marks its quantized tensors deprecated; fbgemm's kernel uses them
            warnings.simplefilter("ignore")
            grid = torch.quantize_per_tensor_dynamic((x.detach() / scale).float(), torch.quint8, False).dequantize()
        return x + (grid * scale - x).detach().to(x.dtype)


def prepare(base: Model, config, scheme: str = "8da4w") -> nn.Module:
    """An fp32 copy of the base, all of it trainable, its decoder Linears fake-quantized (torchao step="prepare")."""
    from torchao.quantization import quantize_

    reason = quantized.unavailable_reason("8da4w")  # both need torchao (and no ZeroGPU refusal)
    if reason:
        raise ValueError(reason)
    net = full.prepare(base, config)
    quantize_(net, qat_config(scheme), filter_fn=quantized.linear_filter(net, quantized.QAT_COMPONENTS))
    if scheme == "w8a8":
        for module in net.modules():
            if hasattr(module, "weight_fake_quantizer"):
                module.activation_fake_quantizer = TokenFakeQuant()
    return net
