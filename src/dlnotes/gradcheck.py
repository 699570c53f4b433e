r"""Gradient checking with centred finite differences.

Taught in the chapters *Loss functions* (checking every loss's gradient) and, in more
depth, in the optimizer chapters (cost and accuracy of numerical gradients).

The centred difference

.. math::

    \frac{\partial f}{\partial x_i}(x) \approx \frac{f(x + h e_i) - f(x - h e_i)}{2h}

has truncation error :math:`O(h^2)` (the one-sided version only :math:`O(h)`), at the
price of two evaluations of :math:`f` per coordinate. Round-off grows like
:math:`\varepsilon_{\text{mach}}/h`, so ``h`` around :math:`10^{-5}` is a good compromise
in float64.

The callback ``f`` must return a finite real number at every point it is evaluated
(:math:`x \pm h e_i`); an infinite or NaN value is a ``ValueError`` naming the point,
rather than a NaN in the gradient. Notation: :math:`x` the point, :math:`n` its number of
coordinates, :math:`h` the step, :math:`e_i` the standard basis vector.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ._validation import as_float_array, as_scalar

__all__ = ["numerical_gradient", "relative_error", "GradCheck", "check_gradient",
           "forward_difference_gradient", "FiniteDifferenceStudy", "finite_difference_study"]


def _scalar(value: Any, where: str = "x") -> float:
    if isinstance(value, (str, bytes, bool)) or np.ndim(value) != 0:
        raise TypeError(f"f must return a scalar (a real number), got {type(value).__name__} "
                        f"with shape {np.shape(value)}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"f must return a scalar (a real number), got {type(value).__name__}") from None
    except OverflowError:  # a Python int beyond float64
        v = math.inf
    if not math.isfinite(v):
        raise ValueError(f"f must return a finite value; f({where}) = {v} (a finite difference "
                         "of it would be NaN or infinite)")
    return v


def _difference_args(f: Any, x: Any, h: Any) -> tuple[np.ndarray, float]:
    """Check the arguments of a finite difference; return a float copy of ``x`` and ``h``."""
    if not callable(f):
        raise TypeError(f"f must be a callable returning a scalar, got {type(f).__name__}")
    x0 = as_float_array(x, "x").copy()
    h = as_scalar(h, "h", low=0.0, low_open=True)
    with np.errstate(over="ignore"):
        if not np.all(np.isfinite(np.abs(x0) + h)):
            raise ValueError(f"h = {h:g} is too large for x: x + h overflows float64")
    return x0, h


def numerical_gradient(f: Callable[[np.ndarray], float], x: Any, h: float = 1e-5) -> np.ndarray:
    r"""Centred finite-difference gradient of a scalar function.

    Parameters
    ----------
    f : callable
        Takes an array shaped like ``x`` and returns a scalar.
    x : array of any shape
        The point; it is not modified.
    h : float > 0
        The step.

    Returns
    -------
    array shaped like ``x`` (float64). Costs ``2 * x.size`` evaluations of ``f``.
    """
    x0, h = _difference_args(f, x, h)
    grad = np.empty_like(x0)
    flat_x = x0.reshape(-1)
    flat_g = grad.reshape(-1)
    for i in range(flat_x.size):
        old = flat_x[i]
        flat_x[i] = old + h
        fp = f(x0.copy())
        flat_x[i] = old - h
        fm = f(x0.copy())
        flat_x[i] = old
        fp, fm = _scalar(fp, f"x + h e_{i}"), _scalar(fm, f"x - h e_{i}")
        # halves first: fp - fm itself can overflow for values near 1e308
        flat_g[i] = 0.5 * fp - 0.5 * fm
    with np.errstate(over="ignore"):  # outside f: a huge derivative estimate is +-inf, its rounded value
        grad /= h
    return grad


def relative_error(a: Any, b: Any, floor: float = 1e-12) -> float:
    r"""Largest elementwise relative error :math:`\max_i |a_i - b_i| / \max(|a_i|, |b_i|, \text{floor})`.

    Relative, because a gradient entry of 1e6 that is off by 1e-3 is fine while one of
    1e-3 off by 1e-3 is not. ``floor`` keeps two (near-)zero entries from dividing 0 by 0.
    """
    aa = as_float_array(a, "a")
    bb = as_float_array(b, "b")
    if aa.shape != bb.shape:
        raise ValueError(f"a has shape {aa.shape} but b has shape {bb.shape}; they must match")
    floor = as_scalar(floor, "floor", low=0.0, low_open=True)
    denom = np.maximum(np.maximum(np.abs(aa), np.abs(bb)), floor)
    # a/denom and b/denom lie in [-1, 1], so their difference cannot overflow as a - b can
    return float(np.max(np.abs(aa / denom - bb / denom)))


@dataclass(frozen=True)
class GradCheck:
    """Result of :func:`check_gradient`.

    Attributes
    ----------
    analytic, numerical : arrays shaped like ``x``
    max_relative_error : float
    passed : bool
        ``max_relative_error <= tol``.
    """

    analytic: np.ndarray
    numerical: np.ndarray
    max_relative_error: float
    passed: bool


def check_gradient(f: Callable[[np.ndarray], float], grad_f: Callable[[np.ndarray], Any],
                   x: Any, h: float = 1e-5, tol: float = 1e-6) -> GradCheck:
    """Compare an analytic gradient ``grad_f(x)`` with :func:`numerical_gradient` of ``f`` at ``x``.

    A relative error around 1e-7 or below means the gradient is right; around 1e-2 or
    above it is wrong. Points near a kink (ReLU, hinge, L1 at 0) can fail although the
    code is correct, because the finite difference straddles the kink. ``tol`` must be a
    finite number >= 0 (``passed`` is ``max_relative_error <= tol``).
    """
    x0 = as_float_array(x, "x")
    tol = as_scalar(tol, "tol", low=0.0)
    g_num = numerical_gradient(f, x0, h)
    g_an = as_float_array(grad_f(x0.copy()), "grad_f(x)")
    if g_an.shape != x0.shape:
        raise ValueError(f"grad_f(x) has shape {g_an.shape} but x has shape {x0.shape}")
    err = relative_error(g_an, g_num)
    return GradCheck(g_an, g_num, err, err <= tol)


# ------------------------------------------------- numerical vs analytic: cost and accuracy
#
# Added for the optimizer chapters: how the error of a finite difference depends on h,
# and what a numerical gradient costs compared with backpropagation.

def forward_difference_gradient(f: Callable[[np.ndarray], float], x: Any, h: float = 1e-7) -> np.ndarray:
    r"""One-sided (forward) finite-difference gradient, :math:`\partial_i f \approx (f(x + h e_i) - f(x))/h`.

    Truncation error :math:`O(h)` (against :math:`O(h^2)` for the centred difference of
    :func:`numerical_gradient`), for :math:`n + 1` evaluations of ``f`` instead of
    :math:`2n` (:math:`n` = ``x.size``).

    Chapter: *Gradient descent and its problems* (numerical vs analytic gradients).

    Parameters
    ----------
    f : callable
        Takes an array shaped like ``x`` and returns a scalar.
    x : array of any shape
        The point; it is not modified.
    h : float > 0

    Returns
    -------
    array shaped like ``x`` (float64).
    """
    x0, h = _difference_args(f, x, h)
    f0 = _scalar(f(x0.copy()))
    grad = np.empty_like(x0)
    flat_x, flat_g = x0.reshape(-1), grad.reshape(-1)
    for i in range(flat_x.size):
        old = flat_x[i]
        flat_x[i] = old + h
        fp = _scalar(f(x0.copy()), f"x + h e_{i}")
        flat_x[i] = old
        flat_g[i] = 0.5 * fp - 0.5 * f0
    with np.errstate(over="ignore"):  # a huge derivative estimate is +-inf, its rounded value
        grad /= h                     # (not / (h / 2): h / 2 underflows to 0 for h = 5e-324)
        grad *= 2.0
    return grad


def _norm(v: np.ndarray) -> float:
    """The Euclidean norm without overflow or underflow of the squares."""
    biggest = float(np.max(np.abs(v)))
    if biggest == 0 or not math.isfinite(biggest):
        return biggest
    return biggest * float(np.linalg.norm(v / biggest))


def _relative_norm(estimate: np.ndarray, exact: np.ndarray, scale: float) -> float:
    """||estimate - exact|| / scale without overflow (inf only if the ratio itself is)."""
    return _norm(estimate / scale - exact / scale)


@dataclass(frozen=True)
class FiniteDifferenceStudy:
    r"""Error of forward and centred differences as the step :math:`h` varies (:func:`finite_difference_study`).

    Attributes
    ----------
    h : array
        The steps, increasing (1-D).
    forward_error, central_error : arrays shaped like ``h``
        Relative error :math:`\lVert \hat g - \nabla f\rVert / \lVert\nabla f\rVert` of
        each scheme against the analytic gradient (the absolute error where
        :math:`\nabla f = 0`). On a log-log plot: slope 1 (forward)
        and 2 (centred) where truncation dominates (large h), slope -1 where round-off
        dominates (small h).
    forward_evaluations, central_evaluations : int
        Calls of ``f`` per gradient, counted: :math:`n + 1` and :math:`2n`.
    best_h_forward, best_h_central : float
        The h with the smallest error of each scheme (theory: about
        :math:`\sqrt{\varepsilon_{\text{mach}}} \approx 10^{-8}` and
        :math:`\varepsilon_{\text{mach}}^{1/3} \approx 6 \cdot 10^{-6}` for a
        well-scaled function).
    dim : int
        :math:`n`, the number of coordinates.
    """

    h: np.ndarray
    forward_error: np.ndarray
    central_error: np.ndarray
    forward_evaluations: int
    central_evaluations: int
    best_h_forward: float
    best_h_central: float
    dim: int


def finite_difference_study(f: Callable[[np.ndarray], float], grad_f: Callable[[np.ndarray], Any],
                            x: Any, h: Any = None) -> FiniteDifferenceStudy:
    r"""Measure the accuracy and cost of forward and centred differences against an analytic gradient.

    The error of a finite difference is the sum of a truncation error that falls with
    :math:`h` (like :math:`h` or :math:`h^2`) and a round-off error that grows like
    :math:`\varepsilon_{\text{mach}}|f|/h`; the best :math:`h` balances them. The cost is
    counted in calls of ``f``: a numerical gradient needs :math:`O(n)` of them, while
    backpropagation gets all :math:`n` partial derivatives for a small constant times the
    cost of one.

    Chapter: *Gradient descent and its problems* (numerical vs analytic gradients).

    Parameters
    ----------
    f : callable
        Scalar function of an array shaped like ``x``.
    grad_f : callable
        Its analytic gradient.
    x : array of any shape
    h : array of steps > 0, optional
        Default: 49 steps from 1e-13 to 1e-1, evenly spaced in log.

    Returns
    -------
    FiniteDifferenceStudy
    """
    if not callable(f) or not callable(grad_f):
        raise TypeError("f and grad_f must be callables")
    x0 = as_float_array(x, "x")
    hs = np.logspace(-13, -1, 49) if h is None else as_float_array(h, "h", ndim=1)
    if np.any(hs <= 0):
        raise ValueError(f"h must hold steps > 0, got {hs[hs <= 0][0]:g}")
    if hs.size > 10_000:
        raise ValueError(f"h must hold at most 10000 steps, got {hs.size}")
    with np.errstate(over="ignore"):
        if not np.all(np.isfinite(np.max(np.abs(x0)) + hs)):
            raise ValueError(f"h holds a step too large for x: x + h overflows float64 "
                             f"(h up to {np.max(hs):g})")
    hs = np.sort(hs)
    exact = as_float_array(grad_f(x0.copy()), "grad_f(x)")
    if exact.shape != x0.shape:
        raise ValueError(f"grad_f(x) has shape {exact.shape} but x has shape {x0.shape}")
    # relative to the gradient's norm (computed without overflow); at a stationary point,
    # where the gradient is 0, the error is absolute
    scale = _norm(exact) or 1.0
    calls = [0]

    def counted(v):
        calls[0] += 1
        return f(v)

    fwd, cen = np.empty(hs.size), np.empty(hs.size)
    n_fwd = n_cen = 0
    with np.errstate(over="ignore", invalid="ignore"):  # an error beyond 1e308 is inf
        for i, step in enumerate(hs):
            calls[0] = 0
            fwd[i] = _relative_norm(forward_difference_gradient(counted, x0, float(step)), exact, scale)
            n_fwd = calls[0]
            calls[0] = 0
            cen[i] = _relative_norm(numerical_gradient(counted, x0, float(step)), exact, scale)
            n_cen = calls[0]
    return FiniteDifferenceStudy(hs, fwd, cen, n_fwd, n_cen, float(hs[np.argmin(fwd)]),
                                 float(hs[np.argmin(cen)]), int(x0.size))
