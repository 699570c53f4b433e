r"""The tuning recipe: search spaces, random and grid search, the learning-rate range test, moving averages, update ratios.

Taught in the chapter *The tuning recipe*.

* :func:`moving_average`: the trailing mean of the last :math:`M` values of a noisy curve
  (a minibatch loss), :math:`\bar L_t = \frac{1}{T_{\text{avg}}}\sum_{\tau = t-T_{\text{avg}}+1}^{t} L_\tau`;
* :class:`Uniform`, :class:`LogUniform`, :class:`Choice`: the range of one hyperparameter, which
  can be sampled (random search) or laid out on a grid; :func:`random_search` and
  :func:`grid_search` turn a dict of them into a list of configurations, :func:`run_search` runs an
  objective on each;
* :func:`lr_range_test`: train for a few hundred steps while the learning rate grows
  geometrically from :math:`\alpha_{\min}` to :math:`\alpha_{\max}`, and record the loss (Smith's
  range test);
* :class:`UpdateRatioMonitor`: wraps any :mod:`dlnotes.optim` optimizer and records, at every
  step and for every parameter array, the update-to-weight ratio
  :math:`\chi^{(l)}_t = \lVert\theta^{(l)}_{t+1} - \theta^{(l)}_t\rVert / \lVert\theta^{(l)}_t\rVert`
  (the rule of thumb: about :math:`10^{-3}`); it is an optimizer itself, so
  :func:`dlnotes.training.train` accepts it.
"""

from __future__ import annotations

import itertools
import math
import numbers
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from . import optim, training
from ._validation import as_float_array, as_labels, as_scalar
from .datasets import Dataset
from .losses import softmax_cross_entropy, softmax_cross_entropy_grad

__all__ = [
    "moving_average", "Uniform", "LogUniform", "Choice", "random_search", "grid_search",
    "Trial", "run_search", "RangeTest", "lr_range_test", "UpdateRatioMonitor",
]


def _positive_int(v: Any, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
        raise ValueError(f"{name} must be a positive integer, got {v!r}")
    return int(v)


def _rng(seed: Any) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an int or a numpy Generator, got {type(seed).__name__}")
    return np.random.default_rng(int(seed))


# ------------------------------------------------------------------ moving average

def moving_average(x: Any, window: int) -> np.ndarray:
    r"""The trailing moving average :math:`\bar L_t = \frac{1}{T_{\text{avg}}}\sum_{\tau=t-T_{\text{avg}}+1}^{t} L_\tau` with :math:`T_{\text{avg}}` = ``window``.

    For the first ``window - 1`` entries, where fewer than :math:`T_{\text{avg}}` values exist, it is the mean
    of those there are (so the output has the input's length and starts at ``x[0]``). Computed
    from a cumulative sum in one pass. Chapter: *The tuning recipe* (reading noisy loss curves).

    Parameters
    ----------
    x : 1-D array of finite values
    window : int >= 1

    Returns
    -------
    array of the same length as ``x`` (float64).
    """
    a = as_float_array(x, "x", ndim=1)
    M = _positive_int(window, "window")
    c = np.concatenate([[0.0], np.cumsum(a)])
    t = np.arange(1, a.size + 1)
    lo = np.maximum(t - M, 0)
    return (c[t] - c[lo]) / (t - lo)


# ------------------------------------------------------------------ search spaces

class _Range:
    """One hyperparameter's range: ``sample(rng, n)`` for random search, ``grid(n)`` for grid search."""

    log = False

    def sample(self, rng: Any, n: int) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def grid(self, n: int) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


class Uniform(_Range):
    r"""Values drawn uniformly from :math:`[a, b]`; a grid of :math:`n` is ``numpy.linspace(a, b, n)``."""

    def __init__(self, low: float, high: float) -> None:
        self.low = as_scalar(low, "low")
        self.high = as_scalar(high, "high")
        if not self.high > self.low:
            raise ValueError(f"high must be > low, got low={self.low:g}, high={self.high:g}")

    def sample(self, rng: Any, n: int) -> np.ndarray:
        return _rng(rng).uniform(self.low, self.high, size=_positive_int(n, "n"))

    def grid(self, n: int) -> np.ndarray:
        n = _positive_int(n, "n")
        return np.linspace(self.low, self.high, n) if n > 1 else np.array([0.5 * (self.low + self.high)])

    def __repr__(self) -> str:
        return f"Uniform({self.low:g}, {self.high:g})"


class LogUniform(_Range):
    r"""Values whose logarithm is uniform on :math:`[\log a, \log b]` (``scipy.stats.loguniform(a, b)``).

    The right prior for scale parameters such as a learning rate or a weight decay, where
    :math:`10^{-3}` to :math:`10^{-2}` matters as much as :math:`10^{-2}` to :math:`10^{-1}`. A grid
    of :math:`n` is ``numpy.geomspace(a, b, n)``.
    """

    log = True

    def __init__(self, low: float, high: float) -> None:
        self.low = as_scalar(low, "low", low=0.0, low_open=True)
        self.high = as_scalar(high, "high", low=0.0, low_open=True)
        if not self.high > self.low:
            raise ValueError(f"high must be > low, got low={self.low:g}, high={self.high:g}")

    def sample(self, rng: Any, n: int) -> np.ndarray:
        u = _rng(rng).uniform(math.log(self.low), math.log(self.high), size=_positive_int(n, "n"))
        return np.exp(u)

    def grid(self, n: int) -> np.ndarray:
        n = _positive_int(n, "n")
        return np.geomspace(self.low, self.high, n) if n > 1 else np.array([math.sqrt(self.low * self.high)])

    def __repr__(self) -> str:
        return f"LogUniform({self.low:g}, {self.high:g})"


class Choice(_Range):
    """One of a few values, each equally likely; its grid is the values themselves (``n`` is ignored)."""

    def __init__(self, values: Sequence[Any]) -> None:
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) < 1:
            raise ValueError(f"values must be a non-empty sequence, got {values!r}")
        self.values = list(values)

    def sample(self, rng: Any, n: int) -> np.ndarray:
        idx = _rng(rng).integers(0, len(self.values), size=_positive_int(n, "n"))
        return np.array([self.values[i] for i in idx], dtype=object)

    def grid(self, n: int) -> np.ndarray:
        return np.array(self.values, dtype=object)

    def __repr__(self) -> str:
        return f"Choice({self.values!r})"


def _space(space: Any) -> dict[str, _Range]:
    if not isinstance(space, Mapping) or not space:
        raise TypeError("space must be a non-empty dict of name -> Uniform/LogUniform/Choice")
    for k, v in space.items():
        if not isinstance(k, str) or not isinstance(v, _Range):
            raise TypeError(f"space[{k!r}] must be a Uniform, LogUniform or Choice, got {type(v).__name__}")
    return dict(space)


def _py(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def random_search(space: Mapping[str, _Range], n: int, seed: Any = 0) -> list[dict[str, Any]]:
    """``n`` configurations, each hyperparameter drawn independently from its range.

    Every hyperparameter takes ``n`` different values (almost surely, for continuous ranges),
    which is why random search explores the axis that matters better than a grid with the same
    budget (Bergstra & Bengio, 2012). Deterministic for a given ``seed``. Chapter: *The tuning
    recipe*.
    """
    sp = _space(space)
    rng = _rng(seed)
    n = _positive_int(n, "n")
    cols = {k: r.sample(rng, n) for k, r in sp.items()}
    return [{k: _py(cols[k][i]) for k in sp} for i in range(n)]


def grid_search(space: Mapping[str, _Range], per_axis: int | Mapping[str, int]) -> list[dict[str, Any]]:
    """Every combination of ``per_axis`` grid values of each hyperparameter (the first one varying slowest).

    ``per_axis`` is one number for every axis or a dict by name. With :math:`k` values per axis
    and :math:`d` axes this is :math:`k^d` configurations, but only :math:`k` distinct values of
    each hyperparameter. Chapter: *The tuning recipe*.
    """
    sp = _space(space)
    counts = {k: (per_axis[k] if isinstance(per_axis, Mapping) else per_axis) for k in sp}
    axes = {k: r.grid(counts[k]) for k, r in sp.items()}
    return [{k: _py(v) for k, v in zip(sp, combo)} for combo in itertools.product(*axes.values())]


@dataclass(frozen=True)
class Trial:
    """One evaluated configuration: its hyperparameters and the objective's value (higher is better)."""

    params: dict
    value: float


def run_search(objective: Callable[..., float], configs: Sequence[Mapping[str, Any]],
               progress: bool = False, desc: str | None = None) -> list[Trial]:
    """Evaluate ``objective(**config)`` for every configuration; a non-finite value counts as ``-inf``.

    Returns the trials in order; ``max(trials, key=lambda t: t.value)`` is the best.
    """
    from tqdm.auto import tqdm

    if not callable(objective):
        raise TypeError(f"objective must be callable, got {type(objective).__name__}")
    out = []
    for cfg in tqdm(list(configs), disable=not progress, desc=desc, leave=False):
        v = float(objective(**cfg))
        out.append(Trial(dict(cfg), v if math.isfinite(v) else -math.inf))
    return out


# ------------------------------------------------------------------ the learning-rate range test

@dataclass(frozen=True)
class RangeTest:
    r"""What :func:`lr_range_test` recorded.

    Attributes
    ----------
    lr : array of shape (steps,)
        The rate of each step, :math:`\alpha_t = \alpha_{\min}(\alpha_{\max}/\alpha_{\min})^{t/(T-1)}`.
    loss : array of shape (steps,)
        The minibatch loss of each step (NaN after the test stopped).
    smoothed : array of shape (steps,)
        Its :func:`moving_average`.
    steepest : float
        The rate where the smoothed loss falls fastest per factor of rate (its most negative
        slope against :math:`\log\alpha`), before the minimum.
    best : float
        The rate at the smoothed loss's minimum; ``best / 10`` is the other common pick.
    stopped_at : int
        Steps run (the test stops once the smoothed loss exceeds 4 times its minimum).
    """

    lr: np.ndarray
    loss: np.ndarray
    smoothed: np.ndarray
    steepest: float
    best: float
    stopped_at: int


def lr_range_test(model: training.Classifier, make_optimizer: Callable[[list, float], optim.Optimizer],
                  data: Dataset, lr_min: float = 1e-5, lr_max: float = 10.0, steps: int = 200,
                  batch_size: int = 64, window: int = 10, seed: int = 0) -> RangeTest:
    r"""The learning-rate range test: raise :math:`\alpha` geometrically every step and watch the loss.

    Trains ``model`` (in place) on minibatches of ``data``'s training part with the optimizer
    ``make_optimizer(model.params, lr_min)``, setting its rate to :math:`\alpha_t` before step
    :math:`t`. The loss first does not move (rate too small), then falls (the useful range), then
    explodes (too large); the test stops once its moving average exceeds four times its lowest
    value, or on a non-finite loss. Chapter: *The tuning recipe*.
    """
    if not isinstance(model, training.Classifier):
        raise TypeError(f"model must be a dlnotes.training.Classifier, got {type(model).__name__}")
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be a dlnotes.datasets.Dataset, got {type(data).__name__}")
    lr_min = as_scalar(lr_min, "lr_min", low=0.0, low_open=True)
    lr_max = as_scalar(lr_max, "lr_max", low=0.0, low_open=True)
    if not lr_max > lr_min:
        raise ValueError(f"lr_max must be > lr_min, got {lr_min:g} and {lr_max:g}")
    steps = _positive_int(steps, "steps")
    if steps < 2:
        raise ValueError("steps must be at least 2")
    batch_size = _positive_int(batch_size, "batch_size")
    window = _positive_int(window, "window")
    opt = make_optimizer(model.params, lr_min)
    if not isinstance(opt, optim.Optimizer):
        raise TypeError("make_optimizer must return a dlnotes.optim optimizer")
    X = model._check_X(data.X_train)
    y = as_labels(data.y_train, "data.y_train", n=X.shape[0], k=model.n_classes)
    lrs = lr_min * (lr_max / lr_min) ** (np.arange(steps) / (steps - 1))
    losses = np.full(steps, np.nan)
    rng = np.random.default_rng(seed)
    batches: list[np.ndarray] = []
    stopped = steps
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps):
            if not batches:
                batches = training.minibatch_indices(X.shape[0], batch_size, rng)[::-1]
            idx = batches.pop()
            opt.lr = float(lrs[t])
            s, cache = model.forward(X[idx])
            loss = softmax_cross_entropy(s, y[idx]) if np.all(np.isfinite(s)) else np.inf
            if not np.isfinite(loss):
                stopped = t
                break
            losses[t] = loss
            ds = softmax_cross_entropy_grad(s, y[idx]).astype(s.dtype, copy=False)
            opt.step([g.astype(p.dtype, copy=False) for g, p in zip(model.backward(ds, cache), model.params)])
            sm = moving_average(losses[:t + 1], window)
            if t >= window and sm[-1] > 4 * sm.min():
                stopped = t + 1
                break
    n = max(stopped, 1)
    smoothed = np.full(steps, np.nan)
    smoothed[:n] = moving_average(losses[:n], window)
    i_best = int(np.nanargmin(smoothed[:n]))
    slope = np.gradient(smoothed[:n], np.log(lrs[:n])) if n > 1 else np.zeros(1)
    i_steep = int(np.argmin(slope[:i_best + 1])) if i_best > 0 else 0
    return RangeTest(lrs, losses, smoothed, float(lrs[i_steep]), float(lrs[i_best]), int(stopped))


# ------------------------------------------------------------------ the update-to-weight ratio

class UpdateRatioMonitor(optim.Optimizer):
    r"""An optimizer that steps another one and records the update-to-weight ratio of every parameter array.

    At step :math:`t`, for each array :math:`\theta^{(l)}`,
    :math:`\chi^{(l)}_t = \lVert\theta^{(l)}_{t+1} - \theta^{(l)}_t\rVert / \lVert\theta^{(l)}_t\rVert`
    (Frobenius norms; NaN while :math:`\theta^{(l)}_t = 0`, e.g. a bias at its zero start). The
    rule of thumb is :math:`\chi \approx 10^{-3}`: much larger and the rate is too high (each step
    rewrites a sizeable part of the weights), much smaller and it is too low. ``ratios`` is an
    array of shape (steps, number of arrays). Setting ``lr`` sets the wrapped optimizer's, so
    schedules work; :func:`dlnotes.training.train` accepts the monitor in place of the optimizer.
    Chapter: *The tuning recipe*.

    Parameters
    ----------
    optimizer : dlnotes.optim.Optimizer
    """

    def __init__(self, optimizer: optim.Optimizer) -> None:
        if not isinstance(optimizer, optim.Optimizer):
            raise TypeError(f"optimizer must be a dlnotes.optim optimizer, got {type(optimizer).__name__}")
        self.inner = optimizer
        self.params = optimizer.params
        self.state = optimizer.state
        self.t = 0
        self._ratios: list[np.ndarray] = []
        self._before = [np.empty_like(p) for p in self.params]

    @property
    def lr(self) -> float:
        """The wrapped optimizer's learning rate."""
        return self.inner.lr

    @lr.setter
    def lr(self, value: float) -> None:
        self.inner.lr = value

    @property
    def ratios(self) -> np.ndarray:
        r""":math:`\chi^{(l)}_t`, shape (steps so far, number of parameter arrays)."""
        if not self._ratios:
            return np.empty((0, len(self.params)))
        return np.array(self._ratios)

    def step(self, grads: Any) -> None:
        """Step the wrapped optimizer and record the ratios."""
        for b, p in zip(self._before, self.params):
            np.copyto(b, p)
        self.inner.step(grads)
        row = np.empty(len(self.params))
        for i, (b, p) in enumerate(zip(self._before, self.params)):
            norm = float(np.linalg.norm(b))
            row[i] = float(np.linalg.norm(p - b)) / norm if norm > 0 else np.nan
        self._ratios.append(row)
        self.t += 1

    @property
    def _kernel(self):  # pragma: no cover - the wrapped optimizer does the work
        raise NotImplementedError

    def _hyper_repr(self) -> str:
        return f"monitoring {self.inner!r}"
