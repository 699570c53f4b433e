"""Figures and explorables of the chapter *Regularization penalties*."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from .. import regularization as reg
from ..datasets import diabetes
from ..explorables import Control, Explorable
from . import COLORS, new_figure

__all__ = ["penalty_shapes", "regularization_paths", "lambda_explorable", "validation_curve"]


def penalty_shapes() -> Figure:
    r"""Level sets :math:`R(\theta) = 1` of L1, L2 and elastic net (:math:`\nu = 0.5`) in 2-D (left); the 1-D penalty gradients (right)."""
    fig = new_figure(9.0, 3.6)
    ax, ax_g = fig.subplots(1, 2)
    t = np.linspace(-1.6, 1.6, 161)
    T1, T2 = np.meshgrid(t, t)
    handles = []
    for kind, color, label in (("l1", COLORS["l1"], "L1"), ("l2", COLORS["l2"], "L2"),
                               ("elastic_net", COLORS["elastic_net"], r"elastic net, $\nu=0.5$")):
        R = np.array([reg.penalty(np.array([a, b]), kind)
                      for a, b in zip(T1.ravel(), T2.ravel())]).reshape(T1.shape)
        ax.contour(T1, T2, R, levels=[1.0], colors=[color], linewidths=2)
        handles.append(Line2D([], [], color=color, lw=2, label=label))
    ax.set_aspect("equal")
    ax.axhline(0, color="0.8", lw=0.8)
    ax.axvline(0, color="0.8", lw=0.8)
    ax.set_xlabel(r"$\theta_1$")
    ax.set_ylabel(r"$\theta_2$")
    ax.set_title(r"Where $R(\theta) = 1$")
    ax.legend(handles=handles, fontsize=8, frameon=False, loc="upper right")
    th = np.linspace(-2, 2, 801)
    ax_g.plot(th, reg.l1_penalty_grad(th), color=COLORS["l1"], lw=2, label=r"L1: $\mathrm{sign}\,\theta$")
    ax_g.plot(th, reg.l2_penalty_grad(th), color=COLORS["l2"], lw=2, label=r"L2: $2\theta$")
    ax_g.plot(th, reg.elastic_net_penalty_grad(th), color=COLORS["elastic_net"], lw=2,
              label="elastic net")
    ax_g.axhline(0, color="0.8", lw=0.8)
    ax_g.axvline(0, color="0.8", lw=0.8)
    ax_g.set_xlabel(r"weight $\theta$")
    ax_g.set_ylabel(r"$\partial R / \partial\theta$")
    ax_g.set_title("Pull towards zero")
    ax_g.legend(fontsize=8, frameon=False)
    return fig


LAMBDAS = np.geomspace(1e-3, 2.0, 40)


def regularization_paths(lams=LAMBDAS) -> Figure:
    """Weights of a linear model on the diabetes data as λ grows, for L1 (left) and L2 (right).

    The L1 weights reach exactly zero one after another; the L2 weights never do, and while
    their norm shrinks, single weights can grow or change sign on the way (the features are
    correlated).
    """
    data = diabetes()
    lam_arr = np.asarray(lams, dtype=float)
    fig = new_figure(9.0, 3.5)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, kind, name in zip(axes, ("l1", "l2"), ("L1 (lasso)", "L2 (ridge)")):
        W = reg.regularization_path(data.X_train, data.y_train, lam_arr, kind)
        for j in range(W.shape[1]):
            ax.plot(lam_arr, W[:, j], lw=1.5, label=data.feature_names[j])
        ax.set_xscale("log")
        ax.axhline(0, color="black", lw=0.6)
        ax.set_xlabel(r"regularization strength $\lambda$ (log scale)")
        nz = int(np.sum(np.abs(W[-1]) > 0))
        ax.set_title(f"{name}: {nz} of {W.shape[1]} weights nonzero at λ={lam_arr[-1]:g}")
    axes[0].set_ylabel("weight $w_j$")
    axes[1].legend(fontsize=7, frameon=False, ncol=2, loc="upper right")
    return fig


def validation_curve(lams=LAMBDAS) -> tuple[dict, Figure]:
    """Training and validation mean squared error against λ for L1 and L2; returns (numbers, figure)."""
    data = diabetes()
    lam_arr = np.asarray(lams, dtype=float)
    res: dict[str, dict[str, np.ndarray]] = {}
    fig = new_figure(7.0, 3.2)
    ax = fig.subplots()
    for kind in ("l1", "l2"):
        W = reg.regularization_path(data.X_train, data.y_train, lam_arr, kind)
        tr = np.mean((data.X_train @ W.T - data.y_train[:, None]) ** 2, axis=0)
        va = np.mean((data.X_val @ W.T - data.y_val[:, None]) ** 2, axis=0)
        res[kind] = {"train": tr, "val": va, "best_lam": float(lam_arr[np.argmin(va)])}
        ax.plot(lam_arr, tr, color=COLORS[kind], lw=1.5, ls="--", label=f"{kind.upper()} training")
        ax.plot(lam_arr, va, color=COLORS[kind], lw=2, label=f"{kind.upper()} validation")
        ax.plot([res[kind]["best_lam"]], [va.min()], "o", color=COLORS[kind])
    ax.set_xscale("log")
    ax.set_xlabel(r"regularization strength $\lambda$ (log scale)")
    ax.set_ylabel("mean squared error (standardised target)")
    ax.legend(fontsize=8, frameon=False)
    return res, fig


_LOG_LAMS = np.round(np.linspace(-3.0, 0.25, 14), 2)


def _draw_lambda(fig: Figure, log10_lam: float):
    data = diabetes()
    ax = fig.subplots()
    xs = np.arange(data.X_train.shape[1])
    bars1 = ax.bar(xs - 0.2, np.zeros(len(xs)), width=0.4, color=COLORS["l1"], label="L1")
    bars2 = ax.bar(xs + 0.2, np.zeros(len(xs)), width=0.4, color=COLORS["l2"], label="L2")
    ax.axhline(0, color="black", lw=0.6, zorder=0.5)  # under the bars, also when blitting
    ax.set_xticks(xs, data.feature_names)
    ax.set_ylim(-0.75, 0.85)
    ax.set_xlabel("feature")
    ax.set_ylabel("fitted weight $w_j$")
    title = ax.set_title(" ")
    legend = ax.legend(fontsize=8, frameon=False, loc="upper left")

    last = {"l1": None}

    def update(log10_lam: float) -> list:
        lam = 10.0 ** log10_lam
        # warm start from the previous slider position: same answer (to 1e-12), much faster
        w1 = last["l1"] = reg.fit_linear(data.X_train, data.y_train, lam, "l1", w0=last["l1"])
        w2 = reg.fit_linear(data.X_train, data.y_train, lam, "l2")
        for bar, h in zip(bars1, w1):
            bar.set_height(h)
        for bar, h in zip(bars2, w2):
            bar.set_height(h)
        texts = legend.get_texts()
        texts[0].set_text(f"L1: {int(np.sum(w1 == 0))} weights exactly 0")
        texts[1].set_text(f"L2: {int(np.sum(w2 == 0))} weights exactly 0")
        title.set_text(f"λ = {lam:.3g}")
        return [*bars1, *bars2, legend, title]

    update(log10_lam)
    return update


def lambda_explorable() -> Explorable:
    """Explorable: one λ slider; bars of the L1 and L2 weights of the diabetes model."""
    return Explorable(
        _draw_lambda,
        [Control("log10_lam", "log₁₀ λ", _LOG_LAMS, value=-1.0, fmt="{:.2f}")],
        alt=("Bar chart of the ten weights of a linear model of diabetes progression, fitted with "
             "an L1 penalty (green) and an L2 penalty (orange) at the strength chosen by the slider. "
             "As lambda grows the L1 weights drop to exactly zero one after another, while the L2 "
             "weights get smaller as a whole and none becomes zero; a few of them grow or change "
             "sign on the way."),
        caption="Raise λ: L1 switches features off one at a time; L2 shrinks the weight vector's "
                "norm and switches none off.",
        figsize=(8.0, 3.4), dpi=80)
