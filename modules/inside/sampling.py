"""The sampling explorer's arithmetic: one decoding step's top tokens before and after temperature, which of them
top-k and top-p removed, the mass the filters kept, and the distribution the token was drawn from. Everything comes
from one Step of Model.top_logprobs (the same generate call as the text): no second forward pass."""

import math

import pandas as pd

from modules.models import GenerationParams
from modules.models.interface import Step


def step_table(step: Step, params: GenerationParams) -> pd.DataFrame:
    """One row per top token (most likely first): its probability under the model, after temperature, which filter
    removed it (top-k, or top-p on what top-k left; '' when kept), and its probability in the distribution the
    token was drawn from (0 when removed).

    After temperature, p_T(i) = exp(l_i / T) / sum_j exp(l_j / T). The step carries the drawn-from distribution
    q over the kept set K and kept_mass = sum_K p_T, so p_T(i) = q(i) * kept_mass on K; outside K, ratios to the
    most likely token give it: p_T(i) = p_T(top) * exp((log p(i) - log p(top)) / T)."""
    if step.sampled_from is None or step.kept_mass is None:
        raise ValueError("This step has no drawn-from distribution: the backend returns the model's own only.")
    temperature = params.temperature if params.do_sample else 1.0
    drawn = dict(step.sampled_from)  # token -> log q
    first_token, first_logprob = step.top[0]
    first_p_t = math.exp(drawn[first_token]) * step.kept_mass  # the most likely token is never removed
    rows = []
    for rank, (token, logprob) in enumerate(step.top, start=1):
        after_t = first_p_t * math.exp((logprob - first_logprob) / temperature)
        removed_by_k = params.do_sample and params.top_k and rank > params.top_k
        removed = "top-k" if removed_by_k else "" if token in drawn else "top-p"
        rows.append({
            "rank": rank, "token": token, "p (model)": math.exp(logprob), f"p at T={temperature:g}": after_t,
            "removed by": removed, "p drawn from": math.exp(drawn[token]) if token in drawn else 0.0,
            "chosen": token == step.token,
        })  # fmt: skip
    return pd.DataFrame(rows)


def kept_line(step: Step, params: GenerationParams) -> str:
    """The step's filters in words: how many tokens they left and the share of the tempered distribution kept."""
    if not params.do_sample:
        return "Greedy: the most likely token, no filter and no draw."
    kept = len(step.sampled_from or [])
    shown = "at least " if kept == len(step.top) else ""
    return (
        f"T={params.temperature:g}, top-k {params.top_k or 'off'}, top-p {params.top_p:g}: {shown}{kept} token(s) "
        f"left, holding {step.kept_mass:.1%} of the tempered distribution; the token was drawn from them."
    )
