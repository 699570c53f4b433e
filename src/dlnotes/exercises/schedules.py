"""Exercises for the chapter *Learning-rate schedules*.

Solutions come from :mod:`dlnotes.schedules`; the tests check them against
``torch.optim.lr_scheduler`` and closed forms.
"""

from __future__ import annotations

import math

import numpy as np

from .. import schedules
from . import Variant, exercise

CHAPTER = "schedules"


@exercise("schedules.warmup-cosine", title="The rate of a warm-up + cosine schedule",
          chapter=CHAPTER, topic="warm-up and cosine decay", points=2, answer_type="numeric")
def _warmup_cosine(rng: np.random.Generator) -> Variant:
    lr = float(rng.choice([0.1, 0.05, 3e-4, 1e-3]))
    W = int(rng.choice([100, 200, 500]))
    T = int(rng.choice([900, 1800, 4500]))
    in_warmup = bool(rng.random() < 0.3)
    t = int(rng.integers(1, W)) if in_warmup else int(rng.integers(W, W + T))
    sched = schedules.warmup(schedules.cosine(lr, T), W)
    value = sched(t)
    prompt = (f"A run uses a linear warm-up from 0 over the first $W = {W}$ steps to the peak "
              f"rate $\\alpha = {lr:g}$, followed by a cosine decay to 0 over the next $T = {T}$ "
              f"steps. Steps are counted from $t = 0$. What is the learning rate of step $t = {t}$?")
    if in_warmup:
        explanation = (f"Step {t} is in the warm-up ($t < W$): $\\alpha_t = \\alpha\\,t/W = "
                       f"{lr:g} \\cdot {t}/{W} = {value:.6g}$.")
    else:
        explanation = (f"Step {t} is $t - W = {t - W}$ steps into the cosine phase: "
                       r"$\alpha_t = \tfrac12\alpha\big(1 + \cos(\pi (t - W)/T)\big) = "
                       f"\\tfrac12 \\cdot {lr:g}\\,(1 + \\cos(\\pi \\cdot {t - W}/{T})) = {value:.6g}$. "
                       "(Forgetting the shift by $W$ is the classic mistake.)")
    return Variant(prompt, {"lr": lr, "warmup": W, "total": T, "t": t}, value, explanation,
                   rtol=1e-4, atol=1e-12)


@exercise("schedules.step-decay", title="Step decay every few epochs", chapter=CHAPTER,
          topic="step decay", points=2, answer_type="numeric")
def _step_decay(rng: np.random.Generator) -> Variant:
    lr = float(rng.choice([0.1, 0.2, 0.05]))
    every = int(rng.choice([5, 10, 30]))
    gamma = float(rng.choice([0.5, 0.1]))
    per_epoch = int(rng.choice([100, 390, 500]))
    epoch = int(rng.integers(1, 4 * every))
    t = epoch * per_epoch + int(rng.integers(0, per_epoch))
    value = schedules.step_decay(lr, every * per_epoch, gamma)(t)
    drops = t // (every * per_epoch)
    prompt = (f"Training starts at $\\alpha = {lr:g}$ and multiplies the rate by $\\zeta = {gamma:g}$ "
              f"every {every} epochs. An epoch has {per_epoch} steps, and steps are counted from 0. "
              f"What is the learning rate of step $t = {t}$?")
    explanation = (f"Step {t} lies in epoch $\\lfloor {t}/{per_epoch} \\rfloor = {t // per_epoch}$ "
                   f"(counting from 0). The rate has dropped $\\lfloor {t}/({every}\\cdot{per_epoch})"
                   f"\\rfloor = {drops}$ times, so $\\alpha_t = {lr:g}\\cdot{gamma:g}^{{{drops}}} = "
                   f"{value:.6g}$. (Halving at *every iteration* instead would have multiplied the "
                   f"rate by $2^{{-{t}}}$ by now: nothing would be left of it.)")
    return Variant(prompt, {"lr": lr, "every_epochs": every, "gamma": gamma,
                            "steps_per_epoch": per_epoch, "t": t}, value, explanation,
                   rtol=1e-6, atol=1e-15)


@exercise("schedules.exponential", title="Exponential decay", chapter=CHAPTER,
          topic="exponential decay", points=1, answer_type="numeric")
def _exponential(rng: np.random.Generator) -> Variant:
    lr = float(rng.choice([0.1, 0.01, 0.5]))
    k = float(rng.choice([1e-3, 2e-3, 5e-3, 1e-2]))
    t = int(rng.choice([50, 100, 250, 500, 1000]))
    value = schedules.exponential(lr, math.exp(-k))(t)
    tau = round(1.0 / k)
    prompt = (f"Exponential decay sets $\\alpha_t = \\alpha e^{{-t/\\tau}}$. With $\\alpha = {lr:g}$ and "
              f"the time constant $\\tau = {tau}$ steps, what is the rate at step $t = {t}$?")
    explanation = (f"$\\alpha_t = {lr:g}\\, e^{{-{t}/{tau}}} = {lr:g}\\, e^{{{-k * t:g}}} = "
                   f"{value:.6g}$. This is PyTorch's `ExponentialLR(gamma=exp(-1/tau))`, since "
                   r"$e^{-t/\tau} = (e^{-1/\tau})^t$. (The version with the step in the denominator, "
                   r"$e^{-1/(\tau t)}$, sometimes written in notes, *increases* with $t$, from 0 "
                   r"towards $\alpha$.)")
    return Variant(prompt, {"lr": lr, "k": k, "t": t}, value, explanation, rtol=1e-6)


@exercise("schedules.batch-scaling", title="Scaling the rate with the batch size", chapter=CHAPTER,
          topic="batch-size scaling", points=2, answer_type="numeric")
def _batch_scaling(rng: np.random.Generator) -> Variant:
    lr = float(rng.choice([0.1, 0.05, 1e-3, 3e-4]))
    b0 = int(rng.choice([32, 64, 128, 256]))
    factor = int(rng.choice([2, 4, 8, 16, 32]))
    b = b0 * factor
    lin = schedules.scale_lr_for_batch_size(lr, b, b0, "linear")
    sq = schedules.scale_lr_for_batch_size(lr, b, b0, "sqrt")
    prompt = (f"A learning rate of {lr:g} works well with batches of {b0}. You move to batches of "
              f"{b} samples. What rate does the linear scaling rule suggest, and what rate the "
              "square-root rule? Answer as `linear, sqrt`.")
    explanation = (f"The batch grows by the factor $B/B_0 = {b}/{b0} = {factor}$. Linear rule: "
                   f"$(B/B_0)\\,\\alpha = {lin:.6g}$ (one large step goes as far as $B/B_0$ small ones "
                   f"would, while the gradient changes little). Square-root rule: "
                   f"$\\sqrt{{B/B_0}}\\,\\alpha = {sq:.6g}$ "
                   r"(keeps the standard deviation of the update's noise, $\alpha\sigma/\sqrt B$, "
                   "the same). Either way, large rates need a warm-up.")
    return Variant(prompt, {"lr": lr, "base_batch_size": b0, "batch_size": b}, [lin, sq],
                   explanation, rtol=1e-6)


@exercise("schedules.warm-restarts", title="Cosine with warm restarts", chapter=CHAPTER,
          topic="cyclic schedules and warm restarts", points=2, answer_type="numeric")
def _warm_restarts(rng: np.random.Generator) -> Variant:
    lr = float(rng.choice([0.1, 0.05]))
    t0 = int(rng.choice([10, 20, 50]))
    mult = int(rng.choice([1, 2]))
    t = int(rng.integers(t0 + 1, 6 * t0))
    value = schedules.cosine_warm_restarts(lr, t0, mult)(t)
    cycles, t_cur, t_i = [], t, t0
    while t_cur >= t_i:
        cycles.append(t_i)
        t_cur -= t_i
        t_i *= mult
    prompt = (f"SGDR (cosine annealing with warm restarts) starts at $\\alpha = {lr:g}$, decays to 0 "
              f"along a half cosine over a first cycle of $T_0 = {t0}$ steps, then restarts; each "
              f"cycle is $T_{{\\mathrm{{mult}}}} = {mult}$ times as long as the previous one. Steps "
              f"are counted from 0. What is the rate at step $t = {t}$?")
    explanation = (f"The completed cycles last ${' + '.join(map(str, cycles))} = {sum(cycles)}$ steps, "
                   f"so step {t} is $t_{{\\mathrm{{cur}}}} = {t_cur}$ steps into a cycle of "
                   f"$T_i = {t_i}$ steps: $\\alpha_t = \\tfrac12 \\cdot {lr:g}\\,(1 + "
                   f"\\cos(\\pi\\cdot {t_cur}/{t_i})) = {value:.6g}$.")
    return Variant(prompt, {"lr": lr, "period": t0, "period_mult": mult, "t": t}, value,
                   explanation, rtol=1e-5, atol=1e-12)


@exercise("schedules.inverse-time", title="When has 1/t decay cut the rate?", chapter=CHAPTER,
          topic="1/t decay", points=1, answer_type="numeric")
def _inverse_time(rng: np.random.Generator) -> Variant:
    lr = float(rng.choice([0.1, 0.5, 1.0]))
    # (fraction - 1) / k is never an integer, so no step lands exactly on the threshold
    k = float(rng.choice([0.007, 0.011, 0.013, 0.0017]))
    frac = int(rng.choice([2, 4, 10]))
    sched = schedules.inverse_time(lr, k)
    t = 0
    while sched(t) > lr / frac:
        t += 1
    prompt = (f"The 1/t schedule $\\alpha_t = \\alpha/(1 + t/\\tau)$ with the time constant "
              f"$\\tau = 1/{k:g}$ steps starts at "
              f"$\\alpha = {lr:g}$. At which step $t$ (counting from 0) is the rate at most "
              f"$\\alpha/{frac}$ for the first time?")
    explanation = (f"$\\alpha/(1 + t/\\tau) \\le \\alpha/{frac}$ iff $t/\\tau \\ge {frac - 1}$ iff "
                   f"$t \\ge {frac - 1}\\,\\tau = {frac - 1}/{k:g} = {(frac - 1) / k:.2f}$, so $t = {t}$. It does not "
                   "matter what $\\alpha$ is. The rates of 1/t decay add up to infinity while "
                   "their squares do not: the classic condition for SGD to converge.")
    return Variant(prompt, {"lr": lr, "k": k, "fraction": frac}, t, explanation, rtol=0.0,
                   atol=0.4)


@exercise("schedules.warmup-cosine-code", title="A warm-up + cosine schedule, in code",
          chapter=CHAPTER, topic="warm-up and cosine decay", points=3, answer_type="code")
def _warmup_cosine_code(rng: np.random.Generator) -> Variant:
    lr = float(rng.choice([0.1, 1e-3]))
    W = int(rng.choice([5, 10, 20]))
    T = int(rng.choice([30, 50, 100]))
    sched = schedules.warmup(schedules.cosine(lr, T), W)
    ts = sorted({0, 1, W - 1, W, W + 1, W + T // 3, W + T // 2, W + T - 1, W + T, W + T + 7,
                 int(rng.integers(1, W + T))})
    tests = [((t, lr, W, T), sched(t)) for t in ts]
    starter = ("import math\n\n"
               "def warmup_cosine(t, lr, warmup, total):\n"
               "    \"\"\"Rate of step t: linear warm-up from 0 over `warmup` steps, then cosine\n"
               "    from lr to 0 over `total` steps, then 0.\"\"\"\n"
               "    return lr  # your code here\n")
    reference = ("import math\n\n"
                 "def warmup_cosine(t, lr, warmup, total):\n"
                 "    if t < warmup:\n"
                 "        return lr * t / warmup\n"
                 "    s = min(t - warmup, total)\n"
                 "    return 0.5 * lr * (1 + math.cos(math.pi * s / total))\n")
    prompt = ("Write `warmup_cosine(t, lr, warmup, total)` returning the learning rate of step `t` "
              r"(counted from 0): $\alpha\,t/W$ during a linear warm-up of $W$ = `warmup` steps, then "
              r"a cosine decay $\tfrac12\alpha(1 + \cos(\pi s/T))$ over $T$ = `total` steps, where "
              r"$s = t - W$ counts the steps since the warm-up ended, and 0 after that. "
              f"The tests use $\\alpha = {lr:g}$, $W = {W}$, $T = {T}$.")
    explanation = ("Shift the cosine by the warm-up, and clamp it at the end:\n\n```python\n"
                   + reference + "```\n\nThis is `dlnotes.schedules.warmup(schedules.cosine(lr, "
                   "total), warmup)`. In PyTorch, `LambdaLR(opt, lambda t: warmup_cosine(t, 1.0, "
                   f"{W}, {T}))` gives exactly these rates. A `SequentialLR` of a `LinearLR` and a "
                   "`CosineAnnealingLR` cannot: `LinearLR` refuses to start from exactly 0 "
                   "(`start_factor` must be positive). With `start_factor=1e-12`, "
                   f"`SequentialLR(opt, [LinearLR(opt, start_factor=1e-12, total_iters={W}), "
                   f"CosineAnnealingLR(opt, T_max={T})], milestones=[{W}])` agrees to within "
                   f"$10^{{-12}}\\alpha$ for the first $W + T = {W + T}$ steps, after which "
                   "`CosineAnnealingLR` climbs back up while this schedule stays at 0.")
    return Variant(prompt, {"lr": lr, "warmup": W, "total": T, "t": ts}, reference, explanation,
                   function="warmup_cosine", tests=tests, starter=starter, rtol=1e-9, atol=1e-12)
