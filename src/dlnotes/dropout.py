r"""Dropout and DropConnect: train-time masks, test-time averaging, and the exact expectation by enumeration.

Taught in the chapter *Dropout and batch normalization*.

**The convention.** In this book :math:`p` is the **keep** probability: each unit survives
with probability :math:`p` and is zeroed with probability :math:`1 - p`. PyTorch's ``p``
(``torch.nn.functional.dropout(x, p)``, ``torch.nn.Dropout(p)``) is the **drop** probability,
so PyTorch's ``p`` is :math:`1 - p` here; :func:`torch_p` and :func:`keep_from_torch` convert.

A mask :math:`\xi \in \{0, 1\}^n` has independent entries with :math:`\Pr(\xi_j = 1) = p`.

* **Vanilla dropout**: train :math:`\xi \odot a`, test :math:`p\,a`;
* **inverted dropout** (what PyTorch does): train :math:`\xi \odot a / p`, test :math:`a`.

Both make the test-time output equal to the expected train-time output of a linear unit.
For small :math:`n` every mask can be enumerated (:func:`enumerate_masks`), which gives the
exact expectation :math:`\mathbb E_\xi[\phi(\sum_j \xi_j w_j x_j)]` for any activation and
shows where "multiply by :math:`p`" is exact and where it is only an approximation.
"""

from __future__ import annotations

import itertools
import numbers
from typing import Any, Callable

import numpy as np

from ._validation import as_float_array, as_int, check_choice
from .initialization import _rng  # a Generator, an int seed or None

__all__ = ["check_keep", "torch_p", "keep_from_torch", "draw_mask", "dropout_forward",
           "dropout_backward", "enumerate_masks", "neuron_under_dropout", "expected_output",
           "monte_carlo_output", "subnetwork_predictions", "ensemble_predictions",
           "dropconnect_forward", "dropconnect_backward", "DropoutMLP", "MAX_ENUMERATED"]

MAX_ENUMERATED = 20  # 2**20 masks: about a million rows, the most an enumeration should hold


def check_keep(p: Any, name: str = "p") -> float:
    """The keep probability as a float in (0, 1], or a ValueError/TypeError naming ``name``."""
    if isinstance(p, bool) or not isinstance(p, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{name} (the keep probability) must be a real number in (0, 1], "
                        f"got {type(p).__name__}")
    v = float(p)
    if not (0.0 < v <= 1.0):
        raise ValueError(f"{name} (the keep probability) must be in (0, 1], got {v!r}; note that "
                         "PyTorch's p is the drop probability, 1 - p")
    return v


def torch_p(p: float) -> float:
    """PyTorch's ``p`` (drop probability) for the book's keep probability ``p``: ``1 - p``."""
    return 1.0 - check_keep(p)


def keep_from_torch(p_drop: float) -> float:
    """The book's keep probability for PyTorch's ``p`` (drop probability in [0, 1)): ``1 - p_drop``."""
    if isinstance(p_drop, bool) or not isinstance(p_drop, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"p_drop must be a real number in [0, 1), got {type(p_drop).__name__}")
    v = float(p_drop)
    if not (0.0 <= v < 1.0):
        raise ValueError(f"p_drop (PyTorch's drop probability) must be in [0, 1), got {v!r}")
    return 1.0 - v


def draw_mask(shape: Any, p: float, rng: Any = None) -> np.ndarray:
    r"""A mask of zeros and ones of the given shape, each entry 1 with probability ``p`` (independently).

    Parameters
    ----------
    shape : tuple of int
    p : float in (0, 1]
        Keep probability.
    rng : numpy.random.Generator, int seed or None

    Returns
    -------
    float64 array of ``shape`` with entries in {0, 1}.
    """
    p = check_keep(p)
    return (_rng(rng).random(shape) < p).astype(np.float64)


def dropout_forward(a: Any, p: float, *, train: bool = True, inverted: bool = True,
                    mask: Any = None, rng: Any = None) -> tuple[np.ndarray, tuple]:
    r"""Dropout of activations ``a`` with keep probability ``p``.

    ============  ===========================  =====================
    variant       train                        test
    ============  ===========================  =====================
    vanilla       :math:`\xi \odot a`          :math:`p\,a`
    inverted      :math:`\xi \odot a / p`      :math:`a`
    ============  ===========================  =====================

    PyTorch's ``F.dropout(a, p=1 - p, training=True)`` is the inverted train-time row.

    Parameters
    ----------
    a : array of any shape, float32 or float64 (kept)
    p : float in (0, 1]
        Keep probability (PyTorch's ``p`` is ``1 - p``).
    train : bool
        Train time (a random mask) or test time (deterministic).
    inverted : bool
        Inverted dropout (scale by 1/p at train time) or vanilla (scale by p at test time).
    mask : array shaped like ``a`` with entries in {0, 1}, optional
        The mask to use at train time; drawn from ``rng`` if omitted.
    rng : numpy.random.Generator, int seed or None

    Returns
    -------
    (out, cache) : the output, shaped like ``a``, and what :func:`dropout_backward` needs.
    """
    p = check_keep(p)
    arr = np.asarray(a)
    dt = arr.dtype if arr.dtype in (np.float32, np.float64) else np.float64
    x = as_float_array(a, "a", allow_empty=True).astype(dt, copy=False)
    if not train:
        scale = 1.0 if inverted else p
        return x * dt.type(scale), ("test", scale, None)
    if mask is None:
        m = draw_mask(x.shape, p, rng)
    else:
        m = as_float_array(mask, "mask", allow_empty=True)
        if m.shape != x.shape:
            raise ValueError(f"mask must have the shape of a, {x.shape}, got {m.shape}")
        if not np.all((m == 0) | (m == 1)):
            raise ValueError("mask must hold only 0 and 1")
    m = m.astype(dt)
    if inverted:
        m = m / dt.type(p)
    return x * m, ("train", None, m)


def dropout_backward(dout: Any, cache: tuple) -> np.ndarray:
    r"""Gradient with respect to ``a`` from the gradient ``dout`` of the output (same shape).

    Dropout is linear in ``a``: the gradient is ``dout`` times the same scaled mask (train) or
    the same constant (test) as the forward pass.
    """
    kind, scale, m = cache
    g = np.asarray(dout)
    if kind == "test":
        return g * scale
    if g.shape != m.shape:
        raise ValueError(f"dout must have the shape of the forward output, {m.shape}, got {g.shape}")
    return g * m


def enumerate_masks(n: int, p: float) -> tuple[np.ndarray, np.ndarray]:
    r"""Every mask :math:`\xi \in \{0,1\}^n` and its probability :math:`p^{k}(1-p)^{n-k}` (k = ones kept).

    Rows are in binary order: mask 0 drops everything, the last keeps everything.

    Returns
    -------
    masks : float array of shape (2**n, n)
    probs : float array of shape (2**n,), summing to 1
    """
    n = as_int(n, "n", low=1, high=MAX_ENUMERATED)
    p = check_keep(p)
    masks = np.array(list(itertools.product((0.0, 1.0), repeat=n)))
    k = masks.sum(axis=1)
    probs = p ** k * (1.0 - p) ** (n - k)
    return masks, probs


def _identity(z: np.ndarray) -> np.ndarray:
    return z


def _phi(phi: Any) -> Callable[[np.ndarray], np.ndarray]:
    if phi is None:
        return _identity
    if isinstance(phi, str):
        from .activations import sigmoid
        table = {"identity": _identity, "sigmoid": sigmoid, "relu": lambda z: np.maximum(z, 0.0),
                 "tanh": np.tanh}
        return table[check_choice(phi, "phi", tuple(table))]
    if not callable(phi):
        raise TypeError(f"phi must be None, a name or a callable, got {type(phi).__name__}")
    return phi


def _neuron_args(w: Any, x: Any) -> tuple[np.ndarray, np.ndarray]:
    w = as_float_array(w, "w", ndim=1)
    x = as_float_array(x, "x", ndim=1)
    if w.shape != x.shape:
        raise ValueError(f"w and x must have the same length, got {w.shape} and {x.shape}")
    return w, x


def neuron_under_dropout(w: Any, x: Any, p: float, *, inverted: bool = False) -> dict[str, np.ndarray]:
    r"""Every mask of a linear neuron :math:`a = \sum_j w_j x_j` whose inputs are dropped with keep probability ``p``.

    Parameters
    ----------
    w, x : arrays of shape (n,), n <= 20
        Weights and inputs.
    p : float in (0, 1]
    inverted : bool
        Scale the kept inputs by 1/p (inverted dropout) or not (vanilla).

    Returns
    -------
    dict with ``masks`` (2**n, n), ``probs`` (2**n,), ``terms`` (2**n, n): the surviving
    :math:`\xi_j w_j x_j` (divided by p if inverted), and ``a`` (2**n,): their sums.
    """
    w, x = _neuron_args(w, x)
    masks, probs = enumerate_masks(w.size, p)
    terms = masks * (w * x) + 0.0  # + 0.0 turns the -0.0 of a dropped negative term into 0.0
    if inverted:
        terms = terms / check_keep(p)
    return {"masks": masks, "probs": probs, "terms": terms, "a": terms.sum(axis=1)}


def expected_output(w: Any, x: Any, p: float, phi: Any = None, *, inverted: bool = False) -> float:
    r"""The exact :math:`\mathbb E_\xi[\phi(\sum_j \xi_j w_j x_j)]` by enumerating all :math:`2^n` masks.

    ``phi`` is None (a linear unit), ``'sigmoid'``, ``'relu'``, ``'tanh'`` or a vectorised callable.
    With ``inverted`` the kept inputs are divided by ``p``.
    """
    e = neuron_under_dropout(w, x, p, inverted=inverted)
    return float(np.dot(e["probs"], _phi(phi)(e["a"])))


def monte_carlo_output(w: Any, x: Any, p: float, phi: Any = None, *, samples: int = 100_000,
                       inverted: bool = False, rng: Any = None) -> tuple[float, float]:
    r"""Monte-Carlo estimate of :func:`expected_output` from ``samples`` random masks, and its standard error.

    Returns
    -------
    (mean, standard_error) : floats
    """
    w, x = _neuron_args(w, x)
    samples = as_int(samples, "samples", low=2)
    p = check_keep(p)
    m = draw_mask((samples, w.size), p, rng)
    a = m @ (w * x)
    if inverted:
        a = a / p
    v = _phi(phi)(a)
    return float(v.mean()), float(v.std(ddof=1) / np.sqrt(samples))


def _softmax(z: np.ndarray) -> np.ndarray:
    from .losses import softmax
    return softmax(z)


def subnetwork_predictions(x: Any, W1: Any, b1: Any, W2: Any, b2: Any, p: float, *,
                           where: str = "hidden") -> dict[str, np.ndarray]:
    r"""The class probabilities of every subnetwork of a one-hidden-layer ReLU net under dropout.

    The net is :math:`\hat y = \operatorname{softmax}(\operatorname{relu}(xW_1 + b_1)W_2 + b_2)`.
    With ``where='hidden'`` the mask drops hidden units (:math:`n` = hidden units), with
    ``where='input'`` it drops inputs (:math:`n` = inputs). Vanilla dropout (no 1/p).

    Parameters
    ----------
    x : array of shape (n_in,)
    W1 : (n_in, n_hidden); b1 : (n_hidden,); W2 : (n_hidden, C); b2 : (C,)
    p : keep probability
    where : {'hidden', 'input'}

    Returns
    -------
    dict with ``masks`` (2**n, n), ``probs`` (2**n,) and ``predictions`` (2**n, C).
    """
    x = as_float_array(x, "x", ndim=1)
    W1 = as_float_array(W1, "W1", ndim=2)
    b1 = as_float_array(b1, "b1", ndim=1)
    W2 = as_float_array(W2, "W2", ndim=2)
    b2 = as_float_array(b2, "b2", ndim=1)
    if W1.shape[0] != x.size or b1.size != W1.shape[1] or W2.shape[0] != W1.shape[1] or b2.size != W2.shape[1]:
        raise ValueError(f"shapes do not chain: x {x.shape}, W1 {W1.shape}, b1 {b1.shape}, "
                         f"W2 {W2.shape}, b2 {b2.shape}")
    where = check_choice(where, "where", ("hidden", "input"))
    n = W1.shape[1] if where == "hidden" else x.size
    masks, probs = enumerate_masks(n, p)
    if where == "hidden":
        h = np.maximum(x @ W1 + b1, 0.0)
        z = (masks * h) @ W2 + b2
    else:
        z = np.maximum((masks * x) @ W1 + b1, 0.0) @ W2 + b2
    return {"masks": masks, "probs": probs, "predictions": _softmax(z)}


def ensemble_predictions(x: Any, W1: Any, b1: Any, W2: Any, b2: Any, p: float, *,
                         where: str = "hidden") -> dict[str, np.ndarray]:
    r"""Three test-time predictions of a dropout net, each of shape (C,).

    * ``arithmetic``: :math:`\sum_\xi \Pr(\xi)\,\hat y(\xi)`, the ensemble's mean prediction;
    * ``geometric``: :math:`\prod_\xi \hat y(\xi)^{\Pr(\xi)}`, renormalised to sum to 1;
    * ``weight_scaling``: one pass of the full net with the dropped layer multiplied by ``p``.

    For dropout on the units that feed the softmax (``where='hidden'``) the weight-scaling
    rule equals the renormalised geometric mean exactly; before a non-linearity it does not.
    Arguments as in :func:`subnetwork_predictions`.
    """
    sub = subnetwork_predictions(x, W1, b1, W2, b2, p, where=where)
    P, pr = sub["predictions"], sub["probs"]
    arithmetic = pr @ P
    log_g = pr @ np.log(P)
    geometric = _softmax(log_g)
    x = np.asarray(x, float)
    W1, b1, W2, b2 = (np.asarray(v, float) for v in (W1, b1, W2, b2))
    if where == "hidden":
        z = p * np.maximum(x @ W1 + b1, 0.0) @ W2 + b2
    else:
        z = np.maximum((p * x) @ W1 + b1, 0.0) @ W2 + b2
    return {"arithmetic": arithmetic, "geometric": geometric, "weight_scaling": _softmax(z)}


def dropconnect_forward(x: Any, W: Any, b: Any, p: float, *, train: bool = True, mask: Any = None,
                        rng: Any = None) -> tuple[np.ndarray, tuple]:
    r"""A dense layer :math:`z = x(\Xi \odot W)/p + b` with DropConnect: each weight kept with probability ``p``.

    Inverted scaling (1/p at train time), so the test-time layer is :math:`xW + b`. One mask
    :math:`\Xi` (shape of W) is shared by the batch, as in a layer whose weights are masked.

    Parameters
    ----------
    x : array of shape (N, n_in); W : (n_in, n_out); b : (n_out,)
    p : keep probability of a weight
    train : bool
    mask : array of shape (n_in, n_out) in {0, 1}, optional
    rng : generator, seed or None

    Returns
    -------
    (z, cache) : z of shape (N, n_out) and what :func:`dropconnect_backward` needs.
    """
    p = check_keep(p)
    x = as_float_array(x, "x", ndim=2)
    W = as_float_array(W, "W", ndim=2)
    b = as_float_array(b, "b", ndim=1)
    if x.shape[1] != W.shape[0] or b.size != W.shape[1]:
        raise ValueError(f"shapes do not chain: x {x.shape}, W {W.shape}, b {b.shape}")
    if not train:
        return x @ W + b, (x, W, np.ones_like(W))
    if mask is None:
        m = draw_mask(W.shape, p, rng)
    else:
        m = as_float_array(mask, "mask")
        if m.shape != W.shape or not np.all((m == 0) | (m == 1)):
            raise ValueError(f"mask must be a 0/1 array of shape {W.shape}")
    m = m / p
    return x @ (m * W) + b, (x, W, m)


def dropconnect_backward(dz: Any, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gradients ``(dx, dW, db)`` of a DropConnect layer from ``dz`` of shape (N, n_out)."""
    x, W, m = cache
    dz = np.asarray(dz, float)
    return dz @ (m * W).T, m * (x.T @ dz), dz.sum(axis=0)


from .training import MLP  # noqa: E402  (the classifier below builds on it)


class DropoutMLP(MLP):
    r"""The one-hidden-layer :class:`dlnotes.training.MLP` with inverted dropout on its hidden units.

    At train time (``training`` True, as :func:`dlnotes.training.train` sets it) the hidden
    activations are :math:`\xi \odot a^{(1)}/p` with a fresh mask per batch; in evaluation mode
    the network is the plain MLP. ``keep_input`` < 1 drops inputs too. Same parameters and
    initialisation as ``MLP(..., seed)``.
    """

    def __init__(self, n_features: int, n_hidden: int, n_classes: int, p: float = 0.5, *,
                 keep_input: float = 1.0, activation: str = "relu", seed: int = 0,
                 dtype: Any = np.float64, mask_seed: int = 0) -> None:
        super().__init__(n_features, n_hidden, n_classes, activation, seed, dtype)
        self.p = check_keep(p)
        self.keep_input = check_keep(keep_input, "keep_input")
        self.rng = np.random.default_rng(mask_seed)

    def forward(self, X: np.ndarray) -> tuple[np.ndarray, tuple]:
        if not self.training:
            s, (X0, z, h) = super().forward(X)
            return s, (X0, z, h, None, None)
        m_in = None
        if self.keep_input < 1:
            m_in = (self.rng.random(X.shape) < self.keep_input).astype(X.dtype) / X.dtype.type(self.keep_input)
            X = X * m_in
        phi = np.maximum if self.activation == "relu" else None
        z = X @ self.W1 + self.b1
        h = np.maximum(z, 0.0) if phi is not None else np.tanh(z)
        m = (self.rng.random(h.shape) < self.p).astype(h.dtype) / h.dtype.type(self.p)
        hd = h * m
        return hd @ self.W2 + self.b2, (X, z, h, m, m_in)

    def backward(self, dscores: np.ndarray, cache: tuple) -> list[np.ndarray]:
        X, z, h, m, _ = cache
        if m is None:
            return super().backward(dscores, (X, z, h))
        hd = h * m
        dh = (dscores @ self.W2.T) * m
        dz = dh * ((z > 0).astype(z.dtype) if self.activation == "relu" else 1.0 - h * h)
        return [X.T @ dz, dz.sum(axis=0), hd.T @ dscores, dscores.sum(axis=0)]
