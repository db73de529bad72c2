"""Where the answer looks: the share of its attention that goes to each part of the prompt (instruction, each
few-shot example, the input, the chat markup), the parts taken from the task's own prompt template, not guessed."""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from evals.tasks import Example, Task
from modules.models import GenerationParams, LanguageModel
from modules.models.model import ATTENTION_MAX_TOKENS
from modules.techniques import prompting

MARKUP = "chat markup and separators"
PROMPT = "your prompt"  # a typed prompt's one segment: no template to split it by
ANSWER_TOKENS = 48  # of the model's answer: a one-sentence summary fits; ~4 s at the embedded model's CPU speed


def template_parts(task: Task, shots: list[Example], query: Example, answer: str = "") -> list[tuple[str, str]]:
    """(segment name, text) in the order the template writes them (chat form: the instruction opens every user
    turn; plain form: once, and segments() skips the repeats it cannot find)."""
    parts = []
    for number, shot in enumerate(shots, start=1):
        parts += [("instruction", task.prompt.instruction), (f"example {number}", task.prompt.format_query(shot)),
                  (f"example {number}", task.prompt.format_answer(shot))]  # fmt: skip
    parts += [("instruction", task.prompt.instruction), ("input", task.prompt.format_query(query))]
    return parts + ([("answer", answer)] if answer else [])


def segments(text: str, parts: list[tuple[str, str]]) -> list[tuple[str, int, int]]:
    """(name, start, end) character spans of each part, each searched from where the previous one ended; a part
    not found there is skipped. What no span covers is MARKUP."""
    spans, cursor = [], 0
    for name, piece in parts:
        start = text.find(piece, cursor) if piece else -1
        if start >= 0:
            spans.append((name, start, start + len(piece)))
            cursor = start + len(piece)
    return spans


def token_segments(offsets: list[tuple[int, int]], spans: list[tuple[str, int, int]]) -> list[str]:
    """The segment of each token: the span its first character falls in, else MARKUP."""
    names = []
    for start, end in offsets:
        inside = [name for name, low, high in spans if low <= start < high or (start == end and low <= start <= high)]
        names.append(inside[0] if inside else MARKUP)
    return names


def shares(weights: torch.Tensor, names: list[str]) -> pd.DataFrame:
    """Share of the answer's attention (its tokens' rows; the last token's when there is no answer) going to each
    segment, per layer, averaged over heads: (layers + 'all layers') x segments, each row summing to 1.
    weights: (layers, heads, seq, seq), each row a distribution over the tokens up to it."""
    looked = weights[:, :, answer_rows(names), :].mean(dim=(1, 2))  # (layers, seq): over heads and answer rows
    order = list(dict.fromkeys(name for name in names if name != "answer"))
    table = pd.DataFrame(
        {name: looked[:, [i for i, n in enumerate(names) if n == name]].sum(dim=1).tolist() for name in order},
        index=[f"layer {i + 1}" for i in range(looked.shape[0])],
    )
    if "answer" in names:  # an answer token also attends to the answer before it
        table["answer (itself)"] = looked[:, [i for i, n in enumerate(names) if n == "answer"]].sum(dim=1).tolist()
    table.loc["all layers"] = table.mean()
    return table


def answer_rows(names: list[str]) -> list[int]:
    """The rows whose attention is read: the answer's tokens, else the last token (it predicts the answer's first)."""
    return [i for i, name in enumerate(names) if name == "answer"] or [len(names) - 1]


def summary(table: pd.DataFrame, first_token_share: float) -> str:
    """The averaged row in words, largest share first, with the attention-sink caveat where it applies."""
    overall = table.loc["all layers"].sort_values(ascending=False)
    parts = ", ".join(f"{share:.0%} to {name}" for name, share in overall.items() if share >= 0.005)
    text = f"Averaged over every layer and head, the answer's attention went {parts}."
    if first_token_share >= 0.2:
        text += (
            f" {first_token_share:.0%} went to the very first token alone: models park attention there when no "
            "other token is relevant (an 'attention sink'), so read the other shares relative to each other."
        )
    return text


@dataclass
class Picture:
    """One prompt's attention, ready to draw and to read: what the tab keeps between redraws."""

    tokens: list[str]  # as read, after any cut
    names: list[str]  # each token's segment
    weights: np.ndarray  # (layers, heads, seq, seq) float16: 35 MB for SmolLM2-135M (30 x 9) at 256 tokens
    table: pd.DataFrame  # shares(): layers + 'all layers' x segments
    summary: str
    answer: str  # the model's greedy answer, read after the prompt
    cut: int  # tokens dropped after the first (the model read the first and the rest)
    cut_segments: list[str]  # the segments those tokens came from, in prompt order ('input (partly)')


def few_shot(model: LanguageModel, task: Task, query: Example, k: int,
             max_tokens: int = ATTENTION_MAX_TOKENS) -> Picture:  # fmt: skip
    """The few-shot prompt exactly as the prompting technique builds it (first k train examples as shots), then
    its greedy answer read back: the segments come from the task's template."""
    config = prompting.Config(k=k, max_new_tokens=ANSWER_TOKENS)
    prompting.validate(task, config)
    check_supported(model)
    shots = prompting.select_shots(task.split("train"), query, config)
    answer = prompting.run(model, task, [query], config)[0].text  # cleaned: stops before an invented next example
    prompt = prompting.build_prompt(model, task, shots, query)
    return picture(model, prompt, template_parts(task, shots, query), answer, max_tokens)


def typed(model: LanguageModel, prompt: str, max_tokens: int = ATTENTION_MAX_TOKENS) -> Picture:
    """A typed prompt, sent as it is (one segment), then its greedy answer read back."""
    if not prompt.strip():
        raise ValueError("The prompt is empty: pick an example from the test split or type a prompt.")
    check_supported(model)
    answer = model.generate([prompt], GenerationParams(max_new_tokens=ANSWER_TOKENS))[0].text.strip()
    return picture(model, prompt, [(PROMPT, prompt)], answer, max_tokens)


def check_supported(model: LanguageModel) -> None:
    """A model without attention weights says why before an answer is generated for nothing."""
    if not model.capabilities.attention:
        model.attention("")  # raises Unsupported with the backend's own reason


def picture(model: LanguageModel, prompt, parts: list[tuple[str, str]], answer: str, max_tokens: int) -> Picture:
    """One forward pass over prompt + answer; each token named by the part of `parts` it falls in."""
    if answer and not model.has_chat_template:
        answer = " " + answer  # plain text: the answer follows its cue ('Summary:') after a space, as generated
    seen = model.attention(prompt, answer=answer, max_tokens=max_tokens)
    spans = segments(seen.text, [*parts, ("answer", answer)] if answer else parts)
    names = token_segments(seen.offsets, spans)
    first_char = seen.offsets[1][0] if seen.cut else 0  # where the text resumes after the cut (token 0 is kept)
    cut_segments = list(dict.fromkeys(name + ("" if end <= first_char else " (partly)")
                                      for name, start, end in spans if seen.cut and start < first_char))  # fmt: skip
    sink = float(seen.weights[:, :, answer_rows(names), 0].mean())  # the first token read: the usual sink
    table = shares(seen.weights, names)
    return Picture(seen.tokens, names, seen.weights.half().numpy(), table, summary(table, sink), answer.strip(),
                   seen.cut, cut_segments)  # fmt: skip
