r"""Small NumPy classifiers and a deterministic minibatch training loop, for comparing optimizers on real data.

Taught in the chapters *Gradient descent and its problems* (batch sizes) and *Adaptive
learning rates* (training a classifier with each optimizer, minibatch noise, schedules), and
used by *Convolutional networks*, *Transfer learning* and *The tuning recipe*.

* :class:`SoftmaxRegression`: scores (logits) :math:`z = XW + b` (a convex problem);
* :class:`MLP`: one hidden layer, :math:`z = \phi(XW_1 + b_1)W_2 + b_2` (not convex).

Both minimise the mean softmax cross-entropy
:math:`L(\theta) = \frac1N\sum_i -\log\operatorname{softmax}(z_i)_{y_i}` computed by
:func:`dlnotes.losses.softmax_cross_entropy`, with a ``forward`` that returns the scores
and a cache and a ``backward`` that turns :math:`\partial L/\partial z` into the
parameter gradients. :func:`train` runs minibatch SGD-style training with any
:mod:`dlnotes.optim` optimizer and records the losses; :func:`compare_optimizers` trains
the same initial model with several optimizers on the same batches.

Everything is deterministic: the model's initial weights come from its ``seed``, the
order of the minibatches from ``train``'s ``seed``.
"""

from __future__ import annotations

import numbers
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from ._validation import as_float_array, as_labels
from .datasets import Dataset
from .losses import softmax_cross_entropy, softmax_cross_entropy_grad
from .optim import Optimizer

__all__ = ["Classifier", "SoftmaxRegression", "MLP", "minibatch_indices", "History", "train",
           "compare_optimizers"]


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _dtype(dtype: Any) -> np.dtype:
    dt = np.dtype(dtype)
    if dt not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    return dt


class Classifier(ABC):
    r"""Shared part of the classifiers: the loss, its gradients, predictions.

    Subclasses set ``params`` (a list of C-contiguous arrays, updated in place by the
    optimizer) and define ``forward`` and ``backward``.
    """

    params: list[np.ndarray]
    n_features: int
    n_classes: int
    #: train mode (True) or evaluation mode, like ``torch.nn.Module.train()``/``eval()``; models
    #: with batch statistics (:class:`dlnotes.batchnorm.DeepMLP`) read it, the others ignore it
    training: bool = True

    @abstractmethod
    def forward(self, X: np.ndarray) -> tuple[np.ndarray, tuple]:
        """Scores of shape (N, C) and what :meth:`backward` needs."""

    @abstractmethod
    def backward(self, dscores: np.ndarray, cache: tuple) -> list[np.ndarray]:
        """Parameter gradients from the gradient of the loss with respect to the scores."""

    def _check_X(self, X: Any) -> np.ndarray:
        Xa = as_float_array(X, "X", ndim=2)
        if Xa.shape[1] != self.n_features:
            raise ValueError(f"X must have {self.n_features} features (columns), got shape {Xa.shape}")
        return Xa.astype(self.params[0].dtype, copy=False)

    def scores(self, X: Any) -> np.ndarray:
        """Class scores (logits) of shape (N, C) for inputs X of shape (N, n_features)."""
        return self.forward(self._check_X(X))[0]

    def predict(self, X: Any) -> np.ndarray:
        """Predicted classes, shape (N,): the highest score in each row."""
        return np.argmax(self.scores(X), axis=1)

    def loss(self, X: Any, y: Any) -> float:
        r"""Mean softmax cross-entropy :math:`L(\theta)` on (X, y)."""
        return float(softmax_cross_entropy(self.scores(X), y))

    def accuracy(self, X: Any, y: Any) -> float:
        """Fraction of samples whose predicted class is the label."""
        Xa = self._check_X(X)
        t = as_labels(y, "y", n=Xa.shape[0], k=self.n_classes)
        return float(np.mean(self.predict(Xa) == t))

    def loss_and_grads(self, X: Any, y: Any) -> tuple[float, list[np.ndarray]]:
        r"""Mean softmax cross-entropy on a batch and its gradients.

        Parameters
        ----------
        X : array of shape (B, n_features)
        y : int array of shape (B,), labels in {0, ..., C-1}

        Returns
        -------
        (loss, grads) : float and a list of arrays shaped like ``params`` (same dtype).
        """
        Xa = self._check_X(X)
        s, cache = self.forward(Xa)
        loss = float(softmax_cross_entropy(s, y))
        ds = softmax_cross_entropy_grad(s, y)
        grads = self.backward(ds.astype(s.dtype, copy=False), cache)
        return loss, [g.astype(p.dtype, copy=False) for g, p in zip(grads, self.params)]

    @property
    def n_params(self) -> int:
        """Total number of parameters."""
        return int(sum(p.size for p in self.params))


class SoftmaxRegression(Classifier):
    r"""Softmax (multinomial logistic) regression, scores :math:`z = XW + b`.

    Parameters: ``W`` of shape (n_features, C) drawn from :math:`\mathcal N(0, 0.01^2)` with
    ``seed``, ``b`` of shape (C,) zero; ``params = [W, b]``. The loss is convex in
    :math:`(W, b)`.

    Chapters: *Gradient descent and its problems*, *Adaptive learning rates*, *Learning-rate schedules* (a convex problem to compare optimizers on).

    Parameters
    ----------
    n_features : int
        Number of inputs, :math:`n_{in}`.
    n_classes : int >= 2
        :math:`C`.
    seed : int
    dtype : float32 or float64
    """

    def __init__(self, n_features: int, n_classes: int, seed: int = 0, dtype: Any = np.float64) -> None:
        self.n_features = _positive_int(n_features, "n_features")
        self.n_classes = _positive_int(n_classes, "n_classes")
        if self.n_classes < 2:
            raise ValueError(f"n_classes must be >= 2, got {n_classes}")
        dt = _dtype(dtype)
        rng = np.random.default_rng(seed)
        self.W = (0.01 * rng.standard_normal((self.n_features, self.n_classes))).astype(dt)
        self.b = np.zeros(self.n_classes, dt)
        self.params = [self.W, self.b]

    def forward(self, X: np.ndarray) -> tuple[np.ndarray, tuple]:
        """Scores of shape (N, C) and the cache ``(X,)`` for :meth:`backward`."""
        return X @ self.W + self.b, (X,)

    def backward(self, dscores: np.ndarray, cache: tuple) -> list[np.ndarray]:
        r"""Gradients :math:`[X^\top \partial z,\ \sum_i \partial z_i]` from :math:`\partial z = \partial L/\partial z` of shape (N, C)."""
        (X,) = cache
        return [X.T @ dscores, dscores.sum(axis=0)]


_ACT = {
    "relu": (lambda z: np.maximum(z, 0.0), lambda z, h: (z > 0).astype(z.dtype)),
    "tanh": (np.tanh, lambda z, h: 1.0 - h * h),
}


class MLP(Classifier):
    r"""One-hidden-layer network: pre-activation :math:`z^{(1)} = XW_1 + b_1`, activation :math:`a^{(1)} = \phi(z^{(1)})`, scores :math:`z = z^{(2)} = a^{(1)}W_2 + b_2`.

    Initialisation (with ``seed``): :math:`W_1 \sim \mathcal N(0, \text{gain}/n_{in})` with
    gain 2 for ReLU (He) and 1 for tanh (LeCun/Xavier), :math:`n_{in}` = ``n_features`` the
    fan-in of the first layer, and :math:`W_2 \sim \mathcal N(0, 1/\texttt{n\_hidden})` (its
    fan-in), biases zero. ``params = [W1, b1, W2, b2]``.

    Chapters: *Gradient descent and its problems*, *Adaptive learning rates*, *Learning-rate schedules* (training a small network on digits).

    Parameters
    ----------
    n_features : int
        Number of inputs, :math:`n_{in}`.
    n_hidden : int
        Number of hidden units.
    n_classes : int >= 2
        :math:`C`.
    activation : {'relu', 'tanh'}
    seed : int
    dtype : float32 or float64
    """

    def __init__(self, n_features: int, n_hidden: int, n_classes: int, activation: str = "relu",
                 seed: int = 0, dtype: Any = np.float64) -> None:
        self.n_features = _positive_int(n_features, "n_features")
        self.n_hidden = _positive_int(n_hidden, "n_hidden")
        self.n_classes = _positive_int(n_classes, "n_classes")
        if self.n_classes < 2:
            raise ValueError(f"n_classes must be >= 2, got {n_classes}")
        if activation not in _ACT:
            raise ValueError(f"activation must be one of {tuple(_ACT)}, got {activation!r}")
        self.activation = activation
        dt = _dtype(dtype)
        rng = np.random.default_rng(seed)
        gain = 2.0 if activation == "relu" else 1.0
        D, H, k = self.n_features, self.n_hidden, self.n_classes
        self.W1 = (np.sqrt(gain / D) * rng.standard_normal((D, H))).astype(dt)
        self.b1 = np.zeros(H, dt)
        self.W2 = (np.sqrt(1.0 / H) * rng.standard_normal((H, k))).astype(dt)
        self.b2 = np.zeros(k, dt)
        self.params = [self.W1, self.b1, self.W2, self.b2]

    def forward(self, X: np.ndarray) -> tuple[np.ndarray, tuple]:
        """Scores of shape (N, C) and the cache ``(X, z1, a1)`` (pre-activation and activation of the hidden layer) for :meth:`backward`."""
        phi, _ = _ACT[self.activation]
        z = X @ self.W1 + self.b1
        h = phi(z)
        return h @ self.W2 + self.b2, (X, z, h)

    def backward(self, dscores: np.ndarray, cache: tuple) -> list[np.ndarray]:
        r"""Backpropagation: gradients of ``[W1, b1, W2, b2]`` from :math:`\partial L/\partial z`."""
        X, z, h = cache
        _, dphi = _ACT[self.activation]
        dW2 = h.T @ dscores
        db2 = dscores.sum(axis=0)
        dz = (dscores @ self.W2.T) * dphi(z, h)
        return [X.T @ dz, dz.sum(axis=0), dW2, db2]


def minibatch_indices(n: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch of minibatches: a random permutation of ``range(n)`` cut into batches.

    Every sample appears exactly once; the last batch is smaller when ``batch_size``
    does not divide ``n``. Returns a list of int arrays.
    """
    n = _positive_int(n, "n")
    batch_size = _positive_int(batch_size, "batch_size")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    perm = rng.permutation(n)
    return [perm[i:i + batch_size] for i in range(0, n, batch_size)]


@dataclass(frozen=True)
class History:
    """What :func:`train` recorded.

    Attributes
    ----------
    step_loss : array of shape (steps,)
        The minibatch loss at each step, before the update (a noisy curve).
    lr : array of shape (steps,)
        The learning rate of each step.
    epoch : array of shape (epochs + 1,)
        0, 1, ..., epochs; entry 0 is the model before training.
    train_loss, val_loss, train_accuracy, val_accuracy : arrays of shape (epochs + 1,)
        On the full training and validation sets after each epoch (NaN after a divergence).
    steps_per_epoch : int
    diverged : bool
        True if the scores became infinite or NaN; training stopped there.
    seconds : float
        Wall-clock time of the training loop.
    """

    step_loss: np.ndarray
    lr: np.ndarray
    epoch: np.ndarray
    train_loss: np.ndarray
    val_loss: np.ndarray
    train_accuracy: np.ndarray
    val_accuracy: np.ndarray
    steps_per_epoch: int
    diverged: bool
    seconds: float


def train(model: Classifier, optimizer: Optimizer, data: Dataset, *, epochs: int = 10,
          batch_size: int = 64, seed: int = 0, schedule: Callable[[int], float] | None = None,
          progress: bool = True, desc: str | None = None) -> History:
    r"""Train ``model`` with ``optimizer`` by minibatch gradient steps, deterministically.

    Each epoch visits the training samples in a fresh random order (from ``seed``), in
    batches of ``batch_size``; each batch gives one optimizer step on the batch's mean
    loss. With ``schedule``, the optimizer's rate is set to ``schedule(t)`` before step
    ``t`` (counted over the whole run).

    Chapters: *Gradient descent and its problems*, *Adaptive learning rates*, *Learning-rate schedules* (training a classifier).

    Parameters
    ----------
    model : Classifier
    optimizer : dlnotes.optim.Optimizer
        Built on ``model.params`` (the same arrays).
    data : dlnotes.datasets.Dataset
        With integer labels, e.g. :func:`dlnotes.datasets.digits`.
    epochs : int >= 1
    batch_size : int >= 1
        ``batch_size >= N`` is full-batch gradient descent.
    seed : int
        Seeds the order of the minibatches.
    schedule : callable, optional
        :math:`t \mapsto \alpha_t` (see :mod:`dlnotes.schedules`).
    progress : bool
        Show a ``tqdm`` progress bar (a widget in Jupyter); False hides it.
    desc : str, optional
        Label of the progress bar.

    Returns
    -------
    History
    """
    from tqdm.auto import tqdm

    if not isinstance(model, Classifier):
        raise TypeError(f"model must be a dlnotes.training.Classifier, got {type(model).__name__}")
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a dlnotes.optim.Optimizer, got {type(optimizer).__name__}")
    if len(optimizer.params) != len(model.params) or any(
            a is not b for a, b in zip(optimizer.params, model.params)):
        raise ValueError("optimizer must be built on model.params (the same arrays, in order), "
                         "e.g. optim.Adam(model.params)")
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be a dlnotes.datasets.Dataset, got {type(data).__name__}")
    epochs = _positive_int(epochs, "epochs")
    batch_size = _positive_int(batch_size, "batch_size")
    if schedule is not None and not callable(schedule):
        raise TypeError(f"schedule must be callable (t -> lr) or None, got {type(schedule).__name__}")
    X = model._check_X(data.X_train)
    y = as_labels(data.y_train, "data.y_train", n=X.shape[0], k=model.n_classes)
    Xv = model._check_X(data.X_val)
    yv = as_labels(data.y_val, "data.y_val", n=Xv.shape[0], k=model.n_classes)

    n = X.shape[0]
    steps_per_epoch = -(-n // batch_size)
    total = epochs * steps_per_epoch
    step_loss = np.full(total, np.nan)
    lrs = np.full(total, np.nan)
    metrics = np.full((4, epochs + 1), np.nan)

    def evaluate(e: int) -> bool:
        model.training = False
        s_tr, s_va = model.forward(X)[0], model.forward(Xv)[0]
        model.training = True
        if not (np.all(np.isfinite(s_tr)) and np.all(np.isfinite(s_va))):
            return False
        metrics[:, e] = (softmax_cross_entropy(s_tr, y), softmax_cross_entropy(s_va, yv),
                         np.mean(np.argmax(s_tr, axis=1) == y), np.mean(np.argmax(s_va, axis=1) == yv))
        return True

    rng = np.random.default_rng(seed)
    diverged = not evaluate(0)
    t = 0
    start = time.perf_counter()
    with tqdm(total=total, disable=not progress, desc=desc, leave=False) as bar, \
            np.errstate(over="ignore", invalid="ignore"):
        for e in range(1, epochs + 1):
            if diverged:
                break
            for idx in minibatch_indices(n, batch_size, rng):
                if schedule is not None:
                    optimizer.lr = schedule(t)
                s, cache = model.forward(X[idx])
                if not np.all(np.isfinite(s)):
                    diverged = True
                    break
                step_loss[t] = softmax_cross_entropy(s, y[idx])
                ds = softmax_cross_entropy_grad(s, y[idx]).astype(s.dtype, copy=False)
                grads = [g.astype(p.dtype, copy=False) for g, p in
                         zip(model.backward(ds, cache), model.params)]
                lrs[t] = optimizer.lr
                optimizer.step(grads)
                t += 1
                bar.update(1)
            if not diverged:
                diverged = not evaluate(e)
                bar.set_postfix(epoch=e, loss=f"{metrics[0, e]:.4f}", refresh=False)
    seconds = time.perf_counter() - start
    return History(step_loss, lrs, np.arange(epochs + 1), metrics[0], metrics[1], metrics[2],
                   metrics[3], steps_per_epoch, diverged, seconds)


def compare_optimizers(make_model: Callable[[], Classifier],
                       optimizers: Mapping[str, Callable[[list[np.ndarray]], Optimizer]],
                       data: Dataset, *, epochs: int = 10, batch_size: int = 64, seed: int = 0,
                       schedule: Callable[[int], float] | None = None,
                       progress: bool = True) -> dict[str, History]:
    """Train a fresh copy of the same model with each optimizer, on the same minibatches.

    Chapters: *Gradient descent and its problems*, *Adaptive learning rates*, *Learning-rate schedules* (comparing optimizers on digits).

    Parameters
    ----------
    make_model : callable
        Returns a new model; call it with a fixed seed so every optimizer starts from the
        same weights, e.g. ``lambda: MLP(64, 32, 10, seed=0)``.
    optimizers : mapping of name to callable
        Each builds an optimizer on a parameter list, e.g.
        ``{"Adam": lambda p: optim.Adam(p, lr=1e-3)}``.
    data, epochs, batch_size, seed, schedule, progress : as in :func:`train`

    Returns
    -------
    dict of name to :class:`History`, in the order given.
    """
    if not callable(make_model):
        raise TypeError(f"make_model must be callable, got {type(make_model).__name__}")
    if not isinstance(optimizers, Mapping) or not optimizers:
        raise TypeError("optimizers must be a non-empty mapping of name -> make_optimizer")
    out = {}
    for name, make in optimizers.items():
        model = make_model()
        out[name] = train(model, make(model.params), data, epochs=epochs, batch_size=batch_size,
                          seed=seed, schedule=schedule, progress=progress, desc=name)
    return out
