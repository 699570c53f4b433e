r"""Data augmentation and other train-time noise: flips, crops, colour jitter, PCA colour noise, cutout, mixup, fractional max pooling, stochastic depth.

Taught in the chapter *Averaging and augmentation*.

Images are float arrays of shape (H, W, 3) (RGB, values in [0, 1]) unless a function says
otherwise; every random function takes ``rng`` (a ``numpy.random.Generator``, a seed or None).
No torchvision: the references in the tests are PyTorch's own operations
(``torch.nn.functional.interpolate``, ``fractional_max_pool2d``), PIL and NumPy.

* :func:`mixup` draws its weight :math:`\lambda_{\text{mix}} \sim \mathrm{Beta}(\upsilon, \upsilon)` and
  mixes images *and* one-hot labels (papers write the Beta parameter as :math:`\alpha`, which
  is the learning rate in this book).
* :func:`stochastic_depth` keeps a residual branch with survival probability :math:`p` per
  sample and divides it by :math:`p` at train time (inverted, like dropout); at test time the
  block is :math:`x + f(x)`.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ._validation import as_float_array, as_int, as_scalar, check_choice
from .dropout import check_keep
from .initialization import _rng
from .training import Classifier

__all__ = ["sample_photo", "hflip", "resize_bilinear", "crop_box", "random_resized_crop",
           "grayscale", "adjust_brightness", "adjust_contrast", "adjust_saturation", "color_jitter",
           "pca_basis", "pca_color_noise", "cutout", "mixup", "fractional_intervals",
           "fractional_max_pool2d", "stochastic_depth", "shift_digits", "AugmentedClassifier"]


def sample_photo(name: str = "china.jpg", step: int = 3) -> np.ndarray:
    """A photograph shipped with scikit-learn (``'china.jpg'`` or ``'flower.jpg'``, 427 x 640), every ``step``-th pixel, as floats in [0, 1], shape (H, W, 3)."""
    from sklearn.datasets import load_sample_image

    step = as_int(step, "step", low=1)
    return load_sample_image(name)[::step, ::step].astype(np.float64) / 255.0


def _image(img: Any, name: str = "img") -> np.ndarray:
    x = as_float_array(img, name, ndim=3)
    if x.shape[2] != 3:
        raise ValueError(f"{name} must be of shape (H, W, 3), got {x.shape}")
    return x


def hflip(img: Any) -> np.ndarray:
    """The image mirrored left to right (shape (H, W, ...) kept); applied twice it is the identity."""
    x = as_float_array(img, "img", ndim=(2, 3))
    return x[:, ::-1].copy()


def resize_bilinear(img: Any, out_h: int, out_w: int) -> np.ndarray:
    """Bilinear resize of (H, W, C) to (out_h, out_w, C), pixel centres aligned like ``F.interpolate(mode='bilinear', align_corners=False)``."""
    x = as_float_array(img, "img", ndim=3)
    H, W = x.shape[:2]
    oh, ow = as_int(out_h, "out_h", low=1), as_int(out_w, "out_w", low=1)

    def coords(n_in, n_out):
        c = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
        c = np.clip(c, 0, None)
        i0 = np.minimum(np.floor(c).astype(int), n_in - 1)
        i1 = np.minimum(i0 + 1, n_in - 1)
        return i0, i1, c - i0

    r0, r1, fr = coords(H, oh)
    c0, c1, fc = coords(W, ow)
    top = x[r0][:, c0] * (1 - fc)[None, :, None] + x[r0][:, c1] * fc[None, :, None]
    bot = x[r1][:, c0] * (1 - fc)[None, :, None] + x[r1][:, c1] * fc[None, :, None]
    return top * (1 - fr)[:, None, None] + bot * fr[:, None, None]


def crop_box(H: int, W: int, scale: tuple[float, float], ratio: tuple[float, float],
             rng: Any = None) -> tuple[int, int, int, int]:
    """A random box ``(top, left, height, width)`` covering a fraction in ``scale`` of the area, with aspect ratio (w/h) log-uniform in ``ratio``.

    Ten tries, then the whole image (as ``RandomResizedCrop`` does, without its centre-crop fallback).
    """
    g = _rng(rng)
    lo, hi = (as_scalar(v, "scale", low=0.0, high=1.0) for v in scale)
    if not 0 < lo <= hi:
        raise ValueError(f"scale must be (lo, hi) with 0 < lo <= hi <= 1, got {scale}")
    r_lo, r_hi = (as_scalar(v, "ratio", low=0.0, low_open=True) for v in ratio)
    for _ in range(10):
        area = H * W * g.uniform(lo, hi)
        ar = np.exp(g.uniform(np.log(r_lo), np.log(r_hi)))
        w = int(round(np.sqrt(area * ar)))
        h = int(round(np.sqrt(area / ar)))
        if 0 < w <= W and 0 < h <= H:
            return int(g.integers(0, H - h + 1)), int(g.integers(0, W - w + 1)), h, w
    return 0, 0, H, W


def random_resized_crop(img: Any, out_size: tuple[int, int] | None = None,
                        scale: tuple[float, float] = (0.25, 1.0),
                        ratio: tuple[float, float] = (3 / 4, 4 / 3), rng: Any = None) -> np.ndarray:
    """Random crop and scale: a :func:`crop_box` resized (bilinear) to ``out_size`` (default: the input's size)."""
    x = as_float_array(img, "img", ndim=3)
    H, W = x.shape[:2]
    oh, ow = out_size if out_size is not None else (H, W)
    t, l, h, w = crop_box(H, W, scale, ratio, rng)
    return resize_bilinear(x[t:t + h, l:l + w], oh, ow)


def grayscale(img: Any) -> np.ndarray:
    """Luma :math:`0.299R + 0.587G + 0.114B` (ITU-R 601, as PIL's ``convert('L')``), shape (H, W)."""
    x = _image(img)
    return x @ np.array([0.299, 0.587, 0.114])


def adjust_brightness(img: Any, factor: float) -> np.ndarray:
    """Blend with black: ``factor * img``, clipped to [0, 1] (PIL's ``ImageEnhance.Brightness``)."""
    f = as_scalar(factor, "factor", low=0.0)
    return np.clip(_image(img) * f, 0.0, 1.0)


def adjust_contrast(img: Any, factor: float) -> np.ndarray:
    """Blend with the mean grey level: ``factor * img + (1 - factor) * mean(grayscale(img))``, clipped."""
    f = as_scalar(factor, "factor", low=0.0)
    x = _image(img)
    return np.clip(f * x + (1 - f) * grayscale(x).mean(), 0.0, 1.0)


def adjust_saturation(img: Any, factor: float) -> np.ndarray:
    """Blend with the image's own greyscale version: ``factor * img + (1 - factor) * grayscale(img)``, clipped (PIL's ``ImageEnhance.Color``)."""
    f = as_scalar(factor, "factor", low=0.0)
    x = _image(img)
    return np.clip(f * x + (1 - f) * grayscale(x)[..., None], 0.0, 1.0)


def color_jitter(img: Any, brightness: float = 0.4, contrast: float = 0.4, saturation: float = 0.4,
                 rng: Any = None) -> tuple[np.ndarray, tuple[float, float, float]]:
    """Brightness, contrast and saturation changed by factors uniform in ``[max(0, 1 - s), 1 + s]``, in that order.

    Returns the image and the three factors drawn.
    """
    g = _rng(rng)
    fs = []
    for name, s in (("brightness", brightness), ("contrast", contrast), ("saturation", saturation)):
        s = as_scalar(s, name, low=0.0)
        fs.append(float(g.uniform(max(0.0, 1 - s), 1 + s)))
    x = adjust_saturation(adjust_contrast(adjust_brightness(img, fs[0]), fs[1]), fs[2])
    return x, tuple(fs)


def pca_basis(img: Any) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (ascending, shape (3,)) and eigenvectors (columns, shape (3, 3)) of the covariance of the image's RGB values."""
    x = _image(img).reshape(-1, 3)
    return np.linalg.eigh(np.cov(x, rowvar=False))


def pca_color_noise(img: Any, std: float = 0.1, rng: Any = None, basis: Any = None,
                    scale: str = "eigenvalue") -> tuple[np.ndarray, np.ndarray]:
    r"""AlexNet's colour augmentation: add :math:`\sum_i \alpha_i \lambda_i u_i` to every pixel, :math:`\alpha_i \sim \mathcal N(0, \mathrm{std}^2)`.

    :math:`\lambda_i`, :math:`u_i` are the eigenvalues and eigenvectors of the RGB covariance
    (:func:`pca_basis`, of this image unless ``basis`` gives those of a data set). Krizhevsky et
    al. (2012) write the shift with :math:`\alpha_i\lambda_i`; the noise moves the colour along
    the directions in which the colours vary most. Not clipped, so the mean colour moves by
    exactly the returned shift.

    ``scale='eigenvalue'`` is the paper's formula. Its shift has the units of a *variance*, so it
    depends on the pixel scale (0-255 or 0-1); ``scale='sqrt'`` uses :math:`\sqrt{\lambda_i}`, the
    standard deviations along the components, as common re-implementations for images in [0, 1] do.

    Returns
    -------
    (image, shift) : the image (H, W, 3) and the RGB shift (3,).
    """
    x = _image(img)
    s = as_scalar(std, "std", low=0.0)
    lam, U = pca_basis(x) if basis is None else basis
    if check_choice(scale, "scale", ("eigenvalue", "sqrt")) == "sqrt":
        lam = np.sqrt(np.maximum(lam, 0.0))
    a = _rng(rng).normal(0.0, s, size=3)
    shift = U @ (a * lam)
    return x + shift, shift


def cutout(img: Any, size: int, rng: Any = None) -> tuple[np.ndarray, tuple[int, int]]:
    """Zero a ``size`` x ``size`` square whose centre is uniform over the image (clipped at the borders; DeVries & Taylor 2017).

    Returns the image (same shape, any number of channels) and the centre (row, column).
    """
    x = as_float_array(img, "img", ndim=(2, 3)).copy()
    k = as_int(size, "size", low=1)
    g = _rng(rng)
    H, W = x.shape[:2]
    r, c = int(g.integers(0, H)), int(g.integers(0, W))
    x[max(r - k // 2, 0):min(r - k // 2 + k, H), max(c - k // 2, 0):min(c - k // 2 + k, W)] = 0.0
    return x, (r, c)


def mixup(x1: Any, y1: int, x2: Any, y2: int, n_classes: int, upsilon: float = 0.2,
          rng: Any = None, lam: float | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    r"""Mixup: :math:`\lambda_{\text{mix}} x_1 + (1 - \lambda_{\text{mix}}) x_2` with the label :math:`\lambda_{\text{mix}} e_{y_1} + (1 - \lambda_{\text{mix}}) e_{y_2}`.

    :math:`\lambda_{\text{mix}} \sim \mathrm{Beta}(\upsilon, \upsilon)` unless ``lam`` is given
    (papers call :math:`\upsilon` :math:`\alpha`). Labels are classes ``0, ..., n_classes - 1``.

    Returns
    -------
    (x, soft_label, lam) : the mixed input (shape of x1), the label of shape (n_classes,), summing to 1, and the weight.
    """
    a = as_float_array(x1, "x1")
    b = as_float_array(x2, "x2")
    if a.shape != b.shape:
        raise ValueError(f"x1 and x2 must have the same shape, got {a.shape} and {b.shape}")
    C = as_int(n_classes, "n_classes", low=2)
    i, j = as_int(y1, "y1", low=0, high=C - 1), as_int(y2, "y2", low=0, high=C - 1)
    if lam is None:
        u = as_scalar(upsilon, "upsilon", low=0.0, low_open=True)
        lam = float(_rng(rng).beta(u, u))
    else:
        lam = as_scalar(lam, "lam", low=0.0, high=1.0)
    label = np.zeros(C)
    label[i] += lam
    label[j] += 1 - lam
    return lam * a + (1 - lam) * b, label, lam


def fractional_intervals(sample: float, input_size: int, output_size: int, pool_size: int,
                         dtype: Any = np.float64) -> np.ndarray:
    r"""Start indices of the pooling windows of fractional max pooling (Graham 2014), one per output.

    With :math:`a = (M - K)/(M' - 1)` and :math:`u` in [0, 1): start :math:`i` is
    :math:`\lfloor (i + u)a\rfloor - \lfloor u a\rfloor` for :math:`i < M' - 1`, and the last is
    :math:`M - K`. The gaps between starts are :math:`\lfloor a\rfloor` or :math:`\lceil a\rceil`, a
    pseudo-random mix that ``u`` fixes; PyTorch computes :math:`a` in the input's dtype.
    """
    M = as_int(input_size, "input_size", low=1)
    Mo = as_int(output_size, "output_size", low=1)
    K = as_int(pool_size, "pool_size", low=1, high=M)
    if Mo + K - 1 > M:
        raise ValueError(f"output_size + pool_size - 1 must be <= input_size, got {Mo} + {K} - 1 > {M}")
    dt = np.dtype(dtype).type
    u = dt(as_scalar(sample, "sample", low=0.0, high=1.0, high_open=True))
    seq = np.empty(Mo, dtype=int)
    if Mo > 1:
        alpha = dt(M - K) / dt(Mo - 1)
        i = np.arange(Mo - 1).astype(dt)
        seq[:-1] = ((i + u) * alpha).astype(np.int64) - int(u * alpha)
    seq[-1] = M - K
    return seq


def fractional_max_pool2d(x: Any, kernel_size: int, output_size: tuple[int, int], samples: Any) -> np.ndarray:
    """Fractional max pooling of x (N, C, H, W) with square windows, given ``samples`` (N, C, 2) in [0, 1) (column sample, row sample), as PyTorch's ``_random_samples``."""
    arr = np.asarray(x)
    dt = arr.dtype if arr.dtype in (np.float32, np.float64) else np.float64
    X = as_float_array(x, "x", ndim=4).astype(dt)
    N, C, H, W = X.shape
    K = as_int(kernel_size, "kernel_size", low=1)
    oh, ow = (as_int(v, "output_size", low=1) for v in output_size)
    S = as_float_array(samples, "samples", ndim=3)
    if S.shape != (N, C, 2):
        raise ValueError(f"samples must have shape {(N, C, 2)}, got {S.shape}")
    out = np.empty((N, C, oh, ow), dt)
    for n in range(N):
        for c in range(C):
            cols = fractional_intervals(S[n, c, 0], W, ow, K, dt)
            rows = fractional_intervals(S[n, c, 1], H, oh, K, dt)
            for i, r in enumerate(rows):
                for j, q in enumerate(cols):
                    out[n, c, i, j] = X[n, c, r:r + K, q:q + K].max()
    return out


def stochastic_depth(x: Any, fx: Any, p: float, *, train: bool = True, rng: Any = None) -> tuple[np.ndarray, np.ndarray]:
    r"""A residual block with stochastic depth: :math:`x + \frac{b}{p} f(x)` at train time, :math:`x + f(x)` at test time.

    :math:`b \sim \mathrm{Bernoulli}(p)` per sample (row of ``x``), :math:`p` the survival
    probability. Huang et al. (2016) scale by :math:`p` at test time instead (the vanilla form);
    this is the inverted form, torchvision's ``stochastic_depth(mode='row')`` with its
    drop probability :math:`1 - p`.

    Parameters
    ----------
    x, fx : arrays of the same shape (N, ...): the block's input and its residual branch's output.

    Returns
    -------
    (out, b) : the output and the mask of shape (N,).
    """
    a = as_float_array(x, "x")
    f = as_float_array(fx, "fx")
    if a.shape != f.shape:
        raise ValueError(f"x and fx must have the same shape, got {a.shape} and {f.shape}")
    p = check_keep(p)
    if not train:
        return a + f, np.ones(a.shape[0])
    b = (_rng(rng).random(a.shape[0]) < p).astype(float)
    return a + (b / p).reshape((-1,) + (1,) * (a.ndim - 1)) * f, b


def shift_digits(X: Any, mean: Any, std: Any, max_shift: int = 1, rng: Any = None) -> np.ndarray:
    """Shift each standardised 8 x 8 digit (rows of X, shape (N, 64)) by up to ``max_shift`` pixels in each direction.

    The shift happens on the raw images (``X * std + mean``, blank borders filled with 0), which are then standardised again.
    """
    Xa = as_float_array(X, "X", ndim=2)
    if Xa.shape[1] != 64:
        raise ValueError(f"X must have 64 columns (8 x 8 images), got {Xa.shape}")
    k = as_int(max_shift, "max_shift", low=0, high=7)
    g = _rng(rng)
    mu, sd = np.asarray(mean, float), np.asarray(std, float)
    raw = (Xa * sd + mu).reshape(-1, 8, 8)
    out = np.zeros_like(raw)
    shifts = g.integers(-k, k + 1, size=(len(raw), 2))
    for i, (dr, dc) in enumerate(shifts):
        src = raw[i, max(-dr, 0):8 - max(dr, 0), max(-dc, 0):8 - max(dc, 0)]
        out[i, max(dr, 0):8 - max(-dr, 0), max(dc, 0):8 - max(-dc, 0)] = src
    return ((out.reshape(-1, 64) - mu) / sd).astype(Xa.dtype)


class AugmentedClassifier(Classifier):
    """A classifier whose training batches pass through ``augment(X, rng)`` first (evaluation sees the original inputs).

    Wraps ``model`` (the same ``params``), so :func:`dlnotes.training.train` trains it unchanged.
    """

    def __init__(self, model: Classifier, augment: Callable[[np.ndarray, np.random.Generator], np.ndarray],
                 seed: int = 0) -> None:
        if not isinstance(model, Classifier):
            raise TypeError(f"model must be a dlnotes.training.Classifier, got {type(model).__name__}")
        if not callable(augment):
            raise TypeError("augment must be callable (X, rng) -> X")
        self.model, self.augment = model, augment
        self.params = model.params
        self.n_features, self.n_classes = model.n_features, model.n_classes
        self.rng = np.random.default_rng(seed)

    def forward(self, X: np.ndarray) -> tuple[np.ndarray, tuple]:
        self.model.training = self.training
        if self.training:
            X = self.augment(X, self.rng).astype(X.dtype, copy=False)
        return self.model.forward(X)

    def backward(self, dscores: np.ndarray, cache: tuple) -> list[np.ndarray]:
        return self.model.backward(dscores, cache)
