"""Exercises for the chapter *Gradient descent and its problems*.

Solutions come from :mod:`dlnotes.landscapes`, :mod:`dlnotes.optim` and
:mod:`dlnotes.gradcheck`; the tests check them against PyTorch, closed forms and
enumeration.
"""

from __future__ import annotations

import math

import numpy as np

from .. import gradcheck, landscapes, optim
from . import Variant, exercise

CHAPTER = "gradient-descent"


def _vec(v, digits: int = 4) -> str:
    return "(" + ", ".join(f"{round(float(x), digits):g}" for x in v) + ")"


def _mat(A) -> str:
    rows = r" \\ ".join(" & ".join(f"{float(a):g}" for a in row) for row in A)
    return r"\begin{pmatrix} " + rows + r" \end{pmatrix}"


def _spd_matrix(rng: np.random.Generator) -> np.ndarray:
    """A symmetric positive definite 2x2 matrix with small integer entries."""
    while True:
        a, c = (int(v) for v in rng.integers(1, 9, size=2))
        b = int(rng.integers(-3, 4))
        if a * c - b * b > 0 and (a != c or b != 0):
            return np.array([[a, b], [b, c]], dtype=float)


@exercise("gradient-descent.stability-bound", title="The largest stable learning rate",
          chapter=CHAPTER, topic="ill-conditioning", points=2, answer_type="numeric")
def _stability_bound(rng: np.random.Generator) -> Variant:
    A = _spd_matrix(rng)
    q = landscapes.Quadratic(A)
    bound = landscapes.stability_bound(q)
    lam_min, lam_max = q.eigenvalues
    a11, a12, a22 = A[0, 0], A[0, 1], A[1, 1]
    prompt = (f"Gradient descent runs on $f(x) = \\tfrac12 x^\\top A x$ with $A = {_mat(A)}$. "
              r"Above which learning rate $\alpha$ does it diverge from almost every starting point? "
              r"(Give the bound $\alpha_{\max}$: it converges for every $\alpha < \alpha_{\max}$.)")
    explanation = (
        r"The eigenvalues of a symmetric $2\times 2$ matrix $A$ are "
        r"$\lambda_i = \frac{A_{11} + A_{22}}{2} \pm \sqrt{\big(\frac{A_{11} - A_{22}}{2}\big)^2 + A_{12}^2}$, here "
        f"$\\lambda_{{\\min}} = {lam_min:.4f}$ and $\\lambda_{{\\max}} = {lam_max:.4f}$ "
        f"($A_{{11}} = {a11:g}$, $A_{{12}} = {a12:g}$, $A_{{22}} = {a22:g}$). Each eigen-coordinate is multiplied by "
        r"$1 - \alpha\lambda_i$ per step, and all of them shrink iff $\lvert 1 - \alpha\lambda_i\rvert < 1$ "
        f"for every $i$, i.e. $\\alpha < 2/\\lambda_{{\\max}} = {bound:.4f}$. The smallest "
        "eigenvalue plays no part in stability; it only sets the speed.")
    return Variant(prompt, {"A": A.tolist()}, bound, explanation, rtol=1e-3)


@exercise("gradient-descent.gd-steps", title="Two gradient steps on a quadratic", chapter=CHAPTER,
          topic="gradient descent", points=2, answer_type="numeric")
def _gd_steps(rng: np.random.Generator) -> Variant:
    A = _spd_matrix(rng)
    x_star = rng.integers(-3, 4, size=2).astype(float)
    x0 = rng.integers(-2, 3, size=2).astype(float)
    if np.array_equal(x0, x_star):          # a start at the minimum would not move
        x0 = x0 + np.array([1.0, -1.0])
    lr = float(rng.choice([0.05, 0.1, 0.2]))
    q = landscapes.Quadratic(A, x_star=x_star)
    x1 = optim.gd_step(x0, q.grad(x0), lr)
    x2 = optim.gd_step(x1, q.grad(x1), lr)
    closed = landscapes.gd_on_quadratic(q, x0, lr, 2).iterates[-1]
    assert np.allclose(closed, x2, rtol=1e-12, atol=1e-12)
    prompt = (r"Take two gradient-descent steps $x_{t+1} = x_t - \alpha\nabla f(x_t)$ on "
              r"$f(x) = \tfrac12 (x - x^*)^\top A (x - x^*)$ with "
              f"$A = {_mat(A)}$ and the minimum at $x^* = {_vec(x_star, 0)}$, from "
              f"$x_0 = {_vec(x0, 0)}$ with $\\alpha = {lr:g}$. What is $x_2$?")
    g0, g1 = q.grad(x0), q.grad(x1)
    explanation = (r"The gradient is $\nabla f(x) = A(x - x^*)$. "
                   f"$\\nabla f(x_0) = {_vec(g0)}$, so $x_1 = {_vec(x1)}$; "
                   f"$\\nabla f(x_1) = {_vec(g1)}$, so $x_2 = {_vec(x2)}$, on its way to "
                   f"$x^* = {_vec(x_star, 0)}$.")
    return Variant(prompt, {"A": A.tolist(), "x_star": x_star.tolist(), "x0": x0.tolist(), "lr": lr},
                   x2.tolist(), explanation, rtol=1e-4, atol=1e-6)


_REGIME_TEXT = {
    "monotone": "it shrinks towards 0 without changing sign",
    "one step": "it is exactly 0 after one step",
    "oscillating": "it shrinks towards 0 while flipping sign every step",
    "bouncing": "it flips sign every step and keeps the same size",
    "diverging": "it flips sign every step and grows",
}


@exercise("gradient-descent.regime", title="What one eigen-direction does", chapter=CHAPTER,
          topic="ill-conditioning", points=1, answer_type="choice")
def _regime(rng: np.random.Generator) -> Variant:
    # powers of two and dyadic products, so that alpha * lambda is exact in floating point
    lam = float(rng.choice([0.5, 2.0, 4.0, 8.0]))
    product = float(rng.choice([0.25, 0.5, 1.0, 1.5, 1.75, 2.0, 2.5]))
    lr = product / lam
    regime = landscapes.gd_regime(lr, lam)
    keys = dict(zip("abcde", _REGIME_TEXT))          # option letter -> regime name
    answer = next(k for k, v in keys.items() if v == regime)
    prompt = (r"Gradient descent with learning rate $\alpha = " + f"{lr:g}" + r"$ runs on a quadratic "
              r"whose Hessian has an eigenvalue $\lambda_i = " + f"{lam:g}" + r"$. What happens to the "
              r"coordinate of $x_t - x^*$ along that eigenvector?")
    explanation = (f"Per step the coordinate is multiplied by $1 - \\alpha\\lambda_i = 1 - {product:g} = "
                   f"{1 - product:g}$. " + {
                       "monotone": "A factor in $(0, 1)$: it shrinks and keeps its sign.",
                       "one step": "A factor of 0: the coordinate vanishes in one step.",
                       "oscillating": "A factor in $(-1, 0)$: it shrinks and flips sign every step.",
                       "bouncing": r"A factor of $-1$: it flips forever; $\alpha = 2/\lambda_i$ is the "
                                   "edge of stability.",
                       "diverging": r"A factor below $-1$: it flips and grows; $\alpha > 2/\lambda_i$.",
                   }[regime])
    return Variant(prompt, {"lr": lr, "eigenvalue": lam}, answer, explanation,
                   choices={k: _REGIME_TEXT[v] for k, v in keys.items()})


@exercise("gradient-descent.finite-differences", title="Forward and centred differences",
          chapter=CHAPTER, topic="numerical gradients", points=2, answer_type="numeric")
def _finite_differences(rng: np.random.Generator) -> Variant:
    x0 = float(rng.choice([0.5, 1.0, 1.5, 2.0, 3.0]))
    h = float(rng.choice([0.1, 0.05, 0.01]))

    def f(v):
        return float(v[0] ** 3)

    fwd = float(gradcheck.forward_difference_gradient(f, [x0], h)[0])
    cen = float(gradcheck.numerical_gradient(f, [x0], h)[0])
    exact = 3 * x0 ** 2
    prompt = (f"Estimate the derivative of $f(x) = x^3$ at $x = {x0:g}$ with step $h = {h:g}$, "
              r"first with the forward difference $\frac{f(x + h) - f(x)}{h}$, then with the centred "
              r"difference $\frac{f(x + h) - f(x - h)}{2h}$. Answer as `forward, centred`.")
    explanation = (f"Forward: $({x0 + h:g}^3 - {x0:g}^3)/{h:g} = {fwd:.6f}$. "
                   f"Centred: $({x0 + h:g}^3 - {x0 - h:g}^3)/{2 * h:g} = {cen:.6f}$. "
                   f"The exact derivative is $3x^2 = {exact:g}$: the forward error "
                   f"${fwd - exact:.6f} = 3xh + h^2$ is first order in $h$, the centred error "
                   f"${cen - exact:.6f} = h^2$ second order (the even Taylor terms cancel).")
    return Variant(prompt, {"x": x0, "h": h}, [fwd, cen], explanation, rtol=1e-6, atol=1e-9)


@exercise("gradient-descent.minibatch-noise", title="The noise of a minibatch gradient",
          chapter=CHAPTER, topic="stochastic gradient descent", points=2, answer_type="numeric")
def _minibatch_noise(rng: np.random.Generator) -> Variant:
    n = 4
    g = rng.integers(-4, 6, size=n).astype(float)
    while np.all(g == g[0]):
        g = rng.integers(-4, 6, size=n).astype(float)
    B = 2
    mse = optim.minibatch_gradient_variance(g[:, None], B)
    g_bar = g.mean()
    sigma2 = float(np.mean((g - g_bar) ** 2))
    prompt = (f"A model has one parameter and a training set of $N = {n}$ samples whose loss "
              f"gradients are $g^{{(i)}} = {_vec(g, 0)}$. SGD estimates the full gradient by the mean "
              f"over a minibatch of $B = {B}$ distinct samples drawn uniformly at random. What is "
              r"the mean squared error $\mathbb E(\hat g_B - \bar g)^2$ of that estimate?")
    explanation = (f"$\\bar g = {g_bar:g}$ and $\\sigma^2 = \\frac1N\\sum_i (g^{{(i)}} - \\bar g)^2 = "
                   f"{sigma2:g}$. Without replacement, "
                   r"$\mathbb E(\hat g_B - \bar g)^2 = \frac{N - B}{N - 1}\,\frac{\sigma^2}{B} = "
                   f"\\frac{{{n - B}}}{{{n - 1}}}\\cdot\\frac{{{sigma2:g}}}{{{B}}} = {mse:.4f}$. "
                   "Averaging the squared errors of all six possible batches gives the same number.")
    return Variant(prompt, {"g": g.tolist(), "batch_size": B}, mse, explanation, rtol=1e-4,
                   atol=1e-9)


@exercise("gradient-descent.condition-number", title="Condition number and the best fixed rate",
          chapter=CHAPTER, topic="ill-conditioning", points=2, answer_type="numeric")
def _condition_number(rng: np.random.Generator) -> Variant:
    A = _spd_matrix(rng)
    q = landscapes.Quadratic(A)
    lr, rate = landscapes.optimal_lr(q)
    lo, hi = q.eigenvalues
    prompt = (f"A loss near its minimum is $f(x) \\approx \\tfrac12 x^\\top H x$ with Hessian "
              f"$H = {_mat(A)}$. Give its condition number $\\kappa$, the fixed learning rate "
              r"$\alpha^*$ that makes gradient descent fastest, and the factor by which that "
              r"rate shrinks the error in the slowest direction per step. Answer as "
              r"`kappa, alpha_star, factor`.")
    explanation = (f"The eigenvalues of $H$ are ${lo:.4f}$ and ${hi:.4f}$, so "
                   f"$\\kappa = \\lambda_{{\\max}}/\\lambda_{{\\min}} = {q.condition_number:.4f}$. "
                   r"The best fixed rate balances the two extreme directions, "
                   r"$|1 - \alpha\lambda_{\min}| = |1 - \alpha\lambda_{\max}|$, which gives "
                   f"$\\alpha^* = 2/(\\lambda_{{\\min}} + \\lambda_{{\\max}}) = {lr:.4f}$ and the factor "
                   f"$\\max_i \\lvert 1 - \\alpha^*\\lambda_i\\rvert = (\\kappa - 1)/(\\kappa + 1) = {rate:.4f}$. "
                   "(For a symmetric positive "
                   "definite Hessian the eigenvalues are also its singular values.)")
    return Variant(prompt, {"H": A.tolist()}, [q.condition_number, lr, rate], explanation,
                   rtol=1e-4)


@exercise("gradient-descent.saddle-escape", title="How long gradient descent sits at a saddle",
          chapter=CHAPTER, topic="saddle points", points=2, answer_type="numeric")
def _saddle_escape(rng: np.random.Generator) -> Variant:
    lr = float(rng.choice([0.05, 0.1, 0.15, 0.2, 0.3]))
    m = int(rng.integers(2, 11))
    eps = 10.0 ** (-m)
    q = landscapes.saddle()
    steps = int(math.log(1 / eps) / math.log(1 + 2 * lr)) + 5
    run = landscapes.gd_on_quadratic(q, [1.0, eps], lr, steps)
    k = int(np.flatnonzero(np.abs(run.iterates[:, 1]) > 1.0)[0])
    prompt = (r"Gradient descent with $\alpha = " + f"{lr:g}" + r"$ runs on the saddle "
              r"$f(x) = x_1^2 - x_2^2$ from $x_0 = (1, 10^{" + f"{-m}" + r"})$. After how many "
              r"steps $t$ is $\lvert x_{t,2}\rvert > 1$ for the first time?")
    explanation = (r"$\partial f/\partial x_2 = -2x_2$, so each step multiplies $x_2$ by $1 + 2\alpha = "
                   f"{1 + 2 * lr:g}$ while $x_1$ shrinks by $1 - 2\\alpha$. We need "
                   f"$(1 + 2\\alpha)^t \\cdot 10^{{{-m}}} > 1$, i.e. "
                   f"$t > {m}\\log 10 / \\log {1 + 2 * lr:g} = {m * math.log(10) / math.log(1 + 2 * lr):.2f}$: "
                   f"$t = {k}$. The time spent near a saddle grows only like the logarithm of "
                   "1 / (initial offset).")
    return Variant(prompt, {"lr": lr, "log10_offset": -m}, k, explanation, rtol=0.0, atol=0.4)


@exercise("gradient-descent.fd-cost", title="What a numerical gradient costs", chapter=CHAPTER,
          topic="numerical gradients", points=1, answer_type="numeric")
def _fd_cost(rng: np.random.Generator) -> Variant:
    p = int(rng.integers(20, 400))
    calls = [0]

    def f(v):
        calls[0] += 1
        return float(np.sum(v * v))

    x = np.zeros(p)
    gradcheck.forward_difference_gradient(f, x)
    fwd = calls[0]
    calls[0] = 0
    gradcheck.numerical_gradient(f, x)
    cen = calls[0]
    prompt = (f"A network has $n = {p}$ parameters. How many evaluations of the loss does one "
              "gradient cost with forward differences, and how many with centred differences? "
              "Answer as `forward, centred`.")
    explanation = (f"Forward differences need $f(x)$ once and $f(x + he_j)$ for every $j$: "
                   f"$n + 1 = {fwd}$. Centred differences need $f(x \\pm he_j)$ for every $j$: "
                   f"$2n = {cen}$. Backpropagation gets all {p} partial derivatives for about the "
                   "cost of one forward and one backward pass, whatever $n$ is.")
    return Variant(prompt, {"P": p}, [fwd, cen], explanation, rtol=0.0, atol=0.4)


@exercise("gradient-descent.gd-code", title="Gradient descent on a quadratic, in code",
          chapter=CHAPTER, topic="gradient descent", points=3, answer_type="code")
def _gd_code(rng: np.random.Generator) -> Variant:
    steps = int(rng.integers(3, 8))
    cases, tests = [], []
    while len(cases) < 4:
        A = _spd_matrix(rng)
        x_star = rng.integers(-40, 41, size=2).astype(float)
        x0 = rng.integers(-20, 21, size=2).astype(float)
        lr = float(rng.choice([0.05, 0.1, 0.2]))
        expected = landscapes.gd_on_quadratic(landscapes.Quadratic(A, x_star=x_star), x0, lr,
                                              steps).iterates[-1]
        # Expected values of at least 10 in size print with three or more significant digits,
        # so that the assignment leak check does not mistake them for short numbers that other
        # questions show (such as the inputs of their code tests).
        if np.all(np.abs(expected) >= 10):
            cases.append((A, x_star, x0, lr))
            # integer inputs print as "18", not "18.0", which the leak check would also count
            tests.append(((A.astype(int).tolist(), x_star.astype(int).tolist(),
                           x0.astype(int).tolist(), lr, steps), expected.tolist()))
    starter = ("import numpy as np\n\n"
               "def gd_quadratic(A, x_star, x0, lr, steps):\n"
               "    \"\"\"x after `steps` gradient-descent steps on f(x) = 1/2 (x - x*)^T A (x - x*).\"\"\"\n"
               "    x = np.array(x0, dtype=float)\n"
               "    # your code here\n"
               "    return x\n")
    reference = ("import numpy as np\n\n"
                 "def gd_quadratic(A, x_star, x0, lr, steps):\n"
                 "    x = np.array(x0, dtype=float)\n"
                 "    for _ in range(steps):\n"
                 "        x = x - lr * (A @ (x - x_star))\n"
                 "    return x\n")
    prompt = (r"Write `gd_quadratic(A, x_star, x0, lr, steps)` that returns the iterate after `steps` "
              r"gradient-descent steps $x \leftarrow x - \alpha\nabla f(x)$ on "
              r"$f(x) = \tfrac12 (x - x^*)^\top A (x - x^*)$ ($A$ symmetric, minimum at "
              r"$x^*$ = `x_star`), starting from `x0`. "
              f"The tests use `steps = {steps}` and $2\\times 2$ matrices.")
    explanation = (r"The gradient of $\tfrac12 (x - x^*)^\top A (x - x^*)$ is $A(x - x^*)$ for "
                   r"symmetric $A$:"
                   "\n\n```python\n" + reference + "```\n\n"
                   "`dlnotes.landscapes.gd_on_quadratic` computes the same iterates in closed form "
                   "from the eigen-decomposition of $A$.")
    params = {"steps": steps, "cases": [{"A": A.astype(int).tolist(), "x_star": xs.astype(int).tolist(),
                                         "x0": x0.astype(int).tolist(), "lr": lr}
                                        for A, xs, x0, lr in cases]}
    return Variant(prompt, params, reference, explanation, function="gd_quadratic",
                   tests=tests, starter=starter, rtol=1e-9, atol=1e-12)
