r"""Figures, comparisons and the explorable of the chapter *Second-order methods and line search*.

Every number drawn here is computed by :mod:`dlnotes.newton`, :mod:`dlnotes.linesearch`,
:mod:`dlnotes.quasi_newton` and :mod:`dlnotes.landscapes`; the comparisons call SciPy and
PyTorch as the references a reader would otherwise use.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np
from matplotlib.figure import Figure

from .. import landscapes, linesearch, newton, optim, quasi_newton
from ..datasets import digits
from ..explorables import Control, Explorable
from . import new_figure

__all__ = [
    "METHOD_COLORS", "gd_backtracking", "rosenbrock_runs", "rosenbrock_figure", "saddle_runs",
    "saddle_figure", "cost_table", "cost_timings", "cost_figure", "backtracking_figure",
    "golden_figure", "digits_problem", "scipy_torch_runs", "logistic_race", "logistic_figure",
    "minibatch_runs", "minibatch_figure", "valley_explorable", "linesearch_run", "linesearch_explorable",
]

METHOD_COLORS = {
    "GD": "#555555",
    "Newton": "#1b9e77",
    "damped Newton": "#66a61e",
    "BFGS": "#d95f02",
    "L-BFGS": "#7570b3",
    "SGD": "#555555",
    "Adam": "#d62728",
    "minibatch L-BFGS": "#7570b3",
}


# ------------------------------------------------------------------ runs

def gd_backtracking(f: Callable, grad_f: Callable, x0: Any, steps: int, *, eta0: float = 1.0,
                    gtol: float = 0.0) -> dict[str, Any]:
    r"""Gradient descent with Armijo backtracking from ``eta0`` at every step; records iterates and evaluations."""
    x = np.asarray(x0, dtype=float).copy()
    fx = float(f(x))
    xs, losses, evals = [x.copy()], [fx], [1]
    for _ in range(steps):
        g = np.asarray(grad_f(x), dtype=float)
        if np.linalg.norm(g) <= gtol:
            break
        ls = linesearch.backtracking(f, x, g, -g, eta0=eta0, f_x=fx)
        x = x - ls.eta * g
        fx = ls.values[-1]
        xs.append(x.copy())
        losses.append(fx)
        evals.append(evals[-1] + ls.evaluations)
    return {"xs": np.array(xs), "losses": np.array(losses), "evaluations": np.array(evals)}


ROSENBROCK_START = (-1.2, 1.0)


def rosenbrock_runs(steps: int = 60) -> dict[str, Any]:
    """Pure Newton, damped Newton and backtracking GD on Rosenbrock's valley from (-1.2, 1)."""
    f = landscapes.Rosenbrock()
    x0 = np.array(ROSENBROCK_START)
    pure = newton.newton(f, f.grad, f.hessian, x0, steps, gtol=1e-12)
    damped = newton.damped_newton(f, f.grad, f.hessian, x0, steps, gtol=1e-12)
    gd = gd_backtracking(f, f.grad, x0, 2000)
    return {"f": f, "Newton": pure, "damped Newton": damped, "GD": gd}


def _contours(ax, f, bounds, levels, n=161):
    X, Y, Z = f.grid(n, bounds)
    ax.contour(X, Y, Z, levels=levels, colors="0.75", linewidths=0.7)


def rosenbrock_figure(runs: dict[str, Any]) -> Figure:
    """Left: paths on Rosenbrock's valley; right: f(x_t) against the iteration, log scale."""
    fig = new_figure(9.0, 3.6)
    ax, ax_r = fig.subplots(1, 2)
    f = runs["f"]
    bounds = ((-1.6, 1.6), (-0.6, 2.2))
    _contours(ax, f, bounds, np.geomspace(0.05, 500, 10))
    for name in ("GD", "damped Newton", "Newton"):
        xs = runs[name]["xs"] if isinstance(runs[name], dict) else runs[name].xs
        losses = runs[name]["losses"] if isinstance(runs[name], dict) else runs[name].losses
        ax.plot(xs[:, 0], xs[:, 1], ".-", color=METHOD_COLORS[name], lw=1.2, ms=3, label=name)
        ax_r.semilogy(np.arange(len(losses)), np.maximum(losses, 1e-30), color=METHOD_COLORS[name],
                      label=name)
    ax.plot(*ROSENBROCK_START, "o", color="black", ms=5)
    ax.plot(1, 1, "*", color="black", ms=10)
    ax.set_xlim(bounds[0])
    ax.set_ylim(bounds[1])
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title("paths from (-1.2, 1)")
    ax_r.set_xlim(0, 120)
    ax_r.set_xlabel("iteration $t$")
    ax_r.set_ylabel("$f(x_t)$ (log scale)")
    ax_r.legend(fontsize=8)
    ax_r.set_title("loss against iterations")
    return fig


SADDLE_START = (1.0, 0.3)


def saddle_runs(steps: int = 30) -> dict[str, Any]:
    r"""Pure Newton, damped Newton and backtracking GD on :class:`dlnotes.landscapes.EscapeSaddle` from (1, 0.3)."""
    f = landscapes.EscapeSaddle()
    x0 = np.array(SADDLE_START)
    return {"f": f,
            "Newton": newton.newton(f, f.grad, f.hessian, x0, steps, gtol=1e-14),
            "damped Newton": newton.damped_newton(f, f.grad, f.hessian, x0, steps, gtol=1e-14),
            "GD": gd_backtracking(f, f.grad, x0, steps, eta0=0.5)}


def saddle_figure(runs: dict[str, Any]) -> Figure:
    """Paths of the three methods on the smooth saddle, with the saddle and the two minima marked."""
    fig = new_figure(5.2, 4.0)
    ax = fig.add_subplot()
    f = runs["f"]
    _contours(ax, f, f.bounds, np.linspace(-0.24, 2.0, 14))
    for name, style in (("GD", "s-"), ("damped Newton", "^-"), ("Newton", "o-")):
        xs = runs[name]["xs"] if isinstance(runs[name], dict) else runs[name].xs
        ax.plot(xs[:, 0], xs[:, 1], style, color=METHOD_COLORS[name], lw=1.2, ms=4, label=name)
    ax.plot(0, 0, "X", color="black", ms=9, label="saddle")
    ax.plot(f.minimizers[:, 0], f.minimizers[:, 1], "*", color="black", ms=11, label="minima")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_xlim(f.bounds[0])
    ax.set_ylim(f.bounds[1])
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title(r"$x_1^2 + x_2^4/4 - x_2^2/2$ from (1, 0.3)")
    return fig


# ------------------------------------------------------------------ cost

def cost_table(ns=(10, 1_000, 100_000, 10_000_000)) -> list[list[Any]]:
    """Rows (n, Hessian memory in bytes (float64), Newton flops, gradient-step flops, their ratio)."""
    rows = []
    for n in ns:
        c, g = newton.newton_cost(n), newton.gradient_step_cost(n)
        rows.append([n, 8 * c["memory_floats"], c["flops"], g["flops"], c["flops"] / g["flops"]])
    return rows


def cost_timings(ns=(25, 50, 100, 200, 400, 800), repeats: int = 3, seed: int = 0) -> dict[str, np.ndarray]:
    """Measured seconds (best of ``repeats``) of one Newton solve and one gradient step, per n.

    For the figure only: times on a shared machine are shapes, not numbers to quote.
    """
    rng = np.random.default_rng(seed)
    solve, step = [], []
    for n in ns:
        M = rng.standard_normal((n, n))
        H = M @ M.T / n + np.eye(n)
        g, x = rng.standard_normal(n), rng.standard_normal(n)
        best_s = best_g = np.inf
        for _ in range(repeats):
            t0 = time.perf_counter()
            newton.newton_direction(g, H)
            best_s = min(best_s, time.perf_counter() - t0)
            t0 = time.perf_counter()
            optim.gd_step(x, g, 0.1)
            best_g = min(best_g, time.perf_counter() - t0)
        solve.append(best_s)
        step.append(best_g)
    return {"n": np.array(ns, dtype=float), "newton": np.array(solve), "gd": np.array(step)}


def cost_figure(timings: dict[str, np.ndarray]) -> Figure:
    """Log-log plot: counted flops (lines) and measured seconds (markers) of a Newton step and a gradient step."""
    fig = new_figure(8.6, 3.4)
    ax, ax_t = fig.subplots(1, 2)
    ns = np.geomspace(10, 1e4, 30)
    ax.loglog(ns, [newton.newton_cost(int(n))["flops"] for n in ns], color=METHOD_COLORS["Newton"],
              label=r"Newton solve ($2n^3/3$)")
    ax.loglog(ns, [newton.gradient_step_cost(int(n))["flops"] for n in ns], color=METHOD_COLORS["GD"],
              label="gradient step ($2n$)")
    ax.set_xlabel("dimension $n$")
    ax.set_ylabel("floating-point operations")
    ax.set_title("counted")
    ax.legend(fontsize=8)
    n = timings["n"]
    ax_t.loglog(n, timings["newton"], "o-", color=METHOD_COLORS["Newton"], label="Newton solve")
    ax_t.loglog(n, timings["gd"], "s-", color=METHOD_COLORS["GD"], label="gradient step")
    ax_t.set_xlabel("dimension $n$")
    ax_t.set_ylabel("seconds (this machine)")
    ax_t.set_title("measured at build time")
    ax_t.legend(fontsize=8)
    return fig


# ------------------------------------------------------------------ line searches

def backtracking_figure(f, x, q, result: linesearch.Backtracking, c1: float) -> Figure:
    r""":math:`f(x_t + \eta q_t)` against :math:`\eta`, the Armijo line, the tried steps and the accepted one."""
    fig = new_figure(6.4, 3.4)
    ax = fig.add_subplot()
    g = f.grad(x)
    slope = float(g @ q)
    etas = np.linspace(0.0, 1.05 * max(result.tried), 300)
    vals = np.array([f(x + e * q) for e in etas])
    fx = f(x)
    ax.plot(etas, vals, color="black", lw=1.5, label=r"$f(x_t + \eta q_t)$")
    ax.plot(etas, fx + c1 * etas * slope, "--", color=METHOD_COLORS["BFGS"],
            label=r"Armijo line $f(x_t) + c_1 \eta\, g_t^\top q_t$")
    ax.plot(etas, fx + etas * slope, ":", color="0.4", label=r"tangent $f(x_t) + \eta\, g_t^\top q_t$")
    ax.plot(result.tried[:-1], result.values[:-1], "x", color="#d62728", ms=8, mew=2, label="rejected")
    ax.plot(result.tried[-1:], result.values[-1:], "o", color=METHOD_COLORS["Newton"], ms=8,
            label="accepted")
    top = max(vals.max(), fx)
    ax.set_ylim(min(vals.min(), fx + slope * etas[-1] * 0.2) - 0.05 * abs(top), top + 0.05 * abs(top) + 1e-9)
    ax.set_xlabel(r"step length $\eta$")
    ax.set_ylabel(r"$f(x_t + \eta q_t)$")
    ax.legend(fontsize=8)
    return fig


def golden_figure(result: linesearch.GoldenSection) -> Figure:
    """Interval length after k golden-section steps (log scale), with the line 0.618^k times the first."""
    fig = new_figure(5.6, 3.2)
    ax = fig.add_subplot()
    iv = result.intervals
    k = np.arange(len(iv))
    lengths = iv[:, 1] - iv[:, 0]
    ax.semilogy(k, lengths, "o", color=METHOD_COLORS["BFGS"], label="measured length")
    ax.semilogy(k, lengths[0] * linesearch.GOLDEN ** k, "-", color="black", lw=1,
                label=r"$0.618^k$ times the first")
    ax.set_xlabel("step $k$")
    ax.set_ylabel("interval length (log scale)")
    ax.legend(fontsize=8)
    return fig


# ------------------------------------------------------------------ logistic regression on digits

def digits_problem(weight_decay: float = 1e-3) -> quasi_newton.LogisticRegression:
    """Digits 0-4 (label -1) against 5-9 (+1): 1258 standardised training images, 64 pixels and a bias."""
    d = digits()
    X = np.hstack([d.X_train, np.ones((len(d.X_train), 1))])
    y = np.where(d.y_train < 5, -1.0, 1.0)
    return quasi_newton.LogisticRegression(X, y, weight_decay)


def scipy_torch_runs(f: Callable, grad_f: Callable, x0: Any, *, gtol: float = 1e-6,
                     memory: int = 10, max_iter: int = 2000) -> dict[str, dict[str, Any]]:
    """SciPy's BFGS and L-BFGS-B and torch.optim.LBFGS (strong Wolfe) from ``x0``: iterations, evaluations, final f."""
    import scipy.optimize as so
    import torch

    out = {}
    x0 = np.asarray(x0, dtype=float)
    for method, opts in (("BFGS", {"gtol": gtol, "maxiter": max_iter}),
                         ("L-BFGS-B", {"gtol": gtol, "maxcor": memory, "maxiter": max_iter,
                                       "ftol": 1e-15})):
        res = so.minimize(f, x0, jac=grad_f, method=method, options=opts)
        out[f"scipy {method}"] = {"iterations": int(res.nit), "evaluations": int(res.nfev),
                                  "f": float(res.fun), "x": res.x}
    w = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], lr=1.0, max_iter=max_iter, max_eval=2 * max_iter,
                            tolerance_grad=gtol, tolerance_change=1e-15, history_size=memory,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        x = w.detach().numpy()
        w.grad = torch.as_tensor(np.asarray(grad_f(x), dtype=float))
        return torch.tensor(float(f(x)), dtype=torch.float64)

    opt.step(closure)
    st = opt.state[w]
    out["torch LBFGS"] = {"iterations": int(st["n_iter"]), "evaluations": int(st["func_evals"]),
                          "f": float(f(w.detach().numpy())), "x": w.detach().numpy().copy()}
    return out


def logistic_race(obj: quasi_newton.LogisticRegression, gtol: float = 1e-6, gd_steps: int = 3000) -> dict[str, Any]:
    """BFGS, L-BFGS and backtracking GD on the full-batch logistic regression, from zero."""
    w0 = np.zeros(obj.dim)
    L = float(np.linalg.eigvalsh(obj.hessian(w0)).max())   # the largest curvature bound: sigma' <= 1/4 at 0
    runs = {"BFGS": quasi_newton.bfgs(obj, obj.grad, w0, gtol=gtol, max_iter=2000),
            "L-BFGS": quasi_newton.lbfgs(obj, obj.grad, w0, gtol=gtol, max_iter=2000),
            "GD": gd_backtracking(obj, obj.grad, w0, gd_steps, eta0=4.0 / L, gtol=gtol)}
    return runs


def logistic_figure(runs: dict[str, Any], f_star: float) -> Figure:
    r""":math:`f(\theta_t) - f^*` against function-and-gradient evaluations for GD, BFGS and L-BFGS."""
    fig = new_figure(6.4, 3.4)
    ax = fig.add_subplot()
    for name in ("GD", "BFGS", "L-BFGS"):
        r = runs[name]
        if isinstance(r, dict):
            ev, losses = r["evaluations"], r["losses"]
        else:
            ev, losses = r.evaluation_counts, r.losses
        ax.semilogy(ev, np.maximum(losses - f_star, 1e-16), color=METHOD_COLORS[name], label=name)
    ax.set_xlabel("function and gradient evaluations")
    ax.set_ylabel(r"$f(\theta_t) - f^\ast$ (log scale)")
    ax.set_xlim(0, 600)
    ax.legend(fontsize=8)
    return fig


def minibatch_runs(obj: quasi_newton.LogisticRegression, steps: int = 300, batch_size: int = 32,
                   seed: int = 0) -> dict[str, Any]:
    """Minibatch L-BFGS (step 1 and 0.1), SGD and Adam with the same minibatch sequence length and size."""
    w0 = np.zeros(obj.dim)
    out = {}
    for lr in (1.0, 0.1):
        out[f"L-BFGS, step {lr:g}"] = quasi_newton.minibatch_lbfgs(obj, w0, steps, batch_size, lr=lr, seed=seed)
    N = obj.X.shape[0]
    for name, lr in (("SGD", 0.1), ("Adam", 0.01)):
        rng = np.random.default_rng(seed)
        w, m, s = w0.copy(), np.zeros_like(w0), np.zeros_like(w0)
        losses = [obj(w)]
        for t in range(steps):
            g = obj.grad(w, rng.choice(N, batch_size, replace=False))
            if name == "SGD":
                w = optim.gd_step(w, g, lr)
            else:
                w, m, s = optim.adam_step(w, m, s, g, t + 1, lr=lr)
            losses.append(obj(w))
        out[name] = np.array(losses)
    return out


def minibatch_figure(runs: dict[str, Any], f_star: float) -> Figure:
    """Full-batch loss gap against steps of batch 32: minibatch L-BFGS against SGD and Adam."""
    fig = new_figure(6.4, 3.4)
    ax = fig.add_subplot()
    styles = {"SGD": ("SGD", "-"), "Adam": ("Adam", "-"),
              "L-BFGS, step 1": ("minibatch L-BFGS", "-"), "L-BFGS, step 0.1": ("minibatch L-BFGS", "--")}
    for name, (color, ls) in styles.items():
        r = runs[name]
        losses = r if isinstance(r, np.ndarray) else r.losses
        ax.semilogy(np.arange(len(losses)), np.clip(losses - f_star, 1e-6, 1e6),
                    ls, color=METHOD_COLORS[color], label=name)
    ax.set_xlabel("step (one minibatch of 32 each)")
    ax.set_ylabel(r"full-batch $f(\theta_t) - f^\ast$ (log scale)")
    ax.legend(fontsize=8)
    return fig


# ------------------------------------------------------------------ the valley explorable

VALLEY_BS = [2.0, 10.0, 30.0, 100.0]
VALLEY_STARTS = [-1.5, -1.0, -0.5, 0.5]
VALLEY_ITERS = 40
VALLEY_BOUNDS = ((-2.0, 2.0), (-1.0, 3.0))


def valley_runs(b: float, x1: float) -> dict[str, np.ndarray]:
    """Iterates of backtracking GD, damped Newton and BFGS on Rosenbrock(1, b) from (x1, 2.5), 40 iterations each."""
    f = landscapes.Rosenbrock(1.0, b)
    x0 = np.array([x1, 2.5])
    gd = gd_backtracking(f, f.grad, x0, VALLEY_ITERS)["xs"]
    dn = newton.damped_newton(f, f.grad, f.hessian, x0, VALLEY_ITERS, gtol=1e-10).xs
    bf = quasi_newton.bfgs(f, f.grad, x0, max_iter=VALLEY_ITERS, gtol=1e-10).xs
    return {"GD": gd, "damped Newton": dn, "BFGS": bf, "f": f}


def _draw_valley(fig: Figure, b: float, x1: float):
    ax, ax_r = fig.subplots(1, 2, width_ratios=[1, 1.15])
    floor = np.linspace(VALLEY_BOUNDS[0][0], VALLEY_BOUNDS[0][1], 200)
    # the valley floor x2 = x1^2 does not depend on b, so it can stay in the background
    ax.plot(floor, floor ** 2, "--", color="0.6", lw=1, label="valley floor $x_2 = x_1^2$")
    names = ("GD", "BFGS", "damped Newton")
    paths = {n: ax.plot([], [], ".-", color=METHOD_COLORS[n], lw=1.2, ms=3)[0] for n in names}
    curves = {n: ax_r.semilogy([], [], color=METHOD_COLORS[n], label=n)[0] for n in names}
    start = ax.plot([], [], "o", color="black", ms=5)[0]
    star = ax.plot([1.0], [1.0], "*", color="black", ms=10)[0]
    ax.set_xlim(VALLEY_BOUNDS[0])
    ax.set_ylim(VALLEY_BOUNDS[1])
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    title = ax.set_title(" ")
    legend_l = ax.legend(fontsize=8, loc="lower left")
    ax_r.set_xlim(0, VALLEY_ITERS)
    ax_r.set_ylim(1e-16, 1e4)
    ax_r.set_xlabel("iteration $t$")
    ax_r.set_ylabel("$f(x_t)$ (log scale)")
    legend = ax_r.legend(fontsize=8, loc="lower left")

    def update(b: float, x1: float) -> list:
        runs = valley_runs(b, x1)
        f = runs["f"]
        for n in names:
            xs = runs[n]
            paths[n].set_data(xs[:, 0], xs[:, 1])
            curves[n].set_data(np.arange(len(xs)), np.maximum(f(xs), 1e-16))
        start.set_data([x1], [2.5])
        title.set_text(f"$(1-x_1)^2 + {b:g}\\,(x_2 - x_1^2)^2$")
        return [*paths.values(), *curves.values(), start, star, title, legend_l, legend,
                *ax.spines.values(), *ax_r.spines.values()]

    update(b, x1)
    return update


def valley_explorable() -> Explorable:
    """Explorable: steepness b of the valley and the starting x1, for backtracking GD, damped Newton and BFGS."""
    return Explorable(
        _draw_valley,
        [Control("b", "valley steepness b", VALLEY_BS, value=10.0),
         Control("x1", "start x1 (x2 = 2.5)", VALLEY_STARTS, value=-1.5)],
        alt=("Left: the curved floor x2 = x1^2 of a Rosenbrock valley with the paths of gradient descent with "
             "backtracking (grey), damped Newton (green) and BFGS (orange), 40 iterations each, from "
             "a start on the line x2 = 2.5. Right: the loss of each against the iteration, log scale. "
             "Damped Newton reaches the minimum at (1, 1) to 1e-10 within the 40 iterations for every "
             "setting, BFGS for every steepness up to 30, and gradient descent for none: its loss "
             "stays above 1e-6."),
        caption="Gradient descent, damped Newton and BFGS in a curved valley: move the sliders.",
        figsize=(8.4, 3.4))


# ------------------------------------------------------------------ explorable: backtracking at work

LS_C1S = (1e-4, 0.1, 0.3, 0.5, 0.7, 0.9)
LS_SHRINKS = (0.1, 0.3, 0.5, 0.7, 0.9)
LS_ETA0 = 1e-2


def linesearch_run(c1: float, shrink: float) -> linesearch.Backtracking:
    r"""Backtracking along steepest descent on Rosenbrock's function at (-1.2, 1), first guess :math:`10^{-2}`."""
    f = landscapes.Rosenbrock()
    x = np.array([-1.2, 1.0])
    g = f.grad(x)
    return linesearch.backtracking(f, x, g, -g, eta0=LS_ETA0, c1=c1, shrink=shrink)


def _draw_linesearch(fig: Figure, c1: float, shrink: float):
    f = landscapes.Rosenbrock()
    x = np.array([-1.2, 1.0])
    g = f.grad(x)
    q = -g
    slope = float(g @ q)
    fx = float(f(x))
    etas = np.geomspace(5e-5, 1.2 * LS_ETA0, 400)       # the tries are geometric: a log axis
    vals = np.array([f(x + e * q) for e in etas])
    ax = fig.add_subplot()
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.plot(etas, vals, color="black", lw=1.5, label=r"$f(x_t + \eta q_t)$")
    tangent = fx + etas * slope
    ax.plot(etas, np.where(tangent > 0, tangent, np.nan), ":", color="0.4", label=r"tangent")
    armijo_line = ax.plot([], [], "--", color=METHOD_COLORS["BFGS"],
                          label=r"Armijo line $f(x_t) + c_1 \eta\, g_t^\top q_t$")[0]
    rejected = ax.plot([], [], "x", color="#d62728", ms=8, mew=2, label="rejected")[0]
    accepted = ax.plot([], [], "o", color=METHOD_COLORS["Newton"], ms=8, label="accepted")[0]
    ax.set_xlim(etas[0], etas[-1])
    ax.set_ylim(1.0, 2.0 * float(vals.max()))
    ax.axhline(fx, color="0.8", lw=0.8, zorder=0)
    ax.set_xlabel(r"step length $\eta$ (log scale)")
    ax.set_ylabel(r"$f(x_t + \eta q_t)$ (log scale)")
    legend = ax.legend(fontsize=8, loc="lower left")
    title = ax.set_title(" ", fontsize=9.5)

    def update(c1: float, shrink: float) -> list:
        bt = linesearch_run(c1, shrink)
        line = fx + c1 * etas * slope
        armijo_line.set_data(etas, np.where(line > 0, line, np.nan))
        rejected.set_data(bt.tried[:-1], bt.values[:-1])
        accepted.set_data(bt.tried[-1:], bt.values[-1:])
        title.set_text(f"$c_1$ = {c1:g}, $c_{{\\mathrm{{bt}}}}$ = {shrink:g}: {len(bt.tried)} tries, "
                       f"accepts η = {bt.eta:.3g}, f falls from {fx:.1f} to {bt.values[-1]:.1f}")
        return [armijo_line, rejected, accepted, legend, title, *ax.spines.values()]

    update(c1, shrink)
    return update


def linesearch_explorable() -> Explorable:
    """Explorable: the Armijo constant and the backtracking factor, with the steps tried and the one accepted."""
    return Explorable(
        _draw_linesearch,
        [Control("c1", "Armijo constant c₁", LS_C1S, value=1e-4),
         Control("shrink", "backtracking factor c_bt", LS_SHRINKS, value=0.5)],
        alt=("Rosenbrock's function along the steepest-descent direction from (-1.2, 1), against the "
             "step length from 0.00005 to 0.012, both axes logarithmic: a curve that dips below its "
             "starting value (a grey horizontal line) and then climbs far above it. A dotted "
             "tangent, a dashed Armijo line through the same start whose slope is c1 times the "
             "tangent's, red crosses at the rejected step lengths (above the Armijo line) and a "
             "green dot at the accepted one (on or below it). The title counts the tries and gives "
             "the accepted step and the new value of f."),
        caption=("Backtracking from a first guess of 0.01, multiplying by the factor until the Armijo "
                 "condition holds: move the constant and the factor."),
        figsize=(7.4, 3.4), dpi=80)
