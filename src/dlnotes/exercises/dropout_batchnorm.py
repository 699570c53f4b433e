"""Exercises for the chapter *Dropout and batch normalization*. Solutions come from :mod:`dlnotes.dropout` and :mod:`dlnotes.batchnorm`."""

from __future__ import annotations

import numpy as np

from ..batchnorm import batchnorm_forward
from ..dropout import expected_output, neuron_under_dropout
from . import Part, Variant, exercise

CHAPTER = "dropout-batchnorm"


@exercise("dropout-batchnorm.expected-activation", title="The expected activation under dropout",
          chapter=CHAPTER, topic="dropout", points=2, answer_type="numeric")
def _expected(rng: np.random.Generator) -> Variant:
    while True:  # a unit whose full pre-activation is 0 would make both answers 0
        w = [float(v) for v in rng.choice([-3.0, -2.0, -1.0, 1.0, 2.0, 3.0], size=2)]
        x = [float(v) for v in rng.choice([-1.0, 0.5, 1.0, 1.5, 2.0], size=2)]
        if w[0] * x[0] + w[1] * x[1] != 0:
            break
    p = float(rng.choice([0.25, 0.5, 0.75, 0.8]))
    e = neuron_under_dropout(w, x, p)
    vanilla = expected_output(w, x, p)
    inverted = expected_output(w, x, p, inverted=True)
    prompt = (f"A linear unit $a = w_1 x_1 + w_2 x_2$ has $w_1 = {w[0]:g}$, $w_2 = {w[1]:g}$ and inputs "
              f"$x_1 = {x[0]:g}$, $x_2 = {x[1]:g}$. Each input is kept independently with keep probability "
              f"$p = {p:g}$ (PyTorch's `p` would be ${1 - p:g}$). Give $\\mathbb E[a]$ under vanilla dropout "
              "(kept inputs unscaled), then under inverted dropout (kept inputs divided by $p$).")
    rows = ", ".join(f"$\\xi = ({int(m[0])}, {int(m[1])})$: $a = {a:g}$ with probability ${pr:g}$"
                     for m, a, pr in zip(e["masks"], e["a"], e["probs"]))
    explanation = (f"The four masks: {rows}. Summing probability times activation gives "
                   f"$\\mathbb E[a] = p\\,(w_1x_1 + w_2x_2) = {p:g}\\cdot{w[0] * x[0] + w[1] * x[1]:g} = {vanilla:.6g}$ "
                   f"for vanilla dropout, and dividing by $p$ gives ${inverted:.6g}$ for inverted dropout: the "
                   "full unit's value, which is why inverted dropout needs no scaling at test time.")
    return Variant(prompt, {"w": w, "x": x, "p": p}, [vanilla, inverted], explanation, rtol=1e-6, atol=1e-9)


@exercise("dropout-batchnorm.bn-forward", title="A batch-normalization forward pass",
          chapter=CHAPTER, topic="batch normalization", points=3, answer_type="numeric")
def _bn_forward(rng: np.random.Generator) -> Variant:
    x = [float(v) for v in rng.choice(np.arange(-4.0, 9.0), size=4, replace=False)]
    gamma = float(rng.choice([0.5, 1.0, 2.0]))
    beta = float(rng.choice([-1.0, 0.0, 1.0, 3.0]))
    out, cache = batchnorm_forward(np.array(x)[:, None], [gamma], [beta], eps=1e-12)
    mu, var, _ = cache[-1]
    prompt = (f"A batch of four samples has one feature, $x = ({', '.join(f'{v:g}' for v in x)})$. Batch "
              f"normalization in train mode uses $\\gamma = {gamma:g}$, $\\beta = {beta:g}$ and $\\varepsilon = 0$. "
              "Give the batch mean $\\mu_{\\mathcal B}$, the (biased) batch variance $\\sigma^2_{\\mathcal B}$, "
              "and the four outputs.")
    explanation = (f"$\\mu_{{\\mathcal B}} = {float(mu[0]):.6g}$ and $\\sigma^2_{{\\mathcal B}} = {float(var[0]):.6g}$ "
                   "(divide by the batch size 4, not 3: the batch is normalised with the biased variance). "
                   "Each output is $\\gamma (x - \\mu_{\\mathcal B})/\\sigma_{\\mathcal B} + \\beta$: "
                   f"${', '.join(f'{v:.4g}' for v in out[:, 0])}$. Their mean is $\\beta$ and their biased "
                   "standard deviation $\\gamma$.")
    return Variant(prompt, {"x": x, "gamma": gamma, "beta": beta}, [float(v) for v in out[:, 0]],
                   explanation, rtol=1e-5, atol=1e-8,
                   parts=(Part("batch mean", float(mu[0])), Part("batch variance", float(var[0]))))
