r"""Batch normalization: train mode (batch statistics) and eval mode (running averages), forward and backward.

Taught in the chapter *Dropout and batch normalization*.

For each feature (channel), over the batch (and, for images, over the positions):

.. math::

    \mu_{\mathcal B} = \text{mean}(x), \quad \sigma^2_{\mathcal B} = \text{mean}((x - \mu_{\mathcal B})^2),
    \quad \hat x = \frac{x - \mu_{\mathcal B}}{\sqrt{\sigma^2_{\mathcal B} + \varepsilon}},
    \quad \text{out} = \gamma \hat x + \beta .

**The variance convention.** The batch is normalised with the *biased* variance (divide by
the count :math:`N` of values per feature, :math:`N \cdot M_1 \cdot M_2` for images), but the running variance that eval mode uses is updated with the
*unbiased* one (divide by :math:`N - 1`), as ``torch.nn.BatchNorm1d``/``2d`` do:

.. math::

    \mu_{\text{run}} \leftarrow \zeta_{\text{BN}}\,\mu_{\text{run}} + (1 - \zeta_{\text{BN}})\,\mu_{\mathcal B}, \qquad
    \sigma^2_{\text{run}} \leftarrow \zeta_{\text{BN}}\,\sigma^2_{\text{run}} + (1 - \zeta_{\text{BN}})\,\tfrac{N}{N-1}\sigma^2_{\mathcal B},

with the decay :math:`\zeta_{\text{BN}} = 1 -{}` PyTorch's ``momentum`` (``momentum`` = 0.1 by
default is the weight of the *new* statistic, the opposite of an optimizer's momentum). :math:`\gamma` is PyTorch's ``weight``,
:math:`\beta` its ``bias`` (not Adam's :math:`\beta_1, \beta_2`), :math:`\varepsilon` its ``eps``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._validation import as_float_array, as_int, as_scalar
from .training import Classifier, _dtype

__all__ = ["BatchNorm", "batchnorm_forward", "batchnorm_backward", "update_running", "BNMLP"]


def _axes(x: np.ndarray) -> tuple[int, ...]:
    if x.ndim == 2:
        return (0,)
    if x.ndim == 4:
        return (0, 2, 3)
    raise ValueError(f"x must be of shape (N, C) or (N, C, H, W), got shape {x.shape}")


def _per_channel(v: np.ndarray, ndim: int) -> np.ndarray:
    return v if ndim == 2 else v[None, :, None, None]


def _float(x: Any, name: str, ndim: Any) -> np.ndarray:
    arr = np.asarray(x)
    dt = arr.dtype if arr.dtype in (np.float32, np.float64) else np.float64
    return as_float_array(x, name, ndim=ndim).astype(dt, copy=False)


def batchnorm_forward(x: Any, gamma: Any, beta: Any, *, train: bool = True,
                      running_mean: Any = None, running_var: Any = None,
                      eps: float = 1e-5) -> tuple[np.ndarray, tuple]:
    r"""Batch normalization of ``x`` of shape (N, C) or (N, C, H, W), per feature/channel.

    Parameters
    ----------
    x : array of shape (N, C) or (N, C, H, W)
    gamma, beta : arrays of shape (C,)
        Scale :math:`\gamma` (PyTorch's ``weight``) and shift :math:`\beta` (``bias``).
    train : bool
        True: normalise with the batch's mean and biased variance. False (eval mode):
        with ``running_mean`` and ``running_var``.
    running_mean, running_var : arrays of shape (C,)
        Needed in eval mode.
    eps : float > 0
        :math:`\varepsilon`, PyTorch's ``eps``.

    Returns
    -------
    (out, cache) : ``out`` shaped like x; ``cache`` for :func:`batchnorm_backward`
    (it holds the batch mean and biased variance under ``cache[-1]``).
    """
    x = _float(x, "x", (2, 4))
    axes = _axes(x)
    C = x.shape[1]
    g = as_float_array(gamma, "gamma", ndim=1)
    b = as_float_array(beta, "beta", ndim=1)
    for name, v in (("gamma", g), ("beta", b)):
        if v.size != C:
            raise ValueError(f"{name} must have shape ({C},) (one per feature), got {v.shape}")
    eps = as_scalar(eps, "eps", low=0.0, low_open=True)
    m = x.size // C
    if train:
        if m < 2:
            raise ValueError(f"train mode needs more than one value per feature (got {m}); "
                             "the unbiased running variance divides by m - 1")
        mu = x.mean(axis=axes, dtype=np.float64)
        var = ((x - _per_channel(mu, x.ndim)) ** 2).mean(axis=axes, dtype=np.float64)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("eval mode (train=False) needs running_mean and running_var")
        mu = as_float_array(running_mean, "running_mean", ndim=1)
        var = as_float_array(running_var, "running_var", ndim=1)
        if mu.size != C or var.size != C:
            raise ValueError(f"running_mean and running_var must have shape ({C},)")
        if np.any(var < 0):
            raise ValueError("running_var must be >= 0")
    inv = 1.0 / np.sqrt(var + eps)
    dt = x.dtype.type
    xhat = (x - _per_channel(mu, x.ndim).astype(dt)) * _per_channel(inv, x.ndim).astype(dt)
    out = _per_channel(g, x.ndim).astype(dt) * xhat + _per_channel(b, x.ndim).astype(dt)
    return out, (train, xhat, g, inv, axes, (mu, var, m))


def batchnorm_backward(dout: Any, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Gradients ``(dx, dgamma, dbeta)`` from ``dout`` (shaped like x).

    Train mode, with means over the batch (and positions):
    :math:`\partial L/\partial x = \frac{\gamma}{\sqrt{\sigma^2_{\mathcal B} + \varepsilon}}
    \left(g - \text{mean}(g) - \hat x\,\text{mean}(g \hat x)\right)` for :math:`g = \partial L/\partial\,\text{out}`
    (the batch statistics depend on x). Eval mode: :math:`\gamma g/\sqrt{\sigma^2_{\text{run}} + \varepsilon}`.
    """
    train, xhat, g, inv, axes, _ = cache
    d = np.asarray(dout)
    if d.shape != xhat.shape:
        raise ValueError(f"dout must have the shape of the output, {xhat.shape}, got {d.shape}")
    d = d.astype(xhat.dtype, copy=False)
    nd = xhat.ndim
    dgamma = (d * xhat).sum(axis=axes)
    dbeta = d.sum(axis=axes)
    scale = _per_channel(g * inv, nd).astype(xhat.dtype)
    if not train:
        return d * scale, dgamma, dbeta
    mean_d = d.mean(axis=axes, keepdims=True)
    mean_dx = (d * xhat).mean(axis=axes, keepdims=True)
    return scale * (d - mean_d - xhat * mean_dx), dgamma, dbeta


def update_running(running_mean: Any, running_var: Any, cache: tuple,
                   momentum: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    r"""The running averages after one train-mode step (see the module docstring; the variance term is unbiased).

    ``momentum`` in [0, 1] is PyTorch's ``momentum``, the weight of the batch, :math:`1 - \zeta_{\text{BN}}`.
    """
    train, *_, (mu, var, m) = cache
    if not train:
        raise ValueError("the running averages change only in train mode")
    eta = as_scalar(momentum, "momentum", low=0.0, high=1.0)
    rm = as_float_array(running_mean, "running_mean", ndim=1)
    rv = as_float_array(running_var, "running_var", ndim=1)
    return (1 - eta) * rm + eta * mu, (1 - eta) * rv + eta * var * m / (m - 1)


class BatchNorm:
    r"""A batch-normalization layer with state, like ``torch.nn.BatchNorm1d``/``2d``.

    ``gamma`` starts at 1, ``beta`` at 0, ``running_mean`` at 0, ``running_var`` at 1.
    ``training`` selects the mode; :meth:`forward` in train mode updates the running averages.

    Parameters
    ----------
    num_features : int
        C.
    eps : float
        :math:`\varepsilon` (``eps``).
    momentum : float
        PyTorch's ``momentum``, the weight of the new batch statistic, :math:`1 - \zeta_{\text{BN}}`.
    dtype : float32 or float64
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 dtype: Any = np.float64) -> None:
        C = as_int(num_features, "num_features", low=1)
        self.eps = as_scalar(eps, "eps", low=0.0, low_open=True)
        self.momentum = as_scalar(momentum, "momentum", low=0.0, high=1.0)
        dt = _dtype(dtype)
        self.gamma = np.ones(C, dt)
        self.beta = np.zeros(C, dt)
        self.running_mean = np.zeros(C)
        self.running_var = np.ones(C)
        self.training = True

    def forward(self, x: Any) -> tuple[np.ndarray, tuple]:
        """Output shaped like x, and the cache for :meth:`backward`."""
        out, cache = batchnorm_forward(x, self.gamma, self.beta, train=self.training,
                                       running_mean=self.running_mean, running_var=self.running_var,
                                       eps=self.eps)
        if self.training:
            self.running_mean, self.running_var = update_running(
                self.running_mean, self.running_var, cache, self.momentum)
        return out, cache

    def backward(self, dout: Any, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(dx, dgamma, dbeta)``; see :func:`batchnorm_backward`."""
        return batchnorm_backward(dout, cache)


class BNMLP(Classifier):
    r"""The deep network of :class:`dlnotes.initialization.DeepMLP` with batch normalization after every hidden layer's weights.

    :math:`z^{(l)} = a^{(l-1)} W^{(l)}`, then :math:`\gamma^{(l)}\hat z^{(l)} + \beta^{(l)}`
    (:func:`batchnorm_forward`), then :math:`\phi`; a linear output layer gives the scores. The
    bias before a batch normalization is redundant (:math:`\beta` shifts) and is left out. The
    weights are those of ``initialization.DeepMLP`` with the same arguments and seed, so the two
    networks start from the same :math:`W^{(l)}`. ``training`` (which
    :func:`dlnotes.training.train` switches off for its evaluations) selects batch statistics
    or running averages.

    ``params`` = ``[W1, gamma1, beta1, ..., WD, gammaD, betaD, W_out, b_out]``.

    Parameters
    ----------
    n_features, widths, n_classes, activation, init, gain, seed, dtype
        As for :class:`dlnotes.initialization.DeepMLP`.
    momentum : float
        PyTorch's ``momentum`` of the running averages, :math:`1 - \zeta_{\text{BN}}`.
    """

    def __init__(self, n_features: int, widths: Any, n_classes: int, activation: Any = "relu",
                 init: Any = "kaiming_normal", *, gain: float | None = None, momentum: float = 0.1,
                 seed: int = 0, dtype: Any = np.float64) -> None:
        from .initialization import DeepMLP

        base = DeepMLP(n_features, widths, n_classes, activation, init, gain=gain, seed=seed, dtype=dtype)
        self.n_features, self.n_classes = base.n_features, base.n_classes
        self.activation = base.activation
        self.weights = base.weights
        self.b_out = base.biases[-1]
        self.bns = [BatchNorm(w, momentum=momentum, dtype=base.weights[0].dtype) for w in base.widths]
        self.params = [p for W, bn in zip(self.weights, self.bns) for p in (W, bn.gamma, bn.beta)]
        self.params += [self.weights[-1], self.b_out]

    @property
    def depth(self) -> int:
        """:math:`D`, the number of hidden layers."""
        return len(self.bns)

    def forward(self, X: np.ndarray) -> tuple[np.ndarray, tuple]:
        """Scores of shape (N, C) and the per-layer caches."""
        a, caches = X, []
        for W, bn in zip(self.weights, self.bns):
            bn.training = self.training
            z, bn_cache = bn.forward(a @ W)
            caches.append((a, z, bn_cache))
            a = self.activation.forward(z)
        return a @ self.weights[-1] + self.b_out, (caches, a)

    def backward(self, dscores: np.ndarray, cache: tuple) -> list[np.ndarray]:
        """Gradients in the order of ``params``."""
        caches, a = cache
        grads_out = [a.T @ dscores, dscores.sum(axis=0)]
        da = dscores @ self.weights[-1].T
        grads: list[np.ndarray] = []
        for W, bn, (a_in, z, bn_cache) in zip(self.weights[-2::-1], self.bns[::-1], caches[::-1]):
            dz, dg, db = bn.backward(self.activation.backward(da, z), bn_cache)
            grads = [a_in.T @ dz, dg, db] + grads
            da = dz @ W.T
        return grads + grads_out

    def weight_gradient_norms(self, X: Any, y: Any) -> np.ndarray:
        r"""Frobenius norm of :math:`\partial L/\partial W^{(l)}` for each hidden layer, shape (D,), in train mode.

        Like ``grad_norm`` of :func:`dlnotes.initialization.layer_statistics`; it does not change
        the running averages.
        """
        saved = [(bn.running_mean, bn.running_var) for bn in self.bns]
        _, grads = self.loss_and_grads(X, y)
        for bn, (rm, rv) in zip(self.bns, saved):
            bn.running_mean, bn.running_var = rm, rv
        return np.array([np.linalg.norm(grads[3 * l]) for l in range(self.depth)])
