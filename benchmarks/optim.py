"""Time per step of the dlnotes optimizers against torch.optim (CPU, foreach=True).

    .venv/bin/python benchmarks/optim.py            # the table in benchmarks/README.md
    .venv/bin/python benchmarks/optim.py --quick    # a smoke run (small sizes, few repeats)

For each optimizer, dtype (float32, float64) and size (1e4, 1e6, 1e7 parameters in one
array) it times ``step()`` on the same parameters and gradient: the median of several
repeats after a warm-up. It also prints a memory-bandwidth bound per row: the bytes one
step must at least read and write (parameters, gradient, state buffers; each once) divided
by the bandwidth measured at the same size and dtype (the best of a copy and an in-place
add, with NumPy on one thread and with torch on its threads; see ``copy_bandwidth``). At
1e4 and 1e6 the arrays sit in the caches, so the "bandwidth" is the cache's.

torch uses its default number of threads (``torch.get_num_threads()``, the number of
cores) and dlnotes its default (``dlnotes.optim.get_num_threads()``, the cores available):
what a user gets without tuning anything.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time

import numpy as np
import torch

from dlnotes import optim

# name: (dlnotes class, kwargs, torch class, kwargs, arrays read + written per step)
CASES = {
    "SGD": (optim.SGD, dict(lr=1e-3), torch.optim.SGD, dict(lr=1e-3), 3),
    "SGD momentum": (optim.SGD, dict(lr=1e-3, momentum=0.9),
                     torch.optim.SGD, dict(lr=1e-3, momentum=0.9), 5),
    "SGD Nesterov": (optim.SGD, dict(lr=1e-3, momentum=0.9, nesterov=True),
                     torch.optim.SGD, dict(lr=1e-3, momentum=0.9, nesterov=True), 5),
    "Adagrad": (optim.Adagrad, dict(lr=1e-3), torch.optim.Adagrad, dict(lr=1e-3), 5),
    "RMSprop": (optim.RMSprop, dict(lr=1e-3), torch.optim.RMSprop, dict(lr=1e-3), 5),
    "Adam": (optim.Adam, dict(lr=1e-3), torch.optim.Adam, dict(lr=1e-3), 7),
    "AdamW": (optim.AdamW, dict(lr=1e-3), torch.optim.AdamW, dict(lr=1e-3), 7),
}


def median_time(fn, repeats: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def repeats_for(n: int, base: int) -> int:
    return max(7, base if n <= 10**6 else base // 3)


def copy_bandwidth(n: int, dtype, repeats: int) -> float:
    """Bytes read + written per second at size n: the best of four simple streams.

    ``np.copyto`` (one thread) and ``Tensor.copy_`` (torch's threads) move 2 arrays; an
    in-place add ``a += b`` (NumPy, and torch's ``add_``) moves 3 and, unlike a copy, does
    not pay for reading the destination before overwriting it, like the optimizers.
    """
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, n)).astype(dtype)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    rates = [2 * a.nbytes / median_time(lambda: np.copyto(a, b), repeats),
             2 * a.nbytes / median_time(lambda: ta.copy_(tb), repeats),
             3 * a.nbytes / median_time(lambda: np.add(a, b, out=a), repeats),
             3 * a.nbytes / median_time(lambda: ta.add_(tb), repeats)]
    return max(rates)


def bench(name: str, n: int, dtype, repeats: int) -> dict:
    ours_cls, ours_kw, torch_cls, torch_kw, arrays = CASES[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n).astype(dtype)
    g = (1e-2 * rng.standard_normal(n)).astype(dtype)
    p = x.copy()
    ours = ours_cls([p], **ours_kw)
    t_ours = median_time(lambda: ours.step([g]), repeats)
    tp = torch.from_numpy(x.copy()).requires_grad_(True)
    tp.grad = torch.from_numpy(g.copy())
    ref = torch_cls([tp], foreach=True, **torch_kw)
    t_torch = median_time(ref.step, repeats)
    return dict(name=name, n=n, dtype=np.dtype(dtype).name, ours=t_ours, torch=t_torch,
                bytes=arrays * n * np.dtype(dtype).itemsize)


def fmt_ms(seconds: float) -> str:
    ms = seconds * 1e3
    return f"{ms:.3f}" if ms < 1 else f"{ms:.2f}" if ms < 100 else f"{ms:.0f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes and few repeats (smoke run)")
    ap.add_argument("--repeats", type=int, default=31, help="timed repeats at n <= 1e6 (a third above)")
    args = ap.parse_args()
    sizes = [10**4, 10**5] if args.quick else [10**4, 10**6, 10**7]
    base = 5 if args.quick else args.repeats

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print(f"date: {datetime.date.today().isoformat()}; CPU: {cpu}, {os.cpu_count()} cores; "
          f"Python {platform.python_version()}, NumPy {np.__version__}, torch {torch.__version__}")
    print(f"load average before: {os.getloadavg()[0]:.2f} (other processes compete for the cores)")
    print(f"torch threads: {torch.get_num_threads()}; dlnotes optimizer threads: "
          f"{optim.get_num_threads()}; median of {base} repeats ({max(7, base // 3)} at 1e7) "
          "after 3 warm-up steps")
    print()

    bandwidth = {}
    for dtype in (np.float32, np.float64):
        for n in sizes:
            bandwidth[(np.dtype(dtype).name, n)] = copy_bandwidth(n, dtype, repeats_for(n, base))
    print("bandwidth (GB/s, read + write): " + ", ".join(
        f"{dt} {n:.0e}: {bw / 1e9:.0f}" for (dt, n), bw in bandwidth.items()))
    print()
    print("| optimizer | dtype | parameters | dlnotes (ms) | torch (ms) | dlnotes / torch "
          "| bound (ms) | dlnotes / bound | torch / bound |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    worst = {}
    for dtype in (np.float32, np.float64):
        for n in sizes:
            for name in CASES:
                r = bench(name, n, dtype, repeats_for(n, base))
                bound = r["bytes"] / bandwidth[(r["dtype"], n)]
                ratio = r["ours"] / r["torch"]
                if n >= 10**6:
                    worst[(name, r["dtype"], n)] = ratio
                print(f"| {name} | {r['dtype']} | {n:.0e} | {fmt_ms(r['ours'])} | {fmt_ms(r['torch'])} "
                      f"| **{ratio:.2f}** | {fmt_ms(bound)} | {r['ours'] / bound:.1f} "
                      f"| {r['torch'] / bound:.1f} |", flush=True)
    print()
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if worst:
        over = {k: v for k, v in worst.items() if v > 1.25}
        print()
        print(f"rows at >= 1e6 parameters: {len(worst)}; above the 1.25x target: {len(over)}"
              + ("" if not over else " (" + ", ".join(f"{a} {b} {c:.0e}: {v:.2f}"
                                                       for (a, b, c), v in over.items()) + ")"))


if __name__ == "__main__":
    main()
