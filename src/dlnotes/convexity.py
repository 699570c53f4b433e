r"""Convexity: midpoint tests, the composition rules, and why networks with hidden units are not convex.

A function is convex if :math:`f(\tfrac12(a + b)) \le \tfrac12 (f(a) + f(b))` for all :math:`a, b`
(for continuous :math:`f` the midpoint version is equivalent to the general one), and a
twice-differentiable :math:`f` is convex exactly when its Hessian is positive semidefinite
everywhere.

Composition rules (for :math:`h: \mathbb R \to \mathbb R`): :math:`h(g(x))` is convex if :math:`h`
is convex **and nondecreasing** and :math:`g` is convex, or if :math:`h` is convex and :math:`g` is
affine. The tempting version without "nondecreasing" is false: :func:`composition_counterexample`.

Chapter: *The optimization landscape*.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ._validation import as_callable, as_float_array, as_int
from .newton import check_hessian

__all__ = ["midpoint_gap", "min_eigenvalue", "composition_counterexample", "permute_hidden_units",
           "interpolation_losses"]


def midpoint_gap(f: Callable[[Any], Any], a: Any, b: Any) -> float:
    r""":math:`f(\tfrac12(a + b)) - \tfrac12 (f(a) + f(b))`: positive means :math:`f` is not convex on the segment."""
    f = as_callable(f, "f")
    a = as_float_array(a, "a")
    b = as_float_array(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    m = 0.5 * (a + b)
    return float(f(m)) - 0.5 * (float(f(a)) + float(f(b)))


def min_eigenvalue(H: Any) -> float:
    r""":math:`\lambda_{\min}` of a symmetric matrix: :math:`\ge 0` exactly when it is positive semidefinite."""
    return float(np.linalg.eigvalsh(check_hessian(H))[0])


def composition_counterexample() -> dict[str, Any]:
    r"""Convex :math:`\circ` convex need not be convex: :math:`h(u) = e^{-u}` (convex, decreasing), :math:`g(x) = x^2`.

    :math:`h(g(x)) = e^{-x^2}` has second derivative :math:`(4x^2 - 2)e^{-x^2}`, negative at 0, and
    midpoint gap :math:`1 - e^{-1} > 0` on :math:`[-1, 1]`. With the nondecreasing :math:`h(u) = e^{u}`
    instead, :math:`e^{x^2}` is convex (second derivative :math:`(4x^2 + 2)e^{x^2} > 0`).

    Returns the midpoint gaps on :math:`[-1, 1]` and the smallest second differences on a grid
    of both compositions.
    """
    xs = np.linspace(-2.0, 2.0, 401)
    h = xs[1] - xs[0]

    def second(f):
        v = f(xs)
        return float(((v[2:] - 2 * v[1:-1] + v[:-2]) / h ** 2).min())

    bad, good = (lambda x: np.exp(-np.asarray(x) ** 2)), (lambda x: np.exp(np.asarray(x) ** 2))
    return {"decreasing_h_gap": midpoint_gap(bad, -1.0, 1.0), "decreasing_h_min_second": second(bad),
            "nondecreasing_h_gap": midpoint_gap(good, -1.0, 1.0), "nondecreasing_h_min_second": second(good)}


def permute_hidden_units(model: Any, perm: Any) -> Any:
    r"""A copy of a one-hidden-layer :class:`dlnotes.training.MLP` with its hidden units reordered.

    Unit :math:`j` of the copy is unit ``perm[j]`` of the original: columns of :math:`W_1`, entries
    of :math:`b_1` and rows of :math:`W_2` move together, so the network computes the same function
    and has the same loss on every input.
    """
    import copy

    from .training import MLP

    if not isinstance(model, MLP):
        raise TypeError(f"model must be a dlnotes.training.MLP, got {type(model).__name__}")
    perm = np.asarray(perm)
    if perm.dtype.kind not in "iu" or sorted(perm.tolist()) != list(range(model.n_hidden)):
        raise ValueError(f"perm must be a permutation of 0..{model.n_hidden - 1}")
    out = copy.deepcopy(model)
    out.W1[...] = model.W1[:, perm]
    out.b1[...] = model.b1[perm]
    out.W2[...] = model.W2[perm, :]
    return out


def interpolation_losses(f: Callable[[np.ndarray], float], theta_a: Any, theta_b: Any,
                         points: int = 21) -> tuple[np.ndarray, np.ndarray]:
    r"""The loss along the segment :math:`(1 - s)\theta_a + s\theta_b`, :math:`s \in [0, 1]`: returns ``(s, losses)``."""
    f = as_callable(f, "f")
    a = as_float_array(theta_a, "theta_a", ndim=1)
    b = as_float_array(theta_b, "theta_b", ndim=1)
    if a.shape != b.shape:
        raise ValueError(f"theta_a and theta_b must have the same shape, got {a.shape} and {b.shape}")
    s = np.linspace(0.0, 1.0, as_int(points, "points", low=3))
    return s, np.array([float(f((1 - t) * a + t * b)) for t in s])
