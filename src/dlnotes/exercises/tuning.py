"""Exercises for the chapter *The tuning recipe*. Solutions come from :mod:`dlnotes.tuning` and :mod:`dlnotes.losses`."""

from __future__ import annotations

import math

import numpy as np

from .. import losses, tuning
from . import Variant, exercise

CHAPTER = "tuning"


@exercise("tuning.initial-loss", title="The loss of an untrained classifier", chapter=CHAPTER,
          topic="initial loss", points=1, answer_type="numeric")
def _initial_loss(rng: np.random.Generator) -> Variant:
    C = int(rng.choice([2, 4, 5, 10, 20, 100, 1000]))
    N = int(rng.choice([8, 32, 64]))
    labels = rng.integers(0, C, size=N)
    loss = float(losses.softmax_cross_entropy(np.zeros((N, C)), labels))
    prompt = (f"A freshly initialised network classifies images into $C = {C}$ classes. Its output layer's "
              "weights are tiny, so all its scores (logits) are close to 0. What mean softmax cross-entropy "
              f"should its first minibatch of {N} images have, whatever their labels?")
    explanation = (f"With equal scores the softmax gives every class probability $1/C$, so every image's loss "
                   f"is $-\\log(1/C) = \\log C = \\log {C} = {loss:.6g}$ (in nats), and so is the mean. A first "
                   "loss far above $\\log C$ means the scores start large (a badly scaled last layer); far below "
                   "means the labels leak into the inputs or the loss is computed wrongly.")
    return Variant(prompt, {"C": C, "N": N}, math.log(C), explanation, rtol=1e-4)


@exercise("tuning.update-ratio", title="The update-to-weight ratio of one SGD step", chapter=CHAPTER,
          topic="update-to-weight ratio", points=2, answer_type="numeric")
def _update_ratio(rng: np.random.Generator) -> Variant:
    n_in, n_out = (int(v) for v in rng.choice([64, 100, 128, 256], size=2))
    w_norm = float(np.round(rng.uniform(2.0, 20.0), 1))
    g_norm = float(np.round(rng.uniform(0.05, 5.0), 2))
    lr = float(rng.choice([1e-4, 1e-3, 1e-2, 1e-1, 1.0]))
    # a concrete W and g with those norms, so the answer is checked by the package's monitor
    W = rng.standard_normal((n_in, n_out))
    W *= w_norm / np.linalg.norm(W)
    g = rng.standard_normal((n_in, n_out))
    g *= g_norm / np.linalg.norm(g)
    from ..optim import SGD
    p = W.copy()
    mon = tuning.UpdateRatioMonitor(SGD([p], lr=lr))
    mon.step([g])
    ratio = float(mon.ratios[0, 0])
    verdict = ("far above the rule of thumb: the rate is too high" if ratio > 1e-2 else
               "far below it: the rate is too low" if ratio < 1e-4 else "within a factor of ten of it")
    prompt = (f"A weight matrix $W$ of shape ({n_in}, {n_out}) has Frobenius norm $\\lVert W\\rVert = {w_norm:g}$, and "
              f"its gradient on the current minibatch has norm $\\lVert g\\rVert = {g_norm:g}$. Plain SGD "
              f"(`torch.optim.SGD(lr={lr:g})`, no momentum) takes one step. What is the update-to-weight ratio "
              r"$\chi = \lVert\Delta W\rVert/\lVert W\rVert$?")
    explanation = (f"$\\Delta W = -\\alpha g$, so $\\chi = \\alpha\\lVert g\\rVert/\\lVert W\\rVert = {lr:g}\\cdot{g_norm:g}/{w_norm:g} "
                   f"= {ratio:.4g}$: {verdict} ($\\chi \\approx 10^{{-3}}$). The shape does not enter; with momentum "
                   "or Adam the step is not $\\alpha g$, which is why the ratio is measured, not computed.")
    return Variant(prompt, {"w_norm": w_norm, "g_norm": g_norm, "lr": lr, "shape": [n_in, n_out]}, ratio,
                   explanation, rtol=1e-6)


@exercise("tuning.random-vs-grid", title="How many values of the important hyperparameter?", chapter=CHAPTER,
          topic="random search", points=1, answer_type="numeric")
def _random_vs_grid(rng: np.random.Generator) -> Variant:
    k = int(rng.choice([2, 3, 4, 5, 6]))
    d = int(rng.choice([2, 3]))
    n = k ** d
    space = {f"h{i}": tuning.LogUniform(1e-4, 1.0) for i in range(d)}
    grid = tuning.grid_search(space, k)
    rand = tuning.random_search(space, n, seed=int(rng.integers(0, 2**31)))
    g_distinct = len({c["h0"] for c in grid})
    r_distinct = len({c["h0"] for c in rand})
    prompt = (f"You can afford {n} training runs to tune {d} hyperparameters, of which only the first really "
              f"matters. A grid search tries {k} values of each ({k}$^{d}$ = {n} runs); a random search draws all "
              f"{d} independently from continuous ranges for each of the {n} runs. How many distinct values of the "
              "important hyperparameter does each try? Give the grid's number, then the random search's.")
    explanation = (f"The grid repeats each of its {k} values {n // k} times, once for every combination of the "
                   f"others: {g_distinct} distinct values. Random search draws a new value in every run: {r_distinct} "
                   "distinct values (with probability 1 for a continuous range). If the others hardly matter, the "
                   f"grid has spent {n} runs to learn what {k} would have told it (Bergstra and Bengio, 2012).")
    return Variant(prompt, {"k": k, "d": d}, [float(g_distinct), float(r_distinct)], explanation,
                   rtol=1e-9, atol=0.5)


@exercise("tuning.moving-average-code", title="Implement the trailing moving average", chapter=CHAPTER,
          topic="learning curves", points=2, answer_type="code")
def _moving_average_code(rng: np.random.Generator) -> Variant:
    tests = []
    for _ in range(4):
        n = int(rng.integers(3, 9))
        x = rng.choice([0.5, 1.0, 2.0, 3.0, 4.0, 8.0], size=n)
        M = int(rng.integers(1, n + 1))
        tests.append(((x.tolist(), M), tuning.moving_average(x, M).tolist()))
    starter = ("import numpy as np\n\n"
               "def moving_average(x, window):\n"
               "    \"\"\"Mean of the last `window` values at every t (fewer at the start).\"\"\"\n"
               "    return np.convolve(x, np.ones(window) / window, mode='same')   # not trailing: fix it\n")
    reference = ("import numpy as np\n\n"
                 "def moving_average(x, window):\n"
                 "    x = np.asarray(x, dtype=float)\n"
                 "    c = np.concatenate([[0.0], np.cumsum(x)])\n"
                 "    t = np.arange(1, len(x) + 1)\n"
                 "    lo = np.maximum(t - window, 0)\n"
                 "    return (c[t] - c[lo]) / (t - lo)\n")
    prompt = ("Write `moving_average(x, window)` that returns, for every $t$, the mean of "
              r"$x_{t-T_{\text{avg}}+1}, \dots, x_t$ with $T_{\text{avg}}$ = `window` (a *trailing* average, which uses no future values), "
              "and the mean of all the values so far while $t < T_{\\text{avg}} - 1$. The output has the length of `x`.")
    explanation = ("A trailing average at step $t$ may only use steps up to $t$, or a plot of the training loss "
                   "would show a trend before it happens; `np.convolve(..., mode='same')` centres the window. A "
                   "cumulative sum gives every window's sum as a difference of two entries, in one pass."
                   "\n\n```python\n" + reference + "```")
    return Variant(prompt, {"tests": [t[0] for t in tests]}, reference, explanation,
                   function="moving_average", tests=tests, starter=starter, rtol=1e-12, atol=1e-12)
