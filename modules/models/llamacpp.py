"""Optional backend: the embedded model's original Q4_1 GGUF file run by llama.cpp (llama-cpp-python).

Never required: `pip install -r requirements-llamacpp.txt` builds llama.cpp from source (~8 minutes on 2 cores).
It is a different engine, not a transformers model, so it appears where a number can be compared honestly
(speed, file size, perplexity, one prompt side by side) and not in the runner's task scores.
"""

import atexit
import functools
import math
import os
import time

from modules.models.embedded import gguf_path

INSTALL = "pip install -r requirements-llamacpp.txt (builds llama.cpp from source, ~8 minutes on 2 cores)"
LABEL = "SmolLM2-135M-Instruct Q4_1 GGUF (llama.cpp, the original file)"


def unavailable_reason() -> str | None:
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        return f"llama.cpp is an optional extra and is not installed: {INSTALL}"
    return None


@functools.cache
def load():
    """The one llama.cpp instance of the embedded GGUF (logits kept for every token, for perplexity)."""
    from llama_cpp import Llama

    llm = Llama(model_path=str(gguf_path()), n_ctx=2048, n_threads=os.cpu_count(), logits_all=True, verbose=False)
    atexit.register(llm.close)  # its destructor fails if it first runs during interpreter shutdown
    return llm


def file_mb() -> float:
    return gguf_path().stat().st_size / 2**20


def chat(messages: list[dict], max_new_tokens: int) -> tuple[str, int, float]:
    """(text, new tokens, seconds) for one greedy chat completion."""
    llm = load()
    started = time.perf_counter()
    reply = llm.create_chat_completion(messages=messages, max_tokens=max_new_tokens, temperature=0.0, top_k=1)
    seconds = time.perf_counter() - started
    return reply["choices"][0]["message"]["content"].strip(), reply["usage"]["completion_tokens"], seconds


def decode_speed(new_tokens: int = 32) -> float:
    """Tokens/s at batch 1 for the prompt measure.decode_speed uses, prefill included as there, every token forced."""
    from modules.measure import SPEED_PROMPT

    llm = load()
    prompt = llm.tokenize(SPEED_PROMPT.encode())
    llm.reset()
    llm.eval(prompt[:2])  # warm-up
    llm.reset()
    started = time.perf_counter()
    llm.eval(prompt)
    for _ in range(new_tokens):
        token = llm.sample(temp=0.0, top_k=1)
        llm.eval([token])
    return new_tokens / (time.perf_counter() - started)


def perplexity(texts: list[str]) -> float:
    """exp(mean negative log-likelihood per predicted token), each text scored on its own, like measure.perplexity."""
    import numpy as np

    llm = load()
    total_nll, total_tokens = 0.0, 0
    for text in texts:
        tokens = llm.tokenize(text.encode(), add_bos=False)
        if len(tokens) < 2:
            continue
        llm.reset()
        llm.eval(tokens)
        logits = np.asarray(llm.scores[: len(tokens) - 1], dtype=np.float64)  # (tokens - 1, vocab)
        log_norm = np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1)) + logits.max(1)
        total_nll += float((log_norm - logits[np.arange(len(tokens) - 1), tokens[1:]]).sum())
        total_tokens += len(tokens) - 1
    return math.exp(total_nll / total_tokens)
