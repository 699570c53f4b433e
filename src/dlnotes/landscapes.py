r"""Test functions for optimizers, with gradients and Hessians, gradient descent on a quadratic in closed form, and SGD's noise floor.

Taught in the chapters *Gradient descent and its problems* (ill-conditioning, saddle points, the
stability bound :math:`\alpha < 2/\lambda_{\max}`, the noise floor of SGD) and *Momentum and
Nesterov* / *Adaptive learning rates* (the valley, the optimizer race, momentum and the noise
floor).

Every function here is a :class:`Landscape` on :math:`\mathbb R^n`: call it for the value,
``.grad`` for the gradient and ``.hessian`` for the Hessian. Values and gradients accept a
single point :math:`x = (x_1, \dots, x_n)` of shape (n,) or a stack of points of shape
(..., n), so a whole plotting grid is one call (:meth:`Landscape.grid`).

* :class:`Quadratic`, written centred on its critical point,
  :math:`f(x) = \tfrac12 (x - x^*)^\top A (x - x^*) + f^*`, and
  :func:`ill_conditioned_quadratic` with a chosen condition number
  :math:`\kappa = \lambda_{\max}/\lambda_{\min}`;
* :func:`saddle`, :math:`x_1^2 - x_2^2`, and :class:`EscapeSaddle`, a smooth saddle whose
  negative-curvature direction leads to two minima;
* :class:`Rosenbrock`, the banana-shaped valley.

For a quadratic, gradient descent :math:`x_{t+1} = x_t - \alpha A(x_t - x^*)` is solved in
closed form by :func:`gd_on_quadratic`: with :math:`A = U\Lambda U^\top`, each
eigen-coordinate :math:`\omega_{t,i} = u_i^\top(x_t - x^*)` is multiplied by
:math:`1 - \alpha\lambda_i` per step.

:func:`noisy_quadratic_run` runs SGD (with or without momentum) on the one-dimensional
:math:`\tfrac12\lambda_1 x^2` with noisy gradients, many independent runs at once, and
:func:`noise_floor` gives the stationary :math:`\mathbb E[x_t^2]` they settle at in closed form.
Steps are counted from 0: :math:`x_0` is the start.
"""

from __future__ import annotations

import math
import numbers
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._validation import as_float_array, as_scalar

__all__ = [
    "Landscape", "Quadratic", "ill_conditioned_quadratic", "saddle", "EscapeSaddle",
    "Rosenbrock", "classify_critical_point",
    "GDOnQuadratic", "gd_on_quadratic", "stability_bound", "optimal_lr", "gd_regime",
    "heavy_ball_parameters", "iteration_matrix", "stability_limit",
    "NoisyQuadraticRun", "noisy_quadratic_run", "noise_floor", "averaged_noise_floor",
]


class Landscape(ABC):
    r"""A smooth function :math:`f: \mathbb R^n \to \mathbb R` with its gradient and Hessian :math:`H = \nabla^2 f`.

    Attributes
    ----------
    dim : int
        :math:`n`, the number of coordinates.
    name : str
    bounds : tuple of (low, high) pairs
        A box that shows the interesting part, for plots.
    minimizers : array of shape (number of minimizers, n)
        The global minimizers (empty when :math:`f` is unbounded below).
    """

    dim: int = 2
    name: str = "landscape"
    bounds: tuple[tuple[float, float], ...] = ((-2.0, 2.0), (-2.0, 2.0))
    minimizers: np.ndarray

    def _points(self, x: Any) -> np.ndarray:
        arr = as_float_array(x, "x")
        if arr.shape[-1] != self.dim:
            raise ValueError(f"x must have shape ({self.dim},) or (..., {self.dim}) for this "
                             f"{self.dim}-D function, got {arr.shape}")
        return arr

    def __call__(self, x: Any) -> float | np.ndarray:
        """:math:`f(x)`: a float for x of shape (n,), an array of shape (...) for (..., n)."""
        p = self._points(x)
        out = self._value(p)
        return float(out) if p.ndim == 1 else out

    def grad(self, x: Any) -> np.ndarray:
        r""":math:`\nabla f(x)`, shaped like ``x``."""
        return self._grad(self._points(x))

    def hessian(self, x: Any) -> np.ndarray:
        r""":math:`H = \nabla^2 f(x)` at one point x of shape (n,): an array of shape (n, n)."""
        p = self._points(x)
        if p.ndim != 1:
            raise ValueError(f"hessian takes one point of shape ({self.dim},), got {p.shape}")
        return self._hessian(p)

    def grid(self, n: int = 101, bounds: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Values on a grid of ``n`` by ``n`` points, for a contour plot of a 2-D function.

        Returns ``(X, Y, Z)``, each of shape (n, n), as from ``np.meshgrid``; ``bounds``
        defaults to :attr:`bounds`.
        """
        if self.dim != 2:
            raise ValueError(f"grid needs a 2-D function, this one is {self.dim}-D")
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 2:
            raise ValueError(f"n must be an integer >= 2, got {n!r}")
        (x0, x1), (y0, y1) = self.bounds if bounds is None else bounds
        X, Y = np.meshgrid(np.linspace(x0, x1, n), np.linspace(y0, y1, n))
        return X, Y, self(np.stack([X, Y], axis=-1))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name})"

    # subclasses implement these on validated arrays of shape (..., n)
    @abstractmethod
    def _value(self, p: np.ndarray) -> np.ndarray:
        """Values at points of shape (..., n)."""

    @abstractmethod
    def _grad(self, p: np.ndarray) -> np.ndarray:
        """Gradients at points of shape (..., n)."""

    @abstractmethod
    def _hessian(self, p: np.ndarray) -> np.ndarray:
        """Hessian (n, n) at one point of shape (n,)."""


class Quadratic(Landscape):
    r"""Quadratic :math:`f(x) = \tfrac12 (x - x^*)^\top A (x - x^*) + f^*`, gradient :math:`A(x - x^*)`, Hessian :math:`A`.

    The book writes quadratics centred on their critical point :math:`x^*`: pass ``x_star``
    (and ``f_star``, the value there). With :math:`A` positive definite :math:`x^*` is the
    unique minimizer; with eigenvalues of both signs it is a saddle point. Near any minimum, a
    smooth loss looks like this (second-order Taylor model), which is why the quadratic
    explains ill-conditioning and the step-size bound.

    The expanded form :math:`\tfrac12 x^\top A x - \texttt{b}^\top x + \texttt{c}` can be
    given instead, by its coefficients ``b`` and ``c`` (then :math:`x^* = A^{-1}\texttt{b}`);
    ``b``/``c`` and ``x_star``/``f_star`` exclude each other.

    Chapter: *Gradient descent and its problems*.

    Parameters
    ----------
    A : array of shape (n, n), symmetric, invertible
    b : array of shape (n,), optional (default 0)
        Linear coefficient of the expanded form.
    c : float, optional (default 0)
        Constant of the expanded form.
    name : str, optional
    bounds : optional plot box
    x_star : array of shape (n,), optional (keyword only; default 0)
        The critical point :math:`x^*`.
    f_star : float, optional (keyword only; default 0)
        :math:`f^* = f(x^*)`.

    Attributes
    ----------
    eigenvalues : array of shape (n,), ascending
        :math:`\lambda_1 \le \dots \le \lambda_n` of :math:`A`.
    eigenvectors : array of shape (n, n)
        :math:`U`: column :math:`i` is the unit eigenvector :math:`u_i`, and :math:`A = U\Lambda U^\top`.
    critical_point : array of shape (n,)
        :math:`x^*`.
    f_star : float
        :math:`f(x^*)`.
    condition_number : float
        :math:`\lambda_{\max}/\lambda_{\min}` (``inf`` unless positive definite).
    """

    def __init__(self, A: Any, b: Any = None, c: float | None = None, name: str = "quadratic",
                 bounds: Any = None, *, x_star: Any = None, f_star: float | None = None) -> None:
        A = as_float_array(A, "A", ndim=2)
        if A.shape[0] != A.shape[1]:
            raise ValueError(f"A must be square, got shape {A.shape}")
        if not np.allclose(A, A.T, rtol=1e-12, atol=1e-12 * max(1.0, np.abs(A).max())):
            raise ValueError("A must be symmetric (a Hessian is, by Clairaut's theorem)")
        self.A = 0.5 * (A + A.T)
        self.dim = A.shape[0]
        if x_star is not None and b is not None:
            raise ValueError("give the quadratic either centred (x_star) or expanded (b), not both")
        if f_star is not None and c is not None:
            raise ValueError("give the quadratic either centred (f_star) or expanded (c), not both")
        self.name = name
        self.eigenvalues, self.eigenvectors = np.linalg.eigh(self.A)
        if np.any(self.eigenvalues == 0.0):
            raise ValueError("A must be invertible (no zero eigenvalue), so that the "
                             "quadratic has a single critical point")
        if x_star is not None:
            xs = as_float_array(x_star, "x_star", ndim=1)
            if xs.shape != (self.dim,):
                raise ValueError(f"x_star must have shape ({self.dim},) to match A, got {xs.shape}")
            self.b = self.A @ xs
        else:
            self.b = np.zeros(self.dim) if b is None else as_float_array(b, "b", ndim=1)
            if self.b.shape != (self.dim,):
                raise ValueError(f"b must have shape ({self.dim},) to match A, got {self.b.shape}")
        self.critical_point = xs.copy() if x_star is not None else np.linalg.solve(self.A, self.b)
        if f_star is not None:
            fs = as_scalar(f_star, "f_star")
            # f(x*) = -1/2 x*^T A x* + c in the expanded form
            self.c = fs + 0.5 * float(self.critical_point @ self.A @ self.critical_point)
        else:
            self.c = 0.0 if c is None else as_scalar(c, "c")
        self.f_star = self.c - 0.5 * float(self.critical_point @ self.A @ self.critical_point)
        lam_min, lam_max = self.eigenvalues[0], self.eigenvalues[-1]
        self.condition_number = float(lam_max / lam_min) if lam_min > 0 else float("inf")
        self.minimizers = (self.critical_point[None, :] if lam_min > 0
                           else np.zeros((0, self.dim)))
        if bounds is not None:
            self.bounds = tuple(tuple(float(v) for v in pair) for pair in bounds)
        else:
            r = 2.0 * max(1.0, float(np.abs(self.critical_point).max()))
            self.bounds = tuple((float(cp) - r, float(cp) + r) for cp in self.critical_point)

    def _value(self, p):
        e = p - self.critical_point
        return 0.5 * np.einsum("...i,ij,...j->...", e, self.A, e) + self.f_star

    def _grad(self, p):
        return (p - self.critical_point) @ self.A

    def _hessian(self, p):
        return self.A.copy()


def ill_conditioned_quadratic(condition_number: float, dim: int = 2, lambda_max: float = 1.0,
                              angle: float = 0.0, seed: int | None = None) -> Quadratic:
    r"""A convex quadratic :math:`\tfrac12 x^\top A x` with condition number :math:`\kappa`, minimum :math:`x^* = 0`.

    The eigenvalues are spread geometrically from :math:`\lambda_{\max}/\kappa` to
    :math:`\lambda_{\max}`. In 2-D the eigenvectors :math:`u_1, u_2` are the axes turned by
    ``angle`` (radians); in more dimensions they are a random rotation drawn with ``seed``
    (or the axes if ``seed`` is None).

    Chapter: *Gradient descent and its problems* (ill-conditioning).

    Parameters
    ----------
    condition_number : float >= 1
        :math:`\kappa = \lambda_{\max}/\lambda_{\min}`.
    dim : int >= 1
        :math:`n`.
    lambda_max : float > 0
    angle : float
        Rotation of the eigenvectors in 2-D.
    seed : int or None

    Returns
    -------
    Quadratic
    """
    kappa = as_scalar(condition_number, "condition_number", low=1.0)
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or dim < 1:
        raise ValueError(f"dim must be a positive integer, got {dim!r}")
    lam_max = as_scalar(lambda_max, "lambda_max", low=0.0, low_open=True)
    angle = as_scalar(angle, "angle")
    lams = lam_max / kappa ** (np.arange(dim)[::-1] / max(dim - 1, 1)) if dim > 1 else np.array([lam_max])
    if dim == 2:
        c, s = np.cos(angle), np.sin(angle)
        Q = np.array([[c, -s], [s, c]])
    elif seed is None:
        Q = np.eye(dim)
    else:
        Q, R = np.linalg.qr(np.random.default_rng(seed).standard_normal((dim, dim)))
        Q = Q * np.sign(np.diag(R))
    A = (Q * lams) @ Q.T
    # the box must show the long, flat valley: its half-length grows like sqrt(kappa)
    half = 1.5 * np.sqrt(kappa) if dim == 2 else 2.0
    bounds = ((-half, half), (-half, half)) if dim == 2 else None
    return Quadratic(A, name=f"quadratic, condition number {kappa:g}", bounds=bounds)


def saddle() -> Quadratic:
    r"""The saddle :math:`f(x) = x_1^2 - x_2^2`: gradient :math:`(2x_1, -2x_2)`, Hessian :math:`\operatorname{diag}(2, -2)`.

    The origin is a critical point that is a minimum along :math:`x_1` and a maximum along
    :math:`x_2`. Gradient descent started exactly on the :math:`x_1` axis converges to it; any
    offset in :math:`x_2` grows by :math:`(1 + 2\alpha)` per step. Unbounded below.

    Chapter: *Gradient descent and its problems* (saddle points).
    """
    return Quadratic(np.diag([2.0, -2.0]), name="saddle x^2 - y^2", bounds=((-2, 2), (-2, 2)))


class EscapeSaddle(Landscape):
    r"""A smooth saddle with an escape direction, :math:`f(x) = x_1^2 + \tfrac14 x_2^4 - \tfrac12 x_2^2`.

    Gradient :math:`(2x_1,\ x_2^3 - x_2)`, Hessian :math:`\operatorname{diag}(2,\ 3x_2^2 - 1)`.
    The origin is a saddle (eigenvalues 2 and :math:`-1`); following the negative
    curvature direction :math:`(0, \pm1)` leads to the two global minima
    :math:`(0, \pm1)` with :math:`f = -\tfrac14`. On the line :math:`x_2 = 0` the gradient
    has no :math:`x_2` component, so gradient descent started there never escapes; noise
    or a tiny offset does.

    Chapters: *Gradient descent and its problems* (saddle points); *Adaptive learning rates* (the optimizer race).

    Attributes
    ----------
    saddle_point : array
        The origin, shape (2,).
    escape_direction : array
        :math:`(0, 1)`, the eigenvector of the Hessian's negative eigenvalue at the saddle.
    """

    name = "smooth saddle x^2 + y^4/4 - y^2/2"
    bounds = ((-1.5, 1.5), (-1.5, 1.5))

    def __init__(self) -> None:
        self.minimizers = np.array([[0.0, -1.0], [0.0, 1.0]])
        self.saddle_point = np.zeros(2)
        self.escape_direction = np.array([0.0, 1.0])

    def _value(self, p):
        x, y = p[..., 0], p[..., 1]
        return x * x + 0.25 * y ** 4 - 0.5 * y * y

    def _grad(self, p):
        x, y = p[..., 0], p[..., 1]
        return np.stack([2.0 * x, y ** 3 - y], axis=-1)

    def _hessian(self, p):
        return np.diag([2.0, 3.0 * p[1] ** 2 - 1.0])


class Rosenbrock(Landscape):
    r"""Rosenbrock's valley, :math:`f(x) = (\texttt{a} - x_1)^2 + \texttt{b}\,(x_2 - x_1^2)^2`, minimum 0 at :math:`(\texttt{a}, \texttt{a}^2)`.

    ``a`` and ``b`` are the classic names of the two constants (1 and 100), not symbols of the
    book. A curved, narrow valley: easy to find, slow to follow. The Hessian at the minimum
    has condition number about :math:`\texttt{b}(1 + 4\texttt{a}^2)^2` (2508 for the classic
    values). Smaller ``b`` gives a gentler valley for races with few steps.

    Chapters: *Momentum and Nesterov* (the valley); *Adaptive learning rates* (the optimizer race).

    Parameters
    ----------
    a : float
    b : float > 0
    """

    bounds = ((-2.0, 2.0), (-1.0, 3.0))

    def __init__(self, a: float = 1.0, b: float = 100.0) -> None:
        self.a = as_scalar(a, "a")
        self.b = as_scalar(b, "b", low=0.0, low_open=True)
        self.name = f"Rosenbrock a={self.a:g}, b={self.b:g}"
        self.minimizers = np.array([[self.a, self.a ** 2]])

    def _value(self, p):
        x, y = p[..., 0], p[..., 1]
        return (self.a - x) ** 2 + self.b * (y - x * x) ** 2

    def _grad(self, p):
        x, y = p[..., 0], p[..., 1]
        r = y - x * x
        return np.stack([-2.0 * (self.a - x) - 4.0 * self.b * x * r, 2.0 * self.b * r], axis=-1)

    def _hessian(self, p):
        x, y = p
        return np.array([[2.0 - 4.0 * self.b * (y - x * x) + 8.0 * self.b * x * x, -4.0 * self.b * x],
                         [-4.0 * self.b * x, 2.0 * self.b]])


def classify_critical_point(hessian: Any, tol: float = 1e-12) -> str:
    r"""Second-order test at a critical point from the signs of the Hessian's eigenvalues.

    Returns ``'minimum'`` (all :math:`\lambda_i > 0`), ``'maximum'`` (all :math:`< 0`),
    ``'saddle'`` (both signs) or ``'degenerate'`` (some :math:`|\lambda_i| \le` ``tol``
    times the largest, and no sign change: the test is inconclusive).

    Chapter: *Gradient descent and its problems*.

    Parameters
    ----------
    hessian : array of shape (n, n), symmetric
    tol : float >= 0
    """
    H = as_float_array(hessian, "hessian", ndim=2)
    if H.shape[0] != H.shape[1]:
        raise ValueError(f"hessian must be square, got shape {H.shape}")
    tol = as_scalar(tol, "tol", low=0.0)
    lam = np.linalg.eigvalsh(0.5 * (H + H.T))
    scale = max(float(np.abs(lam).max()), np.finfo(float).tiny)
    pos, neg = lam > tol * scale, lam < -tol * scale
    if pos.any() and neg.any():
        return "saddle"
    if pos.all():
        return "minimum"
    if neg.all():
        return "maximum"
    return "degenerate"


# ---------------------------------------------------- gradient descent on a quadratic

@dataclass(frozen=True)
class GDOnQuadratic:
    r"""Gradient descent on a quadratic, in closed form (:func:`gd_on_quadratic`).

    Attributes
    ----------
    iterates : array of shape (steps + 1, n)
        :math:`x_0, \dots, x_T` (:math:`T` = ``steps``).
    eigencoordinates : array of shape (steps + 1, n)
        :math:`\omega_{t,i} = u_i^\top (x_t - x^*) = (1 - \alpha\lambda_i)^t \omega_{0,i}`.
    factors : array of shape (n,)
        :math:`1 - \alpha\lambda_i`, the per-step multiplier of each eigen-coordinate.
    eigenvalues : array of shape (n,)
    losses : array of shape (steps + 1,)
        :math:`f(x_t)`.
    """

    iterates: np.ndarray
    eigencoordinates: np.ndarray
    factors: np.ndarray
    eigenvalues: np.ndarray
    losses: np.ndarray


def gd_on_quadratic(quadratic: Quadratic, x0: Any, lr: float, steps: int) -> GDOnQuadratic:
    r"""Gradient descent on :math:`f(x) = \tfrac12 (x - x^*)^\top A (x - x^*) + f^*`, solved in closed form.

    With :math:`A = U\Lambda U^\top` and :math:`\omega_t = U^\top(x_t - x^*)`, the update
    :math:`x_{t+1} = x_t - \alpha A(x_t - x^*)` becomes :math:`\omega_{t+1} = (I - \alpha\Lambda)\omega_t`,
    so :math:`\omega_{t,i} = (1 - \alpha\lambda_i)^t \omega_{0,i}` and
    :math:`x_t = x^* + U\omega_t`. Coordinate :math:`i` shrinks iff
    :math:`\lvert 1 - \alpha\lambda_i\rvert < 1`, i.e. :math:`0 < \alpha\lambda_i < 2`; all of them do
    iff :math:`\alpha < 2/\lambda_{\max}` (for a positive definite :math:`A`).

    Chapter: *Gradient descent and its problems* (ill-conditioning, the stability bound).

    Parameters
    ----------
    quadratic : Quadratic
    x0 : array of shape (n,)
        :math:`x_0`.
    lr : float >= 0
        :math:`\alpha`.
    steps : int >= 0
        :math:`T`, the number of steps.

    Returns
    -------
    GDOnQuadratic
    """
    if not isinstance(quadratic, Quadratic):
        raise TypeError(f"quadratic must be a dlnotes.landscapes.Quadratic, got {type(quadratic).__name__}")
    x0 = as_float_array(x0, "x0", ndim=1)
    if x0.shape != (quadratic.dim,):
        raise ValueError(f"x0 must have shape ({quadratic.dim},), got {x0.shape}")
    lr = as_scalar(lr, "lr", low=0.0)
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    lam, Q = quadratic.eigenvalues, quadratic.eigenvectors
    factors = 1.0 - lr * lam
    k = np.arange(steps + 1)[:, None]
    with np.errstate(over="ignore", invalid="ignore"):
        coords = factors[None, :] ** k * (Q.T @ (x0 - quadratic.critical_point))[None, :]
        iterates = quadratic.critical_point[None, :] + coords @ Q.T
        losses = quadratic(iterates)
    return GDOnQuadratic(iterates, coords, factors, lam.copy(), np.asarray(losses))


def stability_bound(quadratic: Quadratic) -> float:
    r"""The largest stable learning rate of gradient descent on a convex quadratic, :math:`2/\lambda_{\max}`.

    For :math:`\alpha < 2/\lambda_{\max}` every eigen-coordinate shrinks; above it the
    stiffest one grows like :math:`\lvert 1 - \alpha\lambda_{\max}\rvert^t` and the iterates diverge.

    Chapter: *Gradient descent and its problems* (the stability bound).
    """
    if not isinstance(quadratic, Quadratic):
        raise TypeError(f"quadratic must be a dlnotes.landscapes.Quadratic, got {type(quadratic).__name__}")
    if quadratic.eigenvalues[0] <= 0:
        raise ValueError("the stability bound needs a positive definite quadratic; this one has "
                         f"eigenvalues {quadratic.eigenvalues}")
    return 2.0 / float(quadratic.eigenvalues[-1])


def optimal_lr(quadratic: Quadratic) -> tuple[float, float]:
    r"""The fixed rate that makes gradient descent fastest on a convex quadratic, and its rate of convergence.

    :math:`\alpha^* = 2/(\lambda_{\min} + \lambda_{\max})` balances the slowest and the
    stiffest coordinate; each step then shrinks the error by at least
    :math:`(\kappa - 1)/(\kappa + 1)`, which tends to 1 as the condition number
    :math:`\kappa` grows. Returns ``(alpha_star, rate)``.

    Chapter: *Gradient descent and its problems* (ill-conditioning).
    """
    stability_bound(quadratic)  # the same requirement: positive definite
    lo, hi = float(quadratic.eigenvalues[0]), float(quadratic.eigenvalues[-1])
    kappa = hi / lo
    return 2.0 / (lo + hi), (kappa - 1.0) / (kappa + 1.0)


def gd_regime(lr: float, eigenvalue: float) -> str:
    r"""What gradient descent does along an eigenvector, from :math:`\alpha\lambda_i`.

    * ``'grows'``: :math:`\alpha\lambda_i < 0` (negative curvature: moves away, the saddle escape);
    * ``'still'``: :math:`\alpha\lambda_i = 0`;
    * ``'monotone'``: :math:`0 < \alpha\lambda_i < 1`, shrinks without changing sign;
    * ``'one step'``: :math:`\alpha\lambda_i = 1`, reaches the minimum in one step;
    * ``'oscillating'``: :math:`1 < \alpha\lambda_i < 2`, shrinks while flipping sign;
    * ``'bouncing'``: :math:`\alpha\lambda_i = 2`, flips forever at the same size;
    * ``'diverging'``: :math:`\alpha\lambda_i > 2`, flips and grows.

    Chapter: *Gradient descent and its problems* (the regimes of :math:`\alpha\lambda_i`).
    """
    lr = as_scalar(lr, "lr", low=0.0)
    lam = as_scalar(eigenvalue, "eigenvalue")
    r = lr * lam
    if r < 0:
        return "grows"
    if r == 0:
        return "still"
    if r < 1:
        return "monotone"
    if r == 1:
        return "one step"
    if r < 2:
        return "oscillating"
    if r == 2:
        return "bouncing"
    return "diverging"


# ----------------------------------------------- momentum on a quadratic (heavy ball)

def heavy_ball_parameters(lam_min: float, lam_max: float) -> tuple[float, float, float]:
    r"""Polyak's best fixed :math:`(\alpha, \rho)` for momentum on a quadratic, and its rate.

    For eigenvalues in :math:`[\lambda_{\min}, \lambda_{\max}]`,
    :math:`\alpha = 4/(\sqrt{\lambda_{\max}} + \sqrt{\lambda_{\min}})^2` and
    :math:`\rho = \big((\sqrt\kappa - 1)/(\sqrt\kappa + 1)\big)^2` with
    :math:`\kappa = \lambda_{\max}/\lambda_{\min}`; the error then shrinks by the factor
    :math:`(\sqrt\kappa - 1)/(\sqrt\kappa + 1)` per step (Polyak 1964), against
    :math:`(\kappa - 1)/(\kappa + 1)` for the best gradient descent. The parameters are those of
    the gradient-sum form, :math:`m_{t+1} = \rho m_t + g_t`, :math:`x_{t+1} = x_t - \alpha m_{t+1}`
    (:func:`dlnotes.optim.momentum_step`, ``torch.optim.SGD(lr=alpha, momentum=rho)``).

    Chapter: *Momentum and Nesterov* (ill-conditioned valleys).

    Returns ``(alpha, rho, rate)``.
    """
    mu = as_scalar(lam_min, "lam_min", low=0.0, low_open=True)
    big = as_scalar(lam_max, "lam_max", low=0.0, low_open=True)
    if mu > big:
        raise ValueError(f"need 0 < lam_min <= lam_max, got lam_min={mu:g} > lam_max={big:g}")
    sk = math.sqrt(big / mu)
    rate = (sk - 1.0) / (sk + 1.0)
    return 4.0 / (math.sqrt(big) + math.sqrt(mu)) ** 2, rate ** 2, rate


def iteration_matrix(h: float, rho: float, nesterov: bool = False) -> np.ndarray:
    r"""The 2-by-2 matrix that advances :math:`(x_t, x_{t-1})` on :math:`f(x) = \tfrac12\lambda_1 x^2`; the argument ``h`` is :math:`\alpha\lambda_1`.

    Momentum (heavy ball): :math:`x_{t+1} = x_t - \alpha\lambda_1 x_t + \rho(x_t - x_{t-1})`.
    Nesterov: :math:`x_{t+1} = (1 - \alpha\lambda_1)\big(x_t + \rho(x_t - x_{t-1})\big)` (the
    look-ahead form with :math:`v_t = x_t - x_{t-1}`). The method is stable iff both eigenvalues
    lie inside the unit circle.

    Chapter: *Momentum and Nesterov* (stability limits).
    """
    h = as_scalar(h, "h", low=0.0)
    rho = as_scalar(rho, "rho", low=0.0, high=1.0)
    if nesterov:
        return np.array([[(1.0 - h) * (1.0 + rho), -(1.0 - h) * rho], [1.0, 0.0]])
    return np.array([[1.0 + rho - h, -rho], [1.0, 0.0]])


def stability_limit(rho: float, nesterov: bool = False) -> float:
    r"""The largest :math:`\alpha\lambda_i` for which momentum (or Nesterov) converges on a quadratic, by bisection.

    Computed from the spectral radius of :func:`iteration_matrix`; the closed forms are
    :math:`2(1+\rho)` for momentum and :math:`2(1+\rho)/(1+2\rho)` for Nesterov (both 2
    at :math:`\rho = 0`, gradient descent's bound).

    Chapter: *Momentum and Nesterov* (stability limits).
    """
    rho = as_scalar(rho, "rho", low=0.0, high=1.0)

    def stable(h):
        return np.max(np.abs(np.linalg.eigvals(iteration_matrix(h, rho, nesterov)))) < 1.0

    lo, hi = 1e-9, 10.0
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if stable(mid) else (lo, mid)
    return lo


# ----------------------------------------------- SGD's noise floor on a noisy quadratic

@dataclass(frozen=True)
class NoisyQuadraticRun:
    r"""Many independent runs of SGD on the noisy quadratic :math:`\tfrac12\lambda_1 x^2` (:func:`noisy_quadratic_run`).

    Attributes
    ----------
    second_moment : array of shape (steps + 1,)
        :math:`\mathbb E[x_t^2]` at every step :math:`t = 0, \dots, T`, estimated by the mean
        over the runs.
    stationary_second_moment : float
        The mean of :math:`x_t^2` over the runs and over the steps :math:`t > T_b`
        (:math:`T_b` = ``burn_in``): the floor the runs settle at.
    averaged_second_moment : float
        :math:`\mathbb E[\bar x^2]` for the Polyak average of each run's iterates after the
        burn-in, :math:`\bar x = \frac{1}{T - T_b}\sum_{t = T_b + 1}^{T} x_t`.
    final : array of shape (runs,)
        :math:`x_T` of every run.
    average : array of shape (runs,)
        :math:`\bar x` of every run.
    lr : array of shape (steps,)
        The learning rate of every step.
    """

    second_moment: np.ndarray
    stationary_second_moment: float
    averaged_second_moment: float
    final: np.ndarray
    average: np.ndarray
    lr: np.ndarray


def _int_arg(value: Any, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def noisy_quadratic_run(lr: float, steps: int, *, curvature: float = 1.0, noise: float = 1.0,
                        batch_size: int = 1, momentum: float = 0.0, schedule: Any = None,
                        burn_in: int | None = None, runs: int = 500, x0: float = 0.0,
                        seed: int = 0) -> NoisyQuadraticRun:
    r"""SGD, with or without momentum, on :math:`f(x) = \tfrac12\lambda_1 x^2` with noisy gradients, ``runs`` times at once.

    Every step sees the gradient :math:`g_t = \lambda_1 x_t + \text{noise}_t` with independent
    :math:`\text{noise}_t \sim \mathcal N(0, \sigma^2/B)`: the per-sample gradients scatter with
    variance :math:`\sigma^2` around the true gradient, and a minibatch of :math:`B` averages
    them. The update is :class:`dlnotes.optim.SGD` (``momentum=rho``: the gradient-sum form
    :math:`m_{t+1} = \rho m_t + g_t`, :math:`x_{t+1} = x_t - \alpha m_{t+1}`), applied to a
    vector holding one coordinate per run, which the separable quadratic keeps independent.
    With a constant rate the iterates do not converge to the minimum 0: they settle into a
    stationary spread whose :math:`\mathbb E[x_t^2]` is :func:`noise_floor`.

    Chapters: *Gradient descent and its problems* (noise: a problem and a help); *Momentum and
    Nesterov* (noisy gradients).

    Parameters
    ----------
    lr : float >= 0
        :math:`\alpha` (the rate at step 0 when a ``schedule`` is given).
    steps : int >= 1
        :math:`T`.
    curvature : float > 0
        :math:`\lambda_1`.
    noise : float >= 0
        :math:`\sigma`, the standard deviation of one sample's gradient noise.
    batch_size : int >= 1
        :math:`B`.
    momentum : float in [0, 1)
        :math:`\rho`.
    schedule : callable t -> rate, optional
        Sets the rate of step ``t`` (see :mod:`dlnotes.schedules`); ``lr`` is then unused
        after the optimizer is built.
    burn_in : int, optional
        :math:`T_b`, the steps left out of the stationary and averaged statistics
        (default ``steps // 4``).
    runs : int >= 2
        Number of independent runs.
    x0 : float
        Start of every run.
    seed : int
        Seeds the noise: the noise of step ``t`` is ``rng.standard_normal(runs)`` drawn in
        order from ``numpy.random.default_rng(seed)``, times :math:`\sigma/\sqrt B`.

    Returns
    -------
    NoisyQuadraticRun
    """
    from .optim import SGD

    lr = as_scalar(lr, "lr", low=0.0)
    steps = _int_arg(steps, "steps", 1)
    lam = as_scalar(curvature, "curvature", low=0.0, low_open=True)
    sigma = as_scalar(noise, "noise", low=0.0)
    batch = _int_arg(batch_size, "batch_size", 1)
    rho = as_scalar(momentum, "momentum", low=0.0, high=1.0, high_open=True)
    if schedule is not None and not callable(schedule):
        raise TypeError(f"schedule must be callable (t -> lr) or None, got {type(schedule).__name__}")
    burn = steps // 4 if burn_in is None else _int_arg(burn_in, "burn_in", 0)
    if burn >= steps:
        raise ValueError(f"burn_in must be smaller than steps ({steps}), got {burn}")
    runs = _int_arg(runs, "runs", 2)
    x0 = as_scalar(x0, "x0")
    if schedule is None and not lr * lam < 2.0 * (1.0 + rho):
        raise ValueError(f"lr * curvature = {lr * lam:g} is not below the stability limit "
                         f"2(1 + momentum) = {2 * (1 + rho):g}: the runs would diverge")
    rng = np.random.default_rng(seed)
    x = np.full(runs, x0)
    opt = SGD([x], lr=lr, momentum=rho)
    scale = sigma / math.sqrt(batch)
    second = np.empty(steps + 1)
    second[0] = x0 * x0
    rates = np.empty(steps)
    total = np.zeros(runs)
    chunk = max(1, min(steps, 2 ** 20 // runs))     # rows of noise drawn at once (8 MiB)
    block = np.empty((chunk, runs))
    grad = np.empty(runs)
    with np.errstate(over="ignore", invalid="ignore"):
        for start in range(0, steps, chunk):
            rows = min(chunk, steps - start)
            # row by row, this is the same stream as rng.standard_normal((steps, runs))
            xi = rng.standard_normal((rows, runs))
            xi *= scale
            for r in range(rows):
                t = start + r
                if schedule is not None:
                    opt.lr = schedule(t)
                rates[t] = opt.lr
                np.multiply(x, lam, out=grad)
                grad += xi[r]
                opt.step([grad])
                block[r] = x
            if not np.all(np.isfinite(block[:rows])):
                bad = start + int(np.argmax(~np.all(np.isfinite(block[:rows]), axis=1)))
                raise ValueError(f"the runs diverged at step {bad}: alpha * curvature = "
                                 f"{rates[bad] * lam:g} is beyond the stability limit")
            second[start + 1:start + rows + 1] = np.mean(block[:rows] ** 2, axis=1)
            keep = max(0, burn - start)                     # rows before the burn-in ends
            if keep < rows:
                total += block[keep:rows].sum(axis=0)
    average = total / (steps - burn)
    return NoisyQuadraticRun(second, float(np.mean(second[burn + 1:])), float(np.mean(average ** 2)),
                             x.copy(), average, rates)


def noise_floor(lr: float, *, curvature: float = 1.0, noise: float = 1.0, batch_size: int = 1,
                momentum: float = 0.0) -> float:
    r"""The stationary :math:`\mathbb E[x_t^2]` of SGD with a constant rate on the noisy quadratic of :func:`noisy_quadratic_run`.

    Plain SGD, :math:`x_{t+1} = (1 - \alpha\lambda_1)x_t - \alpha\,\text{noise}_t`, settles at

    .. math::

        \mathbb E[x^2] = \frac{\alpha^2\sigma^2/B}{1 - (1 - \alpha\lambda_1)^2}
        = \frac{\alpha\sigma^2}{B\lambda_1(2 - \alpha\lambda_1)} .

    With momentum :math:`\rho` the iterates follow
    :math:`x_{t+1} = (1 + \rho - \alpha\lambda_1)x_t - \rho x_{t-1} - \alpha\,\text{noise}_t`, an
    autoregressive process whose stationary variance is
    :math:`\frac{\alpha^2\sigma^2}{B}\,\frac{1 + \rho}{(1 - \rho)\big((1 + \rho)^2 - (1 + \rho - \alpha\lambda_1)^2\big)}`.
    For a small :math:`\alpha\lambda_1` both are about :math:`\alpha_{\mathrm{eff}}\sigma^2/(2B\lambda_1)`
    with the effective rate :math:`\alpha_{\mathrm{eff}} = \alpha/(1 - \rho)`: momentum with rate
    :math:`\alpha` has the floor of plain SGD with rate :math:`\alpha/(1-\rho)`.

    Chapters: *Gradient descent and its problems*; *Momentum and Nesterov*.

    Raises ``ValueError`` outside the stability range :math:`0 < \alpha\lambda_1 < 2(1 + \rho)`.
    """
    lr = as_scalar(lr, "lr", low=0.0, low_open=True)
    lam = as_scalar(curvature, "curvature", low=0.0, low_open=True)
    sigma = as_scalar(noise, "noise", low=0.0)
    batch = _int_arg(batch_size, "batch_size", 1)
    rho = as_scalar(momentum, "momentum", low=0.0, high=1.0, high_open=True)
    h = lr * lam
    if not h < 2.0 * (1.0 + rho):
        raise ValueError(f"lr * curvature = {h:g} is not below the stability limit 2(1 + momentum) "
                         f"= {2 * (1 + rho):g}: there is no stationary floor")
    phi1, phi2 = 1.0 + rho - h, -rho
    return (lr * lr * sigma * sigma / batch) * (1.0 - phi2) / ((1.0 + phi2) * ((1.0 - phi2) ** 2 - phi1 ** 2))


def averaged_noise_floor(lr: float, steps_averaged: int, *, curvature: float = 1.0, noise: float = 1.0,
                         batch_size: int = 1, momentum: float = 0.0) -> float:
    r""":math:`\mathbb E[\bar x^2]` for the Polyak average :math:`\bar x` of :math:`T` consecutive stationary iterates of :func:`noise_floor`'s process.

    With the autocovariances :math:`\gamma_k = \mathbb E[x_t x_{t+k}]` of the stationary iterates
    (:math:`\gamma_0` is :func:`noise_floor`),

    .. math::

        \mathbb E[\bar x^2] = \frac1T\Big(\gamma_0 + 2\sum_{k=1}^{T-1}\big(1 - \tfrac kT\big)\gamma_k\Big)
        \;\longrightarrow\; \frac{\sigma^2}{B\lambda_1^2 T} \quad (T \to \infty),

    a limit in which the rate and the momentum cancel out. Unlike :func:`noise_floor` it falls
    like :math:`1/T`: averaging the iterates removes the floor.

    Chapters: *Gradient descent and its problems*; *Momentum and Nesterov*.
    """
    T = _int_arg(steps_averaged, "steps_averaged", 1)
    gamma0 = noise_floor(lr, curvature=curvature, noise=noise, batch_size=batch_size,
                         momentum=momentum)
    rho = float(momentum)
    phi1, phi2 = 1.0 + rho - float(lr) * float(curvature), -rho
    k = np.arange(1, T)
    gammas = np.empty(T)
    gammas[0] = gamma0
    if T > 1:
        gammas[1] = phi1 * gamma0 / (1.0 - phi2)
    for j in range(2, T):
        gammas[j] = phi1 * gammas[j - 1] + phi2 * gammas[j - 2]
    return float((gamma0 + 2.0 * np.sum((1.0 - k / T) * gammas[1:])) / T)
