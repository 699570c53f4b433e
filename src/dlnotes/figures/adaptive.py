r"""Figures and explorables of the chapter *Adaptive learning rates*.

Every number drawn here is computed by :mod:`dlnotes.optim`, :mod:`dlnotes.landscapes` and
:mod:`dlnotes.training`. Colours per optimizer come from
:data:`dlnotes.figures.momentum.OPTIMIZER_COLORS`.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
from matplotlib.figure import Figure

from .. import explorables, landscapes, optim, training
from ..datasets import digits
from ..explorables import Control, Explorable
from . import new_figure
from .momentum import OPTIMIZER_COLORS

__all__ = [
    "RACE_OPTIMIZERS", "race_makers", "adagrad_rate_rows", "plateau_gradients", "rates_on_a_plateau",
    "adam_bias_correction", "adam_factor_facts", "eps_placement_rows", "decay_rows",
    "rotation_rows", "race_explorable", "DIGITS_GRIDS", "digits_race",
]

RACE_OPTIMIZERS = ("GD", "Momentum", "Nesterov", "AdaGrad", "RMSProp", "Adam")


def race_makers(lr: float, names=RACE_OPTIMIZERS, rho: float = 0.9) -> dict[str, Callable]:
    r"""Optimizer factories that all share the learning rate ``lr`` (other hyperparameters at PyTorch's defaults, momentum :math:`\rho` = ``rho``)."""
    every = {
        "GD": lambda p: optim.SGD(p, lr=lr),
        "Momentum": lambda p: optim.SGD(p, lr=lr, momentum=rho),
        "Nesterov": lambda p: optim.SGD(p, lr=lr, momentum=rho, nesterov=True),
        "AdaGrad": lambda p: optim.Adagrad(p, lr=lr),
        "RMSProp": lambda p: optim.RMSprop(p, lr=lr),
        "Adam": lambda p: optim.Adam(p, lr=lr),
    }
    return {n: every[n] for n in names}


# ------------------------------------------------------------------ AdaGrad's rates

def adagrad_rate_rows(lr: float = 0.1, grad: float = 1.0, checkpoints=(1, 10, 100, 1000, 10000)) -> tuple[list, bool]:
    r"""AdaGrad's effective rate :math:`\alpha/(\sqrt{s_t}+\varepsilon)` under a constant gradient, at a few steps.

    Uses :meth:`dlnotes.optim.Adagrad.effective_lr` after each step. Returns
    ``(rows, never_increases)``: rows ``[t, effective rate, alpha / (sqrt(t) |g|)]`` at the
    ``checkpoints``, and whether the rate never increased over the whole run.
    """
    x = np.zeros(1)
    opt = optim.Adagrad([x], lr=lr)
    last = max(checkpoints)
    rates = np.empty(last)
    g = np.array([grad])
    for t in range(last):
        opt.step([g])
        rates[t] = opt.effective_lr()[0][0]
    rows = [[t, float(rates[t - 1]), lr / (math.sqrt(t) * abs(grad))] for t in checkpoints]
    return rows, bool(np.all(np.diff(rates) <= 0))


PLATEAU_SWITCH, PLATEAU_STEPS = 100, 400


def plateau_gradients(seed: int = 0) -> np.ndarray:
    """A gradient sequence of shape (PLATEAU_STEPS,): about 1 for the first PLATEAU_SWITCH steps (a steep region), then about 0.01 (a plateau)."""
    rng = np.random.default_rng(seed)
    scale = np.where(np.arange(PLATEAU_STEPS) < PLATEAU_SWITCH, 1.0, 0.01)
    return scale * (1.0 + 0.3 * rng.standard_normal(PLATEAU_STEPS))


def rates_on_a_plateau(lr: float = 0.01, beta: float = 0.9) -> tuple[dict, Figure]:
    r"""AdaGrad and RMSProp fed the same gradients, large for a while and then small.

    Left: the effective rate :math:`\alpha/(\sqrt{s_t}+\varepsilon)` after each step
    (AdaGrad's from :meth:`dlnotes.optim.Adagrad.effective_lr`, RMSProp's, with decay
    :math:`\beta_2` = ``beta``, from its state :math:`s`); right: the length of each step.
    Both are fed the same gradients. Returns ``(data, figure)`` with arrays
    ``'adagrad_rate'``, ``'rmsprop_rate'``, ``'adagrad_step'``, ``'rmsprop_step'``.
    """
    grads = plateau_gradients()
    xa, xr = np.zeros(1), np.zeros(1)
    ada = optim.Adagrad([xa], lr=lr)
    rms = optim.RMSprop([xr], lr=lr, beta=beta)
    data = {k: np.empty(len(grads)) for k in ("adagrad_rate", "rmsprop_rate", "adagrad_step", "rmsprop_step")}
    for t, g in enumerate(grads):
        a0, r0 = xa[0], xr[0]
        ada.step([np.array([g])])
        rms.step([np.array([g])])
        data["adagrad_rate"][t] = ada.effective_lr()[0][0]
        data["rmsprop_rate"][t] = rms.lr / (math.sqrt(rms.state[0]["s"][0]) + rms.eps)
        data["adagrad_step"][t] = abs(xa[0] - a0)
        data["rmsprop_step"][t] = abs(xr[0] - r0)
    t = np.arange(1, len(grads) + 1)
    fig = new_figure(9.5, 3.3)
    ax, ax_r = fig.subplots(1, 2)
    for ax_, key, label in ((ax, "rate", r"effective rate $\alpha/(\sqrt{s_t}+\varepsilon)$"),
                            (ax_r, "step", r"step length $|x_t - x_{t-1}|$")):
        ax_.semilogy(t, data[f"adagrad_{key}"], color=OPTIMIZER_COLORS["AdaGrad"], lw=2, label="AdaGrad")
        ax_.semilogy(t, data[f"rmsprop_{key}"], color=OPTIMIZER_COLORS["RMSProp"], lw=2,
                     label=f"RMSProp, $\\beta_2 = {beta:g}$")
        ax_.axvline(PLATEAU_SWITCH, color="0.6", lw=0.8, ls=":")
        ax_.set_xlabel("steps taken $t$")
        ax_.set_ylabel(label)
        ax_.legend(fontsize=8, frameon=False)
    ax.set_title("Gradients ≈ 1, then ≈ 0.01 (a plateau)")
    ax_r.set_title("AdaGrad stalls on the plateau")
    return data, fig


# ------------------------------------------------------------------ Adam's bias correction

def adam_factor_facts(betas=(0.9, 0.999)) -> dict:
    r"""Facts about :func:`dlnotes.optim.adam_uncorrected_step_factor` for the given betas.

    The factor of the :math:`t`-th step (:math:`t = 1, 2, \dots`, PyTorch's ``state['step']``).
    Returns a dict with the factor at :math:`t = 1` (``'first'``), its largest value and where
    (``'peak'``, ``'peak_t'``), its value at :math:`t = 1000` (``'t1000'``), and the first
    step after which it stays within 1% of 1 (``'within_1pct'``).
    """
    t = np.arange(1, 20001)
    fac = optim.adam_uncorrected_step_factor(t, betas)
    outside = np.flatnonzero(np.abs(fac - 1.0) > 0.01)
    return {"first": float(fac[0]), "peak": float(fac.max()), "peak_t": int(t[np.argmax(fac)]),
            "t1000": float(fac[999]), "within_1pct": int(t[outside[-1]] + 1)}


def adam_bias_correction(betas=(0.9, 0.999), lr: float = 1e-3) -> Figure:
    r"""How much longer Adam's steps are without bias correction.

    Left: :func:`dlnotes.optim.adam_uncorrected_step_factor` against the step (constant
    gradient). Right: the length of the first step divided by :math:`\alpha`
    (:func:`dlnotes.optim.adam_first_step`) against the gradient's size, with and without the
    correction.
    """
    fig = new_figure(9.5, 3.3)
    ax, ax_r = fig.subplots(1, 2)
    t = np.unique(np.geomspace(1, 20000, 400).astype(int))
    for b2, ls in ((betas[1], "-"), (0.99, "--")):
        fac = optim.adam_uncorrected_step_factor(t, (betas[0], b2))
        ax.semilogx(t, fac, color=OPTIMIZER_COLORS["Adam (no bias correction)"], ls=ls, lw=2,
                    label=f"$\\beta_1 = {betas[0]:g}$, $\\beta_2 = {b2:g}$")
    ax.axhline(1.0, color=OPTIMIZER_COLORS["Adam"], lw=2, label="with bias correction")
    ax.set_xlabel("step $t$ (log scale)")
    ax.set_ylabel("step length / corrected step length")
    ax.set_title("Without correction, constant gradient")
    ax.legend(fontsize=8, frameon=False)
    g = np.geomspace(1e-10, 1e3, 300)
    with_c = np.abs(optim.adam_first_step(g, lr, betas, bias_correction=True)) / lr
    without = np.abs(optim.adam_first_step(g, lr, betas, bias_correction=False)) / lr
    ax_r.semilogx(g, without, color=OPTIMIZER_COLORS["Adam (no bias correction)"], lw=2,
                  label="without bias correction")
    ax_r.semilogx(g, with_c, color=OPTIMIZER_COLORS["Adam"], lw=2, label="with bias correction")
    ax_r.axvline(1e-8, color="0.6", lw=0.8, ls=":")
    ax_r.text(1.3e-8, 2.2, r"$|g| = \varepsilon$", fontsize=8, color="0.4")
    ax_r.set_xlabel("size of the first gradient $|g_0|$ (log scale)")
    ax_r.set_ylabel(r"first step length / $\alpha$")
    ax_r.set_title("The first step")
    ax_r.legend(fontsize=8, frameon=False, loc="center right")
    return fig


def eps_placement_rows(lr: float = 0.01, eps: float = 1e-8, grads=(1e-2, 1e-4, 1e-6, 1e-8, 1e-10)) -> list[list]:
    r"""The first AdaGrad step with :math:`\varepsilon` outside the root (PyTorch, :func:`dlnotes.optim.adagrad_step`) and inside it.

    Rows ``[g, step outside, step inside, ratio]`` for a first gradient :math:`g_0` = ``g``; the
    inside version is :math:`\alpha g_0/\sqrt{g_0^2 + \varepsilon}`.
    """
    rows = []
    for g in grads:
        out, s = optim.adagrad_step(np.zeros(1), np.zeros(1), np.array([g]), lr, eps)
        inside = lr * g / math.sqrt(float(s[0]) + eps)
        rows.append([g, float(-out[0]), inside, float(-out[0]) / inside])
    return rows


# ------------------------------------------------------------------ AdamW against L2

def decay_rows(lr: float = 1e-3, weight_decay: float = 0.1, steps: int = 1000,
               scales=(100.0, 1.0, 0.01), seed: int = 0) -> list[list]:
    r"""How much weight decay shrinks three weights whose loss gradients have very different sizes.

    Each weight starts at 1 and sees the same noisy loss gradient (mean 0) times its scale.
    We run Adam with the decay as an L2 term (``optim.Adam(weight_decay=λ)``), AdamW
    (``optim.AdamW(weight_decay=λ)``) and Adam without decay, on the same gradients, and report
    how far each weight ends up from the no-decay run. Rows
    ``[scale, L2 shrinkage, AdamW shrinkage, 1 - (1 - αλ)^steps]``.
    """
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((steps, len(scales))) * np.asarray(scales)
    runs = {}
    for name, make in (("none", lambda p: optim.Adam(p, lr=lr)),
                       ("l2", lambda p: optim.Adam(p, lr=lr, weight_decay=weight_decay)),
                       ("adamw", lambda p: optim.AdamW(p, lr=lr, weight_decay=weight_decay))):
        x = np.ones(len(scales))
        opt = make([x])
        for g in noise:
            opt.step([g.copy()])
        runs[name] = x.copy()
    rows = []
    for i, sc in enumerate(scales):
        rows.append([sc, float(runs["none"][i] - runs["l2"][i]), float(runs["none"][i] - runs["adamw"][i]),
                     1.0 - (1.0 - lr * weight_decay) ** steps])
    return rows


# ------------------------------------------------------------------ the race

def _race_problem(kappa: float, angle: float = 0.0):
    q = landscapes.ill_conditioned_quadratic(kappa, angle=angle)
    x0 = np.array([-1.3 * math.sqrt(kappa), 1.2])
    if angle:
        c, s = math.cos(angle), math.sin(angle)
        x0 = np.array([[c, -s], [s, c]]) @ x0
    return q, x0


def rotation_rows(kappa: float = 100.0, lr: float = 0.3, steps: int = 150) -> list[list]:
    r"""Final loss of every race optimizer on the same quadratic with its axes aligned with the coordinates and turned by 45°.

    The start is turned with the quadratic, so the plain and momentum methods see exactly the
    same problem; only the per-coordinate methods notice the rotation. Rows
    ``[name, loss aligned, loss rotated]``.
    """
    out = []
    runs = {}
    for angle in (0.0, math.pi / 4):
        q, x0 = _race_problem(kappa, angle)
        runs[angle] = optim.race(race_makers(lr), q, q.grad, x0, steps)
    for name in RACE_OPTIMIZERS:
        out.append([name, float(runs[0.0][name].losses[-1]), float(runs[math.pi / 4][name].losses[-1])])
    return out


RACE_STEPS = 150
_RACE_KAPPAS = [1.0, 10.0, 100.0, 1000.0]
_RACE_LRS = [0.1, 0.3, 1.0, 1.5]


def _draw_race(fig: Figure, log10_kappa: float, lr: float):
    ax, ax_r = fig.subplots(1, 2, width_ratios=[1.25, 1])
    # contours of a unit-box picture: x1 / sqrt(kappa) and x2 keep the same shape for every kappa
    u = np.linspace(-1.5, 1.5, 121)
    U1, U2 = np.meshgrid(u, u)
    ax.contour(U1, U2, 0.5 * (U1 ** 2 + U2 ** 2), levels=[0.01, 0.05, 0.15, 0.35, 0.7, 1.2],
               colors="0.75", linewidths=0.7)
    ax.set_xlim(-1.5, 1.5)
    ax.set_ylim(-1.5, 1.5)
    ax.set_xlabel(r"$x_1/\sqrt{\kappa}$ (flat direction)")
    ax.set_ylabel(r"$x_2$ (steep direction, $\lambda_{\max} = 1$)")
    ax.plot([0], [0], "*", color="black", ms=9)
    widths = {"GD": 2.4, "Momentum": 1.8, "Nesterov": 1.2, "AdaGrad": 1.8, "RMSProp": 1.5, "Adam": 1.2}
    paths = {n: ax.plot([], [], color=OPTIMIZER_COLORS[n], lw=widths[n])[0] for n in RACE_OPTIMIZERS}
    start = ax.plot([], [], "o", color="black", ms=4)[0]
    t = np.arange(RACE_STEPS + 1)
    curves = {n: ax_r.semilogy([], [], color=OPTIMIZER_COLORS[n], lw=widths[n])[0] for n in RACE_OPTIMIZERS}
    ax_r.set_xlim(0, RACE_STEPS)
    ax_r.set_ylim(1e-12, 1e2)
    ax_r.set_xlabel("step $t$")
    ax_r.set_ylabel("loss $f(x_t)$ (log scale)")
    ax_r.set_title(f"Loss over {RACE_STEPS} steps")
    title = ax.set_title(" ")
    # Legend and final losses sit outside the plot, where no moving curve passes under them:
    # the legend is then drawn once (redrawing a legend costs about 40 ms), and only the small
    # block of final losses changes with the sliders.
    ax_r.legend(handles=list(curves.values()), labels=list(RACE_OPTIMIZERS), fontsize=7,
                loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    finals = ax_r.text(1.04, 0.0, " ", transform=ax_r.transAxes, ha="left", va="bottom",
                       fontsize=7, family="monospace", linespacing=1.3)

    def update(log10_kappa: float, lr: float) -> list:
        kappa = 10.0 ** log10_kappa
        q, x0 = _race_problem(kappa)
        runs = optim.race(race_makers(lr), q, q.grad, x0, RACE_STEPS)
        sk = math.sqrt(kappa)
        lines = [f"loss at t={RACE_STEPS}"]
        for n in RACE_OPTIMIZERS:
            tr = runs[n]
            paths[n].set_data(tr.xs[:, 0] / sk, tr.xs[:, 1])
            curves[n].set_data(t, np.maximum(tr.losses, 1e-300))
            last = tr.losses[-1]
            lines.append(f"{n:<9}" + ("diverged" if tr.diverged or not last < 1e2 else f"{last:.0e}"))
        finals.set_text("\n".join(lines))
        start.set_data([x0[0] / sk], [x0[1]])
        title.set_text(f"κ = {kappa:g} (λmin = {1 / kappa:g}), α = {lr:g}")
        # the spines are drawn over the lines in a full redraw: redraw them on top here too
        return [*paths.values(), start, *curves.values(), finals, title,
                *ax.spines.values(), *ax_r.spines.values()]

    update(log10_kappa, lr)
    return update


def race_explorable() -> Explorable:
    """Explorable: condition number and a shared learning rate for six optimizers on a quadratic valley."""
    return Explorable(
        _draw_race,
        [Control("log10_kappa", "log₁₀ condition number κ", np.log10(_RACE_KAPPAS), value=2.0,
                 fmt="{:.0f}"),
         Control("lr", "learning rate α", _RACE_LRS, value=0.3)],
        alt=("Left: elliptical contour lines of a quadratic valley, drawn with the flat horizontal "
             "axis divided by the square root of the condition number, and the paths of gradient "
             "descent, momentum, Nesterov, AdaGrad, RMSProp and Adam from the left end of the "
             "valley. Right: the loss of each optimizer over 150 steps on a log scale, with the "
             "final values listed beside the legend. As the condition number grows, gradient descent stalls "
             "along the flat axis while the adaptive methods, whose steps do not depend on the "
             "gradient's size, keep moving."),
        caption="Six optimizers with the same learning rate α on a quadratic valley whose axes are "
                "the coordinate axes. The flat axis is drawn shrunk by √κ so that every valley "
                "looks the same.",
        figsize=(8.6, 3.4), dpi=72)


# ------------------------------------------------------------------ real training

#: Learning rates tried for each optimizer on digits, and how each optimizer is built.
DIGITS_GRIDS: dict[str, tuple[tuple[float, ...], Callable[[float], Callable]]] = {
    "SGD": ((0.1, 0.3, 1.0), lambda lr: (lambda p: optim.SGD(p, lr=lr))),
    "Momentum": ((0.003, 0.01, 0.03), lambda lr: (lambda p: optim.SGD(p, lr=lr, momentum=0.9))),
    "Nesterov": ((0.003, 0.01, 0.03),
                 lambda lr: (lambda p: optim.SGD(p, lr=lr, momentum=0.9, nesterov=True))),
    "AdaGrad": ((0.03, 0.1, 0.3), lambda lr: (lambda p: optim.Adagrad(p, lr=lr))),
    "RMSProp": ((3e-3, 1e-2, 3e-2), lambda lr: (lambda p: optim.RMSprop(p, lr=lr))),
    "Adam": ((1e-3, 3e-3, 1e-2), lambda lr: (lambda p: optim.Adam(p, lr=lr))),
    "AdamW": ((3e-3, 1e-2, 3e-2), lambda lr: (lambda p: optim.AdamW(p, lr=lr, weight_decay=0.1))),
}

#: How each entry of :data:`DIGITS_GRIDS` is written with ``torch.optim``.
DIGITS_TORCH = {
    "SGD": "SGD(lr)", "Momentum": "SGD(lr, momentum=0.9)",
    "Nesterov": "SGD(lr, momentum=0.9, nesterov=True)", "AdaGrad": "Adagrad(lr)",
    "RMSProp": "RMSprop(lr)", "Adam": "Adam(lr)", "AdamW": "AdamW(lr, weight_decay=0.1)",
}


def digits_race(epochs: int = 20, hidden: int = 32, batch_size: int = 64, seed: int = 0,
                progress: bool | None = None) -> tuple[list, dict, Figure]:
    r"""Train the same small network on scikit-learn's digits with every optimizer, each at its best rate from a small grid.

    The model is :class:`dlnotes.training.MLP` (64 inputs, ``hidden`` ReLU units, 10 classes,
    weights from ``seed``); every run sees the same minibatches. For each optimizer the
    rates of :data:`DIGITS_GRIDS` are tried and the one with the lowest final validation
    loss is kept. ``progress=None`` shows a progress bar only in a live notebook
    (:func:`dlnotes.explorables.mode`).

    Returns ``(rows, best, figure)``: rows ``[name and torch call, "rate → final validation
    loss" for each rate tried, best rate, its final training loss, validation loss, validation
    accuracy]``,
    the best :class:`dlnotes.training.History` per optimizer, and the figure (training loss
    left, validation loss right, per epoch).
    """
    if progress is None:
        progress = explorables.mode() == "live"
    data = digits()
    rows, best = [], {}
    for name, (rates, build) in DIGITS_GRIDS.items():
        hist = training.compare_optimizers(
            lambda: training.MLP(data.X_train.shape[1], hidden, 10, seed=seed),
            {f"{name} lr={lr:g}": build(lr) for lr in rates}, data, epochs=epochs,
            batch_size=batch_size, seed=seed, progress=progress)
        finals = [h.val_loss[-1] for h in hist.values()]
        i = int(np.nanargmin(finals))
        h = list(hist.values())[i]
        best[name] = (rates[i], h)
        tried = ", ".join(f"{lr:g} → {v:.3f}" for lr, v in zip(rates, finals))
        rows.append([f"{name}: `{DIGITS_TORCH[name]}`", tried, rates[i], float(h.train_loss[-1]),
                     float(h.val_loss[-1]), float(h.val_accuracy[-1])])
    fig = new_figure(9.5, 3.6)
    ax, ax_r = fig.subplots(1, 2, sharey=True)
    for name, (lr, h) in best.items():
        ls = "--" if name in ("Nesterov", "AdamW") else "-"
        ax.semilogy(h.epoch, h.train_loss, color=OPTIMIZER_COLORS[name], lw=1.8, ls=ls,
                    label=f"{name}, α = {lr:g}")
        ax_r.semilogy(h.epoch, h.val_loss, color=OPTIMIZER_COLORS[name], lw=1.8, ls=ls)
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean cross-entropy (log scale)")
    ax.set_title("Training loss")
    ax_r.set_xlabel("epoch")
    ax_r.set_title("Validation loss")
    ax.legend(fontsize=7.5, frameon=False, ncol=2)
    return rows, best, fig
