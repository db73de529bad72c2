"""(IA)³ (Liu et al. 2022): learned vectors that rescale the attention's keys and values and the MLP's inner
activation, beside the frozen weights. An additive method (Lialin et al. 2023 class it with adapters and soft
prompts: new parameters, nothing reparameterised), and the smallest of the families here: 3 vectors per layer."""

from torch import nn

from modules.models import Model
from modules.models.adapters import shared_weights_copy

DEFAULT_LR = 3e-3  # the (IA)³ paper's rate (T-Few); vectors start at 1, so a small step barely moves them
TARGETS = ("k_proj", "v_proj", "down_proj")  # keys, values, and the MLP's inner activation (the input of down_proj)
FEEDFORWARD = ("down_proj",)  # its vector scales the layer's input, not its output


def prepare(base: Model, config) -> nn.Module:
    """The base's module tree (its own frozen tensors) with (IA)³ vectors; config: finetune.Config (unused)."""
    from peft import get_peft_model  # heavy: only when training

    return get_peft_model(shared_weights_copy(base.hf), ia3_config())


def ia3_config():
    from peft import IA3Config, TaskType

    return IA3Config(task_type=TaskType.CAUSAL_LM, target_modules=list(TARGETS),
                     feedforward_modules=list(FEEDFORWARD))  # fmt: skip
