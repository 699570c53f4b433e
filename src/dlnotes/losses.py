r"""Loss functions: regression, probabilistic classification and margin losses.

Taught in the chapter *Loss functions* (``book/losses.md``).

Conventions used by every function here (see the book's notation page):

* ``N`` samples, ``k`` outputs or classes. Regression predictions and targets have
  shape ``(N,)`` or ``(N, k)``; class scores and probabilities have shape ``(N, k)``
  (one row per sample); class labels have shape ``(N,)`` with 0-based values
  in ``{0, ..., k-1}``.
* The **per-sample loss** is :math:`L_i`; for several outputs it is the *sum* over the
  outputs, :math:`L_i = \sum_j \ell(\hat y_{ij} - y_{ij})`.
* ``reduction`` is ``'none'`` (the vector of :math:`L_i`, shape ``(N,)``),
  ``'mean'`` (:math:`\frac1N\sum_i L_i`, the default) or ``'sum'``.
* Every loss ``f`` has a gradient ``f_grad`` with the same arguments. It returns the
  derivative of the *reduced* loss with respect to the predictions or scores, with the
  same shape as them. For ``reduction='none'`` it returns the derivative of the sum,
  whose row ``i`` is :math:`\partial L_i / \partial \hat y_i`.

PyTorch conventions differ in two places, and the tests check both mappings:
``torch.nn.functional`` losses with ``reduction='mean'`` average over *all elements*
(``N * k``) where we average over samples; ``F.multi_margin_loss`` divides the
multiclass hinge by ``k``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._validation import (as_float_array, as_labels, as_probabilities, as_scalar,
                          as_signed_labels, check_reduction, check_same_shape)

__all__ = [
    "l1", "l1_grad", "l2", "l2_grad", "huber", "huber_grad", "log_cosh", "log_cosh_grad",
    "fit_location",
    "softmax", "log_softmax", "softmax_cross_entropy", "softmax_cross_entropy_grad",
    "categorical_nll", "categorical_nll_grad",
    "entropy", "cross_entropy", "kl_divergence", "kl_divergence_grad",
    "log_likelihood_ratio_estimate",
    "binary_hinge", "binary_hinge_grad", "logistic_loss", "logistic_loss_grad",
    "multiclass_hinge", "multiclass_hinge_grad", "multiclass_hinge_terms",
    "zero_one_loss",
]


# --------------------------------------------------------------------------- helpers

def _reduce(per_sample: np.ndarray, reduction: str) -> np.ndarray | float:
    if reduction == "none":
        return per_sample
    if reduction == "sum":
        return float(per_sample.sum())
    return float(per_sample.mean())


def _grad_scale(n: int, reduction: str) -> float:
    return 1.0 / n if reduction == "mean" else 1.0


def _regression_args(y_pred: Any, y_true: Any, reduction: str) -> tuple[np.ndarray, str]:
    reduction = check_reduction(reduction)
    yp = as_float_array(y_pred, "y_pred", ndim=(1, 2))
    yt = as_float_array(y_true, "y_true", ndim=(1, 2))
    check_same_shape(yp, yt, "y_pred", "y_true")
    return yp - yt, reduction


def _per_sample(elementwise: np.ndarray) -> np.ndarray:
    return elementwise if elementwise.ndim == 1 else elementwise.sum(axis=1)


def _check_p(p: Any) -> None:
    if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or p not in (1, 2):
        raise ValueError(f"p must be 1 (hinge) or 2 (squared hinge), as an integer; got {p!r}")


def _scores_and_labels(scores: Any, labels: Any, name: str = "scores") -> tuple[np.ndarray, np.ndarray]:
    s = as_float_array(scores, name, ndim=2)
    n, k = s.shape
    if k < 2:
        raise ValueError(f"{name} must have at least 2 classes (columns), got shape {s.shape}")
    t = as_labels(labels, "labels", n=n, k=k)
    return s, t


# ----------------------------------------------------------------- regression losses

def l1(y_pred: Any, y_true: Any, reduction: str = "mean") -> np.ndarray | float:
    r"""L1 (absolute) loss, :math:`L_i = \sum_j |\hat y_{ij} - y_{ij}|`.

    Parameters
    ----------
    y_pred, y_true : array of shape (N,) or (N, k)
        Predictions :math:`\hat y` and targets :math:`y`.
    reduction : {'none', 'mean', 'sum'}

    Returns
    -------
    float, or array of shape (N,) for ``reduction='none'``.

    Notes
    -----
    PyTorch: ``F.l1_loss(..., reduction='sum')`` equals ``reduction='sum'`` here;
    torch's ``'mean'`` is ours divided by ``k``.
    """
    d, reduction = _regression_args(y_pred, y_true, reduction)
    return _reduce(_per_sample(np.abs(d)), reduction)


def l1_grad(y_pred: Any, y_true: Any, reduction: str = "mean") -> np.ndarray:
    r"""Gradient of :func:`l1` with respect to ``y_pred``: :math:`\operatorname{sign}(d)`.

    At :math:`d = 0` the loss has a kink; we return the subgradient 0 (as PyTorch does).
    Returns an array with the shape of ``y_pred``.
    """
    d, reduction = _regression_args(y_pred, y_true, reduction)
    return np.sign(d) * _grad_scale(d.shape[0], reduction)


def l2(y_pred: Any, y_true: Any, reduction: str = "mean") -> np.ndarray | float:
    r"""Squared-error (L2) loss, :math:`L_i = \sum_j (\hat y_{ij} - y_{ij})^2`.

    No factor 1/2. PyTorch: ``F.mse_loss(..., reduction='sum')`` equals our ``'sum'``;
    torch's ``'mean'`` is ours divided by ``k``.
    Returns a float, or shape (N,) for ``reduction='none'``.
    """
    d, reduction = _regression_args(y_pred, y_true, reduction)
    return _reduce(_per_sample(d * d), reduction)


def l2_grad(y_pred: Any, y_true: Any, reduction: str = "mean") -> np.ndarray:
    r"""Gradient of :func:`l2` with respect to ``y_pred``: :math:`2d`, shape of ``y_pred``."""
    d, reduction = _regression_args(y_pred, y_true, reduction)
    return 2.0 * d * _grad_scale(d.shape[0], reduction)


def huber(y_pred: Any, y_true: Any, delta: float = 1.0, reduction: str = "mean") -> np.ndarray | float:
    r"""Huber loss with threshold :math:`\delta > 0`.

    .. math::

        \ell_\delta(d) = \begin{cases} \tfrac12 d^2 & |d| \le \delta \\
        \delta\,(|d| - \tfrac12\delta) & |d| > \delta \end{cases}

    Quadratic near zero, linear (slope :math:`\delta`) in the tails; the two pieces meet
    with equal value and slope at :math:`|d| = \delta`. Same definition as
    ``F.huber_loss(..., delta=delta)`` (torch's ``'mean'`` divides by ``N*k``).

    Parameters
    ----------
    y_pred, y_true : array of shape (N,) or (N, k)
    delta : float > 0
    reduction : {'none', 'mean', 'sum'}
    """
    d, reduction = _regression_args(y_pred, y_true, reduction)
    delta = as_scalar(delta, "delta", low=0.0, low_open=True)
    a = np.abs(d)
    elem = np.where(a <= delta, 0.5 * d * d, delta * (a - 0.5 * delta))
    return _reduce(_per_sample(elem), reduction)


def huber_grad(y_pred: Any, y_true: Any, delta: float = 1.0, reduction: str = "mean") -> np.ndarray:
    r"""Gradient of :func:`huber`: :math:`\operatorname{clip}(d, -\delta, \delta)`."""
    d, reduction = _regression_args(y_pred, y_true, reduction)
    delta = as_scalar(delta, "delta", low=0.0, low_open=True)
    return np.clip(d, -delta, delta) * _grad_scale(d.shape[0], reduction)


def _log_cosh(d: np.ndarray) -> np.ndarray:
    a = np.abs(d)
    out = np.empty_like(a)
    # Large |d|: log cosh d = |d| + log(1 + exp(-2|d|)) - log 2. exp never sees a positive
    # argument, so this is exact where cosh overflows (|d| > 710).
    big = a >= 1.0
    out[big] = a[big] + np.log1p(np.exp(-2.0 * a[big])) - math.log(2.0)
    # Small |d|: the form above subtracts nearly equal numbers (relative error 1e-4 at
    # |d| = 1e-6). cosh d - 1 = 2 sinh(d/2)^2 has no cancellation.
    small = ~big
    out[small] = np.log1p(2.0 * np.sinh(0.5 * a[small]) ** 2)
    return out


def log_cosh(y_pred: Any, y_true: Any, reduction: str = "mean") -> np.ndarray | float:
    r"""Log-cosh loss, :math:`L_i = \sum_j \log\cosh(\hat y_{ij} - y_{ij})`.

    Behaves like :math:`d^2/2` for small :math:`|d|` and like :math:`|d| - \log 2` for
    large :math:`|d|`. Computed as :math:`|d| + \log(1 + e^{-2|d|}) - \log 2` for
    :math:`|d| \ge 1`, which stays finite where ``cosh`` overflows (``|d|`` above about
    710), and as :math:`\log(1 + 2\sinh^2(d/2))` below 1, which keeps full relative
    accuracy for tiny residuals.
    PyTorch has no log-cosh loss; the tests compare with ``mpmath`` at 50 digits.
    """
    d, reduction = _regression_args(y_pred, y_true, reduction)
    return _reduce(_per_sample(_log_cosh(d)), reduction)


def log_cosh_grad(y_pred: Any, y_true: Any, reduction: str = "mean") -> np.ndarray:
    r"""Gradient of :func:`log_cosh`: :math:`\tanh(d)`, bounded by 1 like L1's."""
    d, reduction = _regression_args(y_pred, y_true, reduction)
    return np.tanh(d) * _grad_scale(d.shape[0], reduction)


_PSI = {
    "l2": lambda r, delta: 2.0 * r,
    "l1": lambda r, delta: np.sign(r),
    "huber": lambda r, delta: np.clip(r, -delta, delta),
    "log_cosh": lambda r, delta: np.tanh(r),
}


def fit_location(y: Any, loss: str = "l2", delta: float = 1.0) -> float:
    r"""The constant :math:`c` that minimises :math:`\sum_i \ell(y_i - c)` for a loss.

    This is the simplest "model" there is, and it shows what a loss does with
    outliers: L2 gives the mean, L1 a median, Huber and log-cosh something in between.

    Parameters
    ----------
    y : array of shape (N,)
        The data.
    loss : {'l2', 'l1', 'huber', 'log_cosh'}
    delta : float > 0
        Huber threshold (ignored by the other losses).

    Returns
    -------
    float
        The minimiser. For L1 with an even number of points every value between the two
        middle points is a minimiser; we return their midpoint (``np.median``).

    Notes
    -----
    The derivative :math:`-\sum_i \psi(y_i - c)` of a convex loss is non-decreasing in
    :math:`c`, so we find its zero by bisection on :math:`[\min y, \max y]` to machine
    precision. No starting point, no step size.
    """
    yv = as_float_array(y, "y", ndim=1)
    if loss not in _PSI:
        raise ValueError(f"loss must be one of {tuple(_PSI)}, got {loss!r}")
    delta = as_scalar(delta, "delta", low=0.0, low_open=True)
    if loss == "l2":
        return float(yv.mean())
    if loss == "l1":
        return float(np.median(yv))
    psi = _PSI[loss]
    lo, hi = float(yv.min()), float(yv.max())
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        # sum psi(y - c) decreases in c; positive means the minimiser lies to the right
        if psi(yv - mid, delta).sum() > 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


# ----------------------------------------------------- probabilistic classification

def softmax(scores: Any, axis: int = -1) -> np.ndarray:
    r"""Softmax :math:`q_j = e^{s_j} / \sum_l e^{s_l}`, computed stably.

    Subtracting :math:`\max_l s_l` first leaves the result unchanged and keeps every
    exponent :math:`\le 0`, so scores of :math:`\pm 10^4` do not overflow.

    Parameters
    ----------
    scores : array of shape (k,) or (N, k)
    axis : int
        The class axis.
    """
    s = as_float_array(scores, "scores")
    z = s - s.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(scores: Any, axis: int = -1) -> np.ndarray:
    r"""Log-softmax :math:`\log q_j = s_j - \log\sum_l e^{s_l}` (log-sum-exp trick)."""
    s = as_float_array(scores, "scores")
    m = s.max(axis=axis, keepdims=True)
    z = s - m
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def softmax_cross_entropy(scores: Any, labels: Any, reduction: str = "mean") -> np.ndarray | float:
    r"""Softmax cross-entropy from raw scores, :math:`L_i = -\log \operatorname{softmax}(s_i)_{t_i}`.

    Equivalently :math:`L_i = \log\sum_j e^{s_{ij}} - s_{i t_i}`. Uses the log-sum-exp
    trick, so it is finite and exact for scores of any size. Equals
    ``F.cross_entropy(scores, labels, reduction=...)``.

    Parameters
    ----------
    scores : array of shape (N, k)
        Raw class scores (logits), one row per sample.
    labels : int array of shape (N,)
        True classes :math:`t_i \in \{0, \dots, k-1\}`.
    reduction : {'none', 'mean', 'sum'}
    """
    reduction = check_reduction(reduction)
    s, t = _scores_and_labels(scores, labels)
    logq = log_softmax(s, axis=1)
    return _reduce(-logq[np.arange(len(t)), t], reduction)


def softmax_cross_entropy_grad(scores: Any, labels: Any, reduction: str = "mean") -> np.ndarray:
    r"""Gradient of :func:`softmax_cross_entropy` w.r.t. the scores: :math:`q - \mathrm{onehot}(t)`.

    Returns an array of shape (N, k).
    """
    reduction = check_reduction(reduction)
    s, t = _scores_and_labels(scores, labels)
    g = softmax(s, axis=1)
    g[np.arange(len(t)), t] -= 1.0
    return g * _grad_scale(len(t), reduction)


def categorical_nll(probs: Any, labels: Any, reduction: str = "mean") -> np.ndarray | float:
    r"""Cross-entropy as the negative log-likelihood of a categorical model.

    :math:`L_i = -\log q_{i t_i}` where row :math:`q_i` is the model's predicted
    distribution over the ``k`` classes. The mean over samples is the average negative
    log-likelihood of the labels. Equals ``F.nll_loss(torch.log(probs), labels)``.
    A zero probability on the true class gives ``inf`` (the true value), never NaN.

    Parameters
    ----------
    probs : array of shape (N, k)
        Rows are probability distributions (non-negative, summing to 1).
    labels : int array of shape (N,)
    """
    reduction = check_reduction(reduction)
    q = as_probabilities(probs, "probs")
    if q.ndim != 2:
        raise ValueError(f"probs must be 2-D (N, k), got shape {q.shape}")
    t = as_labels(labels, "labels", n=q.shape[0], k=q.shape[1])
    with np.errstate(divide="ignore"):
        per = -np.log(q[np.arange(len(t)), t])
    return _reduce(per, reduction)


def categorical_nll_grad(probs: Any, labels: Any, reduction: str = "mean") -> np.ndarray:
    r"""Gradient of :func:`categorical_nll` w.r.t. ``probs``: :math:`-1/q_{it_i}` at the true class, 0 elsewhere."""
    reduction = check_reduction(reduction)
    q = as_probabilities(probs, "probs")
    if q.ndim != 2:
        raise ValueError(f"probs must be 2-D (N, k), got shape {q.shape}")
    t = as_labels(labels, "labels", n=q.shape[0], k=q.shape[1])
    g = np.zeros_like(q)
    with np.errstate(divide="ignore"):
        g[np.arange(len(t)), t] = -1.0 / q[np.arange(len(t)), t]
    return g * _grad_scale(len(t), reduction)


def _xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x * log(y) with the convention 0 * log(anything) = 0."""
    out = np.zeros(np.broadcast(x, y).shape)
    nz = x != 0
    with np.errstate(divide="ignore"):
        out[nz] = x[nz] * np.log(y[nz])
    return out


def _two_distributions(p: Any, q: Any) -> tuple[np.ndarray, np.ndarray]:
    pa = as_probabilities(p, "p")
    qa = as_probabilities(q, "q")
    check_same_shape(pa, qa, "p", "q")
    return pa, qa


def entropy(p: Any) -> np.ndarray | float:
    r"""Shannon entropy :math:`H(p) = -\sum_j p_j \log p_j` in nats (with :math:`0 \log 0 = 0`).

    ``p`` has shape (k,) (returns a float) or (N, k) (returns shape (N,)).
    """
    pa = as_probabilities(p, "p")
    h = -_xlogy(pa, pa).sum(axis=-1)
    return float(h) if pa.ndim == 1 else h


def cross_entropy(p: Any, q: Any) -> np.ndarray | float:
    r"""Cross-entropy :math:`H(p, q) = -\sum_j p_j \log q_j` between two distributions.

    ``p`` is the data (target) distribution, ``q`` the model's. Terms with
    :math:`p_j = 0` contribute 0; :math:`q_j = 0` where :math:`p_j > 0` gives ``inf``.
    Shapes (k,) → float, (N, k) → (N,). With one-hot ``p`` this is
    :func:`categorical_nll`; with ``q = softmax(s)`` it equals
    ``F.cross_entropy(s, p, reduction='none')`` (probability targets).
    """
    pa, qa = _two_distributions(p, q)
    h = -_xlogy(pa, qa).sum(axis=-1)
    return float(h) if pa.ndim == 1 else h


def kl_divergence(p: Any, q: Any) -> np.ndarray | float:
    r"""Kullback–Leibler divergence :math:`\mathrm{KL}(p\,\|\,q) = \sum_j p_j \log(p_j / q_j)`.

    Always :math:`\ge 0`, zero only when :math:`p = q`, and not symmetric. It is the
    gap :math:`H(p, q) - H(p)` between cross-entropy and entropy. Zero entries of ``p``
    contribute 0 (finite even when ``q`` is 0 there); a zero of ``q`` where ``p > 0``
    gives ``inf``. Shapes (k,) → float, (N, k) → (N,).

    PyTorch: ``F.kl_div(torch.log(q), p, reduction='sum')`` is the sum of our rows;
    ``reduction='batchmean'`` is their mean. (Note the argument order: torch takes the
    model's log-probabilities first.)
    """
    pa, qa = _two_distributions(p, q)
    kl = (_xlogy(pa, pa) - _xlogy(pa, qa)).sum(axis=-1)
    # rounding can leave -1e-17 for identical inputs; KL is non-negative
    kl = np.maximum(kl, 0.0)
    return float(kl) if pa.ndim == 1 else kl


def kl_divergence_grad(p: Any, q: Any) -> np.ndarray:
    r"""Gradient of :func:`kl_divergence` w.r.t. ``q``: :math:`-p_j / q_j` (0 where :math:`p_j = 0`).

    Treats the entries of ``q`` as free variables (no simplex constraint). If
    :math:`q = \operatorname{softmax}(s)`, the chain rule turns this into
    :math:`q - p` with respect to the scores.
    """
    pa, qa = _two_distributions(p, q)
    g = np.zeros_like(pa)
    nz = pa != 0
    with np.errstate(divide="ignore"):
        g[nz] = -pa[nz] / qa[nz]
    return g


def log_likelihood_ratio_estimate(p: Any, q: Any, n: int, seed: int | None = 0) -> np.ndarray:
    r"""Running mean of :math:`\log p(x_m)/q(x_m)` over :math:`x_1, \dots, x_n` drawn i.i.d. from ``p``.

    By the law of large numbers the running mean converges to :math:`\mathrm{KL}(p\|q)`:
    KL is the expected log-likelihood ratio, the average evidence per sample in favour of
    ``p`` over ``q`` when the data really come from ``p``.

    Parameters
    ----------
    p, q : array of shape (k,)
        Distributions over the same ``k`` outcomes; ``q`` must be positive wherever ``p`` is.
    n : int >= 1
        Number of samples.
    seed : int or None

    Returns
    -------
    array of shape (n,)
        Element ``m-1`` is the mean of the first ``m`` log-ratios.
    """
    pa, qa = _two_distributions(p, q)
    if pa.ndim != 1:
        raise ValueError(f"p must be 1-D (k,), got shape {pa.shape}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if np.any((qa == 0) & (pa > 0)):
        raise ValueError("q must be positive wherever p is positive (otherwise KL is infinite)")
    rng = np.random.default_rng(seed)
    x = rng.choice(len(pa), size=int(n), p=pa)
    llr = np.log(pa[x]) - np.log(qa[x])
    return np.cumsum(llr) / np.arange(1, int(n) + 1)


# ------------------------------------------------------------------ margin losses

def binary_hinge(scores: Any, labels: Any, margin: float = 1.0, p: int = 1,
                 reduction: str = "mean") -> np.ndarray | float:
    r"""Binary hinge loss :math:`L_i = \max(0, \Delta - y_i s_i)^p` with labels :math:`y_i \in \{-1, +1\}`.

    Zero once the sample is on the right side with margin :math:`\Delta`; grows linearly
    (``p=1``) or quadratically (``p=2``, the squared hinge, smoother at the kink) with the
    violation.

    Parameters
    ----------
    scores : array of shape (N,)
        Real-valued scores :math:`s_i`; the predicted class is :math:`\operatorname{sign}(s_i)`.
    labels : array of shape (N,)
        Labels :math:`y_i \in \{-1, +1\}`.
    margin : float > 0
    p : {1, 2}
    reduction : {'none', 'mean', 'sum'}

    Notes
    -----
    PyTorch has no binary hinge function; it equals ``2 * F.multi_margin_loss`` on the
    two-column scores ``[-s/2, s/2]`` (class 0 is label -1, class 1 is label +1).
    """
    reduction = check_reduction(reduction)
    s = as_float_array(scores, "scores", ndim=1)
    y = as_signed_labels(labels, "labels", shape=s.shape)
    margin = as_scalar(margin, "margin", low=0.0, low_open=True)
    _check_p(p)
    return _reduce(np.maximum(0.0, margin - y * s) ** p, reduction)


def binary_hinge_grad(scores: Any, labels: Any, margin: float = 1.0, p: int = 1,
                      reduction: str = "mean") -> np.ndarray:
    r"""Gradient of :func:`binary_hinge` w.r.t. the scores: :math:`-p\,y_i\max(0, \Delta - y_i s_i)^{p-1}` where the margin is violated."""
    reduction = check_reduction(reduction)
    s = as_float_array(scores, "scores", ndim=1)
    y = as_signed_labels(labels, "labels", shape=s.shape)
    margin = as_scalar(margin, "margin", low=0.0, low_open=True)
    _check_p(p)
    viol = np.maximum(0.0, margin - y * s)
    active = viol > 0
    g = np.where(active, -p * y * (viol ** (p - 1) if p > 1 else 1.0), 0.0)
    return g * _grad_scale(len(s), reduction)


def logistic_loss(scores: Any, labels: Any, reduction: str = "mean") -> np.ndarray | float:
    r"""Logistic ("soft-margin") loss :math:`L_i = \log(1 + e^{-y_i s_i})`, labels in {-1, +1}.

    A smooth relative of the hinge; it is the binary cross-entropy of
    :math:`\sigma(s_i)` with the 0/1 label :math:`(y_i + 1)/2`. Computed with
    ``logaddexp`` so it is finite for any score. Same value as ``F.soft_margin_loss``, which
    however overflows to ``inf`` for large negative margins; the stable PyTorch equivalent
    is ``F.binary_cross_entropy_with_logits(s, (y + 1) / 2)``.
    """
    reduction = check_reduction(reduction)
    s = as_float_array(scores, "scores", ndim=1)
    y = as_signed_labels(labels, "labels", shape=s.shape)
    return _reduce(np.logaddexp(0.0, -y * s), reduction)


def logistic_loss_grad(scores: Any, labels: Any, reduction: str = "mean") -> np.ndarray:
    r"""Gradient of :func:`logistic_loss`: :math:`-y_i\,\sigma(-y_i s_i)`."""
    reduction = check_reduction(reduction)
    s = as_float_array(scores, "scores", ndim=1)
    y = as_signed_labels(labels, "labels", shape=s.shape)
    z = -y * s
    # sigma(z) = exp(-logaddexp(0, -z)), stable for either sign of z
    sig = np.exp(-np.logaddexp(0.0, -z))
    return -y * sig * _grad_scale(len(s), reduction)


def multiclass_hinge_terms(scores: Any, labels: Any, margin: float = 1.0) -> np.ndarray:
    r"""The margin terms :math:`s_{ij} - s_{it_i} + \Delta` of the multiclass hinge, shape (N, k).

    The loss sums :math:`\max(0, \cdot)` of these over :math:`j \ne t_i`; the entry at the
    true class is set to 0 (it is not part of the sum). Used to show the worked example
    term by term.
    """
    s, t = _scores_and_labels(scores, labels)
    margin = as_scalar(margin, "margin", low=0.0, low_open=True)
    rows = np.arange(len(t))
    terms = s - s[rows, t][:, None] + margin
    terms[rows, t] = 0.0
    return terms


def multiclass_hinge(scores: Any, labels: Any, margin: float = 1.0, p: int = 1,
                     reduction: str = "mean") -> np.ndarray | float:
    r"""Multiclass SVM hinge loss (Weston–Watkins form).

    .. math::

        L_i = \sum_{j \ne t_i} \max(0,\; s_{ij} - s_{i t_i} + \Delta)^p

    ``p=2`` gives the squared hinge. With all scores equal (e.g. all ≈ 0 at
    initialisation) every one of the :math:`k-1` terms is :math:`\Delta^p`, so
    :math:`L_i = (k-1)\Delta^p`.

    Parameters
    ----------
    scores : array of shape (N, k)
        Class scores, one row per sample. (The book's worked example prints them with
        one *column* per sample; transpose it.)
    labels : int array of shape (N,)
    margin : float > 0
        :math:`\Delta`.
    p : {1, 2}
    reduction : {'none', 'mean', 'sum'}

    Notes
    -----
    PyTorch: ``F.multi_margin_loss(scores, labels, p=p, margin=margin)`` divides each
    :math:`L_i` by ``k``: ours is ``k`` times theirs.
    """
    reduction = check_reduction(reduction)
    _check_p(p)
    terms = multiclass_hinge_terms(scores, labels, margin)
    return _reduce((np.maximum(0.0, terms) ** p).sum(axis=1), reduction)


def multiclass_hinge_grad(scores: Any, labels: Any, margin: float = 1.0, p: int = 1,
                          reduction: str = "mean") -> np.ndarray:
    r"""Gradient of :func:`multiclass_hinge` w.r.t. the scores, shape (N, k).

    For :math:`j \ne t_i`: :math:`p\max(0, m_{ij})^{p-1}` if the term :math:`m_{ij}` is
    active (> 0); the true class gets minus the sum of those.
    """
    reduction = check_reduction(reduction)
    _check_p(p)
    s, t = _scores_and_labels(scores, labels)
    terms = multiclass_hinge_terms(s, t, margin)
    active = terms > 0
    rows = np.arange(len(t))
    active[rows, t] = False
    g = np.where(active, p * np.maximum(0.0, terms) ** (p - 1), 0.0)
    g[rows, t] = -g.sum(axis=1)
    return g * _grad_scale(len(t), reduction)


def zero_one_loss(scores: Any, labels: Any, reduction: str = "mean") -> np.ndarray | float:
    r"""0–1 loss: 1 if the highest score is not the true class, else 0 (ties count as errors).

    What we actually care about in classification, and useless for gradient descent: its
    gradient is zero almost everywhere. Shapes as :func:`softmax_cross_entropy`.
    """
    reduction = check_reduction(reduction)
    s, t = _scores_and_labels(scores, labels)
    rows = np.arange(len(t))
    true = s[rows, t]
    others = s.copy()
    others[rows, t] = -np.inf
    wrong = (others.max(axis=1) >= true).astype(float)
    return _reduce(wrong, reduction)
