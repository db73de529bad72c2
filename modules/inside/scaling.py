"""Scaling calculator: compute-optimal parameters N and tokens D for a compute budget C ≈ 6ND, and the loss the
Chinchilla parametric fit L(N, D) = E + A/N^α + B/D^β predicts, with Hoffmann et al.'s constants beside Besiroglu et
al.'s refit. Pure arithmetic; each constant says where it comes from."""

from dataclasses import dataclass

import pandas as pd

TOKENS_PER_PARAMETER = 20  # the course's rule of thumb for compute-optimal training (Hoffmann et al. 2022, Table 3)
FLOPS_PER_PARAMETER_TOKEN = 6  # C ≈ 6ND: forward (2ND) + backward (4ND) (Kaplan et al. 2020, section 2.1)


@dataclass(frozen=True)
class Fit:
    """One published fit of L(N, D) = E + A / N^alpha + B / D^beta (N parameters, D training tokens, L nats/token)."""

    name: str
    E: float
    A: float
    B: float
    alpha: float
    beta: float
    source: str

    def loss(self, n: float, d: float) -> float:
        return self.E + self.A / n**self.alpha + self.B / d**self.beta

    def optimal(self, compute: float) -> tuple[float, float]:
        """(N, D) minimising the loss at C = 6ND: N = G (C/6)^(β/(α+β)), D = (C/6) / N, G = (αA / βB)^(1/(α+β))."""
        g = (self.alpha * self.A / (self.beta * self.B)) ** (1 / (self.alpha + self.beta))
        n = g * (compute / FLOPS_PER_PARAMETER_TOKEN) ** (self.beta / (self.alpha + self.beta))
        return n, compute / FLOPS_PER_PARAMETER_TOKEN / n


HOFFMANN = Fit(
    "Hoffmann et al. (2022)", 1.69, 406.4, 410.7, 0.34, 0.28,
    "Training Compute-Optimal Large Language Models (arXiv 2203.15556), section 3.3 (Approach 3), constants as "
    "published (rounded)",
)  # fmt: skip
BESIROGLU = Fit(
    "Besiroglu et al. (2024) refit", 1.8172, 482.01, 2085.43, 0.3478, 0.3658,
    "Chinchilla Scaling: A replication attempt (arXiv 2404.10102), their refit of the data points they recovered "
    "from Hoffmann et al.'s figures",
)  # fmt: skip
FITS = (HOFFMANN, BESIROGLU)
WHY_THEY_DIFFER = (
    "Besiroglu et al. re-fitted the data points behind Hoffmann et al.'s fit and found the published constants fit "
    "them poorly (they suspect the original optimisation stopped early; the constants are also rounded): with them "
    "the optimal tokens per parameter grow with compute to several times 20 (93 at Chinchilla's budget), at odds "
    "with the 20 that Hoffmann et al.'s other two methods, and Chinchilla itself (70B parameters, 1.4T tokens), "
    "found. The refit gives about 20 (18 at that budget)."
)
INFERENCE_COST = (
    "Compute-optimal minimises training cost for a given loss, not the cost of serving the model: a smaller model "
    "trained on many more tokens than 'optimal' reaches a similar loss and is cheaper at every request afterwards. "
    "SmolLM2-135M (about 15,000 tokens per parameter) and Llama 3 8B (about 1,900) were over-trained on purpose."
)

# Published sizes and training tokens: (name, parameters N, tokens D, source).
MODELS = (
    ("SmolLM2-135M (the embedded model)", 135e6, 2e12, "Allal et al. 2025, SmolLM2 paper: 2T tokens"),
    ("SmolLM2-1.7B", 1.7e9, 11e12, "Allal et al. 2025, SmolLM2 paper: 11T tokens"),
    ("Chinchilla", 70e9, 1.4e12, "Hoffmann et al. 2022, Table 1"),
    ("Gopher", 280e9, 300e9, "Hoffmann et al. 2022, Table 1"),
    ("GPT-3", 175e9, 300e9, "Hoffmann et al. 2022, Table 1"),
    ("Llama 2 7B", 7e9, 2e12, "Touvron et al. 2023, Table 1"),
    ("Llama 3 8B", 8e9, 15e12, "Meta 2024, Llama 3 model card: 15T+ tokens"),
)


def compute_of(n: float, d: float) -> float:
    """C ≈ 6ND training FLOPs."""
    return FLOPS_PER_PARAMETER_TOKEN * n * d


def rule_of_thumb(compute: float) -> tuple[float, float]:
    """(N, D) with D = 20 N at C = 6ND: N = sqrt(C / 120)."""
    n = (compute / (FLOPS_PER_PARAMETER_TOKEN * TOKENS_PER_PARAMETER)) ** 0.5
    return n, TOKENS_PER_PARAMETER * n


def budget(parameters: float | None = None, compute: float | None = None) -> float:
    """The compute budget from what the visitor gave: C itself, or, from N alone, what 20 tokens per parameter costs
    (C = 120 N²). Bad values raise ValueError with the message to show."""
    for value, what in ((parameters, "Parameters N"), (compute, "Compute C")):
        if value is not None and not value > 0:
            raise ValueError(f"{what} must be a positive number, got {value}.")
        if value is not None and value > 1e40:
            raise ValueError(f"{what} must be at most 1e40, got {value:g}.")
    if compute is not None:
        return float(compute)
    if parameters is not None:
        return compute_of(parameters, TOKENS_PER_PARAMETER * parameters)
    raise ValueError("Give the parameters N, the compute C in FLOPs, or both.")


def plan(parameters: float | None = None, compute: float | None = None) -> pd.DataFrame:
    """At the budget (budget()): one row per allocation rule (20 tokens per parameter, each fit's optimum) and, given
    N, the visitor's own model trained on the budget: N, D, tokens per parameter, C and the loss both fits predict."""
    c = budget(parameters, compute)
    rows = [("20 tokens per parameter (rule of thumb)", *rule_of_thumb(c))]
    rows += [(f"optimal under {fit.name}", *fit.optimal(c)) for fit in FITS]
    if parameters is not None and compute is not None:
        rows.append(("your N on this compute", parameters, c / FLOPS_PER_PARAMETER_TOKEN / parameters))
    table = pd.DataFrame(rows, columns=["allocation", "parameters N", "tokens D"])
    table["tokens per parameter"] = table["tokens D"] / table["parameters N"]
    table["compute C (FLOPs)"] = [compute_of(n, d) for n, d in zip(table["parameters N"], table["tokens D"])]
    for fit in FITS:
        table[f"loss ({fit.name})"] = [fit.loss(n, d) for n, d in zip(table["parameters N"], table["tokens D"])]
    return table


def models_table() -> pd.DataFrame:
    """The real models: N, D, tokens per parameter, C, and each fit's predicted loss, with the source of N and D."""
    table = pd.DataFrame(MODELS, columns=["model", "parameters N", "tokens D", "source"])
    table["tokens per parameter"] = table["tokens D"] / table["parameters N"]
    table["compute C (FLOPs)"] = [compute_of(n, d) for n, d in zip(table["parameters N"], table["tokens D"])]
    for fit in FITS:
        table[f"loss ({fit.name})"] = [fit.loss(n, d) for n, d in zip(table["parameters N"], table["tokens D"])]
    return table
