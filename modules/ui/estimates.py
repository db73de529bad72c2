"""How long a job will take here, from the speed the model has shown so far: the one estimate every tab shows."""

from evals.runner import System
from modules.models import Model


def estimate(model: Model, systems: list[System], examples: int) -> str:
    """Roughly how long the run takes here: the tokens it may generate at the speed this model has shown so far
    (an upper bound: answers often stop before their limit). The one estimate: columns use it per system."""
    rate = model.measured_tokens_per_s
    if not rate:
        return "(time estimate after the first batch)"
    tokens = sum(
        examples * getattr(s.config, "max_new_tokens", 96) * getattr(s.config, "n", 1) for s in systems
    )  # self-consistency writes n paths
    return f"(at most ~{tokens / rate:.0f} s at the {rate:.0f} tokens/s measured here)"
