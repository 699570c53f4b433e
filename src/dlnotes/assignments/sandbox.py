"""Run one student's code in processes that the operating system isolates.

:func:`run_cells` starts ``python -I -S _sandbox_child.py`` inside a **bubblewrap**
sandbox (``bwrap``, the sandbox behind Flatpak; Debian package ``bubblewrap``) and sends
it the cells to run (only this student's code, the names of the answers to read back,
and the inputs to call a function on: never a solution). That first process (the
*zygote*, which runs no student code) forks one worker per cell and relays each worker's
one result line (see :mod:`._sandbox_child`). What the sandbox guarantees:

* **Nothing of the host but the Python installation.** A new mount namespace whose root
  is an empty, read-only tmpfs holding only ``/usr`` (and the ``/bin``, ``/lib*``
  symlinks), the Python installation and the folder NumPy is installed in, all
  read-only; a private ``/dev`` (null, zero, random, ...) and ``/tmp``; a ``/proc`` of
  the sandbox's own PID namespace; and ``/scratch``, the working folder, a tmpfs of
  ``Limits.scratch_mb``. No home folder, no ``/etc``, no ``/work``, no class set, no
  other submission, no grades: they do not exist in there, so no trick inside the
  interpreter can reach them. The scratch folder lives only in the sandbox's memory:
  nothing is left on the host disk.
* **Its own PID namespace**: the grader's processes cannot be seen or signalled, and
  killing the namespace's first process (what the grader does on a timeout, on every
  exit path and from bwrap's ``--die-with-parent`` if the grader itself is killed) kills
  everything the student started.
* **No network** (a new, empty network namespace), separate IPC and UTS namespaces, a
  new session (no terminal to inject into), an empty environment.
* **An unprivileged user with no capabilities** and ``no_new_privs``: uid/gid 1000 in a
  new user namespace when the grader is an ordinary user (user namespaces disabled
  inside); when the grader runs as root, bwrap runs privileged and the child drops to
  uid/gid 65534 ("nobody") before it imports anything, because a user namespace would
  map the sandbox user to host root (who ignores ``RLIMIT_NPROC`` and owns the files).
* **Limits that bind**, set by the child on itself as that user with soft = hard:
  address space (``Limits.memory_mb`` over the Python + NumPy baseline), CPU time, file
  size, open files, no core dumps and no new processes or threads (``RLIMIT_NPROC`` 0).

The parent owns the clock and the channel: each answer cell has a wall-clock deadline
(``Limits.seconds`` plus a grace period) and the submission has one in total; what comes
back is read in bounded lines, validated, and attributed to cells by the parent's own
count. Each cell runs alone in its own worker, from the namespace of the trusted setup
cell: a worker can write only its own result (its one line is read, then it is killed),
and cannot reach the zygote's channel to the grader (the zygote is not dumpable). A cell
that overruns, crashes or breaks the protocol costs that cell only; if it takes the whole
sandbox down, a new sandbox runs the cells after it.

If bubblewrap is missing or cannot create its namespaces, :func:`bubblewrap` raises
:class:`SandboxUnavailable`; grading then refuses to run unless the instructor asks for
:func:`unsafe_no_sandbox` (an ordinary child process in a scratch folder on the host,
guarded only by resource limits and an audit hook that student code can disable).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

__all__ = ["Limits", "Cell", "CellResult", "SandboxError", "SandboxUnavailable", "Isolation",
           "bubblewrap", "unsafe_no_sandbox", "find_bwrap", "run_cells", "kill_all",
           "cleanup_on_signals", "begin_run", "BWRAP_ENV", "MARK_ENV", "MARK"]

_CHILD = Path(__file__).with_name("_sandbox_child.py")
#: Environment variable naming the bwrap executable (default: ``bwrap`` on the PATH).
BWRAP_ENV = "DLNOTES_BWRAP"
#: Set in the environment of every process a grading run starts (bwrap and everything in
#: the sandbox), so that leftovers can be found: to :data:`MARK`.
MARK_ENV = "DLNOTES_SANDBOX"
#: This process's mark: inherited from the environment if set (a grader started by
#: another program keeps its mark), else random.
MARK = os.environ.get(MARK_ENV) or secrets.token_hex(8)
_GRACE = 1.5            # seconds the parent waits past the child's own timer
_MAX_LINE = 16 << 20    # bytes of one protocol line
_MAX_TOTAL = 64 << 20   # bytes one child may send in all
_MAX_ITEMS = 100_000    # numbers in one answer or output (as the child caps them)
_MAX_TEXT = 2_000       # characters of a text answer or an error message
_NOBODY = 65534         # uid/gid the child drops to when the grader is root
_INSIDE_ID = 1000       # uid/gid in the user namespace when the grader is not root
_SANDBOX_DIR = "/opt/dlnotes-sandbox"
_SCRATCH = "/scratch"
_TMP_MB = 16


@dataclass(frozen=True)
class Limits:
    """Resource limits of one submission.

    Attributes
    ----------
    seconds : float
        Wall-clock time per answer cell (> 0), default 10.
    memory_mb : int
        Memory a submission may allocate beyond the Python + NumPy baseline, default 512.
    file_mb : int
        Largest file the submission may write, default 16.
    startup_seconds : float
        Time allowed for one sandbox to start (import NumPy) before grading gives up,
        default 60.
    scratch_mb : int
        Size of the sandbox's working folder (a tmpfs in its memory), default 64.
    submission_seconds : float, optional
        Wall-clock time for all of one submission's cells together, restarts included;
        default ``startup_seconds + 2 * cells * (seconds + 1.5)``.
    """

    seconds: float = 10.0
    memory_mb: int = 512
    file_mb: int = 16
    startup_seconds: float = 60.0
    scratch_mb: int = 64
    submission_seconds: float | None = None

    def __post_init__(self):
        for name in ("seconds", "memory_mb", "file_mb", "startup_seconds", "scratch_mb",
                     "submission_seconds"):
            value = getattr(self, name)
            if name == "submission_seconds" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"Limits.{name} must be a positive number, got {value!r}")

    def submission_budget(self, cells: int) -> float:
        """Seconds all ``cells`` of one submission may take together."""
        if self.submission_seconds is not None:
            return float(self.submission_seconds)
        return self.startup_seconds + 2 * cells * (self.seconds + _GRACE)


@dataclass(frozen=True)
class Cell:
    """One piece of student code and what to read back after running it.

    Attributes
    ----------
    key : str
        Name of the cell in the results ("q1", ...).
    source : str
        Python source.
    kind : str
        ``"none"`` (just run it), ``"value"`` (read the variable ``name``) or
        ``"function"`` (call the function ``name`` on every argument tuple of ``calls``).
    name : str
    calls : list of tuple
        JSON-serialisable argument tuples; lists are passed as NumPy arrays.
    """

    key: str
    source: str
    kind: str = "none"
    name: str = ""
    calls: Sequence[tuple] = ()

    def to_json(self) -> dict:
        """The cell as the child process reads it."""
        return {"key": self.key, "source": self.source, "kind": self.kind, "name": self.name,
                "calls": [list(c) for c in self.calls]}


@dataclass
class CellResult:
    """What happened to one cell.

    ``ok`` is False when the cell raised or was stopped; ``error`` then says why (the
    exception, ``"time limit of 10 s exceeded"``, ...). ``answer`` is the value read back,
    as ``{"type": "array"|"int"|"str"|"none"|"repr"|"too_large", "value": ...}``; ``outputs``
    the function's output for each call, in the same form (or ``{"type": "error"}``).
    """

    key: str
    ok: bool
    answer: dict | None = None
    outputs: list[dict] | None = None
    error: str = ""
    seconds: float = 0.0


class SandboxError(RuntimeError):
    """The sandbox itself failed (not the student's fault): grading must stop."""


class SandboxUnavailable(SandboxError):
    """The OS sandbox cannot be used on this machine (bwrap missing or not working)."""


@dataclass(frozen=True)
class Isolation:
    """How student code is run: in bubblewrap (``bwrap`` is its path) or, only when the
    instructor asked for it, unsandboxed (``bwrap`` is None)."""

    bwrap: str | None

    @property
    def unsafe(self) -> bool:
        """True when student code runs without the OS sandbox."""
        return self.bwrap is None

    def describe(self) -> str:
        """One line for logs and notes."""
        return ("graded WITHOUT the OS sandbox (--unsafe-no-sandbox)" if self.unsafe
                else f"sandbox: bubblewrap ({self.bwrap})")


def unsafe_no_sandbox() -> Isolation:
    """Run student code without the OS sandbox (resource limits and an audit hook only).

    Only for trusted code or a machine without bubblewrap; grading records it in every row.
    """
    return Isolation(None)


def find_bwrap(path: str | os.PathLike | None = None) -> str:
    """The bwrap executable: ``path``, else ``$DLNOTES_BWRAP``, else ``bwrap`` on the PATH.

    Raises :class:`SandboxUnavailable` naming what was looked for and how to install it.
    """
    wanted = os.fspath(path) if path is not None else os.environ.get(BWRAP_ENV) or "bwrap"
    found = shutil.which(wanted)
    if found is None:
        raise SandboxUnavailable(
            f"the sandbox tool bubblewrap was not found ({wanted!r}); student code is only "
            "run inside it. Install it (`make bubblewrap`, or `apt-get install bubblewrap`), "
            f"point {BWRAP_ENV} at it, or pass --unsafe-no-sandbox to grade without it")
    return os.path.realpath(found)


_WORKING: dict[str, bool] = {}
_WORKING_LOCK = threading.Lock()


def bubblewrap(path: str | os.PathLike | None = None, *, check: bool = True) -> Isolation:
    """The bubblewrap sandbox, checked once per process by running a tiny cell in it.

    Raises :class:`SandboxUnavailable` if bwrap is missing or cannot set up its
    namespaces here (for example in a container that forbids them).
    """
    exe = find_bwrap(path)
    iso = Isolation(exe)
    if not check:
        return iso
    with _WORKING_LOCK:
        if not _WORKING.get(exe):
            try:
                res = run_cells([Cell("probe", "x = 6 * 7", "value", "x")],
                                Limits(seconds=30, memory_mb=256), isolation=iso)[0]
            except SandboxError as exc:
                raise SandboxUnavailable(f"the bubblewrap sandbox ({exe}) does not work on "
                                         f"this machine: {exc}") from None
            if res.answer != {"type": "int", "value": 42}:
                raise SandboxUnavailable(f"the bubblewrap sandbox ({exe}) does not run Python "
                                         f"correctly: {res.error or res.answer}")
            _WORKING[exe] = True
    return iso


# ------------------------------------------------------------------ cleanup on every exit

_LIVE_LOCK = threading.Lock()
_LIVE: set["_Proc"] = set()
_DIRS: set[str] = set()
_STOPPING = threading.Event()


def kill_all() -> None:
    """Kill every running sandbox and remove every scratch folder (atexit and signals)."""
    _STOPPING.set()
    with _LIVE_LOCK:
        procs, dirs = list(_LIVE), list(_DIRS)
    for p in procs:
        p.kill()
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)


atexit.register(kill_all)


def begin_run() -> None:
    """Allow sandboxes again after an interrupted run (a new grading run starts)."""
    _STOPPING.clear()


@contextlib.contextmanager
def cleanup_on_signals() -> Iterator[None]:
    """While grading: on SIGTERM or SIGINT, kill every sandbox and remove every scratch
    folder first, then let the signal do what it did before (terminate, or raise
    KeyboardInterrupt). Does nothing outside the main thread."""
    _STOPPING.clear()
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}

    def handler(signum, frame):
        kill_all()
        old = previous.get(signum, signal.SIG_DFL)
        signal.signal(signum, old)
        if callable(old):
            old(signum, frame)
        elif old != signal.SIG_IGN:
            os.kill(os.getpid(), signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


# ------------------------------------------------------------------ the sandbox's layout

def _under(path: str, root: str) -> bool:
    return path == root or root == "/" or path.startswith(root.rstrip("/") + "/")


@dataclass(frozen=True)
class _Layout:
    python: str                            # the interpreter, as the sandbox sees it
    binds: tuple[tuple[str, str], ...]     # read-only (host, sandbox) binds
    symlinks: tuple[tuple[str, str], ...]  # (target, link), e.g. ("usr/lib", "/lib")
    dirs: tuple[str, ...]                  # folders to create (0755) before the binds
    sys_path: tuple[str, ...]              # where the child finds NumPy
    read_roots: tuple[str, ...]            # what the audit hook lets it read


_LAYOUT: _Layout | None = None


def _layout() -> _Layout:
    global _LAYOUT
    if _LAYOUT is not None:
        return _LAYOUT
    import numpy

    python = os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)
    base = os.path.realpath(sys.base_prefix)
    site = os.path.realpath(os.path.dirname(os.path.dirname(numpy.__file__)))
    binds: list[tuple[str, str]] = [("/usr", "/usr")]
    symlinks: list[tuple[str, str]] = []
    for d in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(d):
            symlinks.append((os.readlink(d), d))
        elif os.path.isdir(d):
            binds.append((d, d))

    def bound(p: str) -> bool:
        return any(_under(p, dst) for _, dst in binds)

    if not bound(base):
        binds.append((base, base))
    if not bound(python):
        binds.append((python, python))
    sys_path = [site]
    if not bound(site):
        binds.append((site, f"{_SANDBOX_DIR}/site-packages"))
        sys_path = [f"{_SANDBOX_DIR}/site-packages"]
    binds.append((str(_CHILD.resolve()), f"{_SANDBOX_DIR}/child.py"))
    dirs: list[str] = []
    for _, dst in binds:
        for parent in reversed(Path(dst).parents):
            p = str(parent)
            if p != "/" and p not in dirs and not any(_under(p, d) for _, d in binds):
                dirs.append(p)
    stdlib = os.path.realpath(sysconfig.get_paths()["stdlib"])
    _LAYOUT = _Layout(python, tuple(binds), tuple(symlinks), tuple(dirs), tuple(sys_path),
                      tuple(dict.fromkeys([stdlib, base, *sys_path])))
    return _LAYOUT


def _env(home: str) -> dict[str, str]:
    # Nothing of the instructor's environment (tokens, paths to the class set) is inherited;
    # only OpenBLAS's CPU-type workaround, which some machines need for correct results.
    env = {"PATH": "/usr/bin:/bin", "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8",
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "MPLBACKEND": "Agg", MARK_ENV: MARK}
    for key in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env


def _as_root() -> bool:
    """Whether the grader runs as root (then bwrap runs privileged and the child drops to
    "nobody"; otherwise the sandbox is a user namespace)."""
    return os.geteuid() == 0


def _bwrap_argv(bwrap: str, layout: _Layout, limits: Limits, info_fd: int, as_root: bool) -> list[str]:
    argv = [bwrap]
    if not as_root:
        argv += ["--unshare-user", "--uid", str(_INSIDE_ID), "--gid", str(_INSIDE_ID),
                 "--disable-userns"]
    argv += ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
             "--unshare-cgroup-try", "--hostname", "sandbox", "--die-with-parent",
             "--new-session", "--clearenv"]
    for key, value in _env(_SCRATCH).items():
        argv += ["--setenv", key, value]
    for d in layout.dirs:
        argv += ["--perms", "0755", "--dir", d]
    for src, dst in layout.binds:
        argv += ["--ro-bind", src, dst]
    for target, link in layout.symlinks:
        argv += ["--symlink", target, link]
    argv += ["--proc", "/proc", "--dev", "/dev",
             "--perms", "1777", "--size", str(_TMP_MB << 20), "--tmpfs", "/tmp",
             "--perms", "0777", "--size", str(int(limits.scratch_mb) << 20), "--tmpfs", _SCRATCH,
             "--remount-ro", "/dev", "--remount-ro", "/", "--chdir", _SCRATCH,
             "--info-fd", str(info_fd)]
    if as_root:
        # Only to let the child become "nobody"; setresuid to a non-root uid clears them.
        argv += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    return argv + ["--", layout.python, "-I", "-S", "-B", f"{_SANDBOX_DIR}/child.py"]


# ------------------------------------------------------------------ one child process

class _Malformed(Exception):
    """The child wrote something that is not the message the parent expects."""


class _Proc:
    """One sandbox (or unsandboxed child) and the bounded line protocol with it."""

    def __init__(self, job: dict, isolation: Isolation, limits: Limits, scratch: str | None):
        self.stderr = tempfile.TemporaryFile()
        self.buf = b""
        self.received = 0
        self.init_pidfd: int | None = None
        with _LIVE_LOCK:
            if _STOPPING.is_set():
                raise SandboxError("grading was interrupted")
            if isolation.unsafe:
                assert scratch is not None
                self.proc = subprocess.Popen(
                    [sys.executable, "-I", "-S", "-B", str(_CHILD)], stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE, stderr=self.stderr, cwd=scratch, env=_env(scratch),
                    start_new_session=True, close_fds=True)
                info_r = None
            else:
                info_r, info_w = os.pipe()
                argv = _bwrap_argv(str(isolation.bwrap), _layout(), limits, info_w, _as_root())
                try:
                    self.proc = subprocess.Popen(
                        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
                        env={"PATH": "/usr/bin:/bin", MARK_ENV: MARK}, start_new_session=True,
                        close_fds=True,
                        pass_fds=(info_w,))
                except OSError as exc:
                    os.close(info_r)
                    raise SandboxUnavailable(f"cannot start {isolation.bwrap}: {exc}") from None
                finally:
                    os.close(info_w)
            _LIVE.add(self)
        if info_r is not None:
            self._read_info(info_r, time.monotonic() + limits.startup_seconds)
        data = json.dumps(job).encode("utf-8")
        # The job can exceed a pipe's buffer: write it from a helper thread, so that a
        # sandbox that never reads cannot block the grader past its deadlines.
        threading.Thread(target=self._feed, args=(data,), daemon=True).start()

    def _read_info(self, fd: int, deadline: float) -> None:
        """bwrap's --info-fd JSON: the host pid of the namespace's first process, which is
        opened as a pidfd (killing it kills the whole PID namespace, race-free)."""
        raw = b""
        try:
            while not raw.rstrip().endswith(b"}"):
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([fd], [], [], left)[0]:
                    break
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                raw += chunk
        finally:
            os.close(fd)
        try:
            pid = int(json.loads(raw)["child-pid"])
            self.init_pidfd = os.pidfd_open(pid)
        except (ValueError, KeyError, TypeError, OSError):
            self.init_pidfd = None        # bwrap failed before; its exit status will say why

    def _feed(self, data: bytes) -> None:
        stdin = self.proc.stdin
        assert stdin is not None
        try:
            stdin.write(data)
            stdin.close()
        except (BrokenPipeError, OSError, ValueError):
            pass                    # the child died; reading will say so

    def read(self, deadline: float) -> dict | None:
        """The next message, None at end of output; TimeoutError at ``deadline``;
        :class:`_Malformed` for a line that is too long, not JSON or not an object."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return None
            self.buf += chunk
            self.received += len(chunk)
            if len(self.buf) > _MAX_LINE or self.received > _MAX_TOTAL:
                raise _Malformed("more output on the grader's channel than any answer needs")
        line, self.buf = self.buf.split(b"\n", 1)
        try:
            msg = json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            raise _Malformed("a line on the grader's channel that is not a message") from None
        if not isinstance(msg, dict):
            raise _Malformed("a line on the grader's channel that is not a message")
        return msg

    def kill(self) -> None:
        """Kill the sandbox: its PID namespace (through its first process) and bwrap, or
        for an unsandboxed child its process group."""
        if self.init_pidfd is not None:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(self.init_pidfd, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)

    def finish(self) -> int:
        """Kill what is left, wait for it, release everything; returns the exit status."""
        self.kill()
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            code = self.proc.wait()
        if self.init_pidfd is not None:
            os.close(self.init_pidfd)
            self.init_pidfd = None
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        with _LIVE_LOCK:
            _LIVE.discard(self)
        return code

    def stderr_text(self) -> str:
        """The end of what bwrap or the child wrote to stderr before it hid its stderr."""
        self.stderr.seek(0)
        text = self.stderr.read()[-2000:].decode("utf-8", errors="replace").strip()
        self.stderr.close()
        return text


# ------------------------------------------------------------------ the protocol

def _signal_reason(code: int) -> str:
    # An unsandboxed child reports -N for signal N; bwrap exits with 128 + N.
    sig = -code if code < 0 else code - 128 if code > 128 else 0
    if sig:
        if sig == signal.SIGXCPU:
            return "the CPU time limit was exceeded"
        if sig == signal.SIGKILL:
            return "the process was killed (out of memory?)"
        if sig == signal.SIGSEGV:
            return "the Python process crashed (segmentation fault; infinite recursion?)"
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = str(sig)
        return f"the Python process was stopped by signal {name}"
    return f"the Python process exited with status {code} (sys.exit or os._exit in the cell?)"


def _friendly(error: str, limits: Limits) -> str:
    if error == "TimeLimit":
        return f"time limit of {limits.seconds:g} s exceeded"
    if error.startswith("MemoryError"):
        return f"memory limit of {limits.memory_mb} MB exceeded (MemoryError)"
    return error


def _text(value, what: str) -> str:
    if not isinstance(value, str) or len(value) > _MAX_TEXT:
        raise _Malformed(f"{what} is not a short text")
    return value


def _count_numbers(value, depth: int = 0) -> int:
    if isinstance(value, bool):
        raise _Malformed("an answer holds something that is not a number")
    if isinstance(value, (int, float)):
        return 1
    if isinstance(value, list) and depth < 32:
        return sum(_count_numbers(v, depth + 1) for v in value)
    raise _Malformed("an answer holds something that is not a number")


def _payload(p, outputs: bool = False) -> dict:
    """A validated copy of one answer (or function output) as the child sent it."""
    if not isinstance(p, dict):
        raise _Malformed("an answer that is not in the grader's format")
    kind = p.get("type")
    if kind == "array":
        if _count_numbers(p.get("value")) > _MAX_ITEMS:
            raise _Malformed("an answer with more numbers than allowed")
        return {"type": "array", "value": p["value"]}
    if kind == "too_large":
        size = p.get("size")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise _Malformed("an answer that is not in the grader's format")
        return {"type": "too_large", "size": size}
    if outputs:
        if kind == "error":
            return {"type": "error", "value": _text(p.get("value"), "an error message")}
        raise _Malformed("a function output that is not in the grader's format")
    if kind == "none":
        return {"type": "none"}
    if kind == "int":
        v = p.get("value")
        if isinstance(v, bool) or not isinstance(v, int) or abs(v) >= 2 ** 53:
            raise _Malformed("an answer that is not in the grader's format")
        return {"type": "int", "value": v}
    if kind in ("str", "repr"):
        return {"type": kind, "value": _text(p.get("value"), "a text answer")}
    raise _Malformed("an answer that is not in the grader's format")


def _validate(msg, cell: Cell, limits: Limits) -> CellResult:
    """The result of ``cell`` from its worker's message, or :class:`_Malformed`."""
    if not isinstance(msg, dict) or msg.get("event") != "result":
        raise _Malformed("a message the grader did not expect")
    ok = msg.get("ok")
    if not isinstance(ok, bool):
        raise _Malformed("a result that is not in the grader's format")
    if not ok:
        return CellResult(cell.key, False, error=_friendly(_text(msg.get("error"), "an error"),
                                                           limits))
    if cell.kind == "value":
        return CellResult(cell.key, True, answer=_payload(msg.get("answer")))
    if cell.kind == "function":
        outs = msg.get("outputs")
        if not isinstance(outs, list) or len(outs) != len(cell.calls):
            raise _Malformed("a different number of function outputs than inputs")
        return CellResult(cell.key, True, outputs=[_payload(o, outputs=True) for o in outs])
    return CellResult(cell.key, True)


def run_cells(cells: Sequence[Cell], limits: Limits = Limits(), *, prelude: str = "",
              isolation: Isolation | None = None,
              deny: Sequence[str | Path] = ()) -> list[CellResult]:
    """Run each of ``cells`` in its own process forked from one sandbox; results in order.

    Every cell starts from the namespace the trusted ``prelude`` left (imports), not from
    the cells before it: an answer cell must hold everything its answer needs, and no cell
    can see, change or speak for another.

    Parameters
    ----------
    cells : sequence of Cell
        Distinct keys.
    limits : Limits
    prelude : str
        Trusted code run first (imports); its failure is a :class:`SandboxError`.
    isolation : Isolation, optional
        Default: :func:`bubblewrap` (which raises :class:`SandboxUnavailable` if it
        cannot be used).
    deny : sequence of paths
        Unsandboxed runs only: folders the audit hook refuses even inside allowed ones
        (in the sandbox they do not exist).

    Raises
    ------
    SandboxError
        The sandbox could not start (bwrap, Python or NumPy missing, limits too small
        to import NumPy), or grading is being interrupted.
    """
    keys = [c.key for c in cells]
    if len(set(keys)) != len(keys):
        raise ValueError(f"cell keys must be distinct, got {keys}")
    if isolation is None:
        isolation = bubblewrap()
    results: dict[str, CellResult] = {}
    remaining = list(cells)
    total = limits.submission_budget(len(cells))
    deadline = time.monotonic() + total
    budget = f"the submission's time limit of {total:g} s"
    while remaining:
        if time.monotonic() >= deadline:
            for c in remaining:
                results[c.key] = CellResult(c.key, False, error=f"not run: {budget} was used up")
            break
        _one_sandbox(prelude, remaining, limits, isolation, deny, results, deadline, budget)
        remaining = [c for c in remaining if c.key not in results]
    return [results[k] for k in keys]


def _one_sandbox(prelude: str, todo: list[Cell], limits: Limits, isolation: Isolation,
                 deny: Sequence[str | Path], results: dict[str, CellResult],
                 deadline: float, budget: str) -> None:
    """Run ``todo`` in one sandbox, filling ``results``; a sandbox that breaks down charges
    the cell that was running (the only student code running at the time) and stops."""
    scratch = None
    if isolation.unsafe:
        scratch = tempfile.mkdtemp(prefix="dlnotes-sandbox-")
        with _LIVE_LOCK:
            _DIRS.add(scratch)
        import numpy
        roots, job_scratch = _unsafe_read_roots(), scratch
        sys_path = [os.path.dirname(os.path.dirname(os.path.realpath(numpy.__file__)))]
    else:
        layout = _layout()
        roots, job_scratch, sys_path = list(layout.read_roots), _SCRATCH, list(layout.sys_path)
    job = {"scratch": job_scratch, "read_roots": roots, "sys_path": sys_path,
           "deny_roots": [os.path.realpath(str(d)) for d in deny] if isolation.unsafe else [],
           "drop": [_NOBODY, _NOBODY] if not isolation.unsafe and _as_root() else None,
           "prelude": prelude, "grace": _GRACE,
           "limits": {"memory_bytes": limits.memory_mb << 20, "file_bytes": limits.file_mb << 20,
                      "cell_seconds": limits.seconds, "cpu_seconds": limits.seconds + 5},
           "cells": [c.to_json() for c in todo]}
    child = None
    try:
        child = _Proc(job, isolation, limits, scratch)
        stopped = _converse(child, todo, limits, results, deadline, budget)
    finally:
        code = child.finish() if child is not None else 0
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
            with _LIVE_LOCK:
                _DIRS.discard(scratch)
    if stopped is not None and stopped[0] == "not-ready":
        raise SandboxError(f"the sandbox did not start (exit status {code}): "
                           f"{stopped[1] or child.stderr_text() or 'no message'}")
    child.stderr.close()
    if stopped is not None:
        index, reason, seconds = stopped
        cell = todo[index]
        results[cell.key] = CellResult(cell.key, False, error=reason or (
            "the answer cell stopped the sandbox (it killed or stopped the grader's process "
            "in there)"), seconds=seconds)


def _worker_reason(status: str, code: int, limits: Limits) -> str:
    if status == "timeout":
        return f"time limit of {limits.seconds:g} s exceeded"
    if status == "malformed":
        return "the answer cell broke the grader's protocol: more output than any answer needs"
    return _signal_reason(code)


def _converse(child: _Proc, cells: list[Cell], limits: Limits, results: dict[str, CellResult],
              deadline: float, budget: str):
    """Read the sandbox's messages, in the parent's order and on the parent's clock.

    Returns None when every cell has a result, ``("not-ready", reason)`` when the sandbox
    did not start, or ``(index, reason, seconds)`` for the cell during which the sandbox
    broke down (reason "" when it just died).
    """
    start_by = min(time.monotonic() + limits.startup_seconds, deadline)
    try:
        msg = child.read(start_by)
    except TimeoutError:
        return ("not-ready", "the sandbox did not start in time")
    except _Malformed as exc:
        return ("not-ready", str(exc))
    if msg is None:
        return ("not-ready", "")
    if msg.get("event") == "setup-error":
        return ("not-ready", f"the setup code failed: {str(msg.get('error'))[:300]}")
    if msg.get("event") != "ready":
        return ("not-ready", "unexpected first message")
    for i, cell in enumerate(cells):
        started = time.monotonic()
        # The zygote stops a worker at seconds + grace; this is the grader's own limit.
        cell_deadline = started + limits.seconds + 3 * _GRACE
        until = min(cell_deadline, deadline)
        try:
            msg = child.read(until)
        except TimeoutError:
            why = (f"time limit of {limits.seconds:g} s exceeded" if until == cell_deadline
                   else f"stopped: {budget} was used up")
            child.kill()
            return (i, why, time.monotonic() - started)
        except _Malformed as exc:
            child.kill()
            return (i, f"the answer cell broke the grader's protocol: {exc}",
                    time.monotonic() - started)
        if msg is None:
            return (i, "", time.monotonic() - started)
        elapsed = time.monotonic() - started
        status, code = msg.get("status"), msg.get("exit")
        if (msg.get("event") != "result" or msg.get("index") != i
                or status not in ("ok", "timeout", "crashed", "malformed")
                or isinstance(code, bool) or not isinstance(code, int)):
            child.kill()
            return (i, "the sandbox sent a message the grader did not expect", elapsed)
        if status != "ok":
            results[cell.key] = CellResult(cell.key, False, error=_worker_reason(status, code, limits),
                                           seconds=elapsed)
            continue
        try:
            res = _validate(msg.get("payload"), cell, limits)
        except _Malformed as exc:
            res = CellResult(cell.key, False, error=f"the answer cell broke the grader's "
                                                    f"protocol: {exc}")
        res.seconds = elapsed
        results[cell.key] = res
    return None


def _unsafe_read_roots() -> list[str]:
    """Folders an unsandboxed child may read: the standard library and installed packages."""
    paths = sysconfig.get_paths()
    roots = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    import numpy
    roots.add(str(Path(numpy.__file__).resolve().parent))
    return sorted(os.path.realpath(r) for r in roots)
