r"""Figures and explorables of the chapter *Momentum and Nesterov*.

Every number drawn here is computed by :mod:`dlnotes.optim`, :mod:`dlnotes.nesterov` and
:mod:`dlnotes.landscapes`. Optimizers have fixed colours (:data:`OPTIMIZER_COLORS`), shared
with the chapter *Adaptive learning rates*.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any, Callable

import numpy as np
import sympy as sp
from matplotlib.figure import Figure

from .. import landscapes, nesterov, optim
from ..landscapes import heavy_ball_parameters, stability_limit  # noqa: F401 (used below)
from ..explorables import Control, Explorable
from . import new_figure

__all__ = [
    "OPTIMIZER_COLORS", "heavy_ball_parameters", "steps_to_tolerance", "iteration_matrix",
    "stability_limit", "ill_conditioning",
    "conditioning_rows", "saddle_escape", "momentum_signal_to_noise", "noise_averaging",
    "derivation_markdown", "source_slips", "slips_markdown", "nesterov_forms",
    "valley_explorable",
]

#: One colour per optimizer, the same in every figure of the optimizer chapters.
OPTIMIZER_COLORS = {
    "GD": "#555555",
    "SGD": "#555555",
    "Momentum": "#1f77b4",
    "Nesterov": "#17becf",
    "AdaGrad": "#ff7f0e",
    "RMSProp": "#9467bd",
    "Adam": "#d62728",
    "Adam (no bias correction)": "#f4a582",
    "AdamW": "#8c564b",
}


# ------------------------------------------------------------------ helpers

def steps_to_tolerance(traj: optim.Trajectory, x_star: Any, tol: float) -> int | None:
    r"""First step :math:`t` with :math:`\lVert x_t - x^*\rVert \le` ``tol`` :math:`\lVert x_0 - x^*\rVert` (None if never)."""
    err = np.linalg.norm(traj.xs - np.asarray(x_star, dtype=float), axis=1)
    hit = np.flatnonzero(err <= tol * err[0])
    return int(hit[0]) if hit.size else None


def _sgd_makers(lr: float, rho: float) -> dict[str, Callable]:
    """GD, momentum and Nesterov with the given (lr, rho); all three are GD when rho = 0."""
    if rho == 0.0:
        return {name: (lambda p: optim.SGD(p, lr=lr)) for name in ("GD", "Momentum", "Nesterov")}
    return {"GD": lambda p: optim.SGD(p, lr=lr),
            "Momentum": lambda p: optim.SGD(p, lr=lr, momentum=rho),
            "Nesterov": lambda p: optim.SGD(p, lr=lr, momentum=rho, nesterov=True)}


def _contours(ax, f: landscapes.Landscape, bounds, levels, n: int = 161) -> None:
    X, Y, Z = f.grid(n, bounds)
    ax.contour(X, Y, Z, levels=levels, colors="0.75", linewidths=0.7)


# ------------------------------------------------------------------ ill-conditioning

ILL_KAPPA = 25.0


def ill_conditioning(kappa: float = ILL_KAPPA, steps: int = 60) -> Figure:
    r"""Gradient descent and momentum, each with its best fixed parameters, on an ill-conditioned quadratic.

    Left: the paths over the contours of :math:`\tfrac12 x^\top A x` (condition number
    ``kappa``). Right: the distance to the minimum against the step, with the rates
    :math:`((\kappa-1)/(\kappa+1))^t` and :math:`((\sqrt\kappa-1)/(\sqrt\kappa+1))^t` dashed.
    """
    q = landscapes.ill_conditioned_quadratic(kappa)
    lo, hi = float(q.eigenvalues[0]), float(q.eigenvalues[-1])
    lr_gd, rate_gd = landscapes.optimal_lr(q)
    lr_hb, rho_hb, rate_hb = heavy_ball_parameters(lo, hi)
    x0 = np.array([-0.8 * 1.5 * math.sqrt(kappa), 1.0])
    runs = {
        "GD": (optim.run(lambda p: optim.SGD(p, lr=lr_gd), q, q.grad, x0, steps),
               f"GD, $\\alpha = {lr_gd:.3g}$", rate_gd),
        "Momentum": (optim.run(lambda p: optim.SGD(p, lr=lr_hb, momentum=rho_hb), q, q.grad, x0, steps),
                     f"momentum, $\\alpha = {lr_hb:.3g}$, $\\rho = {rho_hb:.3g}$", rate_hb),
    }
    fig = new_figure(9.5, 3.4)
    ax, ax_r = fig.subplots(1, 2, width_ratios=[1.6, 1])
    half = 1.5 * math.sqrt(kappa)
    bounds = ((-half, 0.3 * half), (-2.2, 2.2))
    _contours(ax, q, bounds, levels=np.geomspace(0.02, q(x0) * 1.5, 9))
    t = np.arange(steps + 1)
    err0 = float(np.linalg.norm(x0))
    for name, (tr, label, rate) in runs.items():
        c = OPTIMIZER_COLORS[name]
        ax.plot(tr.xs[:, 0], tr.xs[:, 1], "-o", color=c, ms=2.5, lw=1.2, label=label)
        ax_r.semilogy(t, np.linalg.norm(tr.xs, axis=1), color=c, lw=2, label=label)
        ax_r.semilogy(t, err0 * rate ** t, color=c, lw=1, ls="--")
    ax.plot([0], [0], "*", color="black", ms=10)
    ax.set_xlim(bounds[0])
    ax.set_ylim(bounds[1])
    ax.set_xlabel(r"$x_1$ (flat direction, $\lambda_{\min}$)")
    ax.set_ylabel(r"$x_2$ (steep, $\lambda_{\max}$)")
    ax.set_title(f"Condition number $\\kappa = {kappa:g}$")
    ax.legend(fontsize=7.5, frameon=True, loc="lower right")
    ax_r.set_xlabel("step $t$")
    ax_r.set_ylabel(r"distance to the minimum $\|x_t - x^*\|$")
    ax_r.set_title("Dashed: the predicted rates")
    ax_r.set_ylim(1e-8, 50)
    return fig


def conditioning_rows(kappas=(10.0, 100.0, 1000.0), tol: float = 1e-6) -> list[list]:
    r"""For each :math:`\kappa`: the best rates of GD and momentum and the steps each needs to shrink the error by ``tol``.

    The steps are measured by running :func:`dlnotes.optim.run` on
    :func:`dlnotes.landscapes.ill_conditioned_quadratic`; the rates come from
    :func:`dlnotes.landscapes.optimal_lr` and :func:`heavy_ball_parameters`. Rows are
    ``[kappa, rate_gd, steps_gd, rate_momentum, steps_momentum, sqrt(kappa)]``.
    """
    rows = []
    for kappa in kappas:
        q = landscapes.ill_conditioned_quadratic(kappa)
        lr_gd, rate_gd = landscapes.optimal_lr(q)
        lr_hb, rho_hb, rate_hb = heavy_ball_parameters(q.eigenvalues[0], q.eigenvalues[-1])
        x0 = np.array([1.0, 1.0])
        budget = int(math.ceil(math.log(tol) / math.log(rate_gd))) + 50
        gd = optim.run(lambda p: optim.SGD(p, lr=lr_gd), q, q.grad, x0, budget)
        hb = optim.run(lambda p: optim.SGD(p, lr=lr_hb, momentum=rho_hb), q, q.grad, x0, budget)
        rows.append([float(kappa), rate_gd, steps_to_tolerance(gd, np.zeros(2), tol), rate_hb,
                     steps_to_tolerance(hb, np.zeros(2), tol), math.sqrt(kappa)])
    return rows


# ------------------------------------------------------------------ saddle

SADDLE_START = (1.0, 1e-3)


def saddle_escape(lr: float = 0.1, rho: float = 0.9, steps: int = 120) -> tuple[dict, Figure]:
    r"""GD, momentum and Nesterov started next to the saddle of :class:`dlnotes.landscapes.EscapeSaddle`.

    Returns ``(escape_steps, figure)``: the first step at which each method's loss is
    below :math:`-0.2` (the minima have :math:`f = -\tfrac14`), and the figure (paths
    left, loss against the step right).
    """
    s = landscapes.EscapeSaddle()
    runs = optim.race(_sgd_makers(lr, rho), s, s.grad, np.array(SADDLE_START), steps)
    fig = new_figure(9.5, 3.3)
    ax, ax_r = fig.subplots(1, 2)
    _contours(ax, s, s.bounds, levels=np.linspace(-0.24, 2.0, 15))
    escape = {}
    for name, tr in runs.items():
        c = OPTIMIZER_COLORS[name]
        hit = np.flatnonzero(tr.losses < -0.2)
        escape[name] = int(hit[0]) if hit.size else None
        ax.plot(tr.xs[:, 0], tr.xs[:, 1], "-o", color=c, ms=2, lw=1.2, label=name)
        ax_r.plot(np.arange(steps + 1), tr.losses, color=c, lw=2,
                  label=f"{name}: below $-0.2$ after {escape[name]} steps")
    ax.plot([0], [0], "x", color="black", ms=8, mew=2)
    ax.plot(s.minimizers[:, 0], s.minimizers[:, 1], "*", color="black", ms=10)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(r"$f = x_1^2 + x_2^4/4 - x_2^2/2$, start $(1, 10^{-3})$")
    ax.legend(fontsize=8, loc="lower left")
    ax_r.axhline(-0.25, color="0.6", lw=0.8, ls=":")
    ax_r.set_xlabel("step $t$")
    ax_r.set_ylabel("loss $f(x_t)$")
    ax_r.set_title(f"$\\alpha = {lr:g}$, $\\rho = {rho:g}$")
    ax_r.legend(fontsize=8, frameon=False)
    return escape, fig


# ------------------------------------------------------------------ noise

def momentum_signal_to_noise(rho: float, sigma: float = 1.0, steps: int = 20000, burn_in: int = 500,
                             seed: int = 0) -> tuple[float, float]:
    r"""Measured signal-to-noise ratio of the step direction of SGD with momentum under gradient noise.

    The gradient is :math:`g_t = g + \sigma\,\text{noise}_t` with :math:`g = (1, 0)` and standard
    normal noise; the momentum buffer :math:`m_t` of :class:`dlnotes.optim.SGD` (``momentum=rho``) is
    recorded after ``burn_in`` steps. The ratio is the mean of the buffer's first coordinate
    over the standard deviation of its second one (a coordinate with no signal). For
    :math:`\rho = 0` (plain SGD) it is :math:`1/\sigma`; the exponential average predicts
    :math:`\sqrt{(1+\rho)/(1-\rho)}/\sigma`.

    Returns ``(measured, predicted)``.
    """
    rng = np.random.default_rng(seed)
    g = np.array([1.0, 0.0])
    x = np.zeros(2)
    opt = optim.SGD([x], lr=0.0, momentum=rho) if rho > 0 else None
    buf = np.empty((steps, 2))
    noise = sigma * rng.standard_normal((steps + burn_in, 2))
    for t in range(steps + burn_in):
        gt = g + noise[t]
        if opt is not None:
            opt.step([gt])
            b = opt.state[0]["v"]
        else:
            b = gt
        if t >= burn_in:
            buf[t - burn_in] = b
    measured = float(buf[:, 0].mean() / buf[:, 1].std())
    return measured, math.sqrt((1.0 + rho) / (1.0 - rho)) / sigma


NOISE_RHOS = (0.0, 0.5, 0.8, 0.9, 0.95, 0.99)


def noise_averaging(rho: float = 0.9, sigma: float = 1.0, n: int = 300, seed: int = 1) -> tuple[list, Figure]:
    r"""Step directions of SGD and of momentum under noisy gradients, and the signal-to-noise ratio against :math:`\rho`.

    Left: ``n`` consecutive steps of each method as vectors, scaled so that their mean has
    length 1 (momentum's buffer :math:`m_t` times :math:`1-\rho`). Right: measured and predicted
    signal-to-noise ratio (:func:`momentum_signal_to_noise`) for :data:`NOISE_RHOS`.
    Returns ``(rows, figure)`` with rows ``[rho, measured, predicted]``.
    """
    rng = np.random.default_rng(seed)
    burn = 200
    grads = np.array([1.0, 0.0]) + sigma * rng.standard_normal((n + burn, 2))
    x = np.zeros(2)
    opt = optim.SGD([x], lr=0.0, momentum=rho)
    bufs = []
    for gt in grads:
        opt.step([gt])
        bufs.append(opt.state[0]["v"].copy())
    mom = (1.0 - rho) * np.array(bufs[burn:])
    sgd = grads[burn:]
    rows = [[r, *momentum_signal_to_noise(r, sigma)] for r in NOISE_RHOS]
    fig = new_figure(9.0, 3.4)
    ax, ax_r = fig.subplots(1, 2)
    ax.scatter(sgd[:, 0], sgd[:, 1], s=6, color=OPTIMIZER_COLORS["SGD"], alpha=0.5,
               label="SGD: one noisy gradient per step")
    ax.scatter(mom[:, 0], mom[:, 1], s=6, color=OPTIMIZER_COLORS["Momentum"], alpha=0.7,
               label=f"momentum $\\rho = {rho:g}$: $(1-\\rho)\\,m_t$")
    ax.plot([1], [0], "*", color="black", ms=10, label="true gradient $g$")
    ax.set_xlim(-2.5, 4.5)
    ax.set_ylim(-3.2, 3.2)
    ax.set_aspect("equal")
    ax.set_xlabel("step direction, component along $g$")
    ax.set_ylabel("component across $g$")
    ax.set_title(f"{n} steps, gradient noise $\\sigma = {sigma:g}$")
    ax.legend(fontsize=7, loc="upper right")
    rr = np.linspace(0, 0.99, 200)
    ax_r.plot(rr, np.sqrt((1 + rr) / (1 - rr)) / sigma, color="black", lw=1,
              label=r"predicted $\sqrt{(1+\rho)/(1-\rho)}\,/\,\sigma$")
    ax_r.plot([r[0] for r in rows], [r[1] for r in rows], "o", color=OPTIMIZER_COLORS["Momentum"],
              label="measured (20 000 steps)")
    ax_r.set_yscale("log")
    ax_r.set_xlabel(r"momentum $\rho$")
    ax_r.set_ylabel("signal-to-noise ratio of the step")
    ax_r.set_title("Averaging over about $1/(1-\\rho)$ gradients")
    ax_r.legend(fontsize=8, frameon=False)
    return rows, fig


# ------------------------------------------------------------------ Nesterov, symbolically

def _latex(expr) -> str:
    """SymPy LaTeX with the unknown gradient function ``g`` printed as :math:`\\nabla f`."""
    return re.sub(r"\bg\{\\left\(", r"\\nabla f{\\left(", sp.latex(expr))


def _check_line(check: nesterov.StepCheck, previous: int | None) -> str:
    if check.index == 0 and previous is None:
        return ("*SymPy:* the definition; it determines $x_{t+1}$ and $v_{t+1}$ uniquely."
                if check.ok else f"*SymPy:* ✗ {check.message}")
    if check.ok:
        return (f"*SymPy:* ✓ the same update as step {previous}: the solved $x_{{t+1}}$ and "
                f"$v_{{t+1}}$ differ by ${_latex(check.residuals[0])}$ and "
                f"${_latex(check.residuals[1])}$.")
    if check.residuals:
        return (f"*SymPy:* ✗ **not** the same update as step {previous}: the solved "
                f"$x_{{t+1}}$ differs by ${_latex(check.residuals[0])}$ and $v_{{t+1}}$ by "
                f"${_latex(check.residuals[1])}$.")
    return f"*SymPy:* ✗ {check.message}"


def derivation_markdown(steps=None):
    r"""Every step of :data:`dlnotes.nesterov.DERIVATION` with its LaTeX and the result of its SymPy check, as Markdown.

    The equations are printed from the SymPy expressions that
    :func:`dlnotes.nesterov.verify_derivation` checks, and the verdict under each step is
    that function's output, computed when the page is built.
    """
    from IPython.display import Markdown

    steps = nesterov.DERIVATION if steps is None else tuple(steps)
    checks = nesterov.verify_derivation(steps)
    parts = []
    for i, (step, check) in enumerate(zip(steps, checks)):
        parts.append(f"**Step {i}: {step.title}.** {step.explanation}\n\n"
                     f"$$\n{step.latex}\n$$\n\n"
                     f"{_check_line(check, None if i == 0 else i - 1)}")
    ok = all(c.ok for c in checks)
    parts.append(f"**All {len(checks)} steps verified:** {ok}.")
    return Markdown("\n\n".join(parts))


def source_slips() -> dict[str, tuple[nesterov.DerivationStep, nesterov.DerivationStep]]:
    r"""The two wrong rearranged forms found in the course sources, each paired with the step it claims to follow from.

    * ``"(1-rho)/(1+rho)"``: :math:`\tilde x_{t+1} = \tilde x_t - \rho v_t + \frac{1-\rho}{1+\rho} v_{t+1}`
      (after step 3 of the derivation, where :math:`(1+\rho) v_{t+1}` is right);
    * ``"stray gradient"``: :math:`\tilde x_{t+1} = \tilde x_t + v_{t+1} + \rho(\nabla v_{t+1} - \nabla v_t)`,
      with the gradient applied to the velocities (after step 4).
    """
    S = nesterov.SYMBOLS
    rho, xt, xn, vt, vn, g = (S[k] for k in ("rho", "x_tilde_t", "x_tilde_next", "v_t", "v_next", "grad_f"))
    D = nesterov.DERIVATION

    def with_iterate(step, title, rhs):
        return dataclasses.replace(step, title=title, equations=(
            step.equations[0], sp.Eq(xn, rhs, evaluate=False)))

    frac = sp.Mul(sp.Mul(sp.Add(1, -rho, evaluate=False),
                         sp.Pow(sp.Add(1, rho, evaluate=False), -1, evaluate=False), evaluate=False),
                  vn, evaluate=False)
    slip1 = with_iterate(D[4], "Collect the new velocity, as one source writes it",
                         sp.Add(xt, sp.Mul(-1, rho, vt, evaluate=False), frac, evaluate=False))
    stray = sp.Mul(rho, sp.Add(g(vn), sp.Mul(-1, g(vt), evaluate=False), evaluate=False), evaluate=False)
    slip2 = with_iterate(D[5], "Step plus correction, as another source writes it",
                         sp.Add(xt, vn, stray, evaluate=False))
    return {"(1-rho)/(1+rho)": (D[3], slip1), "stray gradient": (D[4], slip2)}


def slips_markdown():
    """The slips of :func:`source_slips`, each with its LaTeX and the verdict of :func:`dlnotes.nesterov.verify_step`, as Markdown."""
    from IPython.display import Markdown

    index = {s.title: i for i, s in enumerate(nesterov.DERIVATION)}
    parts = []
    for previous, wrong in source_slips().values():
        k = index[previous.title]
        check = nesterov.verify_step(previous, wrong, k + 1)
        parts.append(f"**{wrong.title}:**\n\n$$\n{wrong.latex}\n$$\n\n{_check_line(check, k)}")
    return Markdown("\n\n".join(parts))


# ------------------------------------------------------------------ Nesterov, numerically

NESTEROV_LR, NESTEROV_RHO, NESTEROV_STEPS = 1e-3, 0.9, 1000
NESTEROV_START = (-1.2, 1.0)


def nesterov_forms(lr: float = NESTEROV_LR, momentum: float = NESTEROV_RHO,
                   steps: int = NESTEROV_STEPS) -> tuple[nesterov.NesterovComparison, Figure]:
    r"""Both forms of Nesterov momentum on Rosenbrock's function (:func:`dlnotes.nesterov.compare_forms`).

    Left: the look-ahead form's iterates :math:`x_t` (line), the rearranged form's
    :math:`\tilde x_t - \rho v_t` (every 25th as a ring) and its iterates :math:`\tilde x_t`
    (thin). Right: :math:`\lVert x_t - (\tilde x_t - \rho v_t)\rVert_\infty` against the step.
    Returns ``(comparison, figure)``.
    """
    r = landscapes.Rosenbrock()
    cmp = nesterov.compare_forms(r.grad, np.array(NESTEROV_START), lr, momentum, steps)
    fig = new_figure(9.5, 3.4)
    ax, ax_r = fig.subplots(1, 2)
    _contours(ax, r, ((-1.6, 1.6), (-0.6, 1.6)), levels=np.geomspace(0.05, 200, 10))
    ax.plot(cmp.x_tilde[:, 0], cmp.x_tilde[:, 1], color=OPTIMIZER_COLORS["Nesterov"], lw=0.8,
            alpha=0.6, label=r"rearranged form: $\tilde x_t$")
    ax.plot(cmp.x_lookahead[:, 0], cmp.x_lookahead[:, 1], color="black", lw=1.3,
            label=r"look-ahead form: $x_t$")
    every = cmp.x_from_tilde[::25]
    ax.plot(every[:, 0], every[:, 1], "o", mfc="none", color=OPTIMIZER_COLORS["Nesterov"], ms=6,
            label=r"$\tilde x_t - \rho v_t$ (every 25th)")
    ax.plot([1], [1], "*", color="black", ms=10)
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(f"Rosenbrock, $\\alpha = {lr:g}$, $\\rho = {momentum:g}$, {steps} steps")
    ax.legend(fontsize=7, loc="lower right")
    diff = np.max(np.abs(cmp.x_lookahead - cmp.x_from_tilde), axis=1)
    t = np.arange(steps + 1)
    pos = diff > 0
    ax_r.semilogy(t[pos], diff[pos], ".", ms=2, color=OPTIMIZER_COLORS["Nesterov"],
                  label=f"nonzero differences ({int(pos.sum())} of {steps + 1} steps)")
    ax_r.axhline(1e-12, color="black", lw=0.8, ls="--", label="$10^{-12}$")
    ax_r.axhline(np.finfo(float).eps, color="0.5", lw=0.8, ls=":", label="machine epsilon")
    ax_r.set_ylim(1e-18, 1e-9)
    ax_r.set_xlabel("step $t$")
    ax_r.set_ylabel(r"$\Vert x_t - (\tilde x_t - \rho v_t)\Vert_\infty$")
    ax_r.set_title(f"Largest difference: {cmp.max_abs_difference:.1e}")
    ax_r.legend(fontsize=7.5, frameon=False, loc="upper left")
    return cmp, fig


# ------------------------------------------------------------------ the valley explorable

VALLEY = dict(a=1.0, b=10.0)
VALLEY_START = (-1.5, 2.5)
VALLEY_STEPS = 200
VALLEY_BOUNDS = ((-2.0, 2.0), (-1.0, 3.0))
_VALLEY_RHOS = [0.0, 0.5, 0.8, 0.9, 0.95]
_VALLEY_LRS = [0.001, 0.003, 0.01, 0.02]


def _draw_valley(fig: Figure, rho: float, lr: float):
    f = landscapes.Rosenbrock(**VALLEY)
    x0 = np.array(VALLEY_START)
    ax, ax_r = fig.subplots(1, 2, width_ratios=[1, 1.15])
    _contours(ax, f, VALLEY_BOUNDS, levels=np.geomspace(0.03, 300, 9), n=121)
    names = ("GD", "Momentum", "Nesterov")
    widths = {"GD": 2.2, "Momentum": 1.6, "Nesterov": 1.1}
    paths = {n: ax.plot([], [], color=OPTIMIZER_COLORS[n], lw=widths[n])[0] for n in names}
    start = ax.plot([x0[0]], [x0[1]], "o", color="black", ms=5)[0]
    star = ax.plot(f.minimizers[:, 0], f.minimizers[:, 1], "*", color="black", ms=10)[0]
    ax.set_xlim(VALLEY_BOUNDS[0])
    ax.set_ylim(VALLEY_BOUNDS[1])
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(f"$(1-x_1)^2 + {VALLEY['b']:g}\\,(x_2 - x_1^2)^2$")
    steps = np.arange(VALLEY_STEPS + 1)
    curves = {n: ax_r.semilogy([], [], color=OPTIMIZER_COLORS[n], lw=widths[n])[0] for n in names}
    ax_r.set_xlim(0, VALLEY_STEPS)
    ax_r.set_ylim(1e-12, 1e3)
    ax_r.set_xlabel("step $t$")
    ax_r.set_ylabel("loss $f(x_t)$ (log scale)")
    title = ax_r.set_title(" ")
    legend = ax_r.legend(handles=list(curves.values()), labels=list(names), fontsize=8,
                         loc="lower left", frameon=True)

    def update(rho: float, lr: float) -> list:
        runs = optim.race(_sgd_makers(lr, rho), f, f.grad, x0, VALLEY_STEPS)
        for text, n in zip(legend.get_texts(), names):
            tr = runs[n]
            paths[n].set_data(tr.xs[:, 0], tr.xs[:, 1])
            curves[n].set_data(steps, np.maximum(tr.losses, 1e-300))
            end = "diverged" if tr.diverged or not np.isfinite(tr.losses[-1]) or tr.losses[-1] > 1e3 \
                else f"f = {tr.losses[-1]:.1e}"
            text.set_text(f"{n}: {end}")
        title.set_text(f"ρ = {rho:g}, α = {lr:g}")
        # the spines are drawn over the lines in a full redraw: redraw them on top here too
        return [*paths.values(), start, star, *curves.values(), legend, title,
                *ax.spines.values(), *ax_r.spines.values()]

    update(rho, lr)
    return update


def valley_explorable() -> Explorable:
    """Explorable: momentum ρ and learning rate α for GD, momentum and Nesterov in a Rosenbrock valley."""
    return Explorable(
        _draw_valley,
        [Control("rho", "momentum ρ", _VALLEY_RHOS, value=0.9),
         Control("lr", "learning rate α", _VALLEY_LRS, value=0.003)],
        alt=("Left: contour lines of a curved Rosenbrock valley with the paths of gradient descent "
             "(grey), momentum (blue) and Nesterov momentum (cyan) from the point (-1.5, 2.5) "
             "towards the minimum at (1, 1). Right: the loss of each method over 200 steps on a "
             "log scale. With momentum near 0.9 the two momentum methods reach the minimum far "
             "sooner than gradient descent; with the largest rates they overshoot and diverge, "
             "Nesterov first."),
        caption="Gradient descent (grey), momentum (blue) and Nesterov (cyan) in a curved valley. "
                "At ρ = 0 all three are the same method.",
        figsize=(8.6, 3.4), dpi=75)
