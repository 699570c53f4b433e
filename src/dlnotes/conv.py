r"""Convolution and cross-correlation, written as the sums, and the layers built from them.

Taught in the chapter *Convolutional networks*. Two families of functions:

1. **Signal processing**, on one 1-D or 2-D array and one kernel: :func:`convolve` (true
   convolution, the kernel flipped) and :func:`correlate` (cross-correlation, the kernel as
   it is), in the modes ``'full'``, ``'valid'`` and ``'same'`` of ``scipy.signal``. With
   indices counted from 0 and every entry outside an array taken to be 0,

   .. math::
      (x * w)_j = \sum_k w_k\, x_{j - k}, \qquad (w \star x)_j = \sum_k w_k\, x_{j + k},

   and the same with two indices, :math:`j = (j_1, j_2)` and :math:`k = (k_1, k_2)`, in 2-D.
   The two differ by a flip of the kernel: :math:`x * w = \operatorname{flip}(w) \star x`
   up to a shift of the output (:func:`flip`).

2. **Layers**, in PyTorch's layout and conventions: :func:`conv1d`, :func:`conv2d` and their
   gradients :func:`conv1d_backward`, :func:`conv2d_backward`. Inputs are ``(N, F_in, M)``
   or ``(N, F_in, M_1, M_2)`` (NCHW: samples, channels, rows, columns), kernels
   ``(F_out, F_in / groups, K)`` or ``(F_out, F_in / groups, K_1, K_2)``. What deep-learning
   libraries call a convolution is a **cross-correlation**:

   .. math::
      z_{i, o, j_1, j_2} = b_o + \sum_{k_0 = 0}^{F_{\text{in}} - 1}\sum_{k_1 = 0}^{K_1 - 1}
      \sum_{k_2 = 0}^{K_2 - 1} w_{o, k_0, k_1, k_2}\;
      x_{i, k_0,\ S j_1 + G k_1 - E,\ S j_2 + G k_2 - E},

   with stride :math:`S` (``stride``), zero padding :math:`E` on every side (``padding``)
   and dilation :math:`G` (``dilation``); each can differ between rows and columns (pass a
   pair). Each output has :func:`output_size` positions per axis,
   :math:`M' = \lfloor (M + 2E - G(K - 1) - 1)/S \rfloor + 1`.

The layer functions take a ``method``: ``'direct'`` evaluates the sum above term by term,
one kernel offset :math:`(k_1, k_2)` at a time (the readable version, which the chapter
shows); ``'im2col'`` copies every receptive field into a column and does the whole sum as
one matrix product (the fast path used for training, chosen by measurement:
see ``benchmarks/README.md``). Both give the same numbers as ``torch.nn.functional`` to
rounding (tested). float32 and float64 are computed in their own precision; integer inputs
become float64.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

__all__ = [
    "output_size", "flip", "convolve", "correlate",
    "conv1d", "conv1d_backward", "conv2d", "conv2d_backward", "METHODS",
]

#: The implementations of :func:`conv2d` and :func:`conv2d_backward`.
METHODS = ("im2col", "direct")
_MODES = ("full", "valid", "same")


# ----------------------------------------------------------------------- argument checks

def _as_array(x: Any, name: str, ndim: int | tuple[int, ...]) -> np.ndarray:
    """A finite float32/float64 array with the allowed number of dimensions (ints -> float64)."""
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be a numeric array, got a {type(x).__name__}")
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} must be a numeric array; could not convert it ({exc})") from None
    if arr.dtype == object or arr.dtype.kind not in "iuf" or arr.dtype.kind == "b":
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
    if arr.ndim not in allowed:
        want = " or ".join(f"{d}-D" for d in allowed)
        raise ValueError(f"{name} must be {want}, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite; found NaN or an infinite value")
    return arr


def _int(value: Any, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {low}, got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value}")
    return int(value)


def _pair(value: Any, name: str, low: int, n: int = 2) -> tuple[int, ...]:
    """An int, or a tuple of ``n`` ints (one per spatial axis), each >= low."""
    if isinstance(value, (tuple, list)):
        if len(value) != n:
            raise ValueError(f"{name} must be an integer or a tuple of {n} integers, got {value!r}")
        return tuple(_int(v, f"{name}[{i}]", low) for i, v in enumerate(value))
    v = _int(value, name, low)
    return (v,) * n


def output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0,
                dilation: int = 1) -> int:
    r"""Number of output positions along one axis, :math:`M' = \lfloor (M + 2E - G(K - 1) - 1)/S\rfloor + 1`.

    The kernel, dilated to span :math:`G(K - 1) + 1` input positions, fits into the padded
    input (length :math:`M + 2E`) at the offsets :math:`0, S, 2S, \dots`. The same formula
    holds for pooling windows (``torch.nn.MaxPool2d`` with ``ceil_mode=False``).

    Chapter: *Convolutional networks*.

    Parameters
    ----------
    size : int >= 1
        :math:`M`, the input's length along the axis.
    kernel_size : int >= 1
        :math:`K`.
    stride : int >= 1
        :math:`S`.
    padding : int >= 0
        :math:`E`, zeros added at *each* end.
    dilation : int >= 1
        :math:`G`, the spacing between the kernel's taps.

    Returns
    -------
    int >= 1

    Raises
    ------
    ValueError
        If the dilated kernel is longer than the padded input (no output at all).
    """
    M = _int(size, "size", 1)
    K = _int(kernel_size, "kernel_size", 1)
    S = _int(stride, "stride", 1)
    E = _int(padding, "padding", 0)
    G = _int(dilation, "dilation", 1)
    span = G * (K - 1) + 1
    if span > M + 2 * E:
        raise ValueError(f"the kernel spans {span} positions (kernel_size={K}, dilation={G}) but "
                         f"the padded input has only {M + 2 * E} (size={M}, padding={E}): "
                         "there is no output")
    return (M + 2 * E - span) // S + 1


def flip(w: Any) -> np.ndarray:
    r"""The kernel reversed along every axis: :math:`\operatorname{flip}(w)_k = w_{K - 1 - k}`.

    In 2-D this is a rotation by 180°. True convolution is cross-correlation with the
    flipped kernel (:func:`convolve`); kernels that equal their flip (blur, sharpen,
    Laplacian) give the same result either way, the Sobel kernel changes sign.

    Chapter: *Convolutional networks*.
    """
    arr = _as_array(w, "w", (1, 2))
    return arr[(slice(None, None, -1),) * arr.ndim].copy()


# ----------------------------------------------------------------------- signal processing

def _check_pair(x: Any, w: Any, mode: str) -> tuple[np.ndarray, np.ndarray]:
    xa = _as_array(x, "x", (1, 2))
    wa = _as_array(w, "w", (1, 2))
    if xa.ndim != wa.ndim:
        raise ValueError(f"x and w must have the same number of dimensions, got shapes "
                         f"{xa.shape} and {wa.shape}")
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
    if mode == "valid" and any(k > m for k, m in zip(wa.shape, xa.shape)):
        raise ValueError(f"mode='valid' needs the kernel to fit inside x, got x of shape "
                         f"{xa.shape} and w of shape {wa.shape}")
    if xa.dtype != wa.dtype:
        dt = np.result_type(xa, wa)
        xa, wa = xa.astype(dt), wa.astype(dt)
    return xa, wa


def _crop(full: np.ndarray, x_shape: tuple[int, ...], w_shape: tuple[int, ...],
          mode: str) -> np.ndarray:
    """Cut the 'valid' or 'same' part out of the full output (scipy.signal.convolve's conventions)."""
    if mode == "full":
        return full
    index = []
    for M, K in zip(x_shape, w_shape):
        if mode == "valid":
            index.append(slice(K - 1, M))
        else:  # 'same': centred, the size of x; for even K the earlier of the two centres
            lo = (K - 1) // 2
            index.append(slice(lo, lo + M))
    return full[tuple(index)]


def convolve(x: Any, w: Any, mode: str = "full") -> np.ndarray:
    r"""True convolution of a 1-D or 2-D array with a kernel, as the sum :math:`(x * w)_j = \sum_k w_k x_{j - k}`.

    Indices start at 0 and every entry outside ``x`` counts as 0 (the notes' "infinite zero
    padding"). In ``'full'`` mode the output has every position where the sum has a nonzero
    term, :math:`j = 0, \dots, M + K - 2` per axis; ``'valid'`` keeps the positions where the
    kernel lies inside ``x`` (:math:`j = K - 1, \dots, M - 1`), ``'same'`` the centred part
    of the size of ``x``, as ``scipy.signal.convolve2d`` and ``numpy.convolve`` do.

    Computed literally: for each kernel offset :math:`k`, add :math:`w_k` times ``x`` shifted
    by :math:`k`. In full mode the result is symmetric in its arguments
    (:math:`x * w = w * x`, commutativity); it is linear in each.

    Chapter: *Convolutional networks*.

    Parameters
    ----------
    x : array of shape (M,) or (M_1, M_2)
    w : array with as many dimensions as ``x``
        The kernel, shape (K,) or (K_1, K_2).
    mode : {'full', 'valid', 'same'}

    Returns
    -------
    array, float64 (or float32 if both inputs are float32).
    """
    xa, wa = _check_pair(x, w, mode)
    full = np.zeros(tuple(M + K - 1 for M, K in zip(xa.shape, wa.shape)), dtype=xa.dtype)
    for k in np.ndindex(*wa.shape):
        # (x * w)_j gets w_k x_{j - k}: x shifted right/down by k
        full[tuple(slice(kk, kk + M) for kk, M in zip(k, xa.shape))] += wa[k] * xa
    return _crop(full, xa.shape, wa.shape, mode)


def correlate(x: Any, w: Any, mode: str = "valid") -> np.ndarray:
    r"""Cross-correlation of a 1-D or 2-D array with a kernel, :math:`(w \star x)_j = \sum_k w_k x_{j + k}`.

    This is what deep-learning libraries call a convolution: the kernel slides over ``x``
    without being flipped. In ``'valid'`` mode (the default, as in a layer without padding)
    :math:`j = 0, \dots, M - K`; ``'full'`` mode also keeps the partial overlaps,
    :math:`j = -(K - 1), \dots, M - 1`, stored from index 0; ``'same'`` is centred, as in
    ``scipy.signal.correlate`` (``scipy.signal.correlate2d`` centres even-sized kernels one
    position later). Cross-correlation with ``w`` is true convolution with :func:`flip`
    (``w``): ``correlate(x, w, mode) == convolve(x, flip(w), mode)`` in every mode. It is
    linear but, unlike convolution, not commutative.

    Chapter: *Convolutional networks*.

    Parameters
    ----------
    x : array of shape (M,) or (M_1, M_2)
    w : array with as many dimensions as ``x``
    mode : {'valid', 'full', 'same'}

    Returns
    -------
    array, float64 (or float32 if both inputs are float32).
    """
    xa, wa = _check_pair(x, w, mode)
    full = np.zeros(tuple(M + K - 1 for M, K in zip(xa.shape, wa.shape)), dtype=xa.dtype)
    for k in np.ndindex(*wa.shape):
        # output index j (stored at j + K - 1) gets w_k x_{j + k}: x shifted left/up by k
        start = tuple(K - 1 - kk for kk, K in zip(k, wa.shape))
        full[tuple(slice(s, s + M) for s, M in zip(start, xa.shape))] += wa[k] * xa
    return _crop(full, xa.shape, wa.shape, mode)


# ----------------------------------------------------------------------- layers (NCHW)

class _Geometry:
    """Shapes, stride, padding and dilation of one conv2d call, checked once."""

    __slots__ = ("N", "C", "M1", "M2", "F", "groups", "K1", "K2", "S1", "S2", "E1", "E2",
                 "G1", "G2", "P1", "P2", "wide")

    def __init__(self, x_shape, w_shape, stride, padding, dilation, groups):
        self.N, self.C, self.M1, self.M2 = x_shape
        self.F, c_per_group, self.K1, self.K2 = w_shape
        self.groups = _int(groups, "groups", 1)
        self.S1, self.S2 = _pair(stride, "stride", 1)
        self.E1, self.E2 = _pair(padding, "padding", 0)
        self.G1, self.G2 = _pair(dilation, "dilation", 1)
        if self.C % self.groups or self.F % self.groups:
            raise ValueError(f"groups={self.groups} must divide both the input channels "
                             f"({self.C}) and the output channels ({self.F})")
        if c_per_group * self.groups != self.C:
            raise ValueError(f"w must have shape (F_out, F_in/groups, K1, K2) = "
                             f"(., {self.C // self.groups}, ., .) for an input with {self.C} "
                             f"channels and groups={self.groups}, got w of shape {tuple(w_shape)}")
        self.P1 = output_size(self.M1, self.K1, self.S1, self.E1, self.G1)
        self.P2 = output_size(self.M2, self.K2, self.S2, self.E2, self.G2)
        # With stride 1 the im2col method works on "wide rows" (see _im2col).
        self.wide = self.S1 == self.S2 == 1

    def padded(self, x: np.ndarray, fill: float = 0.0) -> np.ndarray:
        if not (self.E1 or self.E2):
            return x
        xp = np.full((x.shape[0], x.shape[1], self.M1 + 2 * self.E1, self.M2 + 2 * self.E2),
                     fill, dtype=x.dtype)
        xp[:, :, self.E1:self.E1 + self.M1, self.E2:self.E2 + self.M2] = x
        return xp

    def tap(self, k1: int, k2: int) -> tuple[slice, slice]:
        """Rows and columns of the padded input that kernel offset (k1, k2) meets, one per output."""
        r, c = self.G1 * k1, self.G2 * k2
        return (slice(r, r + self.S1 * (self.P1 - 1) + 1, self.S1),
                slice(c, c + self.S2 * (self.P2 - 1) + 1, self.S2))

    def windows(self, xp: np.ndarray) -> np.ndarray:
        """A read-only view (N, C, K1, K2, P1, P2) of the padded input: every receptive field."""
        sN, sC, sH, sW = xp.strides
        return as_strided(xp, (xp.shape[0], xp.shape[1], self.K1, self.K2, self.P1, self.P2),
                          (sN, sC, self.G1 * sH, self.G2 * sW, self.S1 * sH, self.S2 * sW),
                          writeable=False)


def _check_conv_args(x, w, b, dims: int):
    xa = _as_array(x, "x", dims + 2)
    wa = _as_array(w, "w", dims + 2)
    if xa.dtype != wa.dtype:
        raise TypeError(f"x and w must have the same dtype (float32 or float64), got {xa.dtype} "
                        f"and {wa.dtype}")
    ba = None
    if b is not None:
        ba = _as_array(b, "b", 1)
        if ba.shape != (wa.shape[0],):
            raise ValueError(f"b must have shape ({wa.shape[0]},), one bias per output channel, "
                             f"got {ba.shape}")
        ba = ba.astype(wa.dtype, copy=False)
    return xa, wa, ba


def _check_method(method: str) -> str:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return method


def _padded_flat(x: np.ndarray, g: _Geometry) -> np.ndarray:
    """The padded input with each channel's plane flattened, plus G2 (K2 - 1) spare zeros."""
    Hp, Wp = g.M1 + 2 * g.E1, g.M2 + 2 * g.E2
    xp = np.zeros((g.N, g.C, Hp * Wp + g.G2 * (g.K2 - 1)), dtype=x.dtype)
    xp[:, :, :Hp * Wp].reshape(g.N, g.C, Hp, Wp)[:, :, g.E1:g.E1 + g.M1, g.E2:g.E2 + g.M2] = x
    return xp


def _im2col(x: np.ndarray, g: _Geometry) -> np.ndarray:
    """Every receptive field as a column: (N, groups, C/groups * K1 * K2, columns), a copy.

    Row (c, k1, k2) of group g and column (j1, j2) of sample i hold
    x_pad[i, c, S j1 + G k1, S j2 + G k2], so the layer is one matrix product per sample and
    group, whose result is already in NCHW order.

    With stride 1 the columns are "wide rows": each output row gets the full padded width
    Wp = M2 + 2E instead of P2 columns, the last G2 (K2 - 1) of them junk. Then row
    (c, k1, k2) is one contiguous run of the flattened padded plane, starting at
    G1 k1 Wp + G2 k2, and copying it is fast; the junk outputs are cut off afterwards.
    """
    Cg = g.C // g.groups
    if g.wide:
        xp = _padded_flat(x, g)
        Wp = g.M2 + 2 * g.E2
        it = xp.itemsize
        sN, sC, _ = xp.strides
        view = as_strided(xp, (g.N, g.C, g.K1, g.K2, g.P1 * Wp),
                          (sN, sC, g.G1 * Wp * it, g.G2 * it, it), writeable=False)
        cols = np.ascontiguousarray(view)
    else:
        cols = np.ascontiguousarray(g.windows(g.padded(x)))
    return cols.reshape(g.N, g.groups, Cg * g.K1 * g.K2, -1)


def _unwide(zm: np.ndarray, g: _Geometry, channels: int) -> np.ndarray:
    """(N, groups, channels/groups, columns) -> (N, channels, P1, P2), cutting off junk columns."""
    if not g.wide:
        return zm.reshape(g.N, channels, g.P1, g.P2)
    z = zm.reshape(g.N, channels, g.P1, g.M2 + 2 * g.E2)[..., :g.P2]
    return np.ascontiguousarray(z)


def _wide(dz: np.ndarray, g: _Geometry) -> np.ndarray:
    """dz (N, F, P1, P2) in the columns' layout (N, groups, F/groups, columns), junk columns 0."""
    if not g.wide:
        return dz.reshape(g.N, g.groups, g.F // g.groups, g.P1 * g.P2)
    Wp = g.M2 + 2 * g.E2
    out = np.zeros((g.N, g.F, g.P1, Wp), dz.dtype)
    out[..., :g.P2] = dz
    return out.reshape(g.N, g.groups, g.F // g.groups, g.P1 * Wp)


#: The im2col method copies at most about this many bytes of columns at a time: blocks of
#: samples whose columns stay in the processor's cache are faster than one huge copy
#: (measured; see benchmarks/README.md).
CHUNK_BYTES = 1 << 21


def _chunks(g: _Geometry, itemsize: int):
    """(sample slice, geometry of that block) covering the batch, for blocked im2col."""
    per_sample = g.C * g.K1 * g.K2 * g.P1 * (g.M2 + 2 * g.E2 if g.wide else g.P2) * itemsize
    n = max(1, CHUNK_BYTES // per_sample)
    if n >= g.N:
        yield slice(None), g
        return
    shape = lambda m: (m, g.C, g.M1, g.M2)   # noqa: E731
    wshape = (g.F, g.C // g.groups, g.K1, g.K2)
    args = ((g.S1, g.S2), (g.E1, g.E2), (g.G1, g.G2), g.groups)
    block = _Geometry(shape(n), wshape, *args)
    for i in range(0, g.N, n):
        m = min(n, g.N - i)
        yield slice(i, i + m), (block if m == n else _Geometry(shape(m), wshape, *args))


def _forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, g: _Geometry,
             method: str) -> tuple[np.ndarray, np.ndarray | None]:
    """z, and the columns (im2col) that the backward pass can reuse (None for 'direct')."""
    Cg, Fg = g.C // g.groups, g.F // g.groups
    if method == "im2col":
        wm = w.reshape(g.groups, Fg, Cg * g.K1 * g.K2)
        blocks = list(_chunks(g, x.itemsize))
        if len(blocks) == 1:
            cols = _im2col(x, g)
            z = _unwide(np.matmul(wm, cols), g, g.F)    # one product per sample and group
        else:   # block by block; the backward pass recomputes the columns
            cols = None
            z = np.empty((g.N, g.F, g.P1, g.P2), dtype=x.dtype)
            for idx, gb in blocks:
                z[idx] = _unwide(np.matmul(wm, _im2col(x[idx], gb)), gb, g.F)
    else:
        cols = None
        xp = g.padded(x)
        z = np.zeros((g.N, g.groups, Fg, g.P1, g.P2), dtype=x.dtype)
        xg = xp.reshape(g.N, g.groups, Cg, *xp.shape[2:])
        wg = w.reshape(g.groups, Fg, Cg, g.K1, g.K2)
        for k1 in range(g.K1):
            for k2 in range(g.K2):
                rows, columns = g.tap(k1, k2)
                # z[i, o, j1, j2] += sum_c w[o, c, k1, k2] x_pad[i, c, S j1 + G k1, S j2 + G k2]
                z += np.einsum("gfc,ngcab->ngfab", wg[:, :, :, k1, k2],
                               xg[:, :, :, rows, columns], optimize=True)
        z = z.reshape(g.N, g.F, g.P1, g.P2)
    if b is not None:
        z += b[:, None, None]
    return z, cols


def _input_gradient(dzm: np.ndarray, w: np.ndarray, g: _Geometry) -> np.ndarray:
    """dx for the im2col method, from dz in the columns' layout (:func:`_wide`)."""
    Cg, Fg = g.C // g.groups, g.F // g.groups
    lo1, lo2 = g.G1 * (g.K1 - 1) - g.E1, g.G2 * (g.K2 - 1) - g.E2
    if g.wide and lo1 >= 0 and lo2 >= 0 and g.F <= 2 * g.C:
        # With stride 1 the input gradient is itself a convolution: of dz, padded so that
        # every kernel offset finds its partner, with the kernels flipped and the roles of
        # input and output channels swapped (a "transposed convolution"). Its columns hold
        # F K1 K2 values per input position, against C K1 K2 for scattering the columns
        # back (below), so it is the faster way when F is not much larger than C (measured).
        wt = w.reshape(g.groups, Fg, Cg, g.K1, g.K2).transpose(0, 2, 1, 3, 4)[..., ::-1, ::-1]
        wt = np.ascontiguousarray(wt).reshape(g.C, Fg, g.K1, g.K2)
        dz = _unwide(dzm, g, g.F)
        gt = _Geometry(dz.shape, wt.shape, 1, (lo1, lo2), (g.G1, g.G2), g.groups)
        return _forward(dz, wt, None, gt, "im2col")[0]
    # otherwise every column's gradient goes back to the input entries it was copied from
    wm = w.reshape(g.groups, Fg, Cg * g.K1 * g.K2)
    dcols = np.matmul(wm.swapaxes(-1, -2), dzm)       # (N, groups, C/groups K1 K2, columns)
    Hp, Wp = g.M1 + 2 * g.E1, g.M2 + 2 * g.E2
    if g.wide:
        # wide rows: the columns of offset (k1, k2) are one contiguous run of the flat
        # padded plane; their junk entries are 0 (dz's junk columns are 0)
        dcols = dcols.reshape(g.N, g.C, g.K1, g.K2, -1)
        n = dcols.shape[-1]
        dxp = np.zeros((g.N, g.C, Hp * Wp + g.G2 * (g.K2 - 1)), dtype=dzm.dtype)
        for k1 in range(g.K1):
            for k2 in range(g.K2):
                start = g.G1 * k1 * Wp + g.G2 * k2
                dxp[:, :, start:start + n] += dcols[:, :, k1, k2]
        dxp = dxp[:, :, :Hp * Wp].reshape(g.N, g.C, Hp, Wp)
    else:
        dcols = dcols.reshape(g.N, g.C, g.K1, g.K2, g.P1, g.P2)
        dxp = np.zeros((g.N, g.C, Hp, Wp), dtype=dzm.dtype)
        for k1 in range(g.K1):
            for k2 in range(g.K2):
                rows, columns = g.tap(k1, k2)
                dxp[:, :, rows, columns] += dcols[:, :, k1, k2]
    return dxp[:, :, g.E1:g.E1 + g.M1, g.E2:g.E2 + g.M2]


def _backward(dz: np.ndarray, x: np.ndarray | None, cols: np.ndarray | None, w: np.ndarray,
              g: _Geometry, method: str, need_x: bool = True, need_w: bool = True
              ) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray]:
    """Gradients (dx, dw, db) from dz of shape (N, F, P1, P2)."""
    Cg, Fg = g.C // g.groups, g.F // g.groups
    db = dz.sum(axis=(0, 2, 3))
    dx = dw = None
    if method == "im2col":
        blocks = [(slice(None), g)] if cols is not None else list(_chunks(g, dz.itemsize))
        if need_w:
            dw = np.zeros((g.groups, Fg, Cg * g.K1 * g.K2), dtype=dz.dtype)
        if need_x:
            dx = np.empty((g.N, g.C, g.M1, g.M2), dtype=dz.dtype)
        for idx, gb in blocks:
            dzm = _wide(dz[idx], gb)
            if need_w:
                c = cols if cols is not None else _im2col(x[idx], gb)
                # dw[o, c, k1, k2] = sum over samples i and positions j of
                # dz[i, o, j] x_pad[i, c, S j + G k]: one product per sample, summed
                dw += np.matmul(dzm, c.swapaxes(-1, -2)).sum(axis=0)
            if need_x:
                dx[idx] = _input_gradient(dzm, w, gb)
        if need_w:
            dw = dw.reshape(w.shape)
    else:
        xp = g.padded(x) if need_w else None
        dzg = dz.reshape(g.N, g.groups, Fg, g.P1, g.P2)
        wg = w.reshape(g.groups, Fg, Cg, g.K1, g.K2)
        if need_w:
            xg = xp.reshape(g.N, g.groups, Cg, *xp.shape[2:])
            dwg = np.zeros_like(wg)
        if need_x:
            dxp = np.zeros((g.N, g.groups, Cg, g.M1 + 2 * g.E1, g.M2 + 2 * g.E2), dtype=dz.dtype)
        for k1 in range(g.K1):
            for k2 in range(g.K2):
                rows, columns = g.tap(k1, k2)
                if need_w:
                    dwg[:, :, :, k1, k2] = np.einsum("ngfab,ngcab->gfc", dzg,
                                                     xg[:, :, :, rows, columns], optimize=True)
                if need_x:
                    # the input that offset (k1, k2) met gets w[o, c, k1, k2] dz[i, o, j]
                    dxp[:, :, :, rows, columns] += np.einsum("gfc,ngfab->ngcab",
                                                             wg[:, :, :, k1, k2], dzg,
                                                             optimize=True)
        if need_w:
            dw = dwg.reshape(w.shape)
        if need_x:
            dx = dxp.reshape(g.N, g.C, *dxp.shape[3:])[:, :, g.E1:g.E1 + g.M1, g.E2:g.E2 + g.M2]
    if dx is not None:
        dx = np.ascontiguousarray(dx)
    return dx, dw, db


def conv2d(x: Any, w: Any, b: Any = None, *, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1, method: str = "im2col") -> np.ndarray:
    r"""A 2-D convolution layer (a cross-correlation), like ``torch.nn.functional.conv2d``.

    .. math::
       z_{i, o, j_1, j_2} = b_o + \sum_{k_0, k_1, k_2} w_{o, k_0, k_1, k_2}\,
       x_{i,\ g F' + k_0,\ S_1 j_1 + G_1 k_1 - E_1,\ S_2 j_2 + G_2 k_2 - E_2}

    where output channel :math:`o` belongs to group :math:`g` of ``groups`` and reads only
    that group's :math:`F' = F_{\text{in}}/\text{groups}` input channels (with one group, all of
    them); entries of ``x`` outside its rows and columns are the zero padding. Indices start
    at 0.

    Chapter: *Convolutional networks*.

    Parameters
    ----------
    x : array of shape (N, F_in, M_1, M_2)
        N samples, :math:`F_{\text{in}}` channels of :math:`M_1 \times M_2` (NCHW).
    w : array of shape (F_out, F_in / groups, K_1, K_2)
        The kernels, same dtype as ``x`` (``weight`` of ``torch.nn.Conv2d``).
    b : array of shape (F_out,), optional
        One bias per output channel.
    stride, padding, dilation : int or (int, int)
        :math:`S \ge 1`, :math:`E \ge 0` (zeros on each side), :math:`G \ge 1`, for rows and
        columns (PyTorch's arguments of the same names).
    groups : int >= 1
        Must divide :math:`F_{\text{in}}` and :math:`F_{\text{out}}`.
    method : {'im2col', 'direct'}
        ``'direct'`` adds one kernel offset at a time, as the sum is written; ``'im2col'``
        (the default, faster) does one matrix product.

    Returns
    -------
    z : array of shape (N, F_out, M_1', M_2'), with :math:`M'` from :func:`output_size`.
    """
    xa, wa, ba = _check_conv_args(x, w, b, 2)
    g = _Geometry(xa.shape, wa.shape, stride, padding, dilation, groups)
    return _forward(xa, wa, ba, g, _check_method(method))[0]


def conv2d_backward(dz: Any, x: Any, w: Any, *, stride: Any = 1, padding: Any = 0,
                    dilation: Any = 1, groups: int = 1, method: str = "im2col"
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Gradients of a loss through :func:`conv2d`, from :math:`\partial L/\partial z`.

    Differentiating the sum of :func:`conv2d` term by term:

    .. math::
       \frac{\partial L}{\partial b_o} = \sum_{i, j_1, j_2} \frac{\partial L}{\partial z_{i,o,j_1,j_2}},
       \qquad
       \frac{\partial L}{\partial w_{o,k_0,k_1,k_2}} = \sum_{i, j_1, j_2}
       \frac{\partial L}{\partial z_{i,o,j_1,j_2}}\, x_{i, k_0, S j_1 + G k_1 - E, S j_2 + G k_2 - E},

    and every input entry collects :math:`w_{o,k_0,k_1,k_2}\,\partial L/\partial z_{i,o,j_1,j_2}`
    from each output and kernel offset that read it (gradients that land in the padding are
    dropped). With stride 1 the input gradient is a full-mode correlation of
    :math:`\partial L/\partial z` with the flipped kernels.

    Chapter: *Convolutional networks*.

    Parameters
    ----------
    dz : array of shape (N, F_out, M_1', M_2')
    x, w, stride, padding, dilation, groups, method
        As given to :func:`conv2d`.

    Returns
    -------
    (dx, dw, db) : arrays shaped like ``x``, ``w`` and (F_out,).
    """
    xa, wa, _ = _check_conv_args(x, w, None, 2)
    g = _Geometry(xa.shape, wa.shape, stride, padding, dilation, groups)
    dza = _as_array(dz, "dz", 4).astype(xa.dtype, copy=False)
    if dza.shape != (g.N, g.F, g.P1, g.P2):
        raise ValueError(f"dz must have the output's shape {(g.N, g.F, g.P1, g.P2)}, got {dza.shape}")
    return _backward(dza, xa, None, wa, g, _check_method(method))


def _as_2d(x: np.ndarray, w: np.ndarray, stride, padding, dilation):
    return (x[:, :, None, :], w[:, :, None, :], (1, _pair(stride, "stride", 1, 1)[0]),
            (0, _pair(padding, "padding", 0, 1)[0]), (1, _pair(dilation, "dilation", 1, 1)[0]))


def conv1d(x: Any, w: Any, b: Any = None, *, stride: int = 1, padding: int = 0,
           dilation: int = 1, groups: int = 1, method: str = "im2col") -> np.ndarray:
    r"""A 1-D convolution layer (a cross-correlation), like ``torch.nn.functional.conv1d``.

    .. math::
       z_{i, o, j} = b_o + \sum_{k_0} \sum_{k = 0}^{K - 1} w_{o, k_0, k}\, x_{i, k_0, S j + G k - E}

    Computed as :func:`conv2d` on a single row.

    Chapter: *Convolutional networks*.

    Parameters
    ----------
    x : array of shape (N, F_in, M)
    w : array of shape (F_out, F_in / groups, K)
    b : array of shape (F_out,), optional
    stride, padding, dilation, groups, method
        As in :func:`conv2d`, one integer each.

    Returns
    -------
    z : array of shape (N, F_out, M'), :math:`M'` from :func:`output_size`.
    """
    xa, wa, ba = _check_conv_args(x, w, b, 1)
    x2, w2, s, e, d = _as_2d(xa, wa, stride, padding, dilation)
    return conv2d(x2, w2, ba, stride=s, padding=e, dilation=d, groups=groups, method=method)[:, :, 0]


def conv1d_backward(dz: Any, x: Any, w: Any, *, stride: int = 1, padding: int = 0,
                    dilation: int = 1, groups: int = 1, method: str = "im2col"
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Gradients through :func:`conv1d`: ``(dx, dw, db)`` from :math:`\partial L/\partial z` of shape (N, F_out, M').

    Chapter: *Convolutional networks*.
    """
    xa, wa, _ = _check_conv_args(x, w, None, 1)
    dza = _as_array(dz, "dz", 3)
    x2, w2, s, e, d = _as_2d(xa, wa, stride, padding, dilation)
    dx, dw, db = conv2d_backward(dza[:, :, None, :], x2, w2, stride=s, padding=e, dilation=d,
                                 groups=groups, method=method)
    return dx[:, :, 0], dw[:, :, 0], db
