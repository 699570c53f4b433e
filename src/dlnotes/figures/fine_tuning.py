r"""Figures, tables and the explorable of the chapter *Fine-tuning*: why fine-tuning uses a smaller learning rate.

Every number is computed by :mod:`dlnotes.transfer` on the book's CNN, pre-trained on the
digits 0-4 (the shipped weights) and fine-tuned on 20 labelled images per class of the digits
5-9, with SGD and momentum (the settings of :mod:`dlnotes.figures.transfer_learning`). Runs
are cached, so the sweep, the figures and the explorable share them.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from .. import optim
from .. import transfer as tr
from ..explorables import Explorable
from . import new_figure
from .._threads import single_threaded
from .activations_initialization import NamedControl
from .transfer_learning import BATCH, MOMENTUM, STEPS

__all__ = [
    "PER_CLASS", "RATES", "CHECKPOINTS", "Track", "track", "sweep", "sweep_figure", "track_figure",
    "gradient_facts", "sharpness_rows", "remedy_rows", "finetune_explorable",
]

PER_CLASS = 20
#: The fine-tuning rates of the sweep (SGD with momentum 0.9).
RATES = (0.003, 0.01, 0.03, 0.1, 0.3)
#: Steps at which the linear probe and the validation accuracy are measured.
CHECKPOINTS = (0, 2, 5, 10, 20, 50, 100)
#: Steps over which the gradients reaching the body are followed, and the rate at which.
GRAD_STEPS, GRAD_RATE = 30, 0.01


@functools.lru_cache(maxsize=1)
def _setup():
    _, target = tr.tasks()
    return tr.load_pretrained(), target


def _data(seed: int):
    pre, target = _setup()
    return tr.few_shot(target, PER_CLASS, seed)


@dataclass(frozen=True)
class Track:
    r"""One fine-tuning run, followed step by step.

    ``distance[t]``: :func:`dlnotes.transfer.body_distance` before step ``t`` (``t = 0 ..
    STEPS``); ``final``: the final validation accuracy. Runs with seed 0 and one rate for
    everything are followed in detail (the others, to save time, only record ``distance`` and
    ``final``): ``probe[i]``, ``val[i]``: at step ``CHECKPOINTS[i]``, the accuracy on the
    target's validation images of a linear probe fitted on the current body's features of
    *all* target training images (a diagnostic of the features, not part of the method), and
    of the network itself; at rate ``GRAD_RATE`` also ``body_grad[t]``, ``head_grad[t]``: the
    gradient norms on the 100 training images for ``t < GRAD_STEPS``.
    """

    alpha: float
    head: str
    distance: np.ndarray
    probe: np.ndarray
    val: np.ndarray
    body_grad: np.ndarray
    head_grad: np.ndarray
    final: float


def _start(head: str, seed: int, dtype=np.float32):
    pre, _ = _setup()
    data = _data(seed)
    model = tr.new_model(pre, seed=seed, dtype=dtype)
    if head == "probe":
        tr.probe_head(model, data.X_train, data.y_train)
    elif head != "fresh":
        raise ValueError(f"head must be 'fresh' or 'probe', got {head!r}")
    return model, data


def track(alpha: float, head: str = "fresh", seed: int = 0, body_factor: float = 1.0) -> Track:
    r"""Fine-tune at rate :math:`\alpha` (the body at ``body_factor`` :math:`\alpha`) from a fresh or a probed head, recording everything.

    ``head='probe'`` first fits the head as a linear probe on the frozen body (*freeze, then
    unfreeze*). Cached (however the arguments are passed).
    """
    return _track(float(alpha), str(head), int(seed), float(body_factor))


@functools.lru_cache(maxsize=None)
@single_threaded
def _track(alpha: float, head: str, seed: int, body_factor: float) -> Track:
    pre, target = _setup()
    model, data = _start(head, seed)
    opt = tr.grouped_sgd(model, body_factor * alpha, alpha, MOMENTUM)
    dist, probe, val, bg, hg = [], [], [], [], []
    detail = seed == 0 and body_factor == 1.0

    def record(t, m):
        dist.append(tr.body_distance(m, pre))
        if detail and alpha == GRAD_RATE and t < GRAD_STEPS:
            g = tr.gradient_norms(m, data.X_train, data.y_train)
            bg.append(g["body"])
            hg.append(g["head"])
        if detail and t in CHECKPOINTS:
            if all(np.all(np.isfinite(p)) for p in m.params):
                probe.append(tr.probe_accuracy(m.features(target.X_train), target.y_train,
                                               m.features(target.X_val), target.y_val, gtol=1e-5))
                val.append(m.accuracy(target.X_val, target.y_val))
            else:
                probe.append(np.nan)
                val.append(np.nan)

    losses = tr.fit(model, opt, data.X_train, data.y_train, STEPS, batch_size=BATCH, seed=seed,
                    callback=record)
    n = len(dist)
    dist += [np.nan] * (STEPS + 1 - n)
    if detail:
        probe += [np.nan] * (len(CHECKPOINTS) - len(probe))
        val += [np.nan] * (len(CHECKPOINTS) - len(val))
    final = model.accuracy(target.X_val, target.y_val) if np.isfinite(losses).all() else np.nan
    return Track(alpha, head, np.array(dist), np.array(probe), np.array(val), np.array(bg),
                 np.array(hg), float(final))


@functools.lru_cache(maxsize=None)
@single_threaded
def _final(method: str, alpha: float, seed: int) -> float:  # always called positionally
    """Final target validation accuracy of fine-tuning (``'finetune'``) or training from scratch."""
    pre, target = _setup()
    data = _data(seed)
    if method == "finetune":
        return track(alpha, seed=seed).final
    model = tr.new_model(None, seed=100 + seed)
    losses = tr.fit(model, optim.SGD(model.params, lr=alpha, momentum=MOMENTUM), data.X_train,
                    data.y_train, STEPS, batch_size=BATCH, seed=seed)
    if not np.isfinite(losses).all():
        return float("nan")
    return model.accuracy(target.X_val, target.y_val)


def sweep(rates=RATES, seeds=(0, 1)) -> dict[str, np.ndarray]:
    r"""Final accuracy of fine-tuning and of training from scratch at every rate: arrays of shape (len(rates), len(seeds)).

    A diverged run counts as chance (20%, five classes).
    """
    out = {}
    for method in ("finetune", "scratch"):
        a = np.array([[_final(method, r, s) for s in seeds] for r in rates])
        out[method] = np.where(np.isfinite(a), a, 0.2)
    return out


def sweep_figure(res: dict[str, np.ndarray], rates=RATES) -> Figure:
    """Final validation accuracy against the learning rate, fine-tuning and from scratch (mean and the seeds)."""
    fig = new_figure(6.2, 3.4)
    ax = fig.add_subplot()
    for method, color, fmt, label in (("scratch", "#555555", "s--", "from scratch"),
                                      ("finetune", "#d95f02", "o-", "fine-tuning the pre-trained CNN")):
        a = 100 * res[method]
        ax.plot(rates, a.mean(axis=1), fmt, color=color, lw=2, ms=5, label=label)
        for j in range(a.shape[1]):
            ax.plot(rates, a[:, j], ".", color=color, alpha=0.5, ms=6)
    ax.axhline(20, color="0.7", lw=0.8, ls=":")
    ax.text(rates[0], 22, "chance", fontsize=7, color="0.5")
    ax.set_xscale("log")
    ax.set_xlabel(r"learning rate $\alpha$ (SGD, momentum 0.9; log scale)")
    ax.set_ylabel("validation accuracy on digits 5-9 (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8, frameon=False, loc="lower left")
    return fig


def track_figure(rates=(0.01, 0.1)) -> Figure:
    """Distance from the pre-trained body (left) and the features' probe accuracy (right) during fine-tuning at a small and a large rate."""
    fig = new_figure(9.5, 3.4)
    ax, ax_p = fig.subplots(1, 2)
    colors = {rates[0]: "#1b9e77", rates[-1]: "#e31a1c"}
    t = np.arange(STEPS + 1)
    for r in rates:
        tk = track(r)
        ax.plot(t, tk.distance, color=colors[r], lw=2, label=f"α = {r:g}")
        ax_p.plot(CHECKPOINTS, 100 * tk.probe, "o-", color=colors[r], lw=2, ms=4,
                  label=f"probe on the features, α = {r:g}")
        ax_p.plot(CHECKPOINTS, 100 * tk.val, "s--", color=colors[r], lw=1.2, ms=3,
                  label=f"the network itself, α = {r:g}")
    ax.set_xlabel("fine-tuning step $t$")
    ax.set_ylabel(r"$\|\theta_{\mathrm{body}} - \theta_{\mathrm{pre}}\| / \|\theta_{\mathrm{pre}}\|$")
    ax.set_title("How far the body moves", fontsize=9.5)
    ax.legend(fontsize=8, frameon=False)
    ax_p.set_xlabel("fine-tuning step $t$")
    ax_p.set_ylabel("validation accuracy (%)")
    ax_p.set_ylim(0, 100)
    ax_p.set_title("What the features are worth", fontsize=9.5)
    ax_p.legend(fontsize=7, frameon=False, loc="lower right")
    return fig


def gradient_facts(alpha: float = GRAD_RATE) -> dict[str, float]:
    r"""The gradient reaching the body with a fresh head, with a probed head, and how the fresh head's falls as it learns.

    From :func:`track` at rate ``alpha``: ``fresh_body``, ``probe_body`` (at step 0),
    ``fresh_ratio`` = fresh / probed, ``fresh_after`` (at step ``GRAD_STEPS - 1``) and
    ``fresh_drop`` = step 0 / step ``GRAD_STEPS - 1``.
    """
    fresh, probed = track(alpha, "fresh"), track(alpha, "probe")
    return {"fresh_body": float(fresh.body_grad[0]), "fresh_head": float(fresh.head_grad[0]),
            "probe_body": float(probed.body_grad[0]),
            "fresh_ratio": float(fresh.body_grad[0] / probed.body_grad[0]),
            "fresh_after": float(fresh.body_grad[-1]),
            "fresh_drop": float(fresh.body_grad[0] / fresh.body_grad[-1]),
            "steps": GRAD_STEPS}


def gradient_figure(alpha: float = GRAD_RATE) -> Figure:
    """The norm of the gradient reaching the body over the first steps of fine-tuning, fresh head against probed head."""
    fig = new_figure(6.2, 3.2)
    ax = fig.add_subplot()
    t = np.arange(GRAD_STEPS)
    for head, color, label in (("fresh", "#e31a1c", "fresh random head"),
                               ("probe", "#1b9e77", "head fitted first (linear probe)")):
        ax.semilogy(t, track(alpha, head).body_grad, "o-", ms=3, lw=1.8, color=color, label=label)
    ax.set_xlabel(f"fine-tuning step $t$ (α = {alpha:g})")
    ax.set_ylabel(r"$\|\partial L/\partial\theta_{\mathrm{body}}\|$ (log scale)")
    ax.legend(fontsize=8, frameon=False)
    return fig


@single_threaded
def sharpness_rows(seeds=(0, 1), tol: float = 1e-2) -> list[list]:
    r"""The largest Hessian eigenvalue of the target training loss where each kind of run starts, and the stability limit it implies.

    Rows ``[start, λ_max per seed (text), smallest 2(1 + ρ)/λ_max]`` for a random CNN, the
    pre-trained body with a fresh head, and with a probed head (float64 models on the 100
    training images of each seed).
    """
    pre, _ = _setup()
    rows = []
    for label, make in (("random CNN (from scratch)", lambda s: tr.new_model(None, seed=100 + s, dtype=np.float64)),
                        ("pre-trained body, fresh head", lambda s: tr.new_model(pre, seed=s, dtype=np.float64)),
                        ("pre-trained body, probed head", lambda s: _start("probe", s, np.float64)[0])):
        lams = []
        for s in seeds:
            data = _data(s)
            lams.append(tr.sharpness(make(s), data.X_train, data.y_train, tol=tol))
        rows.append([label, ", ".join(f"{v:.3g}" for v in lams), 2 * (1 + MOMENTUM) / max(lams)])
    return rows


def remedy_rows(alpha: float = 0.1, small: float = 0.01, seeds=(0, 1)) -> tuple[list[list], dict]:
    r"""Fine-tuning at a rate that is too large, and the remedies: a smaller body rate, or fitting the head first.

    Rows ``[variant, accuracy mean ± std (%), mean body distance at the end]``; the dict maps
    the variant's key to the accuracies over ``seeds``.
    """
    variants = [
        ("plain", f"everything at α = {small:g}", dict(alpha=small)),
        ("plain_high", f"everything at α = {alpha:g}", dict(alpha=alpha)),
        ("discriminative", f"body at α = {small:g}, head at α = {alpha:g}",
         dict(alpha=alpha, body_factor=small / alpha)),
        ("probe_first", f"probe the head first, then everything at α = {alpha:g}",
         dict(alpha=alpha, head="probe")),
    ]
    rows, acc = [], {}
    for key, label, kw in variants:
        tks = [track(seed=s, **kw) for s in seeds]
        a = np.array([t.final if np.isfinite(t.final) else 0.2 for t in tks])
        d = np.array([t.distance[-1] for t in tks])
        acc[key] = a
        rows.append([label, f"{100 * a.mean():.1f} ± {100 * a.std():.1f}",
                     float(np.nanmean(d)) if np.isfinite(d).any() else float("nan")])
    return rows, acc


# ------------------------------------------------------------------ the explorable

def _draw_finetune(fig: Figure, log10_alpha: float):
    ax, ax_d = fig.subplots(1, 2)
    t = np.arange(STEPS + 1)
    probe_line = ax.plot([], [], "o-", color="#1b9e77", lw=2, ms=4, label="linear probe on the features")[0]
    val_line = ax.plot([], [], "s--", color="#d95f02", lw=1.5, ms=3, label="the fine-tuned network")[0]
    pre_probe = track(RATES[0]).probe[0]
    # below the moving curves (zorder 1), as in the blitted frames
    ax.axhline(100 * pre_probe, color="0.6", lw=0.8, ls=":", zorder=1)
    ax.text(STEPS, 100 * pre_probe + 1.5, "pre-trained features", fontsize=7, color="0.4", ha="right",
            zorder=1)
    ax.set_xlim(-2, STEPS + 2)
    ax.set_ylim(0, 100)
    ax.set_xlabel("fine-tuning step $t$")
    ax.set_ylabel("validation accuracy on digits 5-9 (%)")
    legend = ax.legend(fontsize=7.5, frameon=False, loc="lower right")
    title = ax.set_title(" ", fontsize=9.5)
    dist_line = ax_d.semilogy([], [], color="#7570b3", lw=2)[0]
    ax_d.set_xlim(-2, STEPS + 2)
    ax_d.set_ylim(1e-3, 1e2)
    ax_d.set_xlabel("fine-tuning step $t$")
    ax_d.set_ylabel("distance from the pre-trained body")
    ax_d.set_title(r"$\|\theta_{\mathrm{body}} - \theta_{\mathrm{pre}}\| / \|\theta_{\mathrm{pre}}\|$",
                   fontsize=9.5)
    note = ax_d.text(0.97, 0.05, " ", transform=ax_d.transAxes, ha="right", va="bottom", fontsize=8)

    def update(log10_alpha: float) -> list:
        alpha = float(RATES[int(np.argmin(np.abs(np.log10(RATES) - log10_alpha)))])
        tk = track(alpha)
        probe_line.set_data(CHECKPOINTS, 100 * tk.probe)
        val_line.set_data(CHECKPOINTS, 100 * tk.val)
        dist_line.set_data(t[1:], np.where(np.isfinite(tk.distance[1:]), np.maximum(tk.distance[1:], 1e-300), np.nan))
        title.set_text(f"fine-tuning at α = {alpha:g} (fresh head)")
        final = "diverged" if not np.isfinite(tk.final) else f"{100 * tk.final:.0f}%"
        d = tk.distance[np.isfinite(tk.distance)][-1]
        note.set_text(f"final accuracy {final}\nfinal distance {d:.3g}")
        return [probe_line, val_line, legend, title, dist_line, note, *ax.spines.values(),
                *ax_d.spines.values()]

    update(log10_alpha)
    return update


def finetune_explorable() -> Explorable:
    r"""Explorable: the fine-tuning rate, with the features' accuracy and the distance from the pre-trained weights."""
    return Explorable(
        _draw_finetune,
        [NamedControl("log10_alpha", "fine-tuning rate α", np.log10(RATES), value=-2.0,
                      names=tuple(f"{r:g}" for r in RATES))],
        alt=("Left: validation accuracy on the digits 5 to 9 over 100 fine-tuning steps, of a linear "
             "probe fitted on the network's current features and of the network itself, with a dotted "
             "line at the accuracy of the pre-trained features. Right: the relative distance of the "
             "body's weights from the pre-trained ones, on a log scale. With a fresh head, small rates "
             "move the body by a few percent and keep the probe near the pre-trained level; from a "
             "rate of 0.1 the body moves by more than its own size within a few steps and the probe "
             "accuracy collapses, and so does the network's."),
        caption=("Fine-tuning the pre-trained CNN on 20 images per class of the digits 5-9 with SGD "
                 "(momentum 0.9). The probe uses all target training labels; it measures the "
                 "features, it is not part of the method."),
        figsize=(8.6, 3.4), dpi=72)
