r"""Weight initialization, and a deep multilayer perceptron to watch it work.

Taught in the chapter *Activations and initialization*.

**Layout.** A dense layer here computes :math:`z^{(l)} = a^{(l-1)} W^{(l)} + b^{(l)}` on row
vectors, so its weight matrix has shape ``(n_in, n_out)``: fan-in :math:`n_{in}` =
``shape[0]``, fan-out :math:`n_{out}` = ``shape[1]``. PyTorch's ``nn.Linear`` stores the
transpose, ``weight`` of shape ``(out_features, in_features)``, and ``torch.nn.init``
reads the fan-in from ``size(1)``. So ``xavier_normal((n_in, n_out))`` draws from the same
distribution as ``torch.nn.init.xavier_normal_(torch.empty(n_out, n_in)).T`` (the tests
check this for every initializer, mode and gain).

**Standard deviations** (:math:`\mathrm{gain}`, :func:`calculate_gain`):

* Xavier/Glorot: :math:`\sigma_W = G\sqrt{2/(n_{in} + n_{out})}`;
* He/Kaiming: :math:`\sigma_W = \mathrm{gain}/\sqrt{n}` with :math:`n = n_{in}` (``mode='fan_in'``,
  keeps the forward activations' scale) or :math:`n = n_{out}` (``mode='fan_out'``, keeps
  the backward gradients' scale), and :math:`\mathrm{gain} = \sqrt{2/(1 + \mathrm{slope}^2)}` for a leaky ReLU of
  slope :math:`\mathrm{slope}` (torch's ``a``), :math:`\sqrt 2` for the ReLU.

The normal versions draw :math:`\mathcal N(0, \sigma_W^2)`; the uniform versions
:math:`\mathcal U(-\sqrt3\,\sigma_W, \sqrt3\,\sigma_W)`, which has the same variance.

:class:`DeepMLP` is a :class:`dlnotes.training.Classifier` with any number of hidden layers,
any activation of :mod:`dlnotes.activations` and any of these initializations;
:func:`layer_statistics` records, layer by layer, the activations and the gradients of one
forward and backward pass.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from . import activations as act
from ._validation import as_labels, as_scalar
from .losses import softmax_cross_entropy, softmax_cross_entropy_grad
from .training import Classifier

__all__ = [
    "calculate_gain", "fans", "xavier_std", "kaiming_std", "normal", "xavier_uniform",
    "xavier_normal", "kaiming_uniform", "kaiming_normal", "INITS", "DeepMLP", "LayerStats",
    "layer_statistics",
]

_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "sigmoid", "identity")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    r"""The recommended factor :math:`\mathrm{gain}` for a nonlinearity, as ``torch.nn.init.calculate_gain``.

    ``linear``, ``conv*``, ``sigmoid``: 1; ``tanh``: 5/3; ``relu``: :math:`\sqrt 2`;
    ``leaky_relu``: :math:`\sqrt{2/(1 + \mathrm{slope}^2)}` with :math:`\mathrm{slope}` = ``param`` (default 0.01);
    ``selu``: 3/4. Chapter: *Activations and initialization*.
    """
    if not isinstance(nonlinearity, str):
        raise TypeError(f"nonlinearity must be a string, got {type(nonlinearity).__name__}")
    if nonlinearity in _LINEAR:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, bool) or not isinstance(param, numbers.Real):
            raise ValueError(f"negative_slope {param!r} is not a valid number")
        else:
            slope = float(param)
        return math.sqrt(2.0 / (1.0 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4.0
    raise ValueError(f"unsupported nonlinearity {nonlinearity!r}; expected one of "
                     f"{_LINEAR + ('tanh', 'relu', 'leaky_relu', 'selu')}")


def fans(shape: Any, fan_in: int | None = None, fan_out: int | None = None) -> tuple[int, int]:
    r"""Fan-in and fan-out :math:`(n_{in}, n_{out})` of a weight array of the book's layout.

    A dense weight has shape ``(n_in, n_out)``; a maxout weight ``(k, n_in, n_out)`` has the
    same fans (each piece is a dense map). For other layouts (a convolution's kernel) pass
    ``fan_in`` and ``fan_out`` explicitly: they override what the shape says.
    """
    shape = _shape(shape)
    if fan_in is None or fan_out is None:
        if len(shape) not in (2, 3):
            raise ValueError(f"cannot tell the fans of a weight of shape {shape}: the book's dense "
                             "layout is (n_in, n_out) (or (k, n_in, n_out) for maxout); pass "
                             "fan_in= and fan_out= for other layouts")
        n_in, n_out = shape[-2], shape[-1]
        fan_in = n_in if fan_in is None else fan_in
        fan_out = n_out if fan_out is None else fan_out
    for name, v in (("fan_in", fan_in), ("fan_out", fan_out)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    return int(fan_in), int(fan_out)


def _shape(shape: Any) -> tuple[int, ...]:
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)) or not shape or any(
            isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1 for s in shape):
        raise ValueError(f"shape must be a tuple of positive integers, got {shape!r}")
    return tuple(int(s) for s in shape)


def _gain(gain: Any) -> float:
    return as_scalar(gain, "gain", low=0.0)


def xavier_std(n_in: int, n_out: int, gain: float = 1.0) -> float:
    r"""Xavier/Glorot standard deviation :math:`\sigma_W = G\sqrt{2/(n_{in} + n_{out})}`.

    The compromise between keeping the forward signal's variance (:math:`n_{in}\sigma_W^2 = 1`)
    and the backward gradient's (:math:`n_{out}\sigma_W^2 = 1`) for a unit that is linear near
    zero (tanh, the identity). Chapter: *Activations and initialization*.
    """
    n_in, n_out = fans((1, 1), n_in, n_out)
    return _gain(gain) * math.sqrt(2.0 / (n_in + n_out))


def kaiming_std(n_in: int, n_out: int, gain: float = math.sqrt(2.0), mode: str = "fan_in") -> float:
    r"""He/Kaiming standard deviation :math:`\sigma_W = \mathrm{gain}/\sqrt{n}`, :math:`n = n_{in}` or :math:`n_{out}`.

    With :math:`\mathrm{gain} = \sqrt 2` (ReLU), :math:`\operatorname{Var} z^{(l)} = \operatorname{Var} z^{(l-1)}`
    layer after layer in the forward pass (``mode='fan_in'``) or for the gradients in the
    backward pass (``mode='fan_out'``). Chapter: *Activations and initialization*.
    """
    n_in, n_out = fans((1, 1), n_in, n_out)
    return _gain(gain) / math.sqrt(_fan(n_in, n_out, mode))


def _fan(n_in: int, n_out: int, mode: Any) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    return n_in if mode == "fan_in" else n_out


def _rng(rng: Any) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, numbers.Integral) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a numpy.random.Generator, an int seed or None, got {type(rng).__name__}")


def _dtype(dtype: Any) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    return dt


def _draw(shape, std, kind, rng, dtype) -> np.ndarray:
    g = _rng(rng)
    if kind == "normal":
        w = std * g.standard_normal(shape)
    else:
        bound = math.sqrt(3.0) * std
        w = g.uniform(-bound, bound, size=shape)
    return np.ascontiguousarray(w.astype(_dtype(dtype)))


def normal(shape: Any, std: float, *, rng: Any = None, dtype: Any = np.float64) -> np.ndarray:
    r"""Weights from :math:`\mathcal N(0, \sigma_W^2)` with a fixed :math:`\sigma_W` = ``std`` (``torch.nn.init.normal_``).

    The "too small" (e.g. 0.01) and "too large" (e.g. 1) initializations of the chapter.
    """
    std = as_scalar(std, "std", low=0.0)
    return _draw(_shape(shape), std, "normal", rng, dtype)


def xavier_uniform(shape: Any, gain: float = 1.0, *, rng: Any = None, dtype: Any = np.float64,
                   fan_in: int | None = None, fan_out: int | None = None) -> np.ndarray:
    r"""Xavier/Glorot uniform: :math:`\mathcal U(-\sqrt3\sigma_W, \sqrt3\sigma_W)`, :math:`\sigma_W` of :func:`xavier_std`.

    ``torch.nn.init.xavier_uniform_(w, gain)`` on the transposed layout (see the module
    docstring). Chapter: *Activations and initialization*.

    Parameters
    ----------
    shape : (n_in, n_out)
    gain : float >= 0
        :math:`\mathrm{gain}`.
    rng : numpy Generator, int seed or None
    dtype : float32 or float64
    fan_in, fan_out : int, optional
        Override the fans read from ``shape``.
    """
    shape = _shape(shape)
    n_in, n_out = fans(shape, fan_in, fan_out)
    return _draw(shape, xavier_std(n_in, n_out, gain), "uniform", rng, dtype)


def xavier_normal(shape: Any, gain: float = 1.0, *, rng: Any = None, dtype: Any = np.float64,
                  fan_in: int | None = None, fan_out: int | None = None) -> np.ndarray:
    r"""Xavier/Glorot normal: :math:`\mathcal N(0, \sigma_W^2)`, :math:`\sigma_W` of :func:`xavier_std` (``torch.nn.init.xavier_normal_``)."""
    shape = _shape(shape)
    n_in, n_out = fans(shape, fan_in, fan_out)
    return _draw(shape, xavier_std(n_in, n_out, gain), "normal", rng, dtype)


def _kaiming(shape, a, mode, nonlinearity, kind, rng, dtype, fan_in, fan_out, gain):
    shape = _shape(shape)
    n_in, n_out = fans(shape, fan_in, fan_out)
    if gain is None:
        gain = calculate_gain(nonlinearity, a)
    return _draw(shape, kaiming_std(n_in, n_out, gain, mode), kind, rng, dtype)


def kaiming_uniform(shape: Any, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    *, rng: Any = None, dtype: Any = np.float64, fan_in: int | None = None,
                    fan_out: int | None = None, gain: float | None = None) -> np.ndarray:
    r"""He/Kaiming uniform: :math:`\mathcal U(-\sqrt3\sigma_W, \sqrt3\sigma_W)`, :math:`\sigma_W = \mathrm{gain}/\sqrt{n}`.

    Same arguments and defaults as ``torch.nn.init.kaiming_uniform_(w, a, mode,
    nonlinearity)``: the gain is ``calculate_gain(nonlinearity, a)``, so the default (a leaky
    ReLU with slope ``a`` = 0) is :math:`\mathrm{gain} = \sqrt 2`. ``gain`` overrides it.
    Chapter: *Activations and initialization*.
    """
    return _kaiming(shape, a, mode, nonlinearity, "uniform", rng, dtype, fan_in, fan_out, gain)


def kaiming_normal(shape: Any, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                   *, rng: Any = None, dtype: Any = np.float64, fan_in: int | None = None,
                   fan_out: int | None = None, gain: float | None = None) -> np.ndarray:
    r"""He/Kaiming normal: :math:`\mathcal N(0, \mathrm{gain}^2/n)` (``torch.nn.init.kaiming_normal_``, same arguments as :func:`kaiming_uniform`)."""
    return _kaiming(shape, a, mode, nonlinearity, "normal", rng, dtype, fan_in, fan_out, gain)


#: The named initializations :class:`DeepMLP` accepts (a number is a fixed standard deviation).
INITS = ("xavier_normal", "xavier_uniform", "kaiming_normal", "kaiming_uniform")


class DeepMLP(Classifier):
    r"""A multilayer perceptron with :math:`D` hidden layers, for watching activations layer by layer.

    :math:`a^{(0)} = x`, :math:`z^{(l)} = a^{(l-1)} W^{(l)} + b^{(l)}`,
    :math:`a^{(l)} = \phi(z^{(l)})` for :math:`l = 1, \dots, D`, and the scores (logits)
    :math:`z^{(D+1)} = a^{(D)} W^{(D+1)} + b^{(D+1)}`; the loss is the mean softmax
    cross-entropy of :class:`dlnotes.training.Classifier`, so :func:`dlnotes.training.train`
    trains it. ``params = [W1, b1, ..., W_{D+1}, b_{D+1}]``.

    Initialization (biases 0):

    * a number ``init`` = :math:`\sigma_W`: every weight :math:`\sim \mathcal N(0, \sigma_W^2)`;
    * ``'xavier_normal'``, ``'xavier_uniform'``: :math:`\mathrm{gain} = 1`, ``torch.nn.init``'s default;
    * ``'kaiming_normal'``, ``'kaiming_uniform'`` (fan-in): :math:`\mathrm{gain} = \sqrt 2`,
      ``torch.nn.init``'s default (the ReLU's gain), whatever the activation;

    ``gain`` overrides :math:`\mathrm{gain}` of the hidden layers (e.g. ``calculate_gain('tanh')``). The
    output layer of a named scheme uses :math:`\mathrm{gain} = 1` (it has no nonlinearity). Chapter: *Activations and initialization* (and *The
    tuning recipe*).

    Parameters
    ----------
    n_features : int
    widths : sequence of int
        The hidden layers' widths, :math:`D` of them (may be empty: softmax regression).
    n_classes : int >= 2
        :math:`C`.
    activation : str or dlnotes.activations.Activation
        A key of :data:`dlnotes.activations.ACTIVATIONS`.
    init : str or float
    gain : float, optional
    negative_slope : float, optional
        :math:`\mathrm{slope}` for ``activation='leaky_relu'`` (default 0.01).
    seed : int
    dtype : float32 or float64
    """

    def __init__(self, n_features: int, widths: Sequence[int], n_classes: int,
                 activation: Any = "relu", init: Any = "kaiming_normal", *, gain: float | None = None,
                 negative_slope: float | None = None, seed: int = 0, dtype: Any = np.float64) -> None:
        self.n_features = _positive(n_features, "n_features")
        if isinstance(widths, (str, bytes)) or not isinstance(widths, Sequence):
            raise TypeError(f"widths must be a sequence of positive integers, got {widths!r}")
        self.widths = [_positive(w, f"widths[{i}]") for i, w in enumerate(widths)]
        self.n_classes = _positive(n_classes, "n_classes")
        if self.n_classes < 2:
            raise ValueError(f"n_classes must be >= 2, got {n_classes}")
        self.activation = act.get(activation, negative_slope)
        self.init = init
        dt = _dtype(dtype)
        rng = np.random.default_rng(seed)
        sizes = [self.n_features, *self.widths, self.n_classes]
        hidden_gain = None if gain is None else _gain(gain)
        if gain is not None and isinstance(init, numbers.Real) and not isinstance(init, bool):
            raise ValueError("gain applies to the named initializations, not to a fixed std "
                             f"init={init!r}")
        self.weights: list[np.ndarray] = []
        self.biases: list[np.ndarray] = []
        for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
            last = l == len(sizes) - 1
            self.weights.append(_init_weight((n_in, n_out), init, 1.0 if last else hidden_gain,
                                             rng, dt))
            self.biases.append(np.zeros(n_out, dt))
        self.params = [p for wb in zip(self.weights, self.biases) for p in wb]

    @property
    def depth(self) -> int:
        """:math:`D`, the number of hidden layers."""
        return len(self.widths)

    def forward(self, X: np.ndarray) -> tuple[np.ndarray, tuple]:
        """Scores of shape (N, C) and the cache ``(inputs, pre_activations)`` of every layer."""
        phi = self.activation.forward
        a, inputs, zs = X, [], []
        for l, (W, b) in enumerate(zip(self.weights, self.biases)):
            inputs.append(a)
            z = a @ W + b
            zs.append(z)
            a = z if l == len(self.weights) - 1 else phi(z)
        return a, (inputs, zs)

    def backward(self, dscores: np.ndarray, cache: tuple) -> list[np.ndarray]:
        r"""Backpropagation: the gradients of ``params`` from :math:`\partial L/\partial z^{(D+1)}`."""
        inputs, zs = cache
        dphi = self.activation.backward
        grads: list[np.ndarray] = []
        dz = dscores
        for l in range(len(self.weights) - 1, -1, -1):
            grads.append(dz.sum(axis=0))
            grads.append(inputs[l].T @ dz)
            if l:
                dz = dphi(dz @ self.weights[l].T, zs[l - 1])
        return grads[::-1]

    def layer_outputs(self, X: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
        r"""The pre-activations :math:`z^{(l)}` and activations :math:`a^{(l)}` of the hidden layers :math:`l = 1..D`."""
        _, (inputs, zs) = self.forward(self._check_X(X))
        return zs[:-1], inputs[1:]


def _positive(v: Any, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
        raise ValueError(f"{name} must be a positive integer, got {v!r}")
    return int(v)


def _init_weight(shape, init, gain, rng, dt) -> np.ndarray:
    """One weight matrix; ``gain`` None means the scheme's default."""
    if isinstance(init, numbers.Real) and not isinstance(init, bool):
        return normal(shape, float(init), rng=rng, dtype=dt)
    if init in ("xavier_normal", "xavier_uniform"):
        fn = xavier_normal if init == "xavier_normal" else xavier_uniform
        return fn(shape, 1.0 if gain is None else gain, rng=rng, dtype=dt)
    if init in ("kaiming_normal", "kaiming_uniform"):
        fn = kaiming_normal if init == "kaiming_normal" else kaiming_uniform
        return fn(shape, gain=gain, rng=rng, dtype=dt)
    raise ValueError(f"init must be a standard deviation (a number) or one of {INITS}, got {init!r}")


@dataclass(frozen=True)
class LayerStats:
    r"""What one forward and backward pass of a :class:`DeepMLP` looks like, hidden layer by hidden layer.

    Arrays have one entry per hidden layer :math:`l = 1, \dots, D` (index ``l - 1``).

    Attributes
    ----------
    activations : list of arrays of shape (N, n_l)
        :math:`a^{(l)}` (for histograms).
    act_mean, act_std : arrays of shape (D,)
        Mean and standard deviation of all entries of :math:`a^{(l)}`.
    pre_std : array of shape (D,)
        Standard deviation of :math:`z^{(l)}`.
    saturated : array of shape (D,)
        Fraction of entries with :math:`|a| > 0.99` (tanh) or :math:`a` within 0.01 of 0 or 1
        (sigmoid); 0 for other activations.
    zero : array of shape (D,)
        Fraction of entries exactly 0 (ReLU's inactive units).
    grad_norm : array of shape (D,)
        Frobenius norm of :math:`\partial L/\partial W^{(l)}`.
    act_grad_std : array of shape (D,)
        Standard deviation of :math:`\partial L/\partial a^{(l)}` times N (the per-sample
        gradient scale, independent of the batch size).
    loss : float
        The mean cross-entropy of the pass.
    """

    activations: list
    act_mean: np.ndarray
    act_std: np.ndarray
    pre_std: np.ndarray
    saturated: np.ndarray
    zero: np.ndarray
    grad_norm: np.ndarray
    act_grad_std: np.ndarray
    loss: float


def layer_statistics(model: DeepMLP, X: Any, y: Any) -> LayerStats:
    r"""Forward and backward once through ``model`` on (X, y) and summarise every hidden layer.

    Chapter: *Activations and initialization*.

    Parameters
    ----------
    model : DeepMLP
    X : array of shape (N, n_features)
    y : int array of shape (N,)

    Returns
    -------
    LayerStats
    """
    if not isinstance(model, DeepMLP):
        raise TypeError(f"model must be a DeepMLP, got {type(model).__name__}")
    Xa = model._check_X(X)
    labels = as_labels(y, "y", n=Xa.shape[0], k=model.n_classes)
    with np.errstate(over="ignore", invalid="ignore"):
        scores, (inputs, zs) = model.forward(Xa)
        if not np.all(np.isfinite(scores)):
            raise ValueError("the scores are not finite: the initialization is too large for this "
                             "depth in this dtype")
        loss = float(softmax_cross_entropy(scores, labels))
        ds = softmax_cross_entropy_grad(scores, labels).astype(scores.dtype, copy=False)
        grads = model.backward(ds, (inputs, zs))
    D = model.depth
    acts = inputs[1:]
    # dL/da^(l) = dz^(l+1) W^(l+1)^T; recompute it layer by layer from the top
    act_grads = []
    dz = ds
    for l in range(D, 0, -1):
        da = dz @ model.weights[l].T
        act_grads.append(da)
        dz = model.activation.backward(da, zs[l - 1])
    act_grads = act_grads[::-1]
    name = model.activation.name
    sat = np.zeros(D)
    for i, a in enumerate(acts):
        if name == "tanh":
            sat[i] = np.mean(np.abs(a) > 0.99)
        elif name == "sigmoid":
            sat[i] = np.mean((a < 0.01) | (a > 0.99))
    N = Xa.shape[0]
    return LayerStats(
        activations=acts,
        act_mean=np.array([a.mean() for a in acts], dtype=float),
        act_std=np.array([a.std() for a in acts], dtype=float),
        pre_std=np.array([z.std() for z in zs[:-1]], dtype=float),
        saturated=sat,
        zero=np.array([np.mean(a == 0) for a in acts], dtype=float),
        grad_norm=np.array([np.linalg.norm(grads[2 * l]) for l in range(D)], dtype=float),
        act_grad_std=np.array([N * g.std() for g in act_grads], dtype=float),
        loss=loss)
