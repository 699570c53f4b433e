"""Exercises for the chapter *Regularization penalties*. Solutions come from :mod:`dlnotes.regularization`."""

from __future__ import annotations

import numpy as np

from .. import regularization as reg
from . import Variant, exercise

CHAPTER = "regularization"


def _vec(v, digits: int = 3) -> str:
    return "(" + ", ".join(f"{round(float(x), digits):g}" for x in v) + ")"


def _gd_step(rng: np.random.Generator, kind: str) -> Variant:
    theta = np.round(rng.uniform(-2.0, 2.0, size=3), 1)
    g = np.round(rng.uniform(-1.0, 1.0, size=3), 1)
    lam = float(rng.choice([0.01, 0.05, 0.1, 0.5]))
    alpha = float(rng.choice([0.1, 0.2, 0.5]))
    full = reg.objective_grad(g, theta, lam, kind)
    new = theta - alpha * full
    name = {"l2": r"$R(\theta) = \sum_j \theta_j^2$", "l1": r"$R(\theta) = \sum_j \lvert\theta_j\rvert$"}[kind]
    rgrad = {"l2": r"2\theta", "l1": r"\operatorname{sign}(\theta)"}[kind]
    prompt = (f"The parameters are $\\theta = {_vec(theta, 1)}$ and the gradient of the mean data loss "
              f"there is $g = {_vec(g, 1)}$. The objective adds $\\lambda R(\\theta)$ with {name} and "
              f"$\\lambda = {lam:g}$. Take one gradient-descent step with learning rate "
              f"$\\alpha = {alpha:g}$ on the whole objective: what is the new $\\theta$?")
    explanation = (f"The penalty's gradient is ${rgrad} = {_vec(reg.penalty_grad(theta, kind), 3)}$, so "
                   f"the full gradient is $g + \\lambda {rgrad} = {_vec(full, 4)}$ and "
                   f"$\\theta - \\alpha(\\ldots) = {_vec(new, 4)}$.")
    if kind == "l2":
        explanation += (f" Equivalently, $\\theta \\leftarrow (1 - 2\\alpha\\lambda)\\theta - \\alpha g$ "
                        f"with shrink factor ${1 - 2 * alpha * lam:g}$: weight decay.")
    else:
        explanation += (" The penalty's part of the step, $-\\alpha\\lambda\\operatorname{sign}(\\theta)$, "
                        "moves every nonzero weight towards zero by the same amount "
                        f"$\\alpha\\lambda = {alpha * lam:g}$, whatever its size; the data part "
                        "$-\\alpha g$ moves it either way.")
    away = [j for j in range(len(theta)) if abs(new[j]) > abs(theta[j])]
    if away:
        which = ", ".join(f"$\\theta_{{{j + 1}}}$" for j in away)
        explanation += (f" Here {which} {'ends' if len(away) == 1 else 'end'} up further from zero "
                        "than before: the data gradient outweighs the penalty.")
    return Variant(prompt, {"theta": theta.tolist(), "g": g.tolist(), "lam": lam, "alpha": alpha},
                   new.tolist(), explanation, rtol=1e-4, atol=1e-6)


@exercise("regularization.l2-step", title="One gradient step with L2 regularization",
          chapter=CHAPTER, topic="L2 penalty", points=2, answer_type="numeric")
def _l2_step(rng: np.random.Generator) -> Variant:
    return _gd_step(rng, "l2")


@exercise("regularization.l1-step", title="One gradient step with L1 regularization",
          chapter=CHAPTER, topic="L1 penalty", points=2, answer_type="numeric")
def _l1_step(rng: np.random.Generator) -> Variant:
    return _gd_step(rng, "l1")


@exercise("regularization.elastic-net", title="Value of an elastic-net penalty", chapter=CHAPTER,
          topic="elastic net", points=1, answer_type="numeric")
def _elastic_net(rng: np.random.Generator) -> Variant:
    theta = np.round(rng.uniform(-3.0, 3.0, size=4), 1)
    r = float(rng.choice([0.2, 0.5, 0.8]))
    value = reg.elastic_net_penalty(theta, l1_ratio=r)
    prompt = (f"Compute the elastic-net penalty $R(\\theta) = \\nu\\sum_j\\lvert\\theta_j\\rvert + "
              f"(1-\\nu)\\sum_j\\theta_j^2$ of $\\theta = {_vec(theta, 1)}$ with mixing $\\nu = {r:g}$.")
    explanation = (f"$\\sum_j\\lvert\\theta_j\\rvert = {reg.l1_penalty(theta):.4g}$ and "
                   f"$\\sum_j\\theta_j^2 = {reg.l2_penalty(theta):.4g}$, so "
                   f"$R = {r:g}\\cdot{reg.l1_penalty(theta):.4g} + {1 - r:g}\\cdot{reg.l2_penalty(theta):.4g}"
                   f" = {value:.4f}$.")
    return Variant(prompt, {"theta": theta.tolist(), "l1_ratio": r}, value, explanation, rtol=1e-4)


@exercise("regularization.soft-threshold", title="Where L1's exact zeros come from",
          chapter=CHAPTER, topic="L1 penalty", points=2, answer_type="numeric")
def _soft_threshold(rng: np.random.Generator) -> Variant:
    z = np.round(rng.uniform(-1.0, 1.0, size=5), 2)
    tau = float(rng.choice([0.1, 0.2, 0.3]))
    out = reg.soft_threshold(z, tau)
    prompt = (f"Proximal gradient descent for an L1 penalty ends each step with soft-thresholding: "
              r"every weight $\theta_j$ becomes "
              r"$\operatorname{sign}(\theta_j)\max(\lvert\theta_j\rvert - \alpha\lambda, 0)$. "
              f"Apply it to $\\theta = {_vec(z, 2)}$ with $\\alpha\\lambda = {tau:g}$.")
    zeros = int(np.sum(out == 0))
    explanation = (f"The result is ${_vec(out, 4)}$: entries within $\\alpha\\lambda$ of zero become "
                   f"exactly zero ({zeros} of them here); the others move $\\alpha\\lambda$ towards zero.")
    return Variant(prompt, {"z": z.tolist(), "tau": tau}, out.tolist(), explanation,
                   rtol=1e-6, atol=1e-9)


@exercise("regularization.weight-decay-mapping", title="PyTorch's weight_decay in our notation",
          chapter=CHAPTER, topic="L2 penalty", points=1, answer_type="numeric")
def _weight_decay_mapping(rng: np.random.Generator) -> Variant:
    wd = float(rng.choice([1e-4, 5e-4, 1e-3, 1e-2, 0.1]))
    lam = wd / 2.0
    prompt = (f"`torch.optim.SGD(params, lr=0.1, weight_decay={wd:g})` adds `weight_decay * theta` to "
              r"each gradient before the step. Which $\lambda$ in the objective "
              r"$\frac1N\sum_i L_i + \lambda\sum_j\theta_j^2$ gives exactly the same updates?")
    explanation = (r"The gradient of $\lambda\sum\theta_j^2$ is $2\lambda\theta$; setting "
                   f"$2\\lambda = {wd:g}$ gives $\\lambda = {lam:g}$. (Frameworks that write the "
                   r"penalty as $\frac{\lambda}{2}\lVert\theta\rVert^2$ have $\lambda$ = weight_decay.)")
    return Variant(prompt, {"weight_decay": wd}, lam, explanation, rtol=1e-9, atol=1e-12)


@exercise("regularization.activity-penalty", title="An activity penalty on a tiny batch",
          chapter=CHAPTER, topic="kernel, bias and activity regularizers", points=2,
          answer_type="numeric")
def _activity(rng: np.random.Generator) -> Variant:
    W = np.round(rng.uniform(-1.0, 1.0, size=(2, 2)), 1)
    b = np.round(rng.uniform(-0.5, 0.5, size=2), 1)
    X = np.round(rng.uniform(-2.0, 2.0, size=(2, 2)), 1)
    lam = float(rng.choice([0.01, 0.1, 0.5]))
    res = reg.dense_penalties(W, b, X, activity=lam, activation="identity")
    A = X @ W + b
    prompt = (f"A dense layer with identity activation computes $a = xW + b$ with "
              f"$W = \\begin{{pmatrix}} {W[0, 0]:g} & {W[0, 1]:g} \\\\ {W[1, 0]:g} & {W[1, 1]:g} \\end{{pmatrix}}$ "
              f"and $b = {_vec(b, 1)}$. On the batch $x^{{(1)}} = {_vec(X[0], 1)}$, "
              f"$x^{{(2)}} = {_vec(X[1], 1)}$, what is the L2 activity penalty "
              f"$\\lambda_a \\frac1N \\sum_i \\lVert a^{{(i)}}\\rVert^2$ with $\\lambda_a = {lam:g}$?")
    explanation = (f"$a^{{(1)}} = {_vec(A[0], 3)}$ and $a^{{(2)}} = {_vec(A[1], 3)}$; the mean of "
                   f"their squared norms is ${(A ** 2).sum() / 2:.4f}$, times $\\lambda_a$: "
                   f"${res.activity:.5f}$. Unlike a kernel penalty, it changes when the inputs do.")
    return Variant(prompt, {"W": W.tolist(), "b": b.tolist(), "X": X.tolist(), "lam": lam},
                   res.activity, explanation, rtol=1e-4, atol=1e-8)
