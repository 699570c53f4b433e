"""Exercises for the chapter *Averaging and augmentation*. Solutions come from :mod:`dlnotes.averaging` and :mod:`dlnotes.augmentation`."""

from __future__ import annotations

import numpy as np

from ..augmentation import fractional_max_pool2d, hflip, mixup, resize_bilinear
from ..averaging import EMA
from . import Part, Variant, exercise

CHAPTER = "averaging-augmentation"


@exercise("averaging-augmentation.ema-weights", title="An exponential moving average of the weights",
          chapter=CHAPTER, topic="weight averaging", points=2, answer_type="numeric")
def _ema(rng: np.random.Generator) -> Variant:
    k = int(rng.choice([3, 4]))
    xs = [float(v) for v in rng.choice(np.arange(-5.0, 6.0), size=k)]
    decay = float(rng.choice([0.5, 0.8, 0.9]))
    ema = EMA(decay)
    trace = []
    for x in xs:
        ema.update([np.array([x])])
        trace.append(float(ema.average[0][0]))
    prompt = (f"A weight takes the values ${', '.join(f'{v:g}' for v in xs)}$ after steps $1, \\dots, {k}$. An "
              f"exponential moving average with decay $\\zeta_{{\\text{{ema}}}} = {decay:g}$ starts from the first value "
              "(as `torch.optim.swa_utils.AveragedModel` with `get_ema_multi_avg_fn` does) and is updated after every "
              f"later step. Give the average after each of the {k} steps.")
    steps = "; ".join(f"${decay:g}\\cdot({trace[i - 1]:.6g}) + {1 - decay:g}\\cdot({xs[i]:g}) = {trace[i]:.6g}$"
                      for i in range(1, k))
    explanation = (f"The first update copies the weight: ${trace[0]:g}$. Then "
                   f"$\\bar x \\leftarrow \\zeta_{{\\text{{ema}}}}\\bar x + (1 - \\zeta_{{\\text{{ema}}}})x_t$: {steps}. "
                   f"The last value weighs the latest step by ${1 - decay:g}$ and the first by "
                   f"${decay:g}^{{{k - 1}}} = {decay ** (k - 1):.4g}$.")
    return Variant(prompt, {"xs": xs, "decay": decay}, trace, explanation, rtol=1e-6, atol=1e-9)


@exercise("averaging-augmentation.mixup-label", title="A mixup label", chapter=CHAPTER, topic="mixup",
          points=1, answer_type="numeric")
def _mixup(rng: np.random.Generator) -> Variant:
    C = 5
    y1, y2 = (int(v) for v in rng.choice(C, size=2, replace=False))
    lam = float(rng.choice([0.1, 0.25, 0.6, 0.7, 0.85]))
    _, label, _ = mixup(np.zeros(2), y1, np.ones(2), y2, C, lam=lam)
    prompt = (f"Mixup blends an image of class {y1} with an image of class {y2} (classes $0, \\dots, {C - 1}$) with "
              f"weight $\\lambda_{{\\text{{mix}}}} = {lam:g}$ on the first image. Give the soft label, a vector of "
              f"{C} probabilities.")
    explanation = (f"The label is blended like the image: $\\lambda_{{\\text{{mix}}}} e_{{{y1 + 1}}} + "
                   f"(1 - \\lambda_{{\\text{{mix}}}}) e_{{{y2 + 1}}}$ (basis vectors numbered from 1): "
                   f"$({', '.join(f'{v:g}' for v in label)})$, which sums to 1.")
    return Variant(prompt, {"y1": y1, "y2": y2, "lam": lam, "C": C}, [float(v) for v in label], explanation,
                   rtol=1e-9, atol=1e-12)


@exercise("averaging-augmentation.shapes", title="Shapes after augmentation", chapter=CHAPTER,
          topic="augmentation", points=2, answer_type="numeric")
def _shapes(rng: np.random.Generator) -> Variant:
    N = int(rng.choice([8, 16, 32]))
    H, W = int(rng.choice([120, 160])), int(rng.choice([200, 240]))
    h, w = int(rng.choice([60, 80, 100])), int(rng.choice([90, 120, 150]))
    S = int(rng.choice([32, 48, 64]))
    F = int(rng.choice([8, 16]))
    o = int(round(S / np.sqrt(2)))
    crop = np.zeros((h, w, 3))
    resized = hflip(resize_bilinear(crop, S, S))
    x = np.zeros((N, F, S, S))
    pooled = fractional_max_pool2d(x[:1, :1], 2, (o, o), np.full((1, 1, 2), 0.5))
    answer = [N, F, pooled.shape[2], pooled.shape[3]]
    prompt = (f"A batch of {N} RGB photographs of ${H} \\times {W}$ pixels goes through: a random crop of "
              f"${h} \\times {w}$ pixels, a resize to ${S} \\times {S}$, a horizontal flip, a $3 \\times 3$ convolution "
              f"with padding 1 and {F} output channels, and fractional max pooling with $2 \\times 2$ windows and "
              f"output size ${o} \\times {o}$ (a ratio of about $1/\\sqrt2$). Give the shape of one cropped image "
              "(rows, columns, channels), and the batch's shape (N, channels, rows, columns) at the end.")
    explanation = (f"The crop is ${h} \\times {w} \\times 3$; the resize makes it ${S} \\times {S} \\times 3$ "
                   f"(shape {resized.shape}) and the flip keeps the shape. The padded $3 \\times 3$ convolution keeps "
                   f"${S} \\times {S}$ and has {F} channels; fractional max pooling outputs the size it is asked for, "
                   f"${o} \\times {o}$: $({', '.join(str(v) for v in answer)})$.")
    return Variant(prompt, {"N": N, "H": H, "W": W, "h": h, "w": w, "S": S, "F": F, "o": o}, answer, explanation,
                   rtol=0, atol=0.5, parts=(Part("crop shape", [h, w, 3]),))
