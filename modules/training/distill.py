"""Distillation (Hinton et al. 2015): the student learns the teacher's token distributions on the reference answers
(KL at a temperature, scaled by T^2 so its gradients keep their size as T grows) mixed with the usual next-token
loss on the references. An objective object bound to its teacher network, run by the one training loop (Stop,
checkpoints, resume); and `smaller()`, a student made from the base by dropping decoder layers."""

import copy
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from evals.tasks import Example, Task
from modules.models import Model, pruned
from modules.training import supervised
from modules.training.data import IGNORE, Row


@dataclass
class Distill:
    teacher: nn.Module  # frozen; the same tokenizer as the student (checked by check_tokenizers)
    temperature: float = 2.0
    alpha: float = 0.5  # the KL term's share; 1 - alpha goes to the cross-entropy on the references

    def __post_init__(self):
        if self.temperature <= 0:
            raise ValueError(f"The temperature must be above 0, got {self.temperature}.")
        if not 0 <= self.alpha <= 1:
            raise ValueError(f"The KL share alpha must be between 0 and 1, got {self.alpha}.")

    def rows(self, model: Model, task: Task, pairs: list[Example], max_length: int) -> list[Row]:
        return supervised.rows(model, task, pairs, max_length)

    def batch(self, chunk: list[Row], pad_id: int) -> dict[str, torch.Tensor]:
        return supervised.batch(chunk, pad_id)

    def weight(self, row: Row) -> int:
        return supervised.weight(row)

    def loss(self, net: nn.Module, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        student = net(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
        with torch.no_grad():
            teacher = self.teacher(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).logits
        labels = inputs["labels"][:, 1:]
        answer = labels != IGNORE  # position t predicts token t + 1: only the reference's tokens count
        logits = student.logits[:, :-1][answer].float()
        kl = F.kl_div((logits / self.temperature).log_softmax(-1),
                      (teacher[:, :-1][answer].float() / self.temperature).log_softmax(-1), log_target=True,
                      reduction="batchmean") * self.temperature**2  # fmt: skip
        cross_entropy = F.cross_entropy(logits, labels[answer])
        return self.alpha * kl + (1 - self.alpha) * cross_entropy


def check_tokenizers(teacher: Model, student: Model) -> None:
    """Token distributions can be matched only over one vocabulary: a teacher on another tokenizer is refused."""
    if teacher.tokenizer.get_vocab() != student.tokenizer.get_vocab():
        raise ValueError(f"The teacher ({teacher.label}) and the student ({student.label}) use different "
                         "tokenizers; distillation here matches token distributions over one vocabulary.")  # fmt: skip


def smaller(hf: nn.Module, keep: int) -> nn.Module:
    """A student: a deep copy of `hf` with `keep` of its decoder layers, evenly spaced, first and last kept (the
    spec form is '<base>+prune:layers-<percent dropped>')."""
    return pruned.keep_layers(copy.deepcopy(hf), keep)
