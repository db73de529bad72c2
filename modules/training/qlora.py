"""QLoRA (CUDA only): LoRA adapters trained through a 4-bit NF4 copy of the base."""

from torch import nn

from modules.models import Model, quantized
from modules.training.lora import lora_config

DEFAULT_LR = 1e-3  # LoRA's: the adapters are the same, only the frozen base is 4-bit


def prepare(base: Model, config) -> nn.Module:
    """The base reloaded with 4-bit NF4 weights, prepared for training through them, with LoRA adapters."""
    from peft import get_peft_model, prepare_model_for_kbit_training

    return get_peft_model(prepare_model_for_kbit_training(quantized.nf4_network(base)), lora_config(config))
