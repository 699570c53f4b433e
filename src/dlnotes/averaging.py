r"""Averaging over time and over models: weight decay as shrinkage, Polyak and EMA weight averages, ensembles, snapshot ensembles.

Taught in the chapter *Averaging and augmentation*.

* **Weight decay** (PyTorch's ``weight_decay`` :math:`\lambda`, decoupled as in AdamW) multiplies
  every weight by :math:`1 - \alpha\lambda` per step before the gradient step; with no gradient
  the weights shrink like :math:`(1 - \alpha\lambda)^t`.
* **Polyak averaging**: :math:`\bar x_t = \frac1t\sum_{t' = 1}^{t} x_{t'}`, the mean of the iterates
  seen so far (``torch.optim.swa_utils.AveragedModel``'s default).
* **Exponential moving average (EMA)** with decay :math:`\zeta_{\text{ema}}`:
  :math:`\bar x \leftarrow \zeta_{\text{ema}}\bar x + (1 - \zeta_{\text{ema}})\,x_t`, starting from the
  first iterate (``AveragedModel(multi_avg_fn=get_ema_multi_avg_fn(decay))``).
* **Ensembles**: the mean of the class probabilities of several models; a **snapshot ensemble**
  takes the models from the ends of the cycles of one run with cosine warm restarts
  (:func:`dlnotes.schedules.cosine_warm_restarts`).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ._validation import as_float_array, as_int, as_scalar
from .datasets import Dataset
from .losses import softmax
from .training import Classifier, History, train

__all__ = ["shrinkage_factor", "decayed_weights", "PolyakAverage", "EMA", "ensemble_probabilities",
           "ensemble_accuracy", "snapshot_ensemble"]


def shrinkage_factor(lr: float, weight_decay: float) -> float:
    r"""The factor :math:`1 - \alpha\lambda` by which decoupled weight decay multiplies every weight per step.

    ``lr`` is :math:`\alpha` (``lr``), ``weight_decay`` is :math:`\lambda` in PyTorch's sense (``weight_decay``).
    A factor <= 0 (``lr * weight_decay >= 1``) flips or zeroes the weights and is refused.
    """
    a = as_scalar(lr, "lr", low=0.0)
    lam = as_scalar(weight_decay, "weight_decay", low=0.0)
    if a * lam >= 1.0:
        raise ValueError(f"lr * weight_decay must be < 1 (got {a * lam:g}): the factor 1 - lr*weight_decay "
                         "would not be a shrinkage")
    return 1.0 - a * lam


def decayed_weights(x0: Any, lr: float, weight_decay: float, steps: int) -> np.ndarray:
    r"""The weights after ``steps`` steps of pure decoupled decay (no loss gradient): :math:`(1 - \alpha\lambda)^t x_0`."""
    x = as_float_array(x0, "x0")
    t = as_int(steps, "steps", low=0)
    return shrinkage_factor(lr, weight_decay) ** t * x


def _copy(params: Sequence[Any], name: str) -> list[np.ndarray]:
    if isinstance(params, np.ndarray) or not isinstance(params, (list, tuple)) or not params:
        raise TypeError(f"{name} must be a non-empty list of arrays (a model's params)")
    return [np.array(as_float_array(p, f"{name}[{i}]"), dtype=np.float64) for i, p in enumerate(params)]


class PolyakAverage:
    r"""The running mean of the iterates, :math:`\bar x_t = \bar x_{t-1} + (x_t - \bar x_{t-1})/t`.

    ``update(params)`` after each step; ``average`` is the list of averaged arrays and ``n``
    the number of iterates averaged. Equals ``torch.optim.swa_utils.AveragedModel``'s default.
    """

    def __init__(self) -> None:
        self.average: list[np.ndarray] | None = None
        self.n = 0

    def update(self, params: Sequence[Any]) -> None:
        new = _copy(params, "params")
        if self.average is None:
            self.average, self.n = new, 1
            return
        if len(new) != len(self.average) or any(a.shape != b.shape for a, b in zip(new, self.average)):
            raise ValueError("params must have the same shapes at every update")
        self.n += 1
        for a, x in zip(self.average, new):
            self._blend(a, x)

    def _blend(self, a: np.ndarray, x: np.ndarray) -> None:
        a += (x - a) / self.n


class EMA(PolyakAverage):
    r"""Exponential moving average of the weights, :math:`\bar x \leftarrow \zeta_{\text{ema}}\bar x + (1 - \zeta_{\text{ema}})x_t`.

    The first update copies the weights (as ``AveragedModel`` does), so after :math:`k`
    updates with iterates :math:`x_1, \dots, x_k`:
    :math:`\bar x = \zeta_{\text{ema}}^{k-1} x_1 + \sum_{t=2}^{k} (1 - \zeta_{\text{ema}})\zeta_{\text{ema}}^{k-t} x_t`.

    Parameters
    ----------
    decay : float in [0, 1)
        :math:`\zeta_{\text{ema}}`, ``get_ema_multi_avg_fn(decay)``'s argument (0.999 there by default).
    """

    def __init__(self, decay: float = 0.999) -> None:
        super().__init__()
        self.decay = as_scalar(decay, "decay", low=0.0, high=1.0, high_open=True)

    def _blend(self, a: np.ndarray, x: np.ndarray) -> None:
        a *= self.decay
        a += (1.0 - self.decay) * x


def ensemble_probabilities(models: Sequence[Classifier], X: Any) -> np.ndarray:
    """The mean of the models' class probabilities (softmax of their scores), shape (N, C), in evaluation mode."""
    if not models or not all(isinstance(m, Classifier) for m in models):
        raise TypeError("models must be a non-empty sequence of dlnotes.training.Classifier")
    probs = []
    for m in models:
        mode, m.training = m.training, False
        probs.append(softmax(m.scores(X)))
        m.training = mode
    return np.mean(probs, axis=0)


def ensemble_accuracy(models: Sequence[Classifier], X: Any, y: Any) -> float:
    """Fraction of samples whose class of highest mean probability is the label."""
    return float(np.mean(np.argmax(ensemble_probabilities(models, X), axis=1) == np.asarray(y)))


def snapshot_ensemble(make_model: Callable[[], Classifier], make_optimizer: Callable[[list], Any],
                      data: Dataset, *, lr: float, cycles: int, epochs_per_cycle: int,
                      batch_size: int = 64, seed: int = 0) -> tuple[list[Classifier], History]:
    r"""One run with cosine warm restarts; a copy of the model at the end of every cycle.

    The learning rate follows :func:`dlnotes.schedules.cosine_warm_restarts` with period
    ``epochs_per_cycle`` epochs (in steps) from ``lr`` down to 0; at each cycle's end, where the
    rate is lowest, the weights are saved.

    Returns
    -------
    (snapshots, history) : the ``cycles`` saved models and the run's :class:`dlnotes.training.History`.
    """
    import copy

    from .schedules import cosine_warm_restarts

    cycles = as_int(cycles, "cycles", low=1)
    epochs_per_cycle = as_int(epochs_per_cycle, "epochs_per_cycle", low=1)
    model = make_model()
    opt = make_optimizer(model.params)
    steps = -(-len(data.y_train) // batch_size)
    sched = cosine_warm_restarts(lr, period=epochs_per_cycle * steps)
    snaps, hists = [], []
    for c in range(cycles):
        offset = c * epochs_per_cycle * steps
        hists.append(train(model, opt, data, epochs=epochs_per_cycle, batch_size=batch_size,
                           seed=seed + c, schedule=lambda t, o=offset: sched(t + o), progress=False))
        snaps.append(copy.deepcopy(model))
    h0 = hists[0]
    cat = lambda name: np.concatenate([getattr(h0, name)] + [getattr(h, name)[1:] for h in hists[1:]])
    history = History(np.concatenate([h.step_loss for h in hists]), np.concatenate([h.lr for h in hists]),
                      np.arange(cycles * epochs_per_cycle + 1), cat("train_loss"), cat("val_loss"),
                      cat("train_accuracy"), cat("val_accuracy"), h0.steps_per_epoch,
                      any(h.diverged for h in hists), float(sum(h.seconds for h in hists)))
    return snaps, history
