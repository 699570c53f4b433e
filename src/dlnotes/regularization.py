r"""Regularization penalties, their gradients, and the total training objective.

Taught in the chapter *Regularization penalties* (``book/regularization.md``).

The training objective is

.. math::

    J(\theta) = \frac1N \sum_{i=1}^N L_i(f(x^{(i)}; \theta), y^{(i)}) + \lambda R(\theta)

with penalties :math:`R` (no factor 1/2 anywhere):

* L1: :math:`R(\theta) = \sum |\theta|`, gradient :math:`\operatorname{sign}\theta`;
* L2: :math:`R(\theta) = \sum \theta^2`, gradient :math:`2\theta`;
* elastic net: :math:`R(\theta) = r\sum|\theta| + (1-r)\sum\theta^2` with mixing
  ``l1_ratio`` :math:`r \in [0, 1]`.

``theta`` may be one array or a list of NumPy arrays (all the weights of a model); the
penalty sums over all of them and gradients come back in the same structure.

PyTorch mapping: ``torch.optim.SGD(..., weight_decay=wd)`` adds ``wd * theta`` to the
gradient, which is our L2 penalty with :math:`\lambda = wd/2`. (AdamW's *decoupled*
weight decay is a different thing; see the optimizer chapters.)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ._validation import as_float_array, as_param_list, as_scalar, check_same_shape

__all__ = [
    "PENALTIES", "l1_penalty", "l1_penalty_grad", "l2_penalty", "l2_penalty_grad",
    "elastic_net_penalty", "elastic_net_penalty_grad", "penalty", "penalty_grad",
    "objective", "objective_grad", "soft_threshold", "fit_linear", "regularization_path",
    "DensePenalties", "dense_penalties",
]

PENALTIES = ("l1", "l2", "elastic_net")


def _apply(theta: Any, fn: Callable[[np.ndarray], Any], combine: bool):
    arrays, single = as_param_list(theta, "theta")
    out = [fn(a) for a in arrays]
    if combine:
        return float(sum(out))
    return out[0] if single else out


def l1_penalty(theta: Any) -> float:
    r"""L1 penalty :math:`R(\theta) = \sum_i |\theta_i|` (over every array given)."""
    return _apply(theta, lambda a: np.abs(a).sum(), True)


def l1_penalty_grad(theta: Any):
    r"""Gradient of :func:`l1_penalty`: :math:`\operatorname{sign}(\theta)` (subgradient 0 at 0).

    Its size does not depend on :math:`|\theta|`: every nonzero weight is pushed towards
    zero at the same speed, so small weights reach zero. That is why L1 gives sparse
    weights.
    """
    return _apply(theta, np.sign, False)


def l2_penalty(theta: Any) -> float:
    r"""L2 penalty :math:`R(\theta) = \sum_i \theta_i^2` (squared Euclidean norm, no 1/2)."""
    return _apply(theta, lambda a: (a * a).sum(), True)


def l2_penalty_grad(theta: Any):
    r"""Gradient of :func:`l2_penalty`: :math:`2\theta`.

    Proportional to the weight: large weights shrink fast, small ones barely move, so L2
    shrinks and spreads weights but rarely makes them exactly zero.
    """
    return _apply(theta, lambda a: 2.0 * a, False)


def _ratio(l1_ratio: Any) -> float:
    return as_scalar(l1_ratio, "l1_ratio", low=0.0, high=1.0)


def elastic_net_penalty(theta: Any, l1_ratio: float = 0.5) -> float:
    r"""Elastic-net penalty :math:`R(\theta) = r\sum|\theta_i| + (1 - r)\sum\theta_i^2`, :math:`r` = ``l1_ratio`` in [0, 1]."""
    r = _ratio(l1_ratio)
    return _apply(theta, lambda a: r * np.abs(a).sum() + (1 - r) * (a * a).sum(), True)


def elastic_net_penalty_grad(theta: Any, l1_ratio: float = 0.5):
    r"""Gradient of :func:`elastic_net_penalty`: :math:`r\operatorname{sign}\theta + 2(1-r)\theta`."""
    r = _ratio(l1_ratio)
    return _apply(theta, lambda a: r * np.sign(a) + 2 * (1 - r) * a, False)


def _check_kind(kind: Any) -> str:
    if kind not in PENALTIES:
        raise ValueError(f"kind (the penalty) must be one of {PENALTIES}, got {kind!r}")
    return kind


def penalty(theta: Any, kind: str = "l2", l1_ratio: float = 0.5) -> float:
    """The penalty ``kind`` ('l1', 'l2' or 'elastic_net') of ``theta``."""
    kind = _check_kind(kind)
    if kind == "l1":
        return l1_penalty(theta)
    if kind == "l2":
        return l2_penalty(theta)
    return elastic_net_penalty(theta, l1_ratio)


def penalty_grad(theta: Any, kind: str = "l2", l1_ratio: float = 0.5):
    """Gradient of :func:`penalty`, in the structure of ``theta``."""
    kind = _check_kind(kind)
    if kind == "l1":
        return l1_penalty_grad(theta)
    if kind == "l2":
        return l2_penalty_grad(theta)
    return elastic_net_penalty_grad(theta, l1_ratio)


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
    return float(losses.mean()) + lam * penalty(theta, kind, l1_ratio)


def objective_grad(data_grad: Any, theta: Any, lam: float, kind: str = "l2",
                   l1_ratio: float = 0.5):
    r"""Gradient of :func:`objective`: ``data_grad`` :math:`+ \lambda\,\nabla R(\theta)`.

    ``data_grad`` is the gradient of the mean data loss, in the structure of ``theta``.
    For L2 a gradient-descent step becomes
    :math:`\theta \leftarrow (1 - 2\alpha\lambda)\theta - \alpha\nabla_\theta \text{data}`:
    a multiplicative shrink of the weights before the data step, hence "weight decay".
    """
    lam = as_scalar(lam, "lam", low=0.0)
    t_arrays, t_single = as_param_list(theta, "theta")
    d_arrays, _ = as_param_list(data_grad, "data_grad")
    if len(d_arrays) != len(t_arrays):
        raise ValueError(f"data_grad has {len(d_arrays)} arrays but theta has {len(t_arrays)}")
    out = []
    for i, (d, t) in enumerate(zip(d_arrays, t_arrays)):
        check_same_shape(d, t, "data_grad" if t_single else f"data_grad[{i}]",
                         "theta" if t_single else f"theta[{i}]")
        out.append(d + lam * penalty_grad(t, kind, l1_ratio))
    # same structure as theta
    return out[0] if t_single else out


# ------------------------------------------------------------- linear model fits

def soft_threshold(z: Any, tau: float) -> np.ndarray:
    r"""Soft-thresholding :math:`\operatorname{sign}(z)\max(|z| - \tau, 0)`.

    The proximal map of :math:`\tau\sum|z|`: it sets everything within :math:`\tau` of
    zero to *exactly* zero, which is where L1's exact zeros come from.
    """
    zz = as_float_array(z, "z")
    tau = as_scalar(tau, "tau", low=0.0)
    # + 0.0 turns the -0.0 that sign(-x) * 0 produces into a plain 0.0
    return np.sign(zz) * np.maximum(np.abs(zz) - tau, 0.0) + 0.0


def fit_linear(X: Any, y: Any, lam: float, kind: str = "l2", l1_ratio: float = 0.5,
               tol: float = 1e-10, max_iter: int = 100_000, w0: Any = None) -> np.ndarray:
    r"""Weights of a linear model :math:`\hat y = Xw` minimising mean squared error plus a penalty.

    .. math::

        J(w) = \frac1N \lVert Xw - y\rVert^2 + \lambda R(w)

    No intercept: centre ``y`` and the columns of ``X`` first. L2 is solved in closed
    form, :math:`w = (X^\top X/N + \lambda I)^{-1}X^\top y/N`; L1 and elastic net by
    accelerated proximal gradient (FISTA, with adaptive restart) and soft-thresholding,
    until the proximal gradient mapping (zero exactly at the optimum) is below ``tol`` in
    every coordinate (a ``RuntimeWarning`` if that takes more than ``max_iter`` steps).

    Parameters
    ----------
    X : array of shape (N, D)
    y : array of shape (N,)
    lam : float >= 0
    kind : {'l1', 'l2', 'elastic_net'}
    l1_ratio : float in [0, 1]
    w0 : array of shape (D,), optional
        Starting point for the iterative solvers (a "warm start", e.g. the solution for a
        nearby λ); the result does not depend on it beyond ``tol``.

    Returns
    -------
    array of shape (D,)

    Notes
    -----
    scikit-learn mapping (tested): ``Ridge(alpha=N*lam, fit_intercept=False)``,
    ``Lasso(alpha=lam/2, fit_intercept=False)``, and for elastic net
    ``ElasticNet(alpha=a, l1_ratio=r/(2a) * lam)`` with
    :math:`a = \lambda r/2 + \lambda(1-r)`.
    """
    Xa = as_float_array(X, "X", ndim=2)
    ya = as_float_array(y, "y", ndim=1)
    if Xa.shape[0] != ya.shape[0]:
        raise ValueError(f"X has {Xa.shape[0]} rows but y has {ya.shape[0]} entries; they must match")
    lam = as_scalar(lam, "lam", low=0.0)
    kind = _check_kind(kind)
    n, dim = Xa.shape
    gram = Xa.T @ Xa / n
    xty = Xa.T @ ya / n
    if kind == "l2":
        return np.linalg.solve(gram + lam * np.eye(dim), xty)
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive integer, got {max_iter!r}")
    tol = as_scalar(tol, "tol", low=0.0, low_open=True)
    r = 1.0 if kind == "l1" else _ratio(l1_ratio)
    l1_w, l2_w = lam * r, lam * (1 - r)
    # smooth part: (1/N)||Xw - y||^2 + l2_w ||w||^2, gradient 2(gram w - xty) + 2 l2_w w
    lipschitz = 2.0 * (np.linalg.eigvalsh(gram)[-1] + l2_w)
    step = 1.0 / lipschitz
    if w0 is None:
        w = np.zeros(dim)
    else:
        w = as_float_array(w0, "w0", ndim=1).copy()
        if w.shape != (dim,):
            raise ValueError(f"w0 must have shape ({dim},) to match X's {dim} columns, got {w.shape}")
    z = w.copy()
    t = 1.0
    for _ in range(max_iter):
        grad = 2.0 * (gram @ z - xty) + 2.0 * l2_w * z
        u = z - step * grad
        w_new = np.sign(u) * np.maximum(np.abs(u) - step * l1_w, 0.0)
        # Gradient mapping (z - w_new) / step: zero exactly at the minimiser, so its size
        # measures how far from optimal we are (unlike "w stopped changing").
        gap = np.max(np.abs(z - w_new)) / step
        if gap <= tol:
            return w_new
        if np.dot(z - w_new, w_new - w) > 0:
            # momentum points uphill: restart it (O'Donoghue & Candes 2015)
            t, z_from = 1.0, w_new
        else:
            z_from = None
        t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        z = w_new + ((t - 1.0) / t_new) * (w_new - w) if z_from is None else z_from
        w, t = w_new, t_new
    warnings.warn(f"fit_linear did not converge in max_iter={max_iter} iterations (optimality "
                  f"gap {gap:.3g} > tol={tol:g}); the problem may be badly conditioned",
                  RuntimeWarning, stacklevel=2)
    return w


def regularization_path(X: Any, y: Any, lams: Any, kind: str = "l2",
                        l1_ratio: float = 0.5) -> np.ndarray:
    """Fitted weights for each strength in ``lams``: array of shape (len(lams), D).

    Each fit starts from the previous one (warm start), which is much faster than starting
    from zero when neighbouring strengths are close.
    """
    lam_arr = as_float_array(lams, "lams", ndim=1)
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
    grad_W : array of shape (D_in, D_out)
    grad_b : array of shape (D_out,)
    """

    kernel: float
    bias: float
    activity: float
    total: float
    grad_W: np.ndarray
    grad_b: np.ndarray


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
    W : array of shape (D_in, D_out)
    b : array of shape (D_out,)
    X : array of shape (N, D_in)
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
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation must be one of {tuple(_ACTIVATIONS)}, got {activation!r}")
    if kind not in ("l1", "l2"):
        raise ValueError(f"kind must be 'l1' or 'l2', got {kind!r}")
    phi, dphi = _ACTIVATIONS[activation]
    z = Xa @ Wa + ba
    a = phi(z)
    n = Xa.shape[0]
    pen = l1_penalty if kind == "l1" else l2_penalty
    dpen = np.sign if kind == "l1" else (lambda v: 2.0 * v)
    k_val = lam_w * pen(Wa)
    b_val = lam_b * pen(ba)
    a_val = lam_a * pen(a) / n
    # activity gradient: d/dz of (lam_a/N) sum R(a) = (lam_a/N) R'(a) phi'(z)
    dz = (lam_a / n) * dpen(a) * dphi(z)
    grad_W = lam_w * dpen(Wa) + Xa.T @ dz
    grad_b = lam_b * dpen(ba) + dz.sum(axis=0)
    return DensePenalties(k_val, b_val, a_val, k_val + b_val + a_val, grad_W, grad_b)
