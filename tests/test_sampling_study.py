"""The explorer's step table equals softmax(logits / T) and transformers' own top-k / top-p filters of that step."""

import pytest
import torch
from transformers import LogitsProcessorList, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

from modules.inside import sampling
from modules.models import GenerationParams

PROMPT = "the cat sat on the mat"


def test_the_first_steps_table_matches_the_filters_applied_by_hand(tiny_model):
    params = GenerationParams(max_new_tokens=2, do_sample=True, temperature=0.5, top_k=6, top_p=0.7, seed=2)
    step = tiny_model.top_logprobs([PROMPT], params, k=20)[0][0]
    ids = tiny_model.tokenizer(tiny_model.render(PROMPT), add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        logits = tiny_model.hf(input_ids=ids).logits[:, -1].float()  # (1, vocab)
    tempered = torch.softmax(logits[0] / 0.5, dim=-1)
    after_k = TopKLogitsWarper(6)(ids, TemperatureLogitsWarper(0.5)(ids, logits.clone()))
    after_p = LogitsProcessorList([TopPLogitsWarper(0.7)])(ids, after_k.clone())[0]
    table = sampling.step_table(step, params)
    order = torch.argsort(logits[0], descending=True)[:20]
    assert table["p at T=0.5"].tolist() == pytest.approx(tempered[order].tolist(), abs=1e-5)
    expected_removed = ["top-k" if not torch.isfinite(after_k[0, i]) else "top-p" if not torch.isfinite(after_p[i])
                        else "" for i in order.tolist()]  # fmt: skip
    assert table["removed by"].tolist() == expected_removed
    assert table["removed by"].eq("top-k").sum() == 14  # 20 shown, 6 kept by top-k
    drawn = torch.softmax(after_p, dim=-1)[order]
    assert table["p drawn from"].tolist() == pytest.approx(drawn.tolist(), abs=1e-5)
    assert table["chosen"].sum() == 1 and table.loc[table.chosen, "removed by"].item() == ""
    assert "holding" in sampling.kept_line(step, params)


def test_greedy_steps_remove_nothing(tiny_model):
    step = tiny_model.top_logprobs([PROMPT], GenerationParams(max_new_tokens=1), k=5)[0][0]
    table = sampling.step_table(step, GenerationParams(max_new_tokens=1))
    assert table["removed by"].eq("").all() and table["p (model)"].tolist() == pytest.approx(table["p at T=1"].tolist())
    assert sampling.kept_line(step, GenerationParams(max_new_tokens=1)).startswith("Greedy")
