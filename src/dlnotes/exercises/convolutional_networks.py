"""Exercises for the chapter *Convolutional networks*.

Solutions come from :mod:`dlnotes.conv`, :mod:`dlnotes.pooling` and :mod:`dlnotes.cnn`; the
tests check them against PyTorch (layer shapes, parameter counts, autograd) and SciPy.
"""

from __future__ import annotations

import numpy as np

from .. import cnn, conv, pooling
from . import Variant, exercise

CHAPTER = "convolutional-networks"


def _vec(v) -> str:
    return "(" + ", ".join(f"{float(x):g}" for x in v) + ")"


def _mat(A) -> str:
    rows = r" \\ ".join(" & ".join(f"{float(a):g}" for a in row) for row in np.asarray(A))
    return r"\begin{pmatrix} " + rows + r" \end{pmatrix}"


@exercise("convolutional-networks.output-size", title="The output size of a convolution",
          chapter=CHAPTER, topic="convolution layers", points=1, answer_type="numeric")
def _output_size(rng: np.random.Generator) -> Variant:
    while True:
        M1, M2 = (int(v) for v in rng.integers(5, 65, size=2))
        K = int(rng.choice([1, 2, 3, 5, 7]))
        S = int(rng.choice([1, 2, 2, 3, 4]))
        E = int(rng.integers(0, 4))
        G = int(rng.choice([1, 1, 1, 2]))
        if G * (K - 1) + 1 <= min(M1, M2) + 2 * E:
            break
    out = [conv.output_size(M, K, S, E, G) for M in (M1, M2)]
    dil = f", dilation $G = {G}$" if G > 1 else ""
    prompt = (f"A convolution layer with a ${K} \\times {K}$ kernel, stride $S = {S}$, zero padding "
              f"$E = {E}$ on every side{dil} reads feature maps of $M_1 \\times M_2 = {M1} \\times "
              f"{M2}$. How many rows and columns do its output maps have? Answer as `rows, columns`.")
    span = G * (K - 1) + 1
    explanation = (r"$M' = \lfloor (M + 2E - G(K - 1) - 1)/S \rfloor + 1$: the dilated kernel spans "
                   f"$G(K - 1) + 1 = {span}$ positions and fits into the padded length $M + 2E$ at "
                   f"offsets $0, S, 2S, \\dots$ Rows: $\\lfloor ({M1} + {2 * E} - {span})/{S} \\rfloor + 1 "
                   f"= {out[0]}$; columns: $\\lfloor ({M2} + {2 * E} - {span})/{S} \\rfloor + 1 = {out[1]}$.")
    return Variant(prompt, {"M1": M1, "M2": M2, "K": K, "S": S, "E": E, "G": G}, out, explanation,
                   rtol=0.0, atol=0.4)


@exercise("convolutional-networks.conv1d-by-hand", title="A 1-D convolution by hand",
          chapter=CHAPTER, topic="convolution", points=2, answer_type="numeric")
def _conv1d_by_hand(rng: np.random.Generator) -> Variant:
    M = int(rng.integers(5, 8))
    x = rng.integers(-3, 4, size=M).astype(float)
    w = rng.integers(-2, 3, size=3).astype(float)
    while np.all(w == w[::-1]):                  # a kernel that changes under the flip
        w = rng.integers(-2, 3, size=3).astype(float)
    true = bool(rng.integers(0, 2))
    if true:
        out = conv.convolve(x, w, "full")
        prompt = (f"Compute the true convolution $(x * w)_j = \\sum_k w_k\\, x_{{j - k}}$ of "
                  f"$x = {_vec(x)}$ with $w = {_vec(w)}$ in full mode (indices from 0, entries outside "
                  f"the arrays are 0, $j = 0, \\dots, {M + 1}$).")
        terms = " + ".join(f"{w[k]:g} \\cdot x_{{j-{k}}}" for k in range(3))
        explanation = (f"Flip the kernel to ${_vec(w[::-1])}$ and slide it over $x$ padded with "
                       f"two zeros on each side; or add $w_k$ times $x$ shifted right by $k$: "
                       f"$(x * w)_j = {terms}$. The result is ${_vec(out)}$ "
                       "(`numpy.convolve(x, w)` gives the same).")
        params = {"x": x.tolist(), "w": w.tolist(), "mode": "true convolution, full"}
    else:
        E, S = int(rng.integers(0, 2)), int(rng.integers(1, 3))
        out = conv.conv1d(x[None, None], w[None, None], stride=S, padding=E)[0, 0]
        prompt = (f"What does `torch.nn.functional.conv1d` compute for the signal $x = {_vec(x)}$ and the "
                  f"kernel $w = {_vec(w)}$ with `padding={E}` and `stride={S}` (one channel, no bias)? "
                  r"Remember that it computes a cross-correlation: $z_j = \sum_k w_k\, x_{Sj + k - E}$.")
        explanation = (f"The output has $\\lfloor ({M} + {2 * E} - 3)/{S}\\rfloor + 1 = {out.size}$ "
                       f"entries. Pad $x$ with {E} zero(s) on each side and slide $w$, *not* flipped, "
                       f"in steps of {S}: each entry is the dot product of $w$ with three neighbouring "
                       f"entries, giving ${_vec(out)}$.")
        params = {"x": x.tolist(), "w": w.tolist(), "mode": "conv1d", "padding": E, "stride": S}
    return Variant(prompt, params, out.tolist(), explanation, rtol=0.0, atol=1e-6)


@exercise("convolutional-networks.parameter-count", title="Parameters of a layer: convolutional against dense",
          chapter=CHAPTER, topic="sizes of networks", points=2, answer_type="numeric")
def _parameter_count(rng: np.random.Generator) -> Variant:
    M = int(rng.choice([4, 7, 8, 14, 16]))
    F_in = int(rng.choice([1, 3, 8, 16, 32]))
    F_out = int(rng.choice([8, 16, 32, 64]))
    K = int(rng.choice([1, 3, 5]))
    groups = int(rng.choice([1, 1, 2])) if F_in % 2 == 0 else 1
    conv_params = F_out * (F_in // groups) * K * K + F_out
    dense = cnn.dense_layer_size(M, M, F_in, F_out)
    dense_params = dense["weights"] + dense["units"]
    assert conv_params == cnn.network_sizes([("conv", "c", F_out, K, 1, K // 2, groups)], (F_in, M, M))[0].weights
    grp = (f" in `groups={groups}` groups (each output channel reads {F_in // groups} of the input "
           "channels)") if groups > 1 else ""
    prompt = (f"A layer maps feature maps of ${M} \\times {M} \\times {F_in}$ (rows, columns, channels) "
              f"to ${M} \\times {M} \\times {F_out}$. How many parameters (weights and biases) does it "
              f"have (a) as a ${K} \\times {K}$ convolution with stride 1 and 'same' padding{grp}, and "
              f"(b) as a fully connected layer from all inputs to all outputs? Answer as `conv, dense`.")
    explanation = (f"(a) Each of the {F_out} output channels has one {F_in // groups} $\\times$ {K} "
                   f"$\\times$ {K} kernel, shared by every position, and one bias: "
                   f"${F_out} \\cdot {F_in // groups} \\cdot {K * K} + {F_out} = {conv_params}$. "
                   f"(b) Every one of the $M^2 F_{{\\text{{out}}}} = {dense['units']}$ outputs has a weight "
                   f"for each of the $M^2 F_{{\\text{{in}}}} = {M * M * F_in}$ inputs, plus a bias: "
                   f"${dense['weights']} + {dense['units']} = {dense_params}$, "
                   f"{dense_params / conv_params:.3g} times as many.")
    return Variant(prompt, {"M": M, "F_in": F_in, "F_out": F_out, "K": K, "groups": groups},
                   [conv_params, dense_params], explanation, rtol=0.0, atol=0.4)


_LAYER_WORDS = {"conv": "a {K}x{K} convolution with stride {S}", "pool": "{K}x{K} max pooling with stride {S}"}


@exercise("convolutional-networks.receptive-field", title="The receptive field of a stack of layers",
          chapter=CHAPTER, topic="receptive fields", points=2, answer_type="numeric")
def _receptive_field(rng: np.random.Generator) -> Variant:
    n = int(rng.integers(2, 5))
    layers, words = [], []
    for i in range(n):
        if i > 0 and rng.random() < 0.35:
            K = S = 2
            kind = "pool"
        else:
            kind = "conv"
            K = int(rng.choice([3, 3, 5, 7]))
            S = int(rng.choice([1, 1, 2]))
        layers.append((K, S))
        words.append(_LAYER_WORDS[kind].format(K=K, S=S))
    fields = cnn.receptive_field(layers)
    rf = fields[-1]
    prompt = ("A network applies, in this order: " + "; ".join(words) + ". Padding does not matter "
              "here. How many input pixels wide is the receptive field of one unit of the last layer "
              "(along one axis), and how many input pixels apart are the receptive fields of two "
              "neighbouring units of the last layer? Answer as `size, jump`.")
    steps, size, jump = [], 1, 1
    for (K, S), f in zip(layers, fields):
        steps.append(f"${size} + ({K} - 1) \\cdot {jump} = {f.size}$ (jump ${jump} \\cdot {S} = {f.jump}$)")
        size, jump = f.size, f.jump
    explanation = ("Each layer adds $(K_l - 1)$ times the current jump (the product of the strides "
                   "below it) to the size; the jump is multiplied by $S_l$. Starting from size 1 and "
                   "jump 1: " + "; ".join(steps) + ".")
    return Variant(prompt, {"layers": [list(l) for l in layers]}, [rf.size, rf.jump], explanation,
                   rtol=0.0, atol=0.4)


@exercise("convolutional-networks.max-pool-gradient", title="Max pooling and where its gradient goes",
          chapter=CHAPTER, topic="pooling", points=2, answer_type="numeric")
def _max_pool_gradient(rng: np.random.Generator) -> Variant:
    x = rng.integers(0, 6, size=(4, 4)).astype(float)
    # make sure at least one window has a tie for its maximum
    while not any(np.sum(x[r:r + 2, c:c + 2] == x[r:r + 2, c:c + 2].max()) > 1
                  for r in (0, 2) for c in (0, 2)):
        x = rng.integers(0, 6, size=(4, 4)).astype(float)
    dz = rng.integers(1, 10, size=(2, 2)).astype(float)
    z, idx = pooling.max_pool2d(x[None, None], 2, return_indices=True)
    dx = pooling.max_pool2d_backward(dz[None, None], idx, (1, 1, 4, 4))[0, 0]
    prompt = (f"A $2 \\times 2$ max pooling with stride 2 reads the $4 \\times 4$ map $x = {_mat(x)}$. "
              f"The gradient of the loss with respect to its $2 \\times 2$ output is "
              f"$\\partial L/\\partial z = {_mat(dz)}$. Give the output $z$ and the gradient "
              r"$\partial L/\partial x$, as PyTorch computes it: when several entries of a window tie "
              "for the maximum, the whole gradient goes to the first of them in row-major order. "
              "Answer with the 4 entries of $z$ and then the 16 entries of $\\partial L/\\partial x$, "
              "each row by row.")
    explanation = (f"Each window's maximum is its output: $z = {_mat(z[0, 0])}$. Its gradient goes entirely "
                   f"to the winning entry (the first one in a tie) and every other entry gets 0: "
                   f"$\\partial L/\\partial x = {_mat(dx)}$.")
    return Variant(prompt, {"x": x.tolist(), "dz": dz.tolist()},
                   z[0, 0].ravel().tolist() + dx.ravel().tolist(), explanation, rtol=0.0, atol=1e-6)


_FLIP_CHOICES = {
    "a": "They are equal.",
    "b": "One is the negative of the other.",
    "c": "Neither: they differ by more than a sign.",
}


@exercise("convolutional-networks.flip", title="Convolution or cross-correlation?", chapter=CHAPTER,
          topic="convolution", points=1, answer_type="choice")
def _flip(rng: np.random.Generator) -> Variant:
    kind = str(rng.choice(["symmetric", "antisymmetric", "neither"]))
    a, b, c = (int(v) for v in rng.integers(1, 4, size=3))
    if kind == "symmetric":                      # equal to its 180° rotation
        w = np.array([[0, a, 0], [b, c + 4, b], [0, a, 0]], float) * rng.choice([-1, 1])
    elif kind == "antisymmetric":                # the 180° rotation is the negative
        w = np.array([[a, 0, -a], [b, 0, -b], [a, 0, -a]], float)
        if rng.random() < 0.5:
            w = w.T
    else:
        w = np.array([[a, 0, 0], [0, c, 0], [0, b + 3, -1]], float)
    flipped = conv.flip(w)
    answer = "a" if np.array_equal(flipped, w) else ("b" if np.array_equal(flipped, -w) else "c")
    prompt = (f"The kernel $w = {_mat(w)}$ is applied to an image twice: by a convolution layer "
              "(`torch.nn.functional.conv2d`, a cross-correlation $w \\star x$) and by "
              "`scipy.signal.convolve2d(x, w, mode='valid')` (a true convolution $x * w$). How do "
              "the two outputs compare, for every image $x$?")
    rel = {"a": "equals $w$", "b": "equals $-w$", "c": "is neither $w$ nor $-w$"}[answer]
    explanation = (r"True convolution is cross-correlation with the flipped kernel, "
                   r"$x * w = \operatorname{flip}(w) \star x$ (a 180° rotation). Here "
                   f"$\\operatorname{{flip}}(w) = {_mat(flipped)}$, which {rel}, so "
                   + {"a": "the two outputs are equal.",
                      "b": "one output is the negative of the other (like the Sobel kernel's).",
                      "c": "the outputs differ by more than a sign."}[answer])
    return Variant(prompt, {"w": w.tolist()}, answer, explanation, choices=dict(_FLIP_CHOICES))


@exercise("convolutional-networks.corr2d-code", title="A convolution layer's sum, in code",
          chapter=CHAPTER, topic="convolution layers", points=3, answer_type="code")
def _corr2d_code(rng: np.random.Generator) -> Variant:
    stride, padding = int(rng.integers(1, 3)), int(rng.integers(0, 2))
    tests = []
    for shape in [(4, 4), (5, 6), (6, 5), (7, 7)]:
        x = rng.integers(-3, 4, size=shape)
        w = rng.integers(-2, 3, size=(3, 3))
        z = conv.conv2d(x[None, None].astype(float), w[None, None].astype(float), stride=stride,
                        padding=padding)[0, 0]
        tests.append(((x.tolist(), w.tolist(), stride, padding), z.tolist()))
    starter = ("import numpy as np\n\n"
               "def corr2d(x, w, stride, padding):\n"
               "    \"\"\"z[j1, j2] = sum_k w[k1, k2] x[S j1 + k1 - E, S j2 + k2 - E] (zeros outside x).\"\"\"\n"
               "    x = np.asarray(x, dtype=float)\n"
               "    w = np.asarray(w, dtype=float)\n"
               "    # your code here\n")
    reference = ("import numpy as np\n\n"
                 "def corr2d(x, w, stride, padding):\n"
                 "    x = np.pad(np.asarray(x, dtype=float), padding)\n"
                 "    w = np.asarray(w, dtype=float)\n"
                 "    K1, K2 = w.shape\n"
                 "    rows = (x.shape[0] - K1) // stride + 1\n"
                 "    cols = (x.shape[1] - K2) // stride + 1\n"
                 "    z = np.zeros((rows, cols))\n"
                 "    for j1 in range(rows):\n"
                 "        for j2 in range(cols):\n"
                 "            r, c = stride * j1, stride * j2\n"
                 "            z[j1, j2] = np.sum(w * x[r:r + K1, c:c + K2])\n"
                 "    return z\n")
    prompt = (r"Write `corr2d(x, w, stride, padding)` that computes what a convolution layer with one "
              r"input and one output channel computes (no bias): "
              r"$z_{j_1 j_2} = \sum_{k_1, k_2} w_{k_1 k_2}\, x_{S j_1 + k_1 - E,\ S j_2 + k_2 - E}$ with "
              r"indices from 0 and zeros outside `x`, for 2-D arrays `x` and `w`. The output has "
              r"$\lfloor (M + 2E - K)/S \rfloor + 1$ rows (and likewise columns). The tests use "
              f"`stride={stride}`, `padding={padding}` and $3 \\times 3$ kernels.")
    explanation = ("Pad, then take the dot product of the kernel, not flipped, with every window:\n\n"
                   "```python\n" + reference + "```\n\n"
                   "`dlnotes.conv.conv2d` computes the same sum for many channels and samples at once, "
                   "either one kernel offset at a time (`method='direct'`) or as one matrix product "
                   "(`method='im2col'`).")
    return Variant(prompt, {"stride": stride, "padding": padding}, reference, explanation,
                   function="corr2d", tests=tests, starter=starter, rtol=1e-9, atol=1e-9)
