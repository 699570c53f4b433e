"""Run one student's code in a separate, limited Python process.

:func:`run_cells` starts ``python -I _sandbox_child.py`` in a fresh scratch folder with
an almost empty environment, sends it the cells to run (only this student's code, the
names of the answers to read back, and the inputs to call a function on: never a
solution), and reads one JSON line per cell back. The child limits itself (see
:mod:`._sandbox_child`); the parent adds a wall-clock deadline per cell and kills the
child's whole process group when it is exceeded.

A cell that loops forever, exhausts memory or crashes the interpreter costs that cell
only: the parent starts a new child for the cells after it, replaying the cells that
ran fine (notebook semantics: later cells may use earlier definitions).
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

__all__ = ["Limits", "Cell", "CellResult", "SandboxError", "run_cells", "read_roots"]

_CHILD = Path(__file__).with_name("_sandbox_child.py")
_GRACE = 1.5            # seconds the parent waits past the child's own timer
_MAX_LINE = 8 << 20     # bytes of one protocol line before the child is considered broken


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
        Largest file the submission may write in its scratch folder, default 16.
    startup_seconds : float
        Time allowed for the child to start (import NumPy) before grading gives up, default 60.
    """

    seconds: float = 10.0
    memory_mb: int = 512
    file_mb: int = 16
    startup_seconds: float = 60.0

    def __post_init__(self):
        for name in ("seconds", "memory_mb", "file_mb", "startup_seconds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"Limits.{name} must be a positive number, got {value!r}")


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
    """The sandbox itself could not start (not the student's fault)."""


def read_roots() -> list[str]:
    """Folders the child may read: the standard library and the installed packages."""
    paths = sysconfig.get_paths()
    roots = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    import numpy
    roots.add(str(Path(numpy.__file__).resolve().parent))
    return sorted(os.path.realpath(r) for r in roots)


def _env(scratch: str) -> dict[str, str]:
    # Nothing of the instructor's environment (tokens, paths to the class set) is inherited.
    return {"PATH": "/usr/bin:/bin", "HOME": scratch, "TMPDIR": scratch, "LANG": "C.UTF-8",
            "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "MPLBACKEND": "Agg"}


def _signal_reason(code: int, limits: Limits) -> str:
    if code < 0:
        sig = -code
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


class _Child:
    """One child process and the line-based protocol with it."""

    def __init__(self, job: dict, scratch: str, limits: Limits):
        self.limits = limits
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-I", str(_CHILD)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.stderr, cwd=scratch, env=_env(scratch), start_new_session=True,
            close_fds=True)
        self.buf = b""
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps(job).encode("utf-8"))
            self.proc.stdin.close()
        except BrokenPipeError:
            pass                    # the child died at once; reading will say so

    def read(self, deadline: float) -> dict | None:
        """The next message, or None at end of output; raises TimeoutError at ``deadline``."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self.buf += chunk
            if len(self.buf) > _MAX_LINE:
                raise TimeoutError      # a flood on the protocol fd: treat as stuck
        line, self.buf = self.buf.split(b"\n", 1)
        try:
            msg = json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return {"event": "garbage"}
        return msg if isinstance(msg, dict) else {"event": "garbage"}

    def kill(self) -> None:
        """Kill the child and everything it started (its process group)."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def finish(self) -> int:
        """Wait for the child (killing it if needed) and return its exit status."""
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
            code = self.proc.wait()
        self.kill()                      # anything it left in its process group
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return code

    def stderr_text(self) -> str:
        """The end of what the child wrote to stderr before it hid its stderr."""
        self.stderr.seek(0)
        return self.stderr.read()[-2000:].decode("utf-8", errors="replace")


def run_cells(cells: Sequence[Cell], limits: Limits = Limits(), *, prelude: str = "",
              deny: Sequence[str | Path] = ()) -> list[CellResult]:
    """Run ``cells`` in order in a sandboxed child process; one result per cell, in order.

    Parameters
    ----------
    cells : sequence of Cell
        Distinct keys.
    limits : Limits
    prelude : str
        Trusted code run first (imports); its failure is a :class:`SandboxError`.
    deny : sequence of paths
        Folders the child may not read even if they lie inside an allowed one (the class
        set, the submissions, the grades).

    Raises
    ------
    SandboxError
        The child could not start (Python or NumPy missing, limits too small to import NumPy).
    """
    keys = [c.key for c in cells]
    if len(set(keys)) != len(keys):
        raise ValueError(f"cell keys must be distinct, got {keys}")
    results: dict[str, CellResult] = {}
    replay: list[Cell] = []
    remaining = list(cells)
    scratch_root = tempfile.mkdtemp(prefix="dlnotes-sandbox-")
    try:
        while remaining:
            scratch = tempfile.mkdtemp(dir=scratch_root)
            outcome = _one_child(prelude, replay, remaining, limits, scratch, deny, results)
            shutil.rmtree(scratch, ignore_errors=True)
            done = [c for c in remaining if c.key in results]
            replay += [c for c in done if results[c.key].ok]
            remaining = [c for c in remaining if c.key not in results]
            if outcome == "replay-failed":
                for c in remaining:
                    results[c.key] = CellResult(c.key, False, error="not run: re-running the "
                                                "earlier cells failed after a crash")
                remaining = []
    finally:
        shutil.rmtree(scratch_root, ignore_errors=True)
    return [results[k] for k in keys]


def _one_child(prelude: str, replay: list[Cell], todo: list[Cell], limits: Limits, scratch: str,
               deny: Sequence[str | Path], results: dict[str, CellResult]) -> str:
    """Run replayed and new cells in one child; fills ``results`` for the new ones.

    Returns ``"end"`` when the child ran everything, ``"stopped"`` when it was stopped
    during a new cell (which then has a failed result), ``"replay-failed"`` when it was
    stopped during a replayed one.
    """
    job_cells = [Cell("__prelude__", prelude)] + [Cell(f"__replay__{c.key}", c.source)
                                                  for c in replay] + list(todo)
    total = len(job_cells)
    job = {"scratch": scratch, "read_roots": read_roots(),
           "deny_roots": [os.path.realpath(str(d)) for d in deny],
           "limits": {"memory_bytes": limits.memory_mb << 20, "file_bytes": limits.file_mb << 20,
                      "cell_seconds": limits.seconds,
                      "cpu_seconds": limits.seconds * total + 10},
           "cells": [c.to_json() for c in job_cells]}
    child = _Child(job, scratch, limits)
    current: str | None = None
    started = time.monotonic()
    deadline = started + limits.startup_seconds
    ready = False
    stop_reason = ""
    try:
        while True:
            try:
                msg = child.read(deadline)
            except TimeoutError:
                stop_reason = (f"time limit of {limits.seconds:g} s exceeded" if ready
                               else "the sandbox did not start in time")
                child.kill()
                break
            if msg is None:
                break
            event = msg.get("event")
            if event == "ready":
                ready = True
            elif event == "start" and ready:
                current, started = str(msg.get("key")), time.monotonic()
                deadline = started + limits.seconds + _GRACE
            elif event == "done" and ready and msg.get("key") == current:
                elapsed = time.monotonic() - started
                if current == "__prelude__" and not msg.get("ok"):
                    raise SandboxError(f"the setup code failed in the sandbox: {msg.get('error')}")
                if current.startswith("__replay__") and not msg.get("ok"):
                    return "replay-failed"
                if not current.startswith("__"):
                    results[current] = CellResult(
                        current, bool(msg.get("ok")), msg.get("answer"), msg.get("outputs"),
                        _friendly(str(msg.get("error", "")), limits), elapsed)
                current = None
                deadline = time.monotonic() + limits.seconds + _GRACE
            elif event == "end":
                break
    finally:
        code = child.finish()
    if not ready:
        raise SandboxError(f"the sandbox process did not start (exit status {code}): "
                           f"{stop_reason or child.stderr_text()}")
    if current is None:
        missing = [c for c in todo if c.key not in results]
        if not missing:
            return "end"
        # Stopped between cells (e.g. a flood of output): blame the next cell.
        current = missing[0].key
    if current.startswith("__replay__") or current == "__prelude__":
        return "replay-failed"
    reason = stop_reason or _signal_reason(code, limits)
    results[current] = CellResult(current, False, error=reason,
                                  seconds=time.monotonic() - started)
    return "stopped"
