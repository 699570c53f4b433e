"""The process tree that runs one student's answer cells (started by :mod:`.sandbox`).

Run as ``python -I -S _sandbox_child.py`` with the job as JSON on stdin, normally inside
a bubblewrap sandbox (see :mod:`.sandbox` for what that sandbox is). It imports nothing
from dlnotes: it never sees the question bank or an answer. This first process, the
*zygote*, runs no student code:

1. it reads the job (cells, limits, where NumPy is) from stdin;
2. if the job says so (the grader runs as root), drops to an unprivileged uid/gid: from
   here on nothing runs as root;
3. imports NumPy, runs the trusted setup cell, and makes itself non-dumpable (so a worker
   of the same uid can neither ptrace it nor open its ``/proc/<pid>/fd``);
4. reports ``ready``, then for each cell forks a **worker** and relays the worker's one
   result line to the grader as ``{"event": "result", "index": i, "status": ...}``,
   killing the worker after its time is up, or as soon as it has answered.

A worker closes every file descriptor but the pipe to the zygote, lowers its resource
limits (address space, CPU time, file size, processes, open files, core dumps; soft =
hard, as the unprivileged user, so student code cannot raise them again), installs an
audit hook (PEP 578) that refuses file access outside the working folder, subprocesses,
sockets and ctypes **only to give a clear message** ("not allowed while grading: ...")
for the common attempts (student code can remove it: the boundary is the sandbox, the
limits and the grader's clock), runs its one cell under a wall-clock timer and writes
the answer (a variable's value, or a function's outputs on given inputs) or the error.

Each cell therefore runs alone, from the namespace of the setup cell: no cell can see,
change or speak for another, and nothing a worker writes reaches the grader except as
that cell's result, which the grader validates.
"""

import json
import math
import os
import resource
import signal
import sys

np = None                     # NumPy, imported once sys.path is set up

_MAX_ITEMS = 100_000          # numbers sent back for one answer or one output
_MAX_TEXT = 2_000             # characters of a text answer or error message
_MAX_LINE = 8 << 20           # bytes of one worker's result


class _TimeLimit(BaseException):
    """Raised in the cell when its time is up (BaseException: ``except Exception`` in
    student code does not swallow it)."""


class _Sink:
    """A write-only text stream that keeps the first few kB (the rest is dropped)."""

    def __init__(self):
        self.kept = []
        self.size = 0

    def write(self, s):
        if self.size < 10_000:
            self.kept.append(s[:10_000 - self.size])
        self.size += len(s)
        return len(s)

    def flush(self):
        pass

    def isatty(self):
        return False


def _drop_privileges(uid, gid):
    """Become ``uid``/``gid`` with no supplementary groups (real, effective and saved ids),
    which also clears every capability; refuse to go on if that did not happen."""
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if os.getresuid() != (uid, uid, uid) or os.getresgid() != (gid, gid, gid) or os.getgroups():
        raise RuntimeError("could not drop privileges")


def _set_limits(limits):
    mem = int(limits["memory_bytes"])
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[0])
    # The budget is on top of what Python and NumPy already use.
    as_limit = pages * resource.getpagesize() + mem
    cpu = int(math.ceil(limits["cpu_seconds"]))
    for res, value in ((resource.RLIMIT_AS, as_limit), (resource.RLIMIT_CPU, cpu),
                       (resource.RLIMIT_FSIZE, int(limits["file_bytes"])),
                       (resource.RLIMIT_NPROC, 0), (resource.RLIMIT_CORE, 0),
                       (resource.RLIMIT_NOFILE, 64)):
        soft, hard = resource.getrlimit(res)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(res, (value, value))
    # A file over the size limit should raise OSError in the cell, not kill the process.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def _install_guard(scratch, read_roots, deny_roots):
    """The audit hook: friendly refusals for the usual attempts (not the boundary)."""
    realpath, join, getcwd, fsdecode, readlink = (os.path.realpath, os.path.join, os.getcwd,
                                                  os.fsdecode, os.readlink)
    scratch = realpath(scratch)
    reads = tuple(realpath(r) for r in read_roots if realpath(r) != "/")
    denies = tuple(realpath(d) for d in deny_roots)
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
    blocked = frozenset({
        "subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
        "os.forkpty", "os.startfile", "pty.spawn", "os.kill", "os.killpg", "signal.pthread_kill",
        "os.chdir", "os.chroot", "os.symlink", "os.link", "resource.setrlimit",
        "resource.prlimit", "sys.addaudithook", "gc.get_objects", "gc.get_referrers",
        "gc.get_referents", "sys._current_frames", "sqlite3.connect", "urllib.Request",
        "webbrowser.open", "os.setuid", "os.setgid", "os.setsid", "os.mkfifo", "os.mknod"})
    blocked_prefixes = ("socket.", "ctypes.", "_winapi.", "winreg.")
    mutating = frozenset({"os.remove", "os.rmdir", "os.rename", "os.mkdir", "os.chmod",
                          "os.chown", "os.utime", "os.truncate", "os.setxattr",
                          "os.removexattr", "os.chflags", "os.lchflags", "shutil.rmtree",
                          "shutil.move", "shutil.copytree", "shutil.copyfile",
                          "shutil.copymode", "shutil.copystat", "shutil.make_archive",
                          "shutil.unpack_archive"})
    listing = frozenset({"os.listdir", "os.scandir", "glob.glob", "glob.glob/2", "os.walk",
                         "os.fwalk"})
    blocked_imports = frozenset({"_posixsubprocess", "_ctypes", "ctypes", "_socket", "socket",
                                 "_sqlite3", "pty", "multiprocessing", "_multiprocessing",
                                 "_posixshmem"})

    def under(path, root):
        return path == root or path.startswith(root + os.sep)

    def resolve(path, dir_fd=None):
        if isinstance(path, int) or path is None:
            return None            # an fd that is already open, or "the current folder"
        base = getcwd() if dir_fd is None or dir_fd < 0 else readlink(f"/proc/self/fd/{dir_fd}")
        return realpath(join(base, fsdecode(path)))

    def may_read(p):
        if p is None or under(p, scratch):
            return True
        if any(under(p, d) for d in denies):
            return False
        return any(under(p, r) for r in reads)

    def may_write(p):
        return p is not None and under(p, scratch)

    def refuse(what):
        raise PermissionError(f"not allowed while grading: {what}")

    def hook(event, args):
        if event == "open":
            path, mode, flags = (tuple(args) + (None, None, 0))[:3]
            if isinstance(path, int):
                return
            p = resolve(path)
            writing = bool(mode and any(c in mode for c in "wax+")) or bool((flags or 0) & write_flags)
            if writing and not may_write(p):
                refuse("writing outside the current folder")
            if not writing and not may_read(p):
                refuse("reading files outside the current folder")
        elif event in blocked or event.startswith(blocked_prefixes):
            refuse(event)
        elif event == "import":
            if args and str(args[0]).split(".")[0] in blocked_imports:
                refuse(f"import {args[0]}")
        elif event in mutating:
            dir_fd = args[-1] if event in ("os.remove", "os.rmdir", "os.mkdir") and \
                isinstance(args[-1], int) else None
            paths = [a for a in args if isinstance(a, (str, bytes, os.PathLike))]
            for a in paths:
                if not may_write(resolve(a, dir_fd)):
                    refuse(f"{event} outside the current folder")
        elif event in listing:
            if args and isinstance(args[0], (str, bytes, os.PathLike)) and not may_read(resolve(args[0])):
                refuse("listing folders outside the current folder")

    sys.addaudithook(hook)


def _number_payload(value):
    arr = np.asarray(value, dtype=float)
    if arr.size > _MAX_ITEMS:
        return {"type": "too_large", "size": int(arr.size)}
    return {"type": "array", "value": arr.tolist()}


def _answer_payload(value):
    if value is None:
        return {"type": "none"}
    if isinstance(value, str):
        return {"type": "str", "value": value[:_MAX_TEXT]}
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2 ** 53:
        return {"type": "int", "value": value}     # an option given as 3 reads back as "3"
    try:
        return _number_payload(value)
    except (TypeError, ValueError, OverflowError):
        return {"type": "repr", "value": repr(value)[:_MAX_TEXT]}


def _error(exc):
    if isinstance(exc, _TimeLimit):
        return "TimeLimit"
    text = f"{type(exc).__name__}: {exc}"
    return text[:_MAX_TEXT]


def _run_cell(cell, ns, seconds):
    """Execute one cell and extract its answer; returns the ``result`` message."""
    msg = {"event": "result"}

    def on_alarm(signum, frame):
        raise _TimeLimit()

    signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        code = compile(cell["source"], f"<{cell['key']}>", "exec")
        with np.errstate(all="ignore"):
            exec(code, ns)  # noqa: S102 - running student code is the point of this process
            kind, name = cell.get("kind"), cell.get("name")
            if kind == "value":
                if name not in ns:
                    msg.update(ok=False, error=f"NameError: {name} is not defined")
                    return msg
                msg.update(ok=True, answer=_answer_payload(ns[name]))
            elif kind == "function":
                fn = ns.get(name)
                if not callable(fn):
                    msg.update(ok=False, error=f"NameError: define a function named {name}")
                    return msg
                outputs = []
                for args in cell.get("calls", []):
                    try:
                        out = fn(*[np.array(a) if isinstance(a, list) else a for a in args])
                        outputs.append(_number_payload(out))
                    except _TimeLimit:
                        raise
                    except BaseException as exc:   # the student's function, any error counts
                        outputs.append({"type": "error", "value": _error(exc)})
                msg.update(ok=True, outputs=outputs)
            else:
                msg.update(ok=True)
    except BaseException as exc:       # SystemExit, MemoryError, the timer: all are answers
        msg.update(ok=False, error=_error(exc))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    return msg


def _worker(cell, ns, job, w):
    """In a fresh fork: lock down, run one cell, write its result to ``w``, exit."""
    try:
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.dup2(w, 3)
        os.closerange(4, 65536)           # nothing of the zygote's is left: only fd 3
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1,
                    signal.SIGUSR2, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        _set_limits(job["limits"])
        sys.stdout = sys.stderr = _Sink()
        sys.stdin = open(os.devnull)
        sys.dont_write_bytecode = True
        sys.modules["_posixsubprocess"] = None     # makes `import _posixsubprocess` fail
        _install_guard(job["scratch"], job["read_roots"], job.get("deny_roots", []))
        msg = _run_cell(cell, ns, float(job["limits"]["cell_seconds"]))
        os.write(3, (json.dumps(msg) + "\n").encode("utf-8"))
    finally:
        os._exit(0)


def _collect(pid, r, seconds):
    """The zygote's view of one worker: (status, payload, exit status); always reaps it."""
    import select
    import time

    deadline = time.monotonic() + seconds
    buf, status = b"", "crashed"
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([r], [], [], left)[0]:
            status = "timeout"
            break
        chunk = os.read(r, 1 << 16)
        if not chunk:
            break
        buf += chunk
        if b"\n" in buf:
            status = "ok"
            break
        if len(buf) > _MAX_LINE:
            status = "malformed"
            break
    os.close(r)
    try:
        os.kill(pid, signal.SIGKILL)      # nothing of this cell may run on into the next
    except OSError:
        pass
    _, code = os.waitpid(pid, 0)
    exit_status = -os.WTERMSIG(code) if os.WIFSIGNALED(code) else os.WEXITSTATUS(code)
    payload = None
    if status == "ok":
        try:
            payload = json.loads(buf.split(b"\n", 1)[0])
        except (UnicodeDecodeError, ValueError, RecursionError):
            status = "malformed"
        if not isinstance(payload, dict):
            status, payload = "malformed", None
    return status, payload, exit_status


def main():
    """The zygote: read the job, set up (trusted), then one forked worker per cell."""
    global np
    job = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    proto = os.fdopen(os.dup(1), "w", encoding="utf-8")

    def send(msg):
        proto.write(json.dumps(msg) + "\n")
        proto.flush()

    if job.get("drop"):
        _drop_privileges(*job["drop"])
    sys.path.extend(job.get("sys_path", []))
    import numpy
    np = numpy
    ns = {"__name__": "__main__", "__builtins__": __builtins__}
    try:
        exec(compile(job.get("prelude", ""), "<setup>", "exec"), ns)  # noqa: S102 - trusted
    except BaseException as exc:
        send({"event": "setup-error", "error": _error(exc)})
        return
    if job.get("protect", True):
        # Not dumpable: a worker (same uid) can neither ptrace this process nor open its
        # /proc/<pid>/fd, so it cannot reach the channel to the grader or another worker.
        import ctypes
        if ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0) != 0:   # PR_SET_DUMPABLE
            send({"event": "setup-error", "error": "prctl(PR_SET_DUMPABLE) failed"})
            return
        del sys.modules["ctypes"]
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2,
                signal.SIGALRM, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)
    send({"event": "ready"})
    seconds = float(job["limits"]["cell_seconds"]) + float(job.get("grace", 1.0))
    for index, cell in enumerate(job["cells"]):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            _worker(cell, ns, job, w)
        os.close(w)
        started = __import__("time").monotonic()
        status, payload, code = _collect(pid, r, seconds)
        send({"event": "result", "index": index, "status": status, "payload": payload,
              "exit": code, "seconds": __import__("time").monotonic() - started})
    send({"event": "end"})


if __name__ == "__main__":
    main()
