"""The sandbox for model-written code (PAL): five layers, each able to stop an attack on its own.

1. Static check (here, before anything runs): `ast` parse; only allow-listed imports; no dunder names or
   attributes; no exec/eval/compile/open/getattr/... calls.
2. A fresh interpreter per run (`python -I -S -B`, never a fork of the app), empty environment, a new empty
   temp directory as working directory, deleted afterwards.
3. Inside the child (modules/sandbox_child.py): rlimits (CPU, address space, file size 0, few open files, no
   new processes), a sys.addaudithook that refuses file opens, sockets, processes, ctypes and module loads,
   and builtins without open/exec/eval/getattr/....
4. Outside: a wall-clock timeout that kills the child's whole process group; output capped.
5. Where it works here (bubblewrap + user namespaces): the child runs with no network and a read-only
   filesystem, with the repo and LAB_HOME hidden. Detected once at first use, never assumed.
LAB_ALLOW_CODE_EXECUTION=0 switches execution off; runs then report that instead of running.
"""

import ast
import contextlib
import functools
import importlib
import marshal
import os
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import types
from dataclasses import asdict, dataclass, field
from pathlib import Path

from modules.limits import allow_code_execution, sandbox_bwrap
from modules.paths import lab_home

ALLOWED_IMPORTS = ("math", "fractions", "decimal", "statistics", "itertools", "functools", "datetime", "re")
BANNED_CALLS = frozenset(
    {"exec", "eval", "compile", "open", "input", "globals", "locals", "vars", "getattr", "setattr", "delattr"}
    | {"breakpoint", "__import__", "help", "exit", "quit", "memoryview"}
)
# Attributes that lead out of plain arithmetic: frames and code objects, format-string walks, type internals.
BANNED_ATTRIBUTE_PREFIXES = ("gi_", "cr_", "ag_", "tb_", "f_", "co_", "func_", "im_")
BANNED_ATTRIBUTES = frozenset({"format", "format_map", "mro", "modules"})
# Modules reachable as attributes of the allowed ones (statistics.sys, re.enum, ...): never by name.
MODULE_ATTRIBUTES = frozenset(
    name
    for module in ALLOWED_IMPORTS
    for name, value in vars(importlib.import_module(module)).items()
    if isinstance(value, types.ModuleType)
)
REPORT_CAP_BYTES = 1024 * 1024  # what the parent reads from the child at most; the child caps print() lower
# Passed with -c, so the child needs no file of ours (bubblewrap hides the repo from it).
CHILD_SOURCE = Path(__file__).with_name("sandbox_child.py").read_text()
REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Limits:
    wall_s: float = 5.0  # the parent kills the process group after this
    cpu_s: int = 5  # RLIMIT_CPU: SIGXCPU / SIGKILL in the child
    memory_bytes: int = 512 * 1024**2  # RLIMIT_AS; a 135M-model answer never needs more
    open_files: int = 16
    output_chars: int = 10_000  # print() beyond this is dropped inside the child
    max_code_chars: int = 20_000


@dataclass
class SandboxResult:
    kind: str  # ok | syntax | rejected | timeout | memory | error | crash | disabled
    result: str | None = None  # repr of the entry function's return value
    is_number: bool = False
    stdout: str = ""
    error: str | None = None
    duration_s: float = 0.0
    layers: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.kind == "ok"

    def to_dict(self) -> dict:
        return asdict(self)


def execution_allowed() -> bool:
    return allow_code_execution()


# ---- layer 1: static check


def _is_dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__")


def _banned_attribute(name: str) -> bool:
    return (
        name.startswith("_")
        or name in BANNED_CALLS
        or name in BANNED_ATTRIBUTES
        or name in MODULE_ATTRIBUTES
        or name.startswith(BANNED_ATTRIBUTE_PREFIXES)
    )


def static_problems(code: str) -> tuple[list[str], list[str]]:
    """(problems, imports): every construct the check rejects, and the allow-listed modules the code imports."""
    tree = ast.parse(code)
    problems, imports = [], []
    for node in ast.walk(tree):
        line = f"line {getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in ALLOWED_IMPORTS:
                    imports.append(alias.name)
                else:
                    problems.append(f"{line}: import of '{alias.name}' (allowed: {', '.join(ALLOWED_IMPORTS)})")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                problems.append(f"{line}: relative import")
            elif node.module not in ALLOWED_IMPORTS:
                problems.append(f"{line}: import of '{node.module}' (allowed: {', '.join(ALLOWED_IMPORTS)})")
            else:
                imports.append(node.module)
            problems += [f"{line}: import of '{a.name}'" for a in node.names if _banned_attribute(a.name)]
        elif isinstance(node, ast.Name) and (_is_dunder(node.id) or node.id in BANNED_CALLS):
            problems.append(f"{line}: name '{node.id}'")
        elif isinstance(node, ast.Attribute) and _banned_attribute(node.attr):
            problems.append(f"{line}: attribute '.{node.attr}'")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str | bytes) and _has_dunder(node.value):
            problems.append(f"{line}: string containing '__'")
        elif isinstance(node, ast.ClassDef | ast.Global | ast.Nonlocal | ast.AsyncFunctionDef | ast.Await | ast.Match):
            problems.append(f"{line}: {type(node).__name__} is not needed for arithmetic")
        elif isinstance(node, ast.arg | ast.FunctionDef | ast.keyword) and _is_dunder(
            getattr(node, "arg", None) or getattr(node, "name", "") or ""
        ):
            problems.append(f"{line}: dunder definition")
    return problems, sorted(set(imports))


def _has_dunder(value: str | bytes) -> bool:
    return ("__" if isinstance(value, str) else b"__") in value


# ---- layer 5 detection


@functools.cache
def bubblewrap_works() -> bool:
    """True when bwrap exists and can actually create its namespaces here (Spaces containers may refuse)."""
    if not sandbox_bwrap() or shutil.which("bwrap") is None:
        return False
    try:
        done = subprocess.run([*_bwrap_prefix(tempfile.gettempdir()), "/bin/true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _bwrap_prefix(workdir: str) -> list[str]:
    hidden = [str(REPO), str(lab_home())]  # the code, the store and the models are none of its business
    prefix = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--ro-bind", "/", "/"]
    prefix += ["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    for path in hidden:
        prefix += ["--tmpfs", path]
    return [*prefix, "--bind", workdir, workdir, "--chdir", workdir, "--"]


def active_layers() -> list[str]:
    layers = [
        "static check (ast allow-list)",
        "fresh isolated interpreter, empty env, temp dir",
        "rlimits + audit hook + reduced builtins",
        "wall-clock timeout, process-group kill, output cap",
    ]
    if bubblewrap_works():
        layers.append("bubblewrap: no network, read-only filesystem, repo and LAB_HOME hidden")
    return layers


# ---- running


def run_code(code: str, entry: str = "solution", limits: Limits = Limits(), static_check: bool = True) -> SandboxResult:
    """Run `code` and call its `entry()`; never raises for anything the code does. static_check=False is for
    the tests that prove the inner layers hold on their own."""
    if not execution_allowed():
        return SandboxResult("disabled", error="Code execution is switched off (LAB_ALLOW_CODE_EXECUTION=0).")
    layers = active_layers() if static_check else active_layers()[1:]
    if len(code) > limits.max_code_chars:
        return SandboxResult(
            "rejected", error=f"The code is {len(code)} characters; the limit is {limits.max_code_chars}."
        )
    try:
        problems, imports = static_problems(code)
    except SyntaxError as error:
        return SandboxResult("syntax", error=f"SyntaxError: {error.msg} (line {error.lineno})", layers=layers)
    if static_check and problems:
        return SandboxResult("rejected", error="Rejected: " + "; ".join(problems[:5]), layers=layers)
    return _run_child(code, entry, limits, [m for m in imports if m in ALLOWED_IMPORTS], layers, static_check)


def _run_child(code, entry, limits, imports, layers, static_check) -> SandboxResult:
    workdir = tempfile.mkdtemp(prefix="lab-sandbox-")
    nonce = secrets.token_hex(16)
    request = {
        "code": code,
        "entry": entry,
        "nonce": nonce,
        "imports": imports,
        "allowed_imports": list(ALLOWED_IMPORTS),
        "no_classes": static_check,
        "limits": asdict(limits),
    }
    python = os.path.realpath(sys.executable)  # the base interpreter: -I -S needs no venv, bwrap hides the repo
    command = [python, "-I", "-S", "-B", "-c", CHILD_SOURCE]
    if bubblewrap_works():
        command = [*_bwrap_prefix(workdir), *command]
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=workdir,
        env={},
        start_new_session=True,  # its own process group, so a kill takes everything it started
        close_fds=True,
    )
    try:
        stdout, stderr, ended = _collect(process, marshal.dumps(request), limits.wall_s)
    finally:
        _kill_group(process)  # anything the code left behind in its group goes too
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=2)
        shutil.rmtree(workdir, ignore_errors=True)
    duration = time.perf_counter() - started
    if ended == "timeout":
        return SandboxResult("timeout", error=f"Timed out after {limits.wall_s:g} s (wall clock); killed.",
                             duration_s=duration, layers=layers)  # fmt: skip
    if ended == "overflow":
        return SandboxResult("crash", error=f"The code wrote more than {REPORT_CAP_BYTES} bytes; killed.",
                             duration_s=duration, layers=layers)  # fmt: skip
    reports = [line for line in stdout.decode("utf-8", "replace").splitlines() if line.startswith(nonce)]
    if len(reports) == 1:
        try:
            payload = ast.literal_eval(reports[0][len(nonce) :])  # plain values only; safe on untrusted text
            return SandboxResult(**payload, duration_s=duration, layers=layers)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            pass
    if reports:
        return SandboxResult("crash", error="The code tampered with the sandbox's report; it was discarded.",
                             duration_s=duration, layers=layers)  # fmt: skip
    return SandboxResult(_crash_kind(process.returncode), error=_crash_message(process.returncode, stderr),
                         duration_s=duration, layers=layers)  # fmt: skip


def _collect(process: subprocess.Popen, request: bytes, wall_s: float) -> tuple[bytes, bytes, str]:
    """Send the request; read stdout/stderr until both close ("done"), the deadline ("timeout") or the size
    cap ("overflow"). Never waits past the deadline, even if something of the child keeps a pipe open."""
    deadline = time.monotonic() + wall_s
    with contextlib.suppress(BrokenPipeError):
        process.stdin.write(request)  # the request is small: it fits the pipe buffer
        process.stdin.close()
    chunks = {process.stdout: [], process.stderr: []}
    size = 0
    with selectors.DefaultSelector() as selector:
        for stream in chunks:
            selector.register(stream, selectors.EVENT_READ)
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return b"".join(chunks[process.stdout]), b"".join(chunks[process.stderr]), "timeout"
            for key, _ in selector.select(remaining):
                data = os.read(key.fd, 65536)
                if not data:
                    selector.unregister(key.fileobj)
                    continue
                chunks[key.fileobj].append(data)
                size += len(data)
                if size > REPORT_CAP_BYTES:
                    return b"", b"", "overflow"
    return b"".join(chunks[process.stdout]), b"".join(chunks[process.stderr]), "done"


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


# bwrap reports its child's death by signal as exit 128 + signal; a bare child shows it as -signal.
LIMIT_SIGNALS = (signal.SIGXCPU, signal.SIGKILL)


def _killed_by_limit(returncode: int) -> bool:
    return any(returncode in (-sig, 128 + sig) for sig in LIMIT_SIGNALS)


def _crash_kind(returncode: int) -> str:
    return "timeout" if _killed_by_limit(returncode) else "crash"


def _crash_message(returncode: int, stderr: bytes) -> str:
    if _killed_by_limit(returncode):
        return "Stopped by the CPU-time limit."
    tail = stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
    return f"The child process died (exit {returncode}) without a result. {tail[0][:300]}".strip()
