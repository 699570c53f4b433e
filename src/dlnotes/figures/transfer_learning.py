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
from . import new_figure
from .._threads import single_threaded

__all__ = [
    "ALPHA_SCRATCH", "ALPHA_FINETUNE", "MOMENTUM", "STEPS", "BATCH", "SEEDS", "SIZES", "METHODS",
    "run", "method_table", "two_by_two", "pixel_baseline", "size_figure", "task_facts", "example_images",
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
