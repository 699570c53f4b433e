"""Exercises for the chapter *Second-order methods and line search*.

Solutions come from :mod:`dlnotes.newton`, :mod:`dlnotes.linesearch` and :mod:`dlnotes.quasi_newton`.
"""

from __future__ import annotations

import numpy as np

from .. import linesearch, newton, quasi_newton
from . import Part, Variant, exercise
from .gradient_descent import _spd_matrix as _spd  # one helper for the bank's 2x2 SPD matrices

CHAPTER = "second-order"


def _num(v: float, digits: int = 4) -> str:
    return f"{round(float(v), digits) + 0.0:g}"


def _vec(v, digits: int = 4) -> str:
    return "(" + ", ".join(_num(x, digits) for x in np.ravel(v)) + ")"


def _mat(M, digits: int = 4) -> str:
    rows = r" \\ ".join(" & ".join(_num(x, digits) for x in row) for row in np.asarray(M))
    return r"\begin{pmatrix} " + rows + r" \end{pmatrix}"


@exercise("second-order.newton-step", title="One Newton step", chapter=CHAPTER,
          topic="Newton's method", points=2, answer_type="numeric")
def _newton_step(rng: np.random.Generator) -> Variant:
    H = _spd(rng)
    x = rng.integers(-3, 4, size=2).astype(float)
    g = rng.integers(-4, 5, size=2).astype(float)
    if not g.any():
        g[0] = 1.0
    q = newton.newton_direction(g, H)
    x_new = x + q
    prompt = (f"At the iterate $x_t = {_vec(x)}$ the gradient is $g_t = {_vec(g)}$ and the Hessian is "
              f"$H_t = {_mat(H)}$. Compute the Newton direction $q_t = -H_t^{{-1}} g_t$ and the Newton "
              "step $x_{t+1} = x_t + q_t$. Answer with four numbers: $q_t$, then $x_{t+1}$ "
              "(or just $x_{t+1}$).")
    det = H[0, 0] * H[1, 1] - H[0, 1] ** 2
    explanation = (f"Solve $H_t q_t = -g_t$. With $\\det H_t = {_num(det)}$, "
                   f"$H_t^{{-1}} = \\frac{{1}}{{{_num(det)}}}{_mat([[H[1, 1], -H[0, 1]], [-H[0, 1], H[0, 0]]])}$, "
                   f"so $q_t = {_vec(q)}$ and $x_{{t+1}} = {_vec(x_new)}$. Check: "
                   f"$g_t^\\top q_t = {_num(g @ q)} < 0$, a descent direction, since $H_t$ is positive "
                   "definite. The sign slip $x_t + H_t^{-1} g_t$ would give "
                   f"${_vec(x - q)}$.")
    return Variant(prompt, {"H": H.tolist(), "x": x.tolist(), "g": g.tolist()}, x_new.tolist(),
                   explanation, rtol=1e-3, atol=1e-4, parts=(Part("q_t", q.tolist()),))


@exercise("second-order.bfgs-update", title="One BFGS update, with the secant check", chapter=CHAPTER,
          topic="quasi-Newton methods", points=3, answer_type="numeric")
def _bfgs_update(rng: np.random.Generator) -> Variant:
    B = np.diag(rng.integers(1, 4, size=2).astype(float))
    while True:
        dx = rng.integers(-2, 3, size=2).astype(float)
        A = _spd(rng)
        dg = A @ dx
        if dx.any() and dg @ dx > 0:
            break
    B_new = quasi_newton.bfgs_update(B, dx, dg)
    Bdx = B @ dx
    prompt = (f"A BFGS method holds the Hessian approximation $B_t = {_mat(B)}$. The last step gave "
              f"$\\Delta x_t = {_vec(dx)}$ and $\\Delta g_t = {_vec(dg)}$. Compute $B_{{t+1}}$ with the BFGS "
              "update, and check that it satisfies the secant condition $B_{t+1}\\Delta x_t = \\Delta g_t$. "
              "Answer with the four entries of $B_{t+1}$, row by row.")
    explanation = (f"The curvature is $\\Delta g_t^\\top \\Delta x_t = {_num(dg @ dx)} > 0$, so the update is "
                   f"allowed. $B_t\\Delta x_t = {_vec(Bdx)}$ and $\\Delta x_t^\\top B_t \\Delta x_t = {_num(dx @ Bdx)}$. "
                   "Then $B_{t+1} = B_t + \\frac{\\Delta g_t \\Delta g_t^\\top}{\\Delta g_t^\\top \\Delta x_t} - "
                   "\\frac{B_t \\Delta x_t \\Delta x_t^\\top B_t}{\\Delta x_t^\\top B_t \\Delta x_t} = "
                   f"{_mat(B_new)}$, and $B_{{t+1}}\\Delta x_t = {_vec(B_new @ dx)} = \\Delta g_t$.")
    return Variant(prompt, {"B": B.tolist(), "dx": dx.tolist(), "dg": dg.tolist()},
                   B_new.ravel().tolist(), explanation, rtol=1e-3, atol=1e-4)


@exercise("second-order.golden-interval", title="The golden-section interval after two steps",
          chapter=CHAPTER, topic="line search", points=2, answer_type="numeric")
def _golden_interval(rng: np.random.Generator) -> Variant:
    lo = float(rng.integers(-2, 1))
    hi = lo + float(rng.choice([2.0, 3.0, 4.0]))
    c = round(float(rng.uniform(lo + 0.1, hi - 0.1)), 1)
    res = linesearch.golden_section(lambda e: (e - c) ** 2, lo, hi, steps=2)
    iv = res.intervals
    G = linesearch.GOLDEN
    lines = []
    for k in range(2):
        a, b = iv[k]
        lines.append(f"- step {k + 1}: interior points ${_num(b - G * (b - a))}$ and ${_num(a + G * (b - a))}$; "
                     f"the interval becomes $[{_num(iv[k + 1][0])}, {_num(iv[k + 1][1])}]$")
    prompt = (f"Golden-section search minimises $f(\\eta) = (\\eta - {_num(c)})^2$ on "
              f"$[\\eta_{{\\mathrm{{lo}}}}, \\eta_{{\\mathrm{{hi}}}}] = [{_num(lo)}, {_num(hi)}]$. Each step compares "
              "the two interior points at fractions $1 - 0.618$ and $0.618$ of the interval (with "
              "$0.618 = (\\sqrt5 - 1)/2$) and drops the part beyond the worse one. Give the interval "
              "after two steps (two numbers), and check its length against $0.618^2$ times the first.")
    explanation = ("\n".join(lines) + f"\n\nThe length is ${_num(iv[2][1] - iv[2][0])} = 0.618^2 \\cdot "
                   f"{_num(hi - lo)}$: each step shrinks the interval by exactly $0.618$.")
    return Variant(prompt, {"lo": lo, "hi": hi, "c": c, "steps": 2}, iv[2].tolist(), explanation,
                   rtol=1e-3, atol=1e-3)


@exercise("second-order.backtracking", title="The step that backtracking accepts", chapter=CHAPTER,
          topic="line search", points=2, answer_type="numeric")
def _backtracking(rng: np.random.Generator) -> Variant:
    lam = float(rng.choice([3.0, 4.0, 5.0, 6.0, 8.0]))
    x = float(rng.choice([-2.0, -1.0, 1.0, 2.0]))
    c1 = float(rng.choice([0.1, 0.3, 0.5]))

    def f(p):
        return 0.5 * lam * float(p[0]) ** 2

    g = np.array([lam * x])
    res = linesearch.backtracking(f, np.array([x]), g, -g, eta0=1.0, c1=c1, shrink=0.5)
    rows = "\n".join(f"- $\\eta = {_num(e)}$: $f = {_num(v)}$, bound "
                     f"${_num(f([x]) - c1 * e * g[0] ** 2)}$: {'accept' if k == len(res.tried) - 1 else 'reject'}"
                     for k, (e, v) in enumerate(zip(res.tried, res.values)))
    prompt = (f"Minimise $f(x) = \\tfrac12\\lambda x^2$ with curvature $\\lambda = {_num(lam)}$, from $x_t = {_num(x)}$ along $q_t = -g_t$. "
              f"Backtracking starts at $\\eta = 1$ and halves $\\eta$ until the Armijo condition "
              f"$f(x_t + \\eta q_t) \\le f(x_t) + c_1 \\eta\\, g_t^\\top q_t$ holds, with $c_1 = {_num(c1)}$. "
              "Which $\\eta$ is accepted?")
    explanation = (f"$g_t = {_num(g[0])}$, $g_t^\\top q_t = {_num(-g[0] ** 2)}$, $f(x_t) = {_num(f([x]))}$.\n\n"
                   f"{rows}\n\nThe exact minimiser along $q_t$ is $\\eta^* = 1/\\lambda = {_num(1 / lam)}$; "
                   "backtracking accepts the first halving that decreases $f$ enough.")
    return Variant(prompt, {"lambda": lam, "x": x, "c1": c1, "eta0": 1.0, "shrink": 0.5}, res.eta,
                   explanation, rtol=1e-9, atol=1e-12)
