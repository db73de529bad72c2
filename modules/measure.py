"""Measurements that are not task scores: perplexity, decode speed, agreement with a reference, peak memory."""

import statistics
import threading
import time

import psutil
import torch

from evals import metrics
from modules.models import Model
from modules.models.interface import LanguageModel

SPEED_PROMPT = "Write a short story about a lighthouse keeper who finds a message in a bottle."


def perplexity(model: LanguageModel, texts: list[str]) -> float:
    """exp(mean negative log-likelihood per predicted token) over all texts, each scored on its own: the model's own
    (local: its loss; a server: its prompt log-probabilities, where it returns them)."""
    return model.perplexity(texts)


@torch.inference_mode()
def decode_speeds(model: Model, batch_size: int, new_tokens: int = 32, repeats: int = 3) -> list[float]:
    """Generated tokens per second (all rows) of each of `repeats` timed runs after a warm-up; greedy, every row
    forced to exactly `new_tokens` tokens."""
    text = model.render([{"role": "user", "content": SPEED_PROMPT}])
    inputs = model.tokenizer([text] * batch_size, return_tensors="pt").to(model.device)
    options = {"max_new_tokens": new_tokens, "min_new_tokens": new_tokens, "do_sample": False, "top_k": None,
               "pad_token_id": model.tokenizer.pad_token_id, "temperature": None, "top_p": None}  # fmt: skip
    model.hf.generate(**inputs, **(options | {"max_new_tokens": 2, "min_new_tokens": 2}))  # warm-up
    speeds = []
    for _ in range(repeats):
        started = time.perf_counter()
        model.hf.generate(**inputs, **options)
        speeds.append(batch_size * new_tokens / (time.perf_counter() - started))
    return speeds


def decode_speed(model: Model, batch_size: int, new_tokens: int = 32, repeats: int = 1) -> float:
    """The median of decode_speeds: a shared machine's noise moves single runs, the median less."""
    return float(statistics.median(decode_speeds(model, batch_size, new_tokens, repeats)))


def spread(speeds: list[float]) -> str:
    """'low-high' of repeated measurements, shown next to their median."""
    return f"{min(speeds):.1f}-{max(speeds):.1f}"


def agreement(outputs: list[str], reference_outputs: list[str]) -> dict:
    """Share of outputs identical to the reference model's, and mean ROUGE-L of each against its counterpart."""
    if len(outputs) != len(reference_outputs) or not outputs:
        raise ValueError("agreement needs the same, non-empty list of examples for both models.")
    identical = sum(a.strip() == b.strip() for a, b in zip(outputs, reference_outputs)) / len(outputs)
    rouge = metrics.score(["rouge"], outputs, reference_outputs, [None] * len(outputs))["rougeL"]
    return {"identical": identical, "rougeL_vs_reference": sum(rouge) / len(rouge)}


class MemoryWatch:
    """Peak extra memory while some work runs (training, a runner system): CUDA's own counter, or the process RSS
    sampled every 50 ms on CPU."""

    def __init__(self, device: torch.device):
        self.device, self.peak, self.done = device, 0, threading.Event()
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
            self.start = torch.cuda.memory_allocated(device)
        else:
            self.start = self.peak = psutil.Process().memory_info().rss
            self.thread = threading.Thread(target=self._sample, daemon=True)
            self.thread.start()

    def _sample(self):
        process = psutil.Process()
        while not self.done.wait(0.05):
            self.peak = max(self.peak, process.memory_info().rss)

    def stop(self) -> float:
        """Peak extra memory in MB."""
        if self.device.type == "cuda":
            return (torch.cuda.max_memory_allocated(self.device) - self.start) / 2**20
        self.done.set()
        self.thread.join()
        return max(self.peak - self.start, 0) / 2**20
