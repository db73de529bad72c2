"""Distillation (Hinton et al. 2015): the student learns the teacher's token distributions on the reference answers
(KL at a temperature, scaled by T^2 so its gradients keep their size as T grows) mixed with the usual next-token
loss on the references. An objective object bound to its teacher network, run by the one training loop (Stop,
checkpoints, resume); and `smaller()`, a student made from the base by dropping decoder layers.

With `teacher_shots` k > 0 the teacher reads a k-shot prompt (the course's "the base with few-shot prompting" as the
teacher) while the student reads the zero-shot one: both then score the very same answer tokens, so the student
learns to answer without the examples as the teacher answers with them. Costs a teacher forward over a prompt about
k + 1 times as long.

Sequence-level distillation (Kim & Rush 2016; `teacher_answers`): the teacher writes an answer to each training
prompt and the student learns those answers with the usual next-token loss. It needs no log-probabilities and no
shared vocabulary, so any teacher works: a larger model on another tokenizer, or a server."""

import copy
import threading
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from evals.tasks import Example, Task
from modules.models import Model, pruned
from modules.techniques import prompting
from modules.training import supervised
from modules.training.data import IGNORE, Row, collate

MAX_SHOTS = 8  # a few-shot teacher's examples: each adds a training pair's length to the teacher's prompt


@dataclass
class Distill:
    teacher: nn.Module  # frozen; the same tokenizer as the student (checked by check_tokenizers)
    temperature: float = 2.0
    alpha: float = 0.5  # the KL term's share; 1 - alpha goes to the cross-entropy on the references
    teacher_shots: int = 0  # the teacher's prompt: k train examples before the question (0: the student's prompt)

    def __post_init__(self):
        if self.temperature <= 0:
            raise ValueError(f"The temperature must be above 0, got {self.temperature}.")
        if not 0 <= self.alpha <= 1:
            raise ValueError(f"The KL share alpha must be between 0 and 1, got {self.alpha}.")
        if not 0 <= self.teacher_shots <= MAX_SHOTS:
            raise ValueError(f"The teacher's shots must be from 0 to {MAX_SHOTS}, got {self.teacher_shots}.")

    def rows(self, model: Model, task: Task, pairs: list[Example], max_length: int) -> list[Row | tuple[Row, Row]]:
        """The student's rows; with teacher shots, (student row, teacher row) pairs ending in the same answer."""
        rows = supervised.rows(model, task, pairs, max_length)
        if not self.teacher_shots:
            return rows
        config, pool = prompting.Config(k=self.teacher_shots), task.split("train")
        paired = []
        for pair, row in zip(pairs, rows):
            shots = prompting.select_shots(pool, pair, config)
            text = model.render(prompting.build_prompt(model, task, shots, pair))
            prompt = model.tokenizer(text, add_special_tokens=False)["input_ids"]
            answer = [label for label in row.labels if label != IGNORE]
            paired.append((row, Row(prompt + answer, [IGNORE] * len(prompt) + answer)))
        return paired

    def batch(self, chunk: list, pad_id: int) -> dict[str, torch.Tensor]:
        if not self.teacher_shots:
            return supervised.batch(chunk, pad_id)
        teacher = {f"teacher_{key}": value for key, value in collate([t for _, t in chunk], pad_id).items()}
        return supervised.batch([s for s, _ in chunk], pad_id) | teacher

    def weight(self, row) -> int:
        return supervised.weight(row[0] if isinstance(row, tuple) else row)

    def loss(self, net: nn.Module, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        student = net(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
        side = "teacher_" if "teacher_input_ids" in inputs else ""  # the teacher's own (few-shot) rows, if any
        with torch.no_grad():
            teacher = self.teacher(input_ids=inputs[f"{side}input_ids"],
                                   attention_mask=inputs[f"{side}attention_mask"]).logits  # fmt: skip
        labels = inputs["labels"][:, 1:]
        answer = labels != IGNORE  # position t predicts token t + 1: only the reference's tokens count
        teacher_answer = inputs[f"{side}labels"][:, 1:] != IGNORE  # the same tokens, in the same order, row by row
        logits = student.logits[:, :-1][answer].float()
        kl = F.kl_div((logits / self.temperature).log_softmax(-1),
                      (teacher[:, :-1][teacher_answer].float() / self.temperature).log_softmax(-1), log_target=True,
                      reduction="batchmean") * self.temperature**2  # fmt: skip
        cross_entropy = F.cross_entropy(logits, labels[answer])
        return self.alpha * kl + (1 - self.alpha) * cross_entropy


def teacher_answers(teacher: Model, task: Task, pairs: list[Example], shots: int, stop: threading.Event, report,
                    chunk: int = 8) -> list[Example] | None:  # fmt: skip
    """`pairs` with the teacher's greedy answer (its `shots`-shot prompt) as the reference, `chunk` prompts per
    batched call; report(done, total) after each; None when Stop is set."""
    written = []
    for start in range(0, len(pairs), chunk):
        if stop.is_set():
            return None
        part = pairs[start : start + chunk]
        outputs = prompting.run(teacher, task, part, prompting.Config(k=shots), stop=stop)
        written += [replace(pair, reference=output.text.strip()) for pair, output in zip(part, outputs)]
        report(len(written), len(pairs))
    if stop.is_set():
        return None
    kept = [pair for pair in written if pair.reference]  # an empty answer teaches only the end of the turn
    if not kept:
        raise ValueError(f"The teacher ({teacher.label}) wrote no answer to any training prompt: nothing to learn.")
    return kept


def check_tokenizers(teacher: Model, student: Model) -> None:
    """Token distributions can be matched only over one vocabulary: a teacher on another tokenizer is refused."""
    if teacher.tokenizer.get_vocab() != student.tokenizer.get_vocab():
        raise ValueError(
            f"The teacher ({teacher.label}) and the student ({student.label}) use different tokenizers: token "
            "distributions can be matched only over one vocabulary. Let the student learn the teacher's answers "
            "instead (sequence-level), which needs no shared vocabulary."
        )


def smaller(hf: nn.Module, keep: int) -> nn.Module:
    """A student: a deep copy of `hf` with `keep` of its decoder layers, evenly spaced, first and last kept (the
    spec form is '<base>+prune:layers-<percent dropped>')."""
    return pruned.keep_layers(copy.deepcopy(hf), keep)
