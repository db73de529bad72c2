"""The OpenAI-compatible backend against a real server: llama-cpp-python's, serving the embedded GGUF on a free
local port (built and cached by `make test`). Every text technique, concurrency, Stop, the error cases, a server
that dies mid-run, and the API key kept out of everything the lab writes."""

import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace

import httpx
import pytest

from evals.runner import System, compare
from evals.tasks import load_task
from modules import measure
from modules.models import GenerationParams, ModelLoadError, get_model, remote
from modules.models.embedded import gguf_path
from modules.store import default_store
from modules.techniques import TECHNIQUES, parse_system
from tests.conftest import _free_port

pytestmark = pytest.mark.slow
KEY = "sk-lab-test-9f3a7c1e"  # a made-up key: the test looks for it in everything the lab writes
ALIAS = "smollm2"


def start_server(port: int) -> subprocess.Popen:
    pytest.importorskip("llama_cpp.server", reason="make test installs llama-cpp-python[server]")
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf_path()), "--model_alias", ALIAS,
               "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
               "--interrupt_requests", "False", "--api_key", KEY]  # fmt: skip
    log = tempfile.TemporaryFile("w+")  # noqa: SIM115  lives as long as the server; not a pipe (llama.cpp logs more than a pipe holds)
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log, text=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        if server.poll() is not None:
            log.seek(0)
            pytest.fail(f"the llama.cpp server did not start: {log.read()[-2000:]}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/v1/models", headers={"Authorization": f"Bearer {KEY}"}, timeout=2)
            return server
        except httpx.HTTPError:
            time.sleep(0.5)
    server.kill()
    pytest.fail("the llama.cpp server did not answer within 120 s")


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    process = start_server(port)
    yield f"http://127.0.0.1:{port}/v1"
    process.terminate()
    process.wait(timeout=30)


@pytest.fixture()
def served(server, monkeypatch):
    """The server's model through the registry, with the key in the environment only."""
    monkeypatch.setenv("LAB_OPENAI_BASE_URL", server)
    monkeypatch.setenv("LAB_OPENAI_API_KEY", KEY)
    return get_model(f"openai:{ALIAS}")


def test_every_text_technique_runs_through_the_server(served):
    rag = load_task("company-handbook-qa")
    systems = {
        "dialogue-summary": ["zero-shot:max_new_tokens=12", "one-shot:max_new_tokens=12",
                             "few-shot:k=2:max_new_tokens=12"],
        "arithmetic-word-problems": ["direct", "cot:max_new_tokens=48", "few-shot-cot:k=1:max_new_tokens=48",
                                     "self-consistency:n=3:k=1:max_new_tokens=48", "pal:max_new_tokens=96"],
        rag.name: ["no-retrieval:max_new_tokens=24", "rag-hybrid:k=2:max_new_tokens=24"],
    }  # fmt: skip
    for task_name, texts in systems.items():
        task = load_task(task_name)
        parsed = [parse_system(text) for text in texts]
        run = compare(task, [System(name, served, technique, config) for name, technique, config in parsed], limit=1,
                      store=default_store())  # fmt: skip
        assert run.status == "complete" and len(run.per_example) == len(texts), task_name
        assert (run.per_example.output.str.len() > 0).all(), run.per_example[["system", "output"]]
    stored = default_store().get_run(run.id)
    assert stored["measurements"][run.systems[0]["name"]]["device"] == f"remote: {served.url}"


def test_requests_run_concurrently_and_record_the_servers_usage(served, monkeypatch):
    monkeypatch.setenv("LAB_OPENAI_CONCURRENCY", "4")
    in_flight, most = [0], [0]
    original = served._stream

    def counting(*args):
        in_flight[0] += 1
        most[0] = max(most[0], in_flight[0])
        try:
            return original(*args)
        finally:
            in_flight[0] -= 1

    monkeypatch.setattr(served, "_stream", counting)
    prompts = [f"Count to {n}." for n in range(3, 9)]
    generations = served.generate(prompts, GenerationParams(max_new_tokens=8))
    assert most[0] == 4 and len(generations) == 6
    assert all(0 < g.new_tokens <= 8 and g.prompt_tokens >= 3 and g.latency_s > 0 for g in generations)


def test_stop_ends_the_requests_in_flight(served):
    stop, seen = threading.Event(), []

    def on_text(texts):
        seen.append(texts)
        stop.set()

    started = time.perf_counter()
    generations = served.generate(["Write a long story about the sea."] * 2, GenerationParams(max_new_tokens=400),
                                  on_text=on_text, stop=stop)  # fmt: skip
    assert seen and all(g.new_tokens < 50 for g in generations) and time.perf_counter() - started < 30


def test_errors_are_clear_and_never_show_the_key(server, monkeypatch):
    monkeypatch.setenv("LAB_OPENAI_API_KEY", KEY)
    with pytest.raises(ModelLoadError, match="Cannot reach the server at http://127.0.0.1:9/v1"):
        remote.load("openai:smollm2@http://127.0.0.1:9/v1")
    with pytest.raises(ModelLoadError, match="does not serve 'no-such-model'; it serves: smollm2"):
        remote.load(f"openai:no-such-model@{server}")
    monkeypatch.delenv("LAB_OPENAI_BASE_URL", raising=False)
    with pytest.raises(ModelLoadError, match="set LAB_OPENAI_BASE_URL"):
        remote.load("openai:smollm2")
    monkeypatch.setenv("LAB_OPENAI_API_KEY", "wrong-key")
    with pytest.raises(ModelLoadError, match="refused the request \\(401\\)") as refused:
        remote.load(f"openai:{ALIAS}@{server}")
    assert "wrong-key" not in str(refused.value)
    monkeypatch.setenv("LAB_OPENAI_API_KEY", KEY)
    model = remote.load(f"openai:{ALIAS}@{server}")
    with pytest.raises(ValueError, match="over this server's context length"):
        model.generate(["word " * 3000], GenerationParams(max_new_tokens=4))


def test_local_only_studies_refuse_a_server_model(served):
    from modules.models import quantized
    from modules.training import finetune

    with pytest.raises(ValueError, match="Fine-tuning needs a local model"):
        finetune.prepare(served, finetune.Config())
    with pytest.raises(ValueError, match="Quantization needs a local model"):
        quantized.build(served, quantized.parse("int8"))
    with pytest.raises(ModelLoadError, match="need a local model"):
        get_model(f"openai:{ALIAS}+quant:int8")


def test_a_server_teaches_a_local_student_its_answers_and_is_refused_for_distributions(served, tiny_model):
    from modules.studies import distillation

    settings = distillation.Settings(name="server-taught", teacher=served.spec, learn="answers", steps=1,
                                     batch_size=2, max_length=64, limit=1).checked()  # fmt: skip
    cost, run, table = distillation.run(tiny_model, settings, lambda event: None, threading.Event())
    assert cost["asset"].endswith("+adapter:server-taught")  # another tokenizer, too: answers need none in common
    teacher = table.set_index("model").loc["teacher"]
    assert teacher.spec == served.spec and math.isnan(teacher["weight MB"])  # its weights are not here
    with pytest.raises(ValueError, match="learn the teacher's answers instead"):
        distillation.run(tiny_model, replace(settings, learn="distributions"), lambda event: None, threading.Event())


def test_perplexity_is_computed_from_the_servers_prompt_logprobs(served):
    """exp(mean negative log-probability) of the prompt tokens the server scored (echo + logprobs). The value is
    only as right as the server's numbers: llama-cpp-python 0.3.36 shifts them by one token (see remote.py)."""
    text = "The canteen serves pancakes every Thursday morning."
    answer = httpx.post(
        f"{served.url}/completions",
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=60,
        json={"model": ALIAS, "prompt": text, "max_tokens": 1, "echo": True, "logprobs": 1},
    ).json()
    logprobs = answer["choices"][0]["logprobs"]
    pairs = zip(logprobs["token_logprobs"], logprobs["text_offset"])
    scored = [value for value, at in pairs if at < len(text) and value is not None]
    assert measure.perplexity(served, [text]) == pytest.approx(math.exp(-sum(scored) / len(scored)), rel=1e-6)


def test_a_server_that_dies_mid_run_leaves_a_failed_run_with_its_finished_results(monkeypatch):
    port = _free_port()
    process = start_server(port)
    monkeypatch.setenv("LAB_OPENAI_API_KEY", KEY)
    model = remote.load(f"openai:{ALIAS}@http://127.0.0.1:{port}/v1")
    name, technique, config = parse_system("zero-shot:max_new_tokens=2")

    def kill_after_first_chunk(event):
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait()

    task = load_task("dialogue-summary")
    assert len(task.split("test")) > 16  # two chunks: the first finishes, the second meets a dead server
    with pytest.raises(ValueError, match="Lost the server|Cannot reach"):
        compare(task, [System(name, model, technique, config)], limit=20, store=default_store(),
                progress=kill_after_first_chunk)  # fmt: skip
    (stored,) = [run for run in default_store().list_runs(5) if run["task"] == task.name][:1]
    assert stored["status"] == "failed" and stored["results"] == 16


def test_the_key_is_nowhere_the_lab_writes(served, tmp_path):
    from modules.exports import write_csv

    task = load_task("dialogue-summary")
    name, technique, config = parse_system("zero-shot:max_new_tokens=4")
    TECHNIQUES[technique].validate(task, config)
    run = compare(task, [System(name, served, technique, config)], limit=2, store=default_store())
    write_csv(run.per_example, tmp_path / "run.csv")
    (tmp_path / "run.json").write_text(str(run.to_dict(served.info())))
    database = os.environ["LAB_HOME"]
    written = [tmp_path / "run.csv", tmp_path / "run.json"] + [
        os.path.join(folder, file) for folder, _, files in os.walk(database) for file in files
    ]
    for path in written:
        with open(path, "rb") as handle:
            assert KEY.encode() not in handle.read(), path


def test_the_in_context_learning_tab_runs_on_the_server(server, served_app, monkeypatch):
    """Through the page's API as a visitor would: the server's model typed in the model bar, then one example."""
    from gradio_client import Client

    monkeypatch.setenv("LAB_OPENAI_API_KEY", KEY)
    client = Client(served_app, verbose=False)
    info = client.predict(f"openai:{ALIAS}@{server}", api_name="/load_model")
    assert "OpenAI-compatible server" in str(info) and KEY not in str(info)
    result = client.predict("dialogue-summary", "ds-045", "", "", 2, "fixed", 0, 16, "greedy", 0.7, 0.9,
                            api_name="/icl_run")  # fmt: skip
    texts, summaries = result[:3], result[3:6]
    assert all(text.strip() for text in texts) and all("new tokens" in summary for summary in summaries)


def test_a_server_model_describes_itself_as_a_local_one_does(served, tiny_model):
    """Everything that shows a model (the bar, stored runs, reports) reads info(): a server's has every key."""
    assert set(tiny_model.info()) <= set(served.info())
    assert served.info()["device"] == f"remote: {served.url}" and KEY not in str(served.info())


SAMPLING = GenerationParams(max_new_tokens=8, do_sample=True, temperature=0.9, seed=3)


def test_sampled_paths_ask_for_n_and_a_server_that_ignores_it_gets_the_rest_one_by_one(served, monkeypatch):
    """Self-consistency's paths are one prompt asked n times: one request with `n`; llama-cpp-python answers one
    choice, so the other two are asked alone (seeds 4 and 5 after the first request's 3)."""
    asked, streamed = [], []
    original_request, original_stream = remote._request, served._stream
    monkeypatch.setattr(remote, "_request", lambda *a: asked.append(a[3]) or original_request(*a))
    monkeypatch.setattr(served, "_stream", lambda index, *a: streamed.append(index) or original_stream(index, *a))
    generations = served.generate(["Pick a number."] * 3 + ["Name a colour."], SAMPLING)
    assert len(generations) == 4 and all(g.text for g in generations)
    assert [(body["n"], body["seed"]) for body in asked] == [(3, 3)] and sorted(streamed) == [1, 2, 3]


def test_a_server_that_honours_n_answers_every_path_in_one_request(served, monkeypatch):
    """The mechanics of the other case (vLLM, SGLang honour n): three choices from one answer, in choice order,
    the server's token count shared out by length."""
    answer = {"choices": [{"index": i, "message": {"content": text}} for i, text in enumerate(["7", "12", "3 or 4"])],
              "usage": {"prompt_tokens": 20, "completion_tokens": 8}}  # fmt: skip
    monkeypatch.setattr(remote, "_request", lambda *a: answer)
    monkeypatch.setattr(served, "_stream", lambda *a: pytest.fail("no single request should be needed"))
    generations = served.generate(["Pick a number."] * 3, SAMPLING)
    assert [g.text for g in generations] == ["7", "12", "3 or 4"] and sum(g.new_tokens for g in generations) == 8
    assert all(g.prompt_tokens == 20 and g.batch_size == 3 for g in generations)
