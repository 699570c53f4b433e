"""Figures and explorables of the chapter *Dropout and batch normalization*."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from .. import batchnorm, dropout, initialization, optim, training
from .._threads import single_threaded
from ..activations import sigmoid
from ..datasets import digits
from ..explorables import Control, Explorable
from . import new_figure

__all__ = ["NEURON_W", "NEURON_X", "keep_explorable", "bn_runs", "bn_curves", "gradient_norms"]

# the neuron of the explorable: four inputs, weights large enough for the sigmoid to bend
NEURON_W = np.array([2.0, -1.5, 3.0, 1.0])
NEURON_X = np.array([1.0, 2.0, 0.5, 1.5])
KEEPS = np.round(np.linspace(0.1, 1.0, 10), 2)


def _gaps(ps: np.ndarray) -> np.ndarray:
    exact = np.array([dropout.expected_output(NEURON_W, NEURON_X, p, "sigmoid") for p in ps])
    approx = sigmoid(ps * float(NEURON_W @ NEURON_X))
    return approx - exact


def _draw_keep(fig: Figure, p: float):
    ax, ax_gap = fig.subplots(1, 2)
    n_masks = 2 ** NEURON_W.size
    stems = ax.vlines(np.zeros(n_masks), 0, np.zeros(n_masks), color="#7570b3", lw=2)
    (dots,) = ax.plot(np.zeros(n_masks), np.zeros(n_masks), "o", color="#7570b3", ms=4,
                      label="one mask: σ(a), Pr")
    exact_line = ax.axvline(0.5, color="#1b9e77", lw=2, label="exact E[σ(a)]")
    approx_line = ax.axvline(0.5, color="#d95f02", lw=2, ls="--", label="σ(p·wᵀx)")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(0, 0.7)
    ax.set_xlabel("output σ(a) of the neuron under one mask")
    ax.set_ylabel("probability of the mask")
    legend = ax.legend(fontsize=7, frameon=False, loc="upper left")
    title = ax.set_title(" ", fontsize=9)
    ps = np.linspace(0.05, 1.0, 96)
    ax_gap.plot(ps, _gaps(ps), color="#d95f02", lw=2)
    ax_gap.axhline(0, color="0.6", lw=0.8)
    (marker,) = ax_gap.plot([p], [0.0], "o", color="black")
    ax_gap.set_xlabel("keep probability p")
    ax_gap.set_ylabel("σ(p·wᵀx) − E[σ(a)]")
    ax_gap.set_title("error of weight scaling after a sigmoid", fontsize=9)

    def update(p: float) -> list:
        e = dropout.neuron_under_dropout(NEURON_W, NEURON_X, p)
        out = sigmoid(e["a"])
        exact = float(e["probs"] @ out)
        approx = float(sigmoid(p * NEURON_W @ NEURON_X))
        stems.set_segments([[(v, 0.0), (v, pr)] for v, pr in zip(out, e["probs"])])
        dots.set_data(out, e["probs"])
        exact_line.set_xdata([exact, exact])
        approx_line.set_xdata([approx, approx])
        texts = legend.get_texts()
        texts[1].set_text(f"exact E[σ(a)] = {exact:.3f}")
        texts[2].set_text(f"σ(p·wᵀx) = {approx:.3f}")
        title.set_text(f"{n_masks} masks, keep probability p = {p:.1f}")
        marker.set_data([p], [approx - exact])
        return [stems, dots, exact_line, approx_line, *ax.spines.values(), legend, title, marker]

    update(p)
    return update


def keep_explorable() -> Explorable:
    """Explorable: the keep probability p; the 16 masks of a sigmoid neuron, the exact expectation and the weight-scaling value."""
    return Explorable(
        _draw_keep, [Control("p", "keep probability p", KEEPS, value=0.5, fmt="{:.1f}")],
        alt=("Left: for a sigmoid neuron with four inputs, one stem per dropout mask at the neuron's "
             "output under that mask, as high as the mask's probability, with a green line at the exact "
             "expectation over the masks and a dashed orange line at the sigmoid of p times the full "
             "pre-activation. Right: the difference between the two as p goes from 0 to 1; it is zero "
             "at p = 1 and largest at intermediate keep probabilities."),
        caption="Move p: weight scaling is exact for a linear unit, but after a sigmoid it is off by the "
                "amount on the right.",
        figsize=(9.0, 3.4), dpi=80)


BN_CONFIGS = (("He init, rate 0.05", 1.0, 0.05), ("He init, rate 0.3", 1.0, 0.3),
              ("0.6 × He init, rate 0.05", 0.6, 0.05))


@single_threaded
def _model(bn: bool, scale: float, depth: int, width: int, seed: int):
    """The ReLU network with He's initialization times ``scale``, plain or with batch normalization (same weights)."""
    cls = batchnorm.BNMLP if bn else initialization.DeepMLP
    return cls(64, [width] * depth, 10, "relu", "kaiming_normal", gain=scale * np.sqrt(2.0), seed=seed)


def bn_runs(epochs: int = 15, depth: int = 8, width: int = 32, seed: int = 0) -> dict:
    """Train the deep MLP on the digits with and without batch normalization for each setting of ``BN_CONFIGS``.

    Returns ``{(label, bn): History}`` (SGD, batches of 64, the same initial weights per setting).
    """
    data = digits()
    out = {}
    for label, gain, lr in BN_CONFIGS:
        for bn in (False, True):
            model = _model(bn, gain, depth, width, seed)
            out[(label, bn)] = training.train(model, optim.SGD(model.params, lr=lr), data, epochs=epochs,
                                              seed=seed, progress=False)
    return out


def bn_curves(runs: dict) -> Figure:
    """Training accuracy per epoch, one panel per setting, with and without batch normalization."""
    fig = new_figure(9.5, 3.0)
    axes = fig.subplots(1, len(BN_CONFIGS), sharey=True)
    for ax, (label, _, _) in zip(axes, BN_CONFIGS):
        for bn, color in ((False, "#666666"), (True, "#1f78b4")):
            h = runs[(label, bn)]
            ax.plot(h.epoch, h.train_accuracy, color=color, lw=2,
                    label=("with" if bn else "without") + " BN" + (" (diverged)" if h.diverged else ""))
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize=7, frameon=False, loc="lower right")
    axes[0].set_ylabel("training accuracy")
    return fig


@single_threaded
def gradient_norms(depth: int = 8, width: int = 32, seed: int = 0) -> tuple[dict, Figure]:
    """The gradient norm of each layer's weights at initialization, for two init scales, with and without BN."""
    data = digits()
    res = {}
    fig = new_figure(7.0, 3.0)
    ax = fig.subplots()
    layers = np.arange(1, depth + 1)
    for gain, ls in ((1.0, "-"), (0.6, "--")):
        for bn, color in ((False, "#666666"), (True, "#1f78b4")):
            m = _model(bn, gain, depth, width, seed)
            g = res[(gain, bn)] = (m.weight_gradient_norms(data.X_train, data.y_train) if bn else
                                   initialization.layer_statistics(m, data.X_train, data.y_train).grad_norm)
            ax.plot(layers, g, ls=ls, color=color, marker="o", ms=3,
                    label=f"{'with' if bn else 'without'} BN, {gain:g} × He")
    ax.set_yscale("log")
    ax.set_xlabel("hidden layer l")
    ax.set_ylabel("gradient norm of W⁽ˡ⁾ (log scale)")
    ax.legend(fontsize=7, frameon=False, ncol=2)
    return res, fig
