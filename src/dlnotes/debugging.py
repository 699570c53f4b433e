r"""Debugging optimization: the checks to run before blaming the optimizer.

Each function runs one item of the checklist of the chapter *The optimization landscape* on a
real model and returns numbers to compare with what a healthy run gives. Other items reuse the
package: the gradient check is :func:`dlnotes.gradcheck.check_gradient` (on the flat parameters of
:func:`dlnotes.curvature.model_loss_and_gradient`), the update-to-weight ratio is
:class:`dlnotes.tuning.UpdateRatioMonitor`, and per-layer gradient norms come from
:func:`dlnotes.initialization.layer_statistics`.

Chapter: *The optimization landscape*.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._validation import as_int, as_labels, as_scalar
from .training import MLP, Classifier

__all__ = ["initial_loss", "overfit_subset", "NonFinite", "first_non_finite"]


def initial_loss(model: Classifier, X: Any, y: Any) -> tuple[float, float]:
    r"""The mean cross-entropy of an untrained classifier and :math:`\log C`, what it should be close to.

    With small initial scores every class gets probability about :math:`1/C`, so the loss is
    about :math:`-\log(1/C) = \log C`. Much larger means the initial scores are too large (or the
    labels and scores are misaligned); a loss of exactly :math:`\log C` that never moves means the
    gradient does not reach the parameters.
    """
    if not isinstance(model, Classifier):
        raise TypeError(f"model must be a dlnotes.training.Classifier, got {type(model).__name__}")
    return float(model.loss(X, y)), math.log(model.n_classes)


def overfit_subset(model: Classifier, X: Any, y: Any, *, samples: int = 20, steps: int = 300,
                   lr: float = 0.1, seed: int = 0) -> np.ndarray:
    r"""Full-batch Adam on a tiny subset of the data; returns the loss after each step, shape (steps + 1,).

    A model that cannot drive the loss of ``samples`` examples towards zero has a bug (or far
    too little capacity): there is nothing to generalise, only to memorise.
    """
    from .optim import Adam

    Xa = model._check_X(X)
    labels = as_labels(y, "y", n=Xa.shape[0], k=model.n_classes)
    samples = as_int(samples, "samples", low=1, high=Xa.shape[0])
    steps = as_int(steps, "steps", low=1, high=100_000)
    lr = as_scalar(lr, "lr", low=0.0, low_open=True)
    rows = np.random.default_rng(as_int(seed, "seed", low=0)).choice(Xa.shape[0], samples, replace=False)
    Xs, ys = Xa[rows], labels[rows]
    opt = Adam(model.params, lr=lr)
    losses = [float(model.loss(Xs, ys))]
    for _ in range(steps):
        _, grads = model.loss_and_grads(Xs, ys)
        opt.step(grads)
        losses.append(float(model.loss(Xs, ys)))
    return np.array(losses)


@dataclass(frozen=True)
class NonFinite:
    r"""Where a run first produced a non-finite number.

    Attributes
    ----------
    step : int or None
        The step (from 0) whose forward or backward pass first held an inf or NaN; None if none did.
    where : str
        The first quantity, in the order they are computed: ``'W1'``, ``'b1'``, ``'W2'``, ``'b2'``
        (the parameters entering the step), ``'z1'`` (hidden pre-activations), ``'a1'`` (hidden
        activations), ``'scores'``, ``'loss'``, then ``'grad W1'`` and so on.
    max_abs : dict
        The largest absolute finite entry of every quantity at the step before (what grew).
    """

    step: int | None
    where: str
    max_abs: dict


def first_non_finite(model: MLP, X: Any, y: Any, lr: float, steps: int) -> NonFinite:
    r"""Full-batch gradient descent on a one-hidden-layer MLP, checking every intermediate for inf/NaN.

    Stops at the first non-finite value and reports which quantity held it; the numbers of the
    step before show what blew up on the way. Run with floating-point warnings off: the point is
    to find the overflow, not to be interrupted by it.
    """
    if not isinstance(model, MLP):
        raise TypeError(f"model must be a dlnotes.training.MLP, got {type(model).__name__}")
    Xa = model._check_X(X)
    labels = as_labels(y, "y", n=Xa.shape[0], k=model.n_classes)
    lr = as_scalar(lr, "lr", low=0.0, low_open=True)
    steps = as_int(steps, "steps", low=1, high=100_000)
    from .losses import softmax_cross_entropy, softmax_cross_entropy_grad

    previous: dict = {}
    with np.errstate(all="ignore"):
        for t in range(steps):
            seen: dict[str, np.ndarray] = {"W1": model.W1, "b1": model.b1, "W2": model.W2, "b2": model.b2}
            scores, (_, z1, a1) = model.forward(Xa)
            seen.update({"z1": z1, "a1": a1, "scores": scores})
            try:
                loss = np.array(softmax_cross_entropy(scores, labels))
                dscores = softmax_cross_entropy_grad(scores, labels)
            except ValueError:       # the loss refuses non-finite scores: the scores are the culprit
                loss = np.array(np.nan)
                dscores = None
            seen["loss"] = loss
            if dscores is not None:
                grads = model.backward(dscores, (Xa, z1, a1))
                seen.update({f"grad {n}": g for n, g in zip(("W1", "b1", "W2", "b2"), grads)})
            for name, arr in seen.items():
                if not np.all(np.isfinite(arr)):
                    return NonFinite(t, name, previous)
            previous = {name: float(np.abs(arr).max()) for name, arr in seen.items()}
            for p, g in zip(model.params, grads):
                p -= lr * g
    return NonFinite(None, "", previous)
