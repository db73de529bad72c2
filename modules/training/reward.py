"""A reward model: the shared base with a scalar head (transformers' sequence-classification form, one label) and
LoRA on its attention, trained on preference pairs so the chosen answer scores above the rejected one
(Bradley-Terry: loss = -log sigmoid(r(chosen) - r(rejected))). The base's tensors are shared, never written.

It is both a training method (prepare: the network) and its objective (rows, batch, weight, loss)."""

import copy

import torch
import torch.nn.functional as F
from torch import nn

from evals.tasks import Task
from modules.models import Model
from modules.models.adapters import shared_weights_copy
from modules.training.data import Row, collate, preference_rows, tokenize

DEFAULT_LR = 1e-3  # LoRA's rate; the new head (576 weights) learns at it too
SCORE_STD = 0.02  # the head starts small (the base's own initializer range): rewards near 0, the loss near log 2


def network(base: Model, seed: int = 0) -> nn.Module:
    """The base's module tree (its own frozen tensors) under a fresh seeded scalar head."""
    from transformers import AutoModelForSequenceClassification

    config = copy.deepcopy(base.hf.config)
    config.num_labels, config.pad_token_id = 1, base.tokenizer.pad_token_id
    with torch.device("meta"):  # only the head is new: build the shell without allocating a second body
        net = AutoModelForSequenceClassification.from_config(config)
    body = shared_weights_copy(base.hf)
    prefix = body.base_model_prefix  # "model" for Llama, "transformer" for GPT-2: where the body sits in both forms
    setattr(net, prefix, getattr(body, prefix))
    generator = torch.Generator().manual_seed(seed)
    weight = torch.randn(1, config.hidden_size, generator=generator) * SCORE_STD
    net.score = nn.Linear(config.hidden_size, 1, bias=False, device=base.device)
    net.score.weight.data = weight.to(device=base.device, dtype=torch.float32)
    return net


def prepare(base: Model, config) -> nn.Module:
    """LoRA on config.target_modules plus the head (peft keeps a trainable copy of it: modules_to_save)."""
    from peft import LoraConfig, TaskType, get_peft_model

    lora = LoraConfig(task_type=TaskType.SEQ_CLS, r=config.r, lora_alpha=config.alpha, lora_dropout=config.dropout,
                      target_modules=list(config.target_modules))  # fmt: skip
    return get_peft_model(network(base, config.seed), lora)


def rows(model: Model, task: Task, pairs, max_length: int) -> list[tuple[Row, Row]]:
    """(chosen, rejected) per preference pair, each answer after the task's zero-shot prompt."""
    return preference_rows(model, task, pairs, max_length)


def batch(chunk: list[tuple[Row, Row]], pad_id: int) -> dict[str, torch.Tensor]:
    """The chosen answers then the rejected ones; no labels (the head would compute a regression loss)."""
    inputs = collate([chosen for chosen, _ in chunk] + [rejected for _, rejected in chunk], pad_id)
    return {"input_ids": inputs["input_ids"], "attention_mask": inputs["attention_mask"]}


def weight(row) -> int:
    return 1


def rewards(net: nn.Module, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """(rows,) the scalar reward of each sequence, read at its last token that is not padding."""
    return net(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).logits.squeeze(-1).float()


def loss(net: nn.Module, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    chosen, rejected = rewards(net, inputs).chunk(2)
    return -F.logsigmoid(chosen - rejected).mean()


@torch.no_grad()
def sequence_rewards(net: nn.Module, rows: list[Row], pad_id: int, per_batch: int = 16) -> list[float]:
    """The reward of each row (prompt and answer), in batches."""
    device = next(net.parameters()).device
    found = []
    for start in range(0, len(rows), per_batch):
        inputs = collate(rows[start : start + per_batch], pad_id)
        inputs = {key: inputs[key].to(device) for key in ("input_ids", "attention_mask")}
        # on CUDA the body is bf16 and the head fp32: autocast, as in training
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda"):
            found += rewards(net, inputs).tolist()
    return found


def pair_rewards(net: nn.Module, pairs: list[tuple[Row, Row]], pad_id: int) -> list[tuple[float, float]]:
    """(reward of chosen, reward of rejected) for each pair: held-out accuracy is how often the first is higher."""
    found = sequence_rewards(net, [chosen for chosen, _ in pairs] + [rejected for _, rejected in pairs], pad_id)
    return list(zip(found[: len(pairs)], found[len(pairs) :]))


def load(base: Model, folder) -> nn.Module:
    """A saved reward model on `base` (its LoRA and head from `folder`), ready to score."""
    from peft import PeftModel

    return PeftModel.from_pretrained(network(base), str(folder)).eval()


def load_asset(name: str) -> tuple[nn.Module, Model]:
    """(reward network, the base it runs on) of the saved reward model `name`; its base is loaded if need be."""
    from modules.models import adapters, get_model

    meta = adapters.read_meta(name)
    if meta.get("method") != "reward-model":
        raise ValueError(f"'{name}' is a {meta.get('method')} adapter, not a reward model.")
    base = get_model(meta["base"])
    return load(base, adapters.asset_dir(name)), base


def score_answers(net: nn.Module, base: Model, task: Task, examples, answers: list[str], max_length: int = 256):
    """The reward of each answer to its example's input, read after the task's zero-shot prompt (as in training)."""
    from evals.tasks import Example

    rows = [tokenize(base, task, Example(e.id, e.input, a or " "), max_length) for e, a in zip(examples, answers)]
    return sequence_rewards(net, rows, base.tokenizer.pad_token_id)
