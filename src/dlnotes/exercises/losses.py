"""Exercises for the chapter *Loss functions*. Solutions are computed by :mod:`dlnotes.losses`."""

from __future__ import annotations

import numpy as np

from .. import losses
from . import Variant, exercise

CHAPTER = "losses"


def _vec(v, digits: int = 2) -> str:
    """A vector as "(a, b, c)", each entry rounded to ``digits`` decimals."""
    return "(" + ", ".join(f"{round(float(x), digits):g}" for x in v) + ")"


@exercise("losses.multiclass-hinge", title="Multiclass hinge loss by hand", chapter=CHAPTER,
          topic="margin losses", points=3, answer_type="numeric")
def _multiclass_hinge(rng: np.random.Generator) -> Variant:
    k = n = 3
    scores = np.round(rng.uniform(-1.5, 3.0, size=(n, k)), 1)
    labels = rng.permutation(k)  # each class is the true class of one sample
    per = losses.multiclass_hinge(scores, labels, reduction="none")
    terms = losses.multiclass_hinge_terms(scores, labels)
    table = ["| | " + " | ".join(f"$x^{{({i + 1})}}$" for i in range(n)) + " |",
             "|---|" + "---|" * n]
    for j in range(k):
        table.append(f"| class {j + 1} | " + " | ".join(f"{scores[i, j]:.1f}" for i in range(n)) + " |")
    lines = []
    for i in range(n):
        t = labels[i]
        st = f"{scores[i, t]:.1f}" if scores[i, t] >= 0 else f"({scores[i, t]:.1f})"
        pieces = [f"\\max(0, {scores[i, j]:.1f} - {st} + 1)" for j in range(k) if j != t]
        vals = [f"{max(0.0, terms[i, j]):.1f}" for j in range(k) if j != t]
        lines.append(f"- $L_{i + 1} = " + " + ".join(pieces) + " = " + " + ".join(vals)
                     + f" = {per[i]:.1f}$")
    prompt = (
        "The scores of a linear classifier on three samples (one **column** per sample) are\n\n"
        + "\n".join(table) + "\n\n"
        + f"and the true classes are $y_1 = {labels[0] + 1}$, $y_2 = {labels[1] + 1}$, "
        f"$y_3 = {labels[2] + 1}$. Compute the mean multiclass hinge loss "
        r"$\frac13\sum_i \sum_{j \ne y_i} \max(0, z_{ij} - z_{iy_i} + 1)$, where $z_{ij}$ is "
        r"the score of class $j$ for sample $i$."
    )
    explanation = ("\n".join(lines) + "\n\n"
                   + f"Mean: $({' + '.join(f'{v:.1f}' for v in per)}) / 3 = {per.mean():.4f}$.")
    return Variant(prompt, {"scores_by_class": scores.T.tolist(), "labels": labels.tolist()},
                   float(per.mean()), explanation, rtol=1e-3, atol=1e-3)


@exercise("losses.softmax-cross-entropy", title="Softmax cross-entropy of one sample",
          chapter=CHAPTER, topic="cross-entropy", points=2, answer_type="numeric")
def _softmax_ce(rng: np.random.Generator) -> Variant:
    C = int(rng.integers(3, 5))
    z = np.round(rng.uniform(-2.0, 3.0, size=C), 1)
    y = int(rng.integers(0, C))
    loss = float(losses.softmax_cross_entropy(z[None, :], [y]))
    probs = losses.softmax(z)
    lse = float(np.log(np.exp(z).sum()))
    prompt = (f"A classifier gives the scores $z = {_vec(z, 1)}$ for $C = {C}$ classes, and the true "
              f"class is class $y = {y + 1}$. What is the softmax cross-entropy loss "
              r"$-\log \operatorname{softmax}(z)_{y}$ (natural log)?")
    zy = f"{z[y]:.1f}" if z[y] >= 0 else f"({z[y]:.1f})"
    explanation = (r"$L = \log\sum_j e^{z_j} - z_y = "
                   f"{lse:.4f} - {zy} = {loss:.4f}$. "
                   f"The softmax probabilities are $\\hat y = {_vec(probs, 3)}$, and "
                   f"$-\\log \\hat y_{{{y + 1}}} = -\\log {probs[y]:.4f} = {loss:.4f}$.")
    return Variant(prompt, {"scores": z.tolist(), "label": y}, loss, explanation, rtol=1e-3)


@exercise("losses.huber", title="Huber loss of a few residuals", chapter=CHAPTER,
          topic="regression losses", points=2, answer_type="numeric")
def _huber(rng: np.random.Generator) -> Variant:
    delta = float(rng.choice([0.5, 1.0, 1.5, 2.0]))
    d = np.round(rng.uniform(-4.0, 4.0, size=4), 1)
    value = float(losses.huber(d, np.zeros_like(d), delta=delta))
    per = losses.huber(d, np.zeros_like(d), delta=delta, reduction="none")
    prompt = (f"A regression model makes the errors $d = \\hat y - y = {_vec(d, 1)}$ on four samples. "
              f"What is the mean Huber loss with threshold $\\delta = {delta:g}$, using "
              r"$\ell_\delta(d) = \frac12 d^2$ for $\lvert d\rvert \le \delta$ and "
              r"$\delta(\lvert d\rvert - \frac12\delta)$ otherwise?")
    rows = []
    for di, li in zip(d, per):
        branch = r"\tfrac12 d^2" if abs(di) <= delta else r"\delta(\lvert d\rvert - \tfrac12\delta)"
        rows.append(f"- $d = {di:.1f}$: ${branch} = {li:.4f}$")
    explanation = "\n".join(rows) + f"\n\nMean: ${value:.4f}$."
    return Variant(prompt, {"d": d.tolist(), "delta": delta}, value, explanation, rtol=1e-3)


@exercise("losses.worst-case", title="Loss of an uninformed classifier", chapter=CHAPTER,
          topic="worst-case losses", points=2, answer_type="numeric")
def _worst_case(rng: np.random.Generator) -> Variant:
    C = int(rng.integers(3, 21))
    zeros = np.zeros((1, C))
    ce = float(losses.softmax_cross_entropy(zeros, [0]))
    hinge = float(losses.multiclass_hinge(zeros, [0]))
    prompt = (f"A freshly initialised network on a {C}-class problem outputs scores that are all "
              "(nearly) zero. Give two numbers: its softmax cross-entropy loss and its multiclass "
              "hinge loss (margin 1) on any sample. Answer as `ce, hinge`.")
    explanation = (f"All scores equal means the softmax is uniform, $\\hat y_j = 1/{C}$ for every "
                   f"class $j$, so the cross-entropy is $\\log {C} = {ce:.4f}$. Every one of the "
                   f"${C} - 1$ wrong "
                   f"classes contributes $\\max(0, 0 - 0 + 1) = 1$ to the hinge loss: ${hinge:.0f}$. "
                   "If the first training loss is far from these values, suspect a bug.")
    return Variant(prompt, {"k": C}, [ce, hinge], explanation, rtol=1e-3)


@exercise("losses.kl-divergence", title="KL divergence from cross-entropy and entropy",
          chapter=CHAPTER, topic="KL divergence", points=2, answer_type="numeric")
def _kl(rng: np.random.Generator) -> Variant:
    k = 3
    p = rng.dirichlet(np.ones(k) * 2.0)
    q = rng.dirichlet(np.ones(k) * 2.0)
    p = np.round(p, 2)
    p[-1] = round(1.0 - p[:-1].sum(), 2)
    q = np.round(q, 2)
    q[-1] = round(1.0 - q[:-1].sum(), 2)
    if np.any(p <= 0) or np.any(q <= 0):
        p, q = np.array([0.5, 0.3, 0.2]), np.array([0.2, 0.3, 0.5])
    kl = losses.kl_divergence(p, q)
    ce = losses.cross_entropy(p, q)
    h = losses.entropy(p)
    prompt = (f"The data distribution over three outcomes is $P = {_vec(p)}$ and a model predicts "
              f"$Q = {_vec(q)}$. Compute $\\mathrm{{KL}}(P\\,\\Vert\\,Q)$ in nats.")
    explanation = (f"$\\mathrm{{H}}(P, Q) = -\\sum_j P_j \\log Q_j = {ce:.4f}$ and "
                   f"$\\mathrm{{H}}(P) = -\\sum_j P_j\\log P_j = {h:.4f}$, so "
                   f"$\\mathrm{{KL}}(P\\Vert Q) = \\mathrm{{H}}(P, Q) - \\mathrm{{H}}(P) = {kl:.4f}$. "
                   "Directly, $\\sum_j P_j\\log(P_j/Q_j)$ gives the same number.")
    return Variant(prompt, {"p": p.tolist(), "q": q.tolist()}, kl, explanation, rtol=2e-3,
                   atol=1e-4)


@exercise("losses.outlier-gradient", title="Which loss listens least to this residual?",
          chapter=CHAPTER, topic="regression losses", points=1, answer_type="choice")
def _outlier_gradient(rng: np.random.Generator) -> Variant:
    d = float(rng.choice([0.2, 0.4, 0.6, 2.0, 3.0, 5.0, 8.0]))
    delta = float(rng.choice([0.25, 0.5, 1.0]))
    one = np.array([d])
    zero = np.zeros(1)
    grads = {
        "a": ("L1", abs(float(losses.l1_grad(one, zero)[0]))),
        "b": ("L2 (squared error)", abs(float(losses.l2_grad(one, zero)[0]))),
        "c": (f"Huber with $\\delta = {delta:g}$", abs(float(losses.huber_grad(one, zero, delta)[0]))),
        "d": ("log-cosh", abs(float(losses.log_cosh_grad(one, zero)[0]))),
    }
    best = min(grads, key=lambda k: grads[k][1])
    prompt = (f"A single training sample has residual $d = \\hat y - y = {d:g}$. For which loss is the "
              r"gradient magnitude $\lvert\partial \ell / \partial \hat y\rvert$ smallest, i.e. which loss "
              "pulls the prediction least towards this sample?")
    explanation = ("The gradient magnitudes are: "
                   + "; ".join(f"{name}: {g:.4f}" for name, g in grads.values())
                   + r". (L1: $1$; L2: $2\lvert d\rvert$; Huber: $\min(\lvert d\rvert, \delta)$; "
                   r"log-cosh: $\tanh\lvert d\rvert$.)")
    return Variant(prompt, {"d": d, "delta": delta}, best, explanation,
                   choices={k: v[0] for k, v in grads.items()})


@exercise("losses.log-cosh-code", title="A log-cosh that does not overflow", chapter=CHAPTER,
          topic="numerical stability", points=3, answer_type="code")
def _log_cosh_code(rng: np.random.Generator) -> Variant:
    big = float(rng.choice([800.0, 1e3, 5e3, 1e4]))
    # most tests are where the naive formula overflows: that is what the exercise is about
    inputs = [[0.0, 0.5, -0.5], [3.0, -7.0, 1e-8], [big, -big], [750.0], [-1e4, 2e3]]
    tests = [((x,), losses.log_cosh(np.array(x), np.zeros(len(x)), reduction="none").tolist())
             for x in inputs]
    starter = ("import numpy as np\n\n"
               "def log_cosh(d):\n"
               "    \"\"\"Elementwise log(cosh(d)) for a 1-D array d, finite for any finite d.\"\"\"\n"
               "    return np.log(np.cosh(d))  # overflows for |d| > 710: rewrite it\n")
    prompt = ("The direct formula `np.log(np.cosh(d))` returns `inf` once $\\lvert d\\rvert$ exceeds about 710 "
              f"(try $d = {big:g}$). Write a function `log_cosh(d)` that returns "
              r"$\log\cosh d$ elementwise, exact to double precision and finite for every finite $d$. "
              r"Hint: $\cosh d = \frac12 e^{\lvert d\rvert}(1 + e^{-2\lvert d\rvert})$.")
    explanation = (r"Take logs of the hint: $\log\cosh d = \lvert d\rvert + \log(1 + e^{-2\lvert d\rvert}) - \log 2$. "
                   "The exponent is never positive, so nothing overflows, and `np.log1p` keeps the "
                   "middle term accurate when it is tiny.\n\n"
                   "```python\nimport numpy as np\n\ndef log_cosh(d):\n    a = np.abs(d)\n"
                   "    return a + np.log1p(np.exp(-2 * a)) - np.log(2)\n```")
    reference = ("import numpy as np\n\ndef log_cosh(d):\n    a = np.abs(d)\n"
                 "    return a + np.log1p(np.exp(-2 * a)) - np.log(2)\n")
    return Variant(prompt, {"inputs": inputs}, reference, explanation, function="log_cosh",
                   tests=tests, starter=starter, rtol=1e-9, atol=1e-12)

