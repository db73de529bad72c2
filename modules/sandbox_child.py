"""Runs inside the sandbox's child process (python -I -S): limits, audit hook, then the model's code.

Self-contained on purpose: under -I -S it cannot import the lab, and it must not. It reads one marshalled
request from stdin (from the trusted parent) and writes one line to the real stdout: a per-run nonce, then the
repr() of a dict of plain values, which the parent reads with ast.literal_eval (never marshal or pickle:
the child is the untrusted side). No json here: importing it (re, enum, ...) would double the start-up time.
"""

import builtins
import io
import marshal
import os
import resource
import sys

request = marshal.loads(sys.stdin.buffer.read())
NONCE = request["nonce"]
ALLOWED = frozenset(request["allowed_imports"])
write_result = os.write  # kept before the code runs; the code can reach neither os nor this name
exit_now = os._exit
REAL_STDOUT = 1

# Pre-import what the code asked for (already vetted) and the modules those load lazily, so the audit hook
# below can refuse every later module load (a load also opens files).
LAZY_DEPENDENCIES = {"datetime": ["_strptime"], "decimal": ["numbers"], "statistics": ["random"]}
for name in request["imports"]:
    for module in [name, *LAZY_DEPENDENCIES.get(name, [])]:
        __import__(module)


def set_limits(limits: dict) -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu_s"], limits["cpu_s"] + 1))
    resource.setrlimit(resource.RLIMIT_AS, (limits["memory_bytes"], limits["memory_bytes"]))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))  # no file may grow
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits["open_files"], limits["open_files"]))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))  # no new processes (root ignores it, hence the next step)


def drop_privileges() -> None:
    """As root, become nobody: limits can no longer be raised, other processes' memory and signals are out of
    reach, root-only files unreadable. Inside bubblewrap's user namespace the uid may not map; it is already
    cut off from the host there, so a refusal is fine."""
    if os.geteuid() != 0:
        return
    try:
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)
    except OSError:
        pass


def audit(event: str, args: tuple) -> None:
    """Refuse anything that touches the world outside the computation; raising aborts the operation.

    Only constants on purpose: no globals, closures or defaults the code could rebind to switch it off
    (replacing its __code__ is itself an audited event, refused below as object.__setattr__).
    """
    if event == "exec" and args and type(args[0]).__name__ == "code" and args[0].co_filename == "<model-code>":
        return  # our own exec of the vetted code (and the code re-running its own functions)
    if event.startswith((
        "open", "os.", "socket.", "subprocess.", "ctypes.", "shutil.", "pty.", "fcntl.", "msvcrt.", "winreg.",
        "urllib.", "http.", "ftplib.", "smtplib.", "telnetlib.", "webbrowser.", "sys.", "cpython.", "code.__new__",
        "function.__new__", "object.__setattr__", "object.__delattr__", "compile", "exec", "marshal.", "pickle.",
        "glob.", "tempfile.", "signal.", "resource.", "mmap.", "syslog.", "import", "_thread.", "gc.", "builtins.",
    )):  # fmt: skip
        raise PermissionError("sandbox: " + event + " is not allowed")


class CappedOutput(io.StringIO):
    """print() goes here; past the cap the rest is dropped, so a huge print cannot flood the parent."""

    def __init__(self, cap: int):
        super().__init__()
        self.cap, self.dropped = cap, 0

    def write(self, text: str) -> int:
        room = self.cap - self.tell()
        if room > 0:
            super().write(text[:room])
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)


def guarded_import(name, globals=None, locals=None, fromlist=(), level=0):
    if level != 0 or name.split(".")[0] not in ALLOWED:
        raise ImportError(f"sandbox: import of '{name}' is not allowed")
    return ORIGINAL_IMPORT(name, globals, locals, fromlist, level)


ORIGINAL_IMPORT = builtins.__import__
REMOVED_BUILTINS = (
    "open", "exec", "eval", "compile", "input", "globals", "locals", "vars", "getattr", "setattr", "delattr",
    "breakpoint", "help", "exit", "quit", "memoryview", "__loader__", "__spec__",
    "__build_class__" if request["no_classes"] else "",
)  # fmt: skip
safe_builtins = {k: v for k, v in vars(builtins).items() if k not in REMOVED_BUILTINS}
safe_builtins["__import__"] = guarded_import


def finish(payload: dict) -> None:
    payload["stdout"] = stdout.getvalue()
    if stdout.dropped:
        payload["stdout"] += f"\n[... {stdout.dropped} more characters dropped]"
    line = NONCE + repr(payload) + "\n"
    write_result(REAL_STDOUT, line.encode("utf-8", "backslashreplace"))


def describe(error: BaseException) -> str:
    """Type, message and the line in the code, without reading any file (linecache would open the source)."""
    line, tb = None, error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<model-code>":
            line = tb.tb_lineno
        tb = tb.tb_next
    where = f" (line {line})" if line else ""
    return f"{type(error).__name__}: {str(error)[:500]}{where}"


code = compile(request["code"], "<model-code>", "exec")
stdout = CappedOutput(request["limits"]["output_chars"])
sys.stdout = sys.stderr = stdout
set_limits(request["limits"])
drop_privileges()
for name in ("__loader__", "__spec__"):  # importer handles that load modules without an audited event
    vars(builtins).pop(name, None)
sys.addaudithook(audit)
namespace = {"__builtins__": safe_builtins, "__name__": "__sandbox__"}
try:
    exec(code, namespace)
    entry = namespace.get(request["entry"])
    if not callable(entry):
        finish({"kind": "error", "error": f"the code defines no function {request['entry']}()"})
    else:
        value = entry()
        finish({"kind": "ok", "result": repr(value)[:1000], "is_number": isinstance(value, int | float)})
except MemoryError:
    namespace.clear()  # free what the code allocated, so the report itself fits
    finish({"kind": "memory", "error": "MemoryError: the code went over the memory limit"})
except RecursionError as error:
    finish({"kind": "error", "error": describe(error)})
except BaseException as error:  # SystemExit and KeyboardInterrupt from the code are errors of the code too
    finish({"kind": "error", "error": describe(error)})
exit_now(0)  # right after the one report: no finalizer, thread or atexit hook of the code runs after it
