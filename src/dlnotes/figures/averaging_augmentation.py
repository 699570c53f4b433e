"""Figures, explorables and experiments of the chapter *Averaging and augmentation*."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from .. import augmentation as G
from .. import averaging, dropout, early_stopping, optim, training
from .._threads import single_threaded
from ..datasets import Dataset, digits
from ..explorables import Control, Explorable
from . import new_figure

__all__ = ["photos", "augmentation_gallery", "mixup_explorable", "small_digits", "comparison",
           "early_stopping_study", "early_stopping_figure", "snapshot_study", "snapshot_figure"]


def photos(step: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's two sample photographs, every ``step``-th pixel: ``(china, flower)``, each (H, W, 3) in [0, 1]."""
    return G.sample_photo("china.jpg", step), G.sample_photo("flower.jpg", step)


def _show(ax, img, label):
    ax.imshow(np.clip(img, 0, 1), interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel(label, fontsize=8)


def augmentation_gallery(seed: int = 0) -> tuple[dict, Figure]:
    """The original photograph and six augmentations of it; returns (what was drawn, figure)."""
    china, flower = photos()
    rng = np.random.default_rng(seed)
    jit, factors = G.color_jitter(china, 0.4, 0.4, 0.4, rng=rng)
    pca, shift = G.pca_color_noise(china, 0.5, rng=rng, scale="sqrt")
    cut, centre = G.cutout(china, 24, rng=rng)
    mix, label, lam = G.mixup(china, 0, flower, 1, 2, lam=0.7)
    crop = G.random_resized_crop(china, scale=(0.2, 0.5), rng=rng)
    panels = [(china, "original"), (G.hflip(china), "horizontal flip"), (crop, "random crop and scale"),
              (jit, "colour jitter (b, c, s = " + ", ".join(f"{f:.2f}" for f in factors) + ")"),
              (pca, "PCA colour noise (√λ, std 0.5)"), (cut, "cutout (24 × 24)"),
              (mix, f"mixup λ_mix = {lam:g}: label ({label[0]:g}, {label[1]:g})"), (flower, "the other image")]
    fig = new_figure(10.0, 4.0)
    for ax, (img, lab) in zip(fig.subplots(2, 4).ravel(), panels):
        _show(ax, img, lab)
    return {"factors": factors, "shift": shift, "centre": centre, "label": label, "shape": china.shape}, fig


UPSILONS = (0.1, 0.2, 0.4, 1.0, 2.0, 5.0)
QUANTILES = (0.1, 0.35, 0.65, 0.9)


def _draw_mixup(fig: Figure, upsilon: float):
    from scipy import stats

    china, flower = photos()
    gs = fig.add_gridspec(1, 5)
    ax = fig.add_subplot(gs[0, :2])
    lams = np.linspace(0.001, 0.999, 400)
    (curve,) = ax.plot(lams, np.zeros_like(lams), color="#7570b3", lw=2)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 4)
    ax.set_xlabel("mixing weight λ_mix")
    ax.set_ylabel("density of Beta(υ, υ) (clipped at 4)")
    title = ax.set_title(" ", fontsize=9)
    marks = [ax.axvline(0.5, color="0.4", lw=1, ls=":") for _ in QUANTILES]
    img_axes = []
    gs2 = gs[0, 2:].subgridspec(2, 2)
    ims = []
    for k in range(4):
        a = fig.add_subplot(gs2[k // 2, k % 2])
        ims.append(a.imshow(china, interpolation="nearest"))
        a.set_xticks([])
        a.set_yticks([])
        a.set_xlabel("blend", fontsize=7)
        img_axes.append(a.set_title(" ", fontsize=7))

    def update(upsilon: float) -> list:
        dist = stats.beta(upsilon, upsilon)
        curve.set_ydata(np.minimum(dist.pdf(lams), 4.0))
        title.set_text(f"υ = {upsilon:g} (papers: α)")
        changed = [curve, title]
        for q, mark, im, t in zip(QUANTILES, marks, ims, img_axes):
            lam = float(dist.ppf(q))
            x, label, _ = G.mixup(china, 0, flower, 1, 2, lam=lam)
            im.set_data(np.clip(x, 0, 1))
            mark.set_xdata([lam, lam])
            t.set_text(f"λ_mix = {lam:.2f}: label ({label[0]:.2f}, {label[1]:.2f})")
            changed += [mark, im, t, *im.axes.spines.values()]
        return changed + list(ax.spines.values())

    update(upsilon)
    return update


def mixup_explorable() -> Explorable:
    """Explorable: mixup's Beta parameter υ; its density and four blends of two photographs at its quantiles."""
    return Explorable(
        _draw_mixup, [Control("upsilon", "Beta parameter υ (papers: α)", UPSILONS, value=0.4)],
        alt=("Left: the density of the Beta distribution of mixup's weight for the chosen parameter, with dotted "
             "lines at its 10, 35, 65 and 90 percent quantiles. Right: the blends of a photograph of a temple "
             "and one of a flower at those four weights, each labelled with its soft label. For small "
             "parameters the weights sit near 0 and 1 and most blends look like one of the two photographs; "
             "for large parameters they cluster around one half and every blend is a double exposure."),
        caption="Small υ: most mixed samples are nearly one image with a nearly hard label; large υ: "
                "half-and-half images with labels near (0.5, 0.5).",
        figsize=(9.0, 3.4), dpi=80)


def small_digits(n_train: int = 300, n_val: int = 300, seed: int = 0) -> tuple[Dataset, Dataset]:
    """A small training set from the digits (so that a network overfits), a validation set, and the digits' own validation part as the test set.

    Returns ``(inner, outer)``: ``inner`` = (train, validation) for early stopping, ``outer`` =
    (the same train, the test set).
    """
    full = digits()
    idx = np.random.default_rng(seed).permutation(len(full.y_train))
    tr, va = idx[:n_train], idx[n_train:n_train + n_val]
    mk = lambda Xv, yv, d: Dataset(full.X_train[tr], full.y_train[tr], Xv, yv, full.feature_names, d,
                                   full.feature_mean, full.feature_std)
    return (mk(full.X_train[va], full.y_train[va], "digits: small training set, validation set"),
            mk(full.X_val, full.y_val, "digits: small training set, test set"))


HIDDEN, EPOCHS, LR, BATCH = 128, 20, 0.05, 32


def _sgd(params, weight_decay=0.0):
    return optim.SGD(params, lr=LR, momentum=0.9, weight_decay=weight_decay)


@single_threaded
def comparison(seeds=(0, 1, 2), weight_decay: float = 5e-3, keep: float = 0.5, patience: int = 5) -> dict:
    """Train/test accuracy of each regularizer on the small digits set, one entry per seed.

    Returns ``{method: array of shape (len(seeds), 2)}`` (train accuracy, test accuracy), plus
    ``'early stopping epochs'``.
    """
    inner, outer = small_digits()
    aug = lambda X, r: G.shift_digits(X, outer.feature_mean, outer.feature_std, 1, r)
    res: dict[str, list] = {}

    def run(name, model, opt):
        training.train(model, opt, outer, epochs=EPOCHS, batch_size=BATCH, seed=seed, progress=False)
        model.training = False
        res.setdefault(name, []).append((model.accuracy(outer.X_train, outer.y_train),
                                         model.accuracy(outer.X_val, outer.y_val)))

    for seed in seeds:
        plain = training.MLP(64, HIDDEN, 10, seed=seed)
        run("no regularization", plain, _sgd(plain.params))
        m = training.MLP(64, HIDDEN, 10, seed=seed)
        run(f"weight decay λ = {weight_decay:g}", m, _sgd(m.params, weight_decay))
        m = dropout.DropoutMLP(64, HIDDEN, 10, keep, seed=seed, mask_seed=seed)
        run(f"dropout p = {keep:g}", m, _sgd(m.params))
        m = G.AugmentedClassifier(training.MLP(64, HIDDEN, 10, seed=seed), aug, seed=seed)
        run("augmentation (shifts of 1 pixel)", m, _sgd(m.params))
        m = training.MLP(64, HIDDEN, 10, seed=seed)
        es = early_stopping.train_early_stopping(m, _sgd(m.params), inner, max_epochs=EPOCHS, patience=patience,
                                                 batch_size=BATCH, seed=seed)
        res.setdefault("early stopping", []).append((m.accuracy(outer.X_train, outer.y_train),
                                                     m.accuracy(outer.X_val, outer.y_val)))
        res.setdefault("early stopping epochs", []).append((es.best_epoch, es.stopped_epoch))
        ms = [plain] + [training.MLP(64, HIDDEN, 10, seed=100 * (seed + 1) + k) for k in range(2)]
        for k, mm in enumerate(ms[1:]):
            training.train(mm, _sgd(mm.params), outer, epochs=EPOCHS, batch_size=BATCH, seed=100 * (seed + 1) + k,
                           progress=False)
        res.setdefault("ensemble of 3 (the unregularized net and two more)", []).append(
            (averaging.ensemble_accuracy(ms, outer.X_train, outer.y_train),
             averaging.ensemble_accuracy(ms, outer.X_val, outer.y_val)))
    return {k: np.array(v, dtype=float) for k, v in res.items()}


@single_threaded
def early_stopping_study(seed: int = 0, patience: int = 5, lr: float = 0.1) -> dict:
    """Early stopping on the small digits set and both retraining strategies."""
    inner, outer = small_digits()
    make = lambda: training.MLP(64, HIDDEN, 10, seed=seed)
    opt = lambda p: optim.SGD(p, lr=lr, momentum=0.9)
    model = make()
    run = early_stopping.train_early_stopping(model, opt(model.params), inner, max_epochs=150,
                                              patience=patience, batch_size=BATCH, seed=seed)
    stopped_test = model.accuracy(outer.X_val, outer.y_val)
    all_data = early_stopping.merge_validation(inner, outer)
    m1, h1 = early_stopping.retrain_same_steps(make, opt, all_data, run, seed=seed)
    target = float(run.train_loss[run.best_epoch])
    extra, losses = early_stopping.continue_until(model, opt(model.params), all_data, inner, target,
                                                  max_epochs=100, batch_size=BATCH, seed=seed)
    return {"run": run, "stopped_test": stopped_test, "retrain_test": m1.accuracy(outer.X_val, outer.y_val),
            "retrain_history": h1, "continue_test": model.accuracy(outer.X_val, outer.y_val),
            "continue_epochs": extra, "continue_losses": losses, "target": target}


def early_stopping_figure(study: dict) -> Figure:
    """Training and validation loss of the early-stopped run, the best and the stopping epoch, strategy 1's fresh run and strategy 2's continuation."""
    run = study["run"]
    fig = new_figure(8.0, 3.2)
    ax = fig.subplots()
    e = np.arange(len(run.train_loss))
    ax.plot(e, run.train_loss, color="#1f78b4", lw=2, label="training loss")
    ax.plot(e, run.val_loss, color="#d95f02", lw=2, label="validation loss")
    ax.axvline(run.best_epoch, color="#33a02c", ls="--", label=f"best epoch {run.best_epoch}")
    ax.axvline(run.stopped_epoch, color="0.4", ls=":", label=f"stopped at epoch {run.stopped_epoch}")
    ce = run.stopped_epoch + np.arange(1, study["continue_epochs"] + 1)
    ax.plot(ce, study["continue_losses"], "o-", color="#e7298a", ms=4,
            label="strategy 2: old validation loss while training on all data")
    h1 = study["retrain_history"]
    ax.plot(h1.epoch, h1.train_loss, color="#7570b3", lw=1.5, ls="--",
            label="strategy 1: training loss of the fresh run on all data")
    ax.axhline(study["target"], color="#1f78b4", lw=0.8, ls="-.", label="training loss at the best epoch")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean cross-entropy (log scale)")
    ax.legend(fontsize=7, frameon=False)
    return fig


@single_threaded
def averaging_study(epochs: int = 20, lr: float = 0.5, decay: float = 0.8, seed: int = 0) -> dict:
    """Noisy SGD on softmax regression (small batches, a large rate); Polyak and EMA averages of the weights after every epoch.

    Returns the validation loss of the last iterate, of the Polyak average and of the EMA after each epoch.
    """
    _, outer = small_digits()
    model = training.SoftmaxRegression(64, 10, seed=seed)
    opt = optim.SGD(model.params, lr=lr)
    pol, ema = averaging.PolyakAverage(), averaging.EMA(decay)
    probe = training.SoftmaxRegression(64, 10, seed=seed)
    rows = []
    for e in range(1, epochs + 1):
        training.train(model, opt, outer, epochs=1, batch_size=8, seed=seed + e, progress=False)
        pol.update(model.params)
        ema.update(model.params)
        losses = [model.loss(outer.X_val, outer.y_val)]
        for avg in (pol, ema):
            for p, a in zip(probe.params, avg.average):
                p[...] = a
            losses.append(probe.loss(outer.X_val, outer.y_val))
        rows.append(losses)
    return {"epoch": np.arange(1, epochs + 1), "losses": np.array(rows), "decay": decay}


@single_threaded
def snapshot_study(cycles: int = 4, epochs_per_cycle: int = 10, lr: float = 0.1, seed: int = 0) -> dict:
    """A snapshot ensemble on the small digits set: the schedule, each snapshot's and the ensembles' test accuracy."""
    _, outer = small_digits()
    snaps, hist = averaging.snapshot_ensemble(lambda: training.MLP(64, HIDDEN, 10, seed=seed),
                                              lambda p: optim.SGD(p, lr=lr, momentum=0.9), outer, lr=lr,
                                              cycles=cycles, epochs_per_cycle=epochs_per_cycle,
                                              batch_size=BATCH, seed=seed)
    single = [s.accuracy(outer.X_val, outer.y_val) for s in snaps]
    ens = [averaging.ensemble_accuracy(snaps[:k], outer.X_val, outer.y_val) for k in range(1, cycles + 1)]
    return {"history": hist, "single": np.array(single), "ensemble": np.array(ens)}


def snapshot_figure(study: dict) -> Figure:
    """The learning rate of the run (left) and the test accuracy of each snapshot and of the ensemble of the first k (right)."""
    h = study["history"]
    fig = new_figure(9.0, 3.0)
    ax, ax2 = fig.subplots(1, 2)
    ax.plot(np.arange(len(h.lr)) / h.steps_per_epoch, h.lr, color="#7570b3", lw=1.5)
    ax.set_xlabel("epoch")
    ax.set_ylabel("learning rate α_t")
    ax.set_title("cosine with warm restarts", fontsize=9)
    k = np.arange(1, len(study["single"]) + 1)
    ax2.plot(k, study["single"], "o-", color="#666666", label="snapshot k alone")
    ax2.plot(k, study["ensemble"], "s-", color="#1f78b4", label="ensemble of snapshots 1..k")
    ax2.set_xticks(k)
    ax2.set_xlabel("snapshot k (end of cycle k)")
    ax2.set_ylabel("test accuracy")
    ax2.legend(fontsize=7, frameon=False)
    return fig
