"""The model interface: local and remote models implement it, capabilities replace backend checks, top-k
log-probabilities per step (local: from the same generate call; remote: OpenAI's logprobs fields) and attention."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch

from modules import measure
from modules.models import (
    GenerationParams,
    LanguageModel,
    Model,
    Unsupported,
    decoding,
    get_model,
    quantized,
    remote,
    zero_gpu,
)
from modules.training import finetune

PROMPT = "the cat sat on the mat"
GREEDY = GenerationParams(max_new_tokens=6)
# A canned OpenAI chat answer with logprobs (alternatives deliberately not sorted, one more than asked for).
ANSWER = {
    "choices": [{"index": 0, "message": {"content": "Hi there"}, "logprobs": {"content": [
        {"token": "Hi", "logprob": -0.1, "top_logprobs": [
            {"token": "Hello", "logprob": -2.5}, {"token": "Hi", "logprob": -0.1}, {"token": "Hey", "logprob": -3.0}]},
        {"token": " there", "logprob": -0.5, "top_logprobs": [
            {"token": " there", "logprob": -0.5}, {"token": "!", "logprob": -1.5}]},
    ]}}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 2},
}  # fmt: skip


class FakeOpenAI(BaseHTTPRequestHandler):
    """Answers every chat request with ANSWER (or, for a prompt containing NOLOGPROBS, without logprobs); keeps
    the request bodies."""

    bodies: list[dict] = []

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        FakeOpenAI.bodies.append(body)
        answer = ANSWER
        if "NOLOGPROBS" in json.dumps(body["messages"]):
            answer = {"choices": [{"index": 0, "message": {"content": "ok"}}], "usage": {}}
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(scope="module")
def server_model():
    """A RemoteModel on the fake server, made directly (no GET /models check)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeOpenAI)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    yield remote.RemoteModel(f"openai:fake@{url}", "fake", url, 4096)
    server.shutdown()
    server.server_close()


def test_local_and_remote_models_implement_the_interface(tiny_model, server_model):
    assert isinstance(tiny_model, LanguageModel) and isinstance(server_model, LanguageModel)
    local, served = tiny_model.capabilities, server_model.capabilities
    assert local.weights and local.trainable and local.variants and local.top_logprobs and local.attention
    assert not (served.weights or served.trainable or served.variants or served.attention) and served.top_logprobs


def test_callers_ask_for_capabilities(server_model):
    """The checks that used to branch on the backend keep their messages."""
    with pytest.raises(ValueError, match="Fine-tuning needs a local model"):
        finetune.prepare(server_model, finetune.Config())
    with pytest.raises(ValueError, match="Quantization needs a local model"):
        quantized.build(server_model, quantized.parse("int8"))


def test_greedy_tokens_are_the_top_of_each_step_and_the_text_is_generates(tiny_model):
    steps = tiny_model.top_logprobs([PROMPT], GREEDY, k=5)[0]
    assert 1 <= len(steps) <= GREEDY.max_new_tokens
    for step in steps:
        values = [logprob for _, logprob in step.top]
        assert len(step.top) == 5 and values == sorted(values, reverse=True) and all(v <= 0 for v in values)
        assert step.top[0] == (step.token, pytest.approx(step.logprob))
    words = [step.token for step in steps if step.token != tiny_model.tokenizer.eos_token]
    assert " ".join(words) == tiny_model.generate([PROMPT], GREEDY)[0].text  # word-level tokenizer: words


def test_the_distribution_is_the_models_own_before_sampling_settings(tiny_model):
    """Step 1's log-probabilities are log_softmax of a plain forward pass's last logits (sum of exp over the whole
    vocabulary is 1), whatever the temperature: raw logits, not the processed sampling scores."""
    ids = tiny_model.tokenizer(tiny_model.render(PROMPT), add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        full = torch.log_softmax(tiny_model.hf(input_ids=ids).logits[0, -1].float(), dim=-1)  # (vocab,)
    assert float(full.exp().sum()) == pytest.approx(1.0, abs=1e-5)
    expected = torch.topk(full, 5).values.tolist()
    hot = GenerationParams(max_new_tokens=2, do_sample=True, temperature=0.3, top_k=3, seed=1)
    for params in (GREEDY, hot):
        first = tiny_model.top_logprobs([PROMPT], params, k=5)[0][0]
        assert [v for _, v in first.top] == pytest.approx(expected, abs=1e-4)


def test_the_drawn_from_distribution_is_transformers_own_filters_of_the_same_call(tiny_model):
    """sampled_from equals softmax(logits / T) after transformers' TopK and TopP warpers applied to the raw logits of
    the same step, kept_mass is the share of softmax(logits / T) they left, and every drawn token was in it."""
    from transformers import LogitsProcessorList, TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

    params = GenerationParams(max_new_tokens=6, do_sample=True, temperature=0.7, top_k=8, top_p=0.8, seed=3)
    warpers = LogitsProcessorList([TemperatureLogitsWarper(0.7), TopKLogitsWarper(8), TopPLogitsWarper(0.8)])
    ids = tiny_model.tokenizer(tiny_model.render(PROMPT), add_special_tokens=False, return_tensors="pt")["input_ids"]
    steps = tiny_model.top_logprobs([PROMPT], params, k=20)[0]
    assert steps
    for step in steps:
        with torch.inference_mode():
            raw = tiny_model.hf(input_ids=ids).logits[:, -1].float()  # (1, vocab): the step's own forward pass
        expected = torch.log_softmax(warpers(ids, raw.clone())[0], dim=-1)
        kept = torch.isfinite(expected)
        assert len(step.sampled_from) == min(20, int(kept.sum())) <= 8
        assert [v for _, v in step.sampled_from] == pytest.approx(
            torch.topk(expected, len(step.sampled_from)).values.tolist(), abs=1e-4
        )
        assert step.kept_mass == pytest.approx(float(torch.softmax(raw[0] / 0.7, -1)[kept].sum()), abs=1e-4)
        assert step.token in [token for token, _ in step.sampled_from]  # drawn from what the filters kept
        next_id = tiny_model.tokenizer.convert_tokens_to_ids(step.token)
        ids = torch.cat([ids, torch.tensor([[next_id]])], dim=1)
    greedy = tiny_model.top_logprobs([PROMPT], GREEDY, k=3)[0][0]
    assert greedy.kept_mass == pytest.approx(1.0) and greedy.sampled_from == greedy.top  # no filters when greedy


def test_prompts_of_different_lengths_in_one_batch_give_each_its_own_steps(tiny_model):
    """One padded call for several prompts: each row's steps are those it gets alone, ending at its own eos."""
    prompts = [PROMPT, "the dog ran to the park and the cat sat", "cat"]
    together = tiny_model.top_logprobs(prompts, GREEDY, k=3)
    for prompt, steps in zip(prompts, together):
        (alone,) = tiny_model.top_logprobs([prompt], GREEDY, k=3)
        assert [s.token for s in steps] == [s.token for s in alone]
        assert [s.logprob for s in steps] == pytest.approx([s.logprob for s in alone], abs=1e-3)


def test_a_model_on_the_static_cache_path_answers_eagerly_for_that_call(tiny_model, monkeypatch):
    monkeypatch.setenv("LAB_DECODE", "static")
    static = Model(f"{tiny_model.spec}-static", tiny_model.label, tiny_model.hf, tiny_model.tokenizer)
    assert static.decode_path == decoding.STATIC
    expected = tiny_model.top_logprobs([PROMPT], GREEDY, k=3)
    assert static.top_logprobs([PROMPT], GREEDY, k=3) == expected


def test_attention_weights_for_one_prompt_then_the_model_is_as_before(tiny_model):
    before_text = tiny_model.generate([PROMPT], GREEDY)[0].text
    before = tiny_model.hf.config._attn_implementation
    seen = tiny_model.attention(PROMPT)
    tokens, weights = seen.tokens, seen.weights
    config = tiny_model.hf.config
    assert weights.shape == (config.num_hidden_layers, config.num_attention_heads, len(tokens), len(tokens))
    assert torch.allclose(weights.sum(-1), torch.ones(weights.shape[:-1]), atol=1e-5)  # each row a distribution
    assert float(weights.triu(diagonal=1).abs().max()) == 0.0  # causal: nothing attends to a later token
    assert "cat" in tokens and seen.cut == 0
    assert [seen.text[start:end] for start, end in seen.offsets] == tokens  # each token's characters in the text
    assert tiny_model.hf.config._attn_implementation == before
    assert tiny_model.generate([PROMPT], GREEDY)[0].text == before_text


def test_attention_refuses_a_long_prompt_clearly(tiny_model):
    with pytest.raises(ValueError, match="up to 256 tokens"):
        tiny_model.attention("cat " * 300)
    with pytest.raises(ValueError, match="max_tokens must be between 1 and 256"):
        tiny_model.attention("cat", max_tokens=300)  # asking for more weights than the cap is refused too


def test_remote_top_logprobs_are_parsed_from_openais_fields(server_model):
    FakeOpenAI.bodies.clear()
    steps = server_model.top_logprobs(["Say hi"], GREEDY, k=2)[0]
    assert FakeOpenAI.bodies[-1]["logprobs"] is True and FakeOpenAI.bodies[-1]["top_logprobs"] == 2
    assert [(s.token, s.logprob) for s in steps] == [("Hi", -0.1), (" there", -0.5)]
    assert steps[0].top == [("Hi", -0.1), ("Hello", -2.5)]  # most likely first, k of them


def test_a_missing_capability_raises_a_clear_error(server_model, tiny_model, monkeypatch):
    with pytest.raises(Unsupported, match="Top log-probabilities are not available from the server"):
        server_model.top_logprobs(["NOLOGPROBS"], GREEDY)
    with pytest.raises(Unsupported, match="Attention weights are not available"):
        server_model.attention(PROMPT)
    with pytest.raises(ValueError, match="between 1 and 20"):
        tiny_model.top_logprobs([PROMPT], GREEDY, k=0)
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    assert tiny_model.capabilities == zero_gpu.CAPABILITIES and not tiny_model.capabilities.trainable
    with pytest.raises(Unsupported, match="Top log-probabilities are not available .* ZeroGPU"):
        tiny_model.top_logprobs([PROMPT], GREEDY)
    with pytest.raises(Unsupported, match="Attention weights are not available .* ZeroGPU"):
        tiny_model.attention(PROMPT)
    with pytest.raises(ValueError, match="Fine-tuning is off on ZeroGPU"):
        finetune.prepare(tiny_model, finetune.Config())


def test_seq2seq_models_have_top_logprobs_but_no_attention(tiny_t5_dir):
    model = get_model(str(tiny_t5_dir))
    assert not model.capabilities.attention
    with pytest.raises(Unsupported, match="encoder-decoder"):
        model.attention(PROMPT)
    for step in model.top_logprobs([PROMPT], GREEDY, k=3)[0]:
        assert step.top[0] == (step.token, pytest.approx(step.logprob))


def test_perplexity_is_the_models_own(tiny_model):
    assert measure.perplexity(tiny_model, [PROMPT]) == tiny_model.perplexity([PROMPT])
