r"""Transfer learning with the book's CNN: tasks, a shipped pre-trained model, probes, fine-tuning.

Taught in the chapters *Transfer learning* and *Fine-tuning*.

**The tasks.** The *source* task is scikit-learn's digits 0-4, the *target* task the digits
5-9 (relabelled 0-4), both from :func:`dlnotes.datasets.digits` with its split, through
:func:`dlnotes.cnn.class_subset` (:func:`tasks`). :func:`few_shot` keeps a few labelled
training images per class; :func:`rotate` and :func:`invert` make a *different* target
domain out of the same images.

**The pre-trained model.** :func:`pretrain` trains :class:`dlnotes.cnn.CNN` on the source task
deterministically (float64, fixed seeds). Its weights ship with the package
(``dlnotes/data/pretrained_digits04.npz``, written by ``dlnotes pretrain``) and
:func:`pretrained_cnn` loads them; a slow test re-runs :func:`pretrain` and compares the result
with the shipped file bit for bit. Float64 BLAS and NumPy kernels are chosen per CPU and differ
in the last bits, so :func:`pretrain_portable` (what ``dlnotes pretrain`` and the test use) runs
it under :func:`portable_env`: OpenBLAS's Haswell kernels, NumPy's AVX2 loops, one thread.

**Using it.**

* :func:`fit`: a lean minibatch loop (no evaluation between steps) with an optional callback,
  for the many short runs of the chapters;
* :func:`linear_probe`: softmax regression on frozen features, fitted to convergence with
  L-BFGS and an L2 penalty; :func:`probe_head` installs it as the CNN's head (the first stage
  of *freeze, then unfreeze*); :func:`stage_features` are the features after any conv block;
* :func:`new_model`: a fresh CNN, or the pre-trained body with a fresh head;
* :func:`grouped_sgd`: SGD with momentum and one rate for the body and one for the head
  (discriminative rates), or for the top conv blocks only (:class:`LayerwiseSGD`, which
  also accepts a rate of 0 for a frozen group);
* :func:`body_distance`: :math:`\lVert\theta_{\text{body}} - \theta_{\text{pre}}\rVert /
  \lVert\theta_{\text{pre}}\rVert`, how far fine-tuning has moved the pre-trained body;
* :func:`gradient_norms`: the size of the gradient reaching the body and the head;
* :func:`sharpness`: the largest eigenvalue :math:`\lambda_{\max}` of the Hessian of the
  training loss, from finite-difference Hessian-vector products and Lanczos
  (``scipy.sparse.linalg.eigsh``).
"""

from __future__ import annotations

import importlib.resources
import math
import numbers
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from . import optim, training
from ._validation import as_float_array, as_labels, as_scalar
from .cnn import CNN, class_subset
from .datasets import Dataset, digits
from .losses import softmax_cross_entropy, softmax_cross_entropy_grad
from ._threads import one_thread

__all__ = [
    "SOURCE_CLASSES", "TARGET_CLASSES", "PRETRAIN", "PRETRAINED_FILE", "tasks", "few_shot",
    "rotate", "invert", "pretrain", "portable_env", "pretrain_portable", "save_pretrained", "load_pretrained", "pretrained_cnn",
    "new_model", "fit", "linear_probe", "probe_accuracy", "probe_head", "stage_features",
    "LayerwiseSGD", "grouped_sgd", "body_distance", "gradient_norms", "sharpness",
]

SOURCE_CLASSES = (0, 1, 2, 3, 4)
TARGET_CLASSES = (5, 6, 7, 8, 9)

#: How the shipped model is pre-trained (the CNN, Adam, minibatches, epochs, seeds).
PRETRAIN: dict[str, Any] = {"channels": (8, 16), "lr": 3e-3, "epochs": 20, "batch_size": 32,
                            "seed": 0}
#: The shipped weights, inside the package.
PRETRAINED_FILE = "pretrained_digits04.npz"


# ------------------------------------------------------------------ tasks and data

def tasks() -> tuple[Dataset, Dataset]:
    """The source task (digits 0-4) and the target task (digits 5-9, relabelled 0-4).

    Both keep :func:`dlnotes.datasets.digits`'s split (seed 0) and standardisation. Chapter:
    *Transfer learning*.
    """
    data = digits()
    return class_subset(data, SOURCE_CLASSES), class_subset(data, TARGET_CLASSES)


def _check_data(data: Any) -> Dataset:
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be a dlnotes.datasets.Dataset, got {type(data).__name__}")
    return data


def few_shot(data: Dataset, per_class: int | None, seed: int = 0) -> Dataset:
    """``per_class`` training images of every class, drawn without replacement (``None``: all of them).

    The validation part is unchanged, so every few-shot variant is scored on the same images.
    Chapter: *Transfer learning*.
    """
    data = _check_data(data)
    if per_class is None:
        return data
    if isinstance(per_class, bool) or not isinstance(per_class, numbers.Integral) or per_class < 1:
        raise ValueError(f"per_class must be a positive integer or None, got {per_class!r}")
    rng = np.random.default_rng(seed)
    idx = []
    for c in np.unique(data.y_train):
        pool = np.flatnonzero(data.y_train == c)
        if per_class > pool.size:
            raise ValueError(f"per_class={per_class} but class {int(c)} has only {pool.size} "
                             "training images")
        idx.append(np.sort(rng.choice(pool, per_class, replace=False)))
    keep = np.concatenate(idx)
    return Dataset(data.X_train[keep], data.y_train[keep], data.X_val, data.y_val,
                   data.feature_names, f"{data.description}; {per_class} per class")


def _images(X: np.ndarray, side: int = 8) -> np.ndarray:
    if X.ndim != 2 or X.shape[1] != side * side:
        raise ValueError(f"expected flat {side}x{side} images of shape (N, {side * side}), got {X.shape}")
    return X.reshape(-1, side, side)


def rotate(data: Dataset, quarter_turns: int = 1) -> Dataset:
    """The same images turned by ``quarter_turns`` x 90 degrees (counter-clockwise): a *different* domain.

    Pixels are moved with their standardised values, which is the same as standardising the
    rotated raw images with rotated statistics. Chapter: *Transfer learning*.
    """
    data = _check_data(data)
    k = int(quarter_turns)
    turn = lambda X: np.ascontiguousarray(np.rot90(_images(X), k, axes=(1, 2)).reshape(len(X), -1))
    return Dataset(turn(data.X_train), data.y_train, turn(data.X_val), data.y_val,
                   data.feature_names, f"{data.description}; rotated by {90 * k} degrees")


def invert(data: Dataset) -> Dataset:
    """The images with dark and light swapped: raw pixel :math:`16 - p`, which standardised is :math:`-x`."""
    data = _check_data(data)
    return Dataset(-data.X_train, data.y_train, -data.X_val, data.y_val, data.feature_names,
                   f"{data.description}; inverted")


# ------------------------------------------------------------------ the pre-trained model

def pretrain(progress: bool = False) -> CNN:
    r"""Pre-train the CNN on the source task, deterministically (the recipe of :data:`PRETRAIN`).

    :class:`dlnotes.cnn.CNN` with ``channels`` (8, 16) (64 body features) and a 5-class head,
    float64, trained with Adam (:math:`\alpha = 3\cdot 10^{-3}`) for 20 epochs of minibatches of
    32 with :func:`dlnotes.training.train`. Takes a few seconds. Chapter: *Transfer learning*.
    """
    source, _ = tasks()
    p = PRETRAIN
    model = CNN(n_classes=len(SOURCE_CLASSES), channels=p["channels"], seed=p["seed"])
    training.train(model, optim.Adam(model.params, lr=p["lr"]), source, epochs=p["epochs"],
                   batch_size=p["batch_size"], seed=p["seed"], progress=progress,
                   desc="pre-training on digits 0-4")
    return model


_AVX512_DISPATCH = ("X86_V4", "AVX512_ICL", "AVX512_SPR", "AVX512_SKX")


def portable_env() -> dict[str, str]:
    """Environment variables that make float64 results the same bits on any x86-64 CPU with AVX2.

    OpenBLAS and NumPy pick their kernels for the CPU they run on (AVX-512 where there is
    one), and different kernels sum in different orders, which changes the last bits. These
    pin OpenBLAS to its Haswell (AVX2) kernels on one thread and switch off NumPy's AVX-512
    loops; they must be set before NumPy is imported, so :func:`pretrain_portable` starts a new
    interpreter. Raises ``RuntimeError`` on a CPU without AVX2 (x86-64-v3).
    """
    from numpy._core import _multiarray_umath as mu
    if not mu.__cpu_features__.get("X86_V3", False):
        raise RuntimeError("portable pre-training needs an x86-64 CPU with AVX2 and FMA (x86-64-v3)")
    disable = [f for f in _AVX512_DISPATCH if f in mu.__cpu_dispatch__]
    env = {"OPENBLAS_CORETYPE": "Haswell", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    if disable:
        env["NPY_DISABLE_CPU_FEATURES"] = " ".join(disable)
    return env


def pretrain_portable(path: Any, progress: bool = False) -> Path:
    """Run :func:`pretrain` in a new interpreter under :func:`portable_env` and save it to ``path``.

    The result is the same file on any machine with the pinned ``requirements.txt`` and an
    AVX2 CPU; it is how the shipped weights were made (``dlnotes pretrain``).
    """
    path = Path(path)
    env = dict(os.environ)
    env.update(portable_env())
    src = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    code = ("import sys; from dlnotes import transfer as t; "
            "t.save_pretrained(t.pretrain(progress=sys.argv[2] == '1'), sys.argv[1])")
    subprocess.run([sys.executable, "-c", code, str(path), "1" if progress else "0"],
                   env=env, check=True)
    return path


def save_pretrained(model: CNN, path: Any) -> Path:
    """Write a CNN's weights (its :meth:`~dlnotes.cnn.CNN.state_dict`) to an ``.npz`` file."""
    if not isinstance(model, CNN):
        raise TypeError(f"model must be a dlnotes.cnn.CNN, got {type(model).__name__}")
    path = Path(path)
    np.savez(path, **model.state_dict())
    return path


def load_pretrained(path: Any = None) -> dict[str, np.ndarray]:
    """The pre-trained weights by name: from ``path``, or the file shipped with the package."""
    if path is None:
        ref = importlib.resources.files("dlnotes") / "data" / PRETRAINED_FILE
        with importlib.resources.as_file(ref) as p, np.load(p) as z:
            return {k: z[k].copy() for k in z.files}
    with np.load(Path(path)) as z:
        return {k: z[k].copy() for k in z.files}


def pretrained_cnn(dtype: Any = np.float64, path: Any = None) -> CNN:
    """The pre-trained CNN (source task, 5-class head) with the shipped weights, in ``dtype``."""
    model = CNN(n_classes=len(SOURCE_CLASSES), channels=PRETRAIN["channels"], seed=PRETRAIN["seed"],
                dtype=dtype)
    return model.load_state_dict(load_pretrained(path))


def new_model(pretrained: Mapping[str, np.ndarray] | None, n_classes: int = 5, seed: int = 0,
              dtype: Any = np.float32) -> CNN:
    """A CNN for the target task: random (``pretrained=None``), or the pre-trained body with a fresh head.

    The fresh head is drawn from ``seed`` (:meth:`dlnotes.cnn.CNN.replace_head`); a random
    model's body from ``seed`` too. Chapters: *Transfer learning*, *Fine-tuning*.
    """
    if pretrained is None:
        return CNN(n_classes=n_classes, channels=PRETRAIN["channels"], seed=seed, dtype=dtype)
    model = CNN(n_classes=n_classes, channels=PRETRAIN["channels"], seed=PRETRAIN["seed"], dtype=dtype)
    model.load_state_dict(pretrained, body_only=True)
    return model.replace_head(n_classes, seed=seed)


# ------------------------------------------------------------------ training

def fit(model: training.Classifier, optimizer: optim.Optimizer, X: Any, y: Any, steps: int, *,
        batch_size: int = 32, seed: int = 0,
        callback: Callable[[int, training.Classifier], None] | None = None) -> np.ndarray:
    r"""``steps`` minibatch steps on (X, y), sampling each batch without replacement; returns the losses.

    Lighter than :func:`dlnotes.training.train` (nothing is evaluated between steps), for the
    many short runs of the transfer chapters. ``callback(t, model)`` is called before step
    ``t = 0, ..., steps - 1`` and once more with ``t = steps`` at the end. A batch at least as
    large as the data is full-batch gradient descent. If the loss stops being finite, training
    stops there and the remaining losses are NaN.
    """
    if not isinstance(model, training.Classifier):
        raise TypeError(f"model must be a dlnotes.training.Classifier, got {type(model).__name__}")
    if not isinstance(optimizer, optim.Optimizer):
        raise TypeError(f"optimizer must be a dlnotes.optim.Optimizer, got {type(optimizer).__name__}")
    if len(optimizer.params) != len(model.params) or any(a is not b for a, b in zip(optimizer.params, model.params)):
        raise ValueError("optimizer must be built on model.params (the same arrays, in order)")
    Xa = model._check_X(X)
    ya = as_labels(y, "y", n=Xa.shape[0], k=model.n_classes)
    steps = training._positive_int(steps, "steps")
    batch_size = training._positive_int(batch_size, "batch_size")
    rng = np.random.default_rng(seed)
    n = Xa.shape[0]
    losses = np.full(steps, np.nan)
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps):
            if callback is not None:
                callback(t, model)
            idx = rng.choice(n, size=batch_size, replace=False) if batch_size < n else slice(None)
            s, cache = model.forward(Xa[idx])
            if not np.all(np.isfinite(s)):
                break
            losses[t] = softmax_cross_entropy(s, ya[idx])
            ds = softmax_cross_entropy_grad(s, ya[idx]).astype(s.dtype, copy=False)
            grads = [g.astype(p.dtype, copy=False) for g, p in zip(model.backward(ds, cache), model.params)]
            optimizer.step(grads)
        else:
            if callback is not None:
                callback(steps, model)
    return losses


class LayerwiseSGD(optim.Optimizer):
    r"""SGD with momentum and one learning rate per group of consecutive parameter arrays; rate 0 freezes a group.

    ``groups`` is a list of ``(arrays, lr)`` in the order of ``model.params``. Each group with
    a positive rate is stepped by its own :class:`dlnotes.optim.SGD`; a group at rate 0 is
    left exactly as it is (no momentum either). Like ``torch.optim.SGD`` with parameter groups
    (``[{"params": ..., "lr": ...}, ...]``). ``lr`` is the largest group rate; setting it
    rescales every group by the same factor. Chapters: *Transfer learning*, *Fine-tuning*.
    """

    def __init__(self, groups: Sequence[tuple[Sequence[np.ndarray], float]], momentum: float = 0.9) -> None:
        if not groups:
            raise ValueError("groups must be a non-empty list of (arrays, lr)")
        self.group_lrs = [as_scalar(lr, f"groups[{i}] lr", low=0.0) for i, (_, lr) in enumerate(groups)]
        if max(self.group_lrs) <= 0:
            raise ValueError("at least one group needs a positive learning rate")
        self._sizes = [len(list(arrays)) for arrays, _ in groups]
        self._sgd = [optim.SGD(list(arrays), lr=lr, momentum=momentum) if lr > 0 else None
                     for (arrays, _), lr in zip(groups, self.group_lrs)]
        params = [p for arrays, _ in groups for p in arrays]
        self.params = optim.Optimizer._check_params(params)
        self._lr = max(self.group_lrs)
        self.t = 0
        self.state = [{} for _ in self.params]

    @property
    def lr(self) -> float:
        """The largest group rate; setting it rescales every group alike."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        value = as_scalar(value, "lr", low=0.0)
        scale = value / self._lr if self._lr > 0 else 0.0
        self.group_lrs = [lr * scale for lr in self.group_lrs]
        for o, lr in zip(self._sgd, self.group_lrs):
            if o is not None:
                o.lr = lr
        self._lr = value

    def step(self, grads: Any) -> None:
        """One step of every group with a positive rate, each with its slice of ``grads``."""
        grads = list(grads) if isinstance(grads, (list, tuple)) else [grads]
        if len(grads) != len(self.params):
            raise ValueError(f"grads must hold one array per parameter array: expected "
                             f"{len(self.params)}, got {len(grads)}")
        i = 0
        for o, k in zip(self._sgd, self._sizes):
            if o is not None:
                o.step(grads[i:i + k])
            i += k
        self.t += 1

    @property
    def _kernel(self):  # pragma: no cover - the groups' SGD optimizers do the work
        raise NotImplementedError

    def _hyper_repr(self) -> str:
        return "lrs=" + ", ".join(f"{lr:g}" for lr in self.group_lrs)


def _conv_blocks(model: CNN) -> list[list[str]]:
    """The body's parameter names grouped by conv block (bottom first)."""
    blocks: list[list[str]] = []
    for i, layer in enumerate(model.body):
        if type(layer).__name__ == "Conv2d":
            blocks.append([f"body.{i}.{k}" for k in layer.params])
    return blocks


def grouped_sgd(model: CNN, body_lr: float, head_lr: float, momentum: float = 0.9,
                train_blocks: int | None = None) -> LayerwiseSGD:
    r"""SGD with momentum, one rate :math:`\alpha_{\text{body}}` for the body and one :math:`\alpha_{\text{head}}` for the head.

    ``torch.optim.SGD([{"params": body, "lr": α_body}, {"params": head, "lr": α_head}],
    momentum=ρ)``: *discriminative* rates. ``train_blocks`` = :math:`k` trains only the top
    :math:`k` conv blocks of the body (the others get rate 0: *fine-tune a few layers*).
    Chapters: *Transfer learning*, *Fine-tuning*.
    """
    if not isinstance(model, CNN):
        raise TypeError(f"model must be a dlnotes.cnn.CNN, got {type(model).__name__}")
    if model.frozen:
        raise ValueError("the body is frozen; unfreeze it to give it a learning rate")
    head_lr = as_scalar(head_lr, "head_lr", low=0.0, low_open=True)
    body_lr = as_scalar(body_lr, "body_lr", low=0.0)
    named = model.named_params()
    blocks = _conv_blocks(model)
    if train_blocks is None:
        train_blocks = len(blocks)
    if isinstance(train_blocks, bool) or not isinstance(train_blocks, numbers.Integral) or \
            not 0 <= train_blocks <= len(blocks):
        raise ValueError(f"train_blocks must be 0..{len(blocks)}, got {train_blocks!r}")
    groups = [([named[k] for k in block], body_lr if i >= len(blocks) - train_blocks else 0.0)
              for i, block in enumerate(blocks)]
    groups.append((model.param_groups()["head"], head_lr))
    return LayerwiseSGD(groups, momentum=momentum)


# ------------------------------------------------------------------ probes

def linear_probe(F: Any, y: Any, l2: float = 1e-3, n_classes: int | None = None,
                 max_iter: int = 500, gtol: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
    r"""A linear probe: softmax regression on fixed features, fitted to convergence.

    The features are standardised with their training mean and standard deviation
    (constant features, e.g. a dead unit's, are only centred), then
    :math:`\frac1N\sum_i -\log\operatorname{softmax}(\tilde F_i \tilde W + \tilde b)_{y_i} +
    \frac{\lambda}{2}\lVert\tilde W\rVert^2` (:math:`\lambda` = ``l2``, the bias not penalised)
    is minimised with L-BFGS (``scipy.optimize.minimize``) from zero, and the solution is
    mapped back to the raw features: the returned :math:`(W, b)` give the same scores
    :math:`FW + b`. This is training a new linear head on a frozen body until it stops
    improving; the penalty keeps the weights finite when the few training images are
    separable, and the standardisation makes L-BFGS converge in a few dozen iterations.
    Chapters: *Transfer learning*, *Fine-tuning*.

    Parameters
    ----------
    F : array of shape (N, n)
        Features (e.g. :meth:`dlnotes.cnn.CNN.features`).
    y : int array of shape (N,)
    l2 : float >= 0
    n_classes : int, optional
        :math:`C`; default ``max(y) + 1``.
    max_iter : int
    gtol : float
        L-BFGS stops when the largest gradient entry is below it (the default matches
        scikit-learn's solution to about 1e-5 in the probabilities; 1e-5 is plenty for an
        accuracy and three times faster).

    Returns
    -------
    (W, b) : arrays of shapes (n, C) and (C,).
    """
    from scipy.optimize import minimize

    Fa = as_float_array(F, "F", ndim=2)
    C = int(np.max(y)) + 1 if n_classes is None else training._positive_int(n_classes, "n_classes")
    ya = as_labels(y, "y", n=Fa.shape[0], k=max(C, 2))
    l2 = as_scalar(l2, "l2", low=0.0)
    N, n = Fa.shape
    mu = Fa.mean(axis=0)
    sd = Fa.std(axis=0)
    sd[sd == 0] = 1.0
    Fs = (Fa - mu) / sd

    def f(w):
        W, b = w[:n * C].reshape(n, C), w[n * C:]
        s = Fs @ W + b
        g = softmax_cross_entropy_grad(s, ya)
        loss = float(softmax_cross_entropy(s, ya)) + 0.5 * l2 * float(np.sum(W * W))
        return loss, np.concatenate([(Fs.T @ g + l2 * W).ravel(), g.sum(axis=0)])

    with one_thread():
        res = minimize(f, np.zeros(n * C + C), jac=True, method="L-BFGS-B",
                       options={"maxiter": max_iter, "ftol": 1e-4 * gtol, "gtol": gtol})
    Ws, bs = res.x[:n * C].reshape(n, C), res.x[n * C:]
    W = Ws / sd[:, None]
    return W, bs - (mu / sd) @ Ws


def probe_accuracy(F_train: Any, y_train: Any, F_val: Any, y_val: Any, l2: float = 1e-3,
                   gtol: float = 1e-8) -> float:
    """Validation accuracy of a :func:`linear_probe` fitted on (F_train, y_train)."""
    C = int(max(np.max(y_train), np.max(y_val))) + 1
    W, b = linear_probe(F_train, y_train, l2, n_classes=C, gtol=gtol)
    Fv = as_float_array(F_val, "F_val", ndim=2)
    yv = as_labels(y_val, "y_val", n=Fv.shape[0], k=C)
    return float(np.mean(np.argmax(Fv @ W + b, axis=1) == yv))


def probe_head(model: CNN, X: Any, y: Any, l2: float = 1e-3) -> CNN:
    """Replace the CNN's head by a :func:`linear_probe` fitted on its body's features of (X, y). Returns the model."""
    if not isinstance(model, CNN):
        raise TypeError(f"model must be a dlnotes.cnn.CNN, got {type(model).__name__}")
    W, b = linear_probe(model.features(X), y, l2, n_classes=model.n_classes)
    return model.load_state_dict({"head.weight": W.T, "head.bias": b}, strict=False)


def stage_features(model: CNN, X: Any, stage: int) -> np.ndarray:
    """The activations after conv block ``stage`` (1 = after the first conv, ReLU and pooling), flattened to (N, n).

    The last stage is :meth:`dlnotes.cnn.CNN.features`. For "try a linear classifier from a
    different stage" (the 2x2 table of *Transfer learning*).
    """
    if not isinstance(model, CNN):
        raise TypeError(f"model must be a dlnotes.cnn.CNN, got {type(model).__name__}")
    blocks = [i for i, layer in enumerate(model.body) if type(layer).__name__ == "Conv2d"]
    if isinstance(stage, bool) or not isinstance(stage, numbers.Integral) or not 1 <= stage <= len(blocks):
        raise ValueError(f"stage must be 1..{len(blocks)} (one per conv block), got {stage!r}")
    end = blocks[stage] if stage < len(blocks) else len(model.body)
    a = model._check_X(X)
    for layer in model.body[:end]:
        a, _ = layer.forward(a)
    return a.reshape(a.shape[0], -1)


# ------------------------------------------------------------------ measurements

def _body_names(model: CNN) -> list[str]:
    return [k for k in model.named_params() if k.startswith("body.")]


def body_distance(model: CNN, pretrained: Mapping[str, np.ndarray]) -> float:
    r"""Relative distance of the body from the pre-trained weights, :math:`\lVert\theta_{\text{body}} - \theta_{\text{pre}}\rVert / \lVert\theta_{\text{pre}}\rVert`.

    Over all body arrays together (Frobenius norms). Chapter: *Fine-tuning*.
    """
    if not isinstance(model, CNN):
        raise TypeError(f"model must be a dlnotes.cnn.CNN, got {type(model).__name__}")
    cur = model.named_params()
    names = _body_names(model)
    missing = [k for k in names if k not in pretrained]
    if missing:
        raise ValueError(f"pretrained lacks the body arrays {missing}")
    num = sum(float(np.sum((cur[k].astype(np.float64) - pretrained[k]) ** 2)) for k in names)
    den = sum(float(np.sum(np.asarray(pretrained[k], dtype=np.float64) ** 2)) for k in names)
    return math.sqrt(num / den)


def gradient_norms(model: CNN, X: Any, y: Any) -> dict[str, float]:
    r"""The norms of the loss gradient with respect to the body's and the head's parameters on (X, y).

    :math:`\lVert\partial L/\partial\theta_{\text{body}}\rVert` and
    :math:`\lVert\partial L/\partial\theta_{\text{head}}\rVert`, computed with the body
    unfrozen (the model's frozen state is restored). Chapter: *Fine-tuning*.
    """
    if not isinstance(model, CNN):
        raise TypeError(f"model must be a dlnotes.cnn.CNN, got {type(model).__name__}")
    frozen = model.frozen
    model.unfreeze_body()
    try:
        loss, grads = model.loss_and_grads(X, y)
        n_body = len(model.param_groups()["body"])
        norm = lambda gs: math.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in gs))
        return {"loss": loss, "body": norm(grads[:n_body]), "head": norm(grads[n_body:])}
    finally:
        if frozen:
            model.freeze_body()


def sharpness(model: training.Classifier, X: Any, y: Any, h: float = 1e-4, tol: float = 1e-4,
              seed: int = 0) -> float:
    r"""The largest eigenvalue :math:`\lambda_{\max}` of the Hessian of the mean loss on (X, y) at the current parameters.

    Hessian-vector products by central differences of the gradient,
    :math:`Hv \approx (\nabla L(\theta + hv) - \nabla L(\theta - hv))/(2h)` for unit
    :math:`v`, fed to Lanczos (``scipy.sparse.linalg.eigsh``, largest algebraic eigenvalue).
    The parameters are restored afterwards. Use a float64 model. Gradient descent with
    momentum :math:`\rho` is stable on a quadratic only for
    :math:`\alpha < 2(1 + \rho)/\lambda_{\max}`. Chapter: *Fine-tuning*.
    """
    from scipy.sparse.linalg import LinearOperator, eigsh

    if not isinstance(model, training.Classifier):
        raise TypeError(f"model must be a dlnotes.training.Classifier, got {type(model).__name__}")
    if any(p.dtype != np.float64 for p in model.params):
        raise TypeError("sharpness needs a float64 model (finite differences in float32 are too coarse)")
    Xa = model._check_X(X)
    ya = as_labels(y, "y", n=Xa.shape[0], k=model.n_classes)
    h = as_scalar(h, "h", low=0.0, low_open=True)
    params = model.params
    sizes = [p.size for p in params]
    start = [p.copy() for p in params]
    n = sum(sizes)

    def set_to(v, step):
        off = 0
        for p, p0, s in zip(params, start, sizes):
            p[...] = p0 + step * v[off:off + s].reshape(p.shape)
            off += s

    def grad():
        return np.concatenate([g.ravel() for g in model.loss_and_grads(Xa, ya)[1]])

    def hvp(v):
        v = np.asarray(v, dtype=np.float64).ravel()
        norm = float(np.linalg.norm(v))
        if norm == 0.0:
            return np.zeros(n)
        u = v / norm
        set_to(u, h)
        g_plus = grad()
        set_to(u, -h)
        g_minus = grad()
        set_to(u, 0.0)
        return norm * (g_plus - g_minus) / (2.0 * h)

    try:
        v0 = np.random.default_rng(seed).standard_normal(n)
        vals = eigsh(LinearOperator((n, n), matvec=hvp, dtype=np.float64), k=1, which="LA",
                     v0=v0, tol=tol, return_eigenvectors=False)
    finally:
        for p, p0 in zip(params, start):
            p[...] = p0
    return float(vals[0])
