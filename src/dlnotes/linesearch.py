r"""Line search: how far to go along a search direction.

Given an iterate :math:`x_t`, its gradient :math:`g_t` and a search direction :math:`q_t`, a
line search chooses the step length :math:`\eta > 0` of :math:`x_{t+1} = x_t + \eta\, q_t` by
looking at the one-variable function :math:`\eta \mapsto f(x_t + \eta q_t)`. Its slope at 0 is
:math:`g_t^\top q_t`, negative for a **descent direction**; every function here that takes a
direction rejects one that is not.

* :func:`exact_step_quadratic`: the exact minimiser along :math:`q_t` of a quadratic, in closed form;
* :func:`armijo`, :func:`wolfe`: the sufficient-decrease and curvature conditions;
* :func:`backtracking`: shrink :math:`\eta` by a factor until the Armijo condition holds;
* :func:`wolfe_search`: a bisection search for a step satisfying both (weak) Wolfe conditions,
  which is what quasi-Newton methods need;
* :func:`bracket`, :func:`golden_section`, :func:`parabolic_vertex`,
  :func:`parabolic_interpolation`: derivative-free searches on a function of one variable.

Chapter: *Second-order methods and line search*.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ._validation import as_callable, as_float_array, as_int, as_scalar

__all__ = [
    "GOLDEN", "exact_step_quadratic", "directional_derivative", "armijo", "wolfe",
    "Backtracking", "backtracking", "wolfe_search", "Bracket", "bracket",
    "GoldenSection", "golden_section", "parabolic_vertex", "parabolic_interpolation",
]

#: :math:`(\sqrt5 - 1)/2 \approx 0.618`: the factor by which golden-section search shrinks its interval per step.
GOLDEN = (math.sqrt(5.0) - 1.0) / 2.0


def _value(f: Callable, x: np.ndarray, name: str = "f") -> float:
    v = f(x)
    if isinstance(v, (str, bytes, bool)) or np.ndim(v) != 0:
        raise TypeError(f"{name} must return a real number, got {type(v).__name__}")
    return float(v)


def _vectors(x: Any, g: Any, q: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = as_float_array(x, "x", ndim=1)
    g = as_float_array(g, "g", ndim=1)
    q = as_float_array(q, "q", ndim=1)
    if not x.shape == g.shape == q.shape:
        raise ValueError(f"x, g and q must have the same shape, got {x.shape}, {g.shape}, {q.shape}")
    return x, g, q


def directional_derivative(g: Any, q: Any, *, require_descent: bool = True) -> float:
    r"""The slope :math:`g_t^\top q_t` of :math:`\eta \mapsto f(x_t + \eta q_t)` at :math:`\eta = 0`.

    Raises ``ValueError`` (naming ``q``) if it is not negative and ``require_descent``: along a
    direction that is not a descent direction no small step decreases :math:`f`, and a line
    search would shrink :math:`\eta` forever.

    Parameters
    ----------
    g, q : arrays of shape (n,)
        The gradient at the iterate and the search direction.
    """
    g = as_float_array(g, "g", ndim=1)
    q = as_float_array(q, "q", ndim=1)
    if g.shape != q.shape:
        raise ValueError(f"g and q must have the same shape, got {g.shape} and {q.shape}")
    slope = float(g @ q)
    if require_descent and not slope < 0.0:
        raise ValueError(f"q is not a descent direction: g^T q = {slope:.3g} must be negative "
                         "(use q = -g, or a Newton direction with a positive definite Hessian)")
    return slope


def exact_step_quadratic(A: Any, g: Any, q: Any) -> float:
    r"""Exact line search on a quadratic: :math:`\eta^* = -\,g_t^\top q_t \,/\, q_t^\top A q_t`.

    For :math:`f(x) = \tfrac12 (x - x^*)^\top A (x - x^*)` the function
    :math:`\eta \mapsto f(x_t + \eta q_t)` is a parabola with slope :math:`g_t^\top q_t` and
    curvature :math:`q_t^\top A q_t` at 0; its minimiser is :math:`\eta^*`.

    Parameters
    ----------
    A : array of shape (n, n), symmetric
    g, q : arrays of shape (n,)
        Gradient :math:`A(x_t - x^*)` and a descent direction.

    Raises ``ValueError`` if ``q`` is not a descent direction or the curvature
    :math:`q_t^\top A q_t` is not positive (then the parabola has no minimum).
    """
    A = as_float_array(A, "A", ndim=2)
    if A.shape[0] != A.shape[1]:
        raise ValueError(f"A must be square, got shape {A.shape}")
    slope = directional_derivative(g, q)
    q = np.asarray(q, dtype=float)
    if q.shape[0] != A.shape[0]:
        raise ValueError(f"q has {q.shape[0]} entries but A is {A.shape[0]} x {A.shape[0]}")
    curvature = float(q @ A @ q)
    if not curvature > 0.0:
        raise ValueError(f"the curvature q^T A q = {curvature:.3g} along q must be positive "
                         "for the exact step to exist")
    return -slope / curvature


def armijo(f_x: float, f_new: float, slope: float, eta: float, c1: float = 1e-4) -> bool:
    r"""The Armijo (sufficient decrease) condition :math:`f(x_t + \eta q_t) \le f(x_t) + c_1\,\eta\,g_t^\top q_t`."""
    return bool(f_new <= f_x + c1 * eta * slope)


def wolfe(f_x: float, f_new: float, slope: float, slope_new: float, eta: float,
          c1: float = 1e-4, c2: float = 0.9, strong: bool = False) -> bool:
    r"""The Wolfe conditions: Armijo, and the curvature condition :math:`g_{t+1}^\top q_t \ge c_2\, g_t^\top q_t`.

    ``slope`` is :math:`g_t^\top q_t`, ``slope_new`` is :math:`\nabla f(x_t + \eta q_t)^\top q_t`.
    The strong form asks :math:`\lvert g_{t+1}^\top q_t\rvert \le c_2 \lvert g_t^\top q_t\rvert`
    (what ``scipy.optimize.line_search`` returns).
    """
    if not armijo(f_x, f_new, slope, eta, c1):
        return False
    if strong:
        return bool(abs(slope_new) <= c2 * abs(slope))
    return bool(slope_new >= c2 * slope)


@dataclass(frozen=True)
class Backtracking:
    r"""The result of :func:`backtracking`.

    Attributes
    ----------
    eta : float
        The accepted step length.
    tried : list of float
        Every step length tried, in order (the last one is accepted).
    values : list of float
        :math:`f(x_t + \eta q_t)` at each tried step.
    evaluations : int
        Function evaluations, including :math:`f(x_t)` if it was not given.
    """

    eta: float
    tried: list[float]
    values: list[float]
    evaluations: int


def backtracking(f: Callable[[np.ndarray], Any], x: Any, g: Any, q: Any, *, eta0: float = 1.0,
                 c1: float = 1e-4, shrink: float = 0.5, f_x: float | None = None,
                 max_tries: int = 60) -> Backtracking:
    r"""Backtracking line search: try :math:`\eta_0, c_{\mathrm{bt}}\eta_0, c_{\mathrm{bt}}^2\eta_0, \dots` until Armijo holds.

    Parameters
    ----------
    f : callable
        ``f(x)`` for x of shape (n,), returning a float.
    x, g, q : arrays of shape (n,)
        Iterate :math:`x_t`, gradient :math:`g_t`, descent direction :math:`q_t`.
    eta0 : float > 0
        The first step tried (1 for Newton and quasi-Newton directions).
    c1 : float in (0, 1)
        Armijo constant :math:`c_1`.
    shrink : float in (0, 1)
        Backtracking factor :math:`c_{\mathrm{bt}}`.
    f_x : float, optional
        :math:`f(x_t)` if known (saves one evaluation).
    max_tries : int
        Give up (``RuntimeError``) after this many tries; with a descent direction and a
        smooth :math:`f` this does not happen for any reasonable ``eta0``.
    """
    f = as_callable(f, "f")
    x, g, q = _vectors(x, g, q)
    slope = directional_derivative(g, q)
    eta = as_scalar(eta0, "eta0", low=0.0, low_open=True)
    c1 = as_scalar(c1, "c1", low=0.0, high=1.0, low_open=True, high_open=True)
    shrink = as_scalar(shrink, "shrink", low=0.0, high=1.0, low_open=True, high_open=True)
    max_tries = as_int(max_tries, "max_tries", low=1)
    evaluations = 0
    if f_x is None:
        f_x = _value(f, x)
        evaluations += 1
    tried, values = [], []
    for _ in range(max_tries):
        with np.errstate(all="ignore"):
            f_new = _value(f, x + eta * q)
        evaluations += 1
        tried.append(eta)
        values.append(f_new)
        if math.isfinite(f_new) and armijo(f_x, f_new, slope, eta, c1):
            return Backtracking(eta, tried, values, evaluations)
        eta *= shrink
    raise RuntimeError(f"backtracking found no step satisfying the Armijo condition in {max_tries} tries")


def wolfe_search(f: Callable[[np.ndarray], Any], grad_f: Callable[[np.ndarray], Any], x: Any, g: Any,
                 q: Any, *, eta0: float = 1.0, c1: float = 1e-4, c2: float = 0.9,
                 f_x: float | None = None, max_tries: int = 60) -> tuple[float, float, np.ndarray, int]:
    r"""A step satisfying the weak Wolfe conditions, by bracketing and bisection.

    Keeps an interval :math:`[\eta_{\mathrm{lo}}, \eta_{\mathrm{hi}}]`: a step that fails Armijo
    becomes :math:`\eta_{\mathrm{hi}}`, one that passes Armijo but fails the curvature condition
    becomes :math:`\eta_{\mathrm{lo}}`; the next try is the midpoint, or :math:`2\eta_{\mathrm{lo}}`
    while no upper end is known. A step that passes both guarantees
    :math:`\Delta g_t^\top \Delta x_t > 0` (the curvature condition minus :math:`g_t^\top q_t`,
    times :math:`\eta`), which keeps BFGS positive definite.

    Returns ``(eta, f_new, g_new, evaluations)``; each evaluation is one call of ``f`` and one of
    ``grad_f`` at the same point. Raises ``RuntimeError`` after ``max_tries``.
    """
    f = as_callable(f, "f")
    grad_f = as_callable(grad_f, "grad_f")
    x, g, q = _vectors(x, g, q)
    slope = directional_derivative(g, q)
    eta = as_scalar(eta0, "eta0", low=0.0, low_open=True)
    c1 = as_scalar(c1, "c1", low=0.0, high=1.0, low_open=True, high_open=True)
    c2 = as_scalar(c2, "c2", low=c1, high=1.0, low_open=True, high_open=True)
    max_tries = as_int(max_tries, "max_tries", low=1)
    evaluations = 0
    if f_x is None:
        f_x = _value(f, x)
        evaluations += 1
    lo, hi = 0.0, math.inf
    for _ in range(max_tries):
        x_new = x + eta * q
        with np.errstate(all="ignore"):
            f_new = _value(f, x_new)
        evaluations += 1
        if not (math.isfinite(f_new) and armijo(f_x, f_new, slope, eta, c1)):
            hi = eta
        else:
            g_new = np.asarray(grad_f(x_new), dtype=float)
            if float(g_new @ q) >= c2 * slope:
                return eta, f_new, g_new, evaluations
            lo = eta
        eta = 0.5 * (lo + hi) if math.isfinite(hi) else 2.0 * lo
    raise RuntimeError(f"wolfe_search found no Wolfe step in {max_tries} tries")


# ------------------------------------------------------------- one-variable searches

@dataclass(frozen=True)
class Bracket:
    r"""Three points :math:`\eta_{\mathrm{lo}} < \eta_{\mathrm{mid}} < \eta_{\mathrm{hi}}` (or the mirror image) with the middle value lowest.

    Attributes
    ----------
    points : tuple
        Three floats, in the order they were found: ``(a, b, c)`` with ``f(b) <= f(a)`` and ``f(b) < f(c)``,
        like ``scipy.optimize.bracket``'s ``xa, xb, xc``.
    values : tuple
        The three function values.
    evaluations : int
    """

    points: tuple[float, float, float]
    values: tuple[float, float, float]
    evaluations: int


def _scalar_fn(f: Callable) -> Callable[[float], float]:
    f = as_callable(f, "f")

    def phi(t: float) -> float:
        with np.errstate(all="ignore"):
            v = f(t)
        if isinstance(v, (str, bytes, bool)) or np.ndim(v) != 0:
            raise TypeError(f"f must return a real number, got {type(v).__name__}")
        v = float(v)
        if math.isnan(v):
            raise ValueError(f"f returned NaN at {t!r}")
        return v
    return phi


def bracket(f: Callable[[float], Any], a: float = 0.0, b: float = 1.0, *, grow: float = 1.0 + GOLDEN,
            max_steps: int = 100) -> Bracket:
    r"""Bracket a minimum of a function of one variable by stepping downhill with growing steps.

    Start from ``a`` and ``b``; swap them so that :math:`f(b) \le f(a)`, then step on,
    :math:`c = b + \texttt{grow}\,(b - a)`, shifting :math:`(a, b) \leftarrow (b, c)` while
    :math:`f` keeps decreasing. When :math:`f(c) > f(b)` the triple brackets a minimum. (Only
    golden expansion; ``scipy.optimize.bracket`` also tries a parabolic extrapolation, so the
    two find different but equally valid brackets.)

    Raises ``RuntimeError`` if ``f`` keeps decreasing for ``max_steps`` steps (it may be
    unbounded below).
    """
    phi = _scalar_fn(f)
    a = as_scalar(a, "a")
    b = as_scalar(b, "b")
    if a == b:
        raise ValueError("a and b must differ")
    grow = as_scalar(grow, "grow", low=1.0, low_open=True)
    max_steps = as_int(max_steps, "max_steps", low=1)
    fa, fb = phi(a), phi(b)
    if fb > fa:
        a, b, fa, fb = b, a, fb, fa
    evaluations = 2
    for _ in range(max_steps):
        c = b + grow * (b - a)
        fc = phi(c)
        evaluations += 1
        if fc > fb:
            return Bracket((a, b, c), (fa, fb, fc), evaluations)
        a, b, fa, fb = b, c, fb, fc
    raise RuntimeError(f"no bracket after {max_steps} steps: f keeps decreasing (unbounded below?)")


@dataclass(frozen=True)
class GoldenSection:
    r"""The result of :func:`golden_section`.

    Attributes
    ----------
    x : float
        The best point found.
    intervals : numpy.ndarray
        Shape (steps + 1, 2): the interval :math:`[\eta_{\mathrm{lo}}, \eta_{\mathrm{hi}}]` before the first step and after each step.
    evaluations : int
    """

    x: float
    intervals: np.ndarray
    evaluations: int


def golden_section(f: Callable[[float], Any], lo: float, hi: float, *, steps: int | None = None,
                   tol: float = 1e-8) -> GoldenSection:
    r"""Golden-section search for a minimum of a unimodal function on :math:`[\eta_{\mathrm{lo}}, \eta_{\mathrm{hi}}]`.

    Two interior points at fractions :math:`1 - G` and :math:`G` of the interval,
    :math:`G = (\sqrt5 - 1)/2`; the side beyond the worse one is dropped, and the better one is
    at the right fraction of the new interval, so each step costs **one** evaluation and
    shrinks the interval by exactly :math:`G`. After :math:`k` steps its length is
    :math:`G^k (\eta_{\mathrm{hi}} - \eta_{\mathrm{lo}})`.

    Parameters
    ----------
    f : callable, float -> float
    lo, hi : float, lo < hi
    steps : int, optional
        Number of steps; by default, until the interval is shorter than ``tol`` times
        ``1 + |x|``.
    """
    phi = _scalar_fn(f)
    lo = as_scalar(lo, "lo")
    hi = as_scalar(hi, "hi")
    if not lo < hi:
        raise ValueError(f"lo must be smaller than hi, got {lo:g} and {hi:g}")
    tol = as_scalar(tol, "tol", low=0.0, low_open=True)
    if steps is not None:
        steps = as_int(steps, "steps", low=0, high=10_000)
    x1, x2 = hi - GOLDEN * (hi - lo), lo + GOLDEN * (hi - lo)
    f1, f2 = phi(x1), phi(x2)
    evaluations = 2
    intervals = [(lo, hi)]
    k = 0
    while (k < steps) if steps is not None else (hi - lo > tol * (1.0 + abs(x1)) and k < 10_000):
        if f1 <= f2:              # a minimum lies in [lo, x2]
            hi, x2, f2 = x2, x1, f1
            x1 = hi - GOLDEN * (hi - lo)
            f1 = phi(x1)
        else:                     # a minimum lies in [x1, hi]
            lo, x1, f1 = x1, x2, f2
            x2 = lo + GOLDEN * (hi - lo)
            f2 = phi(x2)
        evaluations += 1
        intervals.append((lo, hi))
        k += 1
    x = x1 if f1 <= f2 else x2
    return GoldenSection(float(x), np.array(intervals), evaluations)


def parabolic_vertex(a: float, b: float, c: float, fa: float, fb: float, fc: float) -> float:
    r"""The abscissa of the vertex of the parabola through :math:`(a, f_a), (b, f_b), (c, f_c)`.

    .. math:: b - \frac12\,\frac{(b - a)^2 (f_b - f_c) - (b - c)^2 (f_b - f_a)}
                               {(b - a)(f_b - f_c) - (b - c)(f_b - f_a)}

    Raises ``ValueError`` if the three points are collinear (no vertex).
    """
    a, b, c = (as_scalar(v, n) for v, n in ((a, "a"), (b, "b"), (c, "c")))
    fa, fb, fc = (as_scalar(v, n) for v, n in ((fa, "fa"), (fb, "fb"), (fc, "fc")))
    num = (b - a) ** 2 * (fb - fc) - (b - c) ** 2 * (fb - fa)
    den = (b - a) * (fb - fc) - (b - c) * (fb - fa)
    if den == 0.0:
        raise ValueError("the three points are collinear: the parabola through them has no vertex")
    return b - 0.5 * num / den


def parabolic_interpolation(f: Callable[[float], Any], a: float, b: float, c: float, *,
                            steps: int = 20, tol: float = 1e-10) -> tuple[float, list[float]]:
    r"""Successive parabolic interpolation from a bracket ``a < b < c`` (``f(b)`` lowest).

    Each step evaluates :math:`f` at the vertex of the parabola through the current three
    points and keeps the three points that still bracket the minimum. Fast (superlinear) near a
    smooth minimum, but unsafeguarded: Brent's method (``minimize_scalar(method='brent')``)
    falls back to golden-section steps when the parabola misbehaves.

    Returns ``(x, points)``: the best point and every vertex evaluated.
    """
    phi = _scalar_fn(f)
    a, b, c = (as_scalar(v, n) for v, n in ((a, "a"), (b, "b"), (c, "c")))
    if not a < b < c:
        raise ValueError(f"need a < b < c, got {a:g}, {b:g}, {c:g}")
    steps = as_int(steps, "steps", low=1, high=10_000)
    fa, fb, fc = phi(a), phi(b), phi(c)
    if not (fb <= fa and fb <= fc):
        raise ValueError("(a, b, c) must bracket a minimum: f(b) must not exceed f(a) or f(c)")
    points = []
    for _ in range(steps):
        try:
            u = parabolic_vertex(a, b, c, fa, fb, fc)
        except ValueError:
            break
        if not a < u < c or abs(u - b) <= tol * (1.0 + abs(b)):
            break
        fu = phi(u)
        points.append(u)
        if u < b:
            if fu <= fb:
                c, fc, b, fb = b, fb, u, fu
            else:
                a, fa = u, fu
        else:
            if fu <= fb:
                a, fa, b, fb = b, fb, u, fu
            else:
                c, fc = u, fu
    return float(b), points
