"""Shared fixtures: an offline, private LAB_HOME and tiny random models (built here, no downloads)."""

import os
from pathlib import Path

import pytest

# Before anything imports huggingface_hub: an accidental hub call fails fast instead of hanging.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The suite loads many tiny folder and server bases and holds tiny_model for its whole session: the deployment's
# limit (2) would drop and reload them between tests. tests/test_abuse.py sets the limit where it checks it.
os.environ.setdefault("LAB_MAX_BASES", "64")

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
WORDS = [
    "the",
    "a",
    "cat",
    "dog",
    "sat",
    "on",
    "mat",
    "summary",
    "dialogue",
    "person1",
    "person2",
    "answer",
    "question",
    "problem",
    "solution",
    "is",
    "of",
    "and",
    "to",
    "in",
    "it",
    "for",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "#",
    ":",
    ".",
    ",",
    "?",
    "!",
    "$",
    "-",
    "+",
    "=",
    "×",
    "0",
    "1",
    "2",
    "3",
    "4",
    "5",
    "6",
    "7",
    "8",
    "9",
]


@pytest.fixture(scope="session", autouse=True)
def lab_home(tmp_path_factory) -> Path:
    """Every test session gets its own LAB_HOME: the store and the model cache start empty."""
    home = tmp_path_factory.mktemp("lab_home")
    os.environ["LAB_HOME"] = str(home)
    return home


def _tokenizer(chat: bool):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["<pad>", "<unk>", "<|im_start|>", "<|im_end|>", "system", "user", "assistant"]
    vocab = {token: index for index, token in enumerate(dict.fromkeys(specials + WORDS))}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace(), pre_tokenizers.Digits(True)])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="<unk>", pad_token="<pad>", eos_token="<|im_end|>"
    )
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|im_start|>"]})
    if chat:
        tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory) -> Path:
    """A 2-layer random Llama with a chat template and a 64-token context, saved as a local folder."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    tokenizer = _tokenizer(chat=True)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )
    folder = tmp_path_factory.mktemp("tiny-llama")
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_t5_dir(tmp_path_factory) -> Path:
    """A 2-layer random T5 (seq2seq, no chat template), saved as a local folder."""
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(0)
    tokenizer = _tokenizer(chat=False)
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=32,
        d_ff=64,
        d_kv=8,
        num_layers=2,
        num_heads=4,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id,
    )
    folder = tmp_path_factory.mktemp("tiny-t5")
    T5ForConditionalGeneration(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_model(tiny_llama_dir):
    from modules.models import get_model

    return get_model(str(tiny_llama_dir))


@pytest.fixture()
def bf16_base(tiny_llama_dir, tmp_path, monkeypatch):
    """The tiny model loaded as a base in bf16, as every base loads on CUDA (its own folder: its own spec)."""
    import shutil

    import torch

    import modules.models as registry
    from modules.models import get_model

    folder = tmp_path / "tiny-bf16-base"
    shutil.copytree(tiny_llama_dir, folder)
    monkeypatch.setattr(registry, "default_device", lambda: (torch.device("cpu"), torch.bfloat16))
    return get_model(str(folder))


@pytest.fixture(scope="session")
def embedded_model():
    """The real embedded SmolLM2-135M (converted from its GGUF on first use in this session)."""
    from modules.models import get_model

    return get_model()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def served_app(tmp_path_factory):
    """The real app on a free port with its own GRADIO_TEMP_DIR; yields its local URL."""
    os.environ["GRADIO_TEMP_DIR"] = str(tmp_path_factory.mktemp("gradio"))
    from app import demo, serve

    serve(prevent_thread_lock=True, server_name="127.0.0.1", server_port=_free_port(), quiet=True)
    yield demo.local_url
    demo.close()
    _wait_for_jobs()


def _wait_for_jobs(timeout_s: float = 120) -> None:
    """Let model jobs a closed page left running finish: torch code still running in a thread while the interpreter
    exits aborts the process (seen: "terminate called without an active exception", exit 134)."""
    import threading
    import time

    from modules.ui.background import JOB_THREAD

    deadline = time.time() + timeout_s
    for thread in [t for t in threading.enumerate() if t.name == JOB_THREAD]:
        thread.join(max(0.0, deadline - time.time()))


@pytest.fixture()
def client(served_app):
    """A fresh gradio_client session (its own model spec and Stop flag)."""
    from gradio_client import Client

    return Client(served_app, verbose=False)


@pytest.fixture(scope="session")
def embedded_embedder():
    """The embedded all-MiniLM-L6-v2 (sentence-transformers, loaded by path from its package)."""
    from modules.retrieval.dense import load_embedder

    return load_embedder()


def weights_hash(model) -> str:
    """One digest of every weight and buffer: equal before and after means the model was not modified."""
    import hashlib

    digest = hashlib.sha256()
    for name, tensor in sorted(model.hf.state_dict().items()):
        digest.update(name.encode() + tensor.detach().cpu().numpy().tobytes())
    return digest.hexdigest()


def table_rows(table: dict) -> list[dict]:
    """A gr.Dataframe value as gradio_client returns it ({"headers", "data"}) -> one dict per row."""
    return [dict(zip(table["headers"], row)) for row in table["data"]]
