r"""Quasi-Newton methods: BFGS and L-BFGS, built from gradients only.

The secant pair of step :math:`t` is :math:`\Delta x_t = x_{t+1} - x_t` and
:math:`\Delta g_t = g_{t+1} - g_t` (the literature writes :math:`s_t` and :math:`y_t`). On a
quadratic with Hessian :math:`A`, :math:`\Delta g_t = A\,\Delta x_t`; a quasi-Newton method asks
its approximation :math:`B_{t+1}` of the Hessian to satisfy the same **secant condition**

.. math:: B_{t+1}\, \Delta x_t = \Delta g_t .

BFGS makes the smallest symmetric rank-two change to :math:`B_t` that does so:

.. math:: B_{t+1} = B_t + \frac{\Delta g_t \Delta g_t^\top}{\Delta g_t^\top \Delta x_t}
          - \frac{B_t \Delta x_t \Delta x_t^\top B_t}{\Delta x_t^\top B_t \Delta x_t},

and its inverse follows by the Sherman–Morrison–Woodbury formula,

.. math:: B_{t+1}^{-1} = \Big(I - \frac{\Delta x_t \Delta g_t^\top}{\Delta g_t^\top \Delta x_t}\Big)
          B_t^{-1} \Big(I - \frac{\Delta g_t \Delta x_t^\top}{\Delta g_t^\top \Delta x_t}\Big)
          + \frac{\Delta x_t \Delta x_t^\top}{\Delta g_t^\top \Delta x_t}.

Both need the curvature :math:`\Delta g_t^\top \Delta x_t > 0`; a pair without it is skipped (the
matrix is left unchanged) or rejected with ``ValueError``, as the caller chooses.
L-BFGS keeps only the last :math:`\mathcal M` pairs and applies :math:`B_t^{-1}` to a vector with the
two-loop recursion, without storing any matrix.

Chapter: *Second-order methods and line search*.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from . import linesearch
from ._validation import as_callable, as_float_array, as_int, as_scalar, check_choice
from .newton import check_hessian

__all__ = [
    "curvature", "bfgs_update", "bfgs_inverse_update", "lbfgs_two_loop", "lbfgs_dense_inverse",
    "QuasiNewtonRun", "bfgs", "lbfgs", "LogisticRegression", "MinibatchLBFGS", "minibatch_lbfgs",
    "symbolic_checks",
]


def _pair(dx: Any, dg: Any, n: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    dx = as_float_array(dx, "dx", ndim=1)
    dg = as_float_array(dg, "dg", ndim=1)
    if dx.shape != dg.shape:
        raise ValueError(f"dx and dg must have the same shape, got {dx.shape} and {dg.shape}")
    if n is not None and dx.shape[0] != n:
        raise ValueError(f"dx and dg must have {n} entries to match the matrix, got {dx.shape[0]}")
    return dx, dg


def curvature(dx: Any, dg: Any) -> float:
    r"""The curvature of a secant pair, :math:`\Delta g_t^\top \Delta x_t` (positive for a convex function and a nonzero step)."""
    dx, dg = _pair(dx, dg)
    return float(dg @ dx)


def _positive_curvature(dx: np.ndarray, dg: np.ndarray, on_nonpositive: str) -> bool:
    check_choice(on_nonpositive, "on_nonpositive", ("raise", "skip"))
    c = float(dg @ dx)
    scale = float(np.linalg.norm(dx) * np.linalg.norm(dg))
    if c > 1e-12 * scale and c > 0.0:
        return True
    if on_nonpositive == "raise":
        raise ValueError(f"the secant pair has curvature dg^T dx = {c:.3g} <= 0: the BFGS update "
                         "would not be positive definite (skip the pair, or use a Wolfe line search)")
    return False


def bfgs_update(B: Any, dx: Any, dg: Any, on_nonpositive: str = "raise") -> np.ndarray:
    r"""The BFGS update of the Hessian approximation, :math:`B_t \to B_{t+1}` (see the module docstring).

    Parameters
    ----------
    B : array of shape (n, n), symmetric positive definite
    dx, dg : arrays of shape (n,)
        The secant pair :math:`\Delta x_t`, :math:`\Delta g_t`.
    on_nonpositive : {'raise', 'skip'}
        What to do when :math:`\Delta g_t^\top \Delta x_t \le 0`: raise ``ValueError``, or
        return ``B`` unchanged.

    Returns :math:`B_{t+1}`, shape (n, n), with :math:`B_{t+1}\Delta x_t = \Delta g_t`.
    """
    B = check_hessian(B, "B")
    dx, dg = _pair(dx, dg, B.shape[0])
    if not _positive_curvature(dx, dg, on_nonpositive):
        return B.copy()
    Bdx = B @ dx
    out = B + np.outer(dg, dg) / (dg @ dx) - np.outer(Bdx, Bdx) / (dx @ Bdx)
    return 0.5 * (out + out.T)


def bfgs_inverse_update(B_inv: Any, dx: Any, dg: Any, on_nonpositive: str = "raise") -> np.ndarray:
    r"""The BFGS update of the inverse approximation, :math:`B_t^{-1} \to B_{t+1}^{-1}` (see the module docstring).

    Same parameters as :func:`bfgs_update`, with ``B_inv`` of shape (n, n). The result
    satisfies :math:`B_{t+1}^{-1}\Delta g_t = \Delta x_t` and is the inverse of
    ``bfgs_update(inv(B_inv), dx, dg)``. Costs :math:`O(n^2)`.
    """
    Bi = check_hessian(B_inv, "B_inv")
    dx, dg = _pair(dx, dg, Bi.shape[0])
    if not _positive_curvature(dx, dg, on_nonpositive):
        return Bi.copy()
    r = 1.0 / float(dg @ dx)
    Bdg = Bi @ dg
    # (I - r dx dg^T) Bi (I - r dg dx^T) + r dx dx^T, expanded into rank-one terms: O(n^2)
    out = (Bi - r * (np.outer(dx, Bdg) + np.outer(Bdg, dx))
           + (r * r * float(dg @ Bdg) + r) * np.outer(dx, dx))
    return 0.5 * (out + out.T)


def _pairs(pairs: Sequence[tuple[Any, Any]], n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for k, pair in enumerate(pairs):
        try:
            dx, dg = pair
        except (TypeError, ValueError):
            raise TypeError(f"pairs[{k}] must be a pair (dx, dg)") from None
        dx, dg = _pair(dx, dg, n)
        if not float(dg @ dx) > 0.0:
            raise ValueError(f"pairs[{k}] has curvature dg^T dx <= 0; L-BFGS must not store it")
        out.append((dx, dg))
    return out


def _initial_scale(pairs: list[tuple[np.ndarray, np.ndarray]], scale: float | None) -> float:
    if scale is not None:
        return as_scalar(scale, "scale", low=0.0, low_open=True)
    if not pairs:
        return 1.0
    dx, dg = pairs[-1]
    return float(dx @ dg) / float(dg @ dg)


def lbfgs_two_loop(g: Any, pairs: Sequence[tuple[Any, Any]], scale: float | None = None) -> np.ndarray:
    r"""The product :math:`B_t^{-1} g` of the L-BFGS inverse with a vector, by the two-loop recursion.

    :math:`B_t^{-1}` is what :math:`\mathcal M` BFGS inverse updates with the stored pairs (oldest first)
    make of the initial matrix :math:`\texttt{scale}\cdot I`; the recursion never forms it and costs
    :math:`O(\mathcal M n)`.

    Parameters
    ----------
    g : array of shape (n,)
    pairs : sequence of (dx, dg), oldest first, each of shape (n,) with :math:`\Delta g^\top \Delta x > 0`
    scale : float > 0, optional
        The initial matrix is ``scale * I``; by default
        :math:`\Delta x^\top \Delta g / \Delta g^\top \Delta g` of the newest pair (1 without pairs).

    The search direction is :math:`q_t = -B_t^{-1} g_t`.
    """
    g = as_float_array(g, "g", ndim=1)
    pairs = _pairs(pairs, g.shape[0])
    gamma0 = _initial_scale(pairs, scale)
    v = g.copy()
    coefs = []
    for dx, dg in reversed(pairs):             # newest first
        r = 1.0 / float(dg @ dx)
        a = r * float(dx @ v)
        v -= a * dg
        coefs.append((r, a))
    v *= gamma0
    for (dx, dg), (r, a) in zip(pairs, reversed(coefs)):   # oldest first
        b = r * float(dg @ v)
        v += (a - b) * dx
    return v


def lbfgs_dense_inverse(pairs: Sequence[tuple[Any, Any]], n: int, scale: float | None = None) -> np.ndarray:
    r"""The matrix :math:`B_t^{-1}` that :func:`lbfgs_two_loop` applies, formed explicitly (shape (n, n)).

    Starts from ``scale * I`` and applies :func:`bfgs_inverse_update` with every pair, oldest
    first: the reference that the two-loop recursion must match.
    """
    n = as_int(n, "n", low=1)
    pairs = _pairs(pairs, n)
    Bi = _initial_scale(pairs, scale) * np.eye(n)
    for dx, dg in pairs:
        Bi = bfgs_inverse_update(Bi, dx, dg)
    return Bi


@dataclass(frozen=True)
class QuasiNewtonRun:
    r"""A BFGS or L-BFGS run.

    Attributes
    ----------
    xs : array of shape (iterations + 1, n)
    losses : array of shape (iterations + 1,)
    grad_norms : array of shape (iterations + 1,)
    evaluations : int
        Function-and-gradient evaluations (each line-search try costs one).
    skipped : int
        Secant pairs with :math:`\Delta g_t^\top \Delta x_t \le 0` that were not used.
    converged : bool
        True if :math:`\lVert g_t\rVert \le` ``gtol`` was reached.
    evaluation_counts : array of int, shape (iterations + 1,)
        Evaluations used up to each iterate (1 for :math:`x_0`; the last entry is ``evaluations``).
    """

    xs: np.ndarray
    losses: np.ndarray
    grad_norms: np.ndarray
    evaluations: int
    skipped: int
    converged: bool
    evaluation_counts: np.ndarray

    @property
    def iterations(self) -> int:
        return len(self.losses) - 1


def _run(f: Callable, grad_f: Callable, x0: Any, max_iter: int, gtol: float, memory: int | None,
         c1: float, c2: float) -> QuasiNewtonRun:
    f = as_callable(f, "f")
    grad_f = as_callable(grad_f, "grad_f")
    x = as_float_array(x0, "x0", ndim=1).copy()
    max_iter = as_int(max_iter, "max_iter", low=0, high=1_000_000)
    gtol = as_scalar(gtol, "gtol", low=0.0)
    n = x.shape[0]
    fx = float(f(x))
    g = np.asarray(grad_f(x), dtype=float)
    evaluations, skipped = 1, 0
    Bi = np.eye(n) if memory is None else None
    pairs: deque = deque(maxlen=memory if memory is not None else 1)
    xs, losses, gnorms, counts = [x.copy()], [fx], [float(np.linalg.norm(g))], [1]
    converged = gnorms[-1] <= gtol
    first = True
    for _ in range(max_iter):
        if converged:
            break
        if memory is None:
            q = -Bi @ g
        else:
            q = -lbfgs_two_loop(g, list(pairs))
        if first:  # no curvature information yet: a short steepest-descent step, as SciPy does
            q = -g / max(1.0, float(np.linalg.norm(g)))
        eta, f_new, g_new, ev = linesearch.wolfe_search(f, grad_f, x, g, q, c1=c1, c2=c2, f_x=fx)
        evaluations += ev
        dx, dg = eta * q, g_new - g
        if float(dg @ dx) > 0.0:
            if memory is None:
                if first:  # scale the initial matrix as Nocedal & Wright (6.20) suggest
                    Bi = (float(dg @ dx) / float(dg @ dg)) * np.eye(n)
                Bi = bfgs_inverse_update(Bi, dx, dg)
            else:
                pairs.append((dx, dg))
        else:
            skipped += 1
        first = False
        x, fx, g = x + dx, f_new, g_new
        xs.append(x.copy())
        losses.append(fx)
        gnorms.append(float(np.linalg.norm(g)))
        counts.append(evaluations)
        converged = gnorms[-1] <= gtol
    return QuasiNewtonRun(np.array(xs), np.array(losses), np.array(gnorms), evaluations, skipped,
                          bool(converged), np.array(counts))


def bfgs(f: Callable, grad_f: Callable, x0: Any, *, max_iter: int = 200, gtol: float = 1e-6,
         c1: float = 1e-4, c2: float = 0.9) -> QuasiNewtonRun:
    r"""Minimise ``f`` with BFGS (dense :math:`B_t^{-1}`, :math:`O(n^2)` memory) and a Wolfe line search.

    Step :math:`t`: :math:`q_t = -B_t^{-1} g_t`, :math:`\eta` from :func:`dlnotes.linesearch.wolfe_search`
    (first try 1), :math:`x_{t+1} = x_t + \eta q_t`, then :func:`bfgs_inverse_update`. The first
    step is a short gradient step, after which :math:`B^{-1}` starts as
    :math:`\frac{\Delta x^\top\Delta g}{\Delta g^\top\Delta g} I`. Stops when
    :math:`\lVert g_t\rVert \le` ``gtol`` (SciPy's ``gtol`` uses the largest entry instead).
    """
    return _run(f, grad_f, x0, max_iter, gtol, None, c1, c2)


def lbfgs(f: Callable, grad_f: Callable, x0: Any, *, memory: int = 10, max_iter: int = 200,
          gtol: float = 1e-6, c1: float = 1e-4, c2: float = 0.9) -> QuasiNewtonRun:
    r"""Minimise ``f`` with L-BFGS: the last ``memory`` (:math:`\mathcal M`) pairs and the two-loop recursion, :math:`O(\mathcal M n)` memory."""
    memory = as_int(memory, "memory", low=1)
    return _run(f, grad_f, x0, max_iter, gtol, memory, c1, c2)


class LogisticRegression:
    r"""The L2-regularised logistic-regression objective on data with labels in {-1, +1}.

    :math:`f(w) = \frac1N \sum_i \log(1 + e^{-y^{(i)} (x^{(i)\top} w)}) + \tfrac{\lambda}{2}\lVert w\rVert^2`,
    with :mod:`dlnotes.losses` computing the loss and its gradient. Append a column of ones to
    ``X`` for a bias.

    Parameters
    ----------
    X : array of shape (N, n)
    y : array of shape (N,), entries -1 or +1
    weight_decay : float >= 0
        :math:`\lambda` (PyTorch's sense: it adds :math:`\lambda w` to the gradient).
    """

    def __init__(self, X: Any, y: Any, weight_decay: float = 0.0) -> None:
        from . import losses
        self._losses = losses
        self.X = as_float_array(X, "X", ndim=2)
        y = as_float_array(y, "y", ndim=1)
        if y.shape[0] != self.X.shape[0]:
            raise ValueError(f"X has {self.X.shape[0]} rows but y has {y.shape[0]} entries")
        if not np.all(np.abs(y) == 1.0):
            raise ValueError("y must hold labels -1 and +1")
        self.y = y
        self.weight_decay = as_scalar(weight_decay, "weight_decay", low=0.0)
        self.dim = self.X.shape[1]

    def _rows(self, rows):
        return (self.X, self.y) if rows is None else (self.X[rows], self.y[rows])

    def __call__(self, w: Any, rows: Any = None) -> float:
        X, y = self._rows(rows)
        return float(self._losses.logistic_loss(X @ w, y) + 0.5 * self.weight_decay * float(w @ w))

    def grad(self, w: Any, rows: Any = None) -> np.ndarray:
        r""":math:`\nabla f(w)` (shape (n,)), on all samples or on the minibatch ``rows``."""
        X, y = self._rows(rows)
        return X.T @ self._losses.logistic_loss_grad(X @ w, y) + self.weight_decay * np.asarray(w)

    def hessian(self, w: Any) -> np.ndarray:
        r""":math:`\frac1N X^\top \operatorname{diag}(\sigma(r_i)\sigma(-r_i)) X + \lambda I` (shape (n, n))."""
        z = self.X @ w
        p = 1.0 / (1.0 + np.exp(-z))
        return (self.X.T * (p * (1.0 - p))) @ self.X / self.X.shape[0] + self.weight_decay * np.eye(self.dim)


@dataclass(frozen=True)
class MinibatchLBFGS:
    r"""The result of :func:`minibatch_lbfgs`.

    Attributes
    ----------
    losses : array of shape (steps + 1,)
        Full-batch loss after each step.
    pairs : int
        Secant pairs formed.
    nonpositive : int
        Pairs with :math:`\Delta g_t^\top \Delta x_t \le 0` (skipped).
    """

    losses: np.ndarray
    pairs: int
    nonpositive: int


def minibatch_lbfgs(objective: LogisticRegression, x0: Any, steps: int, batch_size: int, *,
                    memory: int = 10, lr: float = 1.0, seed: int = 0,
                    same_batch_pairs: bool = False) -> MinibatchLBFGS:
    r"""L-BFGS fed with minibatch gradients, the naive way: a fixed step along :math:`q_t`.

    Step :math:`t` draws a minibatch, computes :math:`g_t` on it and steps
    :math:`x_{t+1} = x_t + \alpha q_t` (no line search: a line search on a noisy loss is
    meaningless). The secant pair uses the gradient of the *next* minibatch at
    :math:`x_{t+1}`, so :math:`\Delta g_t` mixes curvature with sampling noise; pairs with
    :math:`\Delta g_t^\top \Delta x_t \le 0` are counted and skipped. With
    ``same_batch_pairs`` both gradients of a pair come from the same minibatch (the fix of
    stochastic quasi-Newton methods, at the price of one extra gradient per step).
    """
    x = as_float_array(x0, "x0", ndim=1).copy()
    steps = as_int(steps, "steps", low=0, high=1_000_000)
    N = objective.X.shape[0]
    batch_size = as_int(batch_size, "batch_size", low=1, high=N)
    memory = as_int(memory, "memory", low=1)
    lr = as_scalar(lr, "lr", low=0.0, low_open=True)
    rng = np.random.default_rng(as_int(seed, "seed", low=0))
    pairs: deque = deque(maxlen=memory)
    losses = [objective(x)]
    formed = bad = 0
    rows = rng.choice(N, batch_size, replace=False)
    g = objective.grad(x, rows)
    for _ in range(steps):
        q = -lbfgs_two_loop(g, list(pairs))
        dx = lr * q
        x_new = x + dx
        next_rows = rng.choice(N, batch_size, replace=False)
        g_next = objective.grad(x_new, next_rows)
        g_pair = objective.grad(x_new, rows) if same_batch_pairs else g_next
        dg = g_pair - g
        formed += 1
        if float(dg @ dx) > 0.0:
            pairs.append((dx, dg))
        else:
            bad += 1
        x, g, rows = x_new, g_next, next_rows
        with np.errstate(all="ignore"):
            loss = objective(x) if np.all(np.isfinite(x)) else math.inf
        losses.append(loss)
        if not math.isfinite(loss):
            break
    return MinibatchLBFGS(np.array(losses), formed, bad)


def symbolic_checks(n: int = 2) -> dict[str, bool]:
    r"""Machine-check the BFGS identities with SymPy for a general symmetric :math:`n \times n` :math:`B_t`.

    Every entry of :math:`B_t`, :math:`\Delta x_t` and :math:`\Delta g_t` is a symbol. Returns
    ``{identity: holds}`` for

    * ``"secant"``: :math:`B_{t+1}\Delta x_t = \Delta g_t`;
    * ``"inverse secant"``: :math:`B_{t+1}^{-1}\Delta g_t = \Delta x_t` (any symmetric :math:`B_t^{-1}`);
    * ``"inverse"``: the inverse update of :math:`B_t^{-1}` times the update of :math:`B_t` is :math:`I`;
    * ``"expanded inverse"``: the :math:`O(n^2)` rank-one expansion used by :func:`bfgs_inverse_update`
      equals the product form;
    * ``"update without denominator"``, ``"inverse with swapped factors"``: two tempting
      misprints (the second term of :math:`B_{t+1}` without :math:`\Delta x_t^\top B_t \Delta x_t`; the
      outer products in the factors of :math:`B_{t+1}^{-1}` transposed) satisfy the secant
      condition (expected: False).
    """
    import sympy as sp

    n = as_int(n, "n", low=1, high=3)
    b = sp.symbols(f"b1:{n * n + 1}")
    B = sp.Matrix(n, n, lambda i, j: b[min(i, j) * n + max(i, j)])
    c = sp.symbols(f"c1:{n * n + 1}")
    C = sp.Matrix(n, n, lambda i, j: c[min(i, j) * n + max(i, j)])   # a general symmetric B^{-1}
    dx = sp.Matrix(sp.symbols(f"s1:{n + 1}"))
    dg = sp.Matrix(sp.symbols(f"d1:{n + 1}"))
    I = sp.eye(n)
    curv = (dg.T * dx)[0]

    def update(M):
        return M + dg * dg.T / curv - (M * dx) * (M * dx).T / (dx.T * M * dx)[0]

    def inverse_update(M, swapped=False):
        left = I - (dg * dx.T if swapped else dx * dg.T) / curv
        right = I - (dx * dg.T if swapped else dg * dx.T) / curv
        return left * M * right + dx * dx.T / curv

    def zero(expr) -> bool:
        return all(sp.simplify(e) == 0 for e in expr)

    Ci = inverse_update(C)
    r = 1 / curv
    Cdg = C * dg
    expanded = C - r * (dx * Cdg.T + Cdg * dx.T) + (r ** 2 * (dg.T * Cdg)[0] + r) * dx * dx.T
    wrong = B + dg * dg.T / curv - (B * dx) * (B * dx).T
    return {
        "secant": zero(update(B) * dx - dg),
        "inverse secant": zero(Ci * dg - dx),
        "inverse": zero(sp.together(update(B) * inverse_update(B.inv())) - I),
        "expanded inverse": zero(expanded - Ci),
        "update without denominator": zero(wrong * dx - dg),
        "inverse with swapped factors": zero(inverse_update(C, swapped=True) * dg - dx),
    }
