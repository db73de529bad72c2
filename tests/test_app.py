"""The app: importable without a model, served, and driven through gradio_client."""

import socket

import pytest
from gradio_client import Client

from modules.paths import lab_home
from modules.store import Store


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    import os

    os.environ["GRADIO_TEMP_DIR"] = str(tmp_path_factory.mktemp("gradio"))
    from app import demo

    demo.queue().launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=_free_port(), quiet=True)
    yield Client(demo.local_url, verbose=False)
    demo.close()


def test_import_loads_no_model():
    import app  # noqa: F401
    from modules.models import loaded_specs

    assert all("smollm2" not in spec for spec in loaded_specs())


def test_runs_endpoints(client):
    store = Store(lab_home() / "lab.db")
    run_id = store.create_run(
        model_spec="s", model_label="tiny (fp32)", systems=[{"name": "zero-shot"}], task="dialogue-summary",
        split="test", limit=1, seed=0, versions={}, git_commit=None,
    )  # fmt: skip
    store.finish_run(run_id, "complete", [{"system": "zero-shot", "score": "rougeL", "mean": 0.3, "ci_low": 0.2,
                                           "ci_high": 0.4, "n": 1, "label": "ROUGE-L F (0-1)"}])  # fmt: skip
    listed = client.predict(api_name="/list_runs")
    assert run_id in [row[0] for row in listed["data"]]
    shown = client.predict(run_id, api_name="/run_aggregate")
    assert shown["data"][0][:3] == ["zero-shot", "rougeL", 0.3]
    with pytest.raises(Exception, match="No run with id 999999"):
        client.predict(999999, api_name="/run_aggregate")
