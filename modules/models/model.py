"""A loaded language model with batched, left-padded generation and honest bookkeeping."""

import contextlib
import math
import threading
import time
from collections.abc import Callable, Sequence

import psutil
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase, StoppingCriteria, StoppingCriteriaList

from modules.models import decoding, interrupt, zero_gpu
from modules.models.generation import Generation, GenerationParams
from modules.models.interface import Attention, Capabilities, Prompt, Step, Unsupported, check_top_k
from modules.paths import current_session

MIN_SHARED_PREFIX = 32  # tokens; below this a separate prefix pass costs more than it saves
KV_MEMORY_SHARE = 0.25  # share of free RAM a batch's KV cache may take; keeps room for the rest
# attention() keeps layers x heads x tokens^2 weights: SmolLM2-135M (30 x 9) at 256 tokens is 71 MB in fp32, 4x at 512
ATTENTION_MAX_TOKENS = 256
TOP_LOGPROBS_BATCH = (
    8  # rows per call: logits and scores of every step are kept (8 x 96 steps x 49k vocab x 2 ~ 300 MB)
)


class Model:
    """One model + tokenizer on one device (the model interface, models/interface.py). Shared by every caller, so
    generate() holds a lock."""

    def __init__(
        self,
        spec: str,
        label: str,
        hf: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        lock: "threading.Lock | None" = None,
        activate: Callable[[], None] | None = None,
        soft_prompt: bool = False,
        conversion_s: float = 0.0,
    ):
        """lock + activate: variants that share one network (peft adapters on one host) share its lock, and
        activate() (set_adapter) runs under it before each generation. soft_prompt: hf is a peft prompt-tuning
        model; its virtual tokens go before the input, so no shared-prefix cache (see _soft_prompt_generate).
        conversion_s: how long it took to make this variant from its base (quantization)."""
        self.spec = spec
        self.label = label
        self.hf = hf.eval()
        self.tokenizer = tokenizer
        self.is_seq2seq = bool(hf.config.is_encoder_decoder)
        if not self.is_seq2seq:
            tokenizer.padding_side = "left"  # decoder-only: new tokens must follow the prompt directly
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self._lock = lock or threading.Lock()
        self.activate = activate
        self.soft_prompt = soft_prompt
        self.conversion_s = conversion_s
        self.generated = (0, 0.0)  # (new tokens, seconds) over every batch so far: this machine's measured speed
        self.adapter_host = None  # (peft model, lock) holding this base's LoRA adapters: models/adapters.py
        self.decode_path, self.decode_reason = decoding.choose(self.hf, self.device.type, soft_prompt)
        self.warm_up_s: float | None = None  # compiling the fast path's common shapes at load time

    # ---- facts shown in the model bar and stored with every run
    @property
    def device(self) -> torch.device:
        return next(self.hf.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return next(self.hf.parameters()).dtype

    @property
    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.hf.parameters())

    @property
    def context_length(self) -> int:
        """Longest input the model accepts (encoder side for seq2seq)."""
        config = self.hf.config
        for name in ("max_position_embeddings", "n_positions", "max_seq_len"):
            if getattr(config, name, None):
                return int(getattr(config, name))
        limit = self.tokenizer.model_max_length
        return int(limit) if limit and limit < 1_000_000 else 512  # T5 uses relative positions: 512 trained

    @property
    def has_chat_template(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None))

    @property
    def capabilities(self) -> Capabilities:
        if zero_gpu.active():
            return zero_gpu.CAPABILITIES
        # Attention of decoder-only models on the input's own tokens (a soft prompt's virtual tokens have no text)
        return Capabilities(weights=True, trainable=True, variants=True, live_text=True, stop_in_step=True,
                            top_logprobs=True, attention=not (self.is_seq2seq or self.soft_prompt))  # fmt: skip

    def info(self) -> dict:
        return {
            "spec": self.spec,
            "label": self.label,
            "parameters": self.num_parameters,
            "device": str(self.device),
            "dtype": str(self.dtype).removeprefix("torch."),
            "context_length": self.context_length,
            "chat_template": self.has_chat_template,
            "decode": self.decode_path,
            "decode_reason": self.decode_reason,
            "warm_up_s": self.warm_up_s,
        }

    def warm_up(self, new_tokens: int = 8) -> float:
        """Compile the fast path's common shapes now (batch 1 and the default batch, the longest usual cache) so
        no visitor waits for a compile; seconds taken (0 on the eager path, which has nothing to compile)."""
        if self.decode_path != decoding.COMPILED:
            return 0.0
        started = time.perf_counter()
        tokens = max(min(decoding.WARM_CACHE_LENGTH, self.context_length) - new_tokens - 64, 8)  # 64: template room
        prompt = "warm up " * (tokens // 2)  # ~2 tokens per repeat
        for rows in (1, GenerationParams().batch_size):
            self.generate([prompt] * rows, GenerationParams(max_new_tokens=new_tokens, batch_size=rows))
        self.warm_up_s = time.perf_counter() - started
        return self.warm_up_s

    # ---- prompts
    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def render(self, prompt: Prompt) -> str:
        """The exact text the tokenizer sees: chat template applied when the tokenizer has one."""
        if self.has_chat_template and not self.is_seq2seq:
            messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
            return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        if isinstance(prompt, str):
            return prompt
        return "\n\n".join(m["content"] for m in prompt)

    def _encode(self, text: str, max_new_tokens: int) -> tuple[list[int], list[str]]:
        """Token ids, cut from the left to fit the context; the cut is reported, never raised."""
        ids = self.tokenizer(text, add_special_tokens=not self.has_chat_template)["input_ids"]
        budget = self.context_length if self.is_seq2seq else self.context_length - max_new_tokens
        budget = max(budget, 1)
        if len(ids) <= budget:
            return ids, []
        warning = (
            f"Prompt truncated: it was {len(ids)} tokens, the context is {self.context_length} tokens"
            + ("" if self.is_seq2seq else f" with {max_new_tokens} reserved for the answer")
            + f", so the first {len(ids) - budget} tokens were dropped."
        )
        return ids[-budget:], [warning]

    def max_batch_size(self, tokens_per_row: int, wanted: int) -> int:
        """Rows that fit: the KV cache may use KV_MEMORY_SHARE of free memory."""
        config = self.hf.config.get_text_config()
        layers = getattr(config, "num_hidden_layers", None) or getattr(config, "num_layers", 12)
        hidden = getattr(config, "hidden_size", None) or getattr(config, "d_model", 768)
        heads = getattr(config, "num_attention_heads", None) or getattr(config, "num_heads", 12)
        kv_heads = getattr(config, "num_key_value_heads", None) or heads
        bytes_per_token = 2 * layers * kv_heads * (hidden // heads) * self.dtype.itemsize  # keys + values
        if self.device.type == "cuda":
            free = torch.cuda.mem_get_info(self.device)[0]
        else:
            free = psutil.virtual_memory().available
        fits = int(free * KV_MEMORY_SHARE // (bytes_per_token * max(tokens_per_row, 1)))
        return max(1, min(wanted, fits))

    # ---- generation
    def generate(
        self,
        prompts: Sequence[Prompt],
        params: GenerationParams | None = None,
        on_text: Callable[[dict[int, str]], None] | None = None,
        stop: threading.Event | None = None,
    ) -> list[Generation]:
        """Generate for every prompt, batched; results come back in the order of `prompts`.

        on_text: called after each decoding step with {prompt index: text so far} (for live columns).
        stop: when set, every row ends after the current step (a Stop button); partial texts are returned. Set during
        the prompt's pass (prefill: seconds on a CPU), it ends that pass before its next layer: the batch's rows,
        and any batch after it, come back with no new tokens and empty text.
        """
        params = params or GenerationParams()
        if zero_gpu.active():  # ZeroGPU: the batches run in GPU slots of a worker process
            return zero_gpu.generate(self.spec, current_session(), prompts, params, on_text, stop)
        texts = [self.render(p) for p in prompts]
        encoded = [self._encode(t, params.max_new_tokens) for t in texts]
        # Longest first, so rows of a batch have similar lengths and padding stays small.
        order = sorted(range(len(texts)), key=lambda i: -len(encoded[i][0]))
        results: list[Generation | None] = [None] * len(texts)
        start = 0
        with self._lock:
            if self.activate is not None:
                self.activate()
            while start < len(order):
                longest = len(encoded[order[start]][0]) + params.max_new_tokens
                size = self.max_batch_size(longest, params.batch_size)
                batch = order[start : start + size]
                report = (
                    (lambda texts, rows=batch: on_text({rows[r]: t for r, t in enumerate(texts)})) if on_text else None
                )
                ids = [encoded[i][0] for i in batch]
                generations = decoding.on_decode_thread(
                    self.decode_path, lambda ids=ids, report=report: self._generate_batch(ids, params, report, stop)
                )
                if any(g.new_tokens for g in generations):  # a batch cut in its prefill made nothing to count
                    self._count(generations)
                if report is not None:  # the batch's final texts: live reports are throttled, this one never is
                    report([g.text for g in generations])
                for i, generation in zip(batch, generations):
                    generation.prompt = texts[i]
                    generation.warnings = encoded[i][1]
                    results[i] = generation
                start += size
        return results

    def _count(self, generations: list[Generation]) -> None:
        tokens, seconds = self.generated
        self.generated = (tokens + sum(g.new_tokens for g in generations), seconds + generations[0].latency_s)

    @property
    def measured_tokens_per_s(self) -> float:
        """New tokens per second of wall time over every generate batch so far (all rows count, prefill time
        included), 0 before any generation."""
        tokens, seconds = self.generated
        return tokens / seconds if seconds > 0 else 0.0

    @torch.inference_mode()
    def _generate_batch(
        self, batch_ids: list[list[int]], params: GenerationParams, report=None, stop=None
    ) -> list[Generation]:
        started = time.perf_counter()
        if stop is not None and stop.is_set():  # stopped before this batch began: nothing runs
            return self._cut_batch(batch_ids, params, 0.0)
        # Stop inside the prompt's pass: a check before every layer (model forward pre-hooks), taken off again by
        # StopOnEvent after the first step, so decoding steps run without them (and compiled steps never hold them).
        checks = interrupt.LayerChecks(self.hf, stop).install() if stop is not None else None
        try:
            output, start = self._run_generate(batch_ids, params, report, stop, checks)
        except interrupt.Stopped:
            return self._cut_batch(batch_ids, params, time.perf_counter() - started)
        finally:
            if checks is not None:
                checks.remove()
        latency = time.perf_counter() - started
        # Decoder-only outputs repeat the prompt; seq2seq outputs start with the decoder start token.
        new = output[: len(batch_ids), start:]
        results = []
        for row, ids in zip(new.tolist(), batch_ids):
            generated = _until_eos(row, self._eos_ids())
            results.append(
                Generation(
                    text=self.tokenizer.decode(generated, skip_special_tokens=True).strip(),
                    prompt_tokens=len(ids),
                    new_tokens=len(generated) + (len(generated) < len(row)),  # the eos counts as work
                    latency_s=latency,
                    batch_size=len(batch_ids),
                    params=params.to_dict(),
                    decode=self.decode_path,
                )
            )
        return results

    def _run_generate(self, batch_ids, params, report, stop, checks) -> tuple[torch.Tensor, int]:
        """transformers' generate over one batch: (its output ids, where the new tokens begin in them)."""
        options = _sampling_options(params)
        if params.do_sample:
            torch.manual_seed(params.seed)
        rows = len(batch_ids)
        if self.decode_path == decoding.EAGER:
            inputs = self._inputs_with_shared_prefix(batch_ids)
        else:  # static shapes: the batch padded with copies of its last row to a bucket size (copies dropped below)
            padded = batch_ids + [batch_ids[-1]] * (decoding.batch_bucket(rows) - rows)
            inputs = self.tokenizer.pad({"input_ids": padded}, return_tensors="pt").to(self.device)
            longest = max(len(ids) for ids in batch_ids)
            options |= decoding.generate_options(self.decode_path, longest, params.max_new_tokens)
        # Where new tokens begin in generate's output (soft prompts: generated from embeddings, output is new only).
        start = 1 if self.is_seq2seq else 0 if self.soft_prompt else inputs["input_ids"].shape[1]
        criteria = StoppingCriteriaList()
        if params.stop_strings:
            criteria.append(StopOnText(self.tokenizer, params.stop_strings, start))
        if report is not None:
            criteria.append(ReportText(self.tokenizer, start, lambda texts: report(texts[:rows])))
        if stop is not None:
            criteria.append(StopOnEvent(stop, after_first_step=checks.remove if checks is not None else None))
        options["stopping_criteria"] = criteria
        options |= {"pad_token_id": self.tokenizer.pad_token_id, "eos_token_id": self._eos_ids()}
        if self.soft_prompt:
            return self._soft_prompt_generate(inputs, options), start
        return self.hf.generate(**inputs, **options), start

    def _cut_batch(self, batch_ids: list[list[int]], params: GenerationParams, seconds: float) -> list[Generation]:
        """A batch that Stop ended before its first new token: empty texts, no new tokens (callers that see the
        Stop event set treat it like any stopped batch: the runner drops the chunk, the tabs show Stopped)."""
        return [
            Generation(text="", prompt_tokens=len(ids), new_tokens=0, latency_s=seconds, batch_size=len(batch_ids),
                       params=params.to_dict(), decode=self.decode_path)
            for ids in batch_ids
        ]  # fmt: skip

    def _soft_prompt_generate(self, inputs: dict, options: dict) -> torch.Tensor:
        """[soft prompt; input] embeddings through the base model's own generate. peft's generate misplaces the
        KV cache for soft prompts under transformers 5 (seen here: sensible text for one token, then garbage);
        this way the cache and the positions are the base model's, exact, and left padding works."""
        ids, mask = inputs["input_ids"], inputs["attention_mask"]
        prompt = self.hf.get_prompt(batch_size=ids.shape[0]).to(self.dtype)  # (batch, virtual tokens, hidden)
        embeds = torch.cat([prompt, self.hf.get_input_embeddings()(ids)], dim=1)
        mask = torch.cat([torch.ones(prompt.shape[:2], dtype=mask.dtype, device=mask.device), mask], dim=1)
        return self.hf.base_model.generate(inputs_embeds=embeds, attention_mask=mask, **options)

    def _inputs_with_shared_prefix(self, batch_ids: list[list[int]]) -> dict:
        """Padded inputs; when the rows share a long prefix (few-shot with fixed shots: ~540 of ~640 tokens),
        its keys/values are computed once and copied to every row, so prefill work drops by about B x prefix.

        Layout (batch, prefix + suffix): [shared prefix][left pads][row's own suffix]. The mask has zeros in
        the middle; generate() derives position ids from the mask, so every real token keeps its position.
        """
        shared = _common_prefix_length(batch_ids)
        shared = min(shared, min(len(ids) for ids in batch_ids) - 1)  # each row needs >= 1 uncached token
        if self.is_seq2seq or self.soft_prompt or len(batch_ids) < 2 or shared < MIN_SHARED_PREFIX:
            return self.tokenizer.pad({"input_ids": batch_ids}, return_tensors="pt").to(self.device)
        suffixes = self.tokenizer.pad({"input_ids": [ids[shared:] for ids in batch_ids]}, return_tensors="pt")
        prefix = torch.tensor([batch_ids[0][:shared]])  # (1, shared)
        cache = self.hf(prefix.to(self.device), use_cache=True).cache
        cache.batch_repeat_interleave(len(batch_ids))  # (1, ...) -> (batch, ...) in place
        rows = len(batch_ids)
        input_ids = torch.cat([prefix.expand(rows, -1), suffixes["input_ids"]], dim=1)
        mask = torch.cat([torch.ones(rows, shared, dtype=torch.long), suffixes["attention_mask"]], dim=1)
        return {
            "input_ids": input_ids.to(self.device),
            "attention_mask": mask.to(self.device),
            "cache": cache,
        }

    def _eos_ids(self) -> list[int]:
        eos = self.hf.generation_config.eos_token_id
        ids = list(eos) if isinstance(eos, list) else [eos]
        if self.tokenizer.eos_token_id is not None:
            ids.append(self.tokenizer.eos_token_id)
        return sorted({i for i in ids if i is not None})

    # ---- log-likelihood, log-probabilities, attention
    @torch.inference_mode()
    def perplexity(self, texts: list[str]) -> float:
        """exp(mean negative log-likelihood per predicted token) over all texts, each scored on its own."""
        total_nll, total_tokens = 0.0, 0
        with self._lock:  # adapters on a shared host: this variant's adapter must be the one on
            if self.activate is not None:
                self.activate()
            for text in texts:
                ids = self.tokenizer(text, return_tensors="pt")["input_ids"][:, : self.context_length].to(self.device)
                if ids.shape[1] < 2:
                    continue
                loss = self.hf(input_ids=ids, labels=ids).loss  # mean over the ids.shape[1] - 1 predicted tokens
                total_nll += float(loss) * (ids.shape[1] - 1)
                total_tokens += ids.shape[1] - 1
        if not total_tokens:
            raise ValueError("Perplexity needs at least one text of two or more tokens.")
        return math.exp(total_nll / total_tokens)

    @torch.inference_mode()
    def top_logprobs(
        self, prompts: Sequence[Prompt], params: GenerationParams | None = None, k: int = 5
    ) -> list[list[Step]]:
        """Each prompt generated as `params` say, in padded batches of TOP_LOGPROBS_BATCH and always on the eager path
        (the compiled step returns no logits), with the k most likely tokens at every step from that same call.
        `top` is the model's own distribution: log_softmax of the raw logits (output_logits), before temperature,
        top-k and top-p, so a sampled token may lie outside the k shown (its own logprob is still given);
        `sampled_from` is what generate drew from: its processed scores (output_scores) of the same call."""
        self._require("top_logprobs", "Top log-probabilities")
        check_top_k(k)
        params = params or GenerationParams()
        results = []
        with self._lock:
            if self.activate is not None:
                self.activate()
            encoded = [self._encode(self.render(prompt), params.max_new_tokens)[0] for prompt in prompts]
            for first in range(0, len(encoded), TOP_LOGPROBS_BATCH):
                results += self._top_logprobs_batch(encoded[first : first + TOP_LOGPROBS_BATCH], params, k)
        return results

    @torch.inference_mode()
    def _top_logprobs_batch(self, batch_ids: list[list[int]], params: GenerationParams, k: int) -> list[list[Step]]:
        """One padded generate call with the logits and the processed scores kept; each row's steps run to its eos
        (included) and not into the padding that follows it."""
        inputs = self.tokenizer.pad({"input_ids": batch_ids}, return_tensors="pt").to(self.device)
        options = _sampling_options(params) | {"output_logits": True, "output_scores": True,
            "return_dict_in_generate": True, "pad_token_id": self.tokenizer.pad_token_id,
            "eos_token_id": self._eos_ids()}  # fmt: skip
        start = 1 if self.is_seq2seq else 0 if self.soft_prompt else inputs["input_ids"].shape[1]
        if params.stop_strings:
            options["stopping_criteria"] = StoppingCriteriaList(
                [StopOnText(self.tokenizer, params.stop_strings, start)]
            )
        if params.do_sample:
            torch.manual_seed(params.seed)
        output = (
            self._soft_prompt_generate(inputs, options) if self.soft_prompt else self.hf.generate(**inputs, **options)
        )
        rows = []
        for row, generated in enumerate(output.sequences[:, start:].tolist()):
            kept = len(_until_eos(generated, self._eos_ids()))
            tokens = generated[: kept + (kept < len(generated))]  # the eos step too: its distribution is shown
            logits = [step[row : row + 1] for step in output.logits[: len(tokens)]]
            scores = [step[row : row + 1] for step in output.scores[: len(tokens)]]
            rows.append(self._steps(tokens, logits, scores, k, params))
        return rows

    def _steps(self, tokens: list[int], logits: tuple, scores: tuple, k: int, params: GenerationParams) -> list[Step]:
        steps = []
        temperature = params.temperature if params.do_sample else 1.0
        for token, raw, processed in zip(tokens, logits, scores):  # each (1, vocab), one per new token
            logprobs = torch.log_softmax(raw[0].float(), dim=-1)  # (vocab,)
            drawn = torch.log_softmax(processed[0].float(), dim=-1)  # -inf where a filter removed the token
            kept = torch.isfinite(drawn)
            kept_mass = torch.softmax(raw[0].float() / temperature, dim=-1)[kept].sum()
            steps.append(Step(self._piece(token), float(logprobs[token]), self._top(logprobs, k),
                              self._top(drawn, min(k, int(kept.sum()))), float(kept_mass)))  # fmt: skip
        return steps

    def _top(self, logprobs: torch.Tensor, k: int) -> list[tuple[str, float]]:
        top = torch.topk(logprobs, k)  # sorted, most likely first
        return [(self._piece(i), v) for i, v in zip(top.indices.tolist(), top.values.tolist())]

    @torch.inference_mode()
    def attention(self, prompt: Prompt, answer: str = "", max_tokens: int | None = None) -> Attention:
        """The weights of one forward pass over the rendered prompt followed by `answer` (teacher-forced: the
        answer's rows show what it looked at), with eager attention for this call only: sdpa and flash kernels never
        form the weights. Over ATTENTION_MAX_TOKENS tokens it refuses, unless max_tokens (at most that) is given:
        then the first token and the last max_tokens - 1 are read (the answer and what precedes it) and `cut` says
        how many were dropped between them. The first is kept because models park spare attention on it (an
        attention sink, Xiao et al. 2023): cut, the first token read would take that role and look important."""
        self._require("attention", "Attention weights")
        if not self.tokenizer.is_fast:  # a slow tokenizer has no offset mapping: tokens could not be placed
            raise Unsupported(f"Attention weights are not shown for {self.label}: its tokenizer gives no offsets.")
        text = self.render(prompt) + answer
        encoded = self.tokenizer(text, add_special_tokens=not self.has_chat_template, return_offsets_mapping=True)
        ids, offsets = encoded["input_ids"], [tuple(pair) for pair in encoded["offset_mapping"]]
        cut = len(ids) - self._attention_budget(len(ids), max_tokens)
        if cut:
            ids, offsets = ids[:1] + ids[cut + 1 :], offsets[:1] + offsets[cut + 1 :]
        with self._lock:  # no generation runs while the model is on eager attention
            if self.activate is not None:
                self.activate()
            before = self.hf.config._attn_implementation
            self.hf.set_attn_implementation("eager")
            try:
                output = self.hf(input_ids=torch.tensor([ids], device=self.device), output_attentions=True)
            finally:
                self.hf.set_attn_implementation(before)
        if not output.attentions or output.attentions[0] is None:
            raise Unsupported(f"Attention weights are not available for {self.label}: it returned none.")
        weights = torch.stack([layer[0] for layer in output.attentions]).float().cpu()  # (layers, heads, seq, seq)
        return Attention(text, [self._piece(i) for i in ids], offsets, weights, cut)

    def _attention_budget(self, tokens: int, max_tokens: int | None) -> int:
        """How many of `tokens` to read: all of them, refused over ATTENTION_MAX_TOKENS without max_tokens."""
        if max_tokens is None:
            if tokens > ATTENTION_MAX_TOKENS:
                raise ValueError(
                    f"Attention weights are shown for prompts of up to {ATTENTION_MAX_TOKENS} tokens; this one has "
                    f"{tokens} (the weights grow with the square of the length)."
                )
            return tokens
        if not 1 <= max_tokens <= ATTENTION_MAX_TOKENS:
            raise ValueError(f"max_tokens must be between 1 and {ATTENTION_MAX_TOKENS}, got {max_tokens}.")
        return min(tokens, max_tokens, self.context_length)  # past the context the positions mean nothing

    def _piece(self, token: int) -> str:
        return self.tokenizer.decode([token])

    def _require(self, capability: str, what: str) -> None:
        """Raise Unsupported, naming `what` and why, where this model lacks `capability`."""
        if getattr(self.capabilities, capability):
            return
        if zero_gpu.active():
            why = "on ZeroGPU the GPU is lent for generation only"
        elif self.is_seq2seq:
            why = "it is an encoder-decoder model; they are shown for decoder-only models"
        else:
            why = "its soft prompt's virtual tokens come before the input and have no text"
        raise Unsupported(f"{what} are not available for {self.label}: {why}.")

    # ---- derived variants
    @contextlib.contextmanager
    def active(self):
        """This model's network, held: on a shared adapter host its adapter is the one on until the block ends."""
        with self._lock:
            if self.activate is not None:
                self.activate()
            yield self.hf

    def variant(self, spec: str, label: str, hf: PreTrainedModel, **options) -> "Model":
        """A model made from this one (adapter on, quantized copy): its own or a shared network, this tokenizer.
        The makers (models/adapters.py, models/quantized.py) never modify the base; options as in __init__."""
        return Model(spec, label, hf, self.tokenizer, **options)


class StopOnText(StoppingCriteria):
    """Stops each row once its generated text contains a stop string. Decodes only the last few tokens per
    step (any tokenizer works, unlike transformers' stop_strings, which needs BPE-style token strings)."""

    WINDOW = 16  # tokens; longer than any stop marker we use

    def __init__(self, tokenizer, stops: tuple[str, ...], start: int):
        self.tokenizer, self.stops, self.start = tokenizer, stops, start

    def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
        tails = self.tokenizer.batch_decode(input_ids[:, self.start :][:, -self.WINDOW :], skip_special_tokens=True)
        return torch.tensor([any(s in t for s in self.stops) for t in tails], device=input_ids.device)


class ReportText(StoppingCriteria):
    """Never stops anything: hands each row's text so far to a callback (live output), at most every EVERY_S:
    decoding every row at every step costs a GPU sync and a growing decode per step, while a page shows ~10
    updates a second at best. The first step always reports; generate() reports each batch's final texts."""

    EVERY_S = 0.1

    def __init__(self, tokenizer, start: int, report: Callable[[list[str]], None]):
        self.tokenizer, self.start, self.report, self.last = tokenizer, start, report, None
        self.done = None  # (rows,) bool on the device, made once

    def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
        now = time.perf_counter()
        if self.last is None or now - self.last >= self.EVERY_S:
            self.last = now
            rows = [_until_eos(row, [self.tokenizer.pad_token_id]) for row in input_ids[:, self.start :].tolist()]
            self.report(self.tokenizer.batch_decode(rows, skip_special_tokens=True))
        if self.done is None:
            self.done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        return self.done


class StopOnEvent(StoppingCriteria):
    """Stops every row once the event is set: a Stop button ends generation within one decoding step.
    after_first_step() runs once, after the prefill (model.py takes the per-layer Stop checks off there)."""

    def __init__(self, event: threading.Event, after_first_step: Callable[[], None] | None = None):
        self.event, self.running, self.after_first_step = event, None, after_first_step

    def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
        if self.after_first_step is not None:
            self.after_first_step, after = None, self.after_first_step
            after()
        if self.event.is_set():
            return torch.ones(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        if self.running is None:  # made once: no new device tensor at every step
            self.running = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        return self.running


def _sampling_options(params: GenerationParams) -> dict:
    options = {"max_new_tokens": params.max_new_tokens, "do_sample": params.do_sample}
    if params.do_sample:
        return options | {"temperature": params.temperature, "top_k": params.top_k, "top_p": params.top_p}
    return options | {"temperature": None, "top_k": None, "top_p": None}  # silence sampling defaults


def _common_prefix_length(rows: list[list[int]]) -> int:
    length = 0
    for tokens in zip(*rows):
        if any(token != tokens[0] for token in tokens):
            break
        length += 1
    return length


def _until_eos(row: list[int], eos_ids: list[int]) -> list[int]:
    for position, token in enumerate(row):
        if token in eos_ids:
            return row[:position]
    return row
