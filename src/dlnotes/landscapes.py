r"""Test functions for optimizers, with gradients and Hessians, and gradient descent on a quadratic in closed form.

Taught in the chapters *Gradient descent and its problems* (ill-conditioning, saddle points, the
stability bound :math:`\alpha < 2/\lambda_{\max}`) and *Momentum and Nesterov* / *Adaptive learning rates* (the
optimizer race).

Every function here is a :class:`Landscape`: call it for the value, ``.grad`` for the
gradient and ``.hessian`` for the Hessian. Values and gradients accept a single point of
shape (D,) or a stack of points of shape (..., D), so a whole plotting grid is one call
(:meth:`Landscape.grid`).

* :class:`Quadratic`, :math:`f(x) = \tfrac12 x^\top A x - b^\top x + c`, and
  :func:`ill_conditioned_quadratic` with a chosen condition number
  :math:`\kappa = \lambda_{\max}/\lambda_{\min}`;
* :func:`saddle`, :math:`x^2 - y^2`, and :class:`EscapeSaddle`, a smooth saddle whose
  negative-curvature direction leads to two minima;
* :class:`Rosenbrock`, the banana-shaped valley.

For a quadratic, gradient descent :math:`x_{k+1} = x_k - \alpha(Ax_k - b)` is solved in
closed form by :func:`gd_on_quadratic`: in the eigenbasis of :math:`A` each coordinate of
:math:`x_k - x^*` is multiplied by :math:`(1 - \alpha\lambda_i)` per step.
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
]


class Landscape(ABC):
    r"""A smooth function :math:`f: \mathbb R^D \to \mathbb R` with its gradient and Hessian.

    Attributes
    ----------
    dim : int
        :math:`D`.
    name : str
    bounds : tuple of (low, high) pairs
        A box that shows the interesting part, for plots.
    minimizers : array of shape (M, D)
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
        """:math:`f(x)`: a float for x of shape (D,), an array of shape (...) for (..., D)."""
        p = self._points(x)
        out = self._value(p)
        return float(out) if p.ndim == 1 else out

    def grad(self, x: Any) -> np.ndarray:
        r""":math:`\nabla f(x)`, shaped like ``x``."""
        return self._grad(self._points(x))

    def hessian(self, x: Any) -> np.ndarray:
        r""":math:`\nabla^2 f(x)` at one point x of shape (D,): an array of shape (D, D)."""
        p = self._points(x)
        if p.ndim != 1:
            raise ValueError(f"hessian takes one point of shape ({self.dim},), got {p.shape}")
        return self._hessian(p)

    def grid(self, n: int = 101, bounds: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Values on an n-by-n grid for a contour plot of a 2-D function.

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

    # subclasses implement these on validated arrays of shape (..., D)
    @abstractmethod
    def _value(self, p: np.ndarray) -> np.ndarray:
        """Values at points of shape (..., D)."""

    @abstractmethod
    def _grad(self, p: np.ndarray) -> np.ndarray:
        """Gradients at points of shape (..., D)."""

    @abstractmethod
    def _hessian(self, p: np.ndarray) -> np.ndarray:
        """Hessian (D, D) at one point of shape (D,)."""


class Quadratic(Landscape):
    r"""Quadratic :math:`f(x) = \tfrac12 x^\top A x - b^\top x + c`, gradient :math:`Ax - b`, Hessian :math:`A`.

    With :math:`A` positive definite the unique minimizer is :math:`x^* = A^{-1}b`; with
    eigenvalues of both signs :math:`x^*` is a saddle point. Near any minimum, a smooth
    loss looks like this (second-order Taylor model), which is why the quadratic
    explains ill-conditioning and the step-size bound.

    Chapter: *Gradient descent and its problems*.

    Parameters
    ----------
    A : array of shape (D, D), symmetric
    b : array of shape (D,), optional (default 0)
    c : float, optional (default 0)
    name : str, optional
    bounds : optional plot box

    Attributes
    ----------
    eigenvalues : array of shape (D,), ascending
        :math:`\lambda_1 \le \dots \le \lambda_D` of :math:`A`.
    eigenvectors : array of shape (D, D)
        Column :math:`i` is the unit eigenvector :math:`q_i`.
    critical_point : array of shape (D,)
        :math:`A^{-1}b` (requires :math:`A` invertible).
    condition_number : float
        :math:`\lambda_{\max}/\lambda_{\min}` (``inf`` unless positive definite).
    """

    def __init__(self, A: Any, b: Any = None, c: float = 0.0, name: str = "quadratic",
                 bounds: Any = None) -> None:
        A = as_float_array(A, "A", ndim=2)
        if A.shape[0] != A.shape[1]:
            raise ValueError(f"A must be square, got shape {A.shape}")
        if not np.allclose(A, A.T, rtol=1e-12, atol=1e-12 * max(1.0, np.abs(A).max())):
            raise ValueError("A must be symmetric (a Hessian is, by Clairaut's theorem)")
        self.A = 0.5 * (A + A.T)
        self.dim = A.shape[0]
        self.b = np.zeros(self.dim) if b is None else as_float_array(b, "b", ndim=1)
        if self.b.shape != (self.dim,):
            raise ValueError(f"b must have shape ({self.dim},) to match A, got {self.b.shape}")
        self.c = as_scalar(c, "c")
        self.name = name
        self.eigenvalues, self.eigenvectors = np.linalg.eigh(self.A)
        if np.any(self.eigenvalues == 0.0):
            raise ValueError("A must be invertible (no zero eigenvalue), so that the "
                             "quadratic has a single critical point")
        self.critical_point = np.linalg.solve(self.A, self.b)
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
        return 0.5 * np.einsum("...i,ij,...j->...", p, self.A, p) - p @ self.b + self.c

    def _grad(self, p):
        return p @ self.A - self.b

    def _hessian(self, p):
        return self.A.copy()


def ill_conditioned_quadratic(condition_number: float, dim: int = 2, lambda_max: float = 1.0,
                              angle: float = 0.0, seed: int | None = None) -> Quadratic:
    r"""A convex quadratic :math:`\tfrac12 x^\top A x` with condition number :math:`\kappa`, minimum at 0.

    The eigenvalues are spread geometrically from :math:`\lambda_{\max}/\kappa` to
    :math:`\lambda_{\max}`. In 2-D the eigenvectors are the axes turned by ``angle``
    (radians); in more dimensions they are a random rotation drawn with ``seed`` (or
    the axes if ``seed`` is None).

    Chapter: *Gradient descent and its problems* (ill-conditioning).

    Parameters
    ----------
    condition_number : float >= 1
        :math:`\kappa = \lambda_{\max}/\lambda_{\min}`.
    dim : int >= 1
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
    r"""The saddle :math:`f(x, y) = x^2 - y^2`: gradient :math:`(2x, -2y)`, Hessian :math:`\operatorname{diag}(2, -2)`.

    The origin is a critical point that is a minimum along :math:`x` and a maximum along
    :math:`y`. Gradient descent started exactly on the :math:`x` axis converges to it; any
    offset in :math:`y` grows by :math:`(1 + 2\alpha)` per step. Unbounded below.

    Chapter: *Gradient descent and its problems* (saddle points).
    """
    return Quadratic(np.diag([2.0, -2.0]), name="saddle x^2 - y^2", bounds=((-2, 2), (-2, 2)))


class EscapeSaddle(Landscape):
    r"""A smooth saddle with an escape direction, :math:`f(x, y) = x^2 + \tfrac14 y^4 - \tfrac12 y^2`.

    Gradient :math:`(2x,\ y^3 - y)`, Hessian :math:`\operatorname{diag}(2,\ 3y^2 - 1)`.
    The origin is a saddle (eigenvalues 2 and :math:`-1`); following the negative
    curvature direction :math:`(0, \pm1)` leads to the two global minima
    :math:`(0, \pm1)` with :math:`f = -\tfrac14`. On the line :math:`y = 0` the gradient
    has no :math:`y` component, so gradient descent started there never escapes; noise
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
    r"""Rosenbrock's valley, :math:`f(x, y) = (a - x)^2 + b\,(y - x^2)^2`, minimum 0 at :math:`(a, a^2)`.

    A curved, narrow valley: easy to find, slow to follow. The Hessian at the minimum
    has condition number about :math:`b(1 + 4a^2)^2` (2508 for the classic :math:`a = 1`,
    :math:`b = 100`). Smaller ``b`` gives a gentler valley for races with few steps.

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
    hessian : array of shape (D, D), symmetric
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
    iterates : array of shape (steps + 1, D)
        :math:`x_0, \dots, x_K`.
    eigencoordinates : array of shape (steps + 1, D)
        :math:`c_{k,i} = q_i^\top (x_k - x^*) = (1 - \alpha\lambda_i)^k c_{0,i}`.
    factors : array of shape (D,)
        :math:`1 - \alpha\lambda_i`, the per-step multiplier of each eigen-coordinate.
    eigenvalues : array of shape (D,)
    losses : array of shape (steps + 1,)
        :math:`f(x_k)`.
    """

    iterates: np.ndarray
    eigencoordinates: np.ndarray
    factors: np.ndarray
    eigenvalues: np.ndarray
    losses: np.ndarray


def gd_on_quadratic(quadratic: Quadratic, x0: Any, lr: float, steps: int) -> GDOnQuadratic:
    r"""Gradient descent on :math:`\tfrac12 x^\top A x - b^\top x`, solved in closed form.

    With :math:`A = Q\Lambda Q^\top` and :math:`c_k = Q^\top(x_k - x^*)`, the update
    :math:`x_{k+1} = x_k - \alpha(Ax_k - b)` becomes :math:`c_{k+1} = (I - \alpha\Lambda)c_k`,
    so :math:`c_{k,i} = (1 - \alpha\lambda_i)^k c_{0,i}` and
    :math:`x_k = x^* + Q\,c_k`. Coordinate :math:`i` shrinks iff
    :math:`|1 - \alpha\lambda_i| < 1`, i.e. :math:`0 < \alpha\lambda_i < 2`; all of them do
    iff :math:`\alpha < 2/\lambda_{\max}` (for a positive definite :math:`A`).

    Chapter: *Gradient descent and its problems* (ill-conditioning, the stability bound).

    Parameters
    ----------
    quadratic : Quadratic
    x0 : array of shape (D,)
    lr : float >= 0
        :math:`\alpha`.
    steps : int >= 0
        :math:`K`.

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
    stiffest one grows like :math:`|1 - \alpha\lambda_{\max}|^k` and the iterates diverge.

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
    r"""What gradient descent does along an eigenvector, from :math:`\alpha\lambda`.

    * ``'grows'``: :math:`\alpha\lambda < 0` (negative curvature: moves away, the saddle escape);
    * ``'still'``: :math:`\alpha\lambda = 0`;
    * ``'monotone'``: :math:`0 < \alpha\lambda < 1`, shrinks without changing sign;
    * ``'one step'``: :math:`\alpha\lambda = 1`, reaches the minimum in one step;
    * ``'oscillating'``: :math:`1 < \alpha\lambda < 2`, shrinks while flipping sign;
    * ``'bouncing'``: :math:`\alpha\lambda = 2`, flips forever at the same size;
    * ``'diverging'``: :math:`\alpha\lambda > 2`, flips and grows.

    Chapter: *Gradient descent and its problems* (the regimes of :math:`\alpha\lambda`).
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

    For eigenvalues in :math:`[\mu, L]`, :math:`\alpha = 4/(\sqrt L + \sqrt\mu)^2` and
    :math:`\rho = \big((\sqrt\kappa - 1)/(\sqrt\kappa + 1)\big)^2` with :math:`\kappa = L/\mu`;
    the error then shrinks like :math:`r^t` with :math:`r = (\sqrt\kappa - 1)/(\sqrt\kappa + 1)`
    (Polyak 1964), against :math:`(\kappa - 1)/(\kappa + 1)` for the best gradient descent.
    The parameters are those of the gradient-sum form (:func:`dlnotes.optim.momentum_step`,
    ``torch.optim.SGD(lr=alpha, momentum=rho)``).

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
    r"""The 2-by-2 matrix that advances :math:`(x_t, x_{t-1})` on :math:`f(x) = \tfrac12\lambda x^2`, with :math:`h = \alpha\lambda`.

    Momentum (heavy ball): :math:`x_{t+1} = x_t - h x_t + \rho(x_t - x_{t-1})`. Nesterov:
    :math:`x_{t+1} = (1 - h)\big(x_t + \rho(x_t - x_{t-1})\big)` (the look-ahead form with
    :math:`v_t = x_t - x_{t-1}`). The method is stable iff both eigenvalues lie inside the
    unit circle.
    """
    h = as_scalar(h, "h", low=0.0)
    rho = as_scalar(rho, "rho", low=0.0, high=1.0)
    if nesterov:
        return np.array([[(1.0 - h) * (1.0 + rho), -(1.0 - h) * rho], [1.0, 0.0]])
    return np.array([[1.0 + rho - h, -rho], [1.0, 0.0]])


def stability_limit(rho: float, nesterov: bool = False) -> float:
    r"""The largest :math:`h = \alpha\lambda` for which momentum (or Nesterov) converges on a quadratic, by bisection.

    Computed from the spectral radius of :func:`iteration_matrix`; the closed forms are
    :math:`2(1+\rho)` for momentum and :math:`2(1+\rho)/(1+2\rho)` for Nesterov (both 2
    at :math:`\rho = 0`, gradient descent's bound).
    """
    rho = as_scalar(rho, "rho", low=0.0, high=1.0)

    def stable(h):
        return np.max(np.abs(np.linalg.eigvals(iteration_matrix(h, rho, nesterov)))) < 1.0

    lo, hi = 1e-9, 10.0
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if stable(mid) else (lo, mid)
    return lo
