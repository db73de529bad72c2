"""The DPO objective (Rafailov et al. 2023): raise the policy's log-probability of the chosen answer over the
rejected one, each measured against the untouched base (the reference), with no reward model and no sampling.

loss = -log sigmoid(beta * ((log pi(chosen) - log ref(chosen)) - (log pi(rejected) - log ref(rejected))))
The reference log-probabilities are computed once per pair from the frozen base when rows are made (one no-grad
forward per answer), so a step costs the policy's forward and backward on both answers, as in TRL's precompute."""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from evals.tasks import Example, Task
from modules.models import Model
from modules.training.data import IGNORE, Row, collate, preference_rows

BETA = 0.1  # the paper's and TRL's default: how far the policy may move from the reference per unit of margin
REFERENCE_BATCH = 8  # answers per no-grad forward of the base while the rows are made


@dataclass
class PreferenceRow:
    chosen: Row
    rejected: Row
    reference_chosen: float  # sum of the base's log-probabilities of the chosen answer's tokens
    reference_rejected: float


def rows(model: Model, task: Task, pairs: list[Example], max_length: int) -> list[PreferenceRow]:
    """One row per pair that carries a preference, with the base's log-probability of each answer."""
    answers = preference_rows(model, task, pairs, max_length)
    chosen, rejected = [c for c, _ in answers], [r for _, r in answers]
    reference = answer_logprobs_of(model.hf, chosen + rejected, model.tokenizer.pad_token_id)
    return [PreferenceRow(c, r, reference[i], reference[len(answers) + i]) for i, (c, r) in enumerate(answers)]


@torch.no_grad()
def answer_logprobs_of(net: nn.Module, rows: list[Row], pad_id: int) -> list[float]:
    """Each row's summed log-probability of its answer tokens under `net` (the frozen base: the reference)."""
    device = next(net.parameters()).device
    sums = []
    for start in range(0, len(rows), REFERENCE_BATCH):
        batch = {k: v.to(device) for k, v in collate(rows[start : start + REFERENCE_BATCH], pad_id).items()}
        sums += answer_logprobs(net, batch).tolist()
    return sums


def answer_logprobs(net: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """(rows,) summed log-probabilities of the labelled tokens: position t's logits predict token t+1."""
    logits = net(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.float()
    logits = logits[:, -batch["input_ids"].shape[1] :]  # a soft prompt's virtual positions come first: drop them
    labels = batch["labels"][:, 1:]
    picked = torch.gather(logits[:, :-1].log_softmax(-1), 2, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (picked * (labels != IGNORE)).sum(-1)


def batch(chunk: list[PreferenceRow], pad_id: int) -> dict[str, torch.Tensor]:
    """The chosen answers then the rejected ones in one padded batch, with their reference log-probabilities."""
    inputs = collate([row.chosen for row in chunk] + [row.rejected for row in chunk], pad_id)
    inputs["reference"] = torch.tensor(
        [row.reference_chosen for row in chunk] + [row.reference_rejected for row in chunk]
    )
    return inputs


def weight(row: PreferenceRow) -> int:
    """Every pair counts the same, whatever its length."""
    return 1


def margins(net: nn.Module, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """(pairs,) the implicit reward margin: (policy - reference) log-ratio of chosen minus that of rejected."""
    ratios = answer_logprobs(net, inputs) - inputs["reference"]
    chosen, rejected = ratios.chunk(2)
    return chosen - rejected


def loss(net: nn.Module, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    return -F.logsigmoid(BETA * margins(net, inputs)).mean()
