"""The Hugging Face Space as shipped: the assembled folder, its entry point's import order, a request against it,
and one visitor's files kept from another (collections, adapters, runs)."""

import os
import subprocess
import sys
import time
from pathlib import Path

import gradio
import pytest
import yaml
from gradio_client import Client, handle_file

from modules import paths, space
from tests.conftest import _free_port, table_rows

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "spaces"))
from assemble import assemble  # noqa: E402


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("space") / "space"
    assemble(folder)
    return folder


def pins(path: Path) -> dict[str, str]:
    lines = [line.split("#")[0].split(";")[0].strip() for line in path.read_text().splitlines()]
    return dict(line.split("==") for line in lines if "==" in line)


def test_the_bundle_holds_the_app_and_its_front_matter_matches_the_pins(bundle):
    front = yaml.safe_load((bundle / "README.md").read_text().split("---")[1])
    assert (
        front["sdk"] == "gradio"
        and front["sdk_version"] == gradio.__version__ == pins(ROOT / "requirements.txt")["gradio"]
    )
    assert (bundle / front["app_file"]).is_file() and front["python_version"] == "3.11"
    assert front["suggested_hardware"] and {space.CPU_MODEL, space.GPU_MODEL} <= set(front["models"])
    assert (bundle / "modules" / "space.py").is_file() and (bundle / "evals" / "tasks").is_dir()
    assert not (bundle / "tests").exists() and not (bundle / ".venv").exists() and not (bundle / "benchmarks").exists()
    shipped, project = pins(bundle / "requirements.txt"), pins(ROOT / "requirements.txt")
    assert {name: version for name, version in shipped.items() if name in project} == {
        name: project[name] for name in shipped if name in project
    }
    assert "gradio" not in shipped and "pytest" not in shipped  # the SDK brings gradio; no dev tools on a Space


def test_the_entry_point_imports_spaces_before_torch_and_touches_no_cuda(bundle, tmp_path):
    """ZeroGPU's rule, checked in a fresh interpreter: `spaces` is imported before torch, and importing the entry
    point (which builds the whole app) initialises no CUDA."""
    check = (
        "import sys, space_app, torch; order = list(sys.modules); "
        "print(order.index('spaces') < order.index('torch'), torch.cuda.is_initialized(), "
        "space_app.demo is not None)"
    )
    env = os.environ | {"LAB_HOME": str(tmp_path), "SPACE_ID": "someone/lab", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", check], cwd=bundle, env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-3:] == ["True", "False", "True"]


def test_the_space_defaults_pick_the_model_storage_and_sessions(monkeypatch, tmp_path):
    monkeypatch.setattr(os, "environ", dict(os.environ))  # configure() sets variables: they must not outlive the test
    for name in ("LAB_MODEL", "LAB_HOME", "LAB_PER_SESSION", "LAB_MAX_NEW_TOKENS", "SPACES_ZERO_GPU"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LAB_QUEUE_SIZE", "7")  # set by the Space's owner: kept
    chosen = space.configure()
    assert chosen["LAB_MODEL"] == (space.GPU_MODEL if space.has_gpu() else space.CPU_MODEL)
    assert chosen["LAB_PER_SESSION"] == "1" and "LAB_QUEUE_SIZE" not in chosen and os.environ["LAB_QUEUE_SIZE"] == "7"
    assert chosen["LAB_HOME"] in (str(space.EPHEMERAL), str(space.PERSISTENT / "llm-technique-lab"))
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    assert space.has_gpu()
    monkeypatch.setenv("LAB_HOME", str(tmp_path))
    assert "temporary storage, lost when the Space restarts" in space.deployment_note()


@pytest.fixture()
def running_space(bundle, tmp_path, embedded_model):
    """The assembled Space served by its own entry point in a subprocess, as on a Space (SPACE_ID set), with the
    embedded model as LAB_MODEL (the Hub default cannot be downloaded here; this session's LAB_HOME has it cached)."""
    port, home = _free_port(), Path(os.environ["LAB_HOME"])
    env = os.environ | {"SPACE_ID": "someone/lab", "LAB_MODEL": "smollm2-135m", "LAB_HOME": str(home),
                        "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port), "HF_HUB_OFFLINE": "1",
                        "GRADIO_TEMP_DIR": str(tmp_path / "gradio")}  # fmt: skip
    log = tmp_path / "space.log"  # a file, not a pipe: a full pipe would block the server
    server = subprocess.Popen([sys.executable, "space_app.py"], cwd=bundle, env=env, stdout=subprocess.DEVNULL,
                              stderr=log.open("w"), text=True)  # fmt: skip
    url, deadline = f"http://127.0.0.1:{port}/", time.time() + 180
    while True:
        try:
            client = Client(url, verbose=False)
            break
        except Exception:
            if server.poll() is not None or time.time() > deadline:
                server.kill()
                pytest.fail(f"the Space did not start: {log.read_text()[-2000:]}")
            time.sleep(1)
    yield client
    server.terminate()
    server.wait(timeout=30)


@pytest.mark.slow
def test_the_assembled_space_answers_an_in_context_learning_request(running_space, bundle):
    client = running_space
    before = {p: p.stat().st_mtime_ns for p in bundle.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    result = client.predict("dialogue-summary", "ds-045", "", "", 3, "fixed", 0, 8, "greedy", 0.7, 0.9,
                            api_name="/icl_run")  # fmt: skip
    texts, summaries = result[:3], result[3:6]
    assert all(isinstance(text, str) for text in texts) and "new tokens" in summaries[0]
    after = {p: p.stat().st_mtime_ns for p in bundle.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert after == before  # the shipped code and task data were not written


def test_one_session_cannot_list_search_or_delete_another_sessions_files(served_app, tiny_llama_dir, tmp_path,
                                                                         monkeypatch):  # fmt: skip
    monkeypatch.setenv("LAB_PER_SESSION", "1")
    alice, bob = Client(served_app, verbose=False), Client(served_app, verbose=False)
    (tmp_path / "secret.md").write_text("Alice's private plan: the canteen closes on Friday.")
    report, knowledge = alice.predict("alice-docs", [handle_file(str(tmp_path / "secret.md"))], api_name="/rag_upload")
    assert "stored `secret.md`" in report and ["Uploaded: alice-docs", "alice-docs"] in knowledge["choices"]
    # Bob: his uploads list does not show it, a search in it finds nothing, and deleting it fails.
    _, bobs = bob.predict("bob-docs", [handle_file(str(tmp_path / "secret.md"))], api_name="/rag_upload")
    assert ["Uploaded: alice-docs", "alice-docs"] not in bobs["choices"]
    question = [
        "company-handbook-qa",
        None,
        "When does the canteen close?",
        "",
        1,
        True,
        "alice-docs",
        "all-minilm-l6-v2",
    ]
    with pytest.raises(Exception, match="alice-docs") as refused:
        bob.predict(*question, api_name="/rag_run")
    assert "Friday" not in str(refused.value)
    with pytest.raises(Exception, match="No collection named 'alice-docs'"):
        bob.predict("alice-docs", api_name="/rag_delete_collection")
    # Adapters: Alice trains one; Bob neither lists, loads nor deletes it.
    for visitor in (alice, bob):
        visitor.predict(str(tiny_llama_dir), api_name="/load_model")
    from tests.test_finetune_tab import arguments

    alice.predict(*arguments(name="alice", methods=["lora"], steps=1, max_length=64, eval_limit=1, probe_limit=0),
                  api_name="/finetune_train")  # fmt: skip
    table, _ = alice.predict(api_name="/finetune_adapters")
    assert "alice-lora" in {row["name"] for row in table_rows(table)}
    table, _ = bob.predict(api_name="/finetune_adapters")
    assert "alice-lora" not in {row["name"] for row in table_rows(table)}
    with pytest.raises(Exception, match="No saved adapter named 'alice-lora'"):
        bob.predict(f"{tiny_llama_dir}+adapter:alice-lora", api_name="/load_model")
    with pytest.raises(Exception, match="alice-lora"):
        bob.predict("alice-lora", api_name="/finetune_delete_adapter")
    assert "alice-lora" in {row["name"] for row in table_rows(alice.predict(api_name="/finetune_adapters")[0])}
    # Stored runs: Alice's training run is hers.
    alice_runs, bob_runs = alice.predict(api_name="/list_runs"), bob.predict(api_name="/list_runs")
    assert table_rows(alice_runs) and not table_rows(bob_runs)


def test_expired_sessions_are_swept_and_ids_cannot_climb_out(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_HOME", str(tmp_path))
    monkeypatch.setenv("LAB_PER_SESSION", "1")
    with paths.in_session("old"):
        old = paths.make_private(paths.user_home())
    with paths.in_session("../../etc"), pytest.raises(paths.SessionError):
        paths.user_home()  # no way out of LAB_HOME/sessions: the id is refused, not rewritten
    os.utime(old, (0, 0))
    assert paths.sweep_expired() == ["old"] and not old.exists()
