r"""Early stopping: patience, the best checkpoint, and the two ways to retrain on all the data.

Taught in the chapter *Averaging and augmentation*.

Training stops when the validation loss has not improved (by more than ``min_delta``) for
``patience`` epochs in a row, and the weights of the best epoch are restored. The validation
samples then sit unused; two strategies put them back (Goodfellow et al. 2016, §7.8):

1. **Retrain from scratch on all the data for the same number of steps** (parameter updates)
   as the early-stopped run took to its best epoch (:func:`retrain_same_steps`);
2. **continue training the early-stopped weights on all the data** until the loss on the old
   validation part falls to the training loss at the stopping point (:func:`continue_until`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ._validation import as_int, as_scalar
from .datasets import Dataset
from .training import Classifier, train

__all__ = ["EarlyStopping", "EarlyStoppingRun", "train_early_stopping", "split_off_validation", "merge_validation",
           "retrain_same_steps", "continue_until"]


class EarlyStopping:
    r"""Patience-based stopping with the best checkpoint.

    Call ``step(epoch, val_loss, params)`` once per epoch with the validation loss and the current parameters; it
    returns True when training should stop. ``best_epoch``, ``best_loss`` and ``best_params``
    (copies) describe the best epoch so far.

    Parameters
    ----------
    patience : int >= 1
        Epochs without improvement before stopping.
    min_delta : float >= 0
        An improvement must lower the best loss by more than this.
    """

    def __init__(self, patience: int = 5, min_delta: float = 0.0) -> None:
        self.patience = as_int(patience, "patience", low=1)
        self.min_delta = as_scalar(min_delta, "min_delta", low=0.0)
        self.best_loss = np.inf
        self.best_epoch = -1
        self.best_params: list[np.ndarray] | None = None
        self.bad_epochs = 0

    def step(self, epoch: int, val_loss: float, params: list[np.ndarray]) -> bool:
        """Record one epoch's validation loss; True when training should stop (a non-finite loss stops at once)."""
        v = float(val_loss)
        if np.isfinite(v) and v < self.best_loss - self.min_delta:
            self.best_loss, self.best_epoch, self.bad_epochs = v, int(epoch), 0
            self.best_params = [np.array(p, copy=True) for p in params]
            return False
        self.bad_epochs += 1
        return self.bad_epochs >= self.patience or not np.isfinite(v)


@dataclass(frozen=True)
class EarlyStoppingRun:
    """What :func:`train_early_stopping` recorded (arrays of shape (epochs run + 1,), entry 0 before training)."""

    train_loss: np.ndarray
    val_loss: np.ndarray
    train_accuracy: np.ndarray
    val_accuracy: np.ndarray
    best_epoch: int
    stopped_epoch: int
    steps_per_epoch: int

    @property
    def best_steps(self) -> int:
        """Parameter updates up to the best epoch."""
        return self.best_epoch * self.steps_per_epoch


def train_early_stopping(model: Classifier, optimizer: Any, data: Dataset, *, max_epochs: int = 100,
                         patience: int = 5, min_delta: float = 0.0, batch_size: int = 64,
                         seed: int = 0) -> EarlyStoppingRun:
    """Train epoch by epoch with :func:`dlnotes.training.train`, stop with :class:`EarlyStopping`, restore the best weights into ``model``."""
    max_epochs = as_int(max_epochs, "max_epochs", low=1)
    stopper = EarlyStopping(patience, min_delta)
    rows = []
    spe = 0
    for e in range(1, max_epochs + 1):
        h = train(model, optimizer, data, epochs=1, batch_size=batch_size, seed=seed + e, progress=False)
        spe = h.steps_per_epoch
        if e == 1:
            rows.append([h.train_loss[0], h.val_loss[0], h.train_accuracy[0], h.val_accuracy[0]])
            stopper.step(0, h.val_loss[0], model.params)
        rows.append([h.train_loss[1], h.val_loss[1], h.train_accuracy[1], h.val_accuracy[1]])
        if stopper.step(e, h.val_loss[1], model.params):
            break
    for p, best in zip(model.params, stopper.best_params):
        p[...] = best
    r = np.array(rows).T
    return EarlyStoppingRun(r[0], r[1], r[2], r[3], stopper.best_epoch, len(rows) - 1, spe)


def split_off_validation(data: Dataset, val_fraction: float = 0.25, seed: int = 0) -> Dataset:
    """A new split of ``data``'s training part into training and validation parts (``data``'s own validation part stays out, as a test set)."""
    f = as_scalar(val_fraction, "val_fraction", low=0.0, high=1.0, low_open=True, high_open=True)
    idx = np.random.default_rng(seed).permutation(len(data.y_train))
    n_val = int(round(f * len(idx)))
    va, tr = idx[:n_val], idx[n_val:]
    return Dataset(data.X_train[tr], data.y_train[tr], data.X_train[va], data.y_train[va],
                   data.feature_names, data.description + " (training part split again)", data.feature_mean,
                   data.feature_std)


def merge_validation(data: Dataset, test: Dataset | None = None) -> Dataset:
    """The training and validation parts as one training set; ``test``'s validation part (if given) as the new validation part."""
    X = np.concatenate([data.X_train, data.X_val])
    y = np.concatenate([data.y_train, data.y_val])
    Xv, yv = (data.X_val, data.y_val) if test is None else (test.X_val, test.y_val)
    return Dataset(X, y, Xv, yv, data.feature_names, data.description + " (training + validation)",
                   data.feature_mean, data.feature_std)


def retrain_same_steps(make_model: Callable[[], Classifier], make_optimizer: Callable[[list], Any],
                       all_data: Dataset, run: EarlyStoppingRun, *, seed: int = 0) -> tuple[Classifier, Any]:
    r"""Strategy 1: a fresh model trained on ``all_data`` for the same number of updates as ``run`` to its best epoch.

    Same number of epochs *and* steps: the batch size grows so that an epoch of the larger set
    has as many batches as an epoch of the smaller one.
    """
    n = len(all_data.y_train)
    batch = -(-n // run.steps_per_epoch)
    model = make_model()
    h = train(model, make_optimizer(model.params), all_data, epochs=max(run.best_epoch, 1), batch_size=batch,
              seed=seed, progress=False)
    return model, h


def continue_until(model: Classifier, optimizer: Any, all_data: Dataset, old_val: Dataset,
                   target_loss: float, *, max_epochs: int = 50, batch_size: int = 64,
                   seed: int = 0) -> tuple[int, np.ndarray]:
    """Strategy 2: keep training ``model`` on ``all_data`` until its loss on ``old_val``'s validation part is <= ``target_loss``.

    Returns the number of extra epochs and the old-validation losses after each of them.
    """
    target = as_scalar(target_loss, "target_loss", low=0.0)
    max_epochs = as_int(max_epochs, "max_epochs", low=1)
    losses = []
    for e in range(1, max_epochs + 1):
        train(model, optimizer, all_data, epochs=1, batch_size=batch_size, seed=seed + 1000 + e, progress=False)
        losses.append(model.loss(old_val.X_val, old_val.y_val))
        if losses[-1] <= target:
            break
    return len(losses), np.array(losses)
