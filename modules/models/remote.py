"""A model served over the OpenAI-compatible HTTP API (vLLM, SGLang, llama.cpp) as the shared model: 'openai:<model>'.

The server is LAB_OPENAI_BASE_URL (e.g. http://127.0.0.1:8000/v1), or named in the spec: 'openai:<model>@<url>'. The
API key is read from LAB_OPENAI_API_KEY (or OPENAI_API_KEY) when a request is sent, and nowhere else: it is never
part of a spec, a label, a stored run, an export or an error message; nor is a user:password@ in the URL (labels,
info and messages show the URL without it; a server's own words pass through modules/redaction.py). Requests run
concurrently, at most LAB_OPENAI_CONCURRENCY (default 4) in flight, so a server with continuous batching batches
them; each streams, so live columns fill and a Stop closes the requests in flight. Retries with backoff on 429 and
5xx; clear errors for a server that is down, a wrong model name, a refused key and a prompt over the context.
"""

import json
import math
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import NoReturn
from urllib.parse import urlparse

import httpx

from modules import limits
from modules.models.errors import ModelLoadError
from modules.models.generation import Generation, GenerationParams
from modules.models.interface import Capabilities, Step, Unsupported, check_top_k
from modules.paths import per_session
from modules.redaction import redact, url_without_credentials

PREFIX = "openai:"
URL_MARK = "@"
RETRIES = 3  # attempts for a 429 / 5xx / dropped connection; waits 0.5 s, then 1 s
BACKOFF_S = 0.5
RETRY_STATUS = (429, 500, 502, 503, 504)
CHARS_PER_TOKEN = 4  # a rough count where the server has no tokenizer endpoint (only for "does it fit?" checks)


def is_remote_spec(base: str) -> bool:
    return base.startswith(PREFIX)


def concurrency() -> int:
    return limits.openai_concurrency()


def endpoint(base: str) -> tuple[str, str]:
    """'openai:<model>[@<url>]' -> (model name, base URL), checked."""
    model, _, url = base.removeprefix(PREFIX).partition(URL_MARK)
    model, url = model.strip(), (url.strip() or limits.openai_base_url()).rstrip("/")
    if not model:
        raise ModelLoadError(f"'{redact(base)[:80]}' names no model: use openai:<model name as the server knows it>.")
    if not url:
        raise ModelLoadError(
            f"No server for '{PREFIX}{model[:60]}': set LAB_OPENAI_BASE_URL (e.g. http://127.0.0.1:8000/v1), "
            "fill the model bar's server field, or pass --base-url on the command line."
        )
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ModelLoadError(
            f"The server address must be an http(s) URL such as http://host:8000/v1, got '{redact(url)[:80]}'."
        )
    if per_session() and url != limits.openai_base_url() and not limits.allow_remote_urls():
        raise ModelLoadError("This deployment does not let visitors name servers; it uses the one it is set up with.")
    return model, url


def _headers() -> dict:
    keys = limits.api_keys()
    return {"Authorization": f"Bearer {keys[0]}"} if keys else {}


def _timeout() -> httpx.Timeout:
    return httpx.Timeout(limits.openai_timeout_s(), connect=5.0)


def load(base: str) -> "RemoteModel":
    """Check the server answers and knows the model (GET /models) before anything is sent to it."""
    model, url = endpoint(base)
    listed = _request("GET", f"{url}/models", url)
    names = [entry.get("id") for entry in listed.get("data", [])]
    if names and model not in names:
        raise ModelLoadError(
            redact(f"The server at {url} does not serve '{model[:60]}'; it serves: {', '.join(map(str, names[:10]))}.")
        )
    card = next((entry for entry in listed.get("data", []) if entry.get("id") == model), {})
    context = card.get("max_model_len") or (card.get("meta") or {}).get("n_ctx_train")
    return RemoteModel(base, model, url, limits.openai_context() or int(context or 4096))


def _request(method: str, address: str, server: str, body: dict | None = None) -> dict:
    """One JSON request with retries; errors say what went wrong in words (never the key or URL credentials)."""
    server = url_without_credentials(server)
    for attempt in range(RETRIES):
        try:
            response = httpx.request(method, address, json=body, headers=_headers(), timeout=_timeout())
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            if attempt == RETRIES - 1:
                message = f"Cannot reach the server at {server}: {type(error).__name__}. Is it running?"
                raise ModelLoadError(message) from None
        except httpx.TimeoutException:
            if attempt == RETRIES - 1:
                raise ValueError(f"The server at {server} did not answer within {_timeout().read:.0f} s.") from None
        else:
            if response.status_code not in RETRY_STATUS or attempt == RETRIES - 1:
                if response.status_code >= 400:
                    raise _error(response, server)
                return response.json()
        time.sleep(BACKOFF_S * 2**attempt)
    raise AssertionError("unreachable")


def _error(response: httpx.Response, server: str) -> Exception:
    """A user message for an HTTP error: refused key, unknown model, prompt too long, or the server's own words (which
    may echo the request's headers: redacted)."""
    server = url_without_credentials(server)
    try:
        detail = response.json()
        detail = detail.get("error", detail) if isinstance(detail, dict) else detail
        detail = detail.get("message", detail) if isinstance(detail, dict) else detail
    except ValueError:
        detail = response.text
    detail = redact(" ".join(str(detail).split()))[:300]
    if response.status_code in (401, 403):
        return ModelLoadError(
            f"The server at {server} refused the request ({response.status_code}): set a valid key in "
            "LAB_OPENAI_API_KEY."
        )
    if response.status_code == 404:
        return ModelLoadError(f"The server at {server} does not know this model or path (404): {detail}")
    if "context" in detail.lower() or "too long" in detail.lower() or "exceed" in detail.lower():
        return ValueError(f"The prompt is over this server's context length: {detail}")
    return ValueError(f"The server at {server} answered {response.status_code}: {detail}")


class RemoteModel:
    """The model interface (models/interface.py) served by an OpenAI-compatible server. Its weights are not here:
    no training, no variants, no attention weights; top log-probabilities where the server returns them."""

    capabilities = Capabilities(weights=False, trainable=False, variants=False, live_text=True, stop_in_step=True,
                                top_logprobs=True, attention=False)  # fmt: skip
    is_seq2seq = False
    has_chat_template = True  # the chat endpoint applies the server's template
    soft_prompt = False
    decode_path = "server"

    def __init__(self, spec: str, model: str, url: str, context_length: int):
        self.spec, self.model, self.url, self.context_length = spec, model, url, context_length
        self.shown = url_without_credentials(url)  # self.url may hold user:password@; only this one is ever shown
        self.label = redact(f"{model} at {urlparse(self.shown).netloc} (OpenAI-compatible server)")
        self.generated = (0, 0.0)

    def info(self) -> dict:
        return {"spec": redact(self.spec), "label": self.label, "parameters": None, "device": f"remote: {self.shown}",
                "dtype": "the server's", "context_length": self.context_length, "chat_template": True,
                "decode": self.decode_path, "decode_reason": "the server decodes", "warm_up_s": None,
                "concurrency": concurrency()}  # fmt: skip

    @property
    def measured_tokens_per_s(self) -> float:
        tokens, seconds = self.generated
        return tokens / seconds if seconds > 0 else 0.0

    def render(self, prompt) -> str:
        """The exact messages sent, as text for the trace."""
        messages = _messages(prompt)
        return "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in messages)

    def count_tokens(self, text: str) -> int:
        return math.ceil(len(text) / CHARS_PER_TOKEN)

    def generate(
        self,
        prompts: Sequence,
        params: GenerationParams | None = None,
        on_text: Callable[[dict[int, str]], None] | None = None,
        stop: threading.Event | None = None,
    ) -> list[Generation]:
        """Every prompt as its own streamed request, at most concurrency() in flight; results in prompt order.
        A failed request stops the others and raises; Stop ends every stream after its current chunk."""
        params = params or GenerationParams()
        failed = threading.Event()
        texts: dict[int, str] = {}
        lock = threading.Lock()

        def report(index: int, text: str) -> None:
            if on_text is not None:
                with lock:
                    texts[index] = text
                    on_text(dict(texts))

        def one(index: int) -> Generation:
            ended = (stop, failed)
            try:
                return self._stream(index, prompts[index], params, ended, report)
            except BaseException:
                failed.set()
                raise

        def several(start: int, count: int) -> list[Generation]:
            try:
                return self._several(start, prompts[start], count, params, (stop, failed), report)
            except BaseException:
                failed.set()
                raise

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=concurrency(), thread_name_prefix="lab-remote") as pool:
            futures = [pool.submit(several, start, count) if count > 1 else pool.submit(one, start)
                       for start, count in _samples_of_one_prompt(prompts, params)]  # fmt: skip
            generations = [g for future in futures for g in _as_list(future.result())]
        tokens, seconds = self.generated
        self.generated = (tokens + sum(g.new_tokens for g in generations), seconds + time.perf_counter() - started)
        return generations

    def _body(self, prompt, params: GenerationParams, seed: int) -> dict:
        body = {"model": self.model, "messages": _messages(prompt), "max_tokens": params.max_new_tokens,
                "seed": seed, "temperature": params.temperature if params.do_sample else 0.0,
                "top_p": params.top_p if params.do_sample else 1.0}  # fmt: skip
        if params.do_sample and params.top_k:
            body["top_k"] = params.top_k  # not in OpenAI's API; vLLM, SGLang and llama.cpp accept it
        if params.stop_strings:
            body["stop"] = list(params.stop_strings)
        return body

    def _several(self, start: int, prompt, count: int, params: GenerationParams, ended, report) -> list[Generation]:
        """`count` samples of one prompt (self-consistency's paths) as one request with the server's `n`; a server
        that returns fewer (llama-cpp-python ignores n) gets the rest as single requests, one seed each."""
        if any(event is not None and event.is_set() for event in ended):  # Stop before the request: nothing asked
            stopped = Generation(
                "",
                0,
                0,
                0.0,
                prompt=self.render(prompt),
                params=params.to_dict(),
                warnings=["Stopped before this prompt was generated."],
                decode=self.decode_path,
            )
            return [stopped] * count
        body = self._body(prompt, params, params.seed + start) | {"n": count}
        started = time.perf_counter()
        answer = _request("POST", f"{self.url}/chat/completions", self.url, body)
        latency = time.perf_counter() - started
        choices = sorted(answer.get("choices") or [], key=lambda choice: choice.get("index", 0))[:count]
        texts = [(choice.get("message") or {}).get("content") or "" for choice in choices]
        usage = answer.get("usage") or {}
        total, characters = usage.get("completion_tokens"), sum(len(text) for text in texts) or 1
        results = []
        for offset, text in enumerate(texts):
            # The server counts tokens for all n together: each path gets its share by length (exact for one).
            tokens = round(total * len(text) / characters) if total else self.count_tokens(text)
            results.append(Generation(
                text=text.strip(), prompt_tokens=usage.get("prompt_tokens") or self.count_tokens(self.render(prompt)),
                new_tokens=tokens, latency_s=latency, batch_size=len(texts), prompt=self.render(prompt),
                params=params.to_dict(), decode=self.decode_path,
            ))  # fmt: skip
            report(start + offset, text)
        for offset in range(len(results), count):
            results.append(self._stream(start + offset, prompt, params, ended, report))
        return results

    def _stream(self, index: int, prompt, params: GenerationParams, ended, report) -> Generation:
        body = self._body(prompt, params, params.seed + index) | {
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        for attempt in range(RETRIES):
            started = time.perf_counter()
            try:
                with httpx.stream("POST", f"{self.url}/chat/completions", json=body, headers=_headers(),
                                  timeout=_timeout()) as response:  # fmt: skip
                    if response.status_code in RETRY_STATUS and attempt < RETRIES - 1:
                        time.sleep(BACKOFF_S * 2**attempt)
                        continue
                    if response.status_code >= 400:
                        response.read()
                        raise _error(response, self.url)
                    text, chunks, usage, answered = self._read(response, index, ended, report)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError, httpx.ReadError) as error:
                if attempt == RETRIES - 1 or any(event is not None and event.is_set() for event in ended):
                    raise ValueError(f"Lost the server at {self.shown} ({type(error).__name__}).") from None
                time.sleep(BACKOFF_S * 2**attempt)
                continue
            except httpx.TimeoutException:
                raise ValueError(f"The server at {self.shown} did not answer within {_timeout().read:.0f} s.") from None
            if not answered and not any(event is not None and event.is_set() for event in ended):
                # An empty stream: some servers (llama-cpp-python) fail a streamed request silently, e.g. a prompt
                # over the context; asked again without streaming, they say why (or answer).
                answer = _request("POST", f"{self.url}/chat/completions", self.url, body | {"stream": False})
                text = ((answer.get("choices") or [{}])[0].get("message") or {}).get("content") or ""
                usage, chunks = answer.get("usage"), 0
            return Generation(
                text=text.strip(),
                prompt_tokens=(usage or {}).get("prompt_tokens") or self.count_tokens(self.render(prompt)),
                new_tokens=(usage or {}).get("completion_tokens") or chunks,  # a chunk is one token on these servers
                latency_s=time.perf_counter() - started,
                prompt=self.render(prompt),
                params=params.to_dict(),
                decode=self.decode_path,
            )
        raise ValueError(f"The server at {self.shown} kept answering with errors after {RETRIES} attempts.")

    @staticmethod
    def _read(response: httpx.Response, index: int, ended, report) -> tuple[str, int, dict | None, bool]:
        """(text, content chunks, usage, whether any data came) of a streamed answer; stops reading once Stop is
        pressed; an error sent inside the stream is raised."""
        text, chunks, usage, answered = "", 0, None, False
        for line in response.iter_lines():
            if any(event is not None and event.is_set() for event in ended):
                break  # leaving the `with` closes the connection: the server cancels the request
            if not line.startswith("data:"):
                continue
            data = line.removeprefix("data:").strip()
            if data == "[DONE]":
                break
            chunk, answered = json.loads(data), True
            if chunk.get("error"):
                error = chunk["error"]
                raise ValueError(f"The server stopped with an error: {redact(error.get('message', error))[:300]}")
            usage = chunk.get("usage") or usage
            for choice in chunk.get("choices") or []:
                piece = (choice.get("delta") or {}).get("content") or ""
                if piece:
                    text, chunks = text + piece, chunks + 1
                    report(index, text)
        return text, chunks, usage, answered

    def perplexity(self, texts: list[str]) -> float:
        """exp(mean negative log-likelihood per token) from the server's prompt log-probabilities (/completions with
        echo + logprobs); servers that do not return them get a clear message. Only as right as the server's numbers:
        llama-cpp-python 0.3.36 scores each prompt token with the distribution after it (seen here: ' cant' -> 'een'
        at -16.3 while ',' is its top token), so its perplexity is far too high; vLLM's prompt logprobs are aligned."""
        total, count = 0.0, 0
        for text in texts:
            body = {"model": self.model, "prompt": text, "max_tokens": 1, "echo": True, "logprobs": 1,
                    "temperature": 0.0}  # fmt: skip
            answer = _request("POST", f"{self.url}/completions", self.url, body)
            scored = (answer.get("choices") or [{}])[0].get("logprobs") or {}
            logprobs, offsets = scored.get("token_logprobs"), scored.get("text_offset")
            if not logprobs:
                raise ValueError(
                    "Perplexity is not available from this server: it returns no prompt log-probabilities."
                )
            # Prompt tokens only (the answer's token may follow them), told by where each starts; the first has none.
            prompt = [v for v, at in zip(logprobs, offsets) if at < len(text)] if offsets else logprobs[:-1]
            values = [v for v in prompt if v is not None]
            total, count = total - sum(values), count + len(values)
        if not count:
            raise ValueError("Perplexity needs at least one text of two or more tokens.")
        return math.exp(total / count)

    def top_logprobs(self, prompts: Sequence, params: GenerationParams | None = None, k: int = 5) -> list[list[Step]]:
        """Each prompt as one request asking for `logprobs` and `top_logprobs` (OpenAI's chat API), one after another.
        The numbers are the server's: which distribution they describe (before or after its sampling settings) is
        its own; a server that returns none gets a clear message."""
        check_top_k(k)
        params = params or GenerationParams()
        return [self._steps(prompt, params, params.seed + index, k) for index, prompt in enumerate(prompts)]

    def _steps(self, prompt, params: GenerationParams, seed: int, k: int) -> list[Step]:
        body = self._body(prompt, params, seed) | {"logprobs": True, "top_logprobs": k}
        answer = _request("POST", f"{self.url}/chat/completions", self.url, body)
        scored = (answer.get("choices") or [{}])[0].get("logprobs")
        if not isinstance(scored, dict) or not isinstance(scored.get("content"), list):
            raise Unsupported(
                f"Top log-probabilities are not available from the server at {self.shown}: it returns none."
            )
        steps = []
        for entry in scored["content"]:  # one per generated token: {token, logprob, top_logprobs: [{token, logprob}]}
            top = sorted(((a.get("token", ""), float(a["logprob"])) for a in entry.get("top_logprobs") or []),
                         key=lambda pair: -pair[1])  # fmt: skip
            steps.append(Step(entry.get("token", ""), float(entry["logprob"]), top[:k]))
        return steps

    def attention(self, prompt, answer: str = "", max_tokens: int | None = None) -> NoReturn:
        raise Unsupported(
            f"Attention weights are not available for {self.label}: a server does not return attention weights (the "
            "OpenAI-compatible API has no field for them). Load a local model, e.g. smollm2-135m, to see them."
        )


def _samples_of_one_prompt(prompts: Sequence, params: GenerationParams) -> list[tuple[int, int]]:
    """(start, count) runs of the same prompt asked again while sampling (self-consistency's paths), each of which
    can be one request with `n`; every other prompt is its own run of 1."""
    runs: list[tuple[int, int]] = []
    for index, prompt in enumerate(prompts):
        if params.do_sample and runs and prompts[runs[-1][0]] == prompt:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((index, 1))
    return runs


def _as_list(result) -> list[Generation]:
    return result if isinstance(result, list) else [result]


def _messages(prompt) -> list[dict]:
    return [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)
