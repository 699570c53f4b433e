r"""Figures and computations of the chapter *The optimization landscape*.

Every number comes from :mod:`dlnotes.curvature`, :mod:`dlnotes.convexity`,
:mod:`dlnotes.debugging`, :mod:`dlnotes.training`, :mod:`dlnotes.tuning` and
:mod:`dlnotes.initialization`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import sympy as sp
from matplotlib.figure import Figure

from .. import convexity, curvature, landscapes, optim, training, tuning
from ..datasets import Dataset
from . import new_figure

__all__ = ["worked_example", "worked_figure", "condition_numbers", "activation_conditioning",
           "mixed_fractions", "mixed_figure", "permutation_experiment", "segment_figure",
           "rate_runs", "rate_figure", "lr_colors", "curvature_explorable"]


def worked_example() -> dict[str, Any]:
    r"""The stationary points of :math:`f(x) = x_1^3 - 3x_1x_2 + x_2^3`, found and classified by SymPy.

    Returns the SymPy expression, its Hessian, NumPy callables and one row per stationary point
    with the SymPy Hessian, the finite-difference Hessian, the eigenvalues and the class.
    """
    x1, x2 = sp.symbols("x1 x2", real=True)
    expr = x1 ** 3 - 3 * x1 * x2 + x2 ** 3
    grad = [sp.diff(expr, v) for v in (x1, x2)]
    H = sp.hessian(expr, (x1, x2))
    f = sp.lambdify([(x1, x2)], expr)
    points = [s for s in sp.solve(grad, (x1, x2), dict=True)
              if all(v.is_real for v in s.values())]
    rows = []
    for s in sorted(points, key=lambda s: float(s[x1])):
        p = np.array([float(s[x1]), float(s[x2])])
        H_sym = np.array(H.subs(s), dtype=float)
        H_fd = curvature.finite_difference_hessian(f, p, h=1e-4)
        lam = np.linalg.eigvalsh(H_sym)
        rows.append({"point": p, "H_sym": H_sym, "H_fd": H_fd, "eigenvalues": lam,
                     "kind": landscapes.classify_critical_point(H_sym)})
    return {"expr": expr, "hessian": H, "f": f, "rows": rows}


def worked_figure(example: dict[str, Any]) -> Figure:
    """Contours of the worked example with its stationary points marked by kind."""
    fig = new_figure(5.0, 4.0)
    ax = fig.add_subplot()
    g = np.linspace(-1.2, 1.8, 201)
    X, Y = np.meshgrid(g, g)
    Z = example["f"]((X, Y))
    ax.contour(X, Y, Z, levels=np.linspace(-1.5, 3, 19), colors="0.7", linewidths=0.7)
    marks = {"minimum": ("*", "minimum"), "saddle": ("X", "saddle"), "maximum": ("^", "maximum"),
             "degenerate": ("s", "degenerate")}
    for r in example["rows"]:
        m, label = marks[r["kind"]]
        ax.plot(*r["point"], m, color="black", ms=11, label=label)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(r"$x_1^3 - 3x_1x_2 + x_2^3$")
    ax.legend(fontsize=8, loc="upper left")
    return fig


def condition_numbers(X: Any) -> tuple[float, float]:
    """Condition number of the least-squares Hessian (with a bias column) of raw and of standardised features."""
    X = np.asarray(X, dtype=float)
    ones = np.ones((len(X), 1))
    raw = np.linalg.eigvalsh(curvature.least_squares_hessian(np.hstack([X, ones])))
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    std = np.linalg.eigvalsh(curvature.least_squares_hessian(np.hstack([Z, ones])))
    return float(raw[-1] / raw[0]), float(std[-1] / std[0])


def activation_conditioning(X: Any, width: int = 32, seed: int = 0) -> dict[str, float]:
    r"""Condition number of the next layer's least-squares Hessian :math:`\frac2N [a, 1]^\top [a, 1]` for sigmoid and tanh hidden units.

    The hidden layer has random weights :math:`\mathcal N(0, 1/n_{in})` (the same for both); the
    sigmoid's outputs have mean about 1/2, which adds a large shared direction to the Hessian.
    """
    X = np.asarray(X, dtype=float)
    W = np.random.default_rng(seed).standard_normal((X.shape[1], width)) / np.sqrt(X.shape[1])
    Z = X @ W
    out = {}
    for name, a in (("sigmoid", 1.0 / (1.0 + np.exp(-Z))), ("tanh", np.tanh(Z))):
        lam = np.linalg.eigvalsh(curvature.least_squares_hessian(np.hstack([a, np.ones((len(a), 1))])))
        out[name] = float(lam[-1] / lam[0])
        out[name + " mean"] = float(a.mean())
    return out


DIMENSIONS = (1, 2, 3, 4, 6, 8, 12, 16)


def mixed_fractions(samples: int = 4000) -> np.ndarray:
    """Fraction of random symmetric matrices with mixed-sign spectra for each dimension in DIMENSIONS."""
    return np.array([curvature.mixed_spectrum_fraction(n, samples=samples, seed=n) for n in DIMENSIONS])


def mixed_figure(fractions: np.ndarray) -> Figure:
    """The fraction of random symmetric matrices with eigenvalues of both signs, against the dimension."""
    fig = new_figure(5.6, 3.2)
    ax = fig.add_subplot()
    n = np.array(DIMENSIONS)
    ax.plot(n, fractions, "o-", color="#d95f02", label="eigenvalues of both signs (a saddle)")
    ax.plot(n, 1 - fractions, "s-", color="#1b9e77", label="all of one sign (a minimum or a maximum)")
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("dimension $n$")
    ax.set_ylabel("fraction of random symmetric matrices")
    ax.legend(fontsize=8, loc="center right")
    return fig


def permutation_experiment(data: Dataset, hidden: int = 8, steps: int = 300, seed: int = 0) -> dict[str, Any]:
    r"""Train a tanh MLP on 300 digits, permute its hidden units, and measure the loss along the segment between the two."""
    from .. import debugging

    X, y = data.X_train[:300], data.y_train[:300]
    m = training.MLP(X.shape[1], hidden, 10, activation="tanh", seed=seed)
    debugging.overfit_subset(m, X, y, samples=len(y), steps=steps, lr=0.02, seed=seed)
    p = convexity.permute_hidden_units(m, np.roll(np.arange(hidden), 1))
    theta_a, f, _, _ = curvature.model_loss_and_gradient(m, X, y)
    theta_b = curvature.model_loss_and_gradient(p, X, y)[0]
    s, losses = convexity.interpolation_losses(f, theta_a, theta_b, points=41)
    return {"loss_a": f(theta_a), "loss_b": f(theta_b), "s": s, "losses": losses,
            "midpoint_gap": convexity.midpoint_gap(f, theta_a, theta_b)}


def segment_figure(exp: dict[str, Any]) -> Figure:
    """The loss along the straight line between a trained MLP and its permuted copy."""
    fig = new_figure(5.6, 3.2)
    ax = fig.add_subplot()
    ax.plot(exp["s"], exp["losses"], color="#7570b3", label="loss on the segment")
    ax.plot([0, 1], [exp["loss_a"], exp["loss_b"]], "--", color="0.4", label="chord (what convexity would bound it by)")
    ax.set_xlabel("position on the segment (0: trained network, 1: permuted copy)")
    ax.set_ylabel("training loss (cross-entropy)")
    ax.legend(fontsize=8)
    return fig


def lr_colors() -> dict[float, str]:
    return {1e-4: "#1f78b4", 0.05: "#33a02c", 3.0: "#e31a1c"}


def rate_runs(data: Dataset, rates=(1e-4, 0.05, 3.0), epochs: int = 3) -> dict[float, Any]:
    """Train the same MLP with SGD at three rates; keep the history and the update-to-weight ratios."""
    out = {}
    for lr in rates:
        m = training.MLP(data.X_train.shape[1], 32, 10, seed=0)
        mon = tuning.UpdateRatioMonitor(optim.SGD(m.params, lr=lr))
        hist = training.train(m, mon, data, epochs=epochs, batch_size=64, seed=0, progress=False)
        out[lr] = {"history": hist, "ratios": mon.ratios}
    return out


def rate_figure(runs: dict[float, Any]) -> Figure:
    """Minibatch loss against the step for a rate too low, a good one and one too high."""
    fig = new_figure(6.4, 3.4)
    ax = fig.add_subplot()
    colors = lr_colors()
    for lr, r in runs.items():
        loss = np.asarray(r["history"].step_loss, dtype=float)
        ax.plot(np.arange(len(loss)), np.clip(loss, 0, 10), color=colors.get(lr, "black"),
                label=f"learning rate {lr:g}")
    ax.set_xlabel("step")
    ax.set_ylabel("minibatch loss (clipped at 10)")
    ax.legend(fontsize=8)
    return fig


# ------------------------------------------------------------------ the explorable

_EIGS = [-1.0, 0.0, 1.0, 2.0]


def _draw_curvature(fig: Figure, lam1: float, lam2: float):
    ax, ax_r = fig.subplots(1, 2, width_ratios=[1, 1.1])
    g = np.linspace(-2.0, 2.0, 121)
    X1, X2 = np.meshgrid(g, g)
    c, s = np.cos(np.pi / 6), np.sin(np.pi / 6)
    U = np.array([[c, -s], [s, c]])                       # eigenvectors u_1, u_2 (columns)
    P = np.stack([X1, X2], axis=-1) @ U                    # eigen-coordinates
    img = ax.imshow(np.zeros_like(X1), origin="lower", extent=(-2, 2, -2, 2), cmap="RdBu_r",
                    vmin=-4, vmax=4)
    marks = []
    for k, name in ((0, "$u_1$"), (1, "$u_2$")):
        marks.append(ax.annotate("", xy=1.6 * U[:, k], xytext=(0, 0),
                                 arrowprops=dict(arrowstyle="->", color="black")))
        marks.append(ax.text(*(1.75 * U[:, k]), name, fontsize=10))
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    title = ax.set_title(" ")
    t = np.linspace(-2, 2, 101)
    line1 = ax_r.plot([], [], color="#d95f02", label="along $u_1$")[0]
    line2 = ax_r.plot([], [], color="#1b9e77", label="along $u_2$")[0]
    ax_r.set_xlim(-2, 2)
    ax_r.set_ylim(-4.2, 4.2)
    ax_r.set_xlabel("distance along the eigenvector")
    ax_r.set_ylabel("$f$")
    legend = ax_r.legend(fontsize=8, loc="lower left")

    def update(lam1: float, lam2: float) -> list:
        H = U @ np.diag([lam1, lam2]) @ U.T
        img.set_data(0.5 * (lam1 * P[..., 0] ** 2 + lam2 * P[..., 1] ** 2))
        kind = landscapes.classify_critical_point(H) if (lam1 or lam2) else "degenerate"
        title.set_text(f"$\\lambda_1 = {lam1:g}$, $\\lambda_2 = {lam2:g}$: {kind}")
        line1.set_data(t, 0.5 * lam1 * t * t)
        line2.set_data(t, 0.5 * lam2 * t * t)
        return [img, *marks, title, line1, line2, legend, *ax.spines.values(), *ax_r.spines.values()]

    update(lam1, lam2)
    return update


def curvature_explorable():
    r"""Explorable: the two eigenvalues of a 2-D quadratic's Hessian, and the kind of stationary point they make."""
    from ..explorables import Control, Explorable

    return Explorable(
        _draw_curvature,
        [Control("lam1", "eigenvalue λ1", _EIGS, value=1.0), Control("lam2", "eigenvalue λ2", _EIGS, value=-1.0)],
        alt=("Left: the quadratic f(x) = (λ1 (u1ᵀx)² + λ2 (u2ᵀx)²)/2 as a colour map (red high, blue low), "
             "with its two eigenvectors u1 and u2 drawn as arrows at 30 degrees; the title names the kind of "
             "stationary point at the origin. Right: f along each eigenvector, a parabola that opens up for a "
             "positive eigenvalue, down for a negative one, and is flat for zero. Both positive make a minimum, "
             "both negative a maximum, opposite signs a saddle, and a zero eigenvalue a degenerate point."),
        caption="The signs of the Hessian's eigenvalues classify a stationary point: move the sliders.",
        figsize=(7.6, 3.2), dpi=75)
