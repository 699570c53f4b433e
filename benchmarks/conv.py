"""Time of dlnotes.conv.conv2d and conv2d_backward against torch.nn.functional.conv2d (CPU).

    .venv/bin/python benchmarks/conv.py              # the table in benchmarks/README.md
    .venv/bin/python benchmarks/conv.py --threads 1  # both libraries on one thread
    .venv/bin/python benchmarks/conv.py --quick      # a smoke run

Small-CNN shapes: a batch of N = 64, 3x3 kernels with padding 1 (the size is kept), 1 to 32
channels, 8x8 to 32x32 maps, float32; plus the two layers of the chapter's digits CNN and
one strided layer. For each shape it times

* **forward**: ``conv.conv2d(x, w, b, padding=1)`` against ``F.conv2d``;
* **backward**: ``conv.conv2d_backward`` (dx, dw, db) against
  ``torch.ops.aten.convolution_backward``, the kernel that autograd calls for
  ``F.conv2d`` (checked against autograd here);

and the forward + backward of three ways to compute the layer in NumPy, to pick the fast
path by measurement: ``im2col`` (the package's default: copy every receptive field into a
column, one matrix product per sample), ``einsum`` (``np.einsum`` on a stride-tricks view of
all receptive fields, written here) and ``direct`` (the package's readable version, one
kernel offset at a time). Every candidate is checked against torch before it is timed.

Threads: NumPy's BLAS (OpenBLAS) keeps its thread count, read with threadpoolctl, and torch
is set to the same number (``--threads N`` sets both). Each time is the median of several
repeats, ours and torch's interleaved, so that a change in the machine's load hits both.
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
import torch.nn.functional as F
from threadpoolctl import threadpool_info, threadpool_limits

from dlnotes import conv
from dlnotes.conv import _Geometry

# (label, N, F_in, F_out, M, stride)
SHAPES = [
    ("1 -> 8, 32x32", 64, 1, 8, 32, 1),
    ("3 -> 16, 32x32", 64, 3, 16, 32, 1),
    ("8 -> 16, 32x32", 64, 8, 16, 32, 1),
    ("16 -> 32, 16x16", 64, 16, 32, 16, 1),
    ("32 -> 32, 16x16", 64, 32, 32, 16, 1),
    ("32 -> 32, 8x8", 64, 32, 32, 8, 1),
    ("16 -> 32, 16x16, stride 2", 64, 16, 32, 16, 2),
    ("digits CNN conv1: 1 -> 8, 8x8", 64, 1, 8, 8, 1),
    ("digits CNN conv2: 8 -> 16, 4x4", 64, 8, 16, 4, 1),
]


def blas_threads() -> int:
    counts = [i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"]
    return counts[0] if counts else 1


# ---------------------------------------------------------------- the einsum candidate

def einsum_forward(x, w, b, stride):
    g = _Geometry(x.shape, w.shape, stride, 1, 1, 1)
    z = np.einsum("ncklij,ockl->noij", g.windows(g.padded(x)), w, optimize=True)
    z += b[:, None, None]
    return z


def einsum_backward(dz, x, w, stride):
    g = _Geometry(x.shape, w.shape, stride, 1, 1, 1)
    win = g.windows(g.padded(x))
    dw = np.einsum("noij,ncklij->ockl", dz, win, optimize=True)
    dcols = np.einsum("ockl,noij->ncklij", w, dz, optimize=True)
    dxp = np.zeros((g.N, g.C, g.M1 + 2, g.M2 + 2), dz.dtype)
    for k1 in range(3):
        for k2 in range(3):
            rows, cols = g.tap(k1, k2)
            dxp[:, :, rows, cols] += dcols[:, :, k1, k2]
    return dxp[:, :, 1:-1, 1:-1], dw, dz.sum(axis=(0, 2, 3))


CANDIDATES = {
    "im2col": (lambda x, w, b, s: conv.conv2d(x, w, b, stride=s, padding=1, method="im2col"),
               lambda dz, x, w, s: conv.conv2d_backward(dz, x, w, stride=s, padding=1,
                                                        method="im2col")),
    "einsum": (einsum_forward, einsum_backward),
    "direct": (lambda x, w, b, s: conv.conv2d(x, w, b, stride=s, padding=1, method="direct"),
               lambda dz, x, w, s: conv.conv2d_backward(dz, x, w, stride=s, padding=1,
                                                        method="direct")),
}


# ---------------------------------------------------------------- timing

def interleaved_medians(fns, repeats: int, warmup: int = 2) -> list[float]:
    for fn in fns:
        for _ in range(warmup):
            fn()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for t, fn in zip(times, fns):
            t0 = time.perf_counter()
            fn()
            t.append(time.perf_counter() - t0)
    return [statistics.median(t) for t in times]


def bench(label, N, C, Fo, M, S, repeats, candidates):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, C, M, M)).astype(np.float32)
    w = (rng.standard_normal((Fo, C, 3, 3)) / np.sqrt(9 * C)).astype(np.float32)
    b = rng.standard_normal(Fo).astype(np.float32)
    xt, wt, bt = (torch.from_numpy(a) for a in (x, w, b))
    zt = F.conv2d(xt, wt, bt, stride=S, padding=1)
    dz = rng.standard_normal(tuple(zt.shape)).astype(np.float32)
    dzt = torch.from_numpy(dz)

    def torch_fwd():
        return F.conv2d(xt, wt, bt, stride=S, padding=1)

    def torch_bwd():
        return torch.ops.aten.convolution_backward(dzt, xt, wt, [Fo], [S, S], [1, 1], [1, 1],
                                                   False, [0, 0], 1, [True, True, True])

    # the benchmarked torch backward is autograd's; every candidate agrees with both
    xa, wa, ba = (a.clone().requires_grad_() for a in (xt, wt, bt))
    F.conv2d(xa, wa, ba, stride=S, padding=1).backward(dzt)
    ref = [a.numpy() for a in torch_bwd()]
    for r, a in zip(ref, (xa, wa, ba)):
        np.testing.assert_allclose(r, a.grad.numpy(), rtol=1e-4, atol=1e-4)
    for name in candidates:
        fwd, bwd = CANDIDATES[name]
        np.testing.assert_allclose(fwd(x, w, b, S), zt.numpy(), rtol=1e-4, atol=1e-4)
        for ours, r in zip(bwd(dz, x, w, S), ref):
            np.testing.assert_allclose(ours, r, rtol=1e-4, atol=1e-3 * max(1.0, np.abs(r).max()))

    fns = [torch_fwd, torch_bwd]
    for name in candidates:
        fwd, bwd = CANDIDATES[name]
        fns += [lambda fwd=fwd: fwd(x, w, b, S), lambda bwd=bwd: bwd(dz, x, w, S)]
    t = interleaved_medians(fns, repeats)
    out = {"label": label, "torch_fwd": t[0], "torch_bwd": t[1]}
    for i, name in enumerate(candidates):
        out[f"{name}_fwd"], out[f"{name}_bwd"] = t[2 + 2 * i], t[3 + 2 * i]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=None,
                    help="threads for NumPy's BLAS and for torch (default: BLAS's own count)")
    ap.add_argument("--quick", action="store_true", help="three shapes, few repeats")
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()
    threads = args.threads or blas_threads()
    shapes = SHAPES[::4] if args.quick else SHAPES
    repeats = 3 if args.quick else args.repeats
    with threadpool_limits(threads, user_api="blas"):
        torch.set_num_threads(threads)
        load0 = os.getloadavg()[0]
        rows = [bench(*s, repeats, list(CANDIDATES)) for s in shapes]
        load1 = os.getloadavg()[0]
        print(f"{datetime.date.today()}, {platform.python_version()}, NumPy {np.__version__}, "
              f"torch {torch.__version__}; BLAS threads = torch threads = {threads} "
              f"(torch.get_num_threads() = {torch.get_num_threads()}); "
              f"load average {load0:.1f} at the start, {load1:.1f} at the end; "
              f"median of {repeats} interleaved repeats\n")
    print("| layer (N = 64, 3x3, padding 1, float32) | torch forward (ms) | dlnotes forward (ms) "
          "| **ratio** | torch backward (ms) | dlnotes backward (ms) | **ratio** "
          "| forward + backward ratio: im2col | einsum | direct |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        tf, tb = r["torch_fwd"], r["torch_bwd"]
        total = {n: (r[f"{n}_fwd"] + r[f"{n}_bwd"]) / (tf + tb) for n in CANDIDATES}
        print(f"| {r['label']} | {1e3 * tf:.2f} | {1e3 * r['im2col_fwd']:.2f} "
              f"| **{r['im2col_fwd'] / tf:.2f}** | {1e3 * tb:.2f} | {1e3 * r['im2col_bwd']:.2f} "
              f"| **{r['im2col_bwd'] / tb:.2f}** | {total['im2col']:.2f} | {total['einsum']:.2f} "
              f"| {total['direct']:.2f} |")


if __name__ == "__main__":
    main()
