r"""Figures and tables of the chapter *The tuning recipe*: every step of the recipe on real runs.

The model is :class:`dlnotes.initialization.DeepMLP` (two hidden ReLU layers of 64 units, He
initialization, float32) on scikit-learn's digits, trained by :func:`dlnotes.training.train`
with SGD and momentum 0.9; the package support is :mod:`dlnotes.tuning`. Runs are cached.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .. import initialization as init
from .. import optim, training, transfer, tuning
from .._threads import single_threaded
from ..cnn import class_subset
from ..datasets import digits
from . import new_figure

__all__ = [
    "WIDTHS", "make_model", "initial_loss_rows", "tiny_subset_runs", "tiny_subset_figure",
    "range_test", "range_test_figure", "SPACE", "objective", "random_vs_grid", "search_figure",
    "refine", "fit_curves", "learning_curves_figure", "update_ratio_runs", "update_ratio_figure",
    "smoothing_noise", "smoothing_explorable",
]

WIDTHS = (64, 64)
MOMENTUM = 0.9


def make_model(seed: int = 0, widths=WIDTHS, n_classes: int = 10) -> init.DeepMLP:
    """The chapter's network: 64 inputs, ReLU hidden layers of ``widths``, He initialization, float32."""
    return init.DeepMLP(64, list(widths), n_classes, activation="relu", init="kaiming_normal",
                        seed=seed, dtype=np.float32)


def _sgd(params, lr, weight_decay=0.0):
    return optim.SGD(params, lr=lr, momentum=MOMENTUM, weight_decay=weight_decay)


# ------------------------------------------------------------------ step 1: the initial loss

@single_threaded
def initial_loss_rows(classes=(2, 5, 10), seed: int = 0) -> list[list]:
    r"""The loss of the untrained network against :math:`\log C`, for digit subsets with :math:`C` classes.

    Three versions of the network's output layer: its weights scaled by 0.01 (scores near 0, so
    every class gets probability :math:`1/C`), as initialized (He hidden layers, gain 1 at the
    output), and scaled by 10 (a typical bug: a wrong scale in the last layer). Rows
    ``[C, log C, small, as initialized, ×10]``, on the training images of those classes.
    """
    data = digits()
    rows = []
    for C in classes:
        sub = class_subset(data, list(range(C)))
        vals = []
        for scale in (0.01, 1.0, 10.0):
            m = make_model(seed, n_classes=C)
            m.weights[-1] *= scale
            vals.append(m.loss(sub.X_train, sub.y_train))
        rows.append([C, math.log(C), *vals])
    return rows


# ------------------------------------------------------------------ step 2: overfit a tiny subset

@functools.lru_cache(maxsize=None)
@single_threaded
def tiny_subset_runs(lrs=(1e-4, 0.1, 3.0), per_class: int = 2, steps: int = 200) -> dict:
    """Full-batch training on ``per_class`` images of each digit (20 images), at three rates.

    Returns ``{lr: (losses of every step, final training accuracy or NaN if diverged)}``. A
    working model and optimizer must drive the loss to about 0 on so few images.
    """
    tiny = transfer.few_shot(digits(), per_class, seed=0)
    out = {}
    for lr in lrs:
        m = make_model(0)
        losses = transfer.fit(m, _sgd(m.params, lr), tiny.X_train, tiny.y_train, steps,
                              batch_size=len(tiny.y_train))
        acc = m.accuracy(tiny.X_train, tiny.y_train) if np.isfinite(losses).all() else float("nan")
        out[lr] = (losses, acc)
    return out


def tiny_subset_figure(runs: dict) -> Figure:
    """Training loss against the step on the tiny subset, one curve per rate (log scale)."""
    fig = new_figure(6.2, 3.2)
    ax = fig.add_subplot()
    colors = ["#a6cee3", "#1b9e77", "#e31a1c"]
    for (lr, (losses, acc)), c in zip(runs.items(), colors):
        ok = np.isfinite(losses)
        label = f"α = {lr:g}: " + ("diverged (NaN)" if not ok.all() else f"training accuracy {100 * acc:.0f}%")
        ax.semilogy(np.flatnonzero(ok), losses[ok], lw=2, color=c, label=label)
        if not ok.all():
            ax.plot([np.flatnonzero(ok)[-1]], [losses[ok][-1]], "x", color=c, ms=8)
    ax.set_xlabel("full-batch step $t$ (20 training images)")
    ax.set_ylabel("training loss (log scale)")
    ax.legend(fontsize=8, frameon=False)
    return fig


# ------------------------------------------------------------------ step 3: the range test

@functools.lru_cache(maxsize=None)
@single_threaded
def range_test(seed: int = 0) -> tuning.RangeTest:
    r"""The learning-rate range test of the chapter's network on all training images, :math:`\alpha` from :math:`10^{-5}` to 10 over 200 steps."""
    return tuning.lr_range_test(make_model(seed), lambda p, lr: _sgd(p, lr), digits(), 1e-5, 10.0,
                                steps=200, batch_size=64, seed=seed)


def range_test_figure(rt: tuning.RangeTest) -> Figure:
    """Minibatch loss (dots) and its moving average (line) against the rate, with the two suggestions."""
    fig = new_figure(6.2, 3.4)
    ax = fig.add_subplot()
    n = rt.stopped_at
    ax.semilogx(rt.lr[:n], rt.loss[:n], ".", color="0.6", ms=3, label="minibatch loss")
    ax.semilogx(rt.lr[:n], rt.smoothed[:n], color="#1f78b4", lw=2, label="moving average (10 steps)")
    ax.axvline(rt.steepest, color="#1b9e77", lw=1.2, ls="--", label=f"steepest descent, α = {rt.steepest:.2g}")
    ax.axvline(rt.best / 10, color="#d95f02", lw=1.2, ls=":", label=f"minimum / 10, α = {rt.best / 10:.2g}")
    ax.set_xlabel(r"learning rate $\alpha$ at that step (log scale)")
    ax.set_ylabel("training loss")
    ax.set_ylim(0, max(3.0, float(np.nanmax(rt.smoothed[:n])) * 1.05))
    ax.legend(fontsize=8, frameon=False, loc="lower left")
    return fig


# ------------------------------------------------------------------ steps 4-5: search

#: The search space: the learning rate matters a great deal, weight decay (in this range, for
#: runs this short) hardly at all.
SPACE = {"lr": tuning.LogUniform(1e-3, 1.0), "weight_decay": tuning.LogUniform(1e-6, 1e-3)}


@functools.lru_cache(maxsize=None)
@single_threaded
def _train(lr: float, weight_decay: float, epochs: int, seed: int) -> training.History:
    m = make_model(seed)
    return training.train(m, _sgd(m.params, lr, weight_decay), digits(), epochs=epochs, batch_size=64,
                          seed=seed, progress=False)


def objective(lr: float, weight_decay: float, epochs: int = 2, seed: int = 0) -> float:
    """Validation accuracy after ``epochs`` epochs of SGD with momentum at (lr, weight_decay); a diverged run scores 0.1 (chance)."""
    h = _train(float(lr), float(weight_decay), int(epochs), int(seed))
    return 0.1 if h.diverged else float(h.val_accuracy[-1])


def random_vs_grid(budget_side: int = 3, repeats: int = 4) -> dict:
    r"""Grid search (a ``budget_side`` x ``budget_side`` grid) against random search with the same budget, on :data:`SPACE`.

    The random search is repeated with seeds ``0 .. repeats - 1``. Returns a dict with the
    trials (``'grid'``, ``'random'``: list of lists of :class:`dlnotes.tuning.Trial`), the best
    value of each search, and the numbers of distinct learning rates and weight decays each tried.
    """
    n = budget_side ** 2
    grid = tuning.run_search(objective, tuning.grid_search(SPACE, budget_side))
    rand = [tuning.run_search(objective, tuning.random_search(SPACE, n, seed=s)) for s in range(repeats)]
    distinct = lambda trials, k: len({round(t.params[k], 12) for t in trials})
    return {"grid": grid, "random": rand, "budget": n,
            "grid_best": max(t.value for t in grid),
            "random_best": np.array([max(t.value for t in r) for r in rand]),
            "grid_lrs": distinct(grid, "lr"), "random_lrs": [distinct(r, "lr") for r in rand],
            "grid_wds": distinct(grid, "weight_decay")}


def search_figure(res: dict) -> Figure:
    """Left: the configurations in the (lr, weight decay) plane; right: validation accuracy against the rate, grid and one random search."""
    fig = new_figure(9.5, 3.5)
    ax, ax_r = fig.subplots(1, 2)
    grid, rand = res["grid"], res["random"][0]
    for trials, color, marker, label in ((grid, "#7570b3", "s", f"grid, {len(grid)} trials"),
                                         (rand, "#d95f02", "o", f"random, {len(rand)} trials")):
        lr = [t.params["lr"] for t in trials]
        wd = [t.params["weight_decay"] for t in trials]
        v = [100 * t.value for t in trials]
        ax.loglog(lr, wd, marker, color=color, ms=6, alpha=0.85, label=label)
        ax_r.semilogx(lr, v, marker, color=color, ms=6, alpha=0.85, label=label)
        # each trial's rate projected onto the important axis
        ax.plot(lr, [SPACE["weight_decay"].low / 1.6] * len(lr), "|", color=color, ms=10)
    ax.set_xlabel(r"learning rate $\alpha$ (important)")
    ax.set_ylabel(r"weight decay $\lambda$ (unimportant)")
    ax.set_title("The configurations tried", fontsize=9.5)
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    ax_r.set_xlabel(r"learning rate $\alpha$")
    ax_r.set_ylabel("validation accuracy after 2 epochs (%)")
    ax_r.set_title("The objective, seen along the important axis", fontsize=9.5)
    ax_r.legend(fontsize=8, frameon=False, loc="lower left")
    return fig


def refine(coarse: list, n: int = 4, epochs: int = 6, final_epochs: int = 20, seed: int = 1) -> dict:
    r"""Steps 4-5: around the best coarse trial, a narrower random search trained longer, then the best trained longer still.

    The refined range is the best coarse rate divided and multiplied by 3, and the best coarse
    weight decay divided and multiplied by 10. Returns the refined trials, the chosen
    configuration and the :class:`dlnotes.training.History` of the final run.
    """
    best = max(coarse, key=lambda t: t.value).params
    space = {"lr": tuning.LogUniform(best["lr"] / 3, best["lr"] * 3),
             "weight_decay": tuning.LogUniform(best["weight_decay"] / 10, best["weight_decay"] * 10)}
    trials = tuning.run_search(lambda lr, weight_decay: objective(lr, weight_decay, epochs),
                               tuning.random_search(space, n, seed=seed))
    chosen = max(trials, key=lambda t: t.value).params
    final = _train(float(chosen["lr"]), float(chosen["weight_decay"]), final_epochs, 0)
    return {"coarse_best": best, "space": space, "trials": trials, "chosen": chosen, "final": final}


# ------------------------------------------------------------------ step 6: learning curves

@functools.lru_cache(maxsize=None)
@single_threaded
def fit_curves() -> dict[str, training.History]:
    r"""An overfitting and an underfitting run, to read learning curves by.

    ``'overfit'``: a wide network (two layers of 256) on only 15 images per digit, with Adam
    (:math:`\alpha = 3\cdot 10^{-3}`) for 60 epochs; ``'underfit'``: a network with 2 hidden units
    on all training images for 20 epochs.
    """
    data = digits()
    small = transfer.few_shot(data, 15, seed=0)
    big = make_model(0, widths=(256, 256))
    over = training.train(big, optim.Adam(big.params, lr=3e-3), small, epochs=60, batch_size=32,
                          progress=False)
    tiny = make_model(0, widths=(2,))
    under = training.train(tiny, _sgd(tiny.params, 0.05), data, epochs=20, batch_size=64, progress=False)
    return {"overfit": over, "underfit": under}


def learning_curves_figure(final: training.History, curves: dict[str, training.History],
                           window: int = 50) -> Figure:
    """Left: the final run's noisy minibatch loss and its moving average; then training and validation loss of the final, overfitting and underfitting runs."""
    fig = new_figure(10.0, 3.3)
    axes = fig.subplots(1, 4, width_ratios=[1.4, 1, 1, 1])
    ax = axes[0]
    steps = np.arange(final.step_loss.size)
    ax.plot(steps, final.step_loss, ".", color="0.65", ms=1.5, label="minibatch loss")
    ax.plot(steps, tuning.moving_average(final.step_loss, window), color="#1f78b4", lw=2,
            label=f"moving average over {window} steps")
    ax.set_yscale("log")
    ax.set_xlabel("step $t$")
    ax.set_ylabel("loss (log scale)")
    ax.set_title("Noisy loss: plot a moving average", fontsize=9)
    ax.legend(fontsize=7, frameon=False)
    for a, (title, h) in zip(axes[1:], (("The tuned run", final), ("Overfitting", curves["overfit"]),
                                        ("Underfitting", curves["underfit"]))):
        a.plot(h.epoch, h.train_loss, color="#1b9e77", lw=2, label="training")
        a.plot(h.epoch, h.val_loss, color="#d95f02", lw=2, label="validation")
        a.set_yscale("log")
        a.set_xlabel("epoch")
        a.set_title(title, fontsize=9)
    axes[1].set_ylabel("loss (log scale)")
    axes[1].legend(fontsize=7, frameon=False)
    return fig


# ------------------------------------------------------------------ the update-to-weight ratio

@functools.lru_cache(maxsize=None)
@single_threaded
def update_ratio_runs(lrs=(1e-4, 0.03, 0.3), epochs: int = 5, seed: int = 0) -> dict:
    r"""Train the chapter's network at three rates with :class:`dlnotes.tuning.UpdateRatioMonitor`.

    Returns ``{lr: (ratios of the three weight matrices, shape (steps, 3), History)}`` (the
    biases are left out: they start at 0).
    """
    out = {}
    for lr in lrs:
        m = make_model(seed)
        mon = tuning.UpdateRatioMonitor(_sgd(m.params, lr))
        h = training.train(m, mon, digits(), epochs=epochs, batch_size=64, seed=seed, progress=False)
        out[lr] = (mon.ratios[:, 0::2], h)
    return out


def update_ratio_figure(runs: dict, window: int = 20) -> Figure:
    r"""The update-to-weight ratio :math:`\chi^{(l)}_t` of each weight matrix (moving average) against the step, one panel per rate."""
    fig = new_figure(9.5, 3.2)
    axes = fig.subplots(1, len(runs), sharey=True)
    colors = ["#9ecae1", "#4292c6", "#08306b"]
    for ax, (lr, (r, h)) in zip(axes, runs.items()):
        for l in range(r.shape[1]):
            ok = np.isfinite(r[:, l])
            ax.semilogy(np.flatnonzero(ok), tuning.moving_average(r[ok, l], window), color=colors[l], lw=1.8,
                        label=f"$W^{{({l + 1})}}$")
        ax.axhline(1e-3, color="0.4", lw=1, ls="--")
        acc = "diverged" if h.diverged else f"validation accuracy {100 * h.val_accuracy[-1]:.0f}%"
        ax.set_title(f"α = {lr:g}: {acc}", fontsize=9)
        ax.set_xlabel("step $t$")
        ax.set_ylim(1e-6, 1.0)
    axes[0].set_ylabel(r"update / weight, $\chi^{(l)}_t$ (log scale)")
    axes[0].legend(fontsize=8, frameon=False, loc="lower left")
    axes[0].text(0.98, 1.3e-3, "10⁻³", transform=axes[0].get_yaxis_transform(), ha="right", fontsize=7,
                 color="0.3")
    return fig


# ------------------------------------------------------------------ explorable: reading a noisy curve

_WINDOWS = (1, 5, 10, 20, 50, 100, 200)


def smoothing_noise(step_loss: Any, window: int) -> float:
    r"""How noisy a trailing moving average of a loss curve still is.

    The standard deviation of the step-to-step change of :math:`\log \bar L_t` after the first
    ``window`` steps: 0 for a perfectly smooth curve; ``window=1`` gives the raw loss's.
    """
    loss = np.asarray(step_loss, dtype=float)
    if loss.ndim != 1 or not np.all(loss > 0):
        raise ValueError("step_loss must be a 1-D array of positive losses (its log is taken)")
    ma = tuning.moving_average(loss, window)      # checks window
    return float(np.std(np.diff(np.log(ma[int(window):]))))


def smoothing_explorable(step_loss: Any = None) -> Any:
    r"""Explorable: the moving-average window :math:`T_{\text{avg}}` over a run's noisy minibatch loss.

    ``step_loss`` defaults to the tuned run of the chapter (:func:`refine` after
    :func:`random_vs_grid`, both cached).
    """
    from ..explorables import Control, Explorable

    if step_loss is None:
        step_loss = refine(random_vs_grid()["random"][0])["final"].step_loss
    loss = np.asarray(step_loss, dtype=float)
    steps = np.arange(loss.size)
    raw_noise = smoothing_noise(loss, 1)

    def draw(fig: Figure, window: float):
        ax = fig.add_subplot()
        ax.plot(steps, loss, ".", color="0.6", ms=2, label="minibatch loss $L_t$", zorder=2)
        line = ax.plot([], [], color="#1f78b4", lw=2, label=r"moving average $\bar L_t$", zorder=3)[0]
        ax.set_yscale("log")
        ax.set_xlim(0, loss.size)
        ax.set_ylim(0.5 * loss.min(), 1.5 * loss.max())
        ax.set_xlabel("step $t$")
        ax.set_ylabel("loss (log scale)")
        legend = ax.legend(fontsize=8, frameon=False, loc="upper right")
        title = ax.set_title(" ", fontsize=9.5)

        def update(window: float) -> list:
            w = int(round(window))
            line.set_data(steps, tuning.moving_average(loss, w))
            title.set_text(f"$T_{{\\mathrm{{avg}}}}$ = {w}: noise {smoothing_noise(loss, w) / raw_noise:.0%} "
                           f"of the raw loss's, lag $(T_{{\\mathrm{{avg}}}} - 1)/2$ = {(w - 1) / 2:g} steps")
            return [line, legend, title, *ax.spines.values()]

        update(window)
        return update

    return Explorable(
        draw, [Control("window", "moving-average window T_avg (steps)", _WINDOWS, value=50,
                       fmt="{:.0f}")],
        alt=("The tuned run's minibatch loss as grey dots on a log scale over its 400 steps, falling "
             "from about 2.5 to about 0.002, and a blue line, its trailing moving average over the "
             "chosen number of steps. The title gives the line's step-to-step noise as a percentage "
             "of the raw loss's and its delay, (T_avg - 1)/2 steps behind a trend: a short window "
             "leaves the noise in, a long one is smooth but lags behind the falling loss."),
        caption=("A trailing moving average trades noise for delay: it averages the last "
                 "T_avg steps, so it smooths more and lags more as the window grows."),
        figsize=(7.0, 3.2), dpi=80)
