"""Exercises for the chapter *Fine-tuning*. Solutions come from :mod:`dlnotes.landscapes`."""

from __future__ import annotations

import numpy as np

from ..landscapes import stability_limit
from . import Variant, exercise

CHAPTER = "fine-tuning"


@exercise("fine-tuning.stability-limit", title="The largest stable rate where fine-tuning starts",
          chapter=CHAPTER, topic="fine-tuning rate", points=2, answer_type="numeric")
def _stability(rng: np.random.Generator) -> Variant:
    lam_ft = float(rng.choice([120.0, 180.0, 230.0, 300.0, 400.0]))
    lam_sc = float(rng.choice([10.0, 20.0, 40.0, 60.0]))
    rho = float(rng.choice([0.0, 0.5, 0.9]))
    h = stability_limit(rho)
    prompt = (f"Near where training starts, the loss is approximately a quadratic whose largest curvature "
              f"(Hessian eigenvalue) is $\\lambda_{{\\max}} = {lam_sc:g}$ for a randomly initialised network and "
              f"$\\lambda_{{\\max}} = {lam_ft:g}$ for the pre-trained body with a fresh head. SGD runs with "
              f"momentum $\\rho = {rho:g}$. What is the largest learning rate for which the iteration does not "
              "diverge along the steepest direction, from scratch and when fine-tuning? Give both numbers.")
    explanation = (f"Heavy-ball momentum on a quadratic converges along an eigendirection with curvature "
                   f"$\\lambda$ if and only if $\\alpha\\lambda < 2(1 + \\rho) = {h:.4g}$ "
                   f"(the chapter *Momentum and Nesterov*). So $\\alpha < {h:.4g}/{lam_sc:g} = {h / lam_sc:.4g}$ "
                   f"from scratch and $\\alpha < {h:.4g}/{lam_ft:g} = {h / lam_ft:.4g}$ when fine-tuning: "
                   f"{lam_ft / lam_sc:.3g} times smaller. The bound is local (the curvature changes as "
                   "training moves), but it says where large rates start to throw the weights out of the "
                   "basin they begin in, and for fine-tuning that basin is the point.")
    return Variant(prompt, {"lam_scratch": lam_sc, "lam_finetune": lam_ft, "rho": rho},
                   [h / lam_sc, h / lam_ft], explanation, rtol=1e-4)


@exercise("fine-tuning.discriminative-step", title="One step with discriminative rates", chapter=CHAPTER,
          topic="fine-tuning rate", points=1, answer_type="numeric")
def _discriminative(rng: np.random.Generator) -> Variant:
    wb, wh = (float(v) for v in np.round(rng.uniform(-1.0, 1.0, size=2), 1))
    gb, gh = (float(v) for v in np.round(rng.uniform(-5.0, 5.0, size=2), 1))
    lr_head = float(rng.choice([0.1, 0.05, 0.01]))
    factor = float(rng.choice([0.1, 0.01]))
    lr_body = lr_head * factor
    nb, nh = wb - lr_body * gb, wh - lr_head * gh
    prompt = (f"Fine-tuning uses plain SGD with the rate $\\alpha_{{\\text{{head}}}} = {lr_head:g}$ for the new head and "
              f"$\\alpha_{{\\text{{body}}}} = {factor:g}\\,\\alpha_{{\\text{{head}}}}$ for the pre-trained body "
              f"(`torch.optim.SGD([{{'params': body, 'lr': {lr_body:g}}}, {{'params': head, 'lr': {lr_head:g}}}])`). "
              f"A body weight $w_b = {wb:g}$ has gradient ${gb:g}$, a head weight $w_h = {wh:g}$ gradient ${gh:g}$. "
              "Give both weights after one step.")
    explanation = (f"$w_b - \\alpha_{{\\text{{body}}}} g_b = {wb:g} - {lr_body:g}\\cdot({gb:g}) = {nb:.6g}$ and "
                   f"$w_h - \\alpha_{{\\text{{head}}}} g_h = {wh:g} - {lr_head:g}\\cdot({gh:g}) = {nh:.6g}$: the body "
                   f"moves {1 / factor:g} times less for the same gradient, so the fresh head can learn quickly "
                   "while the pre-trained features stay close to where they were.")
    return Variant(prompt, {"wb": wb, "wh": wh, "gb": gb, "gh": gh, "lr_head": lr_head, "factor": factor},
                   [nb, nh], explanation, rtol=1e-6, atol=1e-9)
