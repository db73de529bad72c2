"""Prompt tuning: a trained soft prompt (virtual token embeddings) before every input; the base stays frozen."""

import torch
from torch import nn

from modules.models import Model
from modules.models.adapters import shared_weights_copy

DEFAULT_LR = 3e-2  # a soft prompt needs a large step (benchmarks/finetune_cost.py)


def prepare(base: Model, config) -> nn.Module:
    """A soft prompt of config.virtual_tokens, initialised from config.init_text ('' = random)."""
    from peft import get_peft_model

    net = get_peft_model(shared_weights_copy(base.hf), prompt_tuning_config(config))
    if config.init_text.strip():
        _init_soft_prompt(net, base, config.init_text)
    return net


def prompt_tuning_config(config):
    from peft import PromptTuningConfig, PromptTuningInit, TaskType

    init = PromptTuningInit.RANDOM  # a TEXT init is applied by _init_soft_prompt, without a tokenizer reload
    return PromptTuningConfig(
        task_type=TaskType.CAUSAL_LM, num_virtual_tokens=config.virtual_tokens, prompt_tuning_init=init
    )


@torch.no_grad()
def _init_soft_prompt(net, base: Model, text: str) -> None:
    """PEFT's TEXT init without its tokenizer reload: the text's token embeddings, repeated to fill the prompt."""
    ids = base.tokenizer(text, add_special_tokens=False)["input_ids"]
    embedding = net.prompt_encoder[net.active_adapter].embedding.weight  # (virtual tokens, hidden)
    repeated = (ids * (embedding.shape[0] // max(len(ids), 1) + 1))[: embedding.shape[0]]
    embedding.copy_(base.hf.get_input_embeddings().weight[torch.tensor(repeated)].to(embedding.dtype))
