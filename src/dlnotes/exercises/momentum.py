"""Exercises for the chapter *Momentum and Nesterov*. Solutions come from :mod:`dlnotes.optim` and :mod:`dlnotes.nesterov`."""

from __future__ import annotations

import numpy as np
import sympy as sp

from .. import nesterov, optim
from ..landscapes import stability_limit
from . import Variant, exercise

CHAPTER = "momentum"


def _vec(v, digits: int = 4) -> str:
    # "+ 0.0" turns a rounded -0.0 into 0.0
    return "(" + ", ".join(f"{round(float(x), digits) + 0.0:g}" for x in v) + ")"


def _coef(c: float) -> str:
    return "" if c == 1 else f"{c:g}\\,"


def _quadratic(rng: np.random.Generator):
    """A diagonal quadratic f(x) = 1/2 sum a_i x_i^2 in 2-D and a starting point, with one-decimal numbers."""
    a = np.array([float(rng.choice([0.5, 1.0, 2.0])), float(rng.choice([4.0, 5.0, 8.0, 10.0]))])
    x0 = np.round(rng.uniform(0.5, 2.0, size=2) * rng.choice([-1.0, 1.0], size=2), 1)
    return a, x0


def _f_text(a) -> str:
    return (f"$f(x) = \\tfrac12\\,({_coef(a[0])}x_1^2 + {_coef(a[1])}x_2^2)$, whose gradient is "
            f"$\\nabla f(x) = ({_coef(a[0])}x_1,\\ {_coef(a[1])}x_2)$")


def _two_steps(rng: np.random.Generator, form: str) -> Variant:
    a, x0 = _quadratic(rng)
    lr = float(rng.choice([0.05, 0.1]))
    rho = float(rng.choice([0.5, 0.8, 0.9]))
    x, v = x0.copy(), np.zeros(2)
    lines = []
    for t in range(2):
        g = a * x
        if form == "buffer":
            x_new, v_new = optim.momentum_step(x, v, g, lr, rho)
            lines.append(f"- $t = {t}$: $g_{t} = {_vec(g)}$, $m_{t + 1} = \\rho m_{t} + g_{t} = {_vec(v_new)}$, "
                         f"$x_{t + 1} = x_{t} - \\alpha m_{t + 1} = {_vec(x_new)}$")
        else:
            x_new, v_new = optim.momentum_velocity_step(x, v, g, lr, rho)
            lines.append(f"- $t = {t}$: $g_{t} = {_vec(g)}$, $v_{t + 1} = \\rho v_{t} - \\alpha g_{t} = {_vec(v_new)}$, "
                         f"$x_{t + 1} = x_{t} + v_{t + 1} = {_vec(x_new)}$")
        x, v = x_new, v_new
    if form == "buffer":
        rule = (r"$m_{t+1} = \rho m_t + \nabla f(x_t)$, $x_{t+1} = x_t - \alpha m_{t+1}$ "
                r"(PyTorch's `SGD(momentum=ρ)`; $m$ is its `momentum_buffer`)")
        ask = r"$x_2$ and $m_2$. Answer as four numbers: $x_2$ then $m_2$."
        other = (f"The velocity form gives the same $x_2$ with $v_2 = -\\alpha m_2 = "
                 f"{_vec(optim.velocity_from_buffer(v, lr))}$.")
    else:
        rule = r"$v_{t+1} = \rho v_t - \alpha\nabla f(x_t)$, $x_{t+1} = x_t + v_{t+1}$"
        ask = r"$x_2$ and $v_2$. Answer as four numbers: $x_2$ then $v_2$."
        other = (f"The gradient-sum form gives the same $x_2$ with buffer $m_2 = -v_2/\\alpha = "
                 f"{_vec(-v / lr)}$.")
    start = "m_0" if form == "buffer" else "v_0"
    prompt = (f"Minimise {_f_text(a)}, with SGD + momentum in the form {rule}. Start from "
              f"$x_0 = {_vec(x0)}$ and ${start} = 0$, with $\\alpha = {lr:g}$ and $\\rho = {rho:g}$. "
              f"Take two steps and give {ask}")
    explanation = "\n".join(lines) + "\n\n" + other
    return Variant(prompt, {"a": a.tolist(), "x0": x0.tolist(), "lr": lr, "momentum": rho},
                   [*x.tolist(), *v.tolist()], explanation, rtol=1e-4, atol=1e-6)


@exercise("momentum.buffer-form", title="Two momentum steps, gradient-sum form", chapter=CHAPTER,
          topic="SGD + momentum", points=2, answer_type="numeric")
def _buffer_form(rng: np.random.Generator) -> Variant:
    return _two_steps(rng, "buffer")


@exercise("momentum.velocity-form", title="Two momentum steps, velocity form", chapter=CHAPTER,
          topic="SGD + momentum", points=2, answer_type="numeric")
def _velocity_form(rng: np.random.Generator) -> Variant:
    return _two_steps(rng, "velocity")


@exercise("momentum.nesterov-step", title="One Nesterov step by hand", chapter=CHAPTER,
          topic="Nesterov momentum", points=2, answer_type="numeric")
def _nesterov_step(rng: np.random.Generator) -> Variant:
    a, x = _quadratic(rng)
    v = np.round(rng.uniform(-0.3, 0.3, size=2), 2)
    lr = float(rng.choice([0.05, 0.1]))
    rho = float(rng.choice([0.8, 0.9]))
    ahead = x + rho * v
    x_new, v_new = optim.nesterov_lookahead_step(x, v, lambda p: a * p, lr, rho)
    prompt = (f"Minimise {_f_text(a)} with Nesterov momentum in the look-ahead form "
              r"$v_{t+1} = \rho v_t - \alpha\nabla f(x_t + \rho v_t)$, $x_{t+1} = x_t + v_{t+1}$. "
              f"The current state is $x_t = {_vec(x)}$, $v_t = {_vec(v)}$, with $\\alpha = {lr:g}$ and "
              f"$\\rho = {rho:g}$. Give $x_{{t+1}}$ and $v_{{t+1}}$ (four numbers).")
    explanation = (f"The look-ahead point is $x_t + \\rho v_t = {_vec(ahead)}$ and the gradient there is "
                   f"${_vec(a * ahead)}$. So $v_{{t+1}} = {_vec(v_new)}$ and $x_{{t+1}} = {_vec(x_new)}$. "
                   f"Plain momentum would have used the gradient at $x_t$, ${_vec(a * x)}$, instead.")
    return Variant(prompt, {"a": a.tolist(), "x": x.tolist(), "v": v.tolist(), "lr": lr, "momentum": rho},
                   [*x_new.tolist(), *v_new.tolist()], explanation, rtol=1e-4, atol=1e-6)


# candidate rearranged forms x~_{t+1} = x~_t + A(rho) v_t + C(rho) v_{t+1}: (A, C, LaTeX of A v_t, of C v_{t+1})
_rho = nesterov.SYMBOLS["rho"]
_FORMS = [
    (-_rho, 1 + _rho, r"- \rho v_t", r"+ (1 + \rho)\, v_{t+1}"),
    (-_rho, (1 - _rho) / (1 + _rho), r"- \rho v_t", r"+ \frac{1 - \rho}{1 + \rho}\, v_{t+1}"),
    (-_rho, sp.Integer(1), r"- \rho v_t", r"+ v_{t+1}"),
    (sp.Integer(0), 1 + _rho, "", r"+ (1 + \rho)\, v_{t+1}"),
    (_rho, 1 - _rho, r"+ \rho v_t", r"+ (1 - \rho)\, v_{t+1}"),
]


def _form_step(coef_vt, coef_vnext) -> nesterov.DerivationStep:
    S = nesterov.SYMBOLS
    base = nesterov.DERIVATION[4]
    rhs = S["x_tilde_t"] + coef_vt * S["v_t"] + coef_vnext * S["v_next"]
    return nesterov.DerivationStep("candidate", "", (base.equations[0], sp.Eq(S["x_tilde_next"], rhs)),
                                   base.substitutions)


@exercise("momentum.rearranged-form", title="Which rearranged Nesterov update is right?",
          chapter=CHAPTER, topic="Nesterov momentum", points=1, answer_type="choice")
def _rearranged(rng: np.random.Generator) -> Variant:
    order = [0] + [int(i) for i in rng.choice(np.arange(1, len(_FORMS)), size=3, replace=False)]
    order = [order[i] for i in rng.permutation(4)]
    keys = "abcd"
    look_ahead = nesterov.DERIVATION[1]   # the velocity update with the gradient at x~_t
    choices, coefs, verdicts = {}, {}, {}
    for key, i in zip(keys, order):
        A, C, a_tex, c_tex = _FORMS[i]
        choices[key] = f"$\\tilde x_{{t+1}} = \\tilde x_t {a_tex} {c_tex}$"
        check = nesterov.verify_step(look_ahead, _form_step(A, C))
        verdicts[key] = check.ok
        coefs[key] = [str(A), str(C)]
    right = [k for k, ok in verdicts.items() if ok]
    assert len(right) == 1, verdicts
    prompt = (r"Nesterov momentum $v_{t+1} = \rho v_t - \alpha\nabla f(x_t + \rho v_t)$, "
              r"$x_{t+1} = x_t + v_{t+1}$ is rewritten with $\tilde x_t = x_t + \rho v_t$, so that "
              r"$v_{t+1} = \rho v_t - \alpha\nabla f(\tilde x_t)$. Which update of $\tilde x$ gives "
              "exactly the same iterates?")
    explanation = (f"Only ({right[0]}) is right: substitute $x_t = \\tilde x_t - \\rho v_t$ and "
                   r"$x_{t+1} = \tilde x_{t+1} - \rho v_{t+1}$ into $x_{t+1} = x_t + v_{t+1}$ and solve: "
                   r"$\tilde x_{t+1} = \tilde x_t - \rho v_t + (1 + \rho)v_{t+1}$. "
                   "`dlnotes.nesterov.verify_step` confirms it and rejects the others "
                   f"({', '.join(f'({k}) ' + ('✓' if ok else '✗') for k, ok in verdicts.items())}).")
    return Variant(prompt, {"order": order, "coefficients": coefs}, right[0], explanation,
                   choices=choices)


@exercise("momentum.terminal-velocity", title="How fast does momentum roll downhill?",
          chapter=CHAPTER, topic="SGD + momentum", points=1, answer_type="numeric")
def _terminal(rng: np.random.Generator) -> Variant:
    slope = float(rng.choice([0.5, 1.0, 2.0, 4.0]))
    lr = float(rng.choice([0.01, 0.05, 0.1]))
    rho = float(rng.choice([0.5, 0.8, 0.9, 0.95]))
    x = np.zeros(1)
    opt = optim.SGD([x], lr=lr, momentum=rho)
    steps = 300
    prev = x.copy()
    for _ in range(steps):
        prev[:] = x
        opt.step([np.array([slope])])
    step = float(abs(x[0] - prev[0]))
    prompt = (f"SGD + momentum (`torch.optim.SGD(lr={lr:g}, momentum={rho:g})`) runs on the straight "
              f"slope $f(x) = {slope:g}\\,x$ from $x_0 = 0$. After {steps} steps, how long is one step "
              r"$|x_{t+1} - x_t|$?")
    explanation = (r"With a constant gradient $g$ the buffer $m_{t+1} = \rho m_t + g$ tends to "
                   r"$g/(1-\rho)$, so the step tends to $\alpha g/(1 - \rho)$ = "
                   f"${lr:g}\\cdot{slope:g}/{1 - rho:g} = {lr * slope / (1 - rho):.5g}$: "
                   f"{1 / (1 - rho):.3g} times the plain SGD step. After {steps} steps the measured step is "
                   f"${step:.6g}$ (the remaining gap shrinks like $\\rho^t$).")
    return Variant(prompt, {"slope": slope, "lr": lr, "momentum": rho, "steps": steps}, step,
                   explanation, rtol=1e-3)


@exercise("momentum.stability", title="The largest stable rate with momentum", chapter=CHAPTER,
          topic="SGD + momentum", points=2, answer_type="numeric")
def _stability(rng: np.random.Generator) -> Variant:
    lam = float(rng.choice([0.5, 1.0, 2.0, 4.0, 10.0]))
    rho = float(rng.choice([0.5, 0.8, 0.9, 0.95]))
    use_nesterov = bool(rng.integers(0, 2))
    h = stability_limit(rho, nesterov=use_nesterov)
    name = "Nesterov momentum" if use_nesterov else "SGD + momentum (heavy ball)"
    prompt = (f"{name} with $\\rho = {rho:g}$ minimises the one-dimensional quadratic "
              f"$f(x) = \\tfrac12\\lambda_1 x^2$ with $\\lambda_1 = {lam:g}$. What is the largest learning "
              "rate $\\alpha$ "
              "for which it still converges (from any start)?")
    if use_nesterov:
        derivation = (r"With $v_t = x_t - x_{t-1}$ the look-ahead form is "
                      r"$x_{t+1} = (1 - \alpha\lambda_1)\big((1+\rho)x_t - \rho x_{t-1}\big)$; its "
                      r"characteristic roots stay inside the unit circle iff "
                      r"$\alpha\lambda_1 < 2(1+\rho)/(1+2\rho)$.")
    else:
        derivation = (r"On the quadratic, $x_{t+1} = (1 + \rho - \alpha\lambda_1)x_t - \rho x_{t-1}$; its "
                      r"characteristic roots stay inside the unit circle iff "
                      r"$\alpha\lambda_1 < 2(1 + \rho)$.")
    explanation = (derivation + f" Here $\\alpha\\lambda_1 < {h:.5g}$, so $\\alpha < {h:.5g}/{lam:g} = "
                   f"{h / lam:.5g}$ (plain gradient descent: $2/\\lambda_1 = {2 / lam:.4g}$).")
    return Variant(prompt, {"lam": lam, "momentum": rho, "nesterov": use_nesterov}, h / lam,
                   explanation, rtol=1e-3)


@exercise("momentum.nesterov-code", title="Implement the rearranged Nesterov step", chapter=CHAPTER,
          topic="Nesterov momentum", points=3, answer_type="code")
def _nesterov_code(rng: np.random.Generator) -> Variant:
    tests = []
    # inputs with one significant digit: the test cases are shown to students, and numbers
    # with more digits could coincide with a printed answer of another question
    for _ in range(4):
        d = int(rng.integers(1, 4))
        xt = rng.choice([-2.0, -1.0, -0.5, 0.5, 1.0, 3.0], size=d)
        v = rng.choice([-0.3, -0.1, 0.0, 0.2, 0.4], size=d)
        g = rng.choice([-3.0, -1.0, -0.2, 0.5, 2.0], size=d)
        lr = float(rng.choice([0.01, 0.1, 0.5]))
        rho = float(rng.choice([0.5, 0.9]))
        out = np.stack(optim.nesterov_step(xt, v, g, lr, rho))
        tests.append(((xt.tolist(), v.tolist(), g.tolist(), lr, rho), out.tolist()))
    starter = ("import numpy as np\n\n"
               "def nesterov_step(x_tilde, v, grad, lr, momentum):\n"
               "    \"\"\"One step of Nesterov momentum in the rearranged form.\n\n"
               "    grad is the gradient at x_tilde. Return (x_tilde_next, v_next).\n"
               "    \"\"\"\n"
               "    v_next = momentum * v - lr * grad\n"
               "    return x_tilde + v_next, v_next   # this is plain momentum: fix it\n")
    reference = ("import numpy as np\n\n"
                 "def nesterov_step(x_tilde, v, grad, lr, momentum):\n"
                 "    v_next = momentum * v - lr * grad\n"
                 "    return x_tilde - momentum * v + (1 + momentum) * v_next, v_next\n")
    prompt = (r"Write `nesterov_step(x_tilde, v, grad, lr, momentum)` for the rearranged form of "
              r"Nesterov momentum, which only needs the gradient at the current iterate $\tilde x_t$: "
              r"it returns $(\tilde x_{t+1}, v_{t+1})$ for arrays `x_tilde`, `v`, `grad` of the same shape.")
    explanation = (r"$v_{t+1} = \rho v_t - \alpha\nabla f(\tilde x_t)$ and "
                   r"$\tilde x_{t+1} = \tilde x_t - \rho v_t + (1 + \rho)v_{t+1}$ "
                   r"$= \tilde x_t + v_{t+1} + \rho(v_{t+1} - v_t)$.""\n\n```python\n" + reference + "```")
    return Variant(prompt, {"tests": [t[0] for t in tests]}, reference, explanation,
                   function="nesterov_step", tests=tests, starter=starter, rtol=1e-9, atol=1e-12)
