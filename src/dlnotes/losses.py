r"""Loss functions: regression, probabilistic classification and margin losses.

Taught in the chapter *Loss functions* (``book/losses.md``).

Conventions used by every function here (see the book's notation page):

* :math:`N` samples, :math:`C` outputs or classes. Regression predictions and targets
  have shape ``(N,)`` or ``(N, C)``; class scores :math:`z_{ij}` and probabilities
  :math:`\hat y_{ij}` have shape ``(N, C)`` (one row per sample); class labels
  :math:`y_i` have shape ``(N,)`` with 0-based values in ``{0, ..., C-1}``.
* The **per-sample loss** is :math:`L_i`; for several outputs it is the *sum* over the
  outputs, :math:`L_i = \sum_j \ell(\hat y_{ij} - y_{ij})`, a function of the residual
  :math:`d = \hat y - y`.
* ``reduction`` is ``'none'`` (the vector of :math:`L_i`, shape ``(N,)``),
  ``'mean'`` (:math:`\frac1N\sum_i L_i`, the default) or ``'sum'``.
* Every loss ``f`` has a gradient ``f_grad`` with the same arguments. It returns the
  derivative of the *reduced* loss with respect to the predictions or scores, with the
  same shape as them. For ``reduction='none'`` it returns the derivative of the sum,
  whose row ``i`` is :math:`\partial L_i / \partial \hat y_i`.
* Finite input never gives NaN or a NumPy warning. A value beyond float64's range (the
  L2 loss of residuals of 1e200) is returned as ``inf``, its correctly rounded value, and
  so are the infinite values of a logarithm of 0 (a zero probability on the true class);
  the functions built to be stable (softmax, log-cosh, the logistic loss, the gradients of
  the bounded losses) stay finite for any finite input.

PyTorch conventions differ in two places, and the tests check both mappings:
``torch.nn.functional`` losses with ``reduction='mean'`` average over *all elements*
(``N * C``) where we average over samples; ``F.multi_margin_loss`` divides the
multiclass hinge by :math:`C`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ._validation import (as_float_array, as_int, as_labels, as_probabilities, as_scalar, as_seed,
                          as_signed_labels, check_axis, check_choice, check_reduction,
                          check_same_shape, guarded)

__all__ = [
    "l1", "l1_grad", "l2", "l2_grad", "huber", "huber_grad", "log_cosh", "log_cosh_grad",
    "fit_location",
    "softmax", "log_softmax", "softmax_cross_entropy", "softmax_cross_entropy_grad",
    "categorical_nll", "categorical_nll_grad",
    "entropy", "cross_entropy", "kl_divergence", "kl_divergence_grad",
    "log_likelihood_ratio_estimate",
    "binary_hinge", "binary_hinge_grad", "logistic_loss", "logistic_loss_grad",
    "multiclass_hinge", "multiclass_hinge_grad", "multiclass_hinge_terms",
    "crammer_singer_hinge", "crammer_singer_hinge_grad",
    "zero_one_loss",
]


# --------------------------------------------------------------------------- helpers

def _reduce(per_sample: np.ndarray, reduction: str) -> np.ndarray | float:
    if reduction == "none":
        return per_sample
    total = float(per_sample.sum())
    if reduction == "sum":
        return total
    n = per_sample.shape[0]
    if math.isinf(total) and np.all(np.isfinite(per_sample)):
        # the sum overflowed but the mean may not: average terms that cannot overflow
        return float(np.sum(per_sample / n))
    return total / n if n else total


def _grad_scale(n: int, reduction: str) -> float:
    return 1.0 / n if reduction == "mean" else 1.0


def _regression_args(y_pred: Any, y_true: Any, reduction: str) -> tuple[np.ndarray, str]:
    reduction = check_reduction(reduction)
    yp = as_float_array(y_pred, "y_pred", ndim=(1, 2))
    yt = as_float_array(y_true, "y_true", ndim=(1, 2))
    check_same_shape(yp, yt, "y_pred", "y_true")
    return yp - yt, reduction  # may be +-inf where the residual overflows: every loss copes


def _per_sample(elementwise: np.ndarray) -> np.ndarray:
    return elementwise if elementwise.ndim == 1 else elementwise.sum(axis=1)


def _check_p(p: Any) -> None:
    if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or p not in (1, 2):
        raise ValueError(f"p must be 1 (hinge) or 2 (squared hinge), as an integer; got {p!r}")


def _scores_and_labels(scores: Any, labels: Any, name: str = "scores") -> tuple[np.ndarray, np.ndarray]:
    z = as_float_array(scores, name, ndim=2)
    n, c = z.shape
    if c < 2:
        raise ValueError(f"{name} must have at least 2 classes (columns), got shape {z.shape}")
    y = as_labels(labels, "labels", n=n, k=c)
    return z, y


# ----------------------------------------------------------------- regression losses

@guarded("y_pred", "y_true")
def l1(y_pred: Any, y_true: Any, reduction: str = "mean") -> np.ndarray | float:
    r"""L1 (absolute) loss, :math:`L_i = \sum_j |\hat y_{ij} - y_{ij}|`.

    Parameters
    ----------
    y_pred, y_true : array of shape (N,) or (N, C)
        Predictions :math:`\hat y` and targets :math:`y`.
    reduction : {'none', 'mean', 'sum'}

    Returns
    -------
    float, or array of shape (N,) for ``reduction='none'``.

    Notes
    -----
    PyTorch: ``F.l1_loss(..., reduction='sum')`` equals ``reduction='sum'`` here;
    torch's ``'mean'`` is ours divided by :math:`C`.
    """
    d, reduction = _regression_args(y_pred, y_true, reduction)
    return _reduce(_per_sample(np.abs(d)), reduction)


@guarded("y_pred", "y_true")
def l1_grad(y_pred: Any, y_true: Any, reduction: str = "mean") -> np.ndarray:
    r"""Gradient of :func:`l1` with respect to ``y_pred``: :math:`\operatorname{sign}(d)`.

    At :math:`d = 0` the loss has a kink; we return the subgradient 0 (as PyTorch does).
    Returns an array with the shape of ``y_pred``.
    """
    d, reduction = _regression_args(y_pred, y_true, reduction)
    return np.sign(d) * _grad_scale(d.shape[0], reduction)


@guarded("y_pred", "y_true")
def l2(y_pred: Any, y_true: Any, reduction: str = "mean") -> np.ndarray | float:
    r"""Squared-error (L2) loss, :math:`L_i = \sum_j (\hat y_{ij} - y_{ij})^2`.

    No factor 1/2. PyTorch: ``F.mse_loss(..., reduction='sum')`` equals our ``'sum'``;
    torch's ``'mean'`` is ours divided by :math:`C`.
    Returns a float, or shape (N,) for ``reduction='none'``.
    """
    d, reduction = _regression_args(y_pred, y_true, reduction)
    return _reduce(_per_sample(d * d), reduction)


@guarded("y_pred", "y_true")
def l2_grad(y_pred: Any, y_true: Any, reduction: str = "mean") -> np.ndarray:
    r"""Gradient of :func:`l2` with respect to ``y_pred``: :math:`2d`, shape of ``y_pred``."""
    d, reduction = _regression_args(y_pred, y_true, reduction)
    return 2.0 * d * _grad_scale(d.shape[0], reduction)


@guarded("y_pred", "y_true", "delta")
def huber(y_pred: Any, y_true: Any, delta: float = 1.0, reduction: str = "mean") -> np.ndarray | float:
    r"""Huber loss with threshold :math:`\delta > 0`.

    .. math::

        \ell_\delta(d) = \begin{cases} \tfrac12 d^2 & |d| \le \delta \\
        \delta\,(|d| - \tfrac12\delta) & |d| > \delta \end{cases}

    Quadratic near zero, linear (slope :math:`\delta`) in the tails; the two pieces meet
    with equal value and slope at :math:`|d| = \delta`. Same definition as
    ``F.huber_loss(..., delta=delta)`` (torch's ``'mean'`` divides by :math:`N C`).

    Parameters
    ----------
    y_pred, y_true : array of shape (N,) or (N, C)
    delta : float > 0
    reduction : {'none', 'mean', 'sum'}
    """
    d, reduction = _regression_args(y_pred, y_true, reduction)
    delta = as_scalar(delta, "delta", low=0.0, low_open=True)
    a = np.abs(d)
    elem = np.where(a <= delta, 0.5 * d * d, delta * (a - 0.5 * delta))
    return _reduce(_per_sample(elem), reduction)


@guarded("y_pred", "y_true", "delta")
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


@guarded("y_pred", "y_true")
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


@guarded("y_pred", "y_true")
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


@guarded("y")
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
    loss = check_choice(loss, "loss", tuple(_PSI))
    delta = as_scalar(delta, "delta", low=0.0, low_open=True)
    if loss == "l2":
        # the sum of values near 1e308 can overflow where the mean does not
        return float(yv.mean()) if np.max(np.abs(yv)) < 1e300 else float(np.sum(yv / yv.size))
    if loss == "l1":
        ys = np.sort(yv)
        n = ys.size
        return float(ys[n // 2]) if n % 2 else float(0.5 * ys[n // 2 - 1] + 0.5 * ys[n // 2])
    psi = _PSI[loss]
    lo, hi = float(yv.min()), float(yv.max())
    for _ in range(2200):  # enough halvings to cross the whole float64 range
        mid = 0.5 * lo + 0.5 * hi  # (lo + hi) / 2 could overflow
        if mid in (lo, hi):
            break
        # sum psi(y - c) decreases in c; positive means the minimiser lies to the right
        if psi(yv - mid, delta).sum() > 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * lo + 0.5 * hi


# ----------------------------------------------------- probabilistic classification

@guarded("scores", allow_inf=False)
def softmax(scores: Any, axis: int = -1) -> np.ndarray:
    r"""Softmax :math:`\hat y_j = e^{z_j} / \sum_l e^{z_l}`, computed stably.

    Subtracting :math:`z_{\max} = \max_l z_l` first leaves the result unchanged and keeps
    every exponent :math:`\le 0`, so scores of :math:`\pm 10^4` (or 1e308) do not overflow.

    Parameters
    ----------
    scores : array of shape (C,) or (N, C)
    axis : int
        The class axis. Required to be one axis: ``axis=None`` (all elements) is rejected,
        as ``torch.softmax`` requires ``dim``.
    """
    z = as_float_array(scores, "scores")
    axis = check_axis(axis, z.ndim)
    shifted = z - z.max(axis=axis, keepdims=True)  # -inf where the range overflows: e^-inf = 0
    e = np.exp(shifted)
    return e / e.sum(axis=axis, keepdims=True)


@guarded("scores")
def log_softmax(scores: Any, axis: int = -1) -> np.ndarray:
    r"""Log-softmax :math:`\log \hat y_j = z_j - z_{\max} - \log\sum_l e^{z_l - z_{\max}}` (log-sum-exp trick).

    ``axis`` as in :func:`softmax`. An entry below :math:`z_{\max}` by more than float64's
    range is ``-inf``, its correctly rounded value.
    """
    z = as_float_array(scores, "scores")
    axis = check_axis(axis, z.ndim)
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


@guarded("scores")
def softmax_cross_entropy(scores: Any, labels: Any, reduction: str = "mean") -> np.ndarray | float:
    r"""Softmax cross-entropy from raw scores, :math:`L_i = -\log \operatorname{softmax}(z_i)_{y_i}`.

    Equivalently :math:`L_i = \log\sum_j e^{z_{ij}} - z_{i y_i}`. Uses the log-sum-exp
    trick, so it is finite and exact for scores of any size (up to a loss beyond
    float64's range, which is ``inf``). Equals
    ``F.cross_entropy(scores, labels, reduction=...)``.

    Parameters
    ----------
    scores : array of shape (N, C)
        Raw class scores (logits) :math:`z_{ij}`, one row per sample.
    labels : int array of shape (N,)
        True classes :math:`y_i \in \{0, \dots, C-1\}`.
    reduction : {'none', 'mean', 'sum'}
    """
    reduction = check_reduction(reduction)
    z, y = _scores_and_labels(scores, labels)
    log_p = log_softmax(z, axis=1)
    return _reduce(-log_p[np.arange(len(y)), y], reduction)


@guarded("scores", allow_inf=False)
def softmax_cross_entropy_grad(scores: Any, labels: Any, reduction: str = "mean") -> np.ndarray:
    r"""Gradient of :func:`softmax_cross_entropy` w.r.t. the scores: :math:`\hat y - \mathrm{onehot}(y)`.

    Returns an array of shape (N, C).
    """
    reduction = check_reduction(reduction)
    z, y = _scores_and_labels(scores, labels)
    g = softmax(z, axis=1)
    g[np.arange(len(y)), y] -= 1.0
    return g * _grad_scale(len(y), reduction)


def _probs_and_labels(probs: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    q = as_probabilities(probs, "probs")
    if q.ndim != 2:
        raise ValueError(f"probs must be 2-D (N, C), got shape {q.shape}")
    y = as_labels(labels, "labels", n=q.shape[0], k=q.shape[1])
    return q, y


@guarded("probs")
def categorical_nll(probs: Any, labels: Any, reduction: str = "mean") -> np.ndarray | float:
    r"""Cross-entropy as the negative log-likelihood of a categorical model.

    :math:`L_i = -\log \hat y_{i y_i}` where row :math:`\hat y_i` is the model's predicted
    distribution over the :math:`C` classes. The mean over samples is the average negative
    log-likelihood of the labels. Equals ``F.nll_loss(torch.log(probs), labels)``.
    A zero probability on the true class gives ``inf`` (the true value), never NaN.

    Parameters
    ----------
    probs : array of shape (N, C)
        Rows are probability distributions (non-negative, summing to 1).
    labels : int array of shape (N,)
    """
    reduction = check_reduction(reduction)
    q, y = _probs_and_labels(probs, labels)
    return _reduce(-np.log(q[np.arange(len(y)), y]), reduction)


@guarded("probs")
def categorical_nll_grad(probs: Any, labels: Any, reduction: str = "mean") -> np.ndarray:
    r"""Gradient of :func:`categorical_nll` w.r.t. ``probs``: :math:`-1/\hat y_{iy_i}` at the true class, 0 elsewhere."""
    reduction = check_reduction(reduction)
    q, y = _probs_and_labels(probs, labels)
    g = np.zeros_like(q)
    g[np.arange(len(y)), y] = -1.0 / q[np.arange(len(y)), y]
    return g * _grad_scale(len(y), reduction)


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


@guarded("p")
def entropy(p: Any) -> np.ndarray | float:
    r"""Shannon entropy :math:`\mathrm{H}(P) = -\sum_j P_j \log P_j` in nats (with :math:`0 \log 0 = 0`).

    ``p`` (the distribution :math:`P`) has shape (C,) (returns a float) or (N, C)
    (returns shape (N,)).
    """
    pa = as_probabilities(p, "p")
    h = -_xlogy(pa, pa).sum(axis=-1)
    return float(h) if pa.ndim == 1 else h


@guarded("p", "q")
def cross_entropy(p: Any, q: Any) -> np.ndarray | float:
    r"""Cross-entropy :math:`\mathrm{H}(P, Q) = -\sum_j P_j \log Q_j` between two distributions.

    ``p`` is the data (target) distribution :math:`P`, ``q`` the model's :math:`Q`. Terms
    with :math:`P_j = 0` contribute 0; :math:`Q_j = 0` where :math:`P_j > 0` gives ``inf``.
    Shapes (C,) → float, (N, C) → (N,). With one-hot ``p`` this is
    :func:`categorical_nll`; with ``q = softmax(z)`` it equals
    ``F.cross_entropy(z, p, reduction='none')`` (probability targets).
    """
    pa, qa = _two_distributions(p, q)
    h = -_xlogy(pa, qa).sum(axis=-1)
    return float(h) if pa.ndim == 1 else h


@guarded("p", "q")
def kl_divergence(p: Any, q: Any) -> np.ndarray | float:
    r"""Kullback–Leibler divergence :math:`\mathrm{KL}(P\,\|\,Q) = \sum_j P_j \log(P_j / Q_j)`.

    Always :math:`\ge 0`, zero only when :math:`P = Q`, and not symmetric. It is the
    gap :math:`\mathrm{H}(P, Q) - \mathrm{H}(P)` between cross-entropy and entropy. Zero
    entries of :math:`P` contribute 0 (finite even when :math:`Q` is 0 there); a zero of
    :math:`Q` where :math:`P > 0` gives ``inf``. Shapes (C,) → float, (N, C) → (N,).

    PyTorch: ``F.kl_div(torch.log(q), p, reduction='sum')`` is the sum of our rows;
    ``reduction='batchmean'`` is their mean. (Note the argument order: torch takes the
    model's log-probabilities first.)
    """
    pa, qa = _two_distributions(p, q)
    kl = (_xlogy(pa, pa) - _xlogy(pa, qa)).sum(axis=-1)
    # rounding can leave -1e-17 for identical inputs; KL is non-negative
    kl = np.maximum(kl, 0.0)
    return float(kl) if pa.ndim == 1 else kl


@guarded("p", "q")
def kl_divergence_grad(p: Any, q: Any) -> np.ndarray:
    r"""Gradient of :func:`kl_divergence` w.r.t. ``q``: :math:`-P_j / Q_j` (0 where :math:`P_j = 0`).

    Treats the entries of :math:`Q` as free variables (no simplex constraint). If
    :math:`Q = \operatorname{softmax}(z)`, the chain rule turns this into
    :math:`Q - P` with respect to the scores.
    """
    pa, qa = _two_distributions(p, q)
    g = np.zeros_like(pa)
    nz = pa != 0
    g[nz] = -pa[nz] / qa[nz]
    return g


#: The largest number of samples :func:`log_likelihood_ratio_estimate` draws at once.
MAX_SAMPLES = 10 ** 7


@guarded("p", "q")
def log_likelihood_ratio_estimate(p: Any, q: Any, n: int, seed: int | None = 0) -> np.ndarray:
    r"""Running mean of :math:`\log P(x_m)/Q(x_m)` over :math:`x_1, \dots, x_n` drawn i.i.d. from :math:`P`.

    By the law of large numbers the running mean converges to :math:`\mathrm{KL}(P\|Q)`:
    KL is the expected log-likelihood ratio, the average evidence per sample in favour of
    :math:`P` over :math:`Q` when the data really come from :math:`P`.

    Parameters
    ----------
    p, q : array of shape (C,)
        Distributions :math:`P, Q` over the same :math:`C` outcomes; ``q`` must be positive
        wherever ``p`` is.
    n : int in [1, 10**7]
        Number of samples.
    seed : int >= 0 or None

    Returns
    -------
    array of shape (n,)
        Element ``m-1`` is the mean of the first ``m`` log-ratios.
    """
    pa, qa = _two_distributions(p, q)
    if pa.ndim != 1:
        raise ValueError(f"p must be 1-D (C,), got shape {pa.shape}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    n = as_int(n, "n", low=1, high=MAX_SAMPLES, what="a positive integer")
    seed = as_seed(seed)
    if np.any((qa == 0) & (pa > 0)):
        raise ValueError("q must be positive wherever p is positive (otherwise KL is infinite)")
    rng = np.random.default_rng(seed)
    # p passed the check with tolerance 1e-6; NumPy's sampler insists on 1e-8
    x = rng.choice(len(pa), size=n, p=pa / pa.sum())
    llr = np.log(pa[x]) - np.log(qa[x])
    return np.cumsum(llr) / np.arange(1, n + 1)


# ------------------------------------------------------------------ margin losses

def _binary_args(scores: Any, labels: Any, reduction: str) -> tuple[np.ndarray, np.ndarray, str]:
    reduction = check_reduction(reduction)
    z = as_float_array(scores, "scores", ndim=1)
    y = as_signed_labels(labels, "labels", shape=z.shape)
    return z, y, reduction


@guarded("scores", "margin")
def binary_hinge(scores: Any, labels: Any, margin: float = 1.0, p: int = 1,
                 reduction: str = "mean") -> np.ndarray | float:
    r"""Binary hinge loss :math:`L_i = \max(0, \Delta - r_i)^p` of the margin :math:`r_i = y_i z_i`, labels :math:`y_i \in \{-1, +1\}`.

    Zero once the sample is on the right side with margin :math:`\Delta`; grows linearly
    (``p=1``) or quadratically (``p=2``, the squared hinge, smoother at the kink) with the
    violation.

    Parameters
    ----------
    scores : array of shape (N,)
        Real-valued scores :math:`z_i`; the predicted class is :math:`\operatorname{sign}(z_i)`.
    labels : array of shape (N,)
        Labels :math:`y_i \in \{-1, +1\}`.
    margin : float > 0
        :math:`\Delta`.
    p : {1, 2}
    reduction : {'none', 'mean', 'sum'}

    Notes
    -----
    PyTorch has no binary hinge function; it equals ``2 * F.multi_margin_loss`` on the
    two-column scores ``[-z/2, z/2]`` (class 0 is label -1, class 1 is label +1).
    """
    z, y, reduction = _binary_args(scores, labels, reduction)
    margin = as_scalar(margin, "margin", low=0.0, low_open=True)
    _check_p(p)
    return _reduce(np.maximum(0.0, margin - y * z) ** p, reduction)


@guarded("scores", "margin")
def binary_hinge_grad(scores: Any, labels: Any, margin: float = 1.0, p: int = 1,
                      reduction: str = "mean") -> np.ndarray:
    r"""Gradient of :func:`binary_hinge` w.r.t. the scores: :math:`-p\,y_i\max(0, \Delta - r_i)^{p-1}` where the margin is violated."""
    z, y, reduction = _binary_args(scores, labels, reduction)
    margin = as_scalar(margin, "margin", low=0.0, low_open=True)
    _check_p(p)
    viol = np.maximum(0.0, margin - y * z)
    active = viol > 0
    g = np.where(active, -p * y * (viol ** (p - 1) if p > 1 else 1.0), 0.0)
    return g * _grad_scale(len(z), reduction)


@guarded("scores")
def logistic_loss(scores: Any, labels: Any, reduction: str = "mean") -> np.ndarray | float:
    r"""Logistic ("soft-margin") loss :math:`L_i = \log(1 + e^{-r_i})` of the margin :math:`r_i = y_i z_i`, labels in {-1, +1}.

    A smooth relative of the hinge; it is the binary cross-entropy of
    :math:`\sigma(z_i)` with the 0/1 label :math:`(y_i + 1)/2`. Computed with
    ``logaddexp`` so it is finite for any score. Same value as ``F.soft_margin_loss``, which
    however overflows to ``inf`` for large negative margins; the stable PyTorch equivalent
    is ``F.binary_cross_entropy_with_logits(z, (y + 1) / 2)``.
    """
    z, y, reduction = _binary_args(scores, labels, reduction)
    return _reduce(np.logaddexp(0.0, -y * z), reduction)


@guarded("scores", allow_inf=False)
def logistic_loss_grad(scores: Any, labels: Any, reduction: str = "mean") -> np.ndarray:
    r"""Gradient of :func:`logistic_loss`: :math:`-y_i\,\sigma(-r_i)`."""
    z, y, reduction = _binary_args(scores, labels, reduction)
    r = y * z
    # sigma(-r) = exp(-logaddexp(0, r)), stable for either sign of r
    sig = np.exp(-np.logaddexp(0.0, r))
    return -y * sig * _grad_scale(len(z), reduction)


@guarded("scores", "margin")
def multiclass_hinge_terms(scores: Any, labels: Any, margin: float = 1.0) -> np.ndarray:
    r"""The margin terms :math:`z_{ij} - z_{iy_i} + \Delta` of the multiclass hinge, shape (N, C).

    The loss sums :math:`\max(0, \cdot)` of these over :math:`j \ne y_i`; the entry at the
    true class is set to 0 (it is not part of the sum). Used to show the worked example
    term by term.
    """
    z, y = _scores_and_labels(scores, labels)
    margin = as_scalar(margin, "margin", low=0.0, low_open=True)
    rows = np.arange(len(y))
    terms = z - z[rows, y][:, None] + margin
    terms[rows, y] = 0.0
    return terms


@guarded("scores", "margin")
def multiclass_hinge(scores: Any, labels: Any, margin: float = 1.0, p: int = 1,
                     reduction: str = "mean") -> np.ndarray | float:
    r"""Multiclass SVM hinge loss, Weston–Watkins form: a term for every wrong class.

    .. math::

        L_i = \sum_{j \ne y_i} \max(0,\; z_{ij} - z_{i y_i} + \Delta)^p

    ``p=2`` gives the squared hinge. With all scores equal (e.g. all ≈ 0 at
    initialisation) every one of the :math:`C-1` terms is :math:`\Delta^p`, so
    :math:`L_i = (C-1)\Delta^p`. :func:`crammer_singer_hinge` keeps only the largest term.

    Parameters
    ----------
    scores : array of shape (N, C)
        Class scores :math:`z_{ij}`, one row per sample. (The book's worked example prints
        them with one *column* per sample; transpose it.)
    labels : int array of shape (N,)
    margin : float > 0
        :math:`\Delta`.
    p : {1, 2}
    reduction : {'none', 'mean', 'sum'}

    Notes
    -----
    PyTorch: ``F.multi_margin_loss(scores, labels, p=p, margin=margin)`` divides each
    :math:`L_i` by :math:`C`: ours is :math:`C` times theirs.
    """
    reduction = check_reduction(reduction)
    _check_p(p)
    terms = multiclass_hinge_terms(scores, labels, margin)
    return _reduce((np.maximum(0.0, terms) ** p).sum(axis=1), reduction)


@guarded("scores", "margin")
def multiclass_hinge_grad(scores: Any, labels: Any, margin: float = 1.0, p: int = 1,
                          reduction: str = "mean") -> np.ndarray:
    r"""Gradient of :func:`multiclass_hinge` w.r.t. the scores, shape (N, C).

    For :math:`j \ne y_i`: :math:`p\max(0, u_{ij})^{p-1}` if the term
    :math:`u_{ij} = z_{ij} - z_{iy_i} + \Delta` is active (> 0); the true class gets minus
    the sum of those.
    """
    reduction = check_reduction(reduction)
    _check_p(p)
    z, y = _scores_and_labels(scores, labels)
    terms = multiclass_hinge_terms(z, y, margin)
    active = terms > 0
    rows = np.arange(len(y))
    active[rows, y] = False
    g = np.where(active, p * np.maximum(0.0, terms) ** (p - 1), 0.0)
    g[rows, y] = -g.sum(axis=1)
    return g * _grad_scale(len(y), reduction)


def _crammer_singer_parts(scores: Any, labels: Any,
                          margin: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The violation u_i = Delta + max_{j != y_i} z_ij - z_iy_i and the worst wrong class j*_i."""
    z, y = _scores_and_labels(scores, labels)
    margin = as_scalar(margin, "margin", low=0.0, low_open=True)
    rows = np.arange(len(y))
    wrong = z.copy()
    wrong[rows, y] = -np.inf
    worst = np.argmax(wrong, axis=1)   # the first of tied maxima, as torch.max
    u = margin + (wrong[rows, worst] - z[rows, y])
    return u, z, y, worst


@guarded("scores", "margin")
def crammer_singer_hinge(scores: Any, labels: Any, margin: float = 1.0, p: int = 1,
                         reduction: str = "mean") -> np.ndarray | float:
    r"""Multiclass hinge loss, Crammer–Singer form: only the worst wrong class counts.

    .. math::

        L_i = \max\Big(0,\; \Delta + \max_{j \ne y_i} z_{ij} - z_{i y_i}\Big)^p

    where :func:`multiclass_hinge` (Weston–Watkins) sums the violations of *all* wrong
    classes. Both are zero exactly when the true class beats every other by
    :math:`\Delta`; they differ in what they charge otherwise. With all scores equal,
    :math:`L_i = \Delta^p` here against :math:`(C-1)\Delta^p` there. Crammer & Singer
    (2001).

    Parameters
    ----------
    scores : array of shape (N, C)
    labels : int array of shape (N,)
    margin : float > 0
        :math:`\Delta`.
    p : {1, 2}
        ``p=2`` squares the violation.
    reduction : {'none', 'mean', 'sum'}

    Notes
    -----
    Keras's ``CategoricalHinge`` computes :math:`\max(0, 1 + \max_j (1 - t_{ij}) z_{ij} - z_{iy_i})`
    with one-hot targets :math:`t`: the same loss (with :math:`\Delta = 1`) for
    non-negative scores such as probabilities, which is how Keras applies it. (For
    negative scores its mask leaves a 0 in place of the true class among the "wrong" scores.)
    PyTorch has no built-in; the tests compare with torch autograd of this formula and with
    an enumeration of the classes.
    """
    reduction = check_reduction(reduction)
    _check_p(p)
    u, _, _, _ = _crammer_singer_parts(scores, labels, margin)
    return _reduce(np.maximum(0.0, u) ** p, reduction)


@guarded("scores", "margin")
def crammer_singer_hinge_grad(scores: Any, labels: Any, margin: float = 1.0, p: int = 1,
                              reduction: str = "mean") -> np.ndarray:
    r"""Gradient of :func:`crammer_singer_hinge` w.r.t. the scores, shape (N, C).

    Where the violation :math:`u_i = \Delta + z_{ij^*} - z_{iy_i}` is positive (:math:`j^*`
    the highest-scoring wrong class): :math:`p\,u_i^{p-1}` at :math:`j^*`, minus that at
    the true class, 0 elsewhere. At tied wrong classes it picks the first (a subgradient,
    as ``torch.max`` does).
    """
    reduction = check_reduction(reduction)
    _check_p(p)
    u, z, y, worst = _crammer_singer_parts(scores, labels, margin)
    n = len(y)
    rows = np.arange(n)
    w = np.where(u > 0, p * np.maximum(0.0, u) ** (p - 1), 0.0)
    g = np.zeros_like(z)
    g[rows, worst] = w
    g[rows, y] = -w
    return g * _grad_scale(n, reduction)


@guarded("scores", allow_inf=False)
def zero_one_loss(scores: Any, labels: Any, reduction: str = "mean") -> np.ndarray | float:
    r"""0–1 loss: 1 if the highest score is not the true class, else 0 (ties count as errors).

    What we actually care about in classification, and useless for gradient descent: its
    gradient is zero almost everywhere. Shapes as :func:`softmax_cross_entropy`.
    """
    reduction = check_reduction(reduction)
    z, y = _scores_and_labels(scores, labels)
    rows = np.arange(len(y))
    true = z[rows, y]
    others = z.copy()
    others[rows, y] = -np.inf
    wrong = (others.max(axis=1) >= true).astype(float)
    return _reduce(wrong, reduction)
