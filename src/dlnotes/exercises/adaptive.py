"""Exercises for the chapter *Adaptive learning rates*. Solutions come from :mod:`dlnotes.optim`."""

from __future__ import annotations

import numpy as np

from .. import optim
from ..figures.adaptive import decay_rows
from . import Variant, exercise

CHAPTER = "adaptive"


def _vec(v, digits: int = 5) -> str:
    # "+ 0.0" turns a rounded -0.0 into 0.0
    return "(" + ", ".join(f"{round(float(x), digits) + 0.0:g}" for x in v) + ")"


def _grads(rng: np.random.Generator, n: int = 2) -> list[np.ndarray]:
    """n gradients of two coordinates with very different sizes (one decimal place)."""
    big = np.round(rng.uniform(1.0, 4.0, size=n) * rng.choice([-1.0, 1.0], size=n), 1)
    small = np.round(rng.uniform(0.1, 0.5, size=n) * rng.choice([-1.0, 1.0], size=n), 1)
    return [np.array([b, s]) for b, s in zip(big, small)]


@exercise("adaptive.adagrad-steps", title="Two AdaGrad steps by hand", chapter=CHAPTER,
          topic="AdaGrad", points=2, answer_type="numeric")
def _adagrad_steps(rng: np.random.Generator) -> Variant:
    g1, g2 = _grads(rng)
    x0 = np.round(rng.uniform(-1.0, 1.0, size=2), 1)
    lr = float(rng.choice([0.1, 0.5, 1.0]))
    eps = 1e-10
    x1, s1 = optim.adagrad_step(x0, np.zeros(2), g1, lr, eps)
    x2, s2 = optim.adagrad_step(x1, s1, g2, lr, eps)
    prompt = (f"AdaGrad (`torch.optim.Adagrad(lr={lr:g})`, $\\varepsilon = 10^{{-10}}$ outside the root) "
              f"starts at $x_0 = {_vec(x0)}$ with $s_0 = 0$ and receives the gradients "
              f"$g_0 = {_vec(g1)}$ and then $g_1 = {_vec(g2)}$. Using "
              r"$s_{t+1} = s_t + g_t^2$ and $x_{t+1} = x_t - \alpha\, g_t/(\sqrt{s_{t+1}} + \varepsilon)$ "
              r"elementwise, what is $x_2$?")
    explanation = (f"- $s_1 = g_0^2 = {_vec(s1)}$, so $x_1 = x_0 - \\alpha g_0/\\sqrt{{s_1}} = {_vec(x1)}$: "
                   "both coordinates move by exactly $\\alpha$, whatever the size of their gradient.\n"
                   f"- $s_2 = s_1 + g_1^2 = {_vec(s2)}$; the per-coordinate rates are "
                   f"$\\alpha/\\sqrt{{s_2}} = {_vec(lr / np.sqrt(s2))}$, and "
                   f"$x_2 = x_1 - (\\alpha/\\sqrt{{s_2}})\\, g_1 = {_vec(x2)}$.\n\n"
                   "The sum in $s_t$ runs over the *time steps* $0, \\dots, t-1$, separately for each "
                   "coordinate; it never mixes coordinates.")
    return Variant(prompt, {"x0": x0.tolist(), "g1": g1.tolist(), "g2": g2.tolist(), "lr": lr},
                   x2.tolist(), explanation, rtol=1e-4, atol=1e-6)


@exercise("adaptive.rmsprop-steps", title="Two RMSProp steps by hand", chapter=CHAPTER,
          topic="RMSProp", points=2, answer_type="numeric")
def _rmsprop_steps(rng: np.random.Generator) -> Variant:
    g1, g2 = _grads(rng)
    x0 = np.round(rng.uniform(-1.0, 1.0, size=2), 1)
    lr = float(rng.choice([0.01, 0.1]))
    beta = float(rng.choice([0.9, 0.99]))
    eps = 1e-8
    x1, s1 = optim.rmsprop_step(x0, np.zeros(2), g1, lr, beta, eps)
    x2, s2 = optim.rmsprop_step(x1, s1, g2, lr, beta, eps)
    prompt = (f"RMSProp (`torch.optim.RMSprop(lr={lr:g}, alpha={beta:g})`, so the decay rate is "
              f"$\\beta_2 = {beta:g}$, and $\\varepsilon = 10^{{-8}}$ outside the root) starts at "
              f"$x_0 = {_vec(x0)}$ with $s_0 = 0$ and receives $g_0 = {_vec(g1)}$, then $g_1 = {_vec(g2)}$. "
              r"With $s_{t+1} = \beta_2 s_t + (1-\beta_2) g_t^2$ and "
              r"$x_{t+1} = x_t - \alpha g_t/(\sqrt{s_{t+1}} + \varepsilon)$, "
              r"give $x_2$ and $s_2$ (four numbers).")
    explanation = (f"- $s_1 = (1-\\beta_2) g_0^2 = {_vec(s1, 6)}$ and $x_1 = {_vec(x1)}$. The first step is "
                   f"$\\alpha/\\sqrt{{1-\\beta_2}} = {lr / np.sqrt(1 - beta):.4g}$ per coordinate: "
                   "$s$ starts at zero, so the first steps are large (RMSProp has no bias correction).\n"
                   f"- $s_2 = \\beta_2 s_1 + (1-\\beta_2) g_1^2 = {_vec(s2, 6)}$ and $x_2 = {_vec(x2)}$.")
    return Variant(prompt, {"x0": x0.tolist(), "g1": g1.tolist(), "g2": g2.tolist(), "lr": lr,
                            "beta": beta}, [*x2.tolist(), *s2.tolist()], explanation,
                   rtol=1e-4, atol=1e-8)


@exercise("adaptive.adam-bias-correction", title="Adam with and without bias correction",
          chapter=CHAPTER, topic="Adam", points=3, answer_type="numeric")
def _adam_bias(rng: np.random.Generator) -> Variant:
    g1, g2 = _grads(rng)
    x0 = np.round(rng.uniform(-1.0, 1.0, size=2), 1)
    lr = float(rng.choice([0.001, 0.01, 0.1]))
    betas = (0.9, 0.999)
    out = {}
    for corr in (True, False):
        x1, m1, s1 = optim.adam_step(x0, np.zeros(2), np.zeros(2), g1, 1, lr, betas, 1e-8, corr)
        x2, m2, s2 = optim.adam_step(x1, m1, s1, g2, 2, lr, betas, 1e-8, corr)
        out[corr] = (x1, x2, m2, s2)
    m2, s2 = out[True][2], out[True][3]
    mh, sh = m2 / (1 - betas[0] ** 2), s2 / (1 - betas[1] ** 2)
    prompt = (f"Adam with $\\alpha = {lr:g}$, $\\beta_1 = 0.9$, $\\beta_2 = 0.999$, $\\varepsilon = 10^{{-8}}$ "
              f"starts at $x_0 = {_vec(x0)}$ with zero moments and receives $g_0 = {_vec(g1)}$, then "
              f"$g_1 = {_vec(g2)}$. Give $x_2$ with bias correction "
              r"($\hat m_t = m_t/(1-\beta_1^t)$, $\hat s_t = s_t/(1-\beta_2^t)$ for moments $m_t, s_t$ "
              r"that hold $t$ gradients, PyTorch's `Adam`) and "
              r"$x_2$ without it ($\hat m_t = m_t$, $\hat s_t = s_t$): four numbers, corrected first.")
    explanation = (f"The moments do not depend on the correction: $m_2 = {_vec(m2, 6)}$, "
                   f"$s_2 = {_vec(s2, 7)}$.\n\n"
                   f"- With correction, $x_1 = {_vec(out[True][0])}$ (a step of $\\alpha$ against the sign "
                   f"of $g_0$), $\\hat m_2 = {_vec(mh)}$, $\\hat s_2 = {_vec(sh)}$ and "
                   f"$x_2 = {_vec(out[True][1])}$.\n"
                   f"- Without, $x_1 = {_vec(out[False][0])}$: the first step is "
                   f"$(1-\\beta_1)/\\sqrt{{1-\\beta_2}} = {optim.adam_uncorrected_step_factor(1):.4f}$ "
                   f"times longer, and $x_2 = {_vec(out[False][1])}$.\n\n"
                   "The correction divides $m$ (not $\\hat m$) by $1-\\beta_1^t$: it removes the bias "
                   "towards zero that the zero initialisation causes.")
    return Variant(prompt, {"x0": x0.tolist(), "g1": g1.tolist(), "g2": g2.tolist(), "lr": lr},
                   [*out[True][1].tolist(), *out[False][1].tolist()], explanation, rtol=1e-5, atol=1e-7)


@exercise("adaptive.adagrad-rate", title="AdaGrad's rate after many steps", chapter=CHAPTER,
          topic="AdaGrad", points=1, answer_type="numeric")
def _adagrad_rate(rng: np.random.Generator) -> Variant:
    g = float(rng.choice([0.1, 0.5, 2.0, 5.0]))
    lr = float(rng.choice([0.01, 0.1, 1.0]))
    t = int(rng.choice([4, 25, 100, 400, 2500]))
    x = np.zeros(1)
    opt = optim.Adagrad([x], lr=lr)
    for _ in range(t):
        opt.step([np.array([g])])
    rate = float(opt.effective_lr()[0][0])
    prompt = (f"A parameter of a model trained with `torch.optim.Adagrad(lr={lr:g})` "
              f"($\\varepsilon = 10^{{-10}}$) has received the same gradient ${g:g}$ at each of {t} steps. "
              r"What is its effective learning rate $\alpha/(\sqrt{s_t} + \varepsilon)$ for the next step?")
    explanation = (f"$s_t = t g^2 = {t}\\cdot{g:g}^2 = {t * g * g:g}$, so the rate is "
                   f"${lr:g}/\\sqrt{{{t * g * g:g}}} = {rate:.6g}$. It falls like $1/\\sqrt t$ and never "
                   "recovers: AdaGrad's steps shrink forever.")
    return Variant(prompt, {"g": g, "lr": lr, "t": t}, rate, explanation, rtol=1e-4)


@exercise("adaptive.adamw-vs-l2", title="One step of Adam + L2 against AdamW", chapter=CHAPTER,
          topic="AdamW", points=2, answer_type="numeric")
def _adamw_vs_l2(rng: np.random.Generator) -> Variant:
    x0 = np.round(rng.uniform(1.0, 3.0, size=2) * rng.choice([-1.0, 1.0], size=2), 1)
    lam = float(rng.choice([0.1, 0.5, 1.0]))
    # the second gradient is small and points against the decay, so that L2 flips its sign
    g = np.array([np.round(rng.uniform(1.0, 3.0) * np.sign(x0[0]), 1),
                  np.round(-0.5 * lam * x0[1] * rng.uniform(1.2, 1.8), 2)])
    lr = float(rng.choice([0.01, 0.1]))
    z = np.zeros(2)
    x_l2, _, _ = optim.adam_step(x0, z, z, g, 1, lr, weight_decay=lam)
    x_w, _, _ = optim.adamw_step(x0, z, z, g, 1, lr, weight_decay=lam)
    ge = g + lam * x0
    prompt = (f"A weight vector $x_0 = {_vec(x0)}$ has the loss gradient $g_0 = {_vec(g)}$ at the first "
              f"step. Compare `torch.optim.Adam(lr={lr:g}, weight_decay={lam:g})` (L2 in the loss: Adam sees "
              r"$g + \lambda x$) with `torch.optim.AdamW(lr=" f"{lr:g}, weight_decay={lam:g})` (decoupled: "
              r"$x \leftarrow (1 - \alpha\lambda)x$, then Adam on $g$). Default betas, "
              r"$\varepsilon = 10^{-8}$. Give $x_1$ for Adam, then for AdamW (four numbers).")
    explanation = (r"At the first step Adam's bias-corrected update is $-\alpha\,g'/(\lvert g'\rvert + \varepsilon)$ "
                   r"$\approx -\alpha\operatorname{sign} g'$ for the gradient $g'$ it sees." "\n\n"
                   f"- Adam + L2 sees $g' = g_0 + \\lambda x_0 = {_vec(ge)}$, so $x_1 = {_vec(x_l2)}$: the decay "
                   "has been folded into the normalised step, and where it dominates it decides the sign.\n"
                   f"- AdamW shrinks first, $(1 - \\alpha\\lambda)x_0 = {_vec((1 - lr * lam) * x0)}$, then "
                   f"steps against the sign of $g_0$: $x_1 = {_vec(x_w)}$.")
    return Variant(prompt, {"x0": x0.tolist(), "g": g.tolist(), "lam": lam, "lr": lr},
                   [*x_l2.tolist(), *x_w.tolist()], explanation, rtol=1e-5, atol=1e-7)


@exercise("adaptive.decay-choice", title="Whose weights does the decay reach?", chapter=CHAPTER,
          topic="AdamW", points=1, answer_type="choice")
def _decay_choice(rng: np.random.Generator) -> Variant:
    which = "Adam" if rng.integers(0, 2) == 0 else "AdamW"
    lam = float(rng.choice([0.05, 0.1, 0.2]))
    rows = decay_rows(lr=1e-3, weight_decay=lam, steps=1000, seed=int(rng.integers(0, 1000)))
    col = 1 if which == "Adam" else 2
    shrink = np.array([r[col] for r in rows])
    texts = {"large": "the weight with the large gradients", "small": "the weight with the small gradients",
             "equal": "all three about equally"}
    if shrink.max() - shrink.min() < 0.1 * shrink.mean():
        answer = "equal"
    else:
        answer = "large" if shrink.argmax() == 0 else "small"
    keys = list(texts)
    order = [keys[i] for i in rng.permutation(3)]
    choices = {k: texts[o] for k, o in zip("abc", order)}
    solution = "abc"[order.index(answer)]
    call = (f"torch.optim.Adam(lr=1e-3, weight_decay={lam:g})" if which == "Adam"
            else f"torch.optim.AdamW(lr=1e-3, weight_decay={lam:g})")
    prompt = (f"Three weights start at 1 and are trained for 1000 steps with `{call}`. Their loss gradients "
              "are noise with mean zero and typical sizes 100, 1 and 0.01. Compared with the same run "
              "without weight decay, which weight does the decay shrink the most?")
    explanation = ("Shrinkage (no-decay run minus decayed run) for gradient sizes 100, 1, 0.01: "
                   + ", ".join(f"{v:.4f}" for v in shrink) + ". "
                   + ("With L2 in the loss the decay term $\\lambda x$ is divided by "
                      r"$\sqrt{\hat s}$, which is large where the gradients are large: those weights are "
                      "hardly decayed, and the weight with tiny gradients is decayed most."
                      if which == "Adam" else
                      r"AdamW multiplies every weight by $1 - \alpha\lambda$ at every step, outside the "
                      r"adaptive scaling: all are shrunk by about $1 - (1-\alpha\lambda)^{1000}$ = "
                      f"{rows[0][3]:.4f}, whatever their gradients."))
    return Variant(prompt, {"optimizer": which, "weight_decay": lam, "order": order}, solution,
                   explanation, choices=choices)


@exercise("adaptive.uncorrected-factor", title="How much too long is Adam's uncorrected step?",
          chapter=CHAPTER, topic="Adam", points=1, answer_type="numeric")
def _uncorrected(rng: np.random.Generator) -> Variant:
    t = int(rng.choice([1, 2, 5, 10, 12, 50, 100, 1000]))
    b1 = float(rng.choice([0.9, 0.95]))
    b2 = float(rng.choice([0.99, 0.999]))
    fac = optim.adam_uncorrected_step_factor(t, (b1, b2))
    prompt = (f"Adam with $\\beta_1 = {b1:g}$ and $\\beta_2 = {b2:g}$ sees the same gradient at every "
              f"step. By what factor is its step number {t} (counting the first step as 1, PyTorch's "
              f"`state['step']`) longer *without* bias correction than with it "
              r"(ignore $\varepsilon$)?")
    explanation = (r"With a constant gradient $g$, $m_t = (1-\beta_1^t)g$ and $s_t = (1-\beta_2^t)g^2$. "
                   r"The corrected step is $\alpha$; the uncorrected one is "
                   r"$\alpha(1-\beta_1^t)/\sqrt{1-\beta_2^t}$, i.e. "
                   f"$(1-{b1:g}^{{{t}}})/\\sqrt{{1-{b2:g}^{{{t}}}}} = {fac:.5g}$ times longer.")
    return Variant(prompt, {"t": t, "betas": [b1, b2]}, fac, explanation, rtol=1e-4)


@exercise("adaptive.adam-code", title="Implement one Adam step", chapter=CHAPTER, topic="Adam",
          points=3, answer_type="code")
def _adam_code(rng: np.random.Generator) -> Variant:
    tests = []
    # inputs with one significant digit: the test cases are shown to students, and numbers
    # with more digits could coincide with a printed answer of another question
    for _ in range(4):
        d = int(rng.integers(1, 4))
        t = int(rng.choice([1, 2, 10, 100]))
        x = rng.choice([-2.0, -1.0, -0.5, 0.5, 1.0, 3.0], size=d)
        m = rng.choice([-0.2, -0.1, 0.1, 0.3], size=d) if t > 1 else np.zeros(d)
        s = rng.choice([0.02, 0.05, 0.1, 0.4], size=d) if t > 1 else np.zeros(d)
        g = rng.choice([-3.0, -1.0, -0.2, 0.5, 2.0], size=d)
        lr = float(rng.choice([1e-3, 1e-2, 0.1]))
        b1, b2 = float(rng.choice([0.9, 0.8])), float(rng.choice([0.999, 0.9]))
        out = np.stack(optim.adam_step(x, m, s, g, t, lr, (b1, b2), 1e-8))
        tests.append(((x.tolist(), m.tolist(), s.tolist(), g.tolist(), t, lr, b1, b2, 1e-8), out.tolist()))
    starter = ("import numpy as np\n\n"
               "def adam_step(x, m, s, g, t, lr, beta1, beta2, eps):\n"
               "    \"\"\"One Adam step (t = 1 for the first). Return (x_new, m_new, s_new).\"\"\"\n"
               "    m = beta1 * m + (1 - beta1) * g\n"
               "    s = beta2 * s + (1 - beta2) * g * g\n"
               "    x = x - lr * m / (np.sqrt(s) + eps)   # no bias correction yet\n"
               "    return x, m, s\n")
    reference = ("import numpy as np\n\n"
                 "def adam_step(x, m, s, g, t, lr, beta1, beta2, eps):\n"
                 "    m = beta1 * m + (1 - beta1) * g\n"
                 "    s = beta2 * s + (1 - beta2) * g * g\n"
                 "    m_hat = m / (1 - beta1 ** t)\n"
                 "    s_hat = s / (1 - beta2 ** t)\n"
                 "    return x - lr * m_hat / (np.sqrt(s_hat) + eps), m, s\n")
    prompt = ("Write `adam_step(x, m, s, g, t, lr, beta1, beta2, eps)` that performs one step of Adam "
              r"with bias correction, as `torch.optim.Adam` does ($\varepsilon$ added to $\sqrt{\hat s_t}$), "
              "and returns the new `(x, m, s)`. The moments `m` and `s` are the *uncorrected* moving averages.")
    explanation = (r"$m \leftarrow \beta_1 m + (1-\beta_1)g$, $s \leftarrow \beta_2 s + (1-\beta_2)g^2$, "
                   r"$\hat m = m/(1-\beta_1^t)$, $\hat s = s/(1-\beta_2^t)$ with $t$ the number of the step "
                   r"(1 for the first, PyTorch's `state['step']`), and "
                   r"$x \leftarrow x - \alpha\hat m/(\sqrt{\hat s} + \varepsilon)$. Keep the uncorrected "
                   "moments as the state: correcting them in place would divide again at every step."
                   "\n\n```python\n" + reference + "```")
    return Variant(prompt, {"tests": [t[0] for t in tests]}, reference, explanation,
                   function="adam_step", tests=tests, starter=starter, rtol=1e-9, atol=1e-12)
