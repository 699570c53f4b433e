r"""Regularization penalties, their gradients, and the total training objective.

Taught in the chapter *Regularization penalties* (``book/regularization.md``).

The training objective is

.. math::

    J(\theta) = \frac1N \sum_{i=1}^N L_i(f(x^{(i)}; \theta), y^{(i)}) + \lambda R(\theta)

with penalties :math:`R` (no factor 1/2 anywhere):

* L1: :math:`R(\theta) = \sum |\theta|`, gradient :math:`\operatorname{sign}\theta`;
* L2: :math:`R(\theta) = \sum \theta^2`, gradient :math:`2\theta`;
* elastic net: :math:`R(\theta) = \nu\sum|\theta| + (1-\nu)\sum\theta^2` with mixing
  ``l1_ratio`` :math:`\nu \in [0, 1]`.

``theta`` may be one array or a list of NumPy arrays (all the weights of a model); the
penalty sums over all of them and gradients come back in the same structure.

PyTorch mapping: ``torch.optim.SGD(..., weight_decay=wd)`` adds ``wd * theta`` to the
gradient, which is our L2 penalty with :math:`\lambda = wd/2`. (AdamW's *decoupled*
weight decay is a different thing; see the optimizer chapters.)

Finite input never gives NaN or a NumPy warning: a penalty beyond float64's range is
``inf`` (its correctly rounded value), and :func:`fit_linear` rescales the data so that
inputs near 1e308 (or 1e-300) are solved as accurately as inputs near 1.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ._validation import (as_float_array, as_param_list, as_scalar, check_choice,
                          check_same_shape, guarded, short_repr)

__all__ = [
    "PENALTIES", "l1_penalty", "l1_penalty_grad", "l2_penalty", "l2_penalty_grad",
    "elastic_net_penalty", "elastic_net_penalty_grad", "penalty", "penalty_grad",
    "objective", "objective_grad", "soft_threshold", "fit_linear", "regularization_path",
    "DensePenalties", "dense_penalties", "ConvergenceWarning",
]

PENALTIES = ("l1", "l2", "elastic_net")


def _apply(theta: Any, fn: Callable[[np.ndarray], Any], combine: bool):
    arrays, single = as_param_list(theta, "theta")
    out = [fn(a) for a in arrays]
    if combine:
        return float(sum(out))
    return out[0] if single else out


class ConvergenceWarning(RuntimeWarning):
    """:func:`fit_linear`'s iterative solver stopped at ``max_iter`` before reaching ``tol``."""


@guarded("theta")
def l1_penalty(theta: Any) -> float:
    r"""L1 penalty :math:`R(\theta) = \sum_i |\theta_i|` (over every array given)."""
    return _apply(theta, lambda a: np.abs(a).sum(), True)


@guarded("theta")
def l1_penalty_grad(theta: Any):
    r"""Gradient of :func:`l1_penalty`: :math:`\operatorname{sign}(\theta)` (subgradient 0 at 0).

    Its size does not depend on :math:`|\theta|`: every nonzero weight is pushed towards
    zero at the same speed, so small weights reach zero. That is why L1 gives sparse
    weights.
    """
    return _apply(theta, np.sign, False)


@guarded("theta")
def l2_penalty(theta: Any) -> float:
    r"""L2 penalty :math:`R(\theta) = \sum_i \theta_i^2` (squared Euclidean norm, no 1/2)."""
    return _apply(theta, lambda a: (a * a).sum(), True)


@guarded("theta")
def l2_penalty_grad(theta: Any):
    r"""Gradient of :func:`l2_penalty`: :math:`2\theta`.

    Proportional to the weight: large weights shrink fast, small ones barely move, so L2
    shrinks and spreads weights but rarely makes them exactly zero.
    """
    return _apply(theta, lambda a: 2.0 * a, False)


def _ratio(l1_ratio: Any) -> float:
    return as_scalar(l1_ratio, "l1_ratio", low=0.0, high=1.0)


@guarded("theta")
def elastic_net_penalty(theta: Any, l1_ratio: float = 0.5) -> float:
    r"""Elastic-net penalty :math:`R(\theta) = \nu\sum|\theta_i| + (1 - \nu)\sum\theta_i^2`, :math:`\nu` = ``l1_ratio`` in [0, 1]."""
    r = _ratio(l1_ratio)
    return _apply(theta, lambda a: r * np.abs(a).sum() + (1 - r) * (a * a).sum(), True)


@guarded("theta")
def elastic_net_penalty_grad(theta: Any, l1_ratio: float = 0.5):
    r"""Gradient of :func:`elastic_net_penalty`: :math:`\nu\operatorname{sign}\theta + 2(1-\nu)\theta`."""
    r = _ratio(l1_ratio)
    return _apply(theta, lambda a: r * np.sign(a) + 2 * (1 - r) * a, False)


def _check_kind(kind: Any) -> str:
    return check_choice(kind, "kind (the penalty)", PENALTIES)


@guarded("theta")
def penalty(theta: Any, kind: str = "l2", l1_ratio: float = 0.5) -> float:
    """The penalty ``kind`` ('l1', 'l2' or 'elastic_net') of ``theta``.

    ``l1_ratio`` is checked whatever the kind (a NaN is an error even where it is unused).
    """
    kind = _check_kind(kind)
    _ratio(l1_ratio)
    if kind == "l1":
        return l1_penalty(theta)
    if kind == "l2":
        return l2_penalty(theta)
    return elastic_net_penalty(theta, l1_ratio)


@guarded("theta")
def penalty_grad(theta: Any, kind: str = "l2", l1_ratio: float = 0.5):
    """Gradient of :func:`penalty`, in the structure of ``theta``."""
    kind = _check_kind(kind)
    _ratio(l1_ratio)
    if kind == "l1":
        return l1_penalty_grad(theta)
    if kind == "l2":
        return l2_penalty_grad(theta)
    return elastic_net_penalty_grad(theta, l1_ratio)


@guarded("per_sample_losses", "theta", "lam")
def objective(per_sample_losses: Any, theta: Any, lam: float, kind: str = "l2",
              l1_ratio: float = 0.5) -> float:
    r"""Total objective :math:`J = \frac1N\sum_i L_i + \lambda R(\theta)`.

    Parameters
    ----------
    per_sample_losses : array of shape (N,)
        The data losses :math:`L_i` (e.g. a loss from :mod:`dlnotes.losses` with
        ``reduction='none'``).
    theta : array or list of arrays
        The parameters that are penalised.
    lam : float >= 0
        Regularization strength :math:`\lambda`: 0 ignores the penalty, large values make
        it dominate the data term.
    kind : {'l1', 'l2', 'elastic_net'}
    l1_ratio : float in [0, 1]
        Only for ``'elastic_net'``.
    """
    losses = as_float_array(per_sample_losses, "per_sample_losses", ndim=1)
    lam = as_scalar(lam, "lam", low=0.0)
    pen = penalty(theta, kind, l1_ratio)
    data = float(losses.mean())
    if np.isinf(data):  # the sum overflowed, the mean may not
        data = float(np.sum(losses / losses.size))
    # lam * 0 is 0 even for an infinite penalty: no penalty, whatever its value
    return data + (lam * pen if lam else 0.0)


@guarded("data_grad", "theta", "lam")
def objective_grad(data_grad: Any, theta: Any, lam: float, kind: str = "l2",
                   l1_ratio: float = 0.5):
    r"""Gradient of :func:`objective`: ``data_grad`` :math:`+ \lambda\,\nabla R(\theta)`.

    ``data_grad`` is the gradient of the mean data loss, in the structure of ``theta``.
    For L2 a gradient-descent step becomes
    :math:`\theta \leftarrow (1 - 2\alpha\lambda)\theta - \alpha\nabla_\theta \text{data}`:
    a multiplicative shrink of the weights before the data step, hence "weight decay".
    """
    lam = as_scalar(lam, "lam", low=0.0)
    kind = _check_kind(kind)
    _ratio(l1_ratio)
    t_arrays, t_single = as_param_list(theta, "theta")
    d_arrays, _ = as_param_list(data_grad, "data_grad")
    if len(d_arrays) != len(t_arrays):
        raise ValueError(f"data_grad has {len(d_arrays)} arrays but theta has {len(t_arrays)}")
    out = []
    for i, (d, t) in enumerate(zip(d_arrays, t_arrays)):
        check_same_shape(d, t, "data_grad" if t_single else f"data_grad[{i}]",
                         "theta" if t_single else f"theta[{i}]")
        out.append(d + lam * penalty_grad(t, kind, l1_ratio) if lam else d.copy())
    # same structure as theta
    return out[0] if t_single else out


# ------------------------------------------------------------- linear model fits

@guarded("z", "tau")
def soft_threshold(z: Any, tau: float) -> np.ndarray:
    r"""Soft-thresholding :math:`\operatorname{sign}(z)\max(|z| - \tau, 0)`.

    The proximal map of :math:`\tau\sum|z|`: it sets everything within :math:`\tau` of
    zero to *exactly* zero, which is where L1's exact zeros come from.
    """
    zz = as_float_array(z, "z")
    tau = as_scalar(tau, "tau", low=0.0)
    # + 0.0 turns the -0.0 that sign(-x) * 0 produces into a plain 0.0
    return np.sign(zz) * np.maximum(np.abs(zz) - tau, 0.0) + 0.0


def _power_of_two_scale(a: np.ndarray) -> int:
    """The exponent e with max|a| in [2**(e-1), 2**e) (0 for an all-zero array)."""
    m = float(np.max(np.abs(a))) if a.size else 0.0
    return int(np.frexp(m)[1]) if m > 0 else 0


@guarded("X", "y", "lam")
def fit_linear(X: Any, y: Any, lam: float, kind: str = "l2", l1_ratio: float = 0.5,
               tol: float = 1e-10, max_iter: int = 100_000, w0: Any = None) -> np.ndarray:
    r"""Weights of a linear model :math:`\hat y = Xw` minimising mean squared error plus a penalty.

    .. math::

        J(w) = \frac1N \lVert Xw - y\rVert^2 + \lambda R(w)

    No intercept: centre ``y`` and the columns of ``X`` first. L2 is solved in closed
    form, :math:`w = (X^\top X/N + \lambda I)^{-1}X^\top y/N`, as the least-squares problem
    :math:`\bigl[X/\sqrt N;\ \sqrt\lambda I\bigr] w \approx \bigl[y/\sqrt N;\ 0\bigr]`
    (the minimum-norm solution when :math:`\lambda = 0` and :math:`X` is rank deficient);
    L1 and elastic net by accelerated proximal gradient (FISTA, with adaptive restart) and
    soft-thresholding, until the proximal gradient mapping (zero exactly at the optimum)
    is below ``tol`` in every coordinate (a :class:`ConvergenceWarning`, a
    ``RuntimeWarning``, if that takes more than ``max_iter`` steps).

    ``X`` and ``y`` are first scaled by powers of two (exactly) to a maximum near 1 and
    the strengths adjusted to match, so data near 1e308 or 1e-300 are solved as well as
    data near 1. An all-zero ``X`` gives :math:`w = 0` (the penalty's minimiser).

    Parameters
    ----------
    X : array of shape (N, n)
    y : array of shape (N,)
    lam : float >= 0
    kind : {'l1', 'l2', 'elastic_net'}
    l1_ratio : float in [0, 1]
        :math:`\nu` of the elastic net (checked for every kind).
    tol : float > 0
        On the gradient mapping, in the units of :math:`\nabla J`; for data of extreme
        scale, also at most ``tol`` and at least the resolution of float64 in the problem
        rescaled to data near 1.
    max_iter : int >= 1
    w0 : array of shape (n,), optional
        Starting point for the iterative solvers (a "warm start", e.g. the solution for a
        nearby λ); the result does not depend on it beyond ``tol``.

    Returns
    -------
    array of shape (n,)

    Raises
    ------
    ValueError
        If a weight of the solution is beyond float64's range (an ``X`` tiny against
        ``y``), as well as for bad arguments.

    Notes
    -----
    scikit-learn mapping (tested): ``Ridge(alpha=N*lam, fit_intercept=False)``,
    ``Lasso(alpha=lam/2, fit_intercept=False)``, and for elastic net
    ``ElasticNet(alpha=a, l1_ratio=nu/(2a) * lam)`` with
    :math:`a = \lambda \nu/2 + \lambda(1-\nu)`.
    """
    Xa = as_float_array(X, "X", ndim=2)
    ya = as_float_array(y, "y", ndim=1)
    if Xa.shape[0] != ya.shape[0]:
        raise ValueError(f"X has {Xa.shape[0]} rows but y has {ya.shape[0]} entries; they must match")
    lam = as_scalar(lam, "lam", low=0.0)
    kind = _check_kind(kind)
    r = _ratio(l1_ratio)
    # checked for every kind, although the closed form of L2 uses neither
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {short_repr(max_iter)}")
    tol = as_scalar(tol, "tol", low=0.0, low_open=True)
    n, dim = Xa.shape
    if w0 is not None:
        w0 = as_float_array(w0, "w0", ndim=1)
        if w0.shape != (dim,):
            raise ValueError(f"w0 must have shape ({dim},) to match X's {dim} columns, got {w0.shape}")
    # Scale: X = Xs 2**ex, y = ys 2**ey, w = ws 2**(ey - ex). Then
    # J(w) = 2**(2 ey) [ (1/N)||Xs ws - ys||^2 + lam_1' |ws|_1 + lam_2' ||ws||^2 ] with
    # lam_1' = lam_1 2**(-ex - ey) and lam_2' = lam_2 2**(-2 ex): the same minimiser.
    ex, ey = _power_of_two_scale(Xa), _power_of_two_scale(ya)
    if ex == 0 and not np.any(Xa):
        return np.zeros(dim)  # no data term: the minimiser of lam R(w) (any w if lam = 0; 0 has the least norm)
    Xs, ys = np.ldexp(Xa, -ex), np.ldexp(ya, -ey)
    l1_w = 0.0 if kind == "l2" else float(np.ldexp(lam * (1.0 if kind == "l1" else r), -ex - ey))
    l2_w = float(np.ldexp(lam * (1.0 if kind == "l2" else (0.0 if kind == "l1" else 1.0 - r)), -2 * ex))

    def unscale(ws: np.ndarray) -> np.ndarray:
        w = np.ldexp(ws, ey - ex)
        if not np.all(np.isfinite(w)):
            raise ValueError("fit_linear: the fitted weights are beyond float64's range; X is "
                             "too small relative to y (rescale them)")
        return w

    if not (math.isfinite(l1_w) and math.isfinite(l2_w)):
        return np.zeros(dim)  # the penalty outweighs any data term: w = 0
    if kind == "l2":
        A = np.vstack([Xs / math.sqrt(n), math.sqrt(l2_w) * np.eye(dim)])
        rhs = np.concatenate([ys / math.sqrt(n), np.zeros(dim)])
        return unscale(np.linalg.lstsq(A, rhs, rcond=None)[0])
    gram = Xs.T @ Xs / n
    xty = Xs.T @ ys / n
    # smooth part: (1/N)||Xw - y||^2 + l2_w ||w||^2, gradient 2(gram w - xty) + 2 l2_w w
    lipschitz = 2.0 * (max(float(np.linalg.eigvalsh(gram)[-1]), 0.0) + l2_w)
    if lipschitz == 0.0:
        return np.zeros(dim)
    step = 1.0 / lipschitz
    # The gradient of J is 2**(ex + ey) times that of the scaled problem. In the scaled
    # problem: never tighter than float64 resolves (data near 1e300 could not meet it), and
    # never looser than tol itself (for data near 1e-300 any tol would be met at once).
    tol_s = min(max(float(np.ldexp(tol, -ex - ey)), 1e-14), tol)
    if w0 is None:
        w = np.zeros(dim)
    else:
        w = np.ldexp(w0, ex - ey)
        if not np.all(np.isfinite(w)):
            w = np.zeros(dim)  # a warm start too large to scale is no help
    z = w.copy()
    t = 1.0
    gap = math.inf
    for _ in range(max_iter):
        grad = 2.0 * (gram @ z - xty) + 2.0 * l2_w * z
        u = z - step * grad
        w_new = np.sign(u) * np.maximum(np.abs(u) - step * l1_w, 0.0)
        # Gradient mapping (z - w_new) / step: zero exactly at the minimiser, so its size
        # measures how far from optimal we are (unlike "w stopped changing").
        gap = np.max(np.abs(z - w_new)) / step
        if gap <= tol_s:
            return unscale(w_new)
        if np.dot(z - w_new, w_new - w) > 0:
            # momentum points uphill: restart it (O'Donoghue & Candes 2015)
            t, z_from = 1.0, w_new
        else:
            z_from = None
        t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        z = w_new + ((t - 1.0) / t_new) * (w_new - w) if z_from is None else z_from
        w, t = w_new, t_new
    gap_orig = float(np.ldexp(gap, ex + ey))
    warnings.warn(f"fit_linear did not converge in max_iter={max_iter} iterations (optimality "
                  f"gap {gap_orig:.3g} > tol={tol:g}); the problem may be badly conditioned",
                  ConvergenceWarning, stacklevel=3)
    return unscale(w)


@guarded("X", "y", "lams")
def regularization_path(X: Any, y: Any, lams: Any, kind: str = "l2",
                        l1_ratio: float = 0.5) -> np.ndarray:
    """Fitted weights for each strength in ``lams``: array of shape (len(lams), n).

    Each fit starts from the previous one (warm start), which is much faster than starting
    from zero when neighbouring strengths are close.
    """
    lam_arr = as_float_array(lams, "lams", ndim=1)
    for i, lam in enumerate(lam_arr):
        if lam < 0:
            raise ValueError(f"lams[{i}]: lam must be >= 0, got {lam:g}")
    out = []
    w = None
    for lam in lam_arr:
        w = fit_linear(X, y, float(lam), kind, l1_ratio, w0=w)
        out.append(w)
    return np.stack(out)


# ------------------------------------------- kernel, bias and activity regularizers

_ACTIVATIONS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]] = {
    "identity": (lambda z: z, lambda z: np.ones_like(z)),
    "tanh": (np.tanh, lambda z: 1.0 - np.tanh(z) ** 2),
    "relu": (lambda z: np.maximum(z, 0.0), lambda z: (z > 0).astype(float)),
    "sigmoid": (lambda z: 0.5 * (1.0 + np.tanh(0.5 * z)),
                lambda z: 0.25 * (1.0 - np.tanh(0.5 * z) ** 2)),
}


@dataclass(frozen=True)
class DensePenalties:
    """The three penalties of a dense layer and their gradients.

    Attributes
    ----------
    kernel, bias, activity : float
        :math:`\\lambda_W R(W)`, :math:`\\lambda_b R(b)` and :math:`\\lambda_a\\frac1N\\sum_i R(a_i)`.
    total : float
    grad_W : array of shape (n_in, n_out)
    grad_b : array of shape (n_out,)
    """

    kernel: float
    bias: float
    activity: float
    total: float
    grad_W: np.ndarray
    grad_b: np.ndarray


@guarded("W", "b", "X", "kernel", "bias", "activity")
def dense_penalties(W: Any, b: Any, X: Any, *, kernel: float = 0.0, bias: float = 0.0,
                    activity: float = 0.0, activation: str = "tanh",
                    kind: str = "l2") -> DensePenalties:
    r"""Kernel, bias and activity penalties of a dense layer :math:`a = \phi(XW + b)`.

    * **kernel** regularizer: :math:`\lambda_W R(W)`, the weights (the usual weight decay);
    * **bias** regularizer: :math:`\lambda_b R(b)`, the offsets (rarely needed);
    * **activity** regularizer: :math:`\lambda_a \frac1N\sum_i R(a^{(i)})`, the layer's
      *outputs* on the batch. It depends on the data as well as on :math:`W` and
      :math:`b`, and its gradient reaches both through :math:`\phi'`.

    Keras' ``kernel_regularizer``, ``bias_regularizer`` and ``activity_regularizer``
    follow the same split (Keras also divides the activity penalty by the batch size).

    Parameters
    ----------
    W : array of shape (n_in, n_out)
    b : array of shape (n_out,)
    X : array of shape (N, n_in)
        A batch of inputs.
    kernel, bias, activity : float >= 0
        The strengths :math:`\lambda_W, \lambda_b, \lambda_a`.
    activation : {'identity', 'tanh', 'relu', 'sigmoid'}
    kind : {'l1', 'l2'}
    """
    Wa = as_float_array(W, "W", ndim=2)
    ba = as_float_array(b, "b", ndim=1)
    Xa = as_float_array(X, "X", ndim=2)
    if ba.shape[0] != Wa.shape[1]:
        raise ValueError(f"b has shape {ba.shape} but W has {Wa.shape[1]} output columns; "
                         f"b must have shape ({Wa.shape[1]},)")
    if Xa.shape[1] != Wa.shape[0]:
        raise ValueError(f"X has {Xa.shape[1]} features (columns) but W expects {Wa.shape[0]} "
                         "(its rows)")
    lam_w = as_scalar(kernel, "kernel", low=0.0)
    lam_b = as_scalar(bias, "bias", low=0.0)
    lam_a = as_scalar(activity, "activity", low=0.0)
    activation = check_choice(activation, "activation", tuple(_ACTIVATIONS))
    if not isinstance(kind, str) or kind not in ("l1", "l2"):
        raise ValueError(f"kind must be 'l1' or 'l2', got {short_repr(kind)}")
    phi, dphi = _ACTIVATIONS[activation]
    z = Xa @ Wa + ba
    a = phi(z)
    n = Xa.shape[0]
    # the layer's output may overflow to inf: no argument checks on it (l2_penalty would refuse it)
    pen = (lambda v: float(np.abs(v).sum())) if kind == "l1" else (lambda v: float((v * v).sum()))
    dpen = np.sign if kind == "l1" else (lambda v: 2.0 * v)

    def times(lam, value):
        # a zero strength switches the penalty off, even where its value overflowed
        return lam * value if lam else 0.0 * np.zeros_like(value)

    k_val = float(times(lam_w, pen(Wa)))
    b_val = float(times(lam_b, pen(ba)))
    a_val = float(times(lam_a, pen(a) / n))
    # activity gradient: d/dz of (lam_a/N) sum R(a) = (lam_a/N) R'(a) phi'(z)
    dz = times(lam_a, dpen(a) * dphi(z) / n)
    grad_W = times(lam_w, dpen(Wa)) + (Xa.T @ dz if lam_a else 0.0)
    grad_b = times(lam_b, dpen(ba)) + dz.sum(axis=0)
    return DensePenalties(k_val, b_val, a_val, k_val + b_val + a_val, grad_W, grad_b)
