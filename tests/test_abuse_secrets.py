"""Attacks on the server key and URL credentials: a server echoing headers, user:pass@ in the URL, the log."""

import json
import logging
import threading
import uuid
from base64 import b64encode
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from evals.runner import System, compare
from evals.tasks import load_task
from modules.models import GenerationParams, get_model
from modules.redaction import redact, url_without_credentials
from modules.store import default_store
from modules.techniques import parse_system

KEY = "lab-echo-key-5b7d2e9f41"  # not sk-shaped: only the configured-key rule can catch it bare
USER, PASSWORD = "lab-user", "s3cret-pass"
BASIC = b64encode(f"{USER}:{PASSWORD}".encode()).decode()
SECRETS = (KEY, PASSWORD, BASIC)


class EchoServer(BaseHTTPRequestHandler):
    """An OpenAI-compatible server that lists no models, answers 'ok' to a chat request, and answers a prompt
    containing FAIL with an error echoing every request header (and the bare token, as some proxies do)."""

    def log_message(self, *args):
        pass

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._json(200, {"object": "list", "data": []})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if "FAIL" in json.dumps(body.get("messages")):
            token = (self.headers.get("Authorization") or "").split()[-1:]
            message = f"Bad request. Headers: {dict(self.headers)}\n{self.headers} token={''.join(token)}"
            return self._json(400, {"error": {"message": message}})
        if not body.get("stream"):
            return self._json(200, {"choices": [{"index": 0, "message": {"content": "ok"}}], "usage": {}})
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for data in ({"choices": [{"delta": {"content": "ok"}}]}, {"choices": [], "usage": {"completion_tokens": 1}}):
            self.wfile.write(f"data: {json.dumps(data)}\n\n".encode())
        self.wfile.write(b"data: [DONE]\n\n")


@pytest.fixture(scope="module")
def echo_port():
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def _name() -> str:
    """A model name no other test has loaded (the registry keeps one model per spec)."""
    return f"echo-{uuid.uuid4().hex[:8]}"


def assert_no_secret(*texts) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in str(text), (secret, str(text)[:600])


@pytest.fixture()
def keyed(echo_port, monkeypatch):
    monkeypatch.setenv("LAB_OPENAI_BASE_URL", f"http://127.0.0.1:{echo_port}/v1")
    monkeypatch.setenv("LAB_OPENAI_API_KEY", KEY)


@pytest.fixture()
def credentialed(echo_port, monkeypatch):
    monkeypatch.setenv("LAB_OPENAI_BASE_URL", f"http://{USER}:{PASSWORD}@127.0.0.1:{echo_port}/v1")
    monkeypatch.delenv("LAB_OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)


def test_a_server_error_echoing_the_authorization_header_does_not_show_the_key(keyed, caplog):
    caplog.set_level(logging.DEBUG)
    model = get_model(f"openai:{_name()}")
    with pytest.raises(ValueError, match="answered 400") as raised:
        model.generate(["FAIL please"], GenerationParams(max_new_tokens=4))
    assert "Bearer ***" in str(raised.value) or "Authorization" in str(raised.value)
    assert_no_secret(raised.value, caplog.text)


def test_the_visitor_sees_no_key_when_the_server_echoes_it(keyed, client, caplog):
    """Through the served app: the model bar, then the in-context learning tab with a prompt the server refuses."""
    caplog.set_level(logging.DEBUG)
    info = client.predict(f"openai:{_name()}", api_name="/load_model")
    assert "OpenAI-compatible server" in str(info)
    with pytest.raises(Exception) as raised:  # gradio_client's AppError carries the page's message
        client.predict("dialogue-summary", "ds-045", "FAIL please", "", 2, "fixed", 0, 4, "greedy", 0.7, 0.9,
                       api_name="/icl_run")  # fmt: skip
    assert "answered 400" in str(raised.value)
    assert_no_secret(info, raised.value, caplog.text)


def test_a_logged_traceback_does_not_keep_the_key(keyed, caplog):
    """An unexpected error's traceback goes to the server log (log.exception): redacted there too."""
    from modules.ui.errors import guarded

    def handler():
        raise RuntimeError(f"upstream said Authorization: Bearer {KEY} and token {KEY}")

    caplog.set_level(logging.DEBUG)
    with pytest.raises(Exception, match="Something went wrong"):
        guarded(handler)()
    assert "RuntimeError" in caplog.text
    assert_no_secret(caplog.text, *(record.getMessage() for record in caplog.records))


def test_url_credentials_are_not_in_the_label_info_bar_errors_or_stored_run(credentialed, echo_port, caplog):
    from modules.ui import model_bar

    caplog.set_level(logging.DEBUG)
    model = get_model(f"openai:{_name()}")
    assert f"127.0.0.1:{echo_port}" in model.label
    assert_no_secret(model.label, model.info(), model_bar.describe(model))
    with pytest.raises(ValueError) as refused:
        model.generate(["FAIL please"], GenerationParams(max_new_tokens=4))
    assert f"http://127.0.0.1:{echo_port}/v1" in str(refused.value)
    name, technique, config = parse_system("zero-shot:max_new_tokens=4")
    run = compare(load_task("dialogue-summary"), [System(name, model, technique, config)], limit=1,
                  store=default_store())  # fmt: skip
    stored = default_store().get_run(run.id)
    assert stored["model_label"] == model.label
    assert_no_secret(refused.value, stored, run.to_dict(model.info()), caplog.text)


def test_url_credentials_in_a_spec_and_an_unreachable_server_stay_hidden(caplog):
    caplog.set_level(logging.DEBUG)
    spec = f"openai:{_name()}@http://{USER}:{PASSWORD}@127.0.0.1:9/v1"
    with pytest.raises(Exception, match="Cannot reach the server at http://127.0.0.1:9/v1") as raised:
        get_model(spec)
    assert_no_secret(raised.value, caplog.text)


def test_a_run_on_a_spec_naming_a_credentialed_url_stores_no_credentials(echo_port, monkeypatch, caplog):
    monkeypatch.delenv("LAB_OPENAI_API_KEY", raising=False)
    caplog.set_level(logging.DEBUG)
    model = get_model(f"openai:{_name()}@http://{USER}:{PASSWORD}@127.0.0.1:{echo_port}/v1")
    name, technique, config = parse_system("zero-shot:max_new_tokens=4")
    run = compare(load_task("dialogue-summary"), [System(name, model, technique, config)], limit=1,
                  store=default_store())  # fmt: skip
    stored = default_store().get_run(run.id)
    assert "***@127.0.0.1" in stored["model_spec"] and "HTTP Request" in caplog.text
    assert_no_secret(model.info(), stored, run.to_dict(model.info()), caplog.text)


def test_the_visitor_sees_no_url_credentials_in_the_model_bar(credentialed, client):
    info = client.predict(f"openai:{_name()}", api_name="/load_model")
    assert "OpenAI-compatible server" in str(info)
    assert_no_secret(info)


@pytest.mark.parametrize(
    ("text", "hidden", "kept"),
    [
        (f"Authorization: Bearer {KEY}", KEY, "Authorization"),
        ("{'authorization': 'Bearer abc.def-123', 'host': 'h'}", "abc.def-123", "'host': 'h'"),
        ('"Authorization": "Basic dXNlcjpwYXNz"', "dXNlcjpwYXNz", "Authorization"),
        ("x-api-key: k-998877 and more", "k-998877", "and more"),
        ("sent bearer tok_ABCDEF123 to it", "tok_ABCDEF123", "sent"),
        ("key sk-proj-AbCdEf0123456789xyz leaked", "sk-proj-AbCdEf0123456789xyz", "leaked"),
        ("see http://user:p%40ss@host:8000/v1 now", "p%40ss", "host:8000/v1 now"),
        ("https://tok@example.com/x and ftp://a:b@c", "tok@", "example.com/x"),
        (f"the key {KEY} itself", KEY, "the key"),
    ],
)
def test_redact_hides_credentials_and_keeps_the_rest(text, hidden, kept, monkeypatch):
    monkeypatch.setenv("LAB_OPENAI_API_KEY", KEY)
    out = redact(text)
    assert hidden not in out and kept in out and "***" in out


def test_redact_reads_the_keys_when_called_and_ignores_tiny_ones(monkeypatch):
    monkeypatch.delenv("LAB_OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "zq9-fresh-key")
    assert redact("got zq9-fresh-key") == "got ***"
    monkeypatch.setenv("OPENAI_API_KEY", "abc")  # under 4 characters: ordinary words stay
    assert redact("abcdef") == "abcdef"
    assert redact("nothing secret at http://host/v1, disk-cache-folder") == (
        "nothing secret at http://host/v1, disk-cache-folder"
    )


def test_url_without_credentials():
    assert url_without_credentials("http://u:p@host:8000/v1") == "http://host:8000/v1"
    assert url_without_credentials("http://host/v1") == "http://host/v1"
    assert url_without_credentials("https://a:b@c@host/v1?x=1") == "https://host/v1?x=1"
