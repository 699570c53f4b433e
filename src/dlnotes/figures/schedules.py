"""Figures, explorables and experiments of the chapter *Learning-rate schedules*."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from matplotlib.figure import Figure

from .. import optim, schedules, training
from ..datasets import Dataset, digits
from ..explorables import Control, Explorable
from . import new_figure

__all__ = [
    "SCHEDULE_COLORS", "ScheduleEntry", "book_schedules", "torch_rates", "torch_parity",
    "schedules_figure", "schedule_comparison", "schedule_comparison_figure",
    "batch_scaling_runs", "plotted_schedule", "schedule_explorable",
]

#: One colour per family of schedules, used in every figure of the chapter.
SCHEDULE_COLORS = {
    "constant": "#333333",
    "step": "#1f78b4",
    "multistep": "#5fa2d0",
    "exponential": "#33a02c",
    "1/t": "#66bd63",
    "inverse sqrt": "#6a3d9a",
    "cosine": "#e31a1c",
    "linear": "#f768a1",
    "warm-up + cosine": "#ff7f00",
    "warm-up + inverse sqrt": "#9e9ac8",
    "warm restarts": "#b15928",
    "triangular cyclic": "#8c510a",
}


@dataclass(frozen=True)
class ScheduleEntry:
    """One schedule of the chapter: the ``dlnotes`` schedule, its formula and the PyTorch scheduler that equals it.

    Attributes
    ----------
    name : str
    schedule : dlnotes.schedules.Schedule
    formula : str
        LaTeX of :math:`\\alpha_t`.
    dlnotes_code, torch_code : str
        The calls, as shown in the book. ``torch_code`` is evaluated (with ``opt`` the
        optimizer and the names of ``torch.optim.lr_scheduler`` and ``math`` in scope) to
        build the scheduler, so the book shows exactly the code that was compared.
    """

    name: str
    schedule: schedules.Schedule
    formula: str
    dlnotes_code: str
    torch_code: str

    def make_torch_scheduler(self, opt: Any) -> Any:
        """Build the PyTorch scheduler of ``torch_code`` on the optimizer ``opt``."""
        from torch.optim import lr_scheduler

        namespace = {name: getattr(lr_scheduler, name) for name in dir(lr_scheduler)
                     if not name.startswith("_")}
        namespace.update(opt=opt, math=math, __builtins__={})
        # one namespace for globals and locals, so that the lambdas in the code see math
        return eval(self.torch_code, namespace)  # noqa: S307 (our own strings)


def book_schedules(lr: float = 0.1, steps: int = 1000) -> list[ScheduleEntry]:
    """The schedules the chapter plots and compares with PyTorch, for a run of ``steps`` steps."""
    T = steps
    q, h, w = T // 4, T // 2, T // 10
    e = [
        ScheduleEntry("step", schedules.step_decay(lr, q, 0.5),
                      rf"\alpha\,\zeta^{{\lfloor t/T_s \rfloor}},\ T_s = {q},\ \zeta = 0.5",
                      f"step_decay({lr:g}, {q}, gamma=0.5)", f"StepLR(opt, step_size={q}, gamma=0.5)"),
        ScheduleEntry("multistep", schedules.multistep(lr, [h, 3 * q], 0.1),
                      rf"\alpha\,\zeta^{{\#\{{i:\ t_i \le t\}}}},\ t_i \in \{{{h}, {3 * q}\}},\ \zeta = 0.1",
                      f"multistep({lr:g}, [{h}, {3 * q}], gamma=0.1)",
                      f"MultiStepLR(opt, milestones=[{h}, {3 * q}], gamma=0.1)"),
        ScheduleEntry("exponential", schedules.exponential(lr, 0.997),
                      r"\alpha\,\zeta^t = \alpha e^{-t/\tau},\ \zeta = 0.997",
                      f"exponential({lr:g}, gamma=0.997)", "ExponentialLR(opt, gamma=0.997)"),
        ScheduleEntry("1/t", schedules.inverse_time(lr, 0.01),
                      r"\alpha / (1 + t/\tau),\ \tau = 100",
                      f"inverse_time({lr:g}, decay=0.01)",
                      "LambdaLR(opt, lambda t: 1 / (1 + 0.01 * t))"),
        ScheduleEntry("inverse sqrt", schedules.inverse_sqrt(lr, 50.0),
                      r"\alpha / \sqrt{1 + t/\tau},\ \tau = 50",
                      f"inverse_sqrt({lr:g}, timescale=50)",
                      "LambdaLR(opt, lambda t: 1 / math.sqrt(1 + t / 50))"),
        ScheduleEntry("cosine", schedules.cosine(lr, T),
                      rf"\tfrac12\alpha\,(1 + \cos(\pi t/T)),\ T = {T}",
                      f"cosine({lr:g}, total_steps={T})", f"CosineAnnealingLR(opt, T_max={T})"),
        ScheduleEntry("linear", schedules.linear(lr, T),
                      rf"\alpha\,(1 - t/T),\ T = {T}",
                      f"linear({lr:g}, total_steps={T})",
                      f"LinearLR(opt, start_factor=1.0, end_factor=0.0, total_iters={T})"),
        ScheduleEntry("warm-up + cosine",
                      schedules.warmup(schedules.cosine(lr, T - w), w, start_factor=0.01),
                      rf"\text{{linear from }} 0.01\alpha \text{{ over }} W = {w}, \text{{ then cosine over }} {T - w}",
                      f"warmup(cosine({lr:g}, {T - w}), {w}, start_factor=0.01)",
                      f"SequentialLR(opt, [LinearLR(opt, start_factor=0.01, total_iters={w}), "
                      f"CosineAnnealingLR(opt, T_max={T - w})], milestones=[{w}])"),
        ScheduleEntry("warm-up + inverse sqrt", schedules.warmup(schedules.inverse_sqrt(lr, w), w),
                      rf"\alpha\,t/W \text{{ for }} t < W,\ \text{{then}}\ \alpha\sqrt{{W/t}},\ W = {w}",
                      f"warmup(inverse_sqrt({lr:g}, {w}), {w})",
                      f"LambdaLR(opt, lambda t: t / {w} if t < {w} else math.sqrt({w} / t))"),
        ScheduleEntry("warm restarts", schedules.cosine_warm_restarts(lr, w, 2),
                      rf"\text{{cosine restarted after }} T_0 = {w}, 2T_0, 4T_0, \ldots",
                      f"cosine_warm_restarts({lr:g}, period={w}, period_mult=2)",
                      f"CosineAnnealingWarmRestarts(opt, T_0={w}, T_mult=2)"),
        ScheduleEntry("triangular cyclic", schedules.cyclic(lr / 10, lr, w),
                      rf"\text{{linear }} \alpha/10 \to \alpha \text{{ over }} T_c = {w}, \text{{ back over }} T_c",
                      f"cyclic({lr / 10:g}, {lr:g}, step_size_up={w})",
                      f"CyclicLR(opt, base_lr={lr / 10:g}, max_lr={lr:g}, step_size_up={w}, "
                      "cycle_momentum=False)"),
    ]
    return e


def torch_rates(entry: ScheduleEntry, steps: int, lr: float | None = None) -> np.ndarray:
    """The rate ``torch.optim.SGD`` uses at steps 0..steps-1 under ``entry``'s PyTorch scheduler.

    ``scheduler.step()`` is called once after every optimizer step, the convention of
    :mod:`dlnotes.schedules`. Returns an array of shape (steps,).
    """
    import warnings

    import torch

    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=entry.schedule.lr if lr is None else lr)
    with warnings.catch_warnings():
        # SequentialLR passes an epoch argument to its children internally (a torch deprecation)
        warnings.simplefilter("ignore", UserWarning)
        sched = entry.make_torch_scheduler(opt)
        out = np.empty(steps)
        for t in range(steps):
            out[t] = opt.param_groups[0]["lr"]
            p.grad = torch.zeros(1)
            opt.step()
            sched.step()
    return out


def torch_parity(entries: Sequence[ScheduleEntry], steps: int) -> dict[str, float]:
    """Largest |dlnotes rate − PyTorch rate| over ``steps`` steps, for each entry."""
    return {e.name: float(np.max(np.abs(e.schedule.values(steps) - torch_rates(e, steps))))
            for e in entries}


def schedules_figure(entries: Sequence[ScheduleEntry], steps: int) -> Figure:
    """Small multiples: the rate against the step for each schedule of :func:`book_schedules`."""
    cols = 5
    rows = -(-len(entries) // cols)
    fig = new_figure(11.0, 2.35 * rows)
    axes = np.atleast_2d(fig.subplots(rows, cols, sharex=True, sharey=True))
    t = np.arange(steps)
    lr = max(e.schedule.lr for e in entries)
    for ax, e in zip(axes.ravel(), entries):
        ax.plot(t, e.schedule.values(steps), color=SCHEDULE_COLORS[e.name], lw=1.8)
        ax.axhline(lr, color="0.85", lw=0.8, zorder=0)
        ax.set_title(e.name, fontsize=9)
        ax.set_xlabel("step $t$")
    for ax in axes.ravel()[len(entries):]:
        ax.set_visible(False)
    for row in axes:
        row[0].set_ylabel(r"rate $\alpha_t$")
    axes[0, 0].set_ylim(-0.005, 1.08 * lr)
    return fig


# ------------------------------------------------------------------ the effect on training

def _comparison_schedules(lr: float, total: int) -> dict[str, schedules.Schedule]:
    w = total // 10
    return {
        "constant": schedules.constant(lr),
        "multistep": schedules.multistep(lr, [total // 2, 3 * total // 4], 0.1),
        "warm-up + cosine": schedules.warmup(schedules.cosine(lr, total - w), w),
    }


def schedule_comparison(epochs: int = 20, batch_size: int = 16, lr: float = 0.1,
                        momentum: float = 0.9, weight_decay: float = 0.01, hidden: int = 32,
                        data: Dataset | None = None, progress: bool = False) -> dict[str, dict]:
    """Train the same network on digits with SGD + momentum under a constant, a multi-step and a warm-up + cosine schedule.

    The network is :class:`dlnotes.training.MLP` (64 inputs, ``hidden`` ReLU units, 10
    classes, seed 0), trained by :func:`dlnotes.training.train` on the same minibatches
    for each schedule, with ``weight_decay`` so that the objective has a minimum at finite
    weights. Returns ``{name: {"schedule": Schedule, "history": History}}``.
    """
    data = digits() if data is None else data
    n = data.X_train.shape[0]
    total = epochs * (-(-n // batch_size))
    out = {}
    for name, sched in _comparison_schedules(lr, total).items():
        model = training.MLP(data.X_train.shape[1], hidden, 10, seed=0)
        opt = optim.SGD(model.params, lr=lr, momentum=momentum, weight_decay=weight_decay)
        hist = training.train(model, opt, data, epochs=epochs, batch_size=batch_size, seed=0,
                              schedule=sched, progress=progress, desc=name)
        out[name] = {"schedule": sched, "history": hist}
    return out


def schedule_comparison_figure(results: dict) -> Figure:
    """The rates (left), the training loss (middle) and the validation accuracy (right) of :func:`schedule_comparison`."""
    fig = new_figure(11.0, 3.3)
    ax_lr, ax_l, ax_a = fig.subplots(1, 3)
    for name, r in results.items():
        h = r["history"]
        c = SCHEDULE_COLORS[name]
        ax_lr.plot(np.arange(len(h.lr)) / h.steps_per_epoch, h.lr, color=c, lw=1.8, label=name)
        ax_l.semilogy(h.epoch, h.train_loss, "o-", ms=3, color=c, label=name)
        ax_a.plot(h.epoch[1:], h.val_accuracy[1:], "o-", ms=3, color=c, label=name)
    ax_lr.set_xlabel("epoch")
    ax_lr.set_ylabel(r"rate $\alpha_t$")
    ax_lr.set_title("Schedule", fontsize=10)
    ax_lr.legend(fontsize=8, frameon=False)
    ax_l.set_xlabel("epoch")
    ax_l.set_ylabel("training loss (log scale)")
    ax_l.set_title("Training cross-entropy", fontsize=10)
    ax_a.set_xlabel("epoch")
    ax_a.set_ylabel("validation accuracy")
    ax_a.set_title("Validation accuracy", fontsize=10)
    return fig


def batch_scaling_runs(batch_sizes: Sequence[int] = (16, 128, 512), base_batch_size: int = 16,
                       base_lr: float = 0.02, epochs: int = 20, data: Dataset | None = None,
                       progress: bool = False) -> list[dict]:
    """Train at several batch sizes with the base rate unchanged, scaled linearly, and scaled by the square root.

    Plain SGD (no momentum) on :class:`dlnotes.training.MLP` (64-32-10, ReLU, seed 0) for
    the same number of epochs, each run with a linear warm-up over its first 10% of steps
    followed by a cosine decay. The rate comes from
    :func:`dlnotes.schedules.scale_lr_for_batch_size`. Returns one dict per run with
    ``batch_size``, ``rule`` ('none', 'linear', 'sqrt'), ``lr``, ``steps`` and ``history``.
    The base batch size is run once (every rule gives the base rate there).
    """
    data = digits() if data is None else data
    n = data.X_train.shape[0]
    out = []
    for b in batch_sizes:
        rules = ("none",) if b == base_batch_size else ("none", "linear", "sqrt")
        for rule in rules:
            lr = base_lr if rule == "none" else schedules.scale_lr_for_batch_size(
                base_lr, b, base_batch_size, rule)
            total = epochs * (-(-n // b))
            w = max(1, total // 10)
            sched = schedules.warmup(schedules.cosine(lr, total - w), w)
            model = training.MLP(data.X_train.shape[1], 32, 10, seed=0)
            hist = training.train(model, optim.SGD(model.params, lr=lr), data, epochs=epochs,
                                  batch_size=b, seed=0, schedule=sched, progress=progress,
                                  desc=f"B = {b}, {rule}")
            out.append({"batch_size": b, "rule": rule, "lr": lr, "steps": total, "history": hist})
    return out


# ------------------------------------------------------------------ explorable: a schedule plotter

_WARMUPS = [0, 25, 50, 100, 200]
_PERIODS = [100, 200, 300, 500, 1000]
_PSTEPS = 1000
_PLR = 0.1


def plotted_schedule(warmup: int, period: int, lr: float = _PLR) -> schedules.Schedule:
    """The schedule of the explorable: cosine with warm restarts every ``period`` steps, after a linear warm-up of ``warmup`` steps (none if 0)."""
    base = schedules.cosine_warm_restarts(lr, int(period))
    return base if warmup == 0 else schedules.warmup(base, int(warmup))


def _restart_steps(values: np.ndarray, warmup: int) -> np.ndarray:
    # a restart is a step where the rate jumps up after the warm-up is over
    jumps = np.flatnonzero(np.diff(values) > 0) + 1
    return jumps[jumps > warmup]


def _draw_plotter(fig: Figure, warmup: float, period: float):
    ax = fig.subplots()
    t = np.arange(_PSTEPS)
    ref = schedules.cosine(_PLR, _PSTEPS).values(_PSTEPS)
    ref_line, = ax.plot(t, ref, color="0.7", lw=1, ls="--")
    ref_text = ax.text(0.5 * _PSTEPS, 0.5 * _PLR + 0.003, f"one cosine over {_PSTEPS} steps", color="0.5",
            fontsize=8, rotation=-19, ha="center", va="bottom")
    line, = ax.plot([], [], color=SCHEDULE_COLORS["warm restarts"], lw=2)
    peaks, = ax.plot([], [], linestyle="none", marker="v", color=SCHEDULE_COLORS["warm restarts"],
                     ms=6)
    shade = ax.axvspan(0, 0, color=SCHEDULE_COLORS["warm-up + cosine"], alpha=0.15, lw=0)
    ax.set_xlim(0, _PSTEPS)
    ax.set_ylim(0, 0.115)
    ax.set_xlabel("step $t$")
    ax.set_ylabel(r"rate $\alpha_t$")
    title = ax.set_title(" ", fontsize=10)

    def update(warmup: float, period: float) -> list:
        w, p = int(round(warmup)), int(round(period))
        v = plotted_schedule(w, p).values(_PSTEPS)
        line.set_data(t, v)
        r = _restart_steps(v, w)
        peaks.set_data(r, v[r] + 0.004)
        shade.set_x(0)
        shade.set_width(w)
        title.set_text(f"warm-up W = {w}, restart period T₀ = {p}: {len(r)} restart"
                       f"{'' if len(r) == 1 else 's'}, mean rate {v.mean():.4f}")
        # The shaded warm-up passes over the reference curve and its label, and the curve
        # runs along the bottom spine at rate 0: redraw those (unchanged) over them.
        return [shade, ref_line, ref_text, line, peaks, title, *ax.spines.values()]

    update(warmup, period)
    return update


def schedule_explorable() -> Explorable:
    """Explorable: a schedule plotter with sliders for the warm-up length and the restart period."""
    return Explorable(
        _draw_plotter,
        [Control("warmup", "warm-up steps W", _WARMUPS, value=100, fmt="{:.0f}"),
         Control("period", "restart period T₀", _PERIODS, value=300, fmt="{:.0f}")],
        alt=("The learning rate against the step over 1000 steps: a linear warm-up from zero over the "
             "shaded first W steps, then cosine decays from 0.1 towards zero that restart at 0.1 every "
             "T₀ steps, with triangles marking the restarts. A dashed grey curve shows a single cosine "
             "decay over the whole run for comparison; the title counts the restarts and gives the "
             "mean rate."),
        caption=("Warm-up, then cosine with warm restarts (SGDR). The warm-up shifts everything after "
                 "it; each restart jumps back to the peak rate."),
        figsize=(8.0, 3.2), dpi=80)
