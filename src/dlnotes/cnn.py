r"""Convolutional networks in NumPy: layers, a small CNN for the digits, and what it costs.

Taught in the chapter *Convolutional networks*; the CNN is reused by *Transfer learning*
and *Fine-tuning* (pre-trained on some digits, transferred to the others).

**Layers.** :class:`Conv2d`, :class:`ReLU`, :class:`MaxPool2d`, :class:`AvgPool2d`,
:class:`Flatten` and :class:`Linear`, each with

* ``params``: a dict of parameter arrays named as in PyTorch (``"weight"``, ``"bias"``), with
  PyTorch's shapes (``Linear.weight`` is ``(out_features, in_features)``);
* ``forward(x) -> (y, cache)`` and ``backward(dy, cache, need_dx=True) -> (dx, grads)``, where
  ``grads`` is a dict shaped like ``params``;
* ``to_torch()``: the same layer as a ``torch.nn`` module with the same weights.

**The model.** :class:`CNN` is (conv -> ReLU -> max-pool) repeated, a flatten, then a linear
classification *head*. The convolutional part is its *body*; :meth:`CNN.features` is the
body's output. It is a :class:`dlnotes.training.Classifier`, so
:func:`dlnotes.training.train` trains it with any optimizer of :mod:`dlnotes.optim`, and it
offers what transfer learning needs: a replaceable, re-initialisable head
(:meth:`CNN.replace_head`, :meth:`CNN.reset_head`), a frozen body
(:meth:`CNN.freeze_body`), parameter groups for per-group learning rates
(:meth:`CNN.param_groups` with :class:`GroupedOptimizer`), copies of its weights
(:meth:`CNN.state_dict`, :meth:`CNN.load_state_dict`, :meth:`CNN.copy`), float32 and
float64, and deterministic initialisation from a seed. :func:`class_subset` keeps some
classes of a data set and relabels them 0, 1, ...

**Receptive fields** of a stack of layers in closed form (:func:`receptive_field`) and
measured from the gradient of one output with respect to the input
(:func:`receptive_field_support`).

**Sizes of networks**: units, weights and connections of dense and convolutional layers
(:func:`dense_layer_size`, :func:`conv_layer_size`) and of whole architectures
(:func:`network_sizes` on :func:`lenet5`, :func:`alexnet`, :func:`vgg16`), checked against
the parameter counts of the same layers built with ``torch.nn`` (:func:`to_torch`).

Notation (the book's): :math:`F_{\text{in}}, F_{\text{out}}` channels, :math:`M_1 \times M_2`
the size of a feature map, :math:`K` kernel size, :math:`S` stride, :math:`E` padding,
:math:`G` dilation; :math:`z^{(l)}` and :math:`a^{(l)} = \phi(z^{(l)})` a layer's
pre-activation and activation.
"""

from __future__ import annotations

import copy as _copy
import math
import numbers
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from . import optim
from ._validation import as_float_array
from .conv import _Geometry, _backward, _forward, _int, _pair, conv1d_backward, output_size
from .datasets import Dataset
from .pooling import _avg_backward, _avg_forward, _geometry, _max_backward_local, _max_forward
from .training import Classifier

__all__ = [
    # layers
    "Layer", "Conv2d", "ReLU", "MaxPool2d", "AvgPool2d", "Flatten", "Linear",
    # the model and its training helpers
    "CNN", "GroupedOptimizer", "class_subset",
    # receptive fields
    "ReceptiveField", "receptive_field", "receptive_field_support",
    # sizes of networks
    "dense_layer_size", "conv_layer_size", "LayerSize", "network_sizes", "lenet5", "alexnet",
    "vgg16", "to_torch",
]


def _dtype(dtype: Any) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    return dt


def _rng(seed: Any) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.default_rng(int(seed))


# =============================================================================== layers

class Layer:
    """Base class of the layers: ``params`` (a dict, empty for layers without weights),
    ``forward`` and ``backward``. Geometry attributes (``kernel_size``, ``stride``,
    ``padding``, ``dilation``, pairs for rows and columns) are set by the layers that slide
    a window, for :func:`receptive_field`."""

    params: dict[str, np.ndarray]
    kernel_size: tuple[int, int] | None = None

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, Any]:
        """Output and what :meth:`backward` needs."""
        raise NotImplementedError

    def backward(self, dy: np.ndarray, cache: Any, need_dx: bool = True
                 ) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
        """Input gradient (None if not ``need_dx``) and parameter gradients (a dict like ``params``)."""
        raise NotImplementedError

    def output_shape(self, in_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of one sample's output for one sample's input shape (no batch axis)."""
        raise NotImplementedError

    def to_torch(self):
        """The same layer as a ``torch.nn`` module (with the same weights, in the same dtype)."""
        raise NotImplementedError

    def geometry(self) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int]] | None:
        """(kernel_size, stride, padding, dilation) as pairs, or None for a layer that acts on each position alone."""
        if self.kernel_size is None:
            return None
        return self.kernel_size, self.stride, self.padding, self.dilation

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _torch_param(arr: np.ndarray):
    import torch

    return torch.nn.Parameter(torch.from_numpy(arr.copy()))


class Conv2d(Layer):
    r"""A convolution layer, :math:`z = w \star x + b` over all input channels (:func:`dlnotes.conv.conv2d`).

    Initialisation (with ``seed``): :math:`w \sim \mathcal N(0, 2/n_{\text{in}})` with fan-in
    :math:`n_{\text{in}} = K_1 K_2 F_{\text{in}}/\text{groups}` (He, for a ReLU after it),
    :math:`b = 0`.

    Chapter: *Convolutional networks*.

    Parameters
    ----------
    in_channels, out_channels : int
        :math:`F_{\text{in}}`, :math:`F_{\text{out}}`.
    kernel_size : int or (int, int)
    stride, padding, dilation : int or (int, int)
    groups : int
    seed : int or numpy Generator
    dtype : float32 or float64
    method : {'im2col', 'direct'}
        The implementation of :func:`dlnotes.conv.conv2d`.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, seed: Any = 0,
                 dtype: Any = np.float64, method: str = "im2col") -> None:
        self.in_channels = _int(in_channels, "in_channels", 1)
        self.out_channels = _int(out_channels, "out_channels", 1)
        self.kernel_size = _pair(kernel_size, "kernel_size", 1)
        self.stride = _pair(stride, "stride", 1)
        self.padding = _pair(padding, "padding", 0)
        self.dilation = _pair(dilation, "dilation", 1)
        self.groups = _int(groups, "groups", 1)
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError(f"groups={self.groups} must divide in_channels={self.in_channels} "
                             f"and out_channels={self.out_channels}")
        if method not in ("im2col", "direct"):
            raise ValueError(f"method must be 'im2col' or 'direct', got {method!r}")
        self.method = method
        dt = _dtype(dtype)
        fan_in = self.kernel_size[0] * self.kernel_size[1] * self.in_channels // self.groups
        w = _rng(seed).standard_normal(
            (self.out_channels, self.in_channels // self.groups, *self.kernel_size))
        self.params = {"weight": (math.sqrt(2.0 / fan_in) * w).astype(dt),
                       "bias": np.zeros(self.out_channels, dt)}

    def _geometry(self, shape) -> _Geometry:
        cache = self.__dict__.setdefault("_geometries", {})
        if shape not in cache:
            cache[shape] = _Geometry(shape, self.params["weight"].shape, self.stride,
                                     self.padding, self.dilation, self.groups)
        return cache[shape]

    def forward(self, x):
        g = self._geometry(x.shape)
        z, cols = _forward(x, self.params["weight"], self.params["bias"], g, self.method)
        return z, (x, cols, g)

    def backward(self, dy, cache, need_dx=True):
        x, cols, g = cache
        dx, dw, db = _backward(dy, x, cols, self.params["weight"], g, self.method, need_x=need_dx)
        return dx, {"weight": dw, "bias": db}

    def output_shape(self, in_shape):
        C, M1, M2 = in_shape
        if C != self.in_channels:
            raise ValueError(f"Conv2d expects {self.in_channels} input channels, got {C}")
        return (self.out_channels,
                output_size(M1, self.kernel_size[0], self.stride[0], self.padding[0], self.dilation[0]),
                output_size(M2, self.kernel_size[1], self.stride[1], self.padding[1], self.dilation[1]))

    def to_torch(self):
        import torch

        w = self.params["weight"]
        m = torch.nn.Conv2d(self.in_channels, self.out_channels, self.kernel_size, self.stride,
                            self.padding, self.dilation, self.groups, dtype=_torch_dtype(w.dtype))
        m.weight = _torch_param(w)
        m.bias = _torch_param(self.params["bias"])
        return m

    def __repr__(self):
        return (f"Conv2d({self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}"
                + (f", groups={self.groups}" if self.groups > 1 else "") + ")")


def _torch_dtype(dt: np.dtype):
    import torch

    return torch.float64 if dt == np.float64 else torch.float32


class ReLU(Layer):
    r"""The rectifier :math:`a = \max(z, 0)`, elementwise; its derivative is taken as 0 at :math:`z = 0` (as in PyTorch)."""

    def __init__(self) -> None:
        self.params = {}

    def forward(self, x):
        return np.maximum(x, 0), x > 0

    def backward(self, dy, cache, need_dx=True):
        return (dy * cache if need_dx else None), {}

    def output_shape(self, in_shape):
        return tuple(in_shape)

    def to_torch(self):
        import torch

        return torch.nn.ReLU()


class _Pool(Layer):
    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0) -> None:
        self.kernel_size = _pair(kernel_size, "kernel_size", 1)
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride", 1)
        self.padding = _pair(padding, "padding", 0)
        self.dilation = (1, 1)
        for e, k in zip(self.padding, self.kernel_size):
            if 2 * e > k:
                raise ValueError(f"padding {self.padding} must be at most half of kernel_size "
                                 f"{self.kernel_size}, as in PyTorch")
        self.params = {}

    def _geometry(self, shape):
        cache = self.__dict__.setdefault("_geometries", {})
        if shape not in cache:
            cache[shape] = _geometry(shape, self.kernel_size, self.stride, self.padding,
                                     self.dilation)
        return cache[shape]

    def output_shape(self, in_shape):
        C, M1, M2 = in_shape
        return (C, output_size(M1, self.kernel_size[0], self.stride[0], self.padding[0]),
                output_size(M2, self.kernel_size[1], self.stride[1], self.padding[1]))

    def __repr__(self):
        return (f"{type(self).__name__}(kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding})")


class MaxPool2d(_Pool):
    """Max pooling (:func:`dlnotes.pooling.max_pool2d`); the gradient goes to the first maximum of each window, as in PyTorch."""

    def forward(self, x):
        g = self._geometry(x.shape)
        z, k = _max_forward(x, g)
        return z, (k, g)

    def backward(self, dy, cache, need_dx=True):
        k, g = cache
        return (_max_backward_local(dy, k, g) if need_dx else None), {}

    def to_torch(self):
        import torch

        return torch.nn.MaxPool2d(self.kernel_size, self.stride, self.padding)


class AvgPool2d(_Pool):
    """Average pooling (:func:`dlnotes.pooling.avg_pool2d`, padding counted in the divisor as in PyTorch's default)."""

    def forward(self, x):
        g = self._geometry(x.shape)
        return _avg_forward(x, g, True), g

    def backward(self, dy, cache, need_dx=True):
        return (_avg_backward(dy, cache, True) if need_dx else None), {}

    def to_torch(self):
        import torch

        return torch.nn.AvgPool2d(self.kernel_size, self.stride, self.padding)


class Flatten(Layer):
    """Reshape (N, C, M1, M2) to (N, C M1 M2), in C order (as ``torch.nn.Flatten``)."""

    def __init__(self) -> None:
        self.params = {}

    def forward(self, x):
        return x.reshape(x.shape[0], -1), x.shape

    def backward(self, dy, cache, need_dx=True):
        return (dy.reshape(cache) if need_dx else None), {}

    def output_shape(self, in_shape):
        return (int(np.prod(in_shape)),)

    def to_torch(self):
        import torch

        return torch.nn.Flatten()


class Linear(Layer):
    r"""A fully connected layer, :math:`z = a W^\top + b`, with PyTorch's ``weight`` of shape (out, in).

    Initialisation (with ``seed``): :math:`W \sim \mathcal N(0, g/n_{\text{in}})`, with gain
    :math:`g` = ``gain`` (1 for a classification head, as in :class:`dlnotes.training.MLP`;
    2 before a ReLU), :math:`b = 0`.

    Chapter: *Convolutional networks*.
    """

    def __init__(self, in_features: int, out_features: int, seed: Any = 0,
                 dtype: Any = np.float64, gain: float = 1.0) -> None:
        self.in_features = _int(in_features, "in_features", 1)
        self.out_features = _int(out_features, "out_features", 1)
        dt = _dtype(dtype)
        w = _rng(seed).standard_normal((self.out_features, self.in_features))
        self.params = {"weight": (math.sqrt(gain / self.in_features) * w).astype(dt),
                       "bias": np.zeros(self.out_features, dt)}

    def forward(self, x):
        return x @ self.params["weight"].T + self.params["bias"], x

    def backward(self, dy, cache, need_dx=True):
        x = cache
        grads = {"weight": dy.T @ x, "bias": dy.sum(axis=0)}
        return (dy @ self.params["weight"] if need_dx else None), grads

    def output_shape(self, in_shape):
        if tuple(in_shape) != (self.in_features,):
            raise ValueError(f"Linear expects ({self.in_features},) inputs, got {tuple(in_shape)}")
        return (self.out_features,)

    def to_torch(self):
        import torch

        w = self.params["weight"]
        m = torch.nn.Linear(self.in_features, self.out_features, dtype=_torch_dtype(w.dtype))
        m.weight = _torch_param(w)
        m.bias = _torch_param(self.params["bias"])
        return m

    def __repr__(self):
        return f"Linear({self.in_features}, {self.out_features})"


# =============================================================================== the CNN

class CNN(Classifier):
    r"""A small convolutional network: (conv -> ReLU -> max-pool) per entry of ``channels``, then a linear head.

    For the digits (``in_shape=(1, 8, 8)``, the default, ``channels=(8, 16)``)::

        x (1x8x8) -> Conv2d(1, 8, 3, padding=1) -> ReLU -> MaxPool2d(2)   -> 8x4x4
                  -> Conv2d(8, 16, 3, padding=1) -> ReLU -> MaxPool2d(2)  -> 16x2x2
                  -> Flatten -> 64 features                               (the body)
                  -> Linear(64, n_classes) -> scores z                    (the head)

    with :math:`a^{(l)} = \max(z^{(l)}, 0)` after each convolution. It minimises the mean
    softmax cross-entropy like every :class:`dlnotes.training.Classifier`, and trains with
    :func:`dlnotes.training.train` and any optimizer of :mod:`dlnotes.optim` built on
    ``model.params``.

    Chapters: *Convolutional networks* (trained on the digits, compared with an MLP);
    *Transfer learning* (pre-trained on some classes, transferred).

    **Inputs.** ``X`` of shape ``(N, C * M1 * M2)`` (a flat row per image, as
    :func:`dlnotes.datasets.digits` gives them) or ``(N, C, M1, M2)``; either is reshaped to
    NCHW and cast to the model's dtype.

    **Parameters.** ``params`` is the list of *trainable* arrays, in PyTorch's order
    (``body.0.weight, body.0.bias, body.3.weight, ..., head.weight, head.bias``); the
    optimizer updates them in place. :meth:`named_params` names all of them,
    :meth:`param_groups` splits them into ``"body"`` and ``"head"``.

    **Reuse.**

    * :meth:`features` gives the body's output, shape (N, ``n_body_features``);
    * :meth:`replace_head` puts a new, freshly initialised head with any number of classes on
      the body; :meth:`reset_head` re-initialises the current one;
    * :meth:`freeze_body` makes ``params`` the head's only: the body is no longer updated,
      and the backward pass stops at the head (cheaper). Build the optimizer *after*
      freezing or unfreezing, on the new ``model.params``;
    * for per-group learning rates, build :class:`GroupedOptimizer` from one optimizer per
      entry of :meth:`param_groups`;
    * :meth:`state_dict` / :meth:`load_state_dict` copy weights between models (names as in
      PyTorch; :meth:`to_torch` gives the equivalent ``torch.nn.Sequential``);
      :meth:`copy` clones the model.

    **Determinism.** The body's weights come from ``seed``; the head's from ``head_seed``
    (default ``seed + 1``), so a new head can be drawn without touching the body.

    Parameters
    ----------
    in_shape : (C, M1, M2)
        One input's channels, rows and columns.
    n_classes : int >= 2
        :math:`C`, the number of classes (outputs of the head).
    channels : sequence of int
        Output channels of each convolution, e.g. ``(8, 16)``.
    kernel_size : int
        :math:`K` of every convolution.
    padding : int, optional
        :math:`E` of every convolution; default ``kernel_size // 2`` (the size is kept).
    pool : int
        Window and stride of every max-pool; 1 for no pooling.
    seed, head_seed : int
    dtype : float32 or float64
    method : {'im2col', 'direct'}
        The convolution's implementation (:func:`dlnotes.conv.conv2d`).
    """

    def __init__(self, in_shape: Sequence[int] = (1, 8, 8), n_classes: int = 10,
                 channels: Sequence[int] = (8, 16), kernel_size: int = 3,
                 padding: int | None = None, pool: int = 2, seed: int = 0,
                 head_seed: int | None = None, dtype: Any = np.float64,
                 method: str = "im2col") -> None:
        if len(in_shape) != 3:
            raise ValueError(f"in_shape must be (channels, rows, columns), got {in_shape!r}")
        self.in_shape = tuple(_int(v, "in_shape", 1) for v in in_shape)
        self.n_features = int(np.prod(self.in_shape))
        self.dtype = _dtype(dtype)
        if isinstance(channels, (str, bytes)) or not isinstance(channels, Sequence) or not channels:
            raise ValueError(f"channels must be a non-empty sequence of positive integers, got {channels!r}")
        K = _int(kernel_size, "kernel_size", 1)
        E = K // 2 if padding is None else _int(padding, "padding", 0)
        pool = _int(pool, "pool", 1)
        rng = _rng(seed)
        self.seed = int(seed)
        layers: list[Layer] = []
        shape = self.in_shape
        for i, c in enumerate(channels):
            conv = Conv2d(shape[0], _int(c, f"channels[{i}]", 1), K, padding=E, seed=rng,
                          dtype=self.dtype, method=method)
            layers += [conv, ReLU()]
            if pool > 1:
                layers.append(MaxPool2d(pool))
            for layer in layers[-3 if pool > 1 else -2:]:
                shape = layer.output_shape(shape)
        layers.append(Flatten())
        self.body = layers
        self.body_shape = shape
        self.n_body_features = int(np.prod(shape))
        self._frozen = False
        self.replace_head(n_classes, seed=int(seed) + 1 if head_seed is None else head_seed)

    # ------------------------------------------------------------------ parameters
    def _named(self, body: bool = True, head: bool = True) -> dict[str, np.ndarray]:
        out = {}
        if body:
            for i, layer in enumerate(self.body):
                for k, v in layer.params.items():
                    out[f"body.{i}.{k}"] = v
        if head:
            for k, v in self.head.params.items():
                out[f"head.{k}"] = v
        return out

    def named_params(self) -> dict[str, np.ndarray]:
        """Every parameter array by its PyTorch name (``"body.0.weight"``, ..., ``"head.bias"``), frozen or not."""
        return self._named()

    def param_groups(self) -> dict[str, list[np.ndarray]]:
        """``{"body": [...], "head": [...]}``: the parameter arrays of each part, in order."""
        return {"body": list(self._named(head=False).values()),
                "head": list(self._named(body=False).values())}

    def _refresh_params(self) -> None:
        self.params = list(self._named(body=not self._frozen).values())

    @property
    def frozen(self) -> bool:
        """True while the body is frozen (``params`` is the head's only)."""
        return self._frozen

    def freeze_body(self) -> "CNN":
        """Stop training the body: ``params`` becomes the head's parameters. Returns the model."""
        self._frozen = True
        self._refresh_params()
        return self

    def unfreeze_body(self) -> "CNN":
        """Train everything again: ``params`` is every parameter. Returns the model."""
        self._frozen = False
        self._refresh_params()
        return self

    def replace_head(self, n_classes: int, seed: int | None = None) -> "CNN":
        """Put a new linear head with ``n_classes`` outputs on the body, initialised from ``seed``.

        ``seed`` defaults to the current ``head_seed``. The body is untouched; ``params`` is
        rebuilt (build a new optimizer on it). Returns the model.
        """
        n = _int(n_classes, "n_classes", 2)
        self.head_seed = getattr(self, "head_seed", 0) if seed is None else seed
        self.head = Linear(self.n_body_features, n, seed=self.head_seed, dtype=self.dtype)
        self.n_classes = n
        self._refresh_params()
        return self

    def reset_head(self, seed: int | None = None) -> "CNN":
        """Re-initialise the head (same number of classes) from ``seed`` (default ``head_seed``)."""
        return self.replace_head(self.n_classes, seed)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter array, by PyTorch name."""
        return {k: v.copy() for k, v in self._named().items()}

    def load_state_dict(self, state: Mapping[str, Any], body_only: bool = False,
                        strict: bool = True) -> "CNN":
        """Copy weights into this model's arrays, in place (so optimizers built on ``params`` keep working).

        Parameters
        ----------
        state : mapping of name to array
            As from :meth:`state_dict` (or a PyTorch ``state_dict`` of :meth:`to_torch`,
            converted with ``.numpy()``).
        body_only : bool
            Load the body's arrays and ignore the head's (for a model with a different
            number of classes).
        strict : bool
            If True (the default), ``state`` must name exactly the arrays being loaded; if
            False, the arrays it names are loaded and the others keep their values (e.g.
            ``{"head.weight": W, "head.bias": b}`` sets the head only). Shapes must match
            either way.
        """
        mine = self._named(head=not body_only)
        wanted = {k for k in state if not (body_only and k.startswith("head."))}
        if strict and set(mine) != wanted:
            missing, extra = sorted(set(mine) - wanted), sorted(wanted - set(mine))
            raise ValueError(f"state does not match the model: missing {missing}, unexpected {extra}")
        if not strict:
            unknown = sorted(wanted - set(mine))
            if unknown:
                raise ValueError(f"state names arrays the model does not have: {unknown}")
        for k, dst in mine.items():
            if k not in wanted:
                continue
            src = np.asarray(state[k])
            if src.shape != dst.shape:
                raise ValueError(f"{k} has shape {src.shape} in state but {dst.shape} in the model")
            np.copyto(dst, src.astype(dst.dtype, copy=False))
        return self

    def copy(self) -> "CNN":
        """An independent copy: same architecture, weights, head and frozen state."""
        return _copy.deepcopy(self)

    @property
    def n_params(self) -> int:
        """Number of parameters of the whole model (body and head, frozen or not)."""
        return int(sum(p.size for p in self._named().values()))

    @property
    def n_trainable(self) -> int:
        """Number of parameters in ``params`` (the head's only while the body is frozen)."""
        return int(sum(p.size for p in self.params))

    # ------------------------------------------------------------------ computation
    def _check_X(self, X: Any) -> np.ndarray:
        arr = np.asarray(X) if isinstance(X, np.ndarray) else X
        if isinstance(arr, np.ndarray) and arr.ndim == 4:
            if arr.shape[1:] != self.in_shape:
                raise ValueError(f"X must have shape (N, {', '.join(map(str, self.in_shape))}) or "
                                 f"(N, {self.n_features}), got {arr.shape}")
            if arr.dtype == self.dtype and np.isfinite(arr).all():
                return arr
            return as_float_array(arr, "X").astype(self.dtype)
        Xa = as_float_array(X, "X", ndim=(2, 4))
        if Xa.ndim == 4 or Xa.shape[1] != self.n_features:
            raise ValueError(f"X must have shape (N, {', '.join(map(str, self.in_shape))}) or "
                             f"(N, {self.n_features}), got {Xa.shape}")
        return Xa.reshape(-1, *self.in_shape).astype(self.dtype)

    def _body_forward(self, X: np.ndarray) -> tuple[np.ndarray, list]:
        caches = []
        a = X
        for layer in self.body:
            a, c = layer.forward(a)
            caches.append(c)
        return a, caches

    def forward(self, X: np.ndarray) -> tuple[np.ndarray, tuple]:
        """Scores of shape (N, C) and the cache for :meth:`backward`; ``X`` already in NCHW (see ``_check_X``)."""
        feats, caches = self._body_forward(X)
        z, head_cache = self.head.forward(feats)
        return z, (caches, head_cache)

    def _backward(self, dscores: np.ndarray, cache: tuple, need_input: bool):
        caches, head_cache = cache
        into_body = need_input or not self._frozen
        da, head_grads = self.head.backward(dscores, head_cache, need_dx=into_body)
        body_grads: list[dict] = [dict() for _ in self.body]
        if into_body:
            for i in range(len(self.body) - 1, -1, -1):
                need_dx = need_input or i > 0
                da, body_grads[i] = self.body[i].backward(da, caches[i], need_dx=need_dx)
        grads = []
        if not self._frozen:
            for layer, g in zip(self.body, body_grads):
                grads += [g[k] for k in layer.params]
        grads += [head_grads[k] for k in self.head.params]
        return grads, (da if need_input else None)

    def backward(self, dscores: np.ndarray, cache: tuple) -> list[np.ndarray]:
        r"""Backpropagation: gradients of ``params`` (in order) from :math:`\partial L/\partial z` of shape (N, C)."""
        return self._backward(dscores, cache, need_input=False)[0]

    def input_gradient(self, X: Any, dscores: Any) -> np.ndarray:
        r"""The gradient with respect to the input, :math:`\partial L/\partial x`, for a given :math:`\partial L/\partial z`; shape (N, C, M1, M2).

        With a one-hot ``dscores`` this is the gradient of one score with respect to the
        image (a saliency map; its support lies inside the score's receptive field).
        """
        Xa = self._check_X(X)
        z, cache = self.forward(Xa)
        ds = as_float_array(dscores, "dscores").astype(self.dtype)
        if ds.shape != z.shape:
            raise ValueError(f"dscores must have the scores' shape {z.shape}, got {ds.shape}")
        return self._backward(ds, cache, need_input=True)[1]

    def features(self, X: Any) -> np.ndarray:
        """The body's output (after the last pooling, flattened): shape (N, ``n_body_features``)."""
        return self._body_forward(self._check_X(X))[0]

    def receptive_fields(self) -> list["ReceptiveField"]:
        """Receptive field, along the rows, of a unit after each layer of the body (:func:`receptive_field`)."""
        geo = [layer.geometry() for layer in self.body]
        return receptive_field([(k[0], s[0], e[0], d[0]) for k, s, e, d in (x for x in geo if x)])

    def sizes(self) -> list["LayerSize"]:
        """Units, weights and connections (multiply-adds per sample) of every layer with a window or weights (:func:`network_sizes`)."""
        spec: list[tuple] = []
        for i, layer in enumerate(self.body):
            if isinstance(layer, Conv2d):
                spec.append(("conv", f"body.{i}", layer.out_channels, layer.kernel_size[0],
                             layer.stride[0], layer.padding[0], layer.groups))
            elif isinstance(layer, _Pool):
                spec.append(("pool", f"body.{i}", layer.kernel_size[0], layer.stride[0]))
        spec.append(("fc", "head", self.n_classes))
        return network_sizes(spec, self.in_shape)

    def summary(self) -> list[tuple[str, tuple[int, ...], int]]:
        """(layer, output shape of one sample, number of parameters) for every layer."""
        rows, shape = [], self.in_shape
        for layer in [*self.body, self.head]:
            shape = layer.output_shape(shape)
            rows.append((repr(layer), shape, int(sum(p.size for p in layer.params.values()))))
        return rows

    def to_torch(self):
        """The same network as ``torch.nn.Sequential(body=Sequential(...), head=Linear)`` with copies of the weights."""
        import torch

        return torch.nn.Sequential(__import__("collections").OrderedDict(
            body=torch.nn.Sequential(*[layer.to_torch() for layer in self.body]),
            head=self.head.to_torch()))

    def __repr__(self) -> str:
        parts = " -> ".join(repr(layer) for layer in [*self.body, self.head])
        return f"CNN({parts}; {self.n_params} parameters{', body frozen' if self._frozen else ''})"


class GroupedOptimizer(optim.Optimizer):
    r"""Several optimizers stepped as one: a learning rate (or a whole rule) per group of parameters.

    ``GroupedOptimizer([optim.SGD(model.param_groups()["body"], lr=1e-3),
    optim.SGD(model.param_groups()["head"], lr=1e-2)])`` trains the body ten times slower
    than the head. ``params`` is the groups' parameters in order and ``step(grads)`` hands
    each optimizer its share, so :func:`dlnotes.training.train` accepts it when the groups
    together are ``model.params``.

    ``lr`` is the first group's rate. Setting it (as a schedule does) rescales every group by
    the same factor, so the ratios between the groups stay as built.

    Chapter: *Fine-tuning: why a smaller learning rate?* (a smaller rate for the pre-trained
    body).
    """

    def __init__(self, optimizers: Sequence[optim.Optimizer]) -> None:
        opts = list(optimizers)
        if not opts or not all(isinstance(o, optim.Optimizer) for o in opts):
            raise TypeError("optimizers must be a non-empty list of dlnotes.optim optimizers")
        if opts[0].lr <= 0:
            raise ValueError("the first group's lr must be > 0 (it is the reference rate)")
        self.optimizers = opts
        self.params = [p for o in opts for p in o.params]
        if len({id(p) for p in self.params}) != len(self.params):
            raise ValueError("a parameter array appears in more than one group")
        self._base = [o.lr for o in opts]
        self._lr = opts[0].lr
        self.t = 0
        self.state = [s for o in opts for s in o.state]

    @property
    def lr(self) -> float:
        """The first group's learning rate; setting it rescales every group alike."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        value = optim._lr(value)
        for o, base in zip(self.optimizers, self._base):
            o.lr = base * value / self._base[0]
        self._lr = value

    def step(self, grads: Any) -> None:
        """One step of every group's optimizer, each with its slice of ``grads`` (ordered as ``params``)."""
        grads = list(grads) if isinstance(grads, (list, tuple)) else [grads]
        if len(grads) != len(self.params):
            raise ValueError(f"grads must hold one array per parameter array: expected "
                             f"{len(self.params)}, got {len(grads)}")
        i = 0
        for o in self.optimizers:
            o.step(grads[i:i + len(o.params)])
            i += len(o.params)
        self.t += 1

    @property
    def _kernel(self):  # pragma: no cover - the groups' optimizers do the work
        raise NotImplementedError

    def _hyper_repr(self) -> str:
        return "; ".join(repr(o) for o in self.optimizers)


def class_subset(data: Dataset, classes: Iterable[int]) -> Dataset:
    """The samples of some classes only, relabelled 0, 1, ... in the order given.

    ``class_subset(digits(), [5, 6, 7, 8, 9])`` keeps the digits 5-9 with labels 0-4 (5 -> 0,
    ..., 9 -> 4), for a model with a 5-class head. The features are unchanged (standardised
    with the full training set's statistics, as :func:`dlnotes.datasets.digits` does).

    Chapter: *Transfer learning*.
    """
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be a dlnotes.datasets.Dataset, got {type(data).__name__}")
    cls = [int(c) for c in classes]
    if len(cls) < 2 or len(set(cls)) != len(cls):
        raise ValueError(f"classes must hold at least two distinct labels, got {cls}")
    known = set(np.unique(data.y_train).tolist())
    if not set(cls) <= known:
        raise ValueError(f"classes {sorted(set(cls) - known)} do not occur in data.y_train")
    relabel = {c: i for i, c in enumerate(cls)}

    def pick(X, y):
        keep = np.isin(y, cls)
        return X[keep], np.array([relabel[int(v)] for v in y[keep]], dtype=np.int64)

    Xt, yt = pick(data.X_train, data.y_train)
    Xv, yv = pick(data.X_val, data.y_val)
    return Dataset(Xt, yt, Xv, yv, data.feature_names,
                   f"{data.description}; classes {cls} relabelled 0..{len(cls) - 1}")


# =============================================================================== receptive fields

@dataclass(frozen=True)
class ReceptiveField:
    r"""Where a unit after some layers looks in the input, along one axis.

    Unit :math:`j` (from 0) sees the input positions ``start + j * jump`` to
    ``start + j * jump + size - 1`` (positions below 0 or beyond the input are padding).

    Attributes
    ----------
    size : int
        The extent :math:`1 + \sum_l G_l (K_l - 1) \prod_{l' < l} S_{l'}` (dilated or strided
        layers can leave holes inside it: input positions the unit does not read).
    jump : int
        :math:`\prod_l S_l`, the input distance between neighbouring units.
    start : int
        :math:`-\sum_l E_l \prod_{l' < l} S_{l'}`, where unit 0's field begins.
    """

    size: int
    jump: int
    start: int

    def interval(self, j: int) -> tuple[int, int]:
        """First and last input position (inclusive) of unit ``j``'s field."""
        lo = self.start + int(j) * self.jump
        return lo, lo + self.size - 1


def _layer_geometry(layer: Any, i: int) -> tuple[int, int, int, int]:
    if isinstance(layer, Layer):
        geo = layer.geometry()
        if geo is None:
            raise ValueError(f"layers[{i}] ({layer!r}) has no window; leave it out")
        return geo[0][0], geo[1][0], geo[2][0], geo[3][0]
    if isinstance(layer, Mapping):
        return (_int(layer.get("kernel_size"), f"layers[{i}]['kernel_size']", 1),
                _int(layer.get("stride", 1), f"layers[{i}]['stride']", 1),
                _int(layer.get("padding", 0), f"layers[{i}]['padding']", 0),
                _int(layer.get("dilation", 1), f"layers[{i}]['dilation']", 1))
    if isinstance(layer, (tuple, list)) and 1 <= len(layer) <= 4:
        vals = list(layer) + [1, 0, 1][len(layer) - 1:]
        return (_int(vals[0], f"layers[{i}] kernel_size", 1), _int(vals[1], f"layers[{i}] stride", 1),
                _int(vals[2], f"layers[{i}] padding", 0), _int(vals[3], f"layers[{i}] dilation", 1))
    raise TypeError(f"layers[{i}] must be (kernel_size, stride, padding, dilation), a dict with "
                    f"those keys, or a dlnotes.cnn layer; got {layer!r}")


def receptive_field(layers: Sequence[Any]) -> list[ReceptiveField]:
    r"""Receptive field after each layer of a stack, along one axis, in closed form.

    Layer :math:`l` reads, for its output :math:`j`, its inputs :math:`S_l j + G_l k - E_l`,
    :math:`k = 0, \dots, K_l - 1`. Composing these maps from the input up gives, after layer
    :math:`l`,

    .. math::
       \text{size}_l = \text{size}_{l-1} + G_l (K_l - 1)\,\text{jump}_{l-1}, \quad
       \text{jump}_l = S_l\,\text{jump}_{l-1}, \quad
       \text{start}_l = \text{start}_{l-1} - E_l\,\text{jump}_{l-1},

    from :math:`(1, 1, 0)` for the input itself. Pooling layers count like convolutions
    (kernel = window); elementwise layers (ReLU) do not change the field.

    Chapter: *Convolutional networks*.

    Parameters
    ----------
    layers : sequence
        Each ``(kernel_size, stride, padding, dilation)`` (trailing entries may be left out:
        stride 1, padding 0, dilation 1), a dict with those keys, or a layer of this module
        (its row geometry).

    Returns
    -------
    list of :class:`ReceptiveField`, one per layer.
    """
    if isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence) or not layers:
        raise ValueError("layers must be a non-empty sequence of layer geometries")
    size, jump, start = 1, 1, 0
    out = []
    for i, layer in enumerate(layers):
        K, S, E, G = _layer_geometry(layer, i)
        size += G * (K - 1) * jump
        start -= E * jump
        jump *= S
        out.append(ReceptiveField(size, jump, start))
    return out


def receptive_field_support(layers: Sequence[Any], size: int, unit: int) -> np.ndarray:
    r"""Measured receptive field: the input positions where the gradient of one output is nonzero.

    Runs the stack (one axis, one channel) with every kernel entry equal to 1, so no terms can
    cancel, and backpropagates :math:`\partial z_{\text{unit}}/\partial x` with
    :func:`dlnotes.conv.conv1d_backward` layer by layer. The result is independent of
    :func:`receptive_field`'s formula; the two must agree on the field's first and last
    position (clipped to the input).

    Chapter: *Convolutional networks*.

    Parameters
    ----------
    layers : sequence
        As for :func:`receptive_field`.
    size : int
        Length of the input.
    unit : int
        Index of the output unit of the last layer.

    Returns
    -------
    bool array of shape (size,): True where the unit's gradient is nonzero.
    """
    geo = [_layer_geometry(layer, i) for i, layer in enumerate(layers)]
    M = _int(size, "size", 1)
    lengths = [M]
    for K, S, E, G in geo:
        lengths.append(output_size(lengths[-1], K, S, E, G))
    j = _int(unit, "unit", 0)
    if j >= lengths[-1]:
        raise ValueError(f"unit must be < {lengths[-1]}, the number of outputs of the last layer")
    dz = np.zeros((1, 1, lengths[-1]))
    dz[0, 0, j] = 1.0
    for (K, S, E, G), m in zip(reversed(geo), reversed(lengths[:-1])):
        dz = conv1d_backward(dz, np.zeros((1, 1, m)), np.ones((1, 1, K)), stride=S, padding=E,
                             dilation=G)[0]
    return dz[0, 0] > 0


# =============================================================================== sizes of networks

def dense_layer_size(M1: int, M2: int, F_in: int, F_out: int) -> dict[str, int]:
    r"""Units, weights and connections of a fully connected layer from :math:`M_1 \times M_2 \times F_{\text{in}}` to :math:`M_1 \times M_2 \times F_{\text{out}}`.

    Every one of the :math:`M_1 M_2 F_{\text{out}}` outputs is connected to every one of the
    :math:`M_1 M_2 F_{\text{in}}` inputs with its own weight:
    :math:`M_1^2 M_2^2 F_{\text{in}} F_{\text{out}}` weights and as many connections
    (multiply-adds per sample). Biases are left out, as in the notes' table (they add one per
    output).

    Chapter: *Convolutional networks*.
    """
    M1, M2 = _int(M1, "M1", 1), _int(M2, "M2", 1)
    F_in, F_out = _int(F_in, "F_in", 1), _int(F_out, "F_out", 1)
    units = M1 * M2 * F_out
    weights = (M1 * M2 * F_in) * units
    return {"units": units, "weights": weights, "connections": weights}


def conv_layer_size(M1: int, M2: int, F_in: int, F_out: int, K: int) -> dict[str, int]:
    r"""Units, weights and connections of a :math:`K \times K` convolution that keeps the size (stride 1, padding :math:`(K-1)/2`).

    :math:`M_1 M_2 F_{\text{out}}` outputs, each connected to the :math:`K^2 F_{\text{in}}`
    inputs of its receptive field: :math:`M_1 M_2 K^2 F_{\text{in}} F_{\text{out}}`
    connections, but the kernels are shared by all positions, so only
    :math:`K^2 F_{\text{in}} F_{\text{out}}` weights (biases left out). Near the border some
    connections meet the padding; they are counted, as multiply-adds with zero.

    Chapter: *Convolutional networks*.
    """
    M1, M2 = _int(M1, "M1", 1), _int(M2, "M2", 1)
    F_in, F_out, K = _int(F_in, "F_in", 1), _int(F_out, "F_out", 1), _int(K, "K", 1)
    units = M1 * M2 * F_out
    return {"units": units, "weights": K * K * F_in * F_out, "connections": units * K * K * F_in}


@dataclass(frozen=True)
class LayerSize:
    """One row of :func:`network_sizes`.

    Attributes
    ----------
    name : str
    kind : {'conv', 'pool', 'fc'}
    output_shape : tuple
        (F, M1, M2) or (n,).
    units : int
        Outputs of the layer for one sample (what backpropagation stores).
    weights : int
        Parameters, biases included (what is stored and updated).
    connections : int
        Multiply-adds for one sample's forward pass (units times fan-in); 0 for pooling,
        which has no weights.
    """

    name: str
    kind: str
    output_shape: tuple[int, ...]
    units: int
    weights: int
    connections: int


def network_sizes(spec: Sequence[tuple], input_shape: Sequence[int]) -> list[LayerSize]:
    r"""Units, weights (with biases) and connections of every layer of an architecture.

    Chapter: *Convolutional networks* (LeNet-5, AlexNet, VGG-16).

    Parameters
    ----------
    spec : sequence of tuples
        ``("conv", name, F_out, K, stride, padding, groups)``, ``("pool", name, K, stride)``
        or ``("fc", name, n_out)``; a dense layer after a convolutional one flattens it.
    input_shape : (F, M1, M2)

    Returns
    -------
    list of :class:`LayerSize`.
    """
    shape = tuple(int(v) for v in input_shape)
    rows = []
    for item in spec:
        kind, name, *args = item
        if kind == "conv":
            F_out, K, S, E, groups = args
            F_in, M1, M2 = shape
            if F_in % groups or F_out % groups:
                raise ValueError(f"{name}: groups={groups} must divide {F_in} and {F_out}")
            shape = (F_out, output_size(M1, K, S, E), output_size(M2, K, S, E))
            units = int(np.prod(shape))
            fan_in = K * K * F_in // groups
            rows.append(LayerSize(name, kind, shape, units, F_out * fan_in + F_out, units * fan_in))
        elif kind == "pool":
            K, S = args
            F_in, M1, M2 = shape
            shape = (F_in, output_size(M1, K, S), output_size(M2, K, S))
            rows.append(LayerSize(name, kind, shape, int(np.prod(shape)), 0, 0))
        elif kind == "fc":
            (n_out,) = args
            n_in = int(np.prod(shape))
            shape = (int(n_out),)
            rows.append(LayerSize(name, kind, shape, n_out, n_in * n_out + n_out, n_in * n_out))
        else:
            raise ValueError(f"unknown layer kind {kind!r} in {item!r}")
    return rows


def lenet5() -> tuple[tuple[int, int, int], list[tuple]]:
    """LeNet-5 (LeCun et al. 1998) as ``(input_shape, spec)`` for :func:`network_sizes`.

    The common modern form: C3 connected to all six maps of S2 (the paper connects each of
    its 16 maps to 3-6 of them, 1,516 weights instead of 2,416), parameter-free 2x2 pooling
    (the paper's subsampling layers have a trainable coefficient and bias per map) and a
    linear output layer (the paper's uses radial basis functions).
    """
    return (1, 32, 32), [
        ("conv", "C1", 6, 5, 1, 0, 1), ("pool", "S2", 2, 2),
        ("conv", "C3", 16, 5, 1, 0, 1), ("pool", "S4", 2, 2),
        ("conv", "C5", 120, 5, 1, 0, 1), ("fc", "F6", 84), ("fc", "output", 10)]


def alexnet() -> tuple[tuple[int, int, int], list[tuple]]:
    """AlexNet (Krizhevsky et al. 2012) as ``(input_shape, spec)``, with the paper's two-GPU
    split: conv2, conv4 and conv5 are grouped convolutions (``groups=2``). The input is
    227x227 (the paper says 224, but its 55x55 first layer needs 227)."""
    return (3, 227, 227), [
        ("conv", "conv1", 96, 11, 4, 0, 1), ("pool", "pool1", 3, 2),
        ("conv", "conv2", 256, 5, 1, 2, 2), ("pool", "pool2", 3, 2),
        ("conv", "conv3", 384, 3, 1, 1, 1), ("conv", "conv4", 384, 3, 1, 1, 2),
        ("conv", "conv5", 256, 3, 1, 1, 2), ("pool", "pool5", 3, 2),
        ("fc", "fc6", 4096), ("fc", "fc7", 4096), ("fc", "fc8", 1000)]


def vgg16() -> tuple[tuple[int, int, int], list[tuple]]:
    """VGG-16 (Simonyan and Zisserman 2015, configuration D) as ``(input_shape, spec)``."""
    spec: list[tuple] = []
    blocks = [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]
    for b, (F, n) in enumerate(blocks, 1):
        spec += [("conv", f"conv{b}_{i}", F, 3, 1, 1, 1) for i in range(1, n + 1)]
        spec.append(("pool", f"pool{b}", 2, 2))
    spec += [("fc", "fc6", 4096), ("fc", "fc7", 4096), ("fc", "fc8", 1000)]
    return (3, 224, 224), spec


def to_torch(spec: Sequence[tuple], input_shape: Sequence[int], device: str = "meta"):
    """The architecture as a ``torch.nn.Sequential`` (ReLUs left out: they have no weights).

    ``device="meta"`` builds the layers without allocating or initialising their weights,
    so even VGG-16's 138 million parameters cost nothing; ``sum(p.numel() for p in
    model.parameters())`` is then PyTorch's own parameter count.

    Chapter: *Convolutional networks* (the sizes of LeNet-5, AlexNet and VGG-16).
    """
    import torch

    layers = []
    shape = tuple(int(v) for v in input_shape)
    flat = False
    for kind, name, *args in spec:
        if kind == "conv":
            F_out, K, S, E, groups = args
            layers.append(torch.nn.Conv2d(shape[0], F_out, K, S, E, groups=groups, device=device))
            shape = (F_out, output_size(shape[1], K, S, E), output_size(shape[2], K, S, E))
        elif kind == "pool":
            K, S = args
            layers.append(torch.nn.MaxPool2d(K, S))
            shape = (shape[0], output_size(shape[1], K, S), output_size(shape[2], K, S))
        else:
            (n_out,) = args
            if not flat:
                layers.append(torch.nn.Flatten())
                flat = True
            layers.append(torch.nn.Linear(int(np.prod(shape)), n_out, device=device))
            shape = (n_out,)
    return torch.nn.Sequential(*layers)
