r"""Max and average pooling, forward and backward, in PyTorch's layout and conventions.

Taught in the chapter *Convolutional networks*. A pooling layer summarises every window of
:math:`K_1 \times K_2` positions of each channel, taken with stride :math:`S` (PyTorch's
default: the window size, so windows do not overlap), after padding :math:`E` and with
dilation :math:`G`; it has no parameters. The output size is
:func:`dlnotes.conv.output_size`, as for a convolution. With indices from 0,

.. math::
   z_{i, c, j_1, j_2} = \max_{0 \le k_1 < K_1,\ 0 \le k_2 < K_2}
   x_{i, c,\ S_1 j_1 + G_1 k_1 - E_1,\ S_2 j_2 + G_2 k_2 - E_2}

for max pooling (padding counts as :math:`-\infty`), and the mean over the window for average
pooling (padding counts as 0).

**Gradients.** Average pooling hands each output's gradient back in equal shares of
:math:`1/(K_1 K_2)` to the entries of its window. Max pooling hands it *entirely* to the
entry that won the max. When several entries of a window are equal to the max (a tie, as
in a window of zeros after a ReLU), PyTorch's CPU kernel keeps the **first** maximum in
row-major order (it scans the window row by row and only replaces the current winner by a
strictly larger value), and the whole gradient goes to that one entry; so do we (tested
against ``torch.nn.functional.max_pool2d`` and its ``return_indices``). Overlapping windows
add up their gradients. The max is not differentiable at a tie; any split of the gradient
between tied entries is a valid subgradient, and this is the one PyTorch picks.

Arguments follow ``torch.nn.functional.max_pool2d``/``avg_pool2d`` with ``ceil_mode=False``:
``padding`` may be at most half the (dilated) window, as PyTorch requires.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .conv import _as_array, _Geometry, _pair

__all__ = ["max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward"]


def _geometry(x_shape, kernel_size, stride, padding, dilation) -> _Geometry:
    K = _pair(kernel_size, "kernel_size", 1)
    S = K if stride is None else _pair(stride, "stride", 1)
    E = _pair(padding, "padding", 0)
    G = _pair(dilation, "dilation", 1)
    for e, k, gg, axis in zip(E, K, G, ("rows", "columns")):
        if 2 * e > gg * (k - 1) + 1:
            raise ValueError(f"padding ({e} for the {axis}) must be at most half of the window "
                             f"(kernel_size {k}, dilation {gg}), as in PyTorch")
    N, C = x_shape[:2]
    return _Geometry(x_shape, (C, 1, *K), S, E, G, C)   # one "group" per channel


def _check_x(x: Any) -> np.ndarray:
    return _as_array(x, "x", 4)


def max_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, return_indices: bool = False):
    r"""Max pooling, like ``torch.nn.functional.max_pool2d`` (``ceil_mode=False``).

    Chapter: *Convolutional networks*.

    Parameters
    ----------
    x : array of shape (N, C, M_1, M_2)
    kernel_size : int or (int, int)
        The window :math:`K_1 \times K_2`.
    stride : int or (int, int), optional
        :math:`S`; default ``kernel_size`` (non-overlapping windows).
    padding : int or (int, int)
        :math:`E`, at most half the window; padded entries never win.
    dilation : int or (int, int)
        :math:`G`.
    return_indices : bool
        Also return where each max came from, as PyTorch does: the flat index
        :math:`M_2 \cdot \text{row} + \text{column}` of the winner within its channel of
        ``x`` (the first maximum in row-major order of the window when there is a tie).

    Returns
    -------
    z : array of shape (N, C, M_1', M_2'), or ``(z, indices)`` with int64 indices of that
    shape. :func:`max_pool2d_backward` takes the indices.
    """
    xa = _check_x(x)
    g = _geometry(xa.shape, kernel_size, stride, padding, dilation)
    z, k = _max_forward(xa, g)
    return (z, _flat_indices(k, g)) if return_indices else z


def _max_forward(x: np.ndarray, g: _Geometry) -> tuple[np.ndarray, np.ndarray]:
    """The max of every window and which offset k1 * K2 + k2 of the window won it."""
    xp = g.padded(x, fill=-np.inf)
    # Scan the window row by row and replace the winner only by a strictly larger value:
    # the first maximum wins a tie, exactly as PyTorch's CPU kernel does.
    best = k = None
    for k1 in range(g.K1):
        for k2 in range(g.K2):
            v = xp[(slice(None), slice(None), *g.tap(k1, k2))]
            if best is None:
                best, k = v.copy(), np.zeros(v.shape, np.int64)
                continue
            larger = np.greater(v, best)
            np.maximum(best, v, out=best)
            np.copyto(k, k1 * g.K2 + k2, where=larger)
    return best, k


def _flat_indices(k: np.ndarray, g: _Geometry) -> np.ndarray:
    """Window offsets -> PyTorch's indices: M2 * row + column of the winner in its channel."""
    k1, k2 = np.divmod(k, g.K2)
    rows = g.S1 * np.arange(g.P1)[:, None] + g.G1 * k1 - g.E1
    cols = g.S2 * np.arange(g.P2)[None, :] + g.G2 * k2 - g.E2
    return rows * g.M2 + cols


def _max_backward_local(dz: np.ndarray, k: np.ndarray, g: _Geometry) -> np.ndarray:
    """Route each output's gradient to its window's winner (k from :func:`_max_forward`)."""
    dxp = np.zeros((g.N, g.C, g.M1 + 2 * g.E1, g.M2 + 2 * g.E2), dz.dtype)
    zero = dz.dtype.type(0)
    for k1 in range(g.K1):
        for k2 in range(g.K2):
            rows, cols = g.tap(k1, k2)
            dxp[:, :, rows, cols] += np.where(k == k1 * g.K2 + k2, dz, zero)
    return np.ascontiguousarray(dxp[:, :, g.E1:g.E1 + g.M1, g.E2:g.E2 + g.M2])


def max_pool2d_backward(dz: Any, indices: Any, input_shape: tuple[int, int, int, int]) -> np.ndarray:
    r"""Gradient through :func:`max_pool2d`: each output's gradient goes to its winner.

    .. math::
       \frac{\partial L}{\partial x_{i,c,r,q}} = \sum_{j:\ \text{winner}(i,c,j) = (r, q)}
       \frac{\partial L}{\partial z_{i,c,j}}

    (a sum when overlapping windows share a winner; zero for every entry that never wins).

    Chapter: *Convolutional networks*.

    Parameters
    ----------
    dz : array of shape (N, C, M_1', M_2')
    indices : int array of the same shape
        From ``max_pool2d(..., return_indices=True)`` (or PyTorch's).
    input_shape : (N, C, M_1, M_2)

    Returns
    -------
    dx : array of shape ``input_shape``, the dtype of ``dz``.
    """
    dza = _as_array(dz, "dz", 4)
    idx = np.asarray(indices)
    if idx.shape != dza.shape or idx.dtype.kind not in "iu":
        raise ValueError(f"indices must be an integer array of dz's shape {dza.shape}, got "
                         f"{idx.dtype} of shape {idx.shape}")
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 4 or shape[:2] != dza.shape[:2]:
        raise ValueError(f"input_shape must be (N, C, M1, M2) with N, C = {dza.shape[:2]}, got {input_shape!r}")
    plane = shape[2] * shape[3]
    if idx.size and (idx.min() < 0 or idx.max() >= plane):
        raise ValueError(f"indices must lie in [0, {plane}) for inputs of {shape[2]}x{shape[3]}")
    return _max_backward(dza, idx, shape)


def _max_backward(dz: np.ndarray, idx: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    N, C, M1, M2 = shape
    plane = M1 * M2
    offset = (np.arange(N * C, dtype=np.int64) * plane).reshape(N, C, 1, 1)
    dx = np.bincount((idx + offset).ravel(), weights=dz.ravel(), minlength=N * C * plane)
    return dx.reshape(shape).astype(dz.dtype, copy=False)


def avg_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               count_include_pad: bool = True) -> np.ndarray:
    r"""Average pooling, like ``torch.nn.functional.avg_pool2d`` (``ceil_mode=False``).

    Each output is the mean of its window. With ``count_include_pad=True`` (PyTorch's
    default) padded zeros count in the divisor, so every window divides by
    :math:`K_1 K_2`; with ``False`` only the real entries count.

    Chapter: *Convolutional networks*.

    Parameters
    ----------
    x : array of shape (N, C, M_1, M_2)
    kernel_size, stride, padding
        As in :func:`max_pool2d` (no dilation, as in PyTorch).
    count_include_pad : bool

    Returns
    -------
    z : array of shape (N, C, M_1', M_2').
    """
    xa = _check_x(x)
    g = _geometry(xa.shape, kernel_size, stride, padding, 1)
    return _avg_forward(xa, g, count_include_pad)


def _divisor(g: _Geometry, count_include_pad: bool, dtype) -> np.ndarray | float:
    if count_include_pad or not (g.E1 or g.E2):
        return float(g.K1 * g.K2)
    ones = g.padded(np.ones((1, 1, g.M1, g.M2), dtype))
    return g.windows(ones).sum(axis=(2, 3))[0, 0]      # (P1, P2): real entries per window


def _avg_forward(x: np.ndarray, g: _Geometry, count_include_pad: bool) -> np.ndarray:
    win = g.windows(g.padded(x))
    total = np.zeros((g.N, g.C, g.P1, g.P2), x.dtype)
    for k1 in range(g.K1):
        for k2 in range(g.K2):
            total += win[:, :, k1, k2]
    return total / np.asarray(_divisor(g, count_include_pad, x.dtype), x.dtype)


def avg_pool2d_backward(dz: Any, input_shape: tuple[int, int, int, int], kernel_size: Any,
                        stride: Any = None, padding: Any = 0,
                        count_include_pad: bool = True) -> np.ndarray:
    r"""Gradient through :func:`avg_pool2d`: every entry of a window gets an equal share.

    .. math::
       \frac{\partial L}{\partial x_{i,c,r,q}} = \sum_{j:\ (r, q) \in \text{window}(j)}
       \frac{1}{|\text{window}(j)|}\,\frac{\partial L}{\partial z_{i,c,j}}

    Chapter: *Convolutional networks*.

    Parameters
    ----------
    dz : array of shape (N, C, M_1', M_2')
    input_shape : (N, C, M_1, M_2)
    kernel_size, stride, padding, count_include_pad
        As given to :func:`avg_pool2d`.

    Returns
    -------
    dx : array of shape ``input_shape``.
    """
    dza = _as_array(dz, "dz", 4)
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 4:
        raise ValueError(f"input_shape must be (N, C, M1, M2), got {input_shape!r}")
    g = _geometry(shape, kernel_size, stride, padding, 1)
    if dza.shape != (g.N, g.C, g.P1, g.P2):
        raise ValueError(f"dz must have the output's shape {(g.N, g.C, g.P1, g.P2)}, got {dza.shape}")
    return _avg_backward(dza, g, count_include_pad)


def _avg_backward(dz: np.ndarray, g: _Geometry, count_include_pad: bool) -> np.ndarray:
    share = dz / np.asarray(_divisor(g, count_include_pad, dz.dtype), dz.dtype)
    dxp = np.zeros((g.N, g.C, g.M1 + 2 * g.E1, g.M2 + 2 * g.E2), dz.dtype)
    for k1 in range(g.K1):
        for k2 in range(g.K2):
            rows, cols = g.tap(k1, k2)
            dxp[:, :, rows, cols] += share
    return np.ascontiguousarray(dxp[:, :, g.E1:g.E1 + g.M1, g.E2:g.E2 + g.M2])
