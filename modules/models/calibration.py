"""Calibration text for the makers that measure the model before changing it (the int8 recipe, SmoothQuant, Wanda):
the first dialogue-summary train examples as the model sees them, never the test split the variants are scored on."""

import torch

from evals.tasks import load_task

TASK, EXAMPLES = "dialogue-summary", 4


def batches(model, examples: int = EXAMPLES) -> list[torch.Tensor]:
    """Token ids (1, length) of each example: its chat prompt, then its reference answer."""
    pairs = load_task(TASK).split("train")[:examples]
    texts = [model.render([{"role": "user", "content": e.input}]) + e.reference for e in pairs]
    return [model.tokenizer(text, return_tensors="pt").input_ids.to(model.device) for text in texts]
