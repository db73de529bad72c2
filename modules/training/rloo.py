"""RL with a KL leash, as REINFORCE leave-one-out (RLOO; Ahmadian et al. 2024, TRL's RLOOTrainer): for each prompt
the policy samples k answers; each is rewarded, minus beta times its KL to the untouched base (the sequence's
log-ratio, as RLOO and the course's PPO subtract it); each answer's advantage is its reward minus the mean of the
other k - 1; the loss is -advantage x log pi(answer). No value head: the other samples are the baseline.

An objective object (not a module: it is bound to its reward function and keeps each step's mean reward, KL and
answer length in `history` for the live curves); the one training loop runs it, so Stop, checkpoints and resume
are the fine-tuning ones. The policy must be a peft adapter: the reference is the same network with it disabled."""

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from evals.tasks import Example, Task
from modules.models import Model
from modules.techniques.prompting import build_prompt
from modules.training.data import Row

RewardFn = Callable[[list[Example], list[str]], list[float]]  # (the prompts' examples, answers) -> one reward each


@dataclass
class Rloo:
    reward: RewardFn
    beta: float = 0.05  # the KL coefficient: TRL's RLOO default; 0 lets the policy drift as far as the reward pays
    samples: int = 4  # k answers per prompt (>= 2: each one's baseline is the others' mean)
    max_new_tokens: int = 48
    temperature: float = 1.0
    history: list[dict] = field(default_factory=list)  # per loss call: mean reward, KL, answer length
    examples: list[Example] = field(default_factory=list)  # the prompts' examples, by row index
    tokenizer: object = None  # the policy's, set by rows(): answers are decoded for the reward

    def __post_init__(self):
        if self.samples < 2:
            raise ValueError("RLOO needs at least 2 answers per prompt: each one's baseline is the others' mean.")
        if self.beta < 0:
            raise ValueError(f"The KL coefficient must be >= 0, got {self.beta}.")

    def rows(self, model: Model, task: Task, pairs: list[Example], max_length: int) -> list[Row]:
        """One row per prompt: the task's zero-shot prompt, cut from the left to leave room for the answers."""
        self.examples, self.tokenizer = list(pairs), model.tokenizer
        room = max(8, max_length - self.max_new_tokens)
        rows = []
        for index, pair in enumerate(pairs):
            ids = model.tokenizer(model.render(build_prompt(model, task, [], pair)), add_special_tokens=False)[
                "input_ids"
            ]
            rows.append(Row(ids[-room:], [index]))  # labels carry the example's index (no tokens are labelled)
        return rows

    def batch(self, chunk: list[Row], pad_id: int) -> dict[str, torch.Tensor]:
        """Left-padded prompts (generation continues from the right end) and each row's example index."""
        longest = max(len(row.input_ids) for row in chunk)
        pads = [longest - len(row.input_ids) for row in chunk]
        return {
            "input_ids": torch.tensor([[pad_id] * p + row.input_ids for row, p in zip(chunk, pads)]),
            "attention_mask": torch.tensor([[0] * p + [1] * len(row.input_ids) for row, p in zip(chunk, pads)]),
            "index": torch.tensor([row.labels[0] for row in chunk]),
        }

    def weight(self, row: Row) -> int:
        return 1

    def loss(self, net: nn.Module, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        if not hasattr(net, "disable_adapter"):
            raise ValueError("RL with a KL leash trains a peft adapter (LoRA): the reference is the base without it.")
        prompts, mask = inputs["input_ids"], inputs["attention_mask"]
        answers, answer_mask = self._sample(net, prompts, mask)
        full = torch.cat([prompts.repeat_interleave(self.samples, 0), answers], 1)
        attention = torch.cat([mask.repeat_interleave(self.samples, 0), answer_mask], 1)
        policy = _answer_logprobs(net, full, attention, answer_mask)
        with torch.no_grad(), net.disable_adapter():
            reference = _answer_logprobs(net, full, attention, answer_mask)
        kl = (policy - reference).detach()  # the sequence's log-ratio: a sample of KL(policy || base)
        examples = [self.examples[i] for i in inputs["index"].tolist() for _ in range(self.samples)]
        texts = [self.tokenizer.decode(row[m.bool()], skip_special_tokens=True) for row, m in zip(answers, answer_mask)]
        rewards = torch.tensor(self.reward(examples, texts), dtype=torch.float32, device=kl.device)
        shaped = (rewards - self.beta * kl).view(-1, self.samples)
        baseline = (shaped.sum(1, keepdim=True) - shaped) / (self.samples - 1)  # the other answers' mean
        advantage = (shaped - baseline).flatten()
        self.history.append({"reward": rewards.mean().item(), "kl": kl.mean().item(),
                             "length": answer_mask.sum(1).float().mean().item()})  # fmt: skip
        return -(advantage * policy).mean()

    def _sample(self, net: nn.Module, prompts: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """k sampled answers per prompt (dropout off while sampling), and a mask up to each one's end token."""
        was_training = net.training
        net.eval()
        with torch.no_grad():
            out = net.generate(input_ids=prompts, attention_mask=mask, do_sample=True, top_k=0, top_p=1.0,
                               temperature=self.temperature, max_new_tokens=self.max_new_tokens,
                               num_return_sequences=self.samples,
                               pad_token_id=self.tokenizer.pad_token_id)  # fmt: skip
        net.train(was_training)
        answers = out[:, prompts.shape[1] :]
        end = (answers == self.tokenizer.eos_token_id).int()
        answer_mask = (end.cumsum(1) - end == 0).long()  # up to and with the first end token; padding after it

        return answers, answer_mask


def _answer_logprobs(net: nn.Module, full: torch.Tensor, attention: torch.Tensor, answer_mask: torch.Tensor):
    """(rows,) summed log-probabilities of the answer tokens (the last answer_mask.shape[1] positions)."""
    logits = net(input_ids=full, attention_mask=attention).logits.float()
    width = answer_mask.shape[1]
    predicted = logits[:, -width - 1 : -1].log_softmax(-1)  # position t predicts token t + 1
    picked = torch.gather(predicted, 2, full[:, -width:].unsqueeze(-1)).squeeze(-1)
    return (picked * answer_mask).sum(-1)
