r"""Learning-rate schedules: :math:`t \mapsto \alpha_t`, and the batch-size scaling rule.

Taught in the chapter *Learning-rate schedules*.

A schedule is a function of the step counter :math:`t = 0, 1, 2, \dots` (the number of
optimizer steps already taken) returning the learning rate of step :math:`t`. Every
builder here returns a :class:`Schedule`, which is called like a function and can be
tabulated for a plot with :meth:`Schedule.values`. To follow one while training, set the
optimizer's rate before each step::

    sched = schedules.warmup(schedules.cosine(0.1, total_steps=900), warmup_steps=100)
    for t in range(1000):
        opt.lr = sched(t)
        opt.step(grads)

Each schedule equals a ``torch.optim.lr_scheduler`` (named in its docstring): our
``sched(t)`` is the ``lr`` that torch's optimizer uses at step ``t`` when the scheduler's
``step()`` is called once after every optimizer step. The tests check this.

Notation (the book's): :math:`\alpha` the base rate [``lr``], :math:`\alpha_t` the rate of
step :math:`t`, :math:`T` the run length, :math:`T_s` the steps between decays,
:math:`\zeta` the decay factor per decay [torch's ``gamma``], :math:`\tau` a time
constant in steps, :math:`W` the warm-up steps, :math:`T_0, T_{\mathrm{mult}}` the warm
restarts' first period and its multiplier, :math:`B, B_0` batch sizes. Step numbers and
step counts are at most :data:`MAX_STEPS` (:math:`2^{53}`, beyond which a float64 no
longer holds every integer).
"""

from __future__ import annotations

import bisect
import math
import numbers
from typing import Any, Callable, Sequence

import numpy as np

from ._validation import as_callable, as_int, as_scalar, check_choice

__all__ = [
    "Schedule", "constant", "step_decay", "multistep", "exponential", "inverse_time",
    "inverse_sqrt", "cosine", "linear", "cosine_warm_restarts", "cyclic", "warmup",
    "scale_lr_for_batch_size", "MAX_STEPS", "MAX_VALUES",
]

#: The largest step number, and step count, that a schedule accepts (2**53).
MAX_STEPS = 2 ** 53
#: The most rates :meth:`Schedule.values` tabulates in one call.
MAX_VALUES = 10 ** 7


def _lr(lr: Any, name: str = "lr") -> float:
    return as_scalar(lr, name, low=0.0)


def _count(value: Any, name: str, low: int = 1, high: int = MAX_STEPS) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    return as_int(value, name, low=low, high=high)


class Schedule:
    r"""A learning-rate schedule :math:`t \mapsto \alpha_t`, for steps :math:`t = 0, 1, 2, \dots`.

    Call it with a non-negative integer step; :meth:`values` tabulates the first
    ``steps`` rates. ``lr`` is the base rate :math:`\alpha` and ``description`` the
    formula, for legends.

    Parameters
    ----------
    fn : callable
        :math:`t \mapsto \alpha_t` for integers :math:`t \ge 0`; every rate it returns must
        be a finite number >= 0 (checked at each call).
    lr : float >= 0
    description : str
    """

    def __init__(self, fn: Callable[[int], float], lr: float, description: str) -> None:
        self._fn = as_callable(fn, "fn", "a callable t -> learning rate")
        self.lr = _lr(lr)
        if not isinstance(description, str):
            raise TypeError(f"description must be a string, got {type(description).__name__}")
        self.description = description

    def __call__(self, t: int) -> float:
        r"""The learning rate :math:`\alpha_t` of step ``t`` (an integer in [0, 2**53])."""
        if isinstance(t, bool) or not isinstance(t, numbers.Integral):
            raise TypeError(f"t must be an integer step number >= 0, got {type(t).__name__}")
        if t < 0:
            raise ValueError(f"t must be >= 0 (steps are counted from 0), got {t}")
        if t > MAX_STEPS:
            raise ValueError(f"t must be <= 2**53 (the largest step number), got 2**{int(t).bit_length() - 1}")
        rate = self._fn(int(t))
        if isinstance(rate, (bool, str, bytes)) or np.ndim(rate) != 0:
            raise TypeError(f"fn (the schedule's function) must return a number, got "
                            f"{type(rate).__name__} at t = {t}")
        try:
            value = float(rate)
        except (TypeError, ValueError, OverflowError):
            raise TypeError(f"fn (the schedule's function) must return a finite number, got "
                            f"{type(rate).__name__} at t = {t}") from None
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"fn (the schedule's function) must return a finite rate >= 0, got "
                             f"{value:g} at t = {t}")
        return value

    def values(self, steps: int) -> np.ndarray:
        """The rates of steps ``0, ..., steps - 1``, as an array of shape (steps,); ``steps`` <= 10**7."""
        steps = _count(steps, "steps", low=0, high=MAX_VALUES)
        return np.array([self(t) for t in range(steps)], dtype=np.float64)

    def __repr__(self) -> str:
        return f"Schedule({self.description})"


def constant(lr: float) -> Schedule:
    r"""Constant rate, :math:`\alpha_t = \alpha`. Chapter: *Learning-rate schedules*."""
    lr = _lr(lr)
    return Schedule(lambda t: lr, lr, f"constant {lr:g}")


def step_decay(lr: float, step_size: int, gamma: float = 0.1) -> Schedule:
    r"""Step decay, :math:`\alpha_t = \alpha\,\zeta^{\lfloor t / T_s \rfloor}`: multiply by :math:`\zeta` every :math:`T_s` steps.

    Equals ``torch.optim.lr_scheduler.StepLR(step_size=T_s, gamma=zeta)``.

    Chapter: *Learning-rate schedules*.

    Parameters
    ----------
    lr : float >= 0
        :math:`\alpha`.
    step_size : int >= 1
        :math:`T_s`.
    gamma : float in (0, 1]
        :math:`\zeta`, the factor (0.5 halves the rate; "divide by 10" is 0.1).
    """
    lr = _lr(lr)
    step_size = _count(step_size, "step_size")
    gamma = as_scalar(gamma, "gamma", low=0.0, high=1.0, low_open=True)
    return Schedule(lambda t: lr * gamma ** (t // step_size), lr,
                    f"step decay: {lr:g} x {gamma:g}^floor(t/{step_size})")


def multistep(lr: float, milestones: Sequence[int], gamma: float = 0.1) -> Schedule:
    r"""Multi-step decay, :math:`\alpha_t = \alpha\,\zeta^{\#\{j : t_j \le t\}}`: multiply by :math:`\zeta` at each milestone :math:`t_j`.

    Equals ``torch.optim.lr_scheduler.MultiStepLR(milestones, gamma=zeta)``.

    Chapter: *Learning-rate schedules*.

    Parameters
    ----------
    lr : float >= 0
    milestones : increasing sequence of ints >= 1
    gamma : float in (0, 1]
        :math:`\zeta`.
    """
    lr = _lr(lr)
    if isinstance(milestones, (str, bytes)) or not isinstance(milestones, Sequence) or not milestones:
        raise TypeError(f"milestones must be a non-empty sequence of increasing integers, got {milestones!r}")
    ms = [_count(m, f"milestones[{i}]") for i, m in enumerate(milestones)]
    if any(b <= a for a, b in zip(ms, ms[1:])):
        raise ValueError(f"milestones must be strictly increasing, got {ms}")
    gamma = as_scalar(gamma, "gamma", low=0.0, high=1.0, low_open=True)
    return Schedule(lambda t: lr * gamma ** bisect.bisect_right(ms, t), lr,
                    f"multi-step: {lr:g}, x {gamma:g} at {ms}")


def exponential(lr: float, gamma: float) -> Schedule:
    r"""Exponential decay, :math:`\alpha_t = \alpha\,\zeta^t` (equivalently :math:`\alpha e^{-t/\tau}` with :math:`\tau = -1/\log\zeta`).

    Equals ``torch.optim.lr_scheduler.ExponentialLR(gamma=zeta)``.

    Chapter: *Learning-rate schedules*.

    Parameters
    ----------
    lr : float >= 0
    gamma : float in (0, 1]
        :math:`\zeta`.
    """
    lr = _lr(lr)
    gamma = as_scalar(gamma, "gamma", low=0.0, high=1.0, low_open=True)
    return Schedule(lambda t: lr * gamma ** t, lr, f"exponential: {lr:g} x {gamma:g}^t")


def inverse_time(lr: float, decay: float) -> Schedule:
    r"""1/t decay, :math:`\alpha_t = \alpha / (1 + t/\tau)`, with ``decay`` :math:`= 1/\tau`.

    The classic decay for which SGD provably converges (:math:`\sum\alpha_t = \infty`,
    :math:`\sum\alpha_t^2 < \infty`); the rate halves after :math:`\tau` steps.
    ``torch.optim.Adagrad(lr_decay=decay)`` (and :class:`dlnotes.optim.Adagrad`) uses
    exactly this rate; with any optimizer it is
    ``LambdaLR(lambda t: 1 / (1 + decay * t))``.

    Chapter: *Learning-rate schedules*.

    Parameters
    ----------
    lr : float >= 0
    decay : float >= 0
        :math:`1/\tau` (0: a constant rate).
    """
    lr = _lr(lr)
    k = as_scalar(decay, "decay", low=0.0)
    return Schedule(lambda t: lr / (1.0 + k * t), lr, f"1/t: {lr:g} / (1 + {k:g} t)")


def inverse_sqrt(lr: float, timescale: float = 1.0) -> Schedule:
    r"""Inverse square root decay, :math:`\alpha_t = \alpha / \sqrt{1 + t/\tau}`.

    Decays more slowly than 1/t; common for Transformers. After a warm-up of
    :math:`W` steps with :math:`\tau = W`, ``warmup(inverse_sqrt(lr, W), W)`` gives
    :math:`\alpha\sqrt{W/t}` for :math:`t \ge W`, the rate of Vaswani et al. (2017) up to
    the constant. With torch: ``LambdaLR(lambda t: 1 / math.sqrt(1 + t / tau))``.

    Chapter: *Learning-rate schedules*.

    Parameters
    ----------
    lr : float >= 0
    timescale : float > 0
        :math:`\tau`, the number of steps over which the rate falls by :math:`\sqrt2`.
    """
    lr = _lr(lr)
    tau = as_scalar(timescale, "timescale", low=0.0, low_open=True)
    return Schedule(lambda t: lr / math.sqrt(1.0 + t / tau), lr,
                    f"inverse sqrt: {lr:g} / sqrt(1 + t/{tau:g})")


def cosine(lr: float, total_steps: int, min_lr: float = 0.0) -> Schedule:
    r"""Cosine decay, :math:`\alpha_t = \alpha_{\min} + \tfrac12(\alpha - \alpha_{\min})\bigl(1 + \cos(\pi t / T)\bigr)` for :math:`t \le T`, then :math:`\alpha_{\min}`.

    Slow at the start and the end, fastest in the middle; one hyperparameter besides
    :math:`\alpha`. Equals ``torch.optim.lr_scheduler.CosineAnnealingLR(T_max=T,
    eta_min=min_lr)`` for :math:`t \le T`. After :math:`T` we stay at
    :math:`\alpha_{\min}`; torch's formula keeps going and climbs back up (period
    :math:`2T`), which is never what one wants.

    Chapter: *Learning-rate schedules*.

    Parameters
    ----------
    lr : float >= 0
        :math:`\alpha`, the rate at :math:`t = 0`.
    total_steps : int >= 1
        :math:`T`.
    min_lr : float in [0, lr]
        :math:`\alpha_{\min}`.
    """
    lr = _lr(lr)
    total = _count(total_steps, "total_steps")
    lo = as_scalar(min_lr, "min_lr", low=0.0, high=lr)
    return Schedule(lambda t: lo + 0.5 * (lr - lo) * (1.0 + math.cos(math.pi * min(t, total) / total)),
                    lr, f"cosine: {lr:g} -> {lo:g} over {total} steps")


def linear(lr: float, total_steps: int, start_factor: float = 1.0, end_factor: float = 0.0) -> Schedule:
    r"""Linear interpolation of the factor, :math:`\alpha_t = \alpha\bigl(\text{start} + (\text{end} - \text{start})\min(t, T)/T\bigr)`.

    The default (start 1, end 0) decays linearly to zero in :math:`T` steps.
    Equals ``torch.optim.lr_scheduler.LinearLR(start_factor, end_factor,
    total_iters=T)`` (torch needs ``start_factor > 0``).

    Chapter: *Learning-rate schedules*.

    Parameters
    ----------
    lr : float >= 0
    total_steps : int >= 1
        :math:`T`.
    start_factor, end_factor : floats >= 0
        The factors at :math:`t = 0` and :math:`t \ge T`.
    """
    lr = _lr(lr)
    total = _count(total_steps, "total_steps")
    s = as_scalar(start_factor, "start_factor", low=0.0)
    e = as_scalar(end_factor, "end_factor", low=0.0)
    return Schedule(lambda t: lr * (s + (e - s) * min(t, total) / total), lr,
                    f"linear: {lr:g} x ({s:g} -> {e:g}) over {total} steps")


def cosine_warm_restarts(lr: float, period: int, period_mult: int = 1, min_lr: float = 0.0) -> Schedule:
    r"""Cosine with warm restarts (SGDR): :math:`\alpha_t = \alpha_{\min} + \tfrac12(\alpha - \alpha_{\min})\bigl(1 + \cos(\pi t_{\mathrm{cur}}/T_{\mathrm{cyc}})\bigr)`.

    :math:`t_{\mathrm{cur}}` counts steps since the last restart and
    :math:`T_{\mathrm{cyc}}` is the length of the current cycle: the first cycle lasts
    :math:`T_0` steps and each next one :math:`T_{\mathrm{mult}}` times longer. At each
    restart the rate jumps back to :math:`\alpha` (Loshchilov & Hutter 2017); snapshot
    ensembles save a model at the end of each cycle. Equals
    ``torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(T_0, T_mult, eta_min)``.

    Chapter: *Learning-rate schedules* (cyclic schedules and warm restarts).

    Parameters
    ----------
    lr : float >= 0
    period : int >= 1
        :math:`T_0`.
    period_mult : int >= 1
        :math:`T_{\mathrm{mult}}`.
    min_lr : float in [0, lr]
    """
    lr = _lr(lr)
    t0 = _count(period, "period")
    mult = _count(period_mult, "period_mult")
    lo = as_scalar(min_lr, "min_lr", low=0.0, high=lr)

    def fn(t: int) -> float:
        if mult == 1:
            t_cur, t_i = t % t0, t0
        else:
            # cycles grow geometrically, so this loop runs O(log t) times
            t_cur, t_i = t, t0
            while t_cur >= t_i:
                t_cur -= t_i
                t_i *= mult
        return lo + 0.5 * (lr - lo) * (1.0 + math.cos(math.pi * t_cur / t_i))

    return Schedule(fn, lr, f"cosine restarts: {lr:g} -> {lo:g}, period {t0} x {mult}^cycle")


def cyclic(min_lr: float, max_lr: float, step_size_up: int,
           step_size_down: int | None = None) -> Schedule:
    r"""Triangular cyclic rate: linear from :math:`\alpha_{\min}` up to :math:`\alpha_{\max}` over :math:`T_\uparrow` steps, back down over :math:`T_\downarrow`, repeated.

    With cycle length :math:`T_c = T_\uparrow + T_\downarrow` and
    :math:`t_{\mathrm{cur}} = t \bmod T_c` the steps since the cycle began,

    .. math::

        \alpha_t = \alpha_{\min} + (\alpha_{\max} - \alpha_{\min})
        \begin{cases} t_{\mathrm{cur}} / T_\uparrow & t_{\mathrm{cur}} \le T_\uparrow \\
        (T_c - t_{\mathrm{cur}})/T_\downarrow & t_{\mathrm{cur}} > T_\uparrow \end{cases} .

    Smith (2017): sweeping the rate up and down each cycle lets training leave sharp
    regions and removes most of the need to tune a decay. Equals
    ``torch.optim.lr_scheduler.CyclicLR(opt, base_lr=min_lr, max_lr=max_lr,
    step_size_up=..., step_size_down=..., mode="triangular", cycle_momentum=False)``.

    Chapter: *Learning-rate schedules* (cyclic schedules and warm restarts).

    Parameters
    ----------
    min_lr : float >= 0
        :math:`\alpha_{\min}`, the rate at the start and end of every cycle (torch's ``base_lr``).
    max_lr : float >= min_lr
        :math:`\alpha_{\max}`, reached after ``step_size_up`` steps.
    step_size_up : int >= 1
        :math:`T_\uparrow`.
    step_size_down : int >= 1, optional
        :math:`T_\downarrow`; defaults to ``step_size_up`` (a symmetric triangle).
    """
    lo = _lr(min_lr, "min_lr")
    hi = as_scalar(max_lr, "max_lr", low=lo)
    up = _count(step_size_up, "step_size_up")
    down = up if step_size_down is None else _count(step_size_down, "step_size_down")
    total = float(up + down)
    ratio = up / total

    def fn(t: int) -> float:
        # the same arithmetic as torch's CyclicLR, so the two agree to the last bit
        cycle = math.floor(1 + t / total)
        x = 1.0 + t / total - cycle
        scale = x / ratio if x <= ratio else (x - 1) / (ratio - 1)
        return lo + (hi - lo) * scale

    return Schedule(fn, hi, f"triangular cyclic: {lo:g} <-> {hi:g}, up {up}, down {down} steps")


def warmup(schedule: Schedule, warmup_steps: int, start_factor: float = 0.0) -> Schedule:
    r"""Linear warm-up before any schedule: :math:`\alpha_t = \alpha_{\max}\bigl(\text{start} + (1 - \text{start})\,t/W\bigr)` for :math:`t < W`, then the schedule shifted by :math:`W`.

    :math:`\alpha_{\max}` is the wrapped schedule's first rate (the peak) and start the
    starting fraction ``start_factor``. After the warm-up the wrapped schedule starts from
    its own step 0, so ``warmup(cosine(lr, T), W)`` runs for :math:`W + T` steps. Equals
    torch's ``SequentialLR([LinearLR(start_factor, total_iters=W), <schedule>],
    milestones=[W])`` (torch needs ``start_factor > 0``; a ``LambdaLR`` does 0).

    Chapter: *Learning-rate schedules* (warm-up).

    Parameters
    ----------
    schedule : Schedule
    warmup_steps : int >= 1
        :math:`W`.
    start_factor : float in [0, 1]
        The fraction of :math:`\alpha_{\max}` at :math:`t = 0` (default 0: start from a
        zero rate).
    """
    if not isinstance(schedule, Schedule):
        raise TypeError(f"schedule must be a dlnotes.schedules.Schedule, got {type(schedule).__name__}")
    w = _count(warmup_steps, "warmup_steps")
    s = as_scalar(start_factor, "start_factor", low=0.0, high=1.0)
    peak = schedule(0)

    def fn(t: int) -> float:
        return peak * (s + (1.0 - s) * t / w) if t < w else schedule(t - w)

    return Schedule(fn, schedule.lr, f"{w} warm-up steps, then {schedule.description}")


def scale_lr_for_batch_size(lr: float, batch_size: int, base_batch_size: int,
                            rule: str = "linear") -> float:
    r"""Scale a learning rate tuned at batch size :math:`B_0` to batch size :math:`B`: :math:`\alpha B/B_0` (linear rule) or :math:`\alpha\sqrt{B/B_0}`.

    The linear rule (Goyal et al. 2017) keeps the distance travelled per *sample* the same:
    while the gradient changes little, one step with a batch of :math:`B` samples and rate
    :math:`\alpha B/B_0` goes where :math:`B/B_0` steps with batches of :math:`B_0` and rate
    :math:`\alpha` go. The square-root rule (Krizhevsky 2014; often used for Adam) keeps
    the noise of the update the same instead. Large rates usually need a warm-up.

    Chapter: *Learning-rate schedules* (the batch-size scaling rule).

    Parameters
    ----------
    lr : float >= 0
        :math:`\alpha`, tuned at :math:`B_0`.
    batch_size, base_batch_size : ints >= 1
        :math:`B` and :math:`B_0`.
    rule : {'linear', 'sqrt'}

    Returns
    -------
    float
    """
    lr = _lr(lr)
    b = _count(batch_size, "batch_size")
    b0 = _count(base_batch_size, "base_batch_size")
    rule = check_choice(rule, "rule", ("linear", "sqrt"))
    out = lr * b / b0 if rule == "linear" else lr * math.sqrt(b / b0)
    if rule == "linear" and math.isinf(out):
        out = lr * (b / b0)  # lr * b overflowed; the scaled rate itself may not
    if not math.isfinite(out):
        raise ValueError(f"lr * batch_size / base_batch_size overflows a float: lr = {lr:g} is too "
                         f"large for a batch {b} / {b0} times the base")
    return out
