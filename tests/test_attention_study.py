"""Attention shares by prompt segment: spans from the template, tokens to segments, shares summing to 1."""

import pandas as pd
import pytest
import torch

from evals.tasks import load_task
from modules.inside import attention


def test_the_templates_parts_are_found_in_the_chat_and_plain_prompts():
    task = load_task("dialogue-summary")
    shot, query = task.split("train")[0], task.split("test")[0]
    parts = attention.template_parts(task, [shot], query, answer="They meet at noon.")
    chat = (f"<|im_start|>user\n{task.prompt.instruction}\n\n{task.prompt.format_query(shot)}<|im_end|>\n"
            f"<|im_start|>assistant\n{task.prompt.format_answer(shot)}<|im_end|>\n"
            f"<|im_start|>user\n{task.prompt.instruction}\n\n{task.prompt.format_query(query)}<|im_end|>\n"
            "<|im_start|>assistant\nThey meet at noon.")  # fmt: skip
    names = [name for name, _, _ in attention.segments(chat, parts)]
    assert names == ["instruction", "example 1", "example 1", "instruction", "input", "answer"]
    plain = task.prompt.text([shot], query) + " They meet at noon."
    names = [name for name, _, _ in attention.segments(plain, parts)]
    assert names == ["instruction", "example 1", "example 1", "input", "answer"]  # one instruction in plain text


def test_tokens_take_the_segment_their_first_character_is_in():
    spans = [("instruction", 0, 9), ("input", 12, 20)]
    offsets = [(0, 4), (4, 9), (9, 12), (12, 15), (19, 22), (22, 25)]
    assert attention.token_segments(offsets, spans) == ["instruction", "instruction", attention.MARKUP, "input",
                                                        "input", attention.MARKUP]  # fmt: skip


def test_shares_sum_to_one_per_layer_and_follow_the_weights():
    names = ["markup", "instruction", "input", "input", "answer", "answer"]
    seq = len(names)
    weights = torch.tril(torch.rand(3, 2, seq, seq))
    weights = weights / weights.sum(-1, keepdim=True)  # rows are distributions over the tokens up to them
    table = attention.shares(weights, names)
    assert list(table.index) == ["layer 1", "layer 2", "layer 3", "all layers"]
    assert table.sum(axis=1).tolist() == pytest.approx([1.0] * 4)
    expected = float(weights[0, :, 4:, 2:4].sum(-1).mean())  # layer 1: answer rows' mass on the two input tokens
    assert table.loc["layer 1", "input"] == pytest.approx(expected)


def test_the_summary_names_the_largest_share_first_and_the_sink():
    table = pd.DataFrame({"input": [0.5], "instruction": [0.2], attention.MARKUP: [0.3]}, index=["all layers"])
    text = attention.summary(table, first_token_share=0.25)
    assert text.startswith("Averaged over every layer and head, the answer's attention went 50% to input, 30% to")
    assert "attention sink" in text and "attention sink" not in attention.summary(table, 0.05)
