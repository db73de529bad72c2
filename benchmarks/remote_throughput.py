"""The remote backend's throughput: the same 16 dialogue-summary examples (zero-shot, greedy) with 1 and with 4
requests in flight against llama-cpp-python's OpenAI-compatible server (the embedded GGUF, started here on a free
port), in one run; prints tokens/s of each and the ratio. llama-cpp-python's server decodes one request at a time,
so more requests in flight can only hide the network and prompt handling; a server with continuous batching
(vLLM, SGLang) is where they pay.

    python benchmarks/remote_throughput.py            # needs: pip install -r requirements-llamacpp.txt
    python benchmarks/remote_throughput.py --base-url http://host:8000/v1 --model NAME   # any other server
    python benchmarks/remote_throughput.py --smoke    # seconds once the server is up: 2 examples, 4 new tokens
"""

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import httpx

from evals.tasks import load_task
from modules.models import GenerationParams, remote
from modules.models.embedded import gguf_path
from modules.techniques import prompting

EXAMPLES = 16
NEW_TOKENS = 48


def start_llama_cpp() -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf_path()), "--model_alias", "smollm2",
               "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
               "--interrupt_requests", "False"]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    for _ in range(240):
        try:
            httpx.get(f"{url}/models", timeout=2)
            return server, url
        except httpx.HTTPError:
            time.sleep(0.5)
    server.kill()
    raise SystemExit("the llama.cpp server did not start")


def throughput(model, prompts, in_flight: int, new_tokens: int = NEW_TOKENS) -> tuple[float, float]:
    """(new tokens per second over the whole batch, seconds)."""
    os.environ["LAB_OPENAI_CONCURRENCY"] = str(in_flight)
    started = time.perf_counter()
    generations = model.generate(prompts, GenerationParams(max_new_tokens=new_tokens))
    seconds = time.perf_counter() - started
    return sum(g.new_tokens for g in generations) / seconds, seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default=None)
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--smoke", action="store_true", help="smallest run: 2 examples, 4 new tokens")
    args = parser.parse_args(argv)
    examples, new_tokens = (2, 4) if args.smoke else (EXAMPLES, NEW_TOKENS)
    server = None
    if args.base_url is None:
        server, args.base_url = start_llama_cpp()
    try:
        model = remote.load(f"{remote.PREFIX}{args.model}@{args.base_url}")
        task = load_task("dialogue-summary")
        prompts = [prompting.build_prompt(model, task, [], example) for example in task.split("test")[:examples]]
        throughput(model, prompts[:2], 2, new_tokens)  # warm-up: the server loads and caches what it needs
        one, one_s = throughput(model, prompts, 1, new_tokens)
        four, four_s = throughput(model, prompts, 4, new_tokens)
        print(f"{model.label}: {examples} examples, {new_tokens} new tokens at most, greedy")
        print(f"1 in flight: {one:.1f} tok/s ({one_s:.1f} s); 4 in flight: {four:.1f} tok/s ({four_s:.1f} s); "
              f"ratio {four / one:.2f}x")  # fmt: skip
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
