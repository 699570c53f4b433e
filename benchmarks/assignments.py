"""Benchmark: generating a class set and grading submissions.

    .venv/bin/python benchmarks/assignments.py                # 500 students, 40 submissions
    .venv/bin/python benchmarks/assignments.py --students 100 --submissions 10

Prints (1) the wall time of `generate` for a typical 5-question assignment and for one
with every exercise of the bank, and (2) the grading overhead per submission, in the
bubblewrap sandbox (as `dlnotes grade` runs): wall time of `grade` minus the time the
students' own code ran (divided by the number of workers), divided by the number of
submissions, with one worker and with two (`--jobs 2`). Everything is written to a
temporary folder that is removed afterwards.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import nbformat

from dlnotes import exercises as bank
from dlnotes.assignments import Limits, Student, generate, grade, make_spec, student_instances
from dlnotes.assignments.notebook import py_literal

TYPICAL = ["losses.multiclass-hinge", "losses.softmax-cross-entropy", "regularization.l2-step",
           "losses.outlier-gradient", "losses.log-cosh-code"]
SEED = 15022658373629617563


def _time_generation(ids: list[str], students: int, root: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one `generate` (CPU time tells a busy machine from slow code)."""
    spec = make_spec("Benchmark", SEED, ids)
    roster = [Student(f"s{i:04d}", f"Student {i}", f"s{i}@uni.example") for i in range(students)]
    start, cpu = time.perf_counter(), time.process_time()
    generate(spec, roster, root / f"gen-{len(ids)}")
    return time.perf_counter() - start, time.process_time() - cpu


def _submissions(out: Path, spec, n: int, folder: Path, extra_seconds: float) -> None:
    folder.mkdir()
    for i in range(n):
        sid = f"s{i:04d}"
        nb = nbformat.read(out / "students" / sid / f"{spec.name}.ipynb", as_version=4)
        inst = {q.key: x for q, x in zip(spec.questions, student_instances(spec, sid))}
        for cell in nb.cells:
            key = cell.id.removesuffix("-answer")
            if cell.id.endswith("-answer"):
                x = inst[key]
                cell.source = (x.solution if x.answer_type == "code"
                               else f"{key}_answer = {py_literal(x.answer)}")
                if extra_seconds and key == "q1":
                    cell.source = f"import time\ntime.sleep({extra_seconds})\n" + cell.source
        nbformat.write(nb, folder / f"{sid}.ipynb")


def _time_grading(out: Path, subs: Path, dest: Path, jobs: int) -> tuple[float, float, int]:
    start = time.perf_counter()
    report = grade(out, subs, dest, limits=Limits(seconds=10), jobs=jobs)
    wall = time.perf_counter() - start
    graded = [r for r in report.results if r.status == "graded"]
    assert all(r.total == r.possible for r in graded), "a correct submission lost points"
    return wall, sum(r.seconds for r in graded), len(graded)


def main() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=500)
    parser.add_argument("--submissions", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement (median)")
    parser.add_argument("--no-bank", action="store_true",
                        help="skip the generation of the whole bank (the slowest part)")
    args = parser.parse_args()
    everything = [e.id for e in bank.all_exercises()]
    with tempfile.TemporaryDirectory(prefix="dlnotes-bench-") as tmp:
        root = Path(tmp)
        configs = [(TYPICAL, "typical")] + ([] if args.no_bank else [(everything, "whole bank")])
        for ids, label in configs:
            times, cpus = [], []
            for r in range(args.repeat):
                run = root / f"run{r}-{label.replace(' ', '')}"
                run.mkdir()
                wall, cpu = _time_generation(ids, args.students, run)
                times.append(wall)
                cpus.append(cpu)
            print(f"generate, {args.students} students x {len(ids)} questions ({label}): "
                  f"median {statistics.median(times):.2f} s wall, {statistics.median(cpus):.2f} s "
                  "CPU  (runs: " + ", ".join(f"{t:.2f}" for t in times) + ")", flush=True)

        from dlnotes.assignments import bubblewrap
        print(f"sandbox: {bubblewrap().describe()}; load average "
              f"{os.getloadavg()[0]:.1f}", flush=True)
        spec = make_spec("Benchmark", SEED, TYPICAL)
        roster = [Student(f"s{i:04d}") for i in range(args.submissions)]
        out = root / "graded"
        generate(spec, roster, out)
        for extra in (0.0, 0.25):
            subs = root / f"subs-{extra}"
            _submissions(out, spec, args.submissions, subs, extra)
            for jobs in (1, 2):
                rows = []
                for r in range(args.repeat):
                    wall, own, n = _time_grading(out, subs, root / f"g-{extra}-{jobs}-{r}", jobs)
                    rows.append(((wall - own / jobs) / n, wall, own))
                per, wall, own = sorted(rows)[len(rows) // 2]
                print(f"grade, {args.submissions} correct submissions x {len(TYPICAL)} questions, "
                      f"student code {extra:g} s extra, jobs={jobs}: wall {wall:.2f} s, students' "
                      f"own run time {own:.2f} s, overhead {per:.3f} s per submission", flush=True)


if __name__ == "__main__":
    main()
