r"""Figures and tables of the chapter *Transfer learning*.

Every number is computed by :mod:`dlnotes.transfer` (on :mod:`dlnotes.cnn`'s CNN and
scikit-learn's digits) when the page is built; the pre-trained weights are the ones the
package ships (re-created by ``dlnotes pretrain``, checked bit for bit by a slow test).
Each experiment run is cached, so the two tables share the runs they have in common.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from .. import optim
from .. import transfer as tr
from ..datasets import Dataset
from ..explorables import Explorable
from . import new_figure
from .activations_initialization import NamedControl
from .._threads import single_threaded

__all__ = [
    "ALPHA_SCRATCH", "ALPHA_FINETUNE", "MOMENTUM", "STEPS", "BATCH", "SEEDS", "SIZES", "METHODS",
    "run", "method_table", "two_by_two", "pixel_baseline", "size_figure", "task_facts", "example_images",
    "feature_views", "features_explorable",
]

#: SGD with momentum for every training run of the chapter: rates (the best of a sweep in
#: the chapter *Fine-tuning*), momentum, number of steps and minibatch size.
ALPHA_SCRATCH, ALPHA_FINETUNE, MOMENTUM, STEPS, BATCH = 0.03, 0.01, 0.9, 100, 32
SEEDS = (0, 1, 2)
SIZES = (5, 20, None)          # labelled target images per class (None: all)

METHODS = {
    "scratch": "from scratch (random CNN, all layers trained)",
    "probe": "linear probe (frozen pre-trained body, new head)",
    "probe1": "linear probe on the first block's features",
    "finetune_top": "fine-tune the last block and the head (first block frozen)",
    "finetune": "fine-tune everything (new head)",
}


@functools.lru_cache(maxsize=1)
def _pretrained() -> dict[str, np.ndarray]:
    return tr.load_pretrained()


@functools.lru_cache(maxsize=2)
def _target(domain: str):
    _, target = tr.tasks()
    if domain == "similar":
        return target
    if domain == "different":
        return tr.rotate(target)
    raise ValueError(f"domain must be 'similar' or 'different', got {domain!r}")


@functools.lru_cache(maxsize=None)
@single_threaded
def run(method: str, domain: str, per_class: int | None, seed: int) -> float:
    r"""Validation accuracy on the target task of one method, domain, amount of data and seed.

    ``per_class`` labelled target images per class are drawn with ``seed``
    (:func:`dlnotes.transfer.few_shot`); the same seed orders the minibatches and draws the
    fresh head or the random CNN. Training runs are :data:`STEPS` steps of SGD with momentum
    :data:`MOMENTUM` on minibatches of :data:`BATCH`, at :data:`ALPHA_SCRATCH` from scratch and
    :data:`ALPHA_FINETUNE` when fine-tuning; probes are :func:`dlnotes.transfer.linear_probe`.
    ``domain`` is ``'similar'`` (the digits 5-9) or ``'different'`` (the same, rotated by 90
    degrees). Results are cached.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {tuple(METHODS)}, got {method!r}")
    data = tr.few_shot(_target(domain), per_class, seed)
    X, y, Xv, yv = data.X_train, data.y_train, data.X_val, data.y_val
    pre = _pretrained()
    if method in ("probe", "probe1"):
        model = tr.new_model(pre, seed=seed)
        stage = 1 if method == "probe1" else 2
        return tr.probe_accuracy(tr.stage_features(model, X, stage), y,
                                 tr.stage_features(model, Xv, stage), yv)
    if method == "scratch":
        model = tr.new_model(None, seed=100 + seed)
        opt = optim.SGD(model.params, lr=ALPHA_SCRATCH, momentum=MOMENTUM)
    else:
        model = tr.new_model(pre, seed=seed)
        if method == "finetune":
            opt = optim.SGD(model.params, lr=ALPHA_FINETUNE, momentum=MOMENTUM)
        else:
            opt = tr.grouped_sgd(model, ALPHA_FINETUNE, ALPHA_FINETUNE, MOMENTUM, train_blocks=1)
    tr.fit(model, opt, X, y, STEPS, batch_size=BATCH, seed=seed)
    return model.accuracy(Xv, yv)


def _stats(method: str, domain: str, per_class: int | None, seeds=SEEDS) -> np.ndarray:
    return np.array([run(method, domain, per_class, s) for s in seeds])


def _cell(acc: np.ndarray) -> str:
    return f"{100 * acc.mean():.1f} ± {100 * acc.std():.1f}"


def method_table(sizes=SIZES, seeds=SEEDS) -> tuple[list[list], dict]:
    r"""From scratch, linear probe and fine-tuning on the digits 5-9, for each amount of labelled data.

    Returns ``(rows, accuracies)``: rows ``[method, "mean ± std" per size]`` (accuracy in %,
    spread over ``seeds``), and ``accuracies[(method, per_class)]`` the arrays over seeds.
    """
    acc = {(m, n): _stats(m, "similar", n, seeds) for m in ("scratch", "probe", "finetune") for n in sizes}
    rows = [[METHODS[m], *[_cell(acc[(m, n)]) for n in sizes]] for m in ("scratch", "probe", "finetune")]
    return rows, acc


def two_by_two(little: int = 5, seeds=(0, 1)) -> tuple[list[list], dict]:
    r"""The 2x2 table, measured: little or much data (``little`` per class, or all) x similar or different (rotated) digits.

    Returns ``(rows, accuracies)``: one row per method, one column per cell ("mean ± std" in
    %, over ``seeds``), and ``accuracies[(method, domain, per_class)]``.
    """
    cells = [(d, n) for n in (little, None) for d in ("similar", "different")]
    methods = ("probe", "probe1", "finetune_top", "finetune", "scratch")
    acc = {(m, d, n): _stats(m, d, n, seeds) for m in methods for d, n in cells}
    rows = [[METHODS[m], *[_cell(acc[(m, d, n)]) for d, n in cells]] for m in methods]
    return rows, acc


@single_threaded
def pixel_baseline(sizes=SIZES, seeds=SEEDS) -> dict:
    r"""A linear classifier on the raw (standardised) pixels, :func:`dlnotes.transfer.linear_probe` with no network at all.

    Returns ``{per_class: accuracies over seeds}`` on the digits 5-9: the honest baseline
    that tells how much of an 8x8 digit's class a linear model reads off the pixels.
    """
    _, target = tr.tasks()
    out = {}
    for n in sizes:
        accs = []
        for s in seeds:
            d = tr.few_shot(target, n, s)
            accs.append(tr.probe_accuracy(d.X_train, d.y_train, d.X_val, d.y_val))
        out[n] = np.array(accs)
    return out


def size_figure(acc: dict, sizes=SIZES) -> Figure:
    """Validation accuracy against the number of labelled images per class, for the three methods of :func:`method_table`."""
    _, target = tr.tasks()
    full = int(np.bincount(target.y_train).min())
    xs = [n if n is not None else full for n in sizes]
    fig = new_figure(6.0, 3.4)
    ax = fig.add_subplot()
    styles = {"scratch": ("#555555", "s--"), "probe": ("#1b9e77", "o-"), "finetune": ("#d95f02", "^-")}
    for m, (color, fmt) in styles.items():
        a = np.array([acc[(m, n)] for n in sizes]) * 100
        ax.errorbar(xs, a.mean(axis=1), yerr=a.std(axis=1), fmt=fmt, color=color, capsize=3, lw=1.8,
                    ms=5, label=METHODS[m])
    ax.set_xscale("log")
    ax.set_xticks(xs, [str(n) if n is not None else f"all (≥{full})" for n in sizes])
    ax.set_xlabel("labelled training images per class (log scale)")
    ax.set_ylabel("validation accuracy on digits 5-9 (%)")
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    return fig


@single_threaded
def task_facts() -> dict[str, float]:
    """Sizes of the two tasks and the pre-trained CNN's accuracy on the source task."""
    source, target = tr.tasks()
    model = tr.pretrained_cnn()
    return {"n_source": len(source.y_train), "n_source_val": len(source.y_val),
            "n_target": len(target.y_train), "n_target_val": len(target.y_val),
            "min_per_class": int(np.bincount(target.y_train).min()),
            "source_accuracy": model.accuracy(source.X_val, source.y_val),
            "n_params": model.n_params, "n_features": model.n_body_features}


def example_images() -> Figure:
    """One raw image of each source digit (0-4), of each target digit (5-9), and the target digits rotated by 90 degrees.

    Drawn from scikit-learn's raw 8x8 images (pixel values 0-16, dark = ink); the networks see
    them standardised pixel by pixel.
    """
    from sklearn.datasets import load_digits

    raw = load_digits()
    first = {c: raw.images[int(np.flatnonzero(raw.target == c)[0])] for c in range(10)}
    rows = [("source: digits 0-4", [first[c] for c in range(5)], [f"digit {c}" for c in range(5)]),
            ("target: digits 5-9", [first[c] for c in range(5, 10)],
             [f"digit {c} (label {c - 5})" for c in range(5, 10)]),
            ("different target:\nrotated by 90°", [np.rot90(first[c]) for c in range(5, 10)],
             [f"label {c - 5}" for c in range(5, 10)])]
    fig = new_figure(6.2, 4.0)
    axes = fig.subplots(3, 5)
    for r, (title, images, labels) in enumerate(rows):
        for c, (img, lab) in enumerate(zip(images, labels)):
            ax = axes[r, c]
            ax.imshow(img, cmap="gray_r", vmin=0, vmax=16)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlabel(lab, fontsize=7)
        axes[r, 0].set_ylabel(title, fontsize=8, rotation=0, ha="right", va="center")
    return fig


# ------------------------------------------------------------------ explorable: what the body computes

_EXPLORE_DIGITS = (5, 6, 7, 8, 9)
_EXPLORE_DOMAINS = ("upright (similar)", "rotated by 90° (different)")


@functools.lru_cache(maxsize=None)
@single_threaded
def upright_probe() -> dict[str, Any]:
    """A linear probe on the pre-trained body's features, fitted on the upright target training images.

    Returns its weights ``W`` (64, 5) and ``b`` (5,) and its validation accuracy on the upright
    and on the rotated target images (``acc_upright``, ``acc_rotated``).
    """
    _, target = tr.tasks()
    model = tr.pretrained_cnn()
    W, b = tr.linear_probe(model.features(target.X_train), target.y_train, n_classes=5)
    acc = {}
    for name, data in (("upright", target), ("rotated", tr.rotate(target))):
        acc[name] = float(np.mean(np.argmax(model.features(data.X_val) @ W + b, axis=1) == data.y_val))
    return {"W": W, "b": b, "acc_upright": acc["upright"], "acc_rotated": acc["rotated"]}


@functools.lru_cache(maxsize=None)
def feature_views(digit: int) -> dict[str, Any]:
    """The first validation image of a target ``digit`` (5-9), upright and rotated, through the pre-trained body.

    For each of the two: the image (8x8, standardised), the first block's feature maps (8
    channels of 4x4), the 64 body features, and the digit that :func:`upright_probe` predicts;
    also the cosine similarity of the rotated image's body features to the upright one's. Used
    by :func:`features_explorable`.
    """
    if digit not in _EXPLORE_DIGITS:
        raise ValueError(f"digit must be one of {_EXPLORE_DIGITS}, got {digit!r}")
    _, target = tr.tasks()
    i = int(np.flatnonzero(target.y_val == digit - 5)[0])
    one = slice(i, i + 1)
    upright = target.X_val[one]
    rotated = tr.rotate(Dataset(upright, target.y_val[one], upright, target.y_val[one],
                                target.feature_names, "one image")).X_val
    model = tr.pretrained_cnn()
    probe = upright_probe()
    views: dict[str, Any] = {}
    for name, X in (("upright", upright), ("rotated", rotated)):
        f = model.features(X)[0]
        views[name] = {"image": X.reshape(8, 8),
                       "maps": tr.stage_features(model, X, 1).reshape(8, 4, 4),
                       "features": f,
                       "predicted": 5 + int(np.argmax(f @ probe["W"] + probe["b"]))}
    a, b = views["upright"]["features"], views["rotated"]["features"]
    views["cosine"] = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    return views


def _draw_features(fig: Figure, digit: float, domain: float):
    every = [feature_views(d) for d in _EXPLORE_DIGITS]
    kinds = ("upright", "rotated")
    # one colour scale and one y range for every state, so that frames compare
    img_lo = min(float(v[k]["image"].min()) for v in every for k in kinds)
    img_hi = max(float(v[k]["image"].max()) for v in every for k in kinds)
    map_hi = max(float(v[k]["maps"].max()) for v in every for k in kinds)
    bar_hi = max(float(v[k]["features"].max()) for v in every for k in kinds)
    probe = upright_probe()
    grid = fig.add_gridspec(2, 7, width_ratios=[2.2, 1, 1, 1, 1, 0.2, 4.6])
    ax = fig.add_subplot(grid[:, 0])
    img = ax.imshow(np.zeros((8, 8)), cmap="gray_r", vmin=img_lo, vmax=img_hi)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("input image (standardised)", fontsize=8)
    img_title = ax.set_title(" ", fontsize=9)
    verdict = ax.text(0.5, -0.2, " ", transform=ax.transAxes, ha="center", va="top", fontsize=9)
    maps = []
    for c in range(8):
        a = fig.add_subplot(grid[c // 4, 1 + c % 4])
        maps.append(a.imshow(np.zeros((4, 4)), cmap="magma", vmin=0, vmax=map_hi))
        a.set_xticks([])
        a.set_yticks([])
        a.set_xlabel(f"channel {c + 1}", fontsize=6.5, labelpad=1)
    fig.text(0.41, 0.99, "first conv block: 8 feature maps, 4 × 4", fontsize=8.5, ha="center", va="top")
    axb = fig.add_subplot(grid[:, 6])
    n = every[0]["upright"]["features"].size
    outline = axb.bar(np.arange(n), np.zeros(n), width=1.0, color="none", edgecolor="0.55", lw=0.6,
                      label="upright image")
    bars = axb.bar(np.arange(n), np.zeros(n), width=0.7, color="#1b9e77", label="this image")
    axb.set_xlim(-1, n)
    axb.set_ylim(0, 1.25 * bar_hi)
    axb.set_xlabel("body feature (16 channels × 2 × 2)")
    axb.set_ylabel("activation")
    bar_title = axb.set_title(" ", fontsize=8)
    legend = axb.legend(fontsize=7, frameon=False, loc="upper right", ncols=2)

    def update(digit: float, domain: float) -> list:
        d = _EXPLORE_DIGITS[int(round(digit))]
        which = kinds[int(round(domain))]
        views = feature_views(d)
        v = views[which]
        img.set_data(v["image"])
        img_title.set_text(f"input: a {d}, {which}")
        verdict.set_text(f"the probe says: {v['predicted']}")
        verdict.set_color("#1b7837" if v["predicted"] == d else "#b2182b")
        for im, m in zip(maps, v["maps"]):
            im.set_data(m)
        for r, h in zip(outline, views["upright"]["features"]):
            r.set_height(h)
        for r, h in zip(bars, v["features"]):
            r.set_height(h)
        cos = views["cosine"] if which == "rotated" else 1.0
        bar_title.set_text(f"the {n} features the probe sees (cosine to upright: {cos:.2f})\n"
                           f"probe fitted on upright 5-9: {100 * probe['acc_upright']:.0f}% on upright, "
                           f"{100 * probe['acc_rotated']:.0f}% on rotated")
        return [img, img_title, verdict, *maps, *outline, *bars, bar_title, legend,
                *axb.spines.values(), *ax.spines.values(),
                *(sp for im in maps for sp in im.axes.spines.values())]

    update(digit, domain)
    return update


def features_explorable() -> Explorable:
    """Explorable: a target digit, upright or rotated, through the pre-trained body, and what a probe fitted on upright digits makes of it."""
    return Explorable(
        _draw_features,
        [NamedControl("digit", "target digit", np.arange(len(_EXPLORE_DIGITS), dtype=float), value=0,
                      names=tuple(str(d) for d in _EXPLORE_DIGITS)),
         NamedControl("domain", "domain", np.arange(2, dtype=float), value=0, names=_EXPLORE_DOMAINS)],
        alt=("Left, one validation image of a digit from 5 to 9, upright or rotated by 90 degrees, and "
             "the digit that a linear probe fitted on the upright target images predicts for it. "
             "Middle, the 8 feature maps of the pre-trained network's first conv block for that "
             "image, 4 by 4 pixels each, on one colour scale. Right, the 64 body features as bars, "
             "with the upright image's features as outlined bars behind them; the title gives the "
             "cosine similarity of the rotated image's features to the upright image's and the "
             "probe's accuracy on upright and on rotated validation images."),
        caption=("What a frozen pre-trained body hands to a linear probe. Rotating the image does not "
                 "rotate the features: the rotated image gives another pattern, and the probe fitted "
                 "on upright digits gets most rotated ones wrong."),
        figsize=(9.6, 3.1), dpi=80)
