"""The supervised objective: next-token cross-entropy on the reference tokens (prompt and padding masked)."""

import torch
from torch import nn

from evals.tasks import Example, Task
from modules.models import Model
from modules.training.data import IGNORE, Row, collate, tokenize


def rows(model: Model, task: Task, pairs: list[Example], max_length: int) -> list[Row]:
    """One row per pair: the zero-shot prompt, masked, then the reference (chosen / rejected are not used)."""
    return [tokenize(model, task, pair, max_length) for pair in pairs]


def batch(chunk: list[Row], pad_id: int) -> dict[str, torch.Tensor]:
    return collate(chunk, pad_id)


def weight(row: Row) -> int:
    """A row's share of a step's loss: its answer tokens (so accumulated micro-batches equal one big batch)."""
    return sum(label != IGNORE for label in row.labels)


def loss(net: nn.Module, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean token cross-entropy over the labelled tokens: transformers shifts the labels by one inside."""
    return net(**inputs).loss
