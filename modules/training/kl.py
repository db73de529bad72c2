"""How far a fine-tuned policy moved from its base on given answers: log pi(answer | prompt) - log base(answer |
prompt), summed over the answer's tokens (nats), with the base read as the same network with its adapter off.

On answers the policy sampled this is an unbiased estimate of KL(policy || base) per sequence (what RLOO's leash
subtracts); on greedy answers it is the log-ratio of the answer actually given: a distance, not an exact KL."""

import math

from evals.tasks import Example, Task
from modules.models import Model, ModelSpec
from modules.training.data import tokenize
from modules.training.dpo import answer_logprobs_of


def log_ratios(model: Model, task: Task, examples: list[Example], answers: list[str], max_length: int = 256):
    """One log-ratio per answer; 0.0 for the base itself; None where there is no base to compare with in this
    network (a full fine-tune: a copy of its own)."""
    if not model.capabilities.weights:
        return [None] * len(answers)  # a server's model: no log-probabilities here
    rows = [tokenize(model, task, Example(e.id, e.input, a or " "), max_length) for e, a in zip(examples, answers)]
    pad = model.tokenizer.pad_token_id
    with model.active() as net:
        if not hasattr(net, "disable_adapter"):
            return [None if ModelSpec.parse(model.spec).adapter else 0.0 for _ in answers]
        policy = answer_logprobs_of(net, rows, pad)
        with net.disable_adapter():
            reference = answer_logprobs_of(net, rows, pad)
    return [p - r for p, r in zip(policy, reference)]


def best_of_n_kl(n: int) -> float:
    """KL(best-of-n || base) = log n - (n - 1) / n (Stiennon et al. 2020; an upper bound, exact when no two
    samples tie): the leash best-of-n keeps without any training."""
    return math.log(n) - (n - 1) / n
