"""The hostile-submissions corpus: every attack on the grader that we know of.

One class set; each hostile student submits a notebook whose answers are all right except
one question, whose answer cell first runs an attack and then sets the *right* answer. An
attack that is contained raises (or is stopped), so that question scores 0; an attack that
got through would reach the right answer and score full marks, which the test catches.
Most OS-level attacks first switch the grader's Python audit hook off (the traceback trick
of issue 8), so what is tested is the operating-system sandbox, not the hook.

For every attack: the attacked question scores 0 and every other question full marks;
the batch completes in bounded time; no file outside the sandbox changes (the class set,
every other submission and the folder around them are hashed before and after); no
process carrying this run's mark is left (a /proc scan, right after grading and again
after the detached processes would have fired); and grades.csv is unchanged afterwards.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from dlnotes.assignments import Limits, Student, generate, grade, make_spec, student_instances
from dlnotes.assignments import sandbox
from dlnotes.assignments.notebook import py_literal

SEED = 12_345_678_901_234_567_891
IDS = ["losses.multiclass-hinge", "regularization.l2-step", "losses.outlier-gradient",
       "losses.log-cosh-code"]
NAME = "hw-h"
LIMITS = Limits(seconds=2, memory_mb=256)

from sandbox_attacks import DISABLE_HOOK


def _attacks(paths: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Attack name -> (question key, attack code); ``paths`` are real host paths."""
    p = {k: repr(v) for k, v in paths.items()}
    return {
        # ---- issue 8, finding 1: the hook switched off, then the key read ----
        "hook-off-read-key": ("q2", DISABLE_HOOK + f"import json\njson.load(open({p['key']}))\n"),
        "hook-off-find-key-in-closure": ("q2", DISABLE_HOOK + (
            "import gc\nroots = [c.cell_contents for f in gc.get_objects() if callable(f) "
            "and getattr(f, '__closure__', None) for c in f.__closure__ "
            "if isinstance(c.cell_contents, tuple)]\n"
            f"assert any({p['classset']}.startswith(str(r)) for t in roots for r in t), roots\n")),
        "seed-to-feedback": ("q2", DISABLE_HOOK + (
            "import os\nfound = []\n"
            "for pid in os.listdir('/proc'):\n"
            "    for what in ('environ', 'cmdline'):\n"
            "        try:\n            found.append(open(f'/proc/{pid}/{what}', 'rb').read()[:3000])\n"
            "        except OSError:\n            pass\n"
            "import sys\nf = sys._getframe()\nwhile f is not None:\n"
            "    found.append(repr(f.f_locals)[:3000].encode())\n    f = f.f_back\n"
            "raise RuntimeError(b' '.join(found).decode('latin-1'))\n")),
        "plant-in-instructor": ("q2", DISABLE_HOOK + f"open({p['planted']}, 'w').write('x')\n"),
        "delete-answer-key": ("q2", DISABLE_HOOK + f"import os\nos.remove({p['key']})\n"),
        "overwrite-other-submission": ("q2", DISABLE_HOOK + f"open({p['other']}, 'w').write('{{}}')\n"),
        "fork": ("q2", DISABLE_HOOK + "import os\npid = os.fork()\nif pid == 0:\n    os._exit(0)\n"),
        "subprocess": ("q2", DISABLE_HOOK + "import subprocess\nsubprocess.run(['/bin/true'])\n"),
        "thread": ("q2", DISABLE_HOOK + "import threading\nthreading.Thread(target=print).start()\n"),
        "detached-rewrites-grades": ("q2", DISABLE_HOOK + (
            "import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', "
            f"'import time; time.sleep(3); open({p['grades']!r}, \"w\").write(\"pwned\")'], "
            "start_new_session=True)\n")),
        # ---- finding 2: one notebook kills the batch ----
        "pidfd-kill-parent": ("q2", DISABLE_HOOK + (
            "import os, signal\nsignal.pidfd_send_signal(os.pidfd_open(os.getppid()), signal.SIGKILL)\n"
            "import time\ntime.sleep(1)\n")),
        "kill-every-pid": ("q2", DISABLE_HOOK + (
            "import os, signal\nhit = 0\nfor pid in range(1, 400):\n    try:\n"
            "        os.kill(pid, 0)\n        if pid != os.getpid():\n"
            "            os.kill(pid, signal.SIGKILL); hit += 1\n    except OSError:\n        pass\n"
            "assert hit, 'nothing to kill'\n")),
        # ---- finding 3: flooding the protocol to extend the deadline ----
        "flood-start-events": ("q2", DISABLE_HOOK + (
            "import os, time, stat\nfds = [fd for fd in range(3, 30) if os.path.exists("
            "f'/proc/self/fd/{fd}') and stat.S_ISFIFO(os.fstat(fd).st_mode)]\n"
            "for i in range(3000):\n    for fd in fds:\n"
            "        os.write(fd, b'{\"event\": \"start\", \"key\": \"q2\"}\\n')\n"
            "    time.sleep(0.1)\n")),
        "flood-forged-results": ("q2", DISABLE_HOOK + (
            "import os, time, stat\nfds = [fd for fd in range(3, 30) if os.path.exists("
            "f'/proc/self/fd/{fd}') and stat.S_ISFIFO(os.fstat(fd).st_mode)]\n"
            "msg = b'{\"event\": \"result\", \"ok\": true, \"answer\": {\"type\": \"int\", \"value\": 1}}\\n'\n"
            "for i in range(50):\n    for fd in fds:\n        os.write(fd, msg)\n"
            "time.sleep(60)\n")),
        "huge-protocol-line": ("q2", DISABLE_HOOK + (
            "import os, stat\nfor fd in range(3, 30):\n"
            "    if os.path.exists(f'/proc/self/fd/{fd}') and stat.S_ISFIFO(os.fstat(fd).st_mode):\n"
            "        os.write(fd, b'[' * (20 << 20))\n"
            "import time\ntime.sleep(30)\n")),
        # ---- finding 6: more holes in the hook ----
        "shm-open": ("q2", DISABLE_HOOK + (
            "import _posixshmem, os\n_posixshmem.shm_open('/dlnotes-x', os.O_CREAT | os.O_RDWR, 0o600)\n")),
        "array-interface-raw-memory": ("q2", (
            "import numpy as np\nwanted = " + repr(str(SEED)) + ".encode()\nhit = False\n"
            "for line in open('/proc/self/maps'):\n"
            "    a, b = (int(x, 16) for x in line.split()[0].split('-'))\n"
            "    if 'r' not in line.split()[1] or b - a > 1 << 26:\n        continue\n"
            "    class M:\n        __array_interface__ = {'data': (a, True), 'shape': (b - a,), "
            "'typestr': '|u1', 'version': 3}\n"
            "    try:\n        hit = hit or wanted in np.asarray(M()).tobytes()\n"
            "    except Exception:\n        pass\n"
            "assert hit, 'the seed is not in this process'\n")),
        "readlink-parent-cwd": ("q2", DISABLE_HOOK + (
            f"import os\ncwd = os.readlink(f'/proc/{{os.getppid()}}/cwd')\nassert cwd.startswith({p['base']}), cwd\n")),
        "stat-probing": ("q2", DISABLE_HOOK + f"import os\nos.stat({p['classset']})\nos.stat({p['other']})\n"),
        # (the path is spelled backwards: the cell's own source is in the frames too)
        "frame-walk-to-main": ("q2", (
            "def _look(backwards):\n    import sys\n    target = backwards[::-1]\n"
            "    f, seen = sys._getframe().f_back, ''\n    while f is not None:\n"
            "        seen += repr(f.f_locals) + repr(f.f_globals.get('job', ''))\n"
            "        f = f.f_back\n"
            "    assert target in seen, 'no class-set path in any frame up to main()'\n"
            f"_look({paths['classset'][::-1]!r})\n")),
        # ---- the ordinary ones ----
        "open-key": ("q1", f"import json\njson.load(open({p['key']}))\n"),
        "pathlib-key": ("q1", f"import pathlib\npathlib.Path({p['key']}).read_text()\n"),
        "ctypes-open": ("q1", DISABLE_HOOK + (
            f"import ctypes\nlibc = ctypes.CDLL(None)\nfd = libc.open({p['key']}.encode(), 0)\n"
            "assert fd >= 0, 'open failed'\n")),
        "socket-loopback": ("q1", DISABLE_HOOK + (
            f"import socket\nsocket.create_connection(('127.0.0.1', {paths['port']}), timeout=1).close()\n")),
        "proc-environ-of-grader": ("q1", DISABLE_HOOK + (
            "import os\nblob = b''\nfor pid in os.listdir('/proc'):\n    try:\n"
            "        blob += open(f'/proc/{pid}/environ', 'rb').read()\n    except OSError:\n        pass\n"
            "assert b'DLNOTES_TEST_SECRET' in blob, 'not found'\n")),
        "environment": ("q1", "import os\nassert 'DLNOTES_TEST_SECRET' in os.environ, 'clean'\n"),
        "write-outside": ("q1", DISABLE_HOOK + f"open({p['outside']}, 'w').write('owned')\n"),
        "delete-other-submission": ("q1", DISABLE_HOOK + f"import os\nos.remove({p['other']})\n"),
        "infinite-loop": ("q4", "while True:\n    pass\n"),
        "memory-hog": ("q4", "hog = []\nwhile True:\n    hog.append(bytearray(10 ** 7))\n"),
        "recursion-bomb": ("q4", "import sys\nsys.setrecursionlimit(10 ** 7)\n"
                                 "def f(n):\n    return f(n + 1) + 1\nf(0)\n"),
        "huge-output": ("q4", "for i in range(2 * 10 ** 5):\n    print('x' * 1000)\n"
                              "raise SystemExit('printed a lot')\n"),
        "sys-exit": ("q4", "import sys\nsys.exit(0)\n"),
        "os-exit": ("q4", "import os\nos._exit(0)\n"),
        "ignored-signals": ("q4", DISABLE_HOOK + (
            "import signal\nfor s in (signal.SIGALRM, signal.SIGTERM, signal.SIGINT):\n"
            "    signal.signal(s, signal.SIG_IGN)\n"
            "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM, signal.SIGTERM})\n"
            "while True:\n    pass\n")),
        "write-under-scratch-root": ("q4", DISABLE_HOOK + "open('/planted', 'w').write('x')\n"),
    }


def _right(inst) -> str:
    return inst.solution if inst.answer_type == "code" else f"{{var}} = {py_literal(inst.answer)}"


def _hash_tree(root: Path, skip: Path | None = None) -> dict[str, str]:
    out = {}
    for p in sorted(root.rglob("*")):
        if skip is not None and (p == skip or skip in p.parents):
            continue
        out[str(p.relative_to(root))] = (hashlib.sha256(p.read_bytes()).hexdigest()
                                         if p.is_file() else "dir")
    return out


def marked_processes(mark: str) -> list[str]:
    """Live processes whose environment carries ``mark`` (or whose command line names the
    sandbox child), found by scanning /proc: no psutil."""
    found = []
    needle = f"{sandbox.MARK_ENV}={mark}".encode()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and needle in env.split(b"\0"):
            found.append(f"{pid}: {cmd[:120]!r}")
    return found


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    attacks_preview = _attacks({k: "" for k in ("key", "classset", "planted", "other", "grades",
                                                 "base", "outside")} | {"port": 1})
    names = sorted(attacks_preview)
    roster = [Student("good1", "Good One"), Student("good2", "Good Two")] + [
        Student(f"h{i:02d}", f"=HYPERLINK(\"http://x\",\"{n}\")") for i, n in enumerate(names)]
    spec = make_spec("Hostile", SEED, IDS, name=NAME)
    out = base / "class"
    generate(spec, roster, out)
    subs = base / "submissions"
    subs.mkdir()
    grades = base / "grades"
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    paths = {"key": str(out / "instructor" / "answer_key.json"), "classset": str(out),
             "planted": str(out / "instructor" / "planted.txt"),
             "other": str(subs / "good1.ipynb"), "grades": str(grades / "grades.csv"),
             "base": str(base), "outside": str(base / "pwned.txt"),
             "port": listener.getsockname()[1]}
    attacks = _attacks(paths)
    by_student = {}
    for s in roster:
        inst = student_instances(spec, s.id)
        answers = {q.key: _right(i) for q, i in zip(spec.questions, inst)}
        if s.id.startswith("h"):
            name = names[int(s.id[1:])]
            key, code = attacks[name]
            by_student[s.id] = (name, key)
            if key == "q4":      # inside the function: it runs when the grader calls it
                body = "\n".join("    " + line for line in code.splitlines())
                answers[key] = answers[key].replace("def log_cosh(d):\n",
                                                    "def log_cosh(d):\n" + body + "\n", 1)
            else:
                answers[key] = code + answers[key]
        nb = nbformat.read(out / "students" / s.id / f"{NAME}.ipynb", as_version=4)
        for cell in nb.cells:
            k = cell.id.removesuffix("-answer")
            if cell.id.endswith("-answer"):
                cell.source = answers[k].replace("{var}", f"{k}_answer")
        nbformat.write(nb, subs / f"{s.id}.ipynb")
    before = _hash_tree(base)
    os.environ["DLNOTES_TEST_SECRET"] = "s3cr3t-in-the-graders-environment"
    started = time.monotonic()
    try:
        report = grade(out, subs, grades, limits=LIMITS, jobs=2)
    finally:
        del os.environ["DLNOTES_TEST_SECRET"]
        listener.close()
    seconds = time.monotonic() - started
    left_at_once = marked_processes(sandbox.MARK)
    csv_at_once = (grades / "grades.csv").read_bytes()
    time.sleep(4)                  # the detached writer would have fired after 3 s
    return dict(spec=spec, out=out, subs=subs, base=base, grades=grades, report=report,
                seconds=seconds, before=before, by_student=by_student, names=names,
                left_at_once=left_at_once, left_later=marked_processes(sandbox.MARK),
                csv_at_once=csv_at_once, paths=paths)


def _attack_ids():
    return sorted(_attacks({k: "" for k in ("key", "classset", "planted", "other", "grades",
                                             "base", "outside")} | {"port": 1}))


@pytest.mark.parametrize("attack", _attack_ids())
def test_the_attacked_question_scores_zero_and_every_other_question_full_marks(hostile, attack):
    sid = next(s for s, (name, _) in hostile["by_student"].items() if name == attack)
    key = hostile["by_student"][sid][1]
    r = hostile["report"].by_id(sid)
    assert r.status == "graded", (attack, r.status, r.notes)
    for q in r.questions:
        if q.key == key:
            assert q.score == 0 and not q.correct, (attack, q.feedback)
        else:
            assert q.correct and q.score == q.points, (attack, q.key, q.feedback)


def test_honest_students_in_the_same_batch_get_full_marks(hostile):
    for sid in ("good1", "good2"):
        r = hostile["report"].by_id(sid)
        assert r.status == "graded" and r.total == r.possible == hostile["spec"].total_points


def test_the_batch_completes_and_no_submission_outlasts_its_budget(hostile):
    report = hostile["report"]
    assert len(report.results) == 2 + len(hostile["names"])
    # The flood writes for 300 s and the sleepers sleep 30-60 s if nobody stops them; the
    # grader's own budget for a 4-question submission is far below that.
    budget = LIMITS.submission_budget(len(IDS))
    assert budget < 100
    for r in report.results:
        assert r.seconds < budget, (r.student_id, r.seconds)


def test_no_file_outside_the_sandbox_changed(hostile):
    after = _hash_tree(hostile["base"])
    grades = "grades"
    before = {k: v for k, v in hostile["before"].items() if not k.startswith(grades)}
    changed = {k for k in set(before) | set(after) if not k.startswith(grades)
               and before.get(k) != after.get(k)}
    assert not changed, sorted(changed)
    assert not Path(hostile["paths"]["outside"]).exists()
    assert not Path(hostile["paths"]["planted"]).exists()


def test_no_process_is_left_and_grades_csv_stays_as_written(hostile):
    assert hostile["left_at_once"] == [] and hostile["left_later"] == []
    assert (hostile["grades"] / "grades.csv").read_bytes() == hostile["csv_at_once"]
    assert b"pwned" not in hostile["csv_at_once"]


def test_feedback_never_shows_paths_seeds_or_the_environment(hostile):
    from dlnotes.assignments.variants import student_seed

    spec, base = hostile["spec"], hostile["base"]
    texts = [(hostile["grades"] / "grades.json").read_text()]
    texts += [p.read_text() for p in (hostile["grades"] / "feedback").glob("*.md")]
    blob = "\n".join(texts)
    assert str(base) not in blob and str(spec.seed) not in blob
    assert "s3cr3t" not in blob and "DLNOTES_TEST_SECRET" not in blob
    for sid in hostile["by_student"]:
        assert str(student_seed(spec.seed, sid)) not in blob


def test_names_are_neutralised_in_csv_and_escaped_in_markdown(hostile):
    import csv

    for name, column in (("grades.csv", "name"), ("canvas.csv", "Student")):
        rows = list(csv.DictReader((hostile["grades"] / name).open()))
        names = [r[column] for r in rows if "HYPERLINK" in r[column]]
        assert len(names) == len(hostile["names"]) and all(n.startswith("'=") for n in names)
    md = (hostile["grades"] / "feedback" / "h00.md").read_text()
    assert "=HYPERLINK(\"http://x\"" in md.splitlines()[0]
    nb = (hostile["out"] / "students" / "h00" / f"{NAME}.ipynb").read_text()
    assert "=HYPERLINK" in nb


def test_the_flood_is_charged_to_its_own_question_with_a_reason(hostile):
    # A worker's first line is its answer; then it is killed, so a flood extends nothing.
    for attack, reason in (("flood-start-events", "protocol"), ("huge-protocol-line", "protocol"),
                           ("flood-forged-results", "Expected 3 number(s), got 1")):
        sid = next(s for s, (name, _) in hostile["by_student"].items() if name == attack)
        q2 = hostile["report"].by_id(sid).questions[1]
        assert q2.score == 0 and reason in q2.feedback, (attack, q2.feedback)


# ------------------------------------------------------------------ the grader killed

def _cli(*args: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "dlnotes.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_nothing_outlives_a_killed_grader(hostile, tmp_path, sig):
    spec, out = hostile["spec"], hostile["out"]
    subs = tmp_path / "subs"
    subs.mkdir()
    nb = nbformat.read(hostile["subs"] / "good2.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.id == "q1-answer":
            cell.source = ("import signal, time\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
                           "signal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(120)\n")
    nbformat.write(nb, subs / "good2.ipynb")
    mark = f"test-{sig.name}-{os.getpid()}"
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {**os.environ, sandbox.MARK_ENV: mark, "TMPDIR": str(tmpdir)}
    proc = _cli("grade", str(out), str(subs), "--out", str(tmp_path / "g"),
                "--time-limit", "60", env=env)
    deadline = time.monotonic() + 300          # generous: the machine may be busy
    while not [p for p in marked_processes(mark) if "child.py" in p]:
        assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()
        time.sleep(0.2)
    proc.send_signal(sig)
    proc.wait(timeout=120)
    deadline = time.monotonic() + 30
    while marked_processes(mark) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert marked_processes(mark) == []
    assert not (tmp_path / "g" / "grades.csv").exists()
    assert list(tmpdir.iterdir()) == []          # no scratch folder or temporary file left


# ------------------------------------------------------------------ no sandbox, no grading

def test_grading_refuses_clearly_without_bubblewrap_unless_told_to_run_unsafe(hostile, tmp_path):
    spec, out = hostile["spec"], hostile["out"]
    subs = tmp_path / "subs"
    subs.mkdir()
    nb = nbformat.read(hostile["subs"] / "good1.ipynb", as_version=4)
    nbformat.write(nb, subs / "good1.ipynb")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {**os.environ, sandbox.BWRAP_ENV: str(tmp_path / "no" / "bwrap"), "TMPDIR": str(tmpdir)}
    proc = _cli("grade", str(out), str(subs), "--out", str(tmp_path / "g"), env=env)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 3, stderr
    assert b"refusing to grade" in stderr and b"bubblewrap" in stderr and b"Traceback" not in stderr
    assert b"--unsafe-no-sandbox" in stderr and not (tmp_path / "g").exists()
    proc = _cli("grade", str(out), str(subs), "--out", str(tmp_path / "g"), "--unsafe-no-sandbox",
                env=env)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    rows = (tmp_path / "g" / "grades.csv").read_text()
    assert rows.count("WITHOUT the OS sandbox") == len(json.loads(
        (tmp_path / "g" / "grades.json").read_text()))
    assert b"WITHOUT the OS sandbox" in stderr
    assert list(tmpdir.iterdir()) == []          # the unsandboxed scratch folders are gone


def test_the_readme_states_what_the_code_does():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    from dlnotes.assignments import MAX_ID_LENGTH
    assert f"at most {MAX_ID_LENGTH} characters" in readme
    assert f"a {sandbox._TMP_MB} MB `/tmp`" in readme
    assert f"`/scratch`, {Limits().scratch_mb} MB of memory" in readme
    assert f"`--time-limit` plus {sandbox._GRACE:g} s" in readme
    assert f"runs {len(_attack_ids())} attacks" in readme
