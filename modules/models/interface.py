"""The one model interface every backend implements (local, ZeroGPU, remote): callers ask for a capability."""

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch

from modules.models.generation import Generation, GenerationParams

Prompt = str | list[dict]  # plain text, or chat messages [{"role": ..., "content": ...}]
MAX_TOP_K = 20  # the OpenAI API's most top_logprobs per step; locally the same, so both backends take the same k


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do beyond generate() and perplexity(). A method whose flag is off raises Unsupported."""

    weights: bool  # its weights are in this process: their memory and size can be measured here
    trainable: bool  # fine-tuning can update its weights (modules/training)
    variants: bool  # adapters and precisions can be made from it (variant_spec)
    live_text: bool  # on_text reports within a batch, after every step (else once a batch has ended)
    stop_in_step: bool  # Stop ends a batch within one decoding step (else between batches)
    top_logprobs: bool  # top_logprobs(): the k most likely next tokens at every step
    attention: bool  # attention(): one prompt's attention weights


@dataclass
class Step:
    """One decoding step: the token chosen, its log-probability and the k most likely tokens (most likely first),
    all of the model's own distribution (before temperature, top-k, top-p). Where the backend has it (local), also
    the distribution the token was drawn from (after those filters, renormalised) and the share of the
    temperature-scaled distribution the filters kept; a server returns neither (None)."""

    token: str
    logprob: float
    top: list[tuple[str, float]]
    sampled_from: list[tuple[str, float]] | None = None  # the k most likely after the filters, as log-probabilities
    kept_mass: float | None = None  # of softmax(logits / T), the share top-k and top-p left (1.0 when greedy)


@dataclass
class Attention:
    """One forward pass's attention weights and what was read: each token's characters in `text`, for segments."""

    text: str  # the rendered prompt followed by the answer, as the tokenizer saw it
    tokens: list[str]  # the tokens read (after any cut), decoded one by one
    offsets: list[tuple[int, int]]  # each token's (start, end) characters in text
    weights: torch.Tensor  # (layers, heads, seq, seq), each row a distribution over the tokens up to it
    cut: int = 0  # tokens dropped after the first to fit max_tokens (the model read the first and the rest)


class Unsupported(ValueError):
    """A capability this backend lacks; the message names it and says why (shown to people as it is)."""


@runtime_checkable
class LanguageModel(Protocol):
    """What every caller may use of a model (as lm-evaluation-harness's `LM`): models/model.py's Model (local, and
    ZeroGPU through it) and models/remote.py's RemoteModel implement it."""

    spec: str  # the canonical spec it was loaded from (models/spec.py)
    label: str  # what people see: name, precision, where it runs
    context_length: int  # longest input in tokens (prompt + new tokens for decoder-only models)
    has_chat_template: bool  # render() applies a chat template
    is_seq2seq: bool  # encoder-decoder (T5): no chat template, output is the decoder's only

    @property
    def capabilities(self) -> Capabilities:
        """What it can do beyond generate() and perplexity(); can change with where it runs (ZeroGPU)."""
        ...

    @property
    def measured_tokens_per_s(self) -> float:
        """New tokens per second over every generate() so far on this machine; 0 before the first."""
        ...

    def info(self) -> dict:
        """Facts for the model bar and stored with every run (spec, label, parameters, device, dtype, context...)."""
        ...

    def render(self, prompt: Prompt) -> str:
        """The exact text the model is given for `prompt` (chat template applied), for traces."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens in `text` (a remote model estimates: 'does it fit?' checks only)."""
        ...

    def generate(
        self,
        prompts: Sequence[Prompt],
        params: GenerationParams | None = None,
        on_text: Callable[[dict[int, str]], None] | None = None,
        stop: threading.Event | None = None,
    ) -> list[Generation]:
        """One Generation per prompt, in the order of `prompts`. on_text gets {prompt index: text so far} as text
        arrives; when `stop` is set, rows end early and come back partial (capabilities say how soon)."""
        ...

    def perplexity(self, texts: list[str]) -> float:
        """exp(mean negative log-likelihood per predicted token) over all texts, each scored on its own."""
        ...

    def top_logprobs(
        self, prompts: Sequence[Prompt], params: GenerationParams | None = None, k: int = 5
    ) -> list[list[Step]]:
        """For each prompt, its generation as steps: the token chosen, its log-probability and the k most likely
        tokens, from the same generation call. Unsupported where capabilities.top_logprobs is off."""
        ...

    def attention(self, prompt: Prompt, answer: str = "", max_tokens: int | None = None) -> Attention:
        """The attention weights of one forward pass over the rendered prompt followed by `answer`; max_tokens:
        keep only the last max_tokens tokens instead of refusing a longer text. Unsupported where
        capabilities.attention is off."""
        ...


def check_top_k(k: int) -> None:
    if not 1 <= k <= MAX_TOP_K:
        raise ValueError(f"k (top log-probabilities per step) must be between 1 and {MAX_TOP_K}, got {k}.")
