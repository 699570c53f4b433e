r"""Newton's method: step to the critical point of the local quadratic model.

The second-order Taylor model of :math:`f` at the iterate :math:`x_t` is

.. math:: f(x_t + p) \approx f(x_t) + g_t^\top p + \tfrac12\, p^\top H_t\, p ,

with :math:`g_t = \nabla f(x_t)` and :math:`H_t = \nabla^2 f(x_t)`. Setting its gradient
:math:`g_t + H_t p` to zero gives the **Newton direction** :math:`q_t = -H_t^{-1} g_t` (minus
sign: for a positive definite :math:`H_t` it is a descent direction, :math:`g_t^\top q_t < 0`).
Pure Newton takes :math:`x_{t+1} = x_t + q_t`; damped Newton takes :math:`x_t + \eta\, q_t` with
:math:`\eta` from a line search (:mod:`dlnotes.linesearch`).

Chapter: *Second-order methods and line search*.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import scipy.linalg

from . import linesearch
from ._validation import as_callable, as_float_array, as_int, as_scalar

__all__ = ["check_hessian", "newton_direction", "newton_step", "NewtonRun", "newton",
           "damped_newton", "newton_cost", "gradient_step_cost"]


def check_hessian(H: Any, name: str = "H", rtol: float = 1e-8) -> np.ndarray:
    r"""``H`` as a finite float64 (n, n) array, or a ``ValueError`` if it is not square or not symmetric.

    Symmetry is checked to ``rtol`` times the largest entry (a Hessian of a twice continuously
    differentiable function is symmetric; an asymmetric one is a bug upstream).
    """
    H = as_float_array(H, name, ndim=2)
    if H.shape[0] != H.shape[1]:
        raise ValueError(f"{name} must be square, got shape {H.shape}")
    scale = max(float(np.abs(H).max()), np.finfo(float).tiny)
    asym = float(np.abs(H - H.T).max())
    if asym > rtol * scale:
        raise ValueError(f"{name} must be symmetric; H - H^T has an entry of size {asym:.3g}")
    return H


def newton_direction(g: Any, H: Any) -> np.ndarray:
    r"""The Newton direction :math:`q_t = -H_t^{-1} g_t`, by solving :math:`H_t q_t = -g_t` (no inverse formed).

    Parameters
    ----------
    g : array of shape (n,)
        Gradient :math:`g_t`.
    H : array of shape (n, n), symmetric
        Hessian :math:`H_t`. It need not be positive definite (near a saddle the direction then
        points *towards* the saddle), but it must be non-singular.

    Returns an array of shape (n,). Raises ``ValueError`` for a singular Hessian.
    """
    H = check_hessian(H)
    g = as_float_array(g, "g", ndim=1)
    if g.shape[0] != H.shape[0]:
        raise ValueError(f"g has {g.shape[0]} entries but H is {H.shape[0]} x {H.shape[0]}")
    try:
        q = scipy.linalg.solve(H, -g, assume_a="sym")
    except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
        raise ValueError("H is singular: the quadratic model has no unique critical point") from None
    if not np.all(np.isfinite(q)):
        raise ValueError("H is (numerically) singular: the Newton direction is not finite")
    return q


def newton_step(x: Any, g: Any, H: Any) -> np.ndarray:
    r"""One pure Newton step :math:`x_{t+1} = x_t - H_t^{-1} g_t` (shape (n,))."""
    x = as_float_array(x, "x", ndim=1)
    return x + newton_direction(g, H)


@dataclass(frozen=True)
class NewtonRun:
    r"""A Newton run.

    Attributes
    ----------
    xs : array of shape (steps + 1, n)
        The iterates :math:`x_0, \dots, x_T`.
    losses : array of shape (steps + 1,)
    etas : array of shape (steps,)
        Step lengths (all 1 for pure Newton).
    newton_steps : array of bool, shape (steps,)
        Whether step :math:`t` used the Newton direction (damped Newton falls back to
        :math:`-g_t` where the Newton direction is not a descent direction).
    evaluations : int
        Function evaluations of the line searches.
    """

    xs: np.ndarray
    losses: np.ndarray
    etas: np.ndarray
    newton_steps: np.ndarray
    evaluations: int


def _steps(steps: Any) -> int:
    return as_int(steps, "steps", low=0, high=100_000)


def newton(f: Callable, grad_f: Callable, hess_f: Callable, x0: Any, steps: int,
           gtol: float = 0.0) -> NewtonRun:
    r"""Pure Newton, :math:`x_{t+1} = x_t - H_t^{-1} g_t`, for ``steps`` steps (or until :math:`\lVert g_t\rVert \le` ``gtol``).

    Converges quadratically near a minimum with positive definite Hessian, but is attracted to
    *any* non-degenerate critical point, saddles and maxima included.
    """
    f, grad_f, hess_f = (as_callable(v, n) for v, n in ((f, "f"), (grad_f, "grad_f"), (hess_f, "hess_f")))
    x = as_float_array(x0, "x0", ndim=1).copy()
    steps = _steps(steps)
    gtol = as_scalar(gtol, "gtol", low=0.0)
    xs, losses = [x.copy()], [float(f(x))]
    for _ in range(steps):
        g = np.asarray(grad_f(x), dtype=float)
        if np.linalg.norm(g) <= gtol:
            break
        x = x + newton_direction(g, hess_f(x))
        xs.append(x.copy())
        losses.append(float(f(x)))
    k = len(xs) - 1
    return NewtonRun(np.array(xs), np.array(losses), np.ones(k), np.ones(k, dtype=bool), 0)


def damped_newton(f: Callable, grad_f: Callable, hess_f: Callable, x0: Any, steps: int, *,
                  c1: float = 1e-4, shrink: float = 0.5, gtol: float = 0.0) -> NewtonRun:
    r"""Damped Newton: :math:`x_{t+1} = x_t + \eta\, q_t` with :math:`\eta` from Armijo backtracking.

    :math:`q_t` is the Newton direction when the Hessian is positive definite (a Cholesky
    factorisation succeeds), else the steepest-descent direction :math:`-g_t`: the Newton
    direction is then not guaranteed to go downhill, and the fallback is recorded in
    :attr:`NewtonRun.newton_steps`.
    """
    f, grad_f, hess_f = (as_callable(v, n) for v, n in ((f, "f"), (grad_f, "grad_f"), (hess_f, "hess_f")))
    x = as_float_array(x0, "x0", ndim=1).copy()
    steps = _steps(steps)
    gtol = as_scalar(gtol, "gtol", low=0.0)
    fx = float(f(x))
    xs, losses, etas, used, evals = [x.copy()], [fx], [], [], 1
    for _ in range(steps):
        g = np.asarray(grad_f(x), dtype=float)
        if np.linalg.norm(g) <= gtol:
            break
        H = check_hessian(hess_f(x))
        try:
            c, low = scipy.linalg.cho_factor(H)
            q = scipy.linalg.cho_solve((c, low), -g)
            is_newton = bool(g @ q < 0)
        except (np.linalg.LinAlgError, scipy.linalg.LinAlgError):
            is_newton = False
        if not is_newton:
            q = -g
        ls = linesearch.backtracking(f, x, g, q, eta0=1.0, c1=c1, shrink=shrink, f_x=fx)
        x = x + ls.eta * q
        fx = ls.values[-1]
        evals += ls.evaluations
        xs.append(x.copy())
        losses.append(fx)
        etas.append(ls.eta)
        used.append(is_newton)
    return NewtonRun(np.array(xs), np.array(losses), np.array(etas), np.array(used, dtype=bool), evals)


def newton_cost(n: int) -> dict[str, float]:
    r"""Floating-point operations and memory of one Newton step in dimension :math:`n`.

    Storing :math:`H_t`: :math:`n^2` numbers. Solving :math:`H_t q_t = -g_t` by Cholesky:
    :math:`n^3/3` multiply-adds for the factorisation plus :math:`2n^2` for the two triangular
    solves (each multiply-add counted as 2 flops). The Hessian itself is extra (at least
    :math:`n` gradient evaluations, or :math:`n` Hessian-vector products).

    Returns ``{"memory_floats", "flops"}``.
    """
    n = as_int(n, "n", low=1)
    return {"memory_floats": float(n * n), "flops": 2.0 * n ** 3 / 3.0 + 4.0 * n * n}


def gradient_step_cost(n: int) -> dict[str, float]:
    r"""Flops and memory of one gradient step :math:`x_t - \alpha g_t` (given :math:`g_t`): :math:`2n` and :math:`n`."""
    n = as_int(n, "n", low=1)
    return {"memory_floats": float(n), "flops": 2.0 * n}
