"""Training pairs for fine-tuning: a task's train split or an uploaded JSONL (a pair may carry a preference: chosen
and rejected answers), tokenized with the prompt masked."""

import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path

import torch

from evals.tasks import Example, Task
from modules.models import Model
from modules.techniques.prompting import build_prompt

IGNORE = -100  # label value the loss skips: prompt tokens and padding
MAX_JSONL_BYTES = 20 * 1024 * 1024
MAX_JSONL_PAIRS = 20_000
MAX_FIELD_CHARS = 20_000
KEEP_PROMPT_END = 16  # tokens kept from the end of a cut prompt: the assistant header the answer follows
PREFERENCE = ("chosen", "rejected")  # optional JSONL fields, kept in Example.meta for preference objectives


@dataclass(frozen=True)
class Row:
    input_ids: list[int]
    labels: list[int]  # IGNORE on the prompt, the token id on the reference (and its end-of-turn token)


def pairs_from_task(task: Task) -> list[Example]:
    pairs = task.split("train")
    if not pairs:
        raise ValueError(f"Task '{task.name}' has no train split to fine-tune on.")
    return pairs


def read_jsonl(path: str | Path) -> tuple[list[Example], list[str]]:
    """Pairs from a JSONL of {"input": ..., "reference": ...[, "chosen": ..., "rejected": ...]}; every bad line is
    reported, the good ones kept. A preference (both chosen and rejected) goes into the pair's meta."""
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_JSONL_BYTES:
        raise ValueError(f"{path.name} is {size:,} bytes; the limit is {MAX_JSONL_BYTES:,}.")
    pairs, errors = [], []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise ValueError(f"{path.name} is not UTF-8 text.") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if len(pairs) >= MAX_JSONL_PAIRS:
            errors.append(f"line {number}: more than {MAX_JSONL_PAIRS:,} pairs; the rest was skipped")
            break
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            errors.append(f"line {number}: not valid JSON ({error.msg})")
            continue
        problem = _pair_problem(record)
        if problem:
            errors.append(f"line {number}: {problem}")
            continue
        meta = {key: record[key].strip() for key in PREFERENCE if key in record}
        pairs.append(Example(f"jsonl-{number}", record["input"].strip(), record["reference"].strip(), meta=meta,
                             split="train"))  # fmt: skip
    if not pairs:
        raise ValueError(f"{path.name} has no usable pairs. " + "; ".join(errors[:5]))
    return pairs, errors


def _pair_problem(record) -> str | None:
    if not isinstance(record, dict):
        return "each line must be a JSON object"
    preference = PREFERENCE if any(key in record for key in PREFERENCE) else ()  # both or neither
    for key in ("input", "reference", *preference):
        if key not in record:
            return f"missing field '{key}'"
        if not isinstance(record[key], str) or not record[key].strip():
            return f"'{key}' must be non-empty text"
        if len(record[key]) > MAX_FIELD_CHARS:
            return f"'{key}' has {len(record[key]):,} characters; the limit is {MAX_FIELD_CHARS:,}"
    return None


def data_hash(pairs: list[Example]) -> str:
    """Identifies the exact training data an adapter saw (stored with it)."""
    digest = hashlib.sha256()
    for pair in pairs:
        preference = [pair.meta[key] for key in PREFERENCE if key in pair.meta]  # none: the hash of a plain pair
        digest.update(json.dumps([pair.input, pair.reference, *preference]).encode())
    return digest.hexdigest()[:16]


def tokenize(model: Model, task: Task, pair: Example, max_length: int) -> Row:
    """Prompt exactly as zero-shot evaluation renders it, then the reference and the end-of-turn token.

    Too long: the reference keeps at most half the budget; the prompt loses its middle, so the instruction
    and the assistant header (last KEEP_PROMPT_END tokens) stay.
    """
    tokenizer = model.tokenizer
    prompt = tokenizer(model.render(build_prompt(model, task, [], pair)), add_special_tokens=False)["input_ids"]
    target = tokenizer(pair.reference, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    if len(prompt) + len(target) > max_length:
        target = target[: max(max_length // 2, max_length - len(prompt))]
        room = max_length - len(target)
        prompt = prompt[: room - KEEP_PROMPT_END] + prompt[-KEEP_PROMPT_END:]
    return Row(prompt + target, [IGNORE] * len(prompt) + target)


def preference_rows(model: Model, task: Task, pairs: list[Example], max_length: int) -> list[tuple[Row, Row]]:
    """(chosen, rejected) rows for each pair that carries a preference (meta chosen and rejected), each answer after
    the same zero-shot prompt; the objectives that learn from preferences (DPO, the reward model) start here."""
    preferred = [pair for pair in pairs if pair.meta.get("chosen") and pair.meta.get("rejected")]
    if not preferred:
        raise ValueError("Training on preferences needs pairs with a chosen and a rejected answer per prompt.")
    return [
        tuple(tokenize(model, task, Example(p.id, p.input, p.meta[side], split=p.split), max_length)
              for side in ("chosen", "rejected"))
        for p in preferred
    ]  # fmt: skip


def collate(rows: list[Row], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded batch (training needs no left padding): input_ids, attention_mask, labels (batch, longest)."""
    longest = max(len(r.input_ids) for r in rows)
    pad = [longest - len(r.input_ids) for r in rows]
    return {
        "input_ids": torch.tensor([r.input_ids + [pad_id] * p for r, p in zip(rows, pad)]),
        "attention_mask": torch.tensor([[1] * len(r.input_ids) + [0] * p for r, p in zip(rows, pad)]),
        "labels": torch.tensor([r.labels + [IGNORE] * p for r, p in zip(rows, pad)]),
    }


def mixture(pools: dict[str, list], shares: dict[str, float], count: int, seed: int) -> list:
    """`count` items for multi-task training: each slot picks a pool with probability its share (normalised), then
    that pool's next item in a seeded reshuffled order (every item of a pool comes once before any comes again)."""
    if not pools or set(pools) != set(shares) or any(share <= 0 for share in shares.values()):
        raise ValueError("A mixture needs one positive share per task.")
    rng = random.Random(seed)
    names, weights = list(pools), [shares[name] for name in pools]
    orders = {name: [] for name in names}
    drawn = []
    for name in rng.choices(names, weights=weights, k=count):
        if not orders[name]:
            orders[name] = rng.sample(pools[name], len(pools[name]))
        drawn.append(orders[name].pop())
    return drawn


def batch_order(count: int, batch_size: int, steps: int, seed: int) -> list[list[int]]:
    """Row indices of every step: seeded reshuffles epoch after epoch, so a resumed job sees the same batches."""
    rng, stream = random.Random(seed), []
    while len(stream) < steps * batch_size:
        epoch = list(range(count))
        rng.shuffle(epoch)
        stream += epoch
    return [stream[s * batch_size : (s + 1) * batch_size] for s in range(steps)]
