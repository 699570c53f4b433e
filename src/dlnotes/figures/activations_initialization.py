r"""Figures, tables and the explorable of the chapter *Activations and initialization*.

Every number drawn here is computed by :mod:`dlnotes.activations`,
:mod:`dlnotes.initialization` and :mod:`dlnotes.training` on scikit-learn's digits.
Activations and initializations have fixed colours (:data:`ACT_COLORS`, :data:`INIT_COLORS`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .. import activations as act
from .. import explorables, optim, training
from .. import initialization as init
from ..datasets import digits
from ..explorables import Control, Explorable
from . import new_figure
from .._threads import single_threaded

__all__ = [
    "ACT_COLORS", "INIT_COLORS", "INIT_SCHEMES", "DEPTH", "WIDTH", "activation_curves",
    "saturation_facts", "maxout_rows", "DeadRun", "dead_relu_runs", "dead_relu_figure",
    "init_statistics", "activation_std_figure", "histogram_figure", "gradient_norm_figure",
    "init_training_rows", "torch_default_rows", "symmetry_facts", "NamedControl",
    "init_explorable",
]

#: One colour per activation.
ACT_COLORS = {
    "sigmoid": "#7570b3", "tanh": "#1b9e77", "relu": "#d95f02", "leaky_relu": "#e7298a",
    "elu": "#66a61e", "gelu": "#1f78b4",
}
ACT_LABELS = {"sigmoid": "sigmoid σ", "tanh": "tanh", "relu": "ReLU", "leaky_relu": "leaky ReLU",
              "elu": "ELU", "gelu": "GELU"}

#: The four initializations of the experiment: a fixed standard deviation or a named scheme.
INIT_SCHEMES: dict[str, Any] = {
    "too small (σ_W = 0.01)": 0.01,
    "too large (σ_W = 1)": 1.0,
    "Xavier/Glorot": "xavier_normal",
    "He/Kaiming": "kaiming_normal",
}
INIT_COLORS = dict(zip(INIT_SCHEMES, ["#a6cee3", "#e31a1c", "#1b9e77", "#d95f02"]))

#: The experiment's network: DEPTH hidden layers of WIDTH units, looked at on N_IMAGES
#: training images (float32: the statistics do not need more, and it halves the time).
DEPTH, WIDTH, N_IMAGES = 10, 64, 600


# ------------------------------------------------------------------ the functions

def activation_curves(nu: float = 0.1) -> Figure:
    r"""The six activations :math:`\phi(z)` (left) and their derivatives :math:`\phi'(z)` (right).

    The derivatives come from the ``*_backward`` functions with an upstream gradient of 1.
    The leaky ReLU is drawn with slope :math:`\mathrm{slope}` = ``nu`` so that its slope is visible.
    """
    z = np.linspace(-4.0, 4.0, 801)
    one = np.ones_like(z)
    curves = {
        "sigmoid": (act.sigmoid(z), act.sigmoid_backward(one, z)),
        "tanh": (act.tanh(z), act.tanh_backward(one, z)),
        "relu": (act.relu(z), act.relu_backward(one, z)),
        "leaky_relu": (act.leaky_relu(z, nu), act.leaky_relu_backward(one, z, nu)),
        "elu": (act.elu(z), act.elu_backward(one, z)),
        "gelu": (act.gelu(z), act.gelu_backward(one, z)),
    }
    fig = new_figure(9.5, 3.4)
    ax, ax_d = fig.subplots(1, 2)
    styles = {"leaky_relu": "--", "elu": "-.", "gelu": ":"}
    for name, (a, d) in curves.items():
        label = ACT_LABELS[name] + (f" (slope {nu:g})" if name == "leaky_relu" else "")
        kw = dict(color=ACT_COLORS[name], lw=2, ls=styles.get(name, "-"))
        ax.plot(z, a, label=label, **kw)
        # the derivative jumps at 0 for the ReLUs: leave the jump undrawn
        d = d.copy()
        if name in ("relu", "leaky_relu"):
            d[np.abs(z) < 1e-9] = np.nan
        ax_d.plot(z, d, **kw)
    ax.set_ylim(-1.5, 3.0)
    ax.set_xlabel("pre-activation $z$")
    ax.set_ylabel(r"activation $\phi(z)$")
    ax.set_title("Activation functions")
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    ax_d.set_ylim(-0.15, 1.25)
    ax_d.set_xlabel("pre-activation $z$")
    ax_d.set_ylabel(r"derivative $\phi'(z)$")
    ax_d.set_title("Their derivatives")
    for a_ in (ax, ax_d):
        a_.axhline(0, color="0.8", lw=0.6, zorder=0)
        a_.axvline(0, color="0.8", lw=0.6, zorder=0)
    return fig


def saturation_facts(depth: int = DEPTH) -> dict[str, float]:
    r"""Numbers about saturation, from the ``*_backward`` functions.

    ``sigmoid_max``: :math:`\max\sigma'` (at 0); ``sigmoid_at_5``, ``tanh_at_5``: the
    derivatives at :math:`z = 5`; ``sigmoid_chain``: :math:`(\max\sigma')^{D}`, the largest
    factor by which ``depth`` sigmoid layers can scale a gradient (their weights aside);
    ``sigmoid_mean``: the mean of :math:`\sigma(z)` for :math:`z \sim \mathcal N(0, 1)`
    (outputs are all positive, not centred).
    """
    one = np.ones(1)
    zero = np.zeros(1)
    five = np.full(1, 5.0)
    z = np.random.default_rng(0).standard_normal(200_000)
    s_max = float(act.sigmoid_backward(one, zero)[0])
    return {"sigmoid_max": s_max, "sigmoid_at_5": float(act.sigmoid_backward(one, five)[0]),
            "tanh_max": float(act.tanh_backward(one, zero)[0]),
            "tanh_at_5": float(act.tanh_backward(one, five)[0]),
            "sigmoid_chain": s_max ** depth, "sigmoid_mean": float(act.sigmoid(z).mean()),
            "tanh_mean": float(act.tanh(z).mean())}


@single_threaded
def maxout_rows(n_in: int = 64, n_out: int = 32, seed: int = 0) -> list[list]:
    r"""Maxout with chosen pieces against the ReLU and the leaky ReLU, on the digits' inputs.

    Rows ``[what, max |difference| from the elementwise function, weights of the layer]``.
    """
    X = digits().X_train
    rng = np.random.default_rng(seed)
    W1 = init.kaiming_normal((n_in, n_out), rng=rng)
    b1 = 0.1 * rng.standard_normal(n_out)
    z = X @ W1 + b1
    relu_like, _ = act.maxout(X, np.stack([W1, 0 * W1]), np.stack([b1, 0 * b1]))
    leaky_like, _ = act.maxout(X, np.stack([W1, 0.1 * W1]), np.stack([b1, 0.1 * b1]))
    W4 = init.kaiming_normal((4, n_in, n_out), rng=rng)
    dense = n_in * n_out + n_out
    return [
        ["maxout, $n_{\text{pieces}} = 2$, pieces $(W, b)$ and $(0, 0)$, against ReLU$(xW + b)$",
         float(np.abs(relu_like - act.relu(z)).max()), 2 * dense],
        [r"maxout, $n_{\text{pieces}} = 2$, pieces $(W, b)$ and $(\mathrm{slope}\, W, \mathrm{slope}\, b)$, against leaky ReLU, $\mathrm{slope} = 0.1$",
         float(np.abs(leaky_like - act.leaky_relu(z, 0.1)).max()), 2 * dense],
        ["maxout, $n_{\\text{pieces}} = 4$ (random pieces)", "(a different function)", W4.size + 4 * n_out],
        ["dense layer + any elementwise $\\phi$", "", dense],
    ]


# ------------------------------------------------------------------ dead ReLUs

@dataclasses.dataclass(frozen=True)
class DeadRun:
    r"""One training run of :func:`dead_relu_runs`.

    ``dead[e, l]``: fraction of the units of hidden layer ``l + 1`` whose pre-activation is
    :math:`\le 0` on every training image after epoch ``e`` (``e = 0`` is the start);
    ``val_accuracy[e]``; ``stay_dead[l]``: of the units of layer ``l + 1`` that were dead
    after the first epoch, the fraction still dead at the end; ``zero_grad[l]``: whether the
    incoming weights of every unit dead at the end get an exactly zero gradient on the whole
    training set.
    """

    activation: str
    lr: float
    dead: np.ndarray
    val_accuracy: np.ndarray
    stay_dead: np.ndarray
    zero_grad: np.ndarray


@functools.lru_cache(maxsize=None)
@single_threaded
def dead_relu_runs(lrs: tuple[float, ...] = (0.003, 0.05), epochs: int = 6, width: int = 64,
                   layers: int = 3, seed: int = 0) -> dict[tuple[str, float], DeadRun]:
    r"""Train a ReLU MLP with Adam at each rate (and a leaky ReLU one at the largest) and count dead units.

    The network is a :class:`dlnotes.initialization.DeepMLP` with ``layers`` hidden layers of
    ``width`` units, He initialization, on the digits (float32). A unit is dead after an
    epoch if its pre-activation :math:`z` is :math:`\le 0` for every training image: it then
    outputs 0 and passes back no gradient, whatever the image. Returns a dict
    ``(activation, lr) -> DeadRun``.
    """
    data = digits()
    X = data.X_train.astype(np.float32)
    runs = {}
    plan = [("relu", lr) for lr in lrs] + [("leaky_relu", lrs[-1])]
    for name, lr in plan:
        model = init.DeepMLP(64, [width] * layers, 10, activation=name, init="kaiming_normal",
                             seed=seed, dtype=np.float32)
        opt = optim.Adam(model.params, lr=lr)
        masks, acc = [], []

        def record():
            zs, _ = model.layer_outputs(X)
            masks.append(np.array([np.all(z <= 0, axis=0) for z in zs]))

        record()
        acc.append(model.accuracy(data.X_val, data.y_val))
        for e in range(epochs):
            h = training.train(model, opt, data, epochs=1, seed=seed + e, progress=False)
            record()
            acc.append(float(h.val_accuracy[-1]))
        m = np.array(masks)                              # (epochs + 1, layers, width)
        first, last = m[1], m[-1]
        stay = np.array([(first[l] & last[l]).sum() / max(first[l].sum(), 1) for l in range(layers)])
        _, grads = model.loss_and_grads(data.X_train, data.y_train)
        zero = np.array([not np.any(grads[2 * l][:, last[l]]) for l in range(layers)])
        runs[(name, lr)] = DeadRun(name, lr, m.mean(axis=2), np.array(acc), stay, zero)
    return runs


def dead_relu_figure(runs: dict[tuple[str, float], DeadRun]) -> Figure:
    """Fraction of dead units per hidden layer against the epoch, one panel per run of :func:`dead_relu_runs`."""
    fig = new_figure(9.5, 3.0)
    axes = fig.subplots(1, len(runs), sharey=True)
    layer_colors = ["#9ecae1", "#4292c6", "#08519c", "#08306b"]
    for ax, ((name, lr), run) in zip(axes, runs.items()):
        e = np.arange(run.dead.shape[0])
        for l in range(run.dead.shape[1]):
            ax.plot(e, 100 * run.dead[:, l], "o-", ms=3, lw=1.8, color=layer_colors[l % 4],
                    label=f"layer {l + 1}")
        ax.set_title(f"{ACT_LABELS[name]}, Adam α = {lr:g}\n"
                     f"final accuracy {100 * run.val_accuracy[-1]:.0f}%", fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_ylim(-3, 100)
    axes[0].set_ylabel("units with z ≤ 0 on every image (%)")
    axes[0].legend(fontsize=8, frameon=False)
    return fig


# ------------------------------------------------------------------ initialization

@functools.lru_cache(maxsize=None)
@single_threaded
def init_statistics(activation: str, depth: int = DEPTH, width: int = WIDTH,
                    seed: int = 0) -> dict[str, init.LayerStats]:
    r"""One forward and backward pass of a ``depth``-layer MLP on the digits for each of :data:`INIT_SCHEMES`.

    The network is :class:`dlnotes.initialization.DeepMLP` with ``depth`` hidden layers of
    ``width`` units and the given activation (float32), on the first :data:`N_IMAGES`
    standardised training images; returns scheme name ->
    :class:`dlnotes.initialization.LayerStats`.
    """
    data = digits()
    out = {}
    for label, scheme in INIT_SCHEMES.items():
        model = init.DeepMLP(64, [width] * depth, 10, activation=activation, init=scheme, seed=seed,
                             dtype=np.float32)
        out[label] = init.layer_statistics(model, data.X_train[:N_IMAGES], data.y_train[:N_IMAGES])
    return out


def _per_layer_figure(key: str, ylabel: str, title: str) -> Figure:
    fig = new_figure(9.5, 3.4)
    axes = fig.subplots(1, 2, sharey=True)
    layers = np.arange(1, DEPTH + 1)
    for ax, name in zip(axes, ("tanh", "relu")):
        for label, st in init_statistics(name).items():
            ax.semilogy(layers, getattr(st, key), "o-", ms=3.5, lw=2, color=INIT_COLORS[label],
                        label=label)
        ax.set_xlabel("hidden layer $l$")
        ax.set_xticks(layers)
        ax.set_title(f"{DEPTH} {ACT_LABELS[name]} layers of {WIDTH} units: {title}", fontsize=9.5)
    axes[0].set_ylabel(ylabel)
    axes[1].legend(fontsize=8, frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return fig


def activation_std_figure() -> Figure:
    r"""Standard deviation of the activations :math:`a^{(l)}` per layer, tanh (left) and ReLU (right), four initializations."""
    return _per_layer_figure("act_std", r"std of the activations $a^{(l)}$ (log scale)",
                             "activations")


def gradient_norm_figure() -> Figure:
    r"""Norm of the weight gradient :math:`\partial L/\partial W^{(l)}` per layer, tanh (left) and ReLU (right)."""
    return _per_layer_figure("grad_norm", r"$\|\partial L/\partial W^{(l)}\|$ (log scale)",
                             "weight gradients")


#: Every histogram of the chapter counts the activations on these bins, from -1.5 to 3
#: (tanh's range and the bulk of a well-scaled ReLU's); values outside go to the edge bins.
_HIST_LO, _HIST_HI = -1.5, 3.0
_HIST_BINS = np.linspace(_HIST_LO, _HIST_HI, 91)


def _ridge(activations: list[np.ndarray], drop_zeros: bool) -> list[np.ndarray]:
    """Histogram of each layer on the fixed bins, scaled to a peak of 0.85.

    ``drop_zeros`` leaves out the exact zeros (half of a ReLU layer's outputs), which would
    otherwise be a spike hiding the shape of the rest.
    """
    out = []
    for a in activations:
        v = a.ravel()
        if drop_zeros:
            v = v[v != 0]
        counts, _ = np.histogram(np.clip(v, _HIST_LO + 1e-9, _HIST_HI - 1e-9), _HIST_BINS)
        out.append(0.85 * counts / max(counts.max(), 1))
    return out


def histogram_figure() -> Figure:
    r"""Histograms of the activations of every hidden layer (stacked, layer 1 at the bottom), for each activation and initialization.

    One panel per activation; in each, the four initializations side by side, every
    histogram on the range [-1.5, 3] (values beyond are counted in the edge bins, so a pile
    at an edge means exploding activations) and scaled to the same peak height (a spike at 0
    is a layer whose activations have all but vanished). The ReLU histograms leave out the
    exact zeros.
    """
    fig = new_figure(9.5, 5.4)
    axes = fig.subplots(2, 1)
    block = _HIST_HI - _HIST_LO + 1.0        # width of one initialization's block on the x axis
    centres = 0.5 * (_HIST_BINS[1:] + _HIST_BINS[:-1])
    for ax, name in zip(axes, ("tanh", "relu")):
        for i, (label, st) in enumerate(init_statistics(name).items()):
            x0 = i * block
            for l, h in enumerate(_ridge(st.activations, drop_zeros=name == "relu")):
                ax.plot(x0 + centres, l + 1 + h, color=INIT_COLORS[label], lw=1.1,
                        drawstyle="steps-mid")
            ax.axvline(x0, color="0.85", lw=0.6, zorder=0)
            if name == "tanh":
                ax.text(x0 + 0.5 * (_HIST_LO + _HIST_HI), DEPTH + 1.3, label, ha="center",
                        va="bottom", fontsize=8.5)
        ax.set_ylim(0.7, DEPTH + 1.2)
        ax.set_yticks([1, 5, 10])
        ax.set_ylabel(f"{ACT_LABELS[name]}: hidden layer $l$")
    marks = (-1.0, 0.0, 1.0, 2.0, 3.0)
    for ax, name in zip(axes, ("tanh", "ReLU, without its exact zeros")):
        ax.set_xticks([i * block + v for i in range(len(INIT_SCHEMES)) for v in marks],
                      [f"{v:g}" for _ in INIT_SCHEMES for v in marks], fontsize=7.5)
        ax.set_xlim(_HIST_LO - 0.2, (len(INIT_SCHEMES) - 1) * block + _HIST_HI + 0.2)
        ax.set_xlabel(f"activation $a^{{(l)}}$ of {name} (each block from -1.5 to 3)", fontsize=9)
    axes[0].set_title(" ", fontsize=8)     # room for the initializations' names
    return fig


@single_threaded
def init_training_rows(epochs: int = 3, lr: float = 0.01, seed: int = 0,
                       progress: bool | None = None) -> list[list]:
    r"""Train each (activation, initialization) of the experiment for a few epochs.

    SGD with momentum 0.9 and :math:`\alpha` = ``lr``, minibatches of 64, float32. Rows
    ``[activation, initialization, loss at the start, training loss after each epoch (text),
    final validation accuracy]``; a run whose loss becomes infinite says "diverged".
    """
    if progress is None:
        progress = explorables.mode() == "live"
    data = digits()
    rows = []
    for name in ("tanh", "relu"):
        for label, scheme in INIT_SCHEMES.items():
            model = init.DeepMLP(64, [WIDTH] * DEPTH, 10, activation=name, init=scheme, seed=seed,
                                 dtype=np.float32)
            h = training.train(model, optim.SGD(model.params, lr=lr, momentum=0.9), data,
                               epochs=epochs, seed=seed, progress=progress,
                               desc=f"{name}, {label}")
            curve = " → ".join("diverged" if not np.isfinite(v) else f"{v:.3g}" for v in h.train_loss[1:])
            acc = "—" if h.diverged else f"{100 * h.val_accuracy[-1]:.0f}%"
            rows.append([ACT_LABELS[name], label, float(h.train_loss[0]), curve, acc])
    return rows


@single_threaded
def torch_default_rows(depth: int = DEPTH, width: int = WIDTH, seed: int = 0) -> list[list]:
    r"""The ReLU network with PyTorch's default ``nn.Linear`` initialization against He's.

    ``nn.Linear`` initializes its weight with ``kaiming_uniform_(a=√5)``:
    :math:`\mathrm{gain} = \sqrt{2/(1+5)}`, so :math:`\mathcal U(\pm 1/\sqrt{n_{in}})`, standard deviation
    :math:`1/\sqrt{3 n_{in}}`, :math:`\sqrt 6` times smaller than He's. Rows
    ``[initialization, weight std of a hidden layer, std of a^(1), std of a^(D)]``.
    """
    data = digits()
    rows = []
    for label, gain in (("PyTorch's `nn.Linear` default, `kaiming_uniform_(a=√5)`",
                         init.calculate_gain("leaky_relu", math.sqrt(5))),
                        ("He, `kaiming_uniform_()` (a = 0)", math.sqrt(2.0))):
        model = init.DeepMLP(64, [width] * depth, 10, activation="relu", init="kaiming_uniform",
                             gain=gain, seed=seed)
        st = init.layer_statistics(model, data.X_train, data.y_train)
        rows.append([label, float(model.weights[1].std()), float(st.act_std[0]), float(st.act_std[-1])])
    return rows


@single_threaded
def symmetry_facts(value: float = 0.05, epochs: int = 5, seed: int = 0) -> dict[str, float]:
    r"""Train a small tanh MLP whose weights all start at the same ``value``: its hidden units never become different.

    Returns the largest difference between two columns of :math:`W^{(1)}` (two units' incoming
    weights) after training, the same for a normally initialized copy, and both accuracies.
    """
    data = digits()
    out = {}
    for key, scheme in (("constant", 0.0), ("random", "xavier_normal")):
        model = init.DeepMLP(64, [32, 32], 10, activation="tanh", init=scheme, seed=seed)
        if key == "constant":
            for w in model.weights:
                w[...] = value
        h = training.train(model, optim.SGD(model.params, lr=0.05, momentum=0.9), data,
                           epochs=epochs, seed=seed, progress=False)
        W1 = model.weights[0]
        out[f"{key}_spread"] = float(np.abs(W1 - W1[:, :1]).max())
        out[f"{key}_accuracy"] = float(h.val_accuracy[-1])
    return out


# ------------------------------------------------------------------ the explorable

@dataclasses.dataclass
class NamedControl(Control):
    """A :class:`dlnotes.explorables.Control` over 0, 1, ... whose values the page shows by name."""

    names: tuple[str, ...] = ()

    def format(self, v: float) -> str:
        i = int(round(v))
        return self.names[i] if 0 <= i < len(self.names) else super().format(v)


_EXPLORE_ACTS = ("tanh", "relu")
_EXPLORE_LOG2_GAINS = np.array([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0])
_EXPLORE_N = 300


@functools.lru_cache(maxsize=None)
@single_threaded
def _explore_stats(name: str, log2_gain: float) -> init.LayerStats:
    data = digits()
    model = init.DeepMLP(64, [WIDTH] * DEPTH, 10, activation=name, init="kaiming_normal",
                         gain=2.0 ** log2_gain, seed=0, dtype=np.float32)
    return init.layer_statistics(model, data.X_train[:_EXPLORE_N], data.y_train[:_EXPLORE_N])


def _draw_init(fig: Figure, log2_gain: float, activation: float):
    ax, ax_s = fig.subplots(1, 2, width_ratios=[1.15, 1])
    centres = 0.5 * (_HIST_BINS[1:] + _HIST_BINS[:-1])
    lines = []
    ax.axvline(0, color="0.85", lw=0.6, zorder=0)
    for l in range(DEPTH):
        ax.axhline(l + 1, color="0.85", lw=0.5, zorder=0)
        lines.append(ax.plot([], [], color="#08519c", lw=1.3, drawstyle="steps-mid")[0])
    ax.set_xlim(_HIST_LO, _HIST_HI)
    ax.set_ylim(0.6, DEPTH + 1.1)
    ax.set_yticks(range(1, DEPTH + 1))
    ax.set_xlabel("activation $a^{(l)}$ (beyond -1.5 or 3: in the edge bins)")
    ax.set_ylabel("hidden layer $l$")
    title = ax.set_title(" ", fontsize=9.5)
    layers = np.arange(1, DEPTH + 1)
    std_line = ax_s.semilogy([], [], "o-", color="#08519c", lw=2, ms=3.5, label="std of $a^{(l)}$")[0]
    grad_line = ax_s.semilogy([], [], "s--", color="#d95f02", lw=1.5, ms=3,
                              label=r"$\|\partial L/\partial W^{(l)}\|$")[0]
    ax_s.set_xlim(0.5, DEPTH + 0.5)
    ax_s.set_ylim(1e-12, 1e6)
    ax_s.set_xticks(layers)
    ax_s.set_xlabel("hidden layer $l$")
    ax_s.set_ylabel("size (log scale)")
    ax_s.set_title("Per-layer scale", fontsize=9.5)
    legend = ax_s.legend(fontsize=8, frameon=False, loc="upper left")
    note = ax_s.text(0.98, 0.03, " ", transform=ax_s.transAxes, ha="right", va="bottom", fontsize=8)

    def update(log2_gain: float, activation: float) -> list:
        name = _EXPLORE_ACTS[int(round(activation))]
        st = _explore_stats(name, float(log2_gain))
        for l, h in enumerate(_ridge(st.activations, drop_zeros=name == "relu")):
            lines[l].set_data(centres, l + 1 + h)
        gain = 2.0 ** log2_gain
        title.set_text(f"{ACT_LABELS[name]}, σ_W = {gain:.3g}/√n_in (gain {gain:.3g})")
        std_line.set_data(layers, np.maximum(st.act_std, 1e-300))
        grad_line.set_data(layers, np.maximum(st.grad_norm, 1e-300))
        note.set_text(f"initial loss {st.loss:.3g} (log 10 = {math.log(10):.3f})")
        # the curves can pass under the legend: redraw it on top of them
        return [*lines, title, std_line, grad_line, note, legend, *ax.spines.values(),
                *ax_s.spines.values()]

    update(log2_gain, activation)
    return update


def init_explorable() -> Explorable:
    r"""Explorable: the gain of :math:`\sigma_W = \mathrm{gain}/\sqrt{n_{in}}` and the activation, with the histograms of all ten layers."""
    return Explorable(
        _draw_init,
        [Control("log2_gain", "log₂ gain (weights' std σ_W = gain/√n_in)", _EXPLORE_LOG2_GAINS, value=0.0,
                 fmt="{:+.1f}"),
         NamedControl("activation", "activation", [0.0, 1.0], value=0.0, names=("tanh", "ReLU"))],
        alt=("Left: histograms of the activations of the ten hidden layers of a 10-layer network on "
             "300 digit images, stacked with layer 1 at the bottom, on a common range from -1.5 to 3 "
             "(ReLU without its exact zeros). "
             "Right: the standard deviation of each layer's activations and the norm of each layer's "
             "weight gradient, on a log scale. For tanh, a small gain makes the histograms collapse "
             "into a spike at zero layer after layer, a large one piles them up at -1 and +1, and a "
             "gain near 1 keeps a broad shape in every layer. For ReLU the standard deviation shrinks "
             "or grows geometrically with depth unless the gain is near the square root of 2."),
        caption=("A 10-layer MLP (64 units per layer) on the digits, weights drawn from "
                 "N(0, gain²/n_in), biases 0. gain = 1 is Xavier for equal widths, gain = √2 is He."),
        figsize=(8.6, 3.6), dpi=64)
