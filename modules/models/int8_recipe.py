"""The automatic int8 recipe, the course's "different levels for different components" made a measurement: int8 every
Linear layer, rank the layer types by what int8 on that type alone costs (KL to the fp32 next-token distribution on
calibration text), then keep the most costly types in fp32, one at a time, until the whole model is within budget.

Calibration text: modules/models/calibration.py (train examples, never the test split the variant is scored on).
A recipe costs 1 + 8 + (types kept) forward passes over the calibration text, after SmoothQuant's maxima over 16
examples: ~30 s for the embedded model here (the slow test that builds it took 32 s)."""

from dataclasses import dataclass, field

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

BUDGET_KL = 0.02  # nats per token: mean KL(fp32 || variant) on calibration text (all w8a8 measured 0.015 here)
TYPES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "lm_head")


@dataclass
class Recipe:
    budget: float
    kept: list[str] = field(default_factory=list)  # layer types left in fp32, most costly first
    sensitivity: dict[str, float] = field(default_factory=dict)  # type -> KL with only that type in int8
    steps: list[tuple[str, float]] = field(default_factory=list)  # ("(none)" or type kept, KL of the whole model)
    tokens: int = 0

    def summary(self) -> str:
        kept = ", ".join(self.kept) or "nothing"
        return f"fp32 kept: {kept}; calibration KL {self.steps[-1][1]:.3f} (budget {self.budget:g})"

    def table(self) -> pd.DataFrame:
        """Why: each layer type's cost alone, and whether the recipe kept it in fp32 (worst first)."""
        rows = [{"layer type": t, "KL with only this type int8": kl, "kept in fp32": t in self.kept}
                for t, kl in sorted(self.sensitivity.items(), key=lambda item: -item[1])]  # fmt: skip
        return pd.DataFrame(rows)

    def path(self) -> pd.DataFrame:
        """The greedy steps: what was kept in fp32 so far, and the whole model's KL after it."""
        return pd.DataFrame(self.steps, columns=["kept in fp32 (cumulative)", "KL of the whole model"])


@torch.inference_mode()
def log_probs(net: nn.Module, batches: list[torch.Tensor]) -> list[torch.Tensor]:
    return [net(input_ids=ids).logits[0].float().log_softmax(-1) for ids in batches]


def mean_kl(net: nn.Module, batches: list[torch.Tensor], reference: list[torch.Tensor]) -> float:
    """Mean KL(reference || net) per token, in nats; one sequence at a time (no padding to leak into it)."""
    total = sum(F.kl_div(mine, ref, log_target=True, reduction="sum").item()
                for mine, ref in zip(log_probs(net, batches), reference))  # fmt: skip
    return total / sum(ref.shape[0] for ref in reference)


@torch.inference_mode()
def input_absmax(net: nn.Module, batches: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    """Each Linear's largest |input| per channel over the calibration text (SmoothQuant's statistic)."""
    absmax = {}

    def record(name):
        def hook(module, args, output):
            seen = args[0].detach().abs().reshape(-1, args[0].shape[-1]).amax(0).float()
            absmax[name] = torch.maximum(absmax[name], seen) if name in absmax else seen

        return hook

    linears = {name: m for name, m in net.named_modules() if isinstance(m, nn.Linear)}
    handles = [module.register_forward_hook(record(name)) for name, module in linears.items()]
    try:
        for ids in batches:
            net(input_ids=ids)
    finally:
        for handle in handles:
            handle.remove()
    return absmax


def choose(net: nn.Module, batches: list[torch.Tensor], make, budget: float | None = None) -> tuple[nn.Module, Recipe]:
    """Quantize `net` (a copy of the base, changed in place) with make(name, linear) on every Linear but the layer
    types the recipe keeps; the network as chosen and the recipe with its measurements."""
    linears = {name: module for name, module in net.named_modules() if isinstance(module, nn.Linear)}
    int8 = {name: make(name, module) for name, module in linears.items()}
    of_type = {name: name.rsplit(".", 1)[-1] for name in linears}
    reference = log_probs(net, batches)
    recipe = Recipe(BUDGET_KL if budget is None else budget, tokens=sum(ids.shape[1] for ids in batches))

    def configure(int8_types: set[str]) -> None:
        for name, fp32 in linears.items():
            swap(net, name, int8[name] if of_type[name] in int8_types else fp32)

    def use(int8_types: set[str]) -> float:
        configure(int8_types)
        return mean_kl(net, batches, reference)

    types = [t for t in TYPES if t in of_type.values()]
    recipe.sensitivity = {t: use({t}) for t in types}
    quantized = set(types)
    recipe.steps.append(("(none)", use(quantized)))
    for costly in sorted(types, key=lambda t: -recipe.sensitivity[t]):
        if recipe.steps[-1][1] <= recipe.budget or len(quantized) == 1:
            break
        quantized.discard(costly)
        recipe.kept.append(costly)
        recipe.steps.append((", ".join(recipe.kept), use(quantized)))
    configure(quantized)
    return net, recipe


def swap(net: nn.Module, name: str, module: nn.Module) -> None:
    """Put `module` where the submodule `name` is."""
    parent_name, _, leaf = name.rpartition(".")
    setattr(net.get_submodule(parent_name) if parent_name else net, leaf, module)
