"""Fine-tuning methods: full, LoRA, prompt tuning and (CUDA only) QLoRA, each on a fresh copy of a frozen base.

The base Model is never modified: LoRA and prompt tuning wrap a copy of its module tree whose parameters are
the base's own frozen tensors (no second copy of the weights); full fine-tuning trains a deep copy.
"""

import copy
from dataclasses import dataclass, field

import torch
from torch import nn

from modules import limits
from modules.models import Model, quantized, zero_gpu
from modules.models.adapters import shared_weights_copy

METHODS = ("full", "lora", "prompt-tuning", "qlora")
LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass
class Config:
    method: str = field(default="lora", metadata={"help": "full | lora | prompt-tuning | qlora (CUDA only)."})
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
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got '{self.method}'.")
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
        return self.learning_rate or DEFAULT_LR[self.method]


# Tuned on dialogue-summary with the embedded model (benchmarks/finetune_cost.py): full needs a small step,
# a soft prompt a large one.
DEFAULT_LR = {"full": 2e-5, "lora": 1e-3, "qlora": 1e-3, "prompt-tuning": 3e-2}


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
    if base.is_remote:
        raise ValueError(
            f"Fine-tuning needs a local model: '{base.spec[:80]}' runs on a server, its weights are not here."
        )
    if base.is_seq2seq:
        raise ValueError("Fine-tuning supports decoder-only models; this one is encoder-decoder.")
    reason = unavailable_reason(config.method)
    if reason:
        raise ValueError(reason)
    torch.manual_seed(config.seed)
    if config.method == "full":
        # fp32 master weights whatever the base's precision: in bf16 (8-bit mantissa) an update of 2e-5 to a
        # weight near 1 rounds away, so a bf16 copy would barely train. Costs 2x a bf16 copy's memory. (LoRA
        # and prompt-tuning parameters are fp32 already: peft upcasts adapter weights by default.)
        net = cast_parameters(copy.deepcopy(base.hf), torch.float32)
        net.requires_grad_(True)
        return net
    from peft import get_peft_model  # heavy: only when training

    if config.method == "lora":
        return get_peft_model(shared_weights_copy(base.hf), lora_config(config))
    if config.method == "qlora":
        return get_peft_model(_four_bit_base(base), lora_config(config))
    net = get_peft_model(shared_weights_copy(base.hf), prompt_tuning_config(config))
    if config.init_text.strip():
        _init_soft_prompt(net, base, config.init_text)
    return net


def cast_parameters(net: nn.Module, dtype: torch.dtype) -> nn.Module:
    """Parameters to `dtype` in place (buffers such as rotary frequencies stay as they are). Not net.to(dtype):
    transformers refuses .to/.float on a model loaded from GGUF (it carries a quantization config)."""
    for parameter in net.parameters():
        if parameter.dtype != dtype:
            parameter.data = parameter.data.to(dtype)
    return net


def lora_config(config: Config):
    from peft import LoraConfig, TaskType

    return LoraConfig(
        task_type=TaskType.CAUSAL_LM, r=config.r, lora_alpha=config.alpha, lora_dropout=config.dropout,
        target_modules=list(config.target_modules),
    )  # fmt: skip


def prompt_tuning_config(config: Config):
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


def _four_bit_base(base: Model) -> nn.Module:
    """The base reloaded with 4-bit NF4 weights, prepared for training through them."""
    from peft import prepare_model_for_kbit_training

    return prepare_model_for_kbit_training(quantized.nf4_network(base))


def trainable_counts(net: nn.Module) -> tuple[int, int]:
    """(trainable parameters, all parameters); 4-bit packed weights are counted as their unpacked size."""
    trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
    total = sum(p.numel() * (2 if getattr(p, "quant_state", None) is not None else 1) for p in net.parameters())
    return trainable, total
