"""A fine-tuning job's settings (method, objective, steps, ...) and prepare(): the method's network, on a fresh copy.

The base Model is never modified: LoRA and prompt tuning wrap a copy of its module tree whose parameters are
the base's own frozen tensors (no second copy of the weights); full fine-tuning trains a deep copy. Each method is
one file (full, lora, prompt_tuning, qlora), each objective too (supervised), found in modules/training/registry.py.
"""

from dataclasses import dataclass, field

import torch
from torch import nn

from modules import limits
from modules.models import Model, zero_gpu
from modules.training import registry
from modules.training.full import cast_parameters  # noqa: F401  (the studies and tests cast through finetune)

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass
class Config:
    method: str = field(
        default="lora",
        metadata={
            "help": "full | lora | lora-attention | lora-mlp | lora-all | prompt-tuning | ia3 | qlora (CUDA only)."
        },
    )
    objective: str = field(default="supervised", metadata={"help": "What is trained for: supervised."})
    steps: int = field(default=40, metadata={"help": "Optimizer steps."})
    batch_size: int = field(default=4, metadata={"help": "Training rows per step."})
    micro_batch: int = field(default=2, metadata={"help": "Rows per forward pass; Stop is checked between them."})
    max_length: int = field(default=224, metadata={"help": "Tokens per row (prompt + reference)."})
    learning_rate: float = field(default=0.0, metadata={"help": "0: the method's default (see DEFAULT_LR)."})
    seed: int = field(default=0, metadata={"help": "Seeds adapter init, dropout and the data order."})
    r: int = field(default=8, metadata={"help": "LoRA rank."})
    alpha: int = field(default=16, metadata={"help": "LoRA scaling numerator (scale = alpha / r)."})
    dropout: float = field(default=0.05, metadata={"help": "LoRA dropout."})
    target_modules: tuple[str, ...] = field(default=("q_proj", "v_proj"), metadata={"help": "Layers LoRA adapts."})
    virtual_tokens: int = field(default=20, metadata={"help": "Prompt tuning: soft-prompt length."})
    init_text: str = field(
        default="Summarize the dialogue in one sentence.", metadata={"help": "Prompt tuning init; '' = random."}
    )
    checkpoint_every: int = field(default=10, metadata={"help": "Steps between checkpoints (and at the end)."})

    def __post_init__(self):
        if self.method not in registry.METHODS:
            raise ValueError(f"method must be one of {', '.join(registry.METHODS)}, got '{self.method}'.")
        registry.get_objective(self.objective)  # "Unknown training objective 'x'. Available: ..."
        checks = [
            (
                1 <= self.steps <= limits.max_train_steps(),
                f"steps must be 1-{limits.max_train_steps()}, got {self.steps}",
            ),
            (1 <= self.batch_size <= 64, f"batch size must be 1-64, got {self.batch_size}"),
            (self.micro_batch >= 1, f"micro batch must be >= 1, got {self.micro_batch}"),
            (32 <= self.max_length <= 4096, f"max length must be 32-4096 tokens, got {self.max_length}"),
            (0 <= self.learning_rate < 1, f"learning rate must be in [0, 1), got {self.learning_rate}"),
            (1 <= self.r <= 256, f"LoRA r must be 1-256, got {self.r}"),
            (0 <= self.dropout < 1, f"LoRA dropout must be in [0, 1), got {self.dropout}"),
            (1 <= self.virtual_tokens <= 200, f"virtual tokens must be 1-200, got {self.virtual_tokens}"),
            (self.checkpoint_every >= 1, "checkpoint_every must be >= 1"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message[0].upper() + message[1:] + ".")
        self.target_modules = tuple(self.target_modules)
        unknown = set(self.target_modules) - set(LORA_TARGETS)
        if not self.target_modules or unknown:
            raise ValueError(f"LoRA target modules must be some of {', '.join(LORA_TARGETS)}; got {unknown or 'none'}.")

    @property
    def lr(self) -> float:
        return self.learning_rate or registry.get_method(self.method).DEFAULT_LR


# Each method's own (its file says why): full needs a small step, a soft prompt a large one.
DEFAULT_LR = {name: method.DEFAULT_LR for name, method in registry.METHODS.items()}


def unavailable_reason(method: str) -> str | None:
    """Why a method cannot run here, or None."""
    off = zero_gpu.refusal("fine-tuning")
    if off:
        return off
    if method != "qlora":
        return None
    if not torch.cuda.is_available():
        return "QLoRA needs a CUDA GPU (bitsandbytes 4-bit NF4 kernels); this machine has none."
    try:
        import bitsandbytes  # noqa: F401
    except ImportError:
        return "QLoRA needs the bitsandbytes package: pip install bitsandbytes"
    return None


def prepare(base: Model, config: Config) -> nn.Module:
    """The network to train, seeded; only its trainable parameters have requires_grad."""
    if not base.capabilities.trainable:  # a server's model; on ZeroGPU the refusal says why
        raise ValueError(
            zero_gpu.refusal("fine-tuning")
            or f"Fine-tuning needs a local model: '{base.spec[:80]}' runs on a server, its weights are not here."
        )
    if base.is_seq2seq:
        raise ValueError("Fine-tuning supports decoder-only models; this one is encoder-decoder.")
    reason = unavailable_reason(config.method)
    if reason:
        raise ValueError(reason)
    torch.manual_seed(config.seed)
    return registry.get_method(config.method).prepare(base, config)


def trainable_counts(net: nn.Module) -> tuple[int, int]:
    """(trainable parameters, all parameters); 4-bit packed weights are counted as their unpacked size."""
    trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
    total = sum(p.numel() * (2 if getattr(p, "quant_state", None) is not None else 1) for p in net.parameters())
    return trainable, total
