"""Figures and explorables of the chapter *Loss functions*."""

from __future__ import annotations

import functools
import math

import numpy as np
from matplotlib.figure import Figure

from .. import losses
from ..explorables import Control, Explorable
from . import COLORS, new_figure

__all__ = [
    "regression_losses", "log_cosh_regimes", "outlier_data", "huber_outlier_explorable",
    "location_vs_outlier", "margin_losses", "true_class_score_explorable", "kl_asymmetry",
    "likelihood_ratio_convergence", "hinge_terms_markdown",
]


def regression_losses(delta: float = 1.0, d_max: float = 3.0) -> Figure:
    """L1, L2, Huber(δ) and log-cosh (left) and their derivatives (right) against the residual d."""
    d = np.linspace(-d_max, d_max, 601)
    z = np.zeros_like(d)
    fig = new_figure(9.0, 3.4)
    ax_v, ax_g = fig.subplots(1, 2)
    curves = [
        ("l1", "L1  $|d|$", losses.l1(d, z, reduction="none"), losses.l1_grad(d, z, reduction="none")),
        ("l2", "L2  $d^2$", losses.l2(d, z, reduction="none"), losses.l2_grad(d, z, reduction="none")),
        ("huber", f"Huber  $\\delta={delta:g}$", losses.huber(d, z, delta, reduction="none"),
         losses.huber_grad(d, z, delta, reduction="none")),
        ("log_cosh", "log-cosh", losses.log_cosh(d, z, reduction="none"),
         losses.log_cosh_grad(d, z, reduction="none")),
    ]
    for key, label, val, grad in curves:
        ax_v.plot(d, val, color=COLORS[key], label=label, lw=2)
        ax_g.plot(d, grad, color=COLORS[key], label=label, lw=2)
    for ax in (ax_v, ax_g):
        ax.axvline(0, color="0.8", lw=0.8, zorder=0)
        ax.axhline(0, color="0.8", lw=0.8, zorder=0)
        ax.set_xlabel(r"residual $d = \hat y - y$")
    for s in (-delta, delta):
        ax_v.axvline(s, color=COLORS["huber"], lw=0.8, ls=":")
    ax_v.set_ylim(-0.2, 4.5)
    ax_v.set_ylabel(r"loss $\ell(d)$")
    ax_v.set_title("Loss")
    ax_g.set_ylabel(r"derivative $\ell'(d)$")
    ax_g.set_title("Gradient: how hard a sample pulls")
    ax_v.legend(loc="upper center", fontsize=8, frameon=False)
    return fig


def log_cosh_regimes(d_max: float = 6.0) -> Figure:
    r"""log cosh d against d²/2 and |d| − log 2 (left), and the relative error of each approximation (right)."""
    d = np.linspace(-d_max, d_max, 801)
    exact = losses.log_cosh(d, np.zeros_like(d), reduction="none")
    quad = 0.5 * d ** 2
    lin = np.abs(d) - math.log(2.0)
    fig = new_figure(9.0, 3.3)
    ax, ax_e = fig.subplots(1, 2)
    ax.plot(d, exact, color=COLORS["log_cosh"], lw=2.5, label=r"$\log\cosh d$")
    ax.plot(d, quad, color=COLORS["l2"], ls="--", label=r"$d^2/2$")
    ax.plot(d, lin, color=COLORS["l1"], ls="--", label=r"$|d| - \log 2$")
    ax.set_ylim(-0.8, d_max)
    ax.set_xlabel("residual $d$")
    ax.set_ylabel("loss")
    ax.legend(frameon=False, fontsize=8)
    ax.set_title("Two regimes")
    dp = np.geomspace(1e-2, d_max, 400)
    ex_p = losses.log_cosh(dp, np.zeros_like(dp), reduction="none")
    ax_e.loglog(dp, np.abs(0.5 * dp ** 2 - ex_p) / ex_p, color=COLORS["l2"], label=r"$d^2/2$")
    ax_e.loglog(dp, np.abs(dp - math.log(2.0) - ex_p) / ex_p, color=COLORS["l1"],
                label=r"$|d| - \log 2$")
    ax_e.set_xlabel("$|d|$ (log scale)")
    ax_e.set_ylabel("relative error of the approximation")
    ax_e.set_title("Where each approximation holds")
    ax_e.legend(frameon=False, fontsize=8)
    return fig


def outlier_data(n: int = 9, seed: int = 1) -> np.ndarray:
    """The ``n`` inliers used by the outlier figures: a fixed standard-normal sample."""
    return np.random.default_rng(seed).normal(0.0, 1.0, size=n)


_OUTLIER_GRID = [0.0, 2.5, 5.0, 10.0, 20.0, 30.0]
_DELTA_GRID = [0.25, 0.5, 1.0, 2.0, 3.0, 5.0]


def location_vs_outlier(outliers, delta: float = 1.0, inliers: np.ndarray | None = None) -> dict:
    """The fitted constant of each loss as the outlier moves; dict loss → array over ``outliers``."""
    base = outlier_data() if inliers is None else inliers
    out: dict[str, np.ndarray] = {}
    for loss in ("l2", "l1", "huber", "log_cosh"):
        out[loss] = np.array([losses.fit_location(np.append(base, o), loss, delta) for o in outliers])
    return out


_DRAG_GRID = np.linspace(0, 30, 31)


@functools.lru_cache(maxsize=32)
def _drag_curves(delta: float) -> dict:
    # The right-hand panel depends on delta only; every outlier position reuses it.
    return location_vs_outlier(_DRAG_GRID, delta)


def _draw_outlier(fig: Figure, delta: float, outlier: float):
    base = outlier_data()
    ax, ax_r = fig.subplots(1, 2, width_ratios=[1, 1.1])
    x_hi = 6.0
    order = ("l2", "l1", "huber", "log_cosh")
    points = ax.scatter(base, np.zeros_like(base), color=COLORS["data"], s=28, zorder=3)
    marker, = ax.plot([], [], "x", color="black", ms=8, mew=2, zorder=3)
    offscreen = ax.annotate("", (x_hi, 0), xytext=(-4, 8), ha="right", textcoords="offset points",
                            fontsize=8)
    bars, notes = {}, {}
    for row, loss in enumerate(order, start=1):
        bars[loss], = ax.plot([], [], color=COLORS[loss], lw=2)
        notes[loss] = ax.annotate("", (0, row * 0.25), xytext=(4, 0), textcoords="offset points",
                                  fontsize=8, color=COLORS[loss], va="center")
    ax.set_xlim(-2.5, x_hi)
    ax.set_ylim(-0.3, 1.25)
    ax.set_yticks([])
    ax.set_xlabel("value $y$")
    ax.set_title("Data and the constant each loss fits")
    curves = {loss: ax_r.plot([], [], color=COLORS[loss], lw=2)[0] for loss in order}
    now = ax_r.axvline(outlier, color="black", lw=0.8, ls=":")
    ax_r.set_xlim(-1.5, 31.5)
    ax_r.set_xlabel("position of the outlier")
    ax_r.set_ylabel(r"fitted constant $\hat y$")
    ax_r.set_ylim(-0.5, 3.5)
    ax_r.set_title("How far the outlier drags it")
    legend = ax_r.legend(handles=list(curves.values()), labels=list(order), fontsize=7,
                         frameon=False, loc="upper left")

    def update(delta: float, outlier: float) -> list:
        names = {"l2": "L2 (mean)", "l1": "L1 (median)", "huber": f"Huber δ={delta:g}",
                 "log_cosh": "log-cosh"}
        data = np.append(base, outlier)
        inside = outlier <= x_hi
        marker.set_data([outlier] if inside else [], [0] if inside else [])
        offscreen.set_text("" if inside else f"outlier at {outlier:g} →")
        for row, loss in enumerate(order, start=1):
            c = losses.fit_location(data, loss, delta)
            bars[loss].set_data([c, c], [-0.1, row * 0.25])
            notes[loss].xy = (c, row * 0.25)
            notes[loss].set_text(f"{names[loss]}: {c:.2f}")
        for loss, vals in _drag_curves(float(delta)).items():
            curves[loss].set_data(_DRAG_GRID, vals)
        now.set_xdata([outlier, outlier])
        for text, loss in zip(legend.get_texts(), order):
            text.set_text(names[loss])
        # the points never move, but the bars pass under them: redraw them on top
        return [marker, offscreen, *bars.values(), *notes.values(), *curves.values(), now, legend,
                points]

    update(delta, outlier)
    return update


def huber_outlier_explorable() -> Explorable:
    """Explorable: the Huber threshold δ and the outlier's position against the fitted constant."""
    return Explorable(
        _draw_outlier,
        [Control("delta", "Huber threshold δ", _DELTA_GRID, value=1.0),
         Control("outlier", "outlier at y =", _OUTLIER_GRID, value=10.0)],
        alt=("Left: nine data points near zero and one outlier, with vertical bars at the constant "
             "fitted by L2, L1, Huber and log-cosh. Right: each fitted constant as the outlier moves "
             "from 0 to 30; the L2 estimate (the mean) grows without bound, the others level off, "
             "Huber at a height that grows with delta."),
        caption="Move the outlier and the Huber threshold δ. The mean follows the outlier forever; "
                "L1, log-cosh and Huber stop listening to it, Huber later for larger δ.",
        figsize=(9.0, 3.4), dpi=80)


def margin_losses(r_min: float = -2.5, r_max: float = 3.0) -> Figure:
    r"""Binary 0–1, hinge, squared hinge and logistic losses (left) and derivatives (right) against the margin :math:`r = yz`.

    The logistic loss is drawn in nats, :math:`\log(1 + e^{-r})`, and dashed in bits,
    :math:`\log_2(1 + e^{-r})`: only the second is an upper bound of the 0–1 loss.
    """
    m = np.linspace(r_min, r_max, 1101)
    y = np.ones_like(m)
    fig = new_figure(9.0, 3.4)
    ax_v, ax_g = fig.subplots(1, 2)
    zero_one = (m <= 0).astype(float)
    ax_v.step(m, zero_one, where="post", color=COLORS["zero_one"], lw=2, label="0–1")
    curves = [
        ("hinge", r"hinge $\max(0, 1 - m)$", losses.binary_hinge(m, y, reduction="none"),
         losses.binary_hinge_grad(m, y, reduction="none")),
        ("squared_hinge", r"squared hinge", losses.binary_hinge(m, y, p=2, reduction="none"),
         losses.binary_hinge_grad(m, y, p=2, reduction="none")),
        ("logistic", r"logistic $\log(1 + e^{-r})$", losses.logistic_loss(m, y, reduction="none"),
         losses.logistic_loss_grad(m, y, reduction="none")),
    ]
    ax_g.plot(m, np.zeros_like(m), color=COLORS["zero_one"], lw=2, label="0–1 (zero a.e.)")
    for key, label, val, grad in curves:
        ax_v.plot(m, val, color=COLORS[key], lw=2, label=label)
        ax_g.plot(m, grad, color=COLORS[key], lw=2, label=label)
    ax_v.plot(m, losses.logistic_loss(m, y, reduction="none") / math.log(2.0), color=COLORS["logistic"],
              lw=1.5, ls="--", label=r"logistic in bits $\log_2(1 + e^{-r})$")
    for ax in (ax_v, ax_g):
        ax.axvline(0, color="0.8", lw=0.8, zorder=0)
        ax.axvline(1, color="0.8", lw=0.8, ls=":", zorder=0)
        ax.set_xlabel(r"margin $r = y\,z$")
    ax_v.set_ylim(-0.2, 5)
    ax_v.set_ylabel("loss")
    ax_v.set_title("Loss")
    ax_v.legend(fontsize=8, frameon=False)
    ax_g.set_ylabel(r"derivative w.r.t. $z$ (for $y = +1$)")
    ax_g.set_title("Gradient")
    return fig


_OTHER_SCORES = (1.0, -0.5)


def _draw_true_class(fig: Figure, s_true: float):
    # s_true is the slider's name (kept for the explorable's state keys): the true-class score z_y
    other = np.array(_OTHER_SCORES)
    ax_b, ax_l = fig.subplots(1, 2, width_ratios=[1, 1.5])
    xs = np.arange(3)
    bars_s = ax_b.bar(xs - 0.2, np.zeros(3), width=0.4, color=["#1f78b4", "0.6", "0.6"],
                      label="score $z_j$")
    bars_q = ax_b.bar(xs + 0.2, np.zeros(3), width=0.4, color=["#e31a1c", "#f4a3a3", "#f4a3a3"],
                      label=r"softmax $\hat y_j$")
    ax_b.axhline(0, color="black", lw=0.6, zorder=0.5)  # under the bars, also when blitting
    ax_b.set_xticks(xs, ["true class", "class 2", "class 3"])
    ax_b.set_ylim(-3.2, 4.2)
    ax_b.set_xlabel("class")
    ax_b.set_ylabel("score / probability")
    ax_b.legend(fontsize=8, frameon=False, loc="upper right")  # where no bar reaches
    ax_b.set_title("Scores of one sample")
    grid = np.linspace(-3, 4, 281)
    S = np.column_stack([grid, np.tile(other, (len(grid), 1))])
    labels = np.zeros(len(grid), dtype=int)
    ax_l.plot(grid, losses.multiclass_hinge(S, labels, reduction="none"), color=COLORS["hinge"],
              lw=2, label="multiclass hinge")
    ax_l.plot(grid, losses.softmax_cross_entropy(S, labels, reduction="none"),
              color=COLORS["cross_entropy"], lw=2, label="softmax cross-entropy")
    dot_h, = ax_l.plot([], [], "o", color=COLORS["hinge"])
    dot_c, = ax_l.plot([], [], "o", color=COLORS["cross_entropy"])
    ax_l.axvline(max(other) + 1, color=COLORS["hinge"], lw=0.8, ls=":")
    ax_l.set_xlabel("score of the true class $z_y$")
    ax_l.set_ylabel("loss of this sample")
    ax_l.set_ylim(-0.5, 9)  # the markers never touch the spines (8.5 is the largest loss)
    title = ax_l.set_title(" ")
    ax_l.legend(fontsize=8, frameon=False)

    def update(s_true: float) -> list:
        scores = np.array([s_true, *other])
        q = losses.softmax(scores)
        for bar, h in zip(bars_s, scores):
            bar.set_height(h)
        for bar, h in zip(bars_q, q):
            bar.set_height(h)
        h_now = float(losses.multiclass_hinge(scores[None], [0]))
        c_now = float(losses.softmax_cross_entropy(scores[None], [0]))
        dot_h.set_data([s_true], [h_now])
        dot_c.set_data([s_true], [c_now])
        title.set_text(f"hinge = {h_now:.2f}, cross-entropy = {c_now:.3f}")
        return [*bars_s, *bars_q, dot_h, dot_c, title]

    update(s_true)
    return update


def true_class_score_explorable() -> Explorable:
    """Explorable: raise the true-class score :math:`z_y` and watch hinge reach zero while cross-entropy only approaches it."""
    return Explorable(
        _draw_true_class,
        [Control("s_true", "true-class score z_y", np.round(np.arange(-3.0, 4.001, 0.25), 2),
                 value=0.0, fmt="{:.2f}")],
        alt=("Left: bar chart of three class scores and their softmax probabilities; the true "
             "class's score is set by the slider, the others are 1.0 and -0.5. Right: the multiclass "
             "hinge loss and the softmax cross-entropy as functions of the true-class score, with the "
             "current value marked. The hinge reaches exactly zero once the score exceeds 2.0; the "
             "cross-entropy keeps decreasing but never reaches zero."),
        caption="The hinge is satisfied once the true class wins by the margin; cross-entropy keeps "
                "asking for more.",
        figsize=(9.0, 3.4), dpi=80)


def kl_asymmetry(p: float = 0.3) -> Figure:
    r"""For two outcomes: H(P, Q), H(P) and KL(P‖Q) against :math:`Q_1` (left); KL(P‖Q) vs KL(Q‖P) (right).

    The data distribution is :math:`P = (p, 1 - p)` with ``p`` :math:`= P_1`, the model's
    :math:`Q = (Q_1, 1 - Q_1)`.
    """
    qs = np.linspace(0.005, 0.995, 397)
    P = np.tile([p, 1 - p], (len(qs), 1))
    Q = np.column_stack([qs, 1 - qs])
    ce = losses.cross_entropy(P, Q)
    h = losses.entropy(P)
    kl_pq = losses.kl_divergence(P, Q)
    kl_qp = losses.kl_divergence(Q, P)
    fig = new_figure(9.0, 3.3)
    ax, ax_r = fig.subplots(1, 2)
    ax.plot(qs, ce, color=COLORS["cross_entropy"], lw=2, label=r"cross-entropy $\mathrm{H}(P, Q)$")
    ax.plot(qs, h, color=COLORS["entropy"], lw=2, ls="--", label=r"entropy $\mathrm{H}(P)$")
    ax.fill_between(qs, h, ce, color=COLORS["kl"], alpha=0.25, label=r"gap $=\mathrm{KL}(P\Vert Q)$")
    ax.axvline(p, color="0.5", lw=0.8, ls=":")
    ax.set_xlabel("model probability $Q_1$ of outcome 1")
    ax.set_ylabel("nats")
    ax.set_ylim(0, 2.5)
    ax.set_title(f"Data: $P_1 = {p:g}$")
    ax.legend(fontsize=8, frameon=False)
    ax_r.plot(qs, kl_pq, color=COLORS["kl"], lw=2, label=r"$\mathrm{KL}(P\Vert Q)$")
    ax_r.plot(qs, kl_qp, color="0.3", lw=2, ls="--", label=r"$\mathrm{KL}(Q\Vert P)$")
    ax_r.axvline(p, color="0.5", lw=0.8, ls=":")
    ax_r.set_xlabel("model probability $Q_1$ of outcome 1")
    ax_r.set_ylabel("nats")
    ax_r.set_ylim(0, 2.0)
    ax_r.set_title("KL is not symmetric")
    ax_r.legend(fontsize=8, frameon=False)
    return fig


def likelihood_ratio_convergence(p=(0.5, 0.3, 0.2), q=(0.2, 0.3, 0.5), n: int = 4000,
                                 seeds: int = 5) -> Figure:
    """Running means of log P(y)/Q(y) over outcomes y drawn from P, for several seeds, converging to KL(P‖Q)."""
    pa, qa = np.asarray(p, float), np.asarray(q, float)
    kl = losses.kl_divergence(pa, qa)
    fig = new_figure(7.0, 3.0)
    ax = fig.subplots()
    m = np.arange(1, n + 1)
    for s in range(seeds):
        ax.plot(m, losses.log_likelihood_ratio_estimate(pa, qa, n, seed=s), lw=1, alpha=0.8)
    ax.axhline(kl, color="black", lw=1.5, ls="--", label=rf"$\mathrm{{KL}}(P\Vert Q) = {kl:.4f}$")
    ax.set_xscale("log")
    ax.set_xlabel("number of outcomes $N$ drawn from $P$ (log scale)")
    ax.set_ylabel(r"mean of $\log P(y)/Q(y)$")
    ax.set_ylim(kl - 1.0, kl + 1.0)
    ax.legend(frameon=False)
    return fig


def _num(x: float) -> str:
    """A number for an equation: one decimal if that is exact, parentheses if negative."""
    s = f"{x:.1f}" if abs(x * 10 - round(x * 10)) < 1e-9 else f"{x:.4g}"
    return f"({s})" if x < 0 else s


def hinge_terms_markdown(scores, labels, margin: float = 1.0, one_based: bool = True) -> "Markdown":
    r"""The multiclass hinge loss of each sample written out term by term, as Markdown math.

    Every number comes from :func:`dlnotes.losses.multiclass_hinge_terms` and
    :func:`dlnotes.losses.multiclass_hinge`; the text only arranges them.
    """
    from IPython.display import Markdown

    s = np.asarray(scores, dtype=float)
    t = np.asarray(labels)
    terms = losses.multiclass_hinge_terms(s, t, margin)
    per = losses.multiclass_hinge(s, t, margin, reduction="none")
    off = 1 if one_based else 0
    lines = []
    for i in range(s.shape[0]):
        others = [j for j in range(s.shape[1]) if j != t[i]]
        sym = " + ".join(f"\\max(0,\\, z_{{{i + off}{j + off}}} - z_{{{i + off}{t[i] + off}}} + {margin:g})"
                         for j in others)
        num = " + ".join(f"\\max(0,\\, {_num(s[i, j])} - {_num(s[i, t[i]])} + {margin:g})" for j in others)
        val = " + ".join(f"{max(0.0, terms[i, j]):.1f}" for j in others)
        lines.append(f"$$\\begin{{aligned}} L_{{{i + off}}} &= {sym} \\\\ &= {num} \\\\ "
                     f"&= {val} = {per[i]:.1f} \\end{{aligned}}$$")
    mean = float(np.mean(per))
    lines.append(f"$$L = \\tfrac{{1}}{{{len(per)}}}({' + '.join(f'{v:.1f}' for v in per)}) = {mean:.4f}$$")
    return Markdown("\n\n".join(lines))
