"""Exercises for the chapter *Activations and initialization*. Solutions come from :mod:`dlnotes.initialization` and :mod:`dlnotes.activations`."""

from __future__ import annotations

import math

import numpy as np

from .. import activations as act
from .. import initialization as init
from . import Variant, exercise

CHAPTER = "activations-initialization"

_SIZES = (64, 100, 128, 200, 256, 300, 400, 512, 784, 1000)


@exercise("activations-initialization.init-std", title="The Xavier or He standard deviation of a layer",
          chapter=CHAPTER, topic="initialization", points=2, answer_type="numeric")
def _init_std(rng: np.random.Generator) -> Variant:
    n_in, n_out = (int(v) for v in rng.choice(_SIZES, size=2, replace=False))
    scheme = str(rng.choice(["xavier_normal", "xavier_uniform", "kaiming_normal", "kaiming_uniform"]))
    mode = str(rng.choice(["fan_in", "fan_out"]))
    nonlin = str(rng.choice(["relu", "leaky_relu", "tanh"]))
    slope = 0.2 if nonlin == "leaky_relu" else None
    if scheme.startswith("xavier"):
        gain = init.calculate_gain(nonlin, slope) if nonlin == "tanh" else 1.0
        std = init.xavier_std(n_in, n_out, gain)
        call = f"torch.nn.init.{scheme}_(w" + (", gain=calculate_gain('tanh'))" if gain != 1.0 else ")")
        how = ("Xavier, with $\\mathrm{gain} = " + ("5/3$ for tanh" if gain != 1.0 else "1$ (the default)")
               + f": $\\sigma_W = \\mathrm{{gain}}\\sqrt{{2/(n_{{in}} + n_{{out}})}} = "
               f"{gain:.4g}\\sqrt{{2/({n_in} + {n_out})}}")
    else:
        gain = init.calculate_gain(nonlin, slope)
        std = init.kaiming_std(n_in, n_out, gain, mode)
        a = f"a={slope:g}, " if slope is not None else ""
        call = f"torch.nn.init.{scheme}_(w, {a}mode='{mode}', nonlinearity='{nonlin}')"
        fan = n_in if mode == "fan_in" else n_out
        how = (f"He, with $n = {fan}$ (`{mode}`) and $\\mathrm{{gain}} = {gain:.4g}$ (`calculate_gain('{nonlin}'"
               + (f", {slope:g}" if slope else "") + f")`): $\\sigma_W = \\mathrm{{gain}}/\\sqrt{{n}} = "
               f"{gain:.4g}/\\sqrt{{{fan}}}")
    uniform = scheme.endswith("uniform")
    answer = math.sqrt(3.0) * std if uniform else std
    ask = ("the bound of the uniform distribution it draws from (the largest weight it can draw)" if uniform
           else "the standard deviation $\\sigma_W$ of the normal distribution it draws from")
    prompt = (f"A dense layer has $n_{{in}} = {n_in}$ inputs and $n_{{out}} = {n_out}$ outputs, so PyTorch "
              f"stores its weight as `w = torch.empty({n_out}, {n_in})`. It is initialized with `{call}`. "
              f"Give {ask}.")
    explanation = (f"PyTorch reads the fan-in from `w.size(1)` = {n_in} and the fan-out from `w.size(0)` = "
                   f"{n_out}. {how} = {std:.6g}$."
                   + (f" A uniform distribution between minus and plus its bound has a variance of a third of "
                      f"the bound's square, so the bound is $\\sqrt 3\\,\\sigma_W = {answer:.6g}$." if uniform else ""))
    return Variant(prompt, {"n_in": n_in, "n_out": n_out, "scheme": scheme, "mode": mode,
                            "nonlinearity": nonlin}, answer, explanation, rtol=2e-3)


@exercise("activations-initialization.depth-scale", title="How the activations' scale changes with depth",
          chapter=CHAPTER, topic="initialization", points=2, answer_type="numeric")
def _depth_scale(rng: np.random.Generator) -> Variant:
    n = int(rng.choice([64, 100, 256, 500]))
    depth = int(rng.choice([5, 10, 20]))
    gain2 = float(rng.choice([0.5, 1.0, 2.0, 4.0]))       # gain^2
    var0 = float(rng.choice([1.0, 2.0, 0.5]))
    # for ReLU, E[a^2] = Var(z)/2 for z symmetric around 0; Var(z^(l+1)) = n sigma_W^2 E[a^2]
    factor = gain2 / 2.0
    var = var0 * factor ** (depth - 1)
    prompt = (f"A deep ReLU network has {depth} hidden layers of {n} units; every weight is drawn from "
              f"$\\mathcal N(0, \\sigma_W^2)$ with $\\sigma_W^2 = {gain2:g}/{n}$ and every bias is 0. The "
              f"pre-activations of the first hidden layer, $z^{{(1)}}$, have mean 0 and variance {var0:g}. "
              f"Using $\\operatorname{{Var}} z^{{(l+1)}} = n\\,\\sigma_W^2\\,\\mathbb E[(a^{{(l)}})^2]$ (independent "
              f"weights and inputs) and that a ReLU keeps half of a symmetric input's second moment, what is "
              f"the variance of $z^{{({depth})}}$?")
    explanation = (f"$\\mathbb E[\\mathrm{{ReLU}}(z)^2] = \\tfrac12\\operatorname{{Var}} z$ for $z$ symmetric "
                   f"around 0, so each layer multiplies the variance by $n\\sigma_W^2/2 = {gain2:g}/2 = "
                   f"{factor:g}$. After {depth - 1} such steps: ${var0:g}\\cdot{factor:g}^{{{depth - 1}}} = "
                   f"{var:.6g}$. Only $\\sigma_W^2 = 2/n$ (He, $\\mathrm{{gain}} = \\sqrt 2$) keeps it constant.")
    return Variant(prompt, {"n": n, "depth": depth, "gain_squared": gain2, "var0": var0}, var,
                   explanation, rtol=1e-4)


@exercise("activations-initialization.maxout-params", title="What maxout costs", chapter=CHAPTER,
          topic="maxout", points=1, answer_type="numeric")
def _maxout_params(rng: np.random.Generator) -> Variant:
    n_in, n_out = (int(v) for v in rng.choice([32, 64, 100, 128, 256], size=2, replace=False))
    k = int(rng.choice([2, 3, 4, 5]))
    W, b = np.zeros((k, n_in, n_out)), np.zeros((k, n_out))
    count = W.size + b.size
    prompt = (f"A maxout layer maps {n_in} inputs to {n_out} outputs with $n_{{\\text{{pieces}}}} = {k}$ affine "
              f"pieces per output, $a_j = \\max\\{{(x W_1 + b_1)_j, \\dots, (x W_{k} + b_{k})_j\\}}$. How many "
              "weights and biases does it have, and how "
              f"many would a dense layer with an elementwise activation have? Give both numbers.")
    dense = n_in * n_out + n_out
    explanation = (f"Each piece is a full dense map: ${k}\\cdot({n_in}\\cdot{n_out} + {n_out}) = {count}$, "
                   f"against ${n_in}\\cdot{n_out} + {n_out} = {dense}$: maxout costs {k} times the "
                   "parameters (and the compute) for a unit that never saturates and never dies.")
    return Variant(prompt, {"n_in": n_in, "n_out": n_out, "k": k}, [float(count), float(dense)],
                   explanation, rtol=1e-9, atol=0.5)


@exercise("activations-initialization.leaky-relu-code", title="Implement the leaky ReLU's backward pass",
          chapter=CHAPTER, topic="activations", points=2, answer_type="code")
def _leaky_code(rng: np.random.Generator) -> Variant:
    tests = []
    for _ in range(4):
        n = int(rng.integers(2, 6))
        z = rng.choice([-3.0, -1.0, -0.5, 0.0, 0.5, 2.0], size=n)
        da = rng.choice([-2.0, -1.0, 0.5, 1.0, 3.0], size=n)
        slope = float(rng.choice([0.01, 0.1, 0.2, 0.3]))
        tests.append(((z.tolist(), da.tolist(), slope), act.leaky_relu_backward(da, z, slope).tolist()))
    starter = ("import numpy as np\n\n"
               "def leaky_relu_backward(z, da, slope):\n"
               "    \"\"\"dL/dz for a = max(slope * z, z), given dL/da (arrays of the same shape).\"\"\"\n"
               "    return da * (z > 0)      # this is the ReLU's: fix it\n")
    reference = ("import numpy as np\n\n"
                 "def leaky_relu_backward(z, da, slope):\n"
                 "    return np.where(z > 0, da, slope * da)\n")
    prompt = ("Write `leaky_relu_backward(z, da, slope)` that returns $\\partial L/\\partial z$ for the leaky "
              "ReLU $a = \\max(\\mathrm{slope}\\cdot z, z)$ with slope $\\mathrm{slope}$ = `slope`, given the upstream gradient "
              "`da` $= \\partial L/\\partial a$. At $z = 0$ use PyTorch's choice (the slope).")
    explanation = ("The derivative is 1 for $z > 0$ and $\\mathrm{slope}$ otherwise (PyTorch uses it at 0 too), "
                   "and the chain rule multiplies it by the upstream gradient, elementwise. It is never 0 "
                   "(for $\\mathrm{slope} > 0$), which is why a leaky ReLU cannot die."
                   "\n\n```python\n" + reference + "```")
    return Variant(prompt, {"tests": [t[0] for t in tests]}, reference, explanation,
                   function="leaky_relu_backward", tests=tests, starter=starter, rtol=1e-12, atol=1e-12)
