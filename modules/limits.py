"""Every LAB_* setting, read here and nowhere else: the single list, each with its default and meaning.

LAB_HOME                  the lab's data folder: models, run store, visitors' files (default ~/.cache/llm-technique-lab)
LAB_PER_SESSION           each browser session gets its own files (default: yes on a Hugging Face Space, no elsewhere)
LAB_SESSION_TTL_HOURS     a session's files are deleted this long after its last use (default 24)
LAB_SESSION_DISK_MB       every byte one session keeps on a shared deployment: tasks, documents, indexes, adapters,
                          checkpoints, runs (default 4096: a full fine-tune of the embedded model with its optimizer
                          state is ~1.6 GB)
LAB_SESSION_UPLOAD_MB     documents one session may keep in total, all collections (default 200)
LAB_UPLOAD_MAX_MB         one uploaded document (default 5)
LAB_UPLOAD_MAX_FILES      documents in one upload (default 20)
LAB_MAX_NEW_TOKENS        tokens one generation may make (default 4096: beyond that a CPU run takes hours)
LAB_MAX_TRAIN_STEPS       optimizer steps one fine-tuning method may take (default 10000)
LAB_QUEUE_SIZE            jobs waiting in the queue before a new one is told to retry later (default 16)
LAB_MODEL                 the default model spec (default: the embedded SmolLM2-135M-Instruct; a Space sets a Hub id)
LAB_WARM_MODEL            load the default model at start-up, not on first use (default no)
LAB_MAX_VARIANTS          model variants kept loaded, least recently used dropped first (default 4)
LAB_MAX_BASES             base models kept loaded besides the shipped one (default 2)
LAB_MAX_EMBEDDERS         embedding models kept loaded for dense retrieval (default 2)
LAB_DECODE                decoding path: auto, eager, static or compiled (default auto; modules/models/decoding.py)
LAB_OPENAI_BASE_URL       the OpenAI-compatible server for 'openai:<model>' specs (default none)
LAB_OPENAI_CONCURRENCY    requests in flight to that server, 1-64 (default 4)
LAB_OPENAI_TIMEOUT        seconds to wait for the server's answer (default 120)
LAB_OPENAI_CONTEXT        the remote model's context length in tokens (default: what the server reports, else 4096)
LAB_ALLOW_REMOTE_URLS     visitors of a shared deployment may name other servers (default no)
LAB_ALLOW_CODE_EXECUTION  PAL runs model-written programs in the sandbox (default yes)
LAB_SANDBOX_BWRAP         the sandbox uses bubblewrap where it works (default yes)
LAB_OPENAI_API_KEY        the remote server's key (default none; OPENAI_API_KEY too). A secret: read each time a
                          request is sent or a message is redacted, never kept in a variable or written anywhere.

Three parsers, one each for numbers, yes/no flags and text; a bad value is a ValueError naming the variable and what
it takes. modules/space.py sets a Space's defaults before anything here reads them.
"""

import math
import os
from pathlib import Path

YES = ("1", "true", "yes", "on")
NO = ("0", "false", "no", "off")
DECODE_CHOICES = ("auto", "eager", "static", "compiled")  # the keys of modules/models/decoding.py's SETTINGS


def _raw(name: str) -> str:
    return os.environ.get(name, "").strip()


def _number(name: str, default: float | None, low: float, high: float | None = None) -> float | None:
    """The variable as a number from `low` (to `high`); unset or empty is `default`."""
    value = _raw(name)
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number < low or (high is not None and number > high):
        allowed = f"from {low:g} to {high:g}" if high is not None else f"of at least {low:g}"
        raise ValueError(f"{name} must be a number {allowed}, got '{value[:40]}'.")
    return number


def _flag(name: str, default: bool) -> bool:
    """The variable as yes or no; unset or empty is `default`."""
    value = _raw(name).lower()
    if not value:
        return default
    if value not in YES + NO:
        raise ValueError(f"{name} must be yes or no ({'/'.join(YES)} or {'/'.join(NO)}), got '{value[:40]}'.")
    return value in YES


def _text(name: str, default: str = "", choices: tuple[str, ...] = ()) -> str:
    """The variable as text (one of `choices`, lower case, when given); unset or empty is `default`."""
    value = _raw(name) or default
    if choices and value.lower() not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got '{value[:40]}'.")
    return value.lower() if choices else value


# ---- files and sessions


def home() -> Path:
    return Path(_text("LAB_HOME") or Path.home() / ".cache" / "llm-technique-lab")


def per_session() -> bool:
    return _flag("LAB_PER_SESSION", default=bool(os.environ.get("SPACE_ID")))  # a Space sets SPACE_ID


def session_ttl_s() -> float:
    return _number("LAB_SESSION_TTL_HOURS", 24, low=0) * 3600


def session_disk_bytes() -> int:
    return int(_number("LAB_SESSION_DISK_MB", 4096, low=0) * 2**20)


def session_upload_bytes() -> int:
    return int(_number("LAB_SESSION_UPLOAD_MB", 200, low=0) * 2**20)


def upload_max_bytes() -> int:
    return int(_number("LAB_UPLOAD_MAX_MB", 5, low=0) * 2**20)


def upload_max_files() -> int:
    return int(_number("LAB_UPLOAD_MAX_FILES", 20, low=1))


# ---- work one visitor may ask for


def max_new_tokens() -> int:
    return int(_number("LAB_MAX_NEW_TOKENS", 4096, low=1))


def max_train_steps() -> int:
    return int(_number("LAB_MAX_TRAIN_STEPS", 10_000, low=1))


def queue_size() -> int:
    return int(_number("LAB_QUEUE_SIZE", 16, low=1))


# ---- models kept and how they decode


def model() -> str:
    """The default model spec, or '' for the embedded model (modules/models knows its name)."""
    return _text("LAB_MODEL")


def warm_model() -> bool:
    return _flag("LAB_WARM_MODEL", default=False)


def max_variants() -> int:
    return int(_number("LAB_MAX_VARIANTS", 4, low=0))


def max_bases() -> int:
    return int(_number("LAB_MAX_BASES", 2, low=0))


def max_embedders() -> int:
    return int(_number("LAB_MAX_EMBEDDERS", 2, low=1))


def decode() -> str:
    return _text("LAB_DECODE", "auto", choices=DECODE_CHOICES)


# ---- a remote (OpenAI-compatible) server


def openai_base_url() -> str:
    return _text("LAB_OPENAI_BASE_URL").rstrip("/")


def set_openai_base_url(url: str) -> None:
    """The CLI's --base-url: this process's LAB_OPENAI_BASE_URL (read back by openai_base_url)."""
    os.environ["LAB_OPENAI_BASE_URL"] = url


def openai_concurrency() -> int:
    return int(_number("LAB_OPENAI_CONCURRENCY", 4, low=1, high=64))


def openai_timeout_s() -> float:
    return _number("LAB_OPENAI_TIMEOUT", 120, low=1)


def openai_context() -> int | None:
    """The context length to assume, or None to take the server's."""
    tokens = _number("LAB_OPENAI_CONTEXT", None, low=1)
    return None if tokens is None else int(tokens)


def allow_remote_urls() -> bool:
    return _flag("LAB_ALLOW_REMOTE_URLS", default=False)


# ---- the code sandbox


def allow_code_execution() -> bool:
    return _flag("LAB_ALLOW_CODE_EXECUTION", default=True)


def sandbox_bwrap() -> bool:
    return _flag("LAB_SANDBOX_BWRAP", default=True)


KEY_VARIABLES = ("LAB_OPENAI_API_KEY", "OPENAI_API_KEY")  # the first one set is sent; both are redacted


def api_keys() -> list[str]:
    """The server keys in the environment now (set ones only, in KEY_VARIABLES order): read per call, never kept."""
    return [key for key in (_raw(name) for name in KEY_VARIABLES) if key]
