"""Where the answer looks: the share of its attention that goes to each part of the prompt (instruction, each
few-shot example, the input, the chat markup), the parts taken from the task's own prompt template, not guessed."""

import pandas as pd
import torch

from evals.tasks import Example, Task

MARKUP = "chat markup and separators"


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
    rows = [i for i, name in enumerate(names) if name == "answer"] or [len(names) - 1]
    looked = weights[:, :, rows, :].mean(dim=(1, 2))  # (layers, seq): per layer, over heads and answer tokens
    order = list(dict.fromkeys(name for name in names if name != "answer"))
    table = pd.DataFrame(
        {name: looked[:, [i for i, n in enumerate(names) if n == name]].sum(dim=1).tolist() for name in order},
        index=[f"layer {i + 1}" for i in range(looked.shape[0])],
    )
    if "answer" in names:  # an answer token also attends to the answer before it
        table["answer (itself)"] = looked[:, [i for i, n in enumerate(names) if n == "answer"]].sum(dim=1).tolist()
    table.loc["all layers"] = table.mean()
    return table


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
