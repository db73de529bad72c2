"""Escape attempts against the PAL sandbox: each must leave no trace outside the child, with and without bubblewrap."""

import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

import modules.sandbox as sandbox
from modules.sandbox import Limits, run_code, static_problems
from modules.store import Store

LIMITS = Limits(wall_s=3, cpu_s=2)
KINDS = {"ok", "syntax", "rejected", "timeout", "memory", "error", "crash", "disabled"}

# ---- attack building blocks. Every attempt sees these module-level names, filled in per test by World:
# READS (files it must not read), WRITES (paths it must not create), SHELL (a command whose every part leaves a
# trace), PORT (the test's listener), PARENT (the test process), VICTIM (a bystander process), MARK (a tag
# for processes it must not leave behind).

# Given m, the child's __main__ globals: empty the audit hook's deny-list, then try every effect at once.
PAYLOAD = """
    for key, value in list(m.items()):
        if isinstance(value, tuple | frozenset) and "open" in value:
            m[key] = type(value)()
    modules = m["sys"].modules
    os, io, load = modules["os"], modules["io"], m.get("ORIGINAL_IMPORT")
    out = []
    for path in READS:
        try:
            out.append(io.FileIO(path).readall()[:100].decode("latin-1"))
        except Exception as error:
            out.append(repr(error)[:50])
    for path in WRITES:
        try:
            io.FileIO(path, "w")
        except Exception as error:
            out.append(repr(error)[:50])
    for act in (
        lambda: os.system(SHELL),
        lambda: load("socket").create_connection(("127.0.0.1", PORT), 1),
        lambda: os.kill(PARENT, 10),
        lambda: os.kill(VICTIM, 15),
    ):
        try:
            act()
        except Exception as error:
            out.append(repr(error)[:50])
    return out
"""
# Routes to the child's __main__ globals (the audit hook's own state), each ending with `m`.
BY_GENERATOR_FRAME = """
def solution():
    def walk():
        yield me.gi_frame.f_back.f_back.f_globals
    me = walk()
    m = next(me)
"""
BY_MATCH_PATTERN = """
def solution():
    u = "_" * 2
    match solution:
        case object(__globals__=namespace):
            pass
    match namespace[u + "builtins" + u][u + "import" + u]:
        case object(__globals__=m):
            pass
"""
BY_IMPORT_GLOBALS = """
def solution():
    m = __import__.__globals__
"""
BY_TRACEBACK = """
def solution():
    try:
        1 / 0
    except ZeroDivisionError as error:
        m = error.__traceback__.tb_frame.f_back.f_globals
"""
BY_COROUTINE_FRAME = """
def solution():
    async def walk():
        return me.cr_frame.f_back.f_back.f_globals
    me = walk()
    try:
        me.send(None)
    except StopIteration as stop:
        m = stop.value
"""
BY_SYS_MODULES = """
def solution():
    m = print.__self__.__import__("sys").modules["__main__"].__dict__
"""
BY_GC = """
def solution():
    gc = __loader__.load_module("gc")
    m = [o for o in gc.get_objects() if type(o) is dict and "BLOCKED_EVENT_PREFIXES" in o][0]
"""
BY_SUBCLASSES = """
def solution():
    def every(cls):
        for sub in type.__subclasses__(cls):
            yield sub
            yield from every(sub)
    m = [c for c in every(object) if c.__name__ == "CappedOutput"][0].write.__globals__
"""
BY_GETATTRIBUTE = """
def solution():
    u = chr(95) * 2
    namespace = object.__getattribute__(solution, u + "globals" + u)
    m = object.__getattribute__(namespace[u + "builtins" + u][u + "import" + u], u + "globals" + u)
"""
BY_ALLOWED_MODULE = """
import statistics

def solution():
    sys = statistics.sys
    main = sys.modules["_" + "_main_" + "_"]
    main.BLOCKED_EVENT_PREFIXES = ()
    m = {"sys": sys, "ORIGINAL_IMPORT": main.ORIGINAL_IMPORT}
"""
BY_FROM_ALLOWED_IMPORT = """
from datetime import sys

def solution():
    main = sys.modules["_" + "_main_" + "_"]
    main.BLOCKED_EVENT_PREFIXES = ()
    m = {"sys": sys, "ORIGINAL_IMPORT": main.ORIGINAL_IMPORT}
"""
# os through the real builtins module: the hook is still on, so these test the hook itself.
OS = """
def solution():
    os = print.__self__.__import__("os")
"""

ATTEMPTS = {
    # __subclasses__ walks
    "subclasses_wrap_close_system": """
def solution():
    for cls in ().__class__.__bases__[0].__subclasses__():
        if cls.__name__ == "_wrap_close":
            return cls.__init__.__globals__["system"](SHELL)
""",
    "subclasses_wrap_close_os_read": """
def solution():
    for cls in ().__class__.__bases__[0].__subclasses__():
        if cls.__name__ == "_wrap_close":
            g = cls.__init__.__globals__
            return [g["read"](g["open"](path, 0), 100) for path in READS]
""",
    "subclasses_catch_warnings": """
def solution():
    for cls in object.__subclasses__():
        if cls.__name__ == "catch_warnings":
            return cls()._module.__builtins__["__import__"]("os").system(SHELL)
    return "absent"
""",
    "subclasses_popen": """
def solution():
    def every(cls):
        for sub in type.__subclasses__(cls):
            yield sub
            yield from every(sub)
    for cls in every(object):
        if cls.__name__ == "Popen":
            return cls(["sh", "-c", SHELL]).wait()
    return "absent"
""",
    "subclasses_fileio": """
def solution():
    def every(cls):
        for sub in type.__subclasses__(cls):
            yield sub
            yield from every(sub)
    fileio = [c for c in every(object) if c.__name__ == "FileIO"][0]
    return [fileio(path).read(100) for path in READS] + [fileio(path, "w") for path in WRITES]
""",
    "subclasses_globals_with_sys": """
def solution():
    def every(cls):
        for sub in type.__subclasses__(cls):
            yield sub
            yield from every(sub)
    for cls in every(object):
        g = getattr(cls.__init__, "__globals__", {})
        if "sys" in g:
            return g["sys"].modules["os"].system(SHELL)
""",
    "subclasses_builtin_importer": """
def solution():
    for cls in object.__subclasses__():
        if cls.__name__ == "BuiltinImporter":
            return cls.load_module("posix").system(SHELL)
""",
    "subclasses_main_globals_hook_off": BY_SUBCLASSES + PAYLOAD,
    # __globals__ / __builtins__ recovery
    "function_globals_builtins_import": """
def solution():
    return solution.__globals__["__builtins__"]["__import__"]("os").system(SHELL)
""",
    "builtins_dict_open": """
def solution():
    return __builtins__["open"](READS[0]).read()
""",
    "print_self_open": """
def solution():
    return [print.__self__.open(path).read(100) for path in READS]
""",
    "print_self_import_os_system": OS + "    return os.system(SHELL)\n",
    "import_globals_os_system": """
def solution():
    return __import__.__globals__["os"].system(SHELL)
""",
    "import_globals_hook_off": BY_IMPORT_GLOBALS + PAYLOAD,
    "sys_modules_main_hook_off": BY_SYS_MODULES + PAYLOAD,
    "builtins_module_exec": """
def solution():
    return print.__self__.exec("import os; os.system(SHELL)")
""",
    "exec_budget_reset": """
def solution():
    __import__.__globals__["state"]["exec_allowed"] = 99
    return print.__self__.exec("import os; os.system(SHELL)", {"SHELL": SHELL})
""",
    # format strings (read-only attribute walks) and names built at run time
    "format_dunder_walk": """
def solution():
    return "{0.__class__.__bases__[0].__subclasses__}".format(())
""",
    "format_globals_environ": """
def solution():
    return "{0.__globals__[__builtins__][__import__].__globals__[os].environ}".format(solution)
""",
    "format_concatenated_dunder": """
def solution():
    return ("{0." + "_" + "_class" + "_" + "_}").format(1)
""",
    "format_chr95_request": """
def solution():
    u = chr(95) * 2
    path = "globals" + u + "[" + u + "builtins" + u + "][" + u + "import" + u + "]." + u + "globals" + u
    return ("{0." + u + path + "[request]}").format(solution)
""",
    "format_bytes_constant": """
def solution():
    return b"{0.__class__.__mro__}".decode().format(1)
""",
    "format_map_dunder": """
def solution():
    return "{x.__init__.__globals__}".format_map({"x": solution})
""",
    "fstring_dunder": """
def solution():
    return f"{solution.__globals__['__builtins__']}"
""",
    "getattribute_chr95_hook_off": BY_GETATTRIBUTE + PAYLOAD,
    "getattr_runtime_name": """
def solution():
    return getattr(print, "_" * 2 + "self" + "_" * 2).open(READS[0]).read()
""",
    "vars_builtins_open": """
def solution():
    return vars(print.__self__)["open"](READS[0]).read()
""",
    "join_name_frame_builtins": """
def solution():
    builtins = (x for x in ()).gi_frame.f_builtins
    return [builtins.get(name) for name in ("".join(["op", "en"]), "ex" + "ec", "ev" + "al")]
""",
    "type_dict_subclasses": """
def solution():
    for cls in type.__dict__["__subclasses__"](object):
        if cls.__name__ == "_wrap_close":
            return cls.__init__.__globals__["system"](SHELL)
""",
    "type_builds_class": """
def solution():
    return type("Box", (), {"value": 4}).value
""",
    # frame walks
    "generator_frame_builtins": """
def solution():
    return (x for x in ()).gi_frame.f_builtins.get("open")
""",
    "generator_frame_main_hook_off": BY_GENERATOR_FRAME + PAYLOAD,
    "traceback_frame_main_hook_off": BY_TRACEBACK + PAYLOAD,
    "coroutine_frame_main_hook_off": BY_COROUTINE_FRAME + PAYLOAD,
    "generator_frame_pidfd_signal": BY_GENERATOR_FRAME
    + """
    os, sig, out = m["os"], m["sys"].modules["_signal"], []
    for pid, number in ((VICTIM, 15), (PARENT, 10)):
        try:
            sig.pidfd_send_signal(os.pidfd_open(pid), number)
        except Exception as error:
            out.append(repr(error)[:50])
    return out
""",
    "generator_frame_mknod": BY_GENERATOR_FRAME
    + """
    return [m["os"].mknod(path) for path in WRITES]
""",
    "generator_frame_parent_memory_scan": BY_GENERATOR_FRAME
    + """
    m["BLOCKED_EVENT_PREFIXES"] = ()
    os, io = m["sys"].modules["os"], m["sys"].modules["io"]
    needle = ("LAB_SANDBOX" + "_SECRET=").encode()
    memory = io.FileIO("/proc/%d/mem" % PARENT)
    for line in io.FileIO("/proc/%d/maps" % PARENT).readall().decode().splitlines():
        span, perms = line.split()[:2]
        start, end = [int(x, 16) for x in span.split("-")]
        while "rw" in perms and start < end:
            try:
                memory.seek(start)
                data = memory.read(min(end - start, 1 << 22))
            except OSError:
                break
            if needle in data:
                return data[data.find(needle):][:60]
            start += 1 << 22
    return "not found"
""",
    # match statements: class patterns read any attribute by a name the check never sees
    "match_pattern_main_hook_off": BY_MATCH_PATTERN + PAYLOAD,
    # lambda defaults and decorators
    "lambda_default_globals": """
def solution():
    return (lambda g=solution.__globals__: g["__builtins__"]["__import__"]("os").system(SHELL))()
""",
    "decorator_globals": """
def solution():
    @(lambda f: f.__globals__["__builtins__"]["__import__"]("os"))
    def os():
        pass
    return os.system(SHELL)
""",
    "decorator_builtins_module": """
def solution():
    @(lambda f: print.__self__.__import__("os").system(SHELL))
    def done():
        pass
    return done
""",
    # imports
    "import_os": "import os\n\ndef solution():\n    return os.system(SHELL)\n",
    "from_os_import_system": "from os import system\n\ndef solution():\n    return system(SHELL)\n",
    "import_os_path": "import os.path\n\ndef solution():\n    return os.system(SHELL)\n",
    "relative_import": "from . import os\n\ndef solution():\n    return os.system(SHELL)\n",
    "dunder_import_call": """
def solution():
    return __import__("os").system(SHELL)
""",
    "importlib_import_module": """
import importlib

def solution():
    return importlib.import_module("os").system(SHELL)
""",
    "sys_modules_os": "import sys\n\ndef solution():\n    return sys.modules['os'].system(SHELL)\n",
    "loader_load_posix": """
def solution():
    return __loader__.load_module("posix").system(SHELL)
""",
    "spec_loader_load_posix": """
def solution():
    return __spec__.loader.load_module("posix").system(SHELL)
""",
    "loader_gc_hook_off": BY_GC + PAYLOAD,
    "allowed_module_sys_os": """
import fractions

def solution():
    return fractions.sys.modules["os"].system(SHELL)
""",
    "allowed_module_sys_hook_off": BY_ALLOWED_MODULE + PAYLOAD,
    "from_allowed_import_sys_hook_off": BY_FROM_ALLOWED_IMPORT + PAYLOAD,
    "import_dunder_from_allowed": "from math import __loader__\n\ndef solution():\n    return __loader__\n",
    "create_dynamic_ctypes": """
def solution():
    sys = print.__self__.__import__("sys")
    folder = [p for p in sys.path if p.endswith("lib-dynload")][0]
    spec = type("Spec", (), {"name": "_ctypes", "origin": folder + "/_ctypes.cpython-311-x86_64-linux-gnu.so"})
    return sys.modules["_imp"].create_dynamic(spec())
""",
    # files
    "io_open": OS + '    return [print.__self__.__import__("io").open(path).read(100) for path in READS]\n',
    "codecs_open": OS + '    return [print.__self__.__import__("codecs").open(path).read(100) for path in READS]\n',
    "pathlib_read": OS + '    return print.__self__.__import__("pathlib").Path(READS[0]).read_text()\n',
    "os_open_read": OS + "    return [os.read(os.open(path, 0), 100) for path in READS]\n",
    "open_for_write": OS + '    return [print.__self__.open(path, "w") for path in WRITES]\n',
    "os_mknod_mkfifo": OS + "    return [os.mknod(WRITES[0]), os.mkfifo(WRITES[1]), os.mknod(WRITES[2])]\n",
    # environment
    "child_environ": OS + "    return dict(os.environ)\n",
    "parent_proc_environ": OS + '    return print.__self__.open("/proc/%d/environ" % PARENT).read()\n',
    # sockets
    "import_socket": """
import socket

def solution():
    return socket.create_connection(("127.0.0.1", PORT), 1)
""",
    "socket_via_builtins_import": """
def solution():
    return print.__self__.__import__("socket").create_connection(("127.0.0.1", PORT), 1)
""",
    "socket_via_original_import": """
def solution():
    return __import__.__globals__["ORIGINAL_IMPORT"]("socket").create_connection(("127.0.0.1", PORT), 1)
""",
    # processes and signals
    "import_subprocess": "import subprocess\n\ndef solution():\n    return subprocess.run(SHELL, shell=True)\n",
    "os_popen": OS + "    return os.popen(SHELL).read()\n",
    "os_fork": OS + "    if os.fork() == 0:\n        os.system(SHELL)\n        os._exit(0)\n",
    "os_posix_spawn": OS + '    return os.posix_spawn("/bin/sh", ["sh", "-c", SHELL], {})\n',
    "os_execv": OS + '    return os.execv("/bin/sh", ["sh", "-c", SHELL])\n',
    "os_kill_parent": OS + "    return [os.kill(os.getppid(), 10), os.kill(PARENT, 10), os.kill(VICTIM, 15)]\n",
    "pidfd_signal_hook_on": OS
    + '    sig = print.__self__.__import__("_signal")\n'
    + "    return [sig.pidfd_send_signal(os.pidfd_open(pid), n) for pid, n in ((VICTIM, 15), (PARENT, 10))]\n",
    "survivor_outlives_run": BY_GENERATOR_FRAME
    + """
    m["BLOCKED_EVENT_PREFIXES"] = ()
    os = m["os"]
    if os.fork() == 0:
        os.setsid()
        os.closerange(0, 3)
        os.execv("/bin/sleep", ["sleep", MARK])
    m["sys"].modules["time"].sleep(0.3)
    return "forked"
""",
    "survivor_holds_output_pipe": BY_GENERATOR_FRAME
    + """
    m["BLOCKED_EVENT_PREFIXES"] = ()
    os = m["os"]
    if os.fork() == 0:
        os.setsid()
        os.execv("/bin/sleep", ["sleep", "5"])
    m["sys"].modules["time"].sleep(0.3)
    return "forked"
""",
    # ctypes
    "import_ctypes": """
import ctypes

def solution():
    return ctypes.CDLL(None).system(SHELL.encode())
""",
    "ctypes_via_builtins_import": """
def solution():
    return print.__self__.__import__("ctypes").CDLL(None).system(SHELL.encode())
""",
    # exec / eval / compile
    "exec_string": 'def solution():\n    exec("import os; os.system(SHELL)")\n',
    "eval_chr_obfuscated": """
def solution():
    return eval("".join(chr(c) for c in [95, 95, 105, 109, 112, 111, 114, 116, 95, 95]) + "('os')")
""",
    "compile_function_type": """
def solution():
    code = compile("import os\\nos.system(SHELL)", "x", "exec")
    return type(solution)(code, {"SHELL": SHELL})()
""",
    "code_replace": """
def solution():
    return type(solution)(solution.__code__.replace(co_consts=(None,)), {})()
""",
    "builtins_module_eval": OS + '    return print.__self__.eval("print.__self__.open(READS[0]).read()")\n',
    "frame_builtins_exec": """
def solution():
    found = (x for x in ()).gi_frame.f_builtins.get("exec")
    return found("import os; os.system(SHELL)") if found else "absent"
""",
    # breakpoint and exits
    "breakpoint_call": "def solution():\n    breakpoint()\n",
    "builtins_module_breakpoint": "def solution():\n    print.__self__.breakpoint()\n",
    "system_exit": "def solution():\n    raise SystemExit(0)\n",
    "keyboard_interrupt": "def solution():\n    raise KeyboardInterrupt\n",
    "exit_call": "def solution():\n    exit(0)\n",
    "os_exit": OS + "    os._exit(0)\n",
}
# Attempts the static check lets through: either harmless on purpose or a way around it (then a hole below).
STATIC_PASSES = {
    # Harmless: they parse, pass the static check and do nothing outside the computation.
    "type_builds_class",
    "system_exit",
    "keyboard_interrupt",
}
# Known holes, as observed: name -> ({(static_check, mode) where it succeeds}, why). Strict xfail: a fix shows.
HOOK_OFF = (
    "the audit hook's deny-list (BLOCKED_EVENT_PREFIXES) is a global of the child's __main__, which the code "
    "reaches; emptying it switches the hook off. Then, with bubblewrap, everything outside the repo and LAB_HOME "
    "is readable (/etc/passwd); without it, the code is the test's user (root here): files, network, signals"
)
FRAMES = "the static check lets frame attributes through (gen.gi_frame.f_back.f_back.f_globals is __main__); "
MATCH = "match/case class patterns read any attribute (case object(__globals__=g)); the check never sees them; "
ALLOWED = "allowed modules carry sys (statistics.sys, `from datetime import sys`), so sys.modules['__main__']; "
NO_BWRAP, BWRAP = "no-bwrap", "bwrap"
EVERYWHERE = {(True, BWRAP), (True, NO_BWRAP)}
# Forking (RLIMIT_NPROC=0) and reading another process's memory (ptrace rules) only work for root.
AS_ROOT_WITHOUT_BWRAP = {(True, NO_BWRAP)} if os.geteuid() == 0 else set()
INNER_EVERYWHERE = {(False, BWRAP), (False, NO_BWRAP)}
HOLES: dict[str, tuple[set[tuple[bool, str]], str]] = {}


@dataclass
class World:
    """What the code must not touch, and the checks that it did not."""

    reads: list[str]
    writes: list[Path]
    forbidden: list[str]
    listener: socket.socket
    victim: subprocess.Popen
    parent: int
    mark: str
    received: list[int] = field(default_factory=list)

    def prepare(self, code: str) -> str:
        shell = f"touch {' '.join(map(str, self.writes))}; kill -USR1 {self.parent}; kill {self.victim.pid}"
        names = {
            "READS": self.reads,
            "WRITES": [str(path) for path in self.writes],
            "SHELL": shell,
            "PORT": self.listener.getsockname()[1],
            "PARENT": self.parent,
            "VICTIM": self.victim.pid,
            "MARK": self.mark,
        }
        return "".join(f"{name} = {value!r}\n" for name, value in names.items()) + code

    def survivors(self) -> list[psutil.Process]:
        found = []
        for process in psutil.process_iter(["cmdline"]):
            if self.mark in " ".join(process.info["cmdline"] or []):
                found.append(process)
        return found

    def assert_untouched(self, result, elapsed: float, limits: Limits = LIMITS) -> None:
        assert result.kind in KINDS
        text = "\n".join(str(part) for part in (result.result, result.stdout, result.error))
        leaked = [secret for secret in self.forbidden if secret in text]
        assert not leaked, f"the code read {leaked}: {text[:500]}"
        created = [str(path) for path in self.writes if path.exists()]
        assert not created, f"the code created {created}"
        self.listener.settimeout(0.05)
        try:
            self.listener.accept()[0].close()
            connected = True
        except TimeoutError:
            connected = False
        assert not connected, "the code connected to the test's listener"
        time.sleep(0.02)  # a signal sent just before the child exited is handled by now
        assert not self.received, f"the test process received signals {self.received}"
        assert self.victim.poll() is None, "the code killed a bystander process"
        assert not self.survivors(), "a process the code started outlived the run"
        assert elapsed < limits.wall_s + 1, f"run_code took {elapsed:.1f} s"


@pytest.fixture(params=["bwrap-as-detected", "bwrap-off"])
def mode(request, monkeypatch) -> str:
    if request.param == "bwrap-off":
        # run_code and active_layers look the name up at call time, so this skips the cached detection.
        monkeypatch.setattr(sandbox, "bubblewrap_works", lambda: False)
    return "bwrap" if sandbox.bubblewrap_works() else "no-bwrap"


@pytest.fixture()
def world(lab_home, monkeypatch):
    token = secrets.token_hex(8)
    secret = "s3cret-" + secrets.token_hex(12)
    monkeypatch.setenv("LAB_SANDBOX_SECRET", secret)
    repo_canary = sandbox.REPO / f".sandbox-canary-{token}"
    home_canary = lab_home / f"sandbox-canary-{token}"
    repo_canary.write_text(f"repo-canary-{token}")
    home_canary.write_text(f"home-canary-{token}")
    Store(lab_home / "lab.db").close()
    scratch = Path(tempfile.gettempdir()) / f"sandbox-escape-{token}"  # mkdtemp names may hold "__"
    scratch.mkdir()
    writes = [scratch / "written", sandbox.REPO / f".sandbox-written-{token}", lab_home / f"sandbox-written-{token}"]
    parent = psutil.Process().pid
    passwd = Path("/etc/passwd").read_text()[:20]
    own_environ = Path(f"/proc/{parent}/environ").read_bytes().split(b"\0")[0].decode("latin-1")[:40]
    # "s3cret-" too: a secret an earlier test set may still sit in this process's memory.
    forbidden = [f"repo-canary-{token}", f"home-canary-{token}", "SQLite format 3", "s3cret-", secret, "uid=0(", passwd]
    forbidden += [own_environ] if re.fullmatch(r"[\w=/.:-]{8,}", own_environ) else []
    listener = socket.create_server(("127.0.0.1", 0))
    victim = subprocess.Popen(["sleep", "60"])
    mark = f"7.{secrets.randbelow(10**9):09d}"
    reads = [str(repo_canary), str(home_canary), str(lab_home / "lab.db"), "/etc/passwd", f"/proc/{parent}/environ"]
    state = World(reads, writes, forbidden, listener, victim, parent, mark)
    watched = (signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, lambda number, _frame: state.received.append(number)) for sig in watched}
    try:
        yield state
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for process in state.survivors():
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        victim.kill()
        victim.wait()
        listener.close()
        for path in [repo_canary, home_canary, *writes]:
            path.unlink(missing_ok=True)
        shutil.rmtree(scratch, ignore_errors=True)


def expect_hole(request, name: str, static_check: bool, mode: str) -> None:
    where, why = HOLES.get(name, (set(), ""))
    if (static_check, mode) in where:
        request.applymarker(pytest.mark.xfail(strict=True, reason=f"SANDBOX HOLE: {why}"))


def timed_run(code: str, static_check: bool):
    started = time.perf_counter()
    result = run_code(code, limits=LIMITS, static_check=static_check)
    return result, time.perf_counter() - started


def test_there_are_at_least_forty_distinct_attempts():
    assert len(ATTEMPTS) >= 40
    assert len(set(ATTEMPTS.values())) == len(ATTEMPTS)
    assert STATIC_PASSES.issubset(ATTEMPTS)
    assert set(HOLES).issubset(ATTEMPTS)


@pytest.mark.parametrize("name", list(ATTEMPTS))
def test_escape_attempt_has_no_effect(name, mode, world, request):
    expect_hole(request, name, True, mode)
    result, elapsed = timed_run(world.prepare(ATTEMPTS[name]), static_check=True)
    if name in STATIC_PASSES:
        assert result.kind != "rejected", result.error
    else:
        assert result.kind == "rejected", result
        assert result.error.startswith("Rejected: line ")
    world.assert_untouched(result, elapsed)


@pytest.mark.parametrize("name", [name for name in ATTEMPTS if name not in STATIC_PASSES])
def test_escape_attempt_has_no_effect_without_static_check(name, mode, world, request):
    expect_hole(request, name, False, mode)
    result, elapsed = timed_run(world.prepare(ATTEMPTS[name]), static_check=False)
    assert result.kind != "rejected"
    world.assert_untouched(result, elapsed)


def test_layers_name_bubblewrap_only_when_it_runs(mode):
    layers = run_code("def solution():\n    return 2 + 2\n", limits=LIMITS).layers
    assert any("bubblewrap" in layer for layer in layers) == (mode == "bwrap")
    assert len(layers) == 4 + (mode == "bwrap") and layers[0].startswith("static check")
    assert run_code("x = 1", static_check=False, limits=LIMITS).layers == layers[1:]  # all but the static check


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("import os", "import of 'os'"),
        ("from os import system", "import of 'os'"),
        ("import os.path", "import of 'os.path'"),
        ("from . import os", "relative import"),
        ("from math import __loader__", "import of '__loader__'"),
        ("__import__('os')", "name '__import__'"),
        ("x = __builtins__", "name '__builtins__'"),
        ("().__class__", "attribute '.__class__'"),
        ("f.__globals__", "attribute '.__globals__'"),
        ("x._wrap_close", "attribute '._wrap_close'"),
        ("e.__traceback__", "attribute '.__traceback__'"),
        ("print.__self__", "attribute '.__self__'"),
        ("'{0.__class__}'.format(1)", "string containing '__'"),
        ("f'{x.__class__}'", "attribute '.__class__'"),
        ("exec('1')", "name 'exec'"),
        ("eval('1')", "name 'eval'"),
        ("compile('1', 'x', 'exec')", "name 'compile'"),
        ("open('/etc/passwd')", "name 'open'"),
        ("getattr(x, 'y')", "name 'getattr'"),
        ("vars()", "name 'vars'"),
        ("globals()", "name 'globals'"),
        ("breakpoint()", "name 'breakpoint'"),
        ("exit(0)", "name 'exit'"),
        ("x.open('f')", "attribute '.open'"),
        ("class A:\n    pass", "ClassDef is not needed for arithmetic"),
        ("def f():\n    global x", "Global is not needed for arithmetic"),
        ("async def f():\n    await g()", "AsyncFunctionDef is not needed for arithmetic"),
        ("def __init__():\n    pass", "dunder definition"),
        ("f(__x__=1)", "dunder definition"),
        ("lambda __x__: 1", "dunder definition"),
    ],
)
def test_static_check_names_each_rejected_construct(code, message):
    problems, _ = static_problems(code)
    assert any(message in problem for problem in problems), problems
    assert all(problem.startswith("line ") for problem in problems)
    result = run_code(code, limits=LIMITS)
    assert result.kind == "rejected"
    assert message in result.error


def test_static_check_allows_plain_arithmetic():
    code = (
        "import math\nfrom fractions import Fraction\n\ndef solution():\n    return math.gcd(12, 18) + Fraction(1, 2)\n"
    )
    assert static_problems(code) == ([], ["fractions", "math"])
    assert run_code(code, limits=LIMITS).result == "Fraction(13, 2)"


@pytest.mark.parametrize("value", ["0", "false", "no", "off"])
def test_switched_off_execution_runs_nothing(value, world, monkeypatch):
    monkeypatch.setenv("LAB_ALLOW_CODE_EXECUTION", value)
    monkeypatch.setattr(sandbox, "bubblewrap_works", lambda: False)  # where a run would reach the host
    assert not sandbox.execution_allowed()
    for static_check in (True, False):
        result, elapsed = timed_run(world.prepare(ATTEMPTS["import_globals_hook_off"]), static_check)
        assert result.kind == "disabled"
        assert "LAB_ALLOW_CODE_EXECUTION=0" in result.error
        world.assert_untouched(result, elapsed)


# The child's own writer and nonce, reached past the static check: what can a forged report do to the parent?
FORGED_REPORTS = {
    "unparseable": 'g["write_result"](1, (g["NONCE"] + " {(\\n").encode())',
    "not_a_dict": 'g["write_result"](1, (g["NONCE"] + "[1]\\n").encode())',
    "unknown_field": 'g["finish"]({"kind": "ok", "result": "4", "extra": 1})',
    "forged_value": 'g["finish"]({"kind": "ok", "result": "999"})',
}


@pytest.mark.parametrize("forged", list(FORGED_REPORTS))
def test_forged_report_neither_raises_nor_is_believed(forged, mode):
    code = f"""
def solution():
    g = __import__.__globals__
    {FORGED_REPORTS[forged]}
    return 4
"""
    result = run_code(code, limits=LIMITS, static_check=False)
    assert result.kind in KINDS
    assert result.result in (None, "4"), "the parent reported a value the entry function did not return"
