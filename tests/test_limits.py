"""Every LAB_* setting is read in modules/limits.py only, listed there and in the README, and a bad value is named."""

import ast
import re
from pathlib import Path

import pytest

from modules import limits
from modules.models import decoding

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("modules", "evals", "spaces", "benchmarks")
SOURCES = [ROOT / "app.py", *(path for folder in FOLDERS for path in sorted((ROOT / folder).rglob("*.py")))]
NAME = re.compile(r"\bLAB_[A-Z][A-Z_]*[A-Z]\b")


def environ(node: ast.AST) -> bool:
    return ast.unparse(node) == "os.environ"


def env_reads(tree: ast.AST):
    """The LAB_* names a file reads from os.environ: .get(), getenv(), [name] (not an assignment) and `in`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and ast.unparse(node.func) in ("os.environ.get", "os.getenv") and node.args:
            key = node.args[0]
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and environ(node.value):
            key = node.slice
        elif isinstance(node, ast.Compare) and any(map(environ, node.comparators)):
            key = node.left
        else:
            continue
        if isinstance(key, ast.Constant) and isinstance(key.value, str) and key.value.startswith("LAB_"):
            yield key.value


def used_names() -> set[str]:
    return {name for path in SOURCES for name in NAME.findall(path.read_text(encoding="utf-8"))}


def listed_in_limits() -> set[str]:
    return set(re.findall(r"^(LAB_[A-Z_]+) ", limits.__doc__, re.MULTILINE))


def readme_settings() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return readme.split("### Settings (LAB_* environment variables)", 1)[1].split("\n#", 1)[0]


def test_no_file_but_limits_reads_a_lab_variable():
    # modules/space.py only sets defaults (setdefault), the CLI's --base-url sets one: writes, not reads.
    readers = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in SOURCES
        if path != ROOT / "modules" / "limits.py"
        for name in env_reads(ast.parse(path.read_text(encoding="utf-8")))
    }
    assert not readers


def test_every_lab_variable_is_listed_in_limits_and_the_readme():
    used = used_names()
    assert len(used) >= 20 and "LAB_HOME" in used
    assert used <= listed_in_limits(), "add these to modules/limits.py's docstring"
    section = readme_settings()
    assert not {name for name in listed_in_limits() if f"`{name}`" not in section}, "add these to the README's table"


def test_every_listed_variable_is_read_by_limits():
    code = Path(limits.__file__).read_text(encoding="utf-8").split('"""', 2)[2]  # past the docstring
    read = set(re.findall(r'"(LAB_[A-Z_]+)"', code))
    assert read == listed_in_limits()
    assert set(limits.DECODE_CHOICES) == set(decoding.SETTINGS)


def clear(monkeypatch) -> None:
    for name in listed_in_limits() | {"SPACE_ID"}:
        monkeypatch.delenv(name, raising=False)


def test_defaults(monkeypatch):
    clear(monkeypatch)
    assert limits.home() == Path.home() / ".cache" / "llm-technique-lab"
    assert limits.per_session() is False and limits.warm_model() is False and limits.allow_remote_urls() is False
    assert limits.allow_code_execution() is True and limits.sandbox_bwrap() is True
    assert (limits.max_new_tokens(), limits.max_train_steps(), limits.queue_size()) == (4096, 10_000, 16)
    assert (limits.upload_max_bytes(), limits.upload_max_files()) == (5 * 2**20, 20)
    assert (limits.max_variants(), limits.max_bases(), limits.max_embedders()) == (4, 2, 2)
    assert (limits.model(), limits.decode(), limits.openai_base_url()) == ("", "auto", "")
    assert (limits.openai_concurrency(), limits.openai_timeout_s(), limits.openai_context()) == (4, 120, None)
    assert limits.session_ttl_s() == 24 * 3600
    monkeypatch.setenv("SPACE_ID", "someone/lab")
    assert limits.per_session() is True


@pytest.mark.parametrize(("value", "expected"), [*((v, True) for v in limits.YES), *((v, False) for v in limits.NO)])
def test_one_yes_no_parser(value, expected, monkeypatch):
    monkeypatch.setenv("SPACE_ID", "someone/lab")  # an explicit value wins over the Space's default
    for name, read in [("LAB_PER_SESSION", limits.per_session), ("LAB_WARM_MODEL", limits.warm_model),
                       ("LAB_ALLOW_CODE_EXECUTION", limits.allow_code_execution)]:  # fmt: skip
        monkeypatch.setenv(name, f" {value.upper()} ")
        assert read() is expected


@pytest.mark.parametrize(
    ("name", "value", "read", "message"),
    [
        ("LAB_MAX_NEW_TOKENS", "abc", limits.max_new_tokens, "must be a number of at least 1, got 'abc'"),
        ("LAB_MAX_NEW_TOKENS", "0", limits.max_new_tokens, "must be a number of at least 1, got '0'"),
        ("LAB_SESSION_DISK_MB", "inf", limits.session_disk_bytes, "must be a number of at least 0"),
        ("LAB_OPENAI_CONCURRENCY", "100", limits.openai_concurrency, "must be a number from 1 to 64, got '100'"),
        ("LAB_PER_SESSION", "maybe", limits.per_session, "must be yes or no \\(1/true/yes/on or 0/false/no/off\\)"),
        ("LAB_SANDBOX_BWRAP", "2", limits.sandbox_bwrap, "must be yes or no"),
        ("LAB_DECODE", "turbo", limits.decode, "must be one of auto, eager, static, compiled, got 'turbo'"),
    ],
)  # fmt: skip
def test_a_bad_value_names_the_variable_and_what_it_takes(name, value, read, message, monkeypatch):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError, match=f"{name} {message}"):
        read()


def test_values_are_read_when_asked(monkeypatch):
    monkeypatch.setenv("LAB_UPLOAD_MAX_MB", "0.5")
    monkeypatch.setenv("LAB_OPENAI_BASE_URL", " http://127.0.0.1:8000/v1/ ")
    monkeypatch.setenv("LAB_DECODE", "Static")
    monkeypatch.setenv("LAB_OPENAI_CONTEXT", "2048")
    assert limits.upload_max_bytes() == 2**19 and limits.openai_base_url() == "http://127.0.0.1:8000/v1"
    assert limits.decode() == "static" and limits.openai_context() == 2048
