"""Figures, explorables and experiments of the chapter *Gradient descent and its problems*.

Every experiment here is a small function that returns numbers (so the chapter can put
them in tables and the tests can check them against independent references), next to
the figure function that draws them.
"""

from __future__ import annotations

import functools
import math
import time
from typing import Any, Callable, Sequence

import numpy as np
from matplotlib.figure import Figure

from .. import gradcheck, landscapes, losses, optim, schedules, training
from ..datasets import Dataset, digits
from ..explorables import Control, Explorable
from . import new_figure

__all__ = [
    "PALETTE",
    # GD vs SGD vs minibatch SGD
    "per_sample_gradients", "minibatch_noise", "minibatch_noise_figure",
    "least_squares_problem", "minibatch_sgd", "sgd_vs_gd", "sgd_vs_gd_figure",
    "batch_size_runs", "binned_step_loss", "batch_size_step_bins", "batch_size_figure",
    # numerical vs analytic gradients
    "network_loss_problem", "finite_difference_figure", "gradient_cost",
    # ill-conditioning
    "regimes_figure", "stability_demo", "stability_figure", "steps_to_converge",
    "quadratic_explorable",
    # saddle points
    "saddle_run", "escape_step", "saddle_explorable", "critical_point_census",
]

#: Colours of this chapter's curves (the losses keep the colours of ``COLORS``).
PALETTE = {
    "gd": "#333333",          # full-batch gradient descent
    "sgd": "#e7298a",         # one sample per step
    "minibatch": "#7570b3",   # a minibatch per step
    "decay": "#1b9e77",       # SGD with a decaying rate
    "large": "#d95f02",       # a large batch
    "forward": "#d95f02",     # forward (one-sided) difference
    "central": "#1f78b4",     # centred difference
    "reference": "#999999",   # reference slopes and levels
    "below": "#1b9e77",       # a rate just below the stability bound
    "above": "#e31a1c",       # a rate just above it
    "path": "#e31a1c",        # an optimizer's path in the explorables
}


def _batch_color(b: int, n: int) -> str:
    if b >= n:
        return PALETTE["gd"]
    if b == 1:
        return PALETTE["sgd"]
    return PALETTE["minibatch"] if b <= 32 else PALETTE["large"]


def _batch_label(b: int, n: int) -> str:
    return f"full batch (GD, $B = {n}$)" if b >= n else f"$B = {b}$"


# ======================================================= GD vs SGD vs minibatch SGD

def per_sample_gradients(model: training.Classifier, X: Any, y: Any) -> np.ndarray:
    r"""The gradient of every sample's loss, :math:`g^{(i)} = \nabla_\theta L_i`, one row per sample.

    Calls ``model.loss_and_grads`` (backpropagation) on each sample alone and flattens the
    parameter gradients in the order of ``model.params``. Their mean over the rows is
    the gradient of the mean loss.

    Parameters
    ----------
    model : dlnotes.training.Classifier
    X : array of shape (N, number of features)
    y : int array of shape (N,)

    Returns
    -------
    array of shape (N, n), n = ``model.n_params`` parameters.
    """
    X = np.asarray(X)
    y = np.asarray(y)
    rows = np.empty((X.shape[0], model.n_params))
    for i in range(X.shape[0]):
        _, grads = model.loss_and_grads(X[i:i + 1], y[i:i + 1])
        rows[i] = np.concatenate([g.ravel() for g in grads])
    return rows


def minibatch_noise(G: Any, batch_sizes: Sequence[int], draws: int = 300,
                    seed: int = 0) -> dict[str, np.ndarray]:
    r"""Mean squared error of minibatch gradients: the formula and a Monte Carlo measurement.

    For each batch size :math:`B`, the formula is
    :func:`dlnotes.optim.minibatch_gradient_variance`; the measurement averages
    :math:`\lVert \hat g_B - \bar g\rVert^2` over ``draws`` batches drawn without replacement
    (:math:`\bar g` is the mean of the rows of ``G``, the full gradient).

    Returns
    -------
    dict with ``batch_size``, ``formula``, ``measured`` (arrays over ``batch_sizes``),
    ``mean_gradient_norm2`` (:math:`\lVert\bar g\rVert^2`, a float) and ``sigma2``
    (:math:`\sigma^2`, the per-sample spread, a float).
    """
    G = np.asarray(G, dtype=float)
    n = G.shape[0]
    rng = np.random.default_rng(seed)
    g_bar = G.mean(axis=0)
    bs = np.array([int(b) for b in batch_sizes])
    formula = np.array([optim.minibatch_gradient_variance(G, int(b)) for b in bs])
    measured = np.empty(len(bs))
    for j, b in enumerate(bs):
        errs = [np.sum((G[rng.choice(n, size=int(b), replace=False)].mean(axis=0) - g_bar) ** 2)
                for _ in range(draws)]
        measured[j] = float(np.mean(errs))
    return {"batch_size": bs, "formula": formula, "measured": measured,
            "mean_gradient_norm2": float(g_bar @ g_bar),
            "sigma2": float(optim.minibatch_gradient_variance(G, 1))}


def minibatch_noise_figure(noise: dict, n: int) -> Figure:
    """Log-log plot of the minibatch gradient's mean squared error against the batch size."""
    fig = new_figure(7.0, 3.3)
    ax = fig.subplots()
    b_all = np.unique(np.round(np.geomspace(1, n, 200)).astype(int))
    sigma2 = noise["sigma2"]
    curve = (n - b_all) / (n - 1) * sigma2 / b_all
    ax.loglog(b_all[:-1], curve[:-1], color=PALETTE["minibatch"], lw=2,
              label=r"formula $\frac{N-B}{N-1}\,\frac{\sigma^2}{B}$")
    ax.loglog(b_all, sigma2 / b_all, color=PALETTE["reference"], lw=1, ls="--",
              label=r"$\sigma^2 / B$ (slope $-1$)")
    keep = noise["batch_size"] < n
    ax.loglog(noise["batch_size"][keep], noise["measured"][keep], "o", color=PALETTE["sgd"],
              label="measured (random batches)")
    ax.axhline(noise["mean_gradient_norm2"], color=PALETTE["gd"], lw=1, ls=":",
               label=r"$\|\bar g\|^2$, the signal")
    ax.set_xlabel("batch size $B$ (log scale)")
    ax.set_ylabel(r"$\mathbb{E}\,\| \hat g_B - \bar g\|^2$ (log scale)")
    ax.set_title("Noise of a minibatch gradient, softmax regression on digits")
    ax.legend(fontsize=8, frameon=False, loc="lower left")
    return fig


def least_squares_problem(n: int = 400, seed: int = 0) -> dict[str, Any]:
    r"""A two-parameter least-squares problem, :math:`L(w) = \frac1N\sum_i (x^{(i)\top} w - y^{(i)})^2`.

    Correlated Gaussian inputs (so the valley is tilted) and noisy targets (so the minimum
    loss is not zero and per-sample gradients do not vanish there). Returns a dict with
    ``X`` (N, 2), ``y`` (N,), ``w_star`` (the minimiser, by least squares), ``loss_star``,
    ``w0`` (the starting point) and ``loss`` (a function of w of shape (2,) or (..., 2)).
    """
    rng = np.random.default_rng(seed)
    C = np.array([[1.0, 0.6], [0.6, 1.0]])
    X = rng.multivariate_normal(np.zeros(2), C, size=n)
    y = X @ np.array([1.5, -1.0]) + 0.5 * rng.standard_normal(n)
    w_star = np.linalg.lstsq(X, y, rcond=None)[0]

    def loss(w):
        w = np.asarray(w, dtype=float)
        if w.ndim == 1:
            return float(losses.l2(X @ w, y))
        r = w @ X.T - y                                   # (..., N)
        return np.mean(r * r, axis=-1)

    return {"X": X, "y": y, "w_star": w_star, "loss_star": loss(w_star),
            "w0": np.array([-1.5, 1.5]), "loss": loss}


def minibatch_sgd(X: Any, y: Any, w0: Any, lr: float, batch_size: int, epochs: int,
                  seed: int = 0, schedule: Callable[[int], float] | None = None) -> np.ndarray:
    r"""Minibatch SGD on the least-squares loss :math:`\frac1N\sum_i (x^{(i)\top} w - y^{(i)})^2`; every iterate.

    Each epoch visits the samples in a random order (:func:`dlnotes.training.minibatch_indices`)
    and takes one :class:`dlnotes.optim.SGD` step per batch on the batch's mean loss,
    whose gradient is :math:`X_B^\top \partial L/\partial\hat y` with
    :func:`dlnotes.losses.l2_grad`. ``batch_size >= N`` is gradient descent.

    Returns
    -------
    array of shape (steps + 1, 2): :math:`w_0, w_1, \dots`.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    w = np.array(w0, dtype=float)
    opt = optim.SGD([w], lr=lr)
    rng = np.random.default_rng(seed)
    n = X.shape[0]
    path = [w.copy()]
    t = 0
    for _ in range(epochs):
        for idx in training.minibatch_indices(n, min(batch_size, n), rng):
            if schedule is not None:
                opt.lr = schedule(t)
            Xb = X[idx]
            opt.step([Xb.T @ losses.l2_grad(Xb @ w, y[idx])])
            path.append(w.copy())
            t += 1
    return np.array(path)


#: The runs of :func:`sgd_vs_gd`: name -> (batch size or None for N, rate, time constant
#: :math:`\tau` of the 1/t decay :math:`\alpha_t = \alpha/(1 + t/\tau)` in steps, or None).
SGD_VS_GD_RUNS = {
    "GD": (None, 0.5, None),
    "SGD, $B=1$": (1, 0.05, None),
    "SGD, $B=10$": (10, 0.05, None),
    "SGD, $B=1$, $1/t$ decay": (1, 0.05, 100),
}


def sgd_vs_gd(epochs: int = 20, problem: dict | None = None, windows_per_epoch: int = 10) -> dict[str, dict]:
    r"""Gradient descent against SGD (one sample, ten samples, and one sample with a 1/t rate) on :func:`least_squares_problem`.

    Returns a dict of run name to a dict with ``path`` (the iterates), ``epochs`` (the
    epoch count at each iterate, steps × B / N), ``excess`` (the excess loss
    :math:`L(w_t) - L(w^*)` at each iterate), ``batch_size``, ``lr``, and the excess loss
    averaged over windows of :math:`1/\text{windows\_per\_epoch}` of an epoch
    (``window_epochs``, ``window_excess``; one step per window for gradient descent), which
    is what the figure plots: single SGD iterates jump around too much to read.
    """
    p = least_squares_problem() if problem is None else problem
    n = p["X"].shape[0]
    out = {}
    for name, (b, lr, tau) in SGD_VS_GD_RUNS.items():
        b = n if b is None else b
        sched = None if tau is None else schedules.inverse_time(lr, 1.0 / tau)
        path = minibatch_sgd(p["X"], p["y"], p["w0"], lr, b, epochs, seed=0, schedule=sched)
        excess = np.maximum(p["loss"](path) - p["loss_star"], 0.0)
        ep = np.arange(len(path)) * b / n
        per = max(1, round(n / (windows_per_epoch * b)))
        m = (len(path) - 1) // per
        w_ex = np.concatenate([[excess[0]], excess[1:1 + m * per].reshape(m, per).mean(axis=1)])
        w_ep = np.concatenate([[0.0], ep[per:1 + m * per:per]])
        out[name] = {"path": path, "epochs": ep, "excess": excess, "batch_size": b, "lr": lr,
                     "window_epochs": w_ep, "window_excess": w_ex}
    return out


def sgd_vs_gd_figure(runs: dict, problem: dict | None = None, path_epochs: float = 2.0) -> Figure:
    """Paths over the contours of the least-squares loss (left) and the excess loss against epochs (right)."""
    p = least_squares_problem() if problem is None else problem
    fig = new_figure(9.5, 3.8)
    ax, ax_r = fig.subplots(1, 2, width_ratios=[1, 1.25])
    g = np.linspace(-2.2, 2.8, 161)
    W1, W2 = np.meshgrid(g, g)
    Z = p["loss"](np.stack([W1, W2], axis=-1))
    ax.contour(W1, W2, Z, levels=np.geomspace(p["loss_star"] + 0.01, Z.max(), 12), colors="0.75",
               linewidths=0.7)
    colors = [PALETTE["gd"], PALETTE["sgd"], PALETTE["minibatch"], PALETTE["decay"]]
    for (name, r), c in zip(runs.items(), colors):
        big = r["batch_size"] >= 50
        if "decay" not in name:  # the left panel shows the constant rates only
            keep = r["epochs"] <= path_epochs
            ax.plot(r["path"][keep, 0], r["path"][keep, 1], color=c, lw=2 if big else 0.8,
                    marker="o" if big else None, ms=4, alpha=0.9, label=name)
        rate = (f"$\\alpha_t = {r['lr']:g}/(1 + t/{SGD_VS_GD_RUNS[name][2]:g})$" if "decay" in name
                else f"$\\alpha = {r['lr']:g}$")
        ax_r.semilogy(r["window_epochs"], np.maximum(r["window_excess"], 1e-12), color=c,
                      lw=2 if big else 1.2, marker="o" if big else None, ms=3,
                      label=f"{name.replace(', $1/t$ decay', '')}, {rate}")
    ax.plot(*p["w0"], "s", color="black", ms=6, label="start")
    ax.plot(*p["w_star"], "*", color="black", ms=12, label="minimum $w^*$")
    ax.set_aspect("equal")
    ax.set_xlabel("$w_1$")
    ax.set_ylabel("$w_2$")
    ax.set_title(f"The first {path_epochs:g} epochs")
    ax.legend(fontsize=7, frameon=False, loc="upper right")
    ax_r.set_ylim(1e-9, 20)
    ax_r.set_xlabel(r"epochs (sample gradients computed $/\,N$)")
    ax_r.set_ylabel(r"excess loss $L(w_t) - L(w^*)$ (log scale)")
    ax_r.set_title("Progress per unit of work (averaged over 0.1 epoch)")
    ax_r.legend(fontsize=7, frameon=False, loc="upper right")
    return fig


def batch_size_runs(batch_sizes: Sequence[int | None] = (1, 16, 128, None), lr: float = 0.05,
                    epochs: int = 8, data: Dataset | None = None, progress: bool = False) -> dict:
    """Softmax regression on digits trained by plain SGD at one rate with several batch sizes.

    ``None`` stands for the whole training set (gradient descent). Returns a dict of
    batch size to :class:`dlnotes.training.History`.
    """
    data = digits() if data is None else data
    n = data.X_train.shape[0]
    out = {}
    for b in batch_sizes:
        b = n if b is None else int(b)
        model = training.SoftmaxRegression(data.X_train.shape[1], 10, seed=0)
        out[b] = training.train(model, optim.SGD(model.params, lr=lr), data, epochs=epochs,
                                batch_size=b, seed=0, progress=progress, desc=f"B = {b}")
    return out


def binned_step_loss(history: training.History, edges: Any) -> np.ndarray:
    r"""The minibatch losses of a run averaged over bins of steps, :math:`[\text{edges}_j, \text{edges}_{j+1})`.

    ``history.step_loss[t]`` is the loss of the minibatch of step :math:`t` before its update,
    an unbiased estimate of the training loss at :math:`x_t`; averaging it over a bin of steps
    gives a readable curve for every batch size at every step count, without interpolating
    between epochs. Bins the run did not fill completely are NaN.
    """
    sl = np.asarray(history.step_loss, dtype=float)
    e = np.asarray(edges, dtype=int)
    out = np.full(len(e) - 1, np.nan)
    for j, (lo, hi) in enumerate(zip(e[:-1], e[1:])):
        if hi <= len(sl) and hi > lo:
            out[j] = float(np.mean(sl[lo:hi]))
    return out


def batch_size_step_bins(runs: dict, bins: int = 24) -> np.ndarray:
    """Log-spaced bin edges from step 1 to the longest run of ``runs``, for :func:`binned_step_loss`."""
    longest = max(len(h.step_loss) for h in runs.values())
    return np.unique(np.round(np.geomspace(1, longest, bins)).astype(int))


def batch_size_figure(runs: dict, n: int) -> Figure:
    """Training loss of :func:`batch_size_runs` against epochs (left) and against optimizer steps (right).

    Left: the full training loss after each epoch (dots). Right: the minibatch losses averaged
    over log-spaced bins of steps (:func:`binned_step_loss`, lines), so every run has data at
    every step count it reached, and the full training loss after each epoch (open circles).
    """
    fig = new_figure(9.0, 3.4)
    ax_e, ax_s = fig.subplots(1, 2, sharey=True)
    edges = batch_size_step_bins(runs)
    centres = np.sqrt(edges[:-1] * np.maximum(edges[1:] - 1, edges[:-1]))
    for b, h in runs.items():
        c = _batch_color(b, n)
        ax_e.plot(h.epoch, h.train_loss, "o-", color=c, ms=3, label=_batch_label(b, n))
        binned = binned_step_loss(h, edges)
        ax_s.semilogx(centres, binned, "-", color=c, lw=1.4)
        ends = h.epoch[1:] * h.steps_per_epoch
        ax_s.semilogx(ends, h.train_loss[1:], "o", color=c, ms=4, mfc="none", mew=1)
    ax_e.set_xlabel("epoch (every sample's gradient computed once)")
    ax_e.set_ylabel("training loss (cross-entropy)")
    ax_e.set_title("Per unit of work: small batches win")
    ax_e.legend(fontsize=8, frameon=False)
    ax_s.set_xlabel("optimizer step $t$ (log scale)")
    ax_s.set_title("Per step: lines, minibatch losses binned;\ncircles, training loss after each epoch",
                   fontsize=9)
    return fig


# ======================================================= numerical vs analytic gradients

def network_loss_problem(batch: int = 32, hidden: int = 4, dtype: Any = np.float64,
                         data: Dataset | None = None) -> dict[str, Any]:
    r"""The mean cross-entropy of a small tanh network on a batch of digits, as a function of one flat parameter vector.

    The network is :class:`dlnotes.training.MLP` (64 inputs, ``hidden`` tanh units, 10
    classes; tanh so that the loss is smooth and finite differences are not upset by
    kinks). Returns a dict with ``f`` (flat parameters of shape (n,) → loss),
    ``grad`` (flat parameters → the gradient by backpropagation, shape (n,)), ``theta0``
    (the initial parameters, shape (n,)) and ``model``.
    """
    data = digits() if data is None else data
    X, y = data.X_train[:batch], data.y_train[:batch]
    model = training.MLP(X.shape[1], hidden, 10, activation="tanh", seed=0, dtype=dtype)
    sizes = [p.size for p in model.params]
    cuts = np.cumsum(sizes)[:-1]
    theta0 = np.concatenate([p.ravel() for p in model.params]).astype(np.float64)

    def load(theta):
        for p, part in zip(model.params, np.split(np.asarray(theta, dtype=np.float64), cuts)):
            np.copyto(p, part.reshape(p.shape), casting="unsafe")

    def f(theta):
        load(theta)
        return model.loss(X, y)

    def grad(theta):
        load(theta)
        _, grads = model.loss_and_grads(X, y)
        return np.concatenate([g.ravel() for g in grads]).astype(np.float64)

    return {"f": f, "grad": grad, "theta0": theta0, "model": model}


def finite_difference_figure(study: gradcheck.FiniteDifferenceStudy) -> Figure:
    """Log-log plot of the error of forward and centred differences against the step h."""
    fig = new_figure(7.5, 3.6)
    ax = fig.subplots()
    h = study.h
    ax.loglog(h, study.forward_error, "o-", ms=3, color=PALETTE["forward"],
              label=f"forward difference ({study.forward_evaluations} evaluations)")
    ax.loglog(h, study.central_error, "o-", ms=3, color=PALETTE["central"],
              label=f"centred difference ({study.central_evaluations} evaluations)")
    eps = np.finfo(float).eps
    # reference slopes, anchored at the measured errors where each regime dominates
    i_big = np.searchsorted(h, 1e-3)
    ax.loglog(h, study.forward_error[i_big] * h / h[i_big], ls="--", lw=0.8,
              color=PALETTE["forward"], label="slope 1: truncation $O(h)$")
    ax.loglog(h, study.central_error[i_big] * (h / h[i_big]) ** 2, ls=":", lw=1,
              color=PALETTE["central"], label="slope 2: truncation $O(h^2)$")
    ax.loglog(h, eps / h, lw=0.8, color=PALETTE["reference"],
              label=r"slope $-1$: round-off $\varepsilon_{\mathrm{mach}}/h$")
    for best, c in ((study.best_h_forward, PALETTE["forward"]), (study.best_h_central, PALETTE["central"])):
        ax.axvline(best, color=c, lw=0.8, alpha=0.6)
    ax.set_ylim(1e-12, 1)
    ax.set_xlabel("finite-difference step $h$ (log scale)")
    ax.set_ylabel(r"relative error $\| \hat g - \nabla f\| / \| \nabla f\|$")
    ax.set_title(f"Gradient of a {study.dim}-parameter network's loss")
    ax.legend(fontsize=7, frameon=False, loc="lower left", ncol=2)
    return fig


def gradient_cost(problem: dict, repeats: int = 3, timed: bool = True) -> dict[str, dict[str, float]]:
    """Evaluations of the loss and wall-clock time per gradient: forward and centred differences, backpropagation.

    Returns ``{method: {"evaluations": ..., "seconds": ...}}``; the evaluation counts of the
    finite differences are counted (:math:`n + 1` and :math:`2n` for :math:`n` parameters),
    backpropagation's is one forward and one backward pass. Times are the best of ``repeats``
    runs on this machine (not a stable quantity on a shared machine: the book quotes only the
    counts); ``timed=False`` skips the timing and leaves ``"seconds"`` out.
    """
    f, grad, theta = problem["f"], problem["grad"], problem["theta0"]
    calls = [0]

    def counted(v):
        calls[0] += 1
        return f(v)

    def best(fn):
        if not timed:
            return None
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return min(times)

    out = {}
    calls[0] = 0
    gradcheck.forward_difference_gradient(counted, theta)
    out["forward difference"] = {"evaluations": calls[0],
                                 "seconds": best(lambda: gradcheck.forward_difference_gradient(f, theta))}
    calls[0] = 0
    gradcheck.numerical_gradient(counted, theta)
    out["centred difference"] = {"evaluations": calls[0],
                                 "seconds": best(lambda: gradcheck.numerical_gradient(f, theta))}
    out["backpropagation"] = {"evaluations": 1, "seconds": best(lambda: grad(theta))}
    out["one loss evaluation"] = {"evaluations": 1, "seconds": best(lambda: f(theta))}
    if not timed:
        for v in out.values():
            del v["seconds"]
    return out


# ======================================================= ill-conditioning

_REGIME_PRODUCTS = (0.3, 1.0, 1.5, 2.0, 2.1)


def regimes_figure(products: Sequence[float] = _REGIME_PRODUCTS, steps: int = 12) -> Figure:
    r"""One eigen-coordinate under gradient descent, :math:`\omega_t = (1 - \alpha\lambda_i)^t \omega_0`, for several :math:`\alpha\lambda_i`.

    Each panel runs :func:`dlnotes.landscapes.gd_on_quadratic` on the 1-D quadratic
    :math:`\tfrac12\lambda_1 x^2` with :math:`\lambda_1 = 1` and names the regime with
    :func:`dlnotes.landscapes.gd_regime`.
    """
    fig = new_figure(10.0, 2.7)
    axes = fig.subplots(1, len(products), sharey=True)
    q = landscapes.Quadratic([[1.0]])
    t = np.arange(steps + 1)
    for ax, r in zip(axes, products):
        c = landscapes.gd_on_quadratic(q, [1.0], r, steps).eigencoordinates[:, 0]
        regime = landscapes.gd_regime(r, 1.0)
        color = PALETTE["above"] if regime == "diverging" else (
            PALETTE["reference"] if regime == "bouncing" else PALETTE["central"])
        ax.axhline(0, color="0.8", lw=0.8)
        ax.plot(t, c, "o-", color=color, ms=3, lw=1)
        ax.set_title(f"$\\alpha\\lambda_i = {r:g}$: {regime}", fontsize=9)
        ax.set_xlabel("step $t$")
        ax.set_ylim(-3.2, 3.2)
    axes[0].set_ylabel(r"$\omega_t = (1 - \alpha\lambda_i)^t \omega_0$")
    return fig


def stability_demo(condition_number: float = 10.0, factors: Sequence[float] = (0.99, 1.01),
                   steps: int = 300, x0: Sequence[float] = (2.0, 1.0), angle: float = math.pi / 6) -> dict:
    r"""Gradient descent just below and just above the stability bound :math:`2/\lambda_{\max}`.

    The quadratic is :func:`dlnotes.landscapes.ill_conditioned_quadratic` (with
    :math:`\lambda_{\max} = 1`). For each factor the rate is ``factor`` times
    :func:`dlnotes.landscapes.stability_bound`; the run is computed in closed form by
    :func:`dlnotes.landscapes.gd_on_quadratic` and again by iterating
    :class:`dlnotes.optim.SGD` (:func:`dlnotes.optim.run`), which must agree.

    Returns
    -------
    dict with ``quadratic``, ``bound``, and ``runs``: factor -> {"lr", "closed_form"
    (a GDOnQuadratic), "iterated" (a Trajectory), "max_difference" (largest gap between
    the two while both are finite, relative to the iterate's size)}.
    """
    q = landscapes.ill_conditioned_quadratic(condition_number, angle=angle)
    bound = landscapes.stability_bound(q)
    runs = {}
    for fac in factors:
        lr = fac * bound
        closed = landscapes.gd_on_quadratic(q, x0, lr, steps)
        it = optim.run(lambda p, lr=lr: optim.SGD(p, lr=lr), q, q.grad, x0, steps)
        ok = np.all(np.isfinite(it.xs), axis=1) & np.all(np.isfinite(closed.iterates), axis=1)
        scale = np.maximum(np.abs(closed.iterates[ok]).max(axis=1, keepdims=True), 1e-300)
        gap = float(np.max(np.abs(closed.iterates[ok] - it.xs[ok]) / scale)) if ok.any() else 0.0
        runs[fac] = {"lr": lr, "closed_form": closed, "iterated": it, "max_difference": gap}
    return {"quadratic": q, "bound": bound, "runs": runs}


def stability_figure(demo: dict, first_steps: int = 40) -> Figure:
    """The steep eigen-coordinate over the first steps (left) and the loss (right), just below and just above 2/λmax."""
    q = demo["quadratic"]
    fig = new_figure(9.5, 3.4)
    ax, ax_r = fig.subplots(1, 2)
    for fac, run in demo["runs"].items():
        c = PALETTE["below"] if fac < 1 else PALETTE["above"]
        cf = run["closed_form"]
        label = (f"$\\alpha = {fac:g} \\times 2/\\lambda_{{\\max}}$, "
                 f"$1 - \\alpha\\lambda_{{\\max}} = {cf.factors[-1]:+.2f}$")
        t = np.arange(len(cf.losses))
        ax.plot(t[:first_steps + 1], cf.eigencoordinates[:first_steps + 1, -1], "o-", color=c, ms=2.5,
                lw=0.8, label=label)
        ax_r.semilogy(t, np.maximum(cf.losses, 1e-300), color=c, lw=1.5, label=label)
    ax.axhline(0, color="0.8", lw=0.8)
    ax.set_xlabel("step $t$")
    ax.set_ylabel(r"steep eigen-coordinate $\omega_{t,n}$")
    ax.set_title(f"The stiffest direction flips sign every step ($\\kappa = {q.condition_number:g}$)",
                 fontsize=10)
    ax.legend(fontsize=7, frameon=False, loc="upper left")
    ax_r.set_xlabel("step $t$")
    ax_r.set_ylabel("loss $f(x_t)$ (log scale)")
    ax_r.set_title("The loss: converges below, diverges above", fontsize=10)
    ax_r.legend(fontsize=7, frameon=False, loc="lower left")
    return fig


def steps_to_converge(condition_number: float, tol: float = 1e-6, max_steps: int = 200_000) -> dict:
    r"""Steps gradient descent at the best fixed rate needs to shrink the error by ``tol``, on a 2-D quadratic with condition number :math:`\kappa`.

    Measured with :func:`dlnotes.landscapes.gd_on_quadratic` from a start with equal
    components along both eigenvectors (the first step :math:`t` with
    :math:`\lVert x_t - x^*\rVert \le` ``tol`` :math:`\lVert x_0 - x^*\rVert`), and predicted
    from the factor :math:`(\kappa - 1)/(\kappa + 1)` per step of
    :func:`dlnotes.landscapes.optimal_lr` as
    :math:`\lceil \log(\text{tol}) / \log\frac{\kappa - 1}{\kappa + 1}\rceil`.

    Returns ``{"lr", "rate", "measured", "predicted"}`` (the predictions are ``0`` for
    :math:`\kappa = 1`, where one step suffices: ``measured`` says 1).
    """
    q = landscapes.ill_conditioned_quadratic(condition_number)
    lr, rate = landscapes.optimal_lr(q)
    x0 = q.eigenvectors @ np.array([1.0, 1.0])
    predicted = 1 if rate == 0 else math.ceil(math.log(tol) / math.log(rate))
    steps = min(max_steps, 2 * predicted + 10)
    r = landscapes.gd_on_quadratic(q, x0, lr, steps)
    err = np.linalg.norm(r.iterates - q.critical_point, axis=1) / np.linalg.norm(x0 - q.critical_point)
    hit = np.flatnonzero(err <= tol * (1 + 1e-9))
    return {"lr": lr, "rate": rate, "measured": int(hit[0]) if hit.size else None,
            "predicted": predicted}


# ------------------------------------------------------- explorable: the ill-conditioned quadratic

_KAPPAS = [1.0, 3.0, 10.0, 30.0, 100.0]
_RATES = [0.5, 1.0, 1.5, 1.9, 2.05]
_QX0 = np.array([-4.0, 0.8])
_QSTEPS = 50
_QANGLE = math.pi / 6
_QLEVELS = np.array([1.0, 0.4, 0.15, 0.05, 0.015, 0.004])


def _ellipses(q: landscapes.Quadratic, levels: np.ndarray, n: int = 181) -> list[np.ndarray]:
    # f(x) = 1/2 sum_i lambda_i c_i^2: the level set f = l is an ellipse in eigen-coordinates
    phi = np.linspace(0, 2 * np.pi, n)
    out = []
    for lev in levels:
        c = np.stack([np.sqrt(2 * lev / q.eigenvalues[0]) * np.cos(phi),
                      np.sqrt(2 * lev / q.eigenvalues[1]) * np.sin(phi)])
        out.append((q.eigenvectors @ c).T + q.critical_point)
    return out


def _draw_quadratic(fig: Figure, kappa: float, lr: float):
    ax, ax_r = fig.subplots(1, 2, width_ratios=[1.35, 1])
    rings = [ax.plot([], [], color="0.75", lw=0.8)[0] for _ in _QLEVELS]
    path, = ax.plot([], [], "o-", color=PALETTE["path"], ms=2.5, lw=0.9)
    start, = ax.plot(*_QX0, "s", color="black", ms=6)
    star, = ax.plot(0, 0, "*", color="black", ms=11)
    ax.set_xlim(-5, 5)
    ax.set_ylim(-3, 3)
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    title = ax.set_title(" ", fontsize=10)
    k = np.arange(_QSTEPS + 1)
    ax_r.axhline(1.0, color="0.8", lw=0.8)
    curve, = ax_r.semilogy([], [], color=PALETTE["path"], lw=1.8)
    ax_r.set_xlim(0, _QSTEPS)
    ax_r.set_ylim(1e-6, 1e2)
    ax_r.set_xlabel("step $t$")
    ax_r.set_ylabel("$f(x_t) / f(x_0)$ (log scale)")
    title_r = ax_r.set_title(" ", fontsize=10)
    spines = [*ax.spines.values(), *ax_r.spines.values()]

    def update(kappa: float, lr: float) -> list:
        q = landscapes.ill_conditioned_quadratic(kappa, angle=_QANGLE)
        run = landscapes.gd_on_quadratic(q, _QX0, lr, _QSTEPS)
        f0 = float(run.losses[0])
        for ring, pts in zip(rings, _ellipses(q, f0 * _QLEVELS)):
            ring.set_data(pts[:, 0], pts[:, 1])
        path.set_data(run.iterates[:, 0], run.iterates[:, 1])
        curve.set_data(k, np.clip(run.losses / f0, 1e-12, 1e12))
        bound = landscapes.stability_bound(q)
        steep, flat = run.factors[1], run.factors[0]
        title.set_text(f"κ = {kappa:g}, α = {lr:g}  (stable for α < 2/λmax = {bound:g})")
        title_r.set_text(f"steep: ×{steep:+.2f} per step ({landscapes.gd_regime(lr, q.eigenvalues[1])})\n"
                         f"flat: ×{flat:+.3f} per step ({landscapes.gd_regime(lr, q.eigenvalues[0])})")
        # the start, the minimum and the spines never move, but the curves pass under them
        return [*rings, path, start, star, curve, title, title_r, *spines]

    update(kappa, lr)
    return update


def quadratic_explorable() -> Explorable:
    """Explorable: gradient descent on a 2-D quadratic; sliders for the condition number and the learning rate."""
    return Explorable(
        _draw_quadratic,
        [Control("kappa", "condition number κ", _KAPPAS, value=10.0),
         Control("lr", "learning rate α (λmax = 1)", _RATES, value=1.5)],
        alt=("Left: elliptical contours of a two-dimensional quadratic whose long axis is tilted by "
             "30 degrees, and the first 50 gradient-descent iterates from a fixed start. For large "
             "condition numbers and rates between 1 and 2 the path zig-zags across the narrow valley "
             "while crawling along it; above 2 it flies off. Right: the loss relative to its start "
             "on a log scale against the step, with the per-step factors of the steep and flat "
             "directions written above it."),
        caption=("Gradient descent on ½xᵀAx with λmax = 1, so the stability bound is α < 2. The steep "
                 "direction decides what is stable; the flat direction decides how fast it goes."),
        figsize=(9.0, 3.6), dpi=72)


# ======================================================= saddle points

_ESCAPE = landscapes.EscapeSaddle()


def saddle_run(offset: float, noise: float = 0.0, lr: float = 0.2, steps: int = 200,
               seed: int = 0, x0: float = 1.0) -> optim.Trajectory:
    r"""Gradient descent on :class:`dlnotes.landscapes.EscapeSaddle` from :math:`x_0 = (` ``x0``, ``offset`` :math:`)`, with optional gradient noise.

    With ``noise`` :math:`= \sigma > 0` every gradient gets independent
    :math:`\mathcal N(0, \sigma^2 I)` noise (from ``seed``), a stand-in for minibatch noise.
    Runs :class:`dlnotes.optim.SGD` through :func:`dlnotes.optim.run`.
    """
    rng = np.random.default_rng(seed)

    def grad(x):
        g = _ESCAPE.grad(x)
        return g + noise * rng.standard_normal(2) if noise > 0 else g

    return optim.run(lambda p: optim.SGD(p, lr=lr), _ESCAPE, grad, [x0, offset], steps)


def escape_step(traj: optim.Trajectory, threshold: float = 0.5) -> int | None:
    """The first step :math:`t` at which the escape coordinate satisfies :math:`|x_{t,2}| \\ge` ``threshold`` (None if never)."""
    hit = np.flatnonzero(np.abs(traj.xs[:, 1]) >= threshold)
    return int(hit[0]) if hit.size else None


_OFFSETS = [0.0, 1e-12, 1e-8, 1e-4, 1e-1]
_NOISES = [0.0, 1e-6, 1e-3, 1e-1]
_SSTEPS = 200
_SLR = 0.2


@functools.lru_cache(maxsize=1)
def _saddle_contours():
    return _ESCAPE.grid(121)


def _draw_saddle(fig: Figure, offset: float, noise: float):
    ax, ax_r = fig.subplots(1, 2, width_ratios=[1, 1.3])
    X, Y, Z = _saddle_contours()
    ax.contour(X, Y, Z, levels=np.linspace(-0.24, 2.0, 10), colors="0.75", linewidths=0.7)
    ax.contour(X, Y, Z, levels=[0.0], colors="0.45", linewidths=0.9, linestyles="--")
    path, = ax.plot([], [], "-", color=PALETTE["path"], lw=1.2)
    end, = ax.plot([], [], "o", color=PALETTE["path"], ms=5)
    marks, = ax.plot([0, 0, 0], [0, 1, -1], linestyle="none", marker="x", color="black", ms=7,
                     mew=1.5)
    ax.set_xlim(-1.5, 1.5)
    ax.set_ylim(-1.5, 1.5)
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$ (the escape direction)")
    ax.set_title("saddle at 0, minima at $x_2 = \\pm 1$", fontsize=10)
    ax_r.axhline(0.0, color=PALETTE["reference"], lw=0.8, ls="--")
    ax_r.axhline(-0.25, color=PALETTE["reference"], lw=0.8, ls=":")
    ax_r.text(_SSTEPS, 0.02, "saddle value 0", ha="right", va="bottom", fontsize=8, color="0.4")
    ax_r.text(_SSTEPS, -0.27, "minimum −¼", ha="right", va="top", fontsize=8, color="0.4")
    curve, = ax_r.plot([], [], color=PALETTE["path"], lw=1.8)
    ax_r.set_xlim(0, _SSTEPS)
    ax_r.set_ylim(-0.4, 1.05)
    ax_r.set_xlabel("step $t$")
    ax_r.set_ylabel("loss $f(x_t)$")
    title = ax_r.set_title(" ", fontsize=10)
    steps = np.arange(_SSTEPS + 1)
    spines = [*ax.spines.values(), *ax_r.spines.values()]   # redrawn over the curves

    def update(offset: float, noise: float) -> list:
        tr = saddle_run(offset, noise, lr=_SLR, steps=_SSTEPS)
        path.set_data(tr.xs[:, 0], tr.xs[:, 1])
        end.set_data([tr.xs[-1, 0]], [tr.xs[-1, 1]])
        curve.set_data(steps, tr.losses)
        k = escape_step(tr)
        title.set_text(f"offset x₂ = {offset:g}, noise σ = {noise:g}: "
                       + (f"|x₂| reaches 0.5 at step {k}" if k is not None
                          else f"still at the saddle after {_SSTEPS} steps"))
        return [path, end, marks, curve, title, *spines]

    update(offset, noise)
    return update


def saddle_explorable() -> Explorable:
    """Explorable: escaping a saddle; sliders for the initial offset from the ridge and the gradient noise."""
    return Explorable(
        _draw_saddle,
        [Control("offset", "start offset x₂", _OFFSETS, value=1e-8),
         Control("noise", "gradient noise σ", _NOISES, value=0.0)],
        alt=("Left: contours of f(x) = x₁² + x₂⁴/4 − x₂²/2, a saddle at the origin between two minima "
             "at x₂ = ±1, and the path of gradient descent with rate 0.2 started at x₁ = 1 and a tiny "
             "offset x₂. Right: the loss against the step. The loss first drops to the saddle value 0 "
             "and stays on a plateau whose length grows like the logarithm of 1/offset; started "
             "exactly on the ridge without noise it never leaves, with noise it always does."),
        caption=("Gradient descent at a saddle: the offset from the ridge (or the noise) is multiplied "
                 "by 1 + α per step, so the plateau lasts about log(1/offset)/log(1 + α) steps."),
        figsize=(9.0, 3.5), dpi=72)


def critical_point_census(dims: Sequence[int] = (1, 2, 3, 4, 5, 6), samples: int = 2000,
                          seed: int = 0) -> dict[int, dict[str, float]]:
    r"""How often a random symmetric matrix is positive definite: a heuristic for critical points in D dimensions.

    Draws symmetric matrices :math:`(M + M^\top)/2` with standard-normal :math:`M` as
    stand-ins for the Hessian at a random critical point and classifies each with
    :func:`dlnotes.landscapes.classify_critical_point`. Returns, for each dimension, the
    fraction of minima, maxima and saddles.
    """
    rng = np.random.default_rng(seed)
    out = {}
    for d in dims:
        counts = {"minimum": 0, "maximum": 0, "saddle": 0, "degenerate": 0}
        for _ in range(samples):
            M = rng.standard_normal((d, d))
            counts[landscapes.classify_critical_point(0.5 * (M + M.T))] += 1
        out[int(d)] = {k: v / samples for k, v in counts.items()}
    return out
