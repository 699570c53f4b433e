r"""Activation functions, forward and backward, in float32 and float64.

Taught in the chapter *Activations and initialization*.

Each activation :math:`\phi` acts elementwise on a pre-activation :math:`z` and comes as a
pair of small pure functions, CS231n style:

* ``phi(z) -> a``: the activation :math:`a = \phi(z)`;
* ``phi_backward(da, z) -> dz``: the gradient :math:`\partial L/\partial z = \phi'(z)\,
  \partial L/\partial a` from the upstream gradient ``da`` (the chain rule for an
  elementwise function).

* ``sigmoid``: :math:`\sigma(z) = 1/(1 + e^{-z})` (``torch.sigmoid``);
* ``tanh``: :math:`\tanh z` (``torch.tanh``);
* ``relu``: :math:`\max(0, z)` (``torch.relu``);
* ``leaky_relu``: :math:`\max(\mathrm{slope}\cdot z, z)` for :math:`0 \le \mathrm{slope} < 1`
  (``F.leaky_relu(negative_slope=slope)``);
* ``elu``: :math:`z` for :math:`z > 0`, :math:`e^{z} - 1` otherwise (``F.elu(alpha=1)``);
* ``gelu``: :math:`z\,\Phi(z)`, :math:`\Phi` the standard normal CDF (``F.gelu(approximate='none')``);

plus :func:`maxout`, the maximum of :math:`n_{\text{pieces}}` affine maps of the layer's *input* (it is a
layer with its own weights, not an elementwise function), with :func:`maxout_backward`.

The derivative at a kink follows PyTorch: :math:`\mathrm{ReLU}'(0) = 0`, the leaky ReLU's
derivative at 0 is :math:`\mathrm{slope}`, ELU's is 1. All functions keep the dtype of ``z`` (float32
or float64; integers become float64), never overflow, and stay finite for every finite
input: :math:`\sigma` is evaluated through :math:`e^{-|z|}`, ELU through ``expm1`` of
:math:`\min(z, 0)`, GELU's density term only where it is not exactly zero.

The public functions check their arguments (finite real arrays, matching shapes); the
networks of :mod:`dlnotes.initialization` call the unchecked kernels in :data:`ACTIVATIONS`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from scipy.special import ndtr

from ._validation import as_scalar

__all__ = [
    "sigmoid", "sigmoid_backward", "tanh", "tanh_backward", "relu", "relu_backward",
    "leaky_relu", "leaky_relu_backward", "elu", "elu_backward", "gelu", "gelu_backward",
    "maxout", "maxout_backward", "Activation", "ACTIVATIONS", "get", "dead_units",
]


# ------------------------------------------------------------------ argument checks

def _z(z: Any, name: str = "z") -> np.ndarray:
    """A finite float32/float64 array (integers and lists become float64)."""
    if isinstance(z, (str, bytes)):
        raise TypeError(f"{name} must be a numeric array, got a {type(z).__name__}")
    try:
        arr = np.asarray(z)
    except Exception as exc:  # ragged lists
        raise TypeError(f"{name} must be a numeric array; could not convert it ({exc})") from None
    if arr.dtype.kind == "b" or arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    if arr.size and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; found NaN or an infinite value")
    return arr


def _pair(da: Any, z: Any) -> tuple[np.ndarray, np.ndarray]:
    z = _z(z, "z")
    da = _z(da, "da")
    if da.shape != z.shape:
        raise ValueError(f"da has shape {da.shape} but z has shape {z.shape}; they must match")
    return da.astype(z.dtype, copy=False), z


def _slope(negative_slope: Any) -> float:
    return as_scalar(negative_slope, "negative_slope", low=0.0, high=1.0, high_open=True)


def _elu_alpha(alpha: Any) -> float:
    return as_scalar(alpha, "alpha", low=0.0)


# ------------------------------------------------------------------ kernels (unchecked)
# Each kernel keeps the dtype of z: Python floats are "weak" scalars (NEP 50).

def _sigmoid(z: np.ndarray) -> np.ndarray:
    # e^{-|z|} is in (0, 1]: no overflow for any z, and 1/(1+e) or e/(1+e) is exact to
    # rounding on both tails (1 - sigma(z) would lose everything for z << 0).
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _sigmoid_back(da, z):
    s = _sigmoid(z)
    return da * (s * (1.0 - s))


def _tanh_back(da, z):
    a = np.tanh(z)
    return da * (1.0 - a * a)


def _relu(z):
    return np.maximum(z, 0.0)


def _relu_back(da, z):
    return np.where(z > 0, da, 0.0).astype(z.dtype, copy=False)


def _leaky(z, nu):
    return np.where(z > 0, z, z * nu).astype(z.dtype, copy=False)


def _leaky_back(da, z, nu):
    return np.where(z > 0, da, da * nu).astype(z.dtype, copy=False)


def _elu(z, alpha):
    # expm1 of min(z, 0): never exp of a large positive number, exact near 0
    return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0.0))).astype(z.dtype, copy=False)


def _elu_back(da, z, alpha):
    return np.where(z > 0, da, da * (alpha * np.exp(np.minimum(z, 0.0)))).astype(z.dtype, copy=False)


_SQRT_2PI = math.sqrt(2.0 * math.pi)
_K_TANH = math.sqrt(2.0 / math.pi)
# Beyond |z| = 40 the normal density e^{-z^2/2} is 0 in float64 (and float32); clipping
# there keeps z^2 from overflowing without changing any result.
_PDF_CLIP = 40.0
# The tanh form: beyond |z| = 1e4 its sigmoid is exactly 0 or 1 in both dtypes, and
# clipping there keeps 0.044715 z^3 from overflowing (it would at 2e12 in float32).
_TANH_CLIP = 1e4


def _gelu_tanh_parts(z):
    """sigma(2u) and sigma(-2u) for u = sqrt(2/pi) (z + 0.044715 z^3), and du/dz.

    0.5 (1 + tanh u) = sigma(2u) and 1 - tanh^2 u = 4 sigma(2u) sigma(-2u): written with the
    stable sigmoid, neither cancels for z << 0 (where 1 + tanh u would lose every digit).
    """
    zc = np.clip(z, -_TANH_CLIP, _TANH_CLIP)
    u2 = (2.0 * _K_TANH) * (zc + 0.044715 * zc * zc * zc)
    return _sigmoid(u2), _sigmoid(-u2), _K_TANH * (1.0 + 3.0 * 0.044715 * zc * zc)


def _gelu(z, approximate):
    if approximate == "none":
        return z * ndtr(z).astype(z.dtype, copy=False)
    return z * _gelu_tanh_parts(z)[0]


def _gelu_back(da, z, approximate):
    if approximate == "none":
        zc = np.clip(z, -_PDF_CLIP, _PDF_CLIP)
        pdf = np.exp(-0.5 * zc * zc) / _SQRT_2PI
        return da * (ndtr(z).astype(z.dtype, copy=False) + zc * pdf)
    s, s_neg, du = _gelu_tanh_parts(z)
    zc = np.clip(z, -_TANH_CLIP, _TANH_CLIP)
    return da * (s + 2.0 * zc * (s * s_neg) * du)


# ------------------------------------------------------------------ public functions

def sigmoid(z: Any) -> np.ndarray:
    r"""The logistic sigmoid :math:`\sigma(z) = 1/(1 + e^{-z})`, elementwise (``torch.sigmoid``).

    Its outputs lie in (0, 1) and are not centred on zero; its derivative
    :math:`\sigma(z)(1 - \sigma(z))` is at most 1/4 and vanishes on both tails (saturation).
    Chapter: *Activations and initialization*.

    Parameters
    ----------
    z : array of any shape (float32 or float64)

    Returns
    -------
    array shaped like ``z``, same dtype; finite (in [0, 1]) for every finite ``z``.
    """
    return _sigmoid(_z(z))


def sigmoid_backward(da: Any, z: Any) -> np.ndarray:
    r""":math:`\partial L/\partial z = \sigma(z)(1-\sigma(z))\,\partial L/\partial a` for :math:`a = \sigma(z)`.

    Parameters
    ----------
    da : array shaped like ``z``
        The upstream gradient :math:`\partial L/\partial a`.
    z : array
        The pre-activation.
    """
    return _sigmoid_back(*_pair(da, z))


def tanh(z: Any) -> np.ndarray:
    r"""The hyperbolic tangent, elementwise (``torch.tanh``): centred on zero, saturating at :math:`\pm 1`.

    :math:`\tanh z = 2\sigma(2z) - 1`, with derivative :math:`1 - \tanh^2 z` (at most 1, at
    :math:`z = 0`). Chapter: *Activations and initialization*.
    """
    return np.tanh(_z(z))


def tanh_backward(da: Any, z: Any) -> np.ndarray:
    r""":math:`\partial L/\partial z = (1 - \tanh^2 z)\,\partial L/\partial a`."""
    return _tanh_back(*_pair(da, z))


def relu(z: Any) -> np.ndarray:
    r"""The rectified linear unit :math:`\max(0, z)`, elementwise (``torch.relu``).

    Does not saturate for :math:`z > 0`; its gradient is exactly 0 for :math:`z \le 0`, so a
    unit whose pre-activation is negative on every input never changes again (a *dead* ReLU).
    Chapter: *Activations and initialization*.
    """
    return _relu(_z(z))


def relu_backward(da: Any, z: Any) -> np.ndarray:
    r""":math:`\partial L/\partial z = [z > 0]\,\partial L/\partial a` (0 at :math:`z = 0`, as in PyTorch)."""
    return _relu_back(*_pair(da, z))


def leaky_relu(z: Any, negative_slope: float = 0.01) -> np.ndarray:
    r"""The leaky ReLU :math:`\max(\mathrm{slope}\, z, z)`, elementwise, with slope :math:`\mathrm{slope}` = ``negative_slope``.

    Same as ``torch.nn.functional.leaky_relu(z, negative_slope)`` (default 0.01; one of the
    course's slides uses 0.1). The gradient for :math:`z < 0` is :math:`\mathrm{slope}`, never 0, so
    no unit can die. Chapter: *Activations and initialization*.

    Parameters
    ----------
    z : array
    negative_slope : float in [0, 1)
        :math:`\mathrm{slope}`; 0 gives the ReLU.
    """
    return _leaky(_z(z), _slope(negative_slope))


def leaky_relu_backward(da: Any, z: Any, negative_slope: float = 0.01) -> np.ndarray:
    r""":math:`\partial L/\partial z = \partial L/\partial a` where :math:`z > 0` and :math:`\mathrm{slope}\,\partial L/\partial a` elsewhere (PyTorch's choice at 0)."""
    da, z = _pair(da, z)
    return _leaky_back(da, z, _slope(negative_slope))


def elu(z: Any, alpha: float = 1.0) -> np.ndarray:
    r"""The exponential linear unit: :math:`z` for :math:`z > 0`, :math:`\alpha_{\mathrm{ELU}}(e^z - 1)` otherwise.

    ``torch.nn.functional.elu(z, alpha)``; the book uses PyTorch's default
    ``alpha`` = 1 (it writes no symbol for it: :math:`\alpha` is the learning rate).
    Smooth at 0 for ``alpha`` = 1, negative outputs down to :math:`-\alpha_{\mathrm{ELU}}`.
    Chapter: *Activations and initialization*.
    """
    return _elu(_z(z), _elu_alpha(alpha))


def elu_backward(da: Any, z: Any, alpha: float = 1.0) -> np.ndarray:
    r""":math:`\partial L/\partial z`: the upstream gradient where :math:`z > 0`, times :math:`\alpha_{\mathrm{ELU}} e^{z}` elsewhere."""
    da, z = _pair(da, z)
    return _elu_back(da, z, _elu_alpha(alpha))


def _approximate(approximate: Any) -> str:
    if approximate not in ("none", "tanh"):
        raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
    return approximate


def gelu(z: Any, approximate: str = "none") -> np.ndarray:
    r"""The Gaussian error linear unit :math:`z\,\Phi(z)` (Hendrycks & Gimpel), elementwise.

    ``approximate='none'`` is the exact form with :math:`\Phi` the standard normal CDF
    (``scipy.special.ndtr``); ``'tanh'`` is
    :math:`\tfrac12 z\,(1 + \tanh(\sqrt{2/\pi}\,(z + 0.044715 z^3)))`. Both as in
    ``torch.nn.functional.gelu(z, approximate=...)``. Chapter: *Activations and initialization*.
    """
    return _gelu(_z(z), _approximate(approximate))


def gelu_backward(da: Any, z: Any, approximate: str = "none") -> np.ndarray:
    r""":math:`\partial L/\partial z = (\Phi(z) + z\,\varphi(z))\,\partial L/\partial a` (exact form; :math:`\varphi` the normal density)."""
    da, z = _pair(da, z)
    return _gelu_back(da, z, _approximate(approximate))


# ------------------------------------------------------------------ maxout

def _maxout_args(x: Any, W: Any, b: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    W = _z(W, "W")
    if W.ndim != 3:
        raise ValueError(f"W must have shape (k, n_in, n_out) (k affine pieces), got shape {W.shape}")
    x = _z(x, "x").astype(W.dtype, copy=False)
    if x.ndim != 2 or x.shape[1] != W.shape[1]:
        raise ValueError(f"x must have shape (N, {W.shape[1]}) to match W of shape {W.shape}, "
                         f"got shape {x.shape}")
    b = _z(b, "b").astype(W.dtype, copy=False)
    if b.shape != (W.shape[0], W.shape[2]):
        raise ValueError(f"b must have shape ({W.shape[0]}, {W.shape[2]}) to match W, got {b.shape}")
    return x, W, b


def maxout(x: Any, W: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    r"""A maxout layer: each output is the largest of its affine pieces, :math:`a_j = \max\{(xW_1 + b_1)_j, \dots\}` (Goodfellow et al. 2013).

    Each output unit is the largest of :math:`n_{\text{pieces}}` (``k`` in the code) affine functions of the input, so the unit
    is piecewise linear and convex in :math:`x`; with two pieces, :math:`W_2 = 0, b_2 = 0`
    it is a ReLU of :math:`xW_1 + b_1`, with :math:`W_2 = \mathrm{slope}\, W_1, b_2 = \mathrm{slope}\, b_1` a leaky
    ReLU. It never saturates and never dies, at the price of :math:`n_{\text{pieces}}` times the weights.
    PyTorch has no maxout layer; ``torch.stack([x @ W[p] + b[p] for p in range(k)]).amax(0)``
    is the same. Chapter: *Activations and initialization*.

    Parameters
    ----------
    x : array of shape (N, n_in)
    W : array of shape (k, n_in, n_out)
        The weights of the ``k`` pieces.
    b : array of shape (k, n_out)

    Returns
    -------
    (a, piece) : array of shape (N, n_out) (dtype of ``W``) and the int array of the same
    shape saying which piece won (the first one on a tie); :func:`maxout_backward` needs it.
    """
    x, W, b = _maxout_args(x, W, b)
    z = np.einsum("ni,pio->pno", x, W) + b[:, None, :]
    piece = np.argmax(z, axis=0)
    return np.take_along_axis(z, piece[None], axis=0)[0], piece


def maxout_backward(da: Any, x: Any, W: Any, b: Any, piece: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Gradients of a maxout layer: only the winning piece of each output receives :math:`\partial L/\partial a`.

    Parameters
    ----------
    da : array of shape (N, n_out)
        :math:`\partial L/\partial a`.
    x, W, b : as in :func:`maxout`
    piece : int array of shape (N, n_out)
        The second output of :func:`maxout`.

    Returns
    -------
    (dx, dW, db) : arrays shaped like ``x``, ``W``, ``b``.
    """
    x, W, b = _maxout_args(x, W, b)
    k, _, n_out = W.shape
    da = _z(da, "da").astype(W.dtype, copy=False)
    if da.shape != (x.shape[0], n_out):
        raise ValueError(f"da must have shape {(x.shape[0], n_out)}, got {da.shape}")
    piece = np.asarray(piece)
    if piece.shape != da.shape or piece.dtype.kind not in "iu" or piece.min() < 0 or piece.max() >= k:
        raise ValueError(f"piece must be the integer array of shape {da.shape} with values in "
                         f"0..{k - 1} returned by maxout")
    dz = (piece[None] == np.arange(k)[:, None, None]) * da[None]       # (k, N, n_out)
    dz = dz.astype(W.dtype, copy=False)
    dx = np.einsum("pno,pio->ni", dz, W)
    dW = np.einsum("ni,pno->pio", x, dz)
    return dx, dW, dz.sum(axis=1)


# ------------------------------------------------------------------ registry

@dataclass(frozen=True)
class Activation:
    r"""An elementwise activation as the networks use it: unchecked forward and backward kernels.

    Attributes
    ----------
    name : str
    forward : callable
        ``forward(z) -> a``.
    backward : callable
        ``backward(da, z) -> dz``.
    torch : str
        The PyTorch call that computes the same function.
    """

    name: str
    forward: Callable[[np.ndarray], np.ndarray]
    backward: Callable[[np.ndarray, np.ndarray], np.ndarray]
    torch: str


#: Every elementwise activation of the module by name, with PyTorch's default parameters.
ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation("sigmoid", _sigmoid, _sigmoid_back, "torch.sigmoid"),
    "tanh": Activation("tanh", np.tanh, _tanh_back, "torch.tanh"),
    "relu": Activation("relu", _relu, _relu_back, "torch.relu"),
    "leaky_relu": Activation("leaky_relu", lambda z: _leaky(z, 0.01),
                             lambda da, z: _leaky_back(da, z, 0.01),
                             "F.leaky_relu(negative_slope=0.01)"),
    "elu": Activation("elu", lambda z: _elu(z, 1.0), lambda da, z: _elu_back(da, z, 1.0), "F.elu"),
    "gelu": Activation("gelu", lambda z: _gelu(z, "none"), lambda da, z: _gelu_back(da, z, "none"),
                       "F.gelu"),
    "identity": Activation("identity", lambda z: z, lambda da, z: da, "(none)"),
}


def get(name: Any, negative_slope: float | None = None) -> Activation:
    """The :class:`Activation` called ``name`` (a key of :data:`ACTIVATIONS`).

    ``negative_slope`` makes a leaky ReLU with another slope :math:`\\mathrm{slope}`, e.g.
    ``get("leaky_relu", 0.1)``.
    """
    if isinstance(name, Activation):
        return name
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {tuple(ACTIVATIONS)}, got {name!r}")
    if negative_slope is None:
        return ACTIVATIONS[name]
    if name != "leaky_relu":
        raise ValueError(f"negative_slope only applies to 'leaky_relu', not {name!r}")
    nu = _slope(negative_slope)
    return Activation("leaky_relu", lambda z: _leaky(z, nu), lambda da, z: _leaky_back(da, z, nu),
                      f"F.leaky_relu(negative_slope={nu:g})")


def dead_units(a: Any) -> np.ndarray:
    r"""Which units are *dead*: their activation is exactly 0 on every input.

    For a ReLU layer such a unit has :math:`z \le 0` on all inputs, so its gradient is 0
    for all of them and no gradient step will ever revive it (through its own weights).
    Chapter: *Activations and initialization*.

    Parameters
    ----------
    a : array of shape (N, n)
        Activations of one layer on N inputs.

    Returns
    -------
    bool array of shape (n,).
    """
    arr = _z(a, "a")
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise ValueError(f"a must have shape (N, n) with N >= 1 inputs, got shape {arr.shape}")
    return ~np.any(arr != 0, axis=0)
