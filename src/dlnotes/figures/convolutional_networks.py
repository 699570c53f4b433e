"""Figures, explorables and experiments of the chapter *Convolutional networks*.

Every experiment is a small function that returns numbers (the chapter tabulates them and
the tests check them against independent references) next to the figure that draws them.
The photograph is scikit-learn's sample image ``china.jpg`` (shipped with scikit-learn, no
download), in grey.
"""

from __future__ import annotations

import functools
import io
import math
from typing import Any, Sequence

import numpy as np
from matplotlib.figure import Figure

from .. import cnn, conv, optim, pooling, training
from ..datasets import Dataset, digits
from ..explorables import Control, Explorable
from . import new_figure

__all__ = [
    "PALETTE", "DIVERGING", "photo", "KERNELS", "NOTES_BLUR", "filtered", "jpeg",
    # kernels on the photograph
    "kernels_figure", "display_checks", "naive_display_figure", "kernel_explorable",
    # layers
    "output_size_rows", "one_by_one_check", "collapse_check",
    # pooling, receptive fields
    "pooling_example", "receptive_field_rows", "receptive_field_explorable", "saliency",
    "saliency_figure",
    # equivariance and invariance
    "shift_check", "transform_checks", "transform_figure", "pooling_invariance",
    "pooling_invariance_figure",
    # sizes of networks
    "layer_size_rows", "architecture_rows", "alexnet_rows",
    # the digits CNN
    "digits_runs", "digits_figure",
]

PALETTE = {
    "cnn": "#d95f02",
    "mlp": "#7570b3",
    "field": "#e7298a",
    "input": "#999999",
    "layer": "#1b9e77",
    "pad": "#dddddd",
    "window": (1, 2, 4, 8),
}
#: The colormap for signed outputs, always centred at zero (blue negative, red positive).
DIVERGING = "RdBu_r"
_WINDOW_COLORS = ["#999999", "#66c2a5", "#fc8d62", "#8da0cb"]


# ======================================================= the photograph and the kernels

@functools.lru_cache(maxsize=1)
def _photo() -> np.ndarray:
    from sklearn.datasets import load_sample_image

    rgb = load_sample_image("china.jpg").astype(float) / 255.0            # (427, 640, 3)
    grey = rgb @ np.array([0.299, 0.587, 0.114])                          # ITU-R 601 luma
    H, W = (s // 2 * 2 for s in grey.shape)
    small = grey[:H, :W].reshape(H // 2, 2, W // 2, 2).mean(axis=(1, 3))  # 2x2 block means
    small.setflags(write=False)
    return small


def photo() -> np.ndarray:
    """scikit-learn's ``china.jpg`` in grey (luma ``0.299 R + 0.587 G + 0.114 B``), values in [0, 1], halved to 213 x 320 by 2x2 block means."""
    return _photo()


#: The notes' blur kernel before normalisation (its entries sum to 8).
NOTES_BLUR = np.array([[0.0, 1.0, 0.0], [1.0, 4.0, 1.0], [0.0, 1.0, 0.0]])

#: The canonical kernels of the chapter. The blur is the notes' kernel divided by the sum of
#: its entries; the "Laplacian" edge detector is the notes' kernel, the *negative* of the
#: discrete Laplacian (so a bright dot gives a positive response); sharpen = identity + it.
KERNELS = {
    "blur": NOTES_BLUR / NOTES_BLUR.sum(),
    "sharpen": np.array([[0.0, -1.0, 0.0], [-1.0, 5.0, -1.0], [0.0, -1.0, 0.0]]),
    "Laplacian": np.array([[0.0, -1.0, 0.0], [-1.0, 4.0, -1.0], [0.0, -1.0, 0.0]]),
    "Sobel": np.array([[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]]),
}


def filtered(image: Any, kernel: Any, how: str = "correlate") -> np.ndarray:
    """The image filtered with a kernel in ``'valid'`` mode (no zero padding, so no false edges at the border).

    ``how='correlate'`` is what a convolution layer computes (:func:`dlnotes.conv.correlate`),
    ``'convolve'`` the true convolution (:func:`dlnotes.conv.convolve`, the kernel flipped).
    """
    if how == "correlate":
        return conv.correlate(image, kernel, "valid")
    if how == "convolve":
        return conv.convolve(image, kernel, "valid")
    raise ValueError(f"how must be 'correlate' or 'convolve', got {how!r}")


def jpeg(fig: Figure, quality: int = 85, dpi: int | None = None):
    """The figure as a JPEG image for the page (photographs in PNG are several times heavier).

    Returns an ``IPython.display.Image``; the tests check the ``Figure`` itself.
    """
    from IPython.display import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="jpeg", dpi=dpi or 80, pil_kwargs={"quality": quality})
    return Image(data=buf.getvalue(), format="jpeg")


def _show(ax, img, signed: bool, limit: float | None = None, title: str = ""):
    if signed:
        lim = float(np.max(np.abs(img))) if limit is None else limit
        im = ax.imshow(img, cmap=DIVERGING, vmin=-lim, vmax=lim, interpolation="nearest")
    else:
        im = ax.imshow(np.clip(img, 0, 1), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    ax.set_title(title, fontsize=9)
    return im


def _kernel_text(k: np.ndarray) -> str:
    return "[" + "; ".join(" ".join(f"{v:g}" for v in row) for row in k) + "]"


def kernels_figure(image: Any | None = None) -> Figure:
    """The photograph and the four canonical kernels applied to it; signed outputs on a diverging colormap centred at 0, with colourbars.

    The last two panels show the Sobel kernel as a cross-correlation (what a layer computes)
    and as a true convolution: the same picture with the sign flipped.
    """
    img = photo() if image is None else np.asarray(image, float)
    fig = new_figure(9.6, 5.4)
    axes = fig.subplots(2, 3)
    panels = [
        (img, False, "the photograph $x$"),
        (filtered(img, KERNELS["blur"]), False, "blur (notes' kernel / 8)"),
        (filtered(img, KERNELS["sharpen"]), False, "sharpen (shown clipped to [0, 1])"),
        (filtered(img, KERNELS["Laplacian"]), True, "Laplacian edge detector"),
        (filtered(img, KERNELS["Sobel"]), True, r"Sobel, cross-correlation $w \star x$"),
        (filtered(img, KERNELS["Sobel"], "convolve"), True, r"Sobel, true convolution $x * w$"),
    ]
    # signed outputs: symmetric limits at the 99.5th percentile of |response| (a few strong
    # edges would otherwise wash everything else out); the colourbar's arrows mark the clipping
    lims = {3: float(np.quantile(np.abs(panels[3][0]), 0.995)),
            4: float(np.quantile(np.abs(panels[4][0]), 0.995))}
    lims[5] = lims[4]                                   # both Sobel panels on one scale
    for i, (ax, (out, signed, title)) in enumerate(zip(axes.flat, panels)):
        im = _show(ax, out, signed, lims.get(i), title)
        if signed:
            fig.colorbar(im, ax=ax, orientation="horizontal", shrink=0.8, pad=0.02, aspect=30,
                         extend="both", label="response (0 = white)")
    return fig


def display_checks(image: Any | None = None) -> list[list[Any]]:
    """For each kernel (and the notes' unnormalised blur): the sum of its entries, the output's range, and the share of pixels a display on [0, 1] clips."""
    img = photo() if image is None else np.asarray(image, float)
    rows = []
    for name, k in [("blur, as in the notes (sum 8)", NOTES_BLUR), *KERNELS.items()]:
        out = filtered(img, k)
        rows.append([name, float(k.sum()), float(out.min()), float(out.max()),
                     float(np.mean((out < 0) | (out > 1))), float(np.mean(out < 0))])
    return rows


def naive_display_figure(image: Any | None = None) -> Figure:
    """Three ways to get the display wrong: an unnormalised blur on a fixed [0, 1] scale, the same blur autoscaled, and a signed edge map clipped to [0, 1]."""
    img = photo() if image is None else np.asarray(image, float)
    fig = new_figure(9.6, 2.9)
    axes = fig.subplots(1, 3)
    raw = filtered(img, NOTES_BLUR)
    _show(axes[0], raw, False, title="unnormalised blur, shown on [0, 1]")
    axes[1].imshow(raw, cmap="gray", interpolation="nearest")          # matplotlib autoscales
    axes[1].set_xticks([])
    axes[1].set_yticks([])
    axes[1].set_xlabel("column")
    axes[1].set_ylabel("row")
    axes[1].set_title(f"the same, autoscaled to [{raw.min():.2g}, {raw.max():.2g}]", fontsize=9)
    _show(axes[2], filtered(img, KERNELS["Laplacian"]), False,
          title="Laplacian clipped to [0, 1]: negatives lost")
    return fig


# ------------------------------------------------------- explorable: a kernel and its strength

_KERNEL_NAMES = list(KERNELS)
_STRENGTHS = [0.0, 0.5, 1.0, 1.5, 2.0]
_CROP = (slice(40, 160), slice(100, 260))          # the temple roof: 120 x 160 pixels


def strength_kernel(name: str, strength: float) -> np.ndarray:
    r"""The kernel of the explorable: the identity kernel blended with a canonical kernel.

    With the identity kernel :math:`w_{\text{id}}` (a single 1 in the centre, which leaves an
    image unchanged): for the kernels whose entries sum to 1 (blur, sharpen) it is
    :math:`w_{\text{id}} + \text{strength}\,(w - w_{\text{id}})`, so strength 0 leaves the
    photograph alone, 1 is the kernel itself and 2 doubles its effect. The edge detectors
    sum to 0; for them it is :math:`w_{\text{id}} + \text{strength}\; w`, the photograph plus
    that many times its edges (with the Laplacian at strength 1 this *is* the sharpen
    kernel). Every blend sums to 1, so the mean brightness is kept and the output can be
    shown on the photograph's scale.
    """
    w = KERNELS[name]
    identity = np.zeros_like(w)
    identity[1, 1] = 1.0
    return identity + strength * (w - identity if abs(w.sum() - 1) < 1e-12 else w)


class _NamedControl(Control):
    """A slider over 0, 1, 2, ... that shows names instead of the numbers."""

    def __init__(self, name: str, label: str, names: Sequence[str], value: int = 0):
        self.names = list(names)
        super().__init__(name, label, list(range(len(self.names))), value=value, step=1)

    def format(self, v: float) -> str:
        return self.names[int(round(v))]


def _draw_kernel(fig: Figure, kernel: float, strength: float):
    img = photo()[_CROP]
    ax_k, ax = fig.subplots(1, 2, width_ratios=[1, 2.4])
    numbers = ax_k.text(0.5, 0.5, "", ha="center", va="center", fontsize=10, family="monospace",
                        linespacing=1.8, transform=ax_k.transAxes)
    ax_k.set_xticks([])
    ax_k.set_yticks([])
    ax_k.set_xlabel("the kernel applied")
    for spine in ax_k.spines.values():
        spine.set_visible(False)
    k_title = ax_k.set_title(" ", fontsize=9)
    oim = ax.imshow(np.zeros((img.shape[0] - 2, img.shape[1] - 2)), cmap="gray", vmin=0, vmax=1,
                    interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("column")
    ax.set_ylabel("row")
    o_title = ax.set_title(" ", fontsize=9)
    spines = list(ax.spines.values())

    def update(kernel: float, strength: float) -> list:
        name = _KERNEL_NAMES[int(round(kernel))]
        k = strength_kernel(name, strength)
        numbers.set_text("\n".join(" ".join(f"{v:>6.3g}" for v in row) for row in k))
        k_title.set_text(f"kernel, sum {k.sum():.3g}")
        out = filtered(img, k)
        clipped = float(np.mean((out < 0) | (out > 1)))
        oim.set_data(np.clip(out, 0, 1))
        o_title.set_text(f"{name}, strength {strength:g}: {100 * clipped:.0f}% of pixels "
                         "outside [0, 1] (clipped)")
        return [numbers, k_title, oim, o_title, *spines]

    update(kernel, strength)
    return update


def kernel_explorable() -> Explorable:
    """Explorable: a canonical kernel and its strength applied to the photograph (:func:`strength_kernel`)."""
    return Explorable(
        _draw_kernel,
        [_NamedControl("kernel", "kernel (0 blur, 1 sharpen, 2 Laplacian, 3 Sobel)", _KERNEL_NAMES,
                       value=1),
         Control("strength", "strength", _STRENGTHS, value=1.0)],
        alt=("Left: the nine numbers of the 3 by 3 kernel applied. Right: a grey crop of the photograph (the roof of a temple) filtered with that "
             "kernel. Strength 0 shows the photograph unchanged; larger strengths blur it more, "
             "sharpen it more, or add more of its edges; the title gives the share of pixels that "
             "leave the range [0, 1] and are clipped."),
        caption=("Each kernel is blended with the identity: strength 0 is the photograph, 1 the "
                 "canonical kernel, 2 twice its effect. The kernels sum to 1, so brightness is kept."),
        figsize=(7.2, 2.7), dpi=72)


# ======================================================= layers: sizes, 1x1, stacks

def output_size_rows(cases: Sequence[tuple[int, int, int, int, int]]) -> list[list[Any]]:
    """(M, K, S, E, G, M') rows from :func:`dlnotes.conv.output_size` for the chapter's table."""
    return [[M, K, S, E, G, conv.output_size(M, K, S, E, G)] for M, K, S, E, G in cases]


def one_by_one_check(seed: int = 0) -> dict[str, Any]:
    """A 1x1 convolution is the same matrix multiplying the channel vector at every pixel.

    Returns the largest difference between :func:`dlnotes.conv.conv2d` with a (F_out, F_in,
    1, 1) kernel and ``einsum`` over the channels, and the shapes used.
    """
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 6, 5, 7))
    w = rng.standard_normal((3, 6, 1, 1))
    z = conv.conv2d(x, w)
    per_pixel = np.einsum("oc,ncij->noij", w[:, :, 0, 0], x)
    return {"x": x.shape, "w": w.shape, "z": z.shape, "max_difference": float(np.abs(z - per_pixel).max())}


def _combined_kernel(w1: np.ndarray, w2: np.ndarray) -> np.ndarray:
    """The single kernel of two stacked cross-correlations: W[o, c] = sum_m w1[m, c] * w2[o, m] (true convolution, full)."""
    F2, F1 = w2.shape[:2]
    C = w1.shape[1]
    out = np.zeros((F2, C, w1.shape[2] + w2.shape[2] - 1, w1.shape[3] + w2.shape[3] - 1))
    for o in range(F2):
        for c in range(C):
            for m in range(F1):
                out[o, c] += conv.convolve(w1[m, c], w2[o, m], "full")
    return out


def collapse_check(seed: int = 0, M: int = 12) -> dict[str, float]:
    r"""Two stacked convolutions without a non-linearity are one convolution; with a ReLU between them they are not.

    Without padding, :math:`w_2 \star (w_1 \star x + b_1) + b_2 = W \star x + B` with
    :math:`W_{o,c} = \sum_m w_{1;m,c} * w_{2;o,m}` (the *true* convolution of the kernels,
    full mode, so 3x3 then 3x3 gives 5x5) and :math:`B_o = b_{2;o} + \sum_m b_{1;m}\sum w_{2;o,m}`.
    With a ReLU between the layers the best single 5x5 convolution, fitted by least squares
    to the two-layer network's outputs on random inputs, still misses.

    Returns ``linear_gap`` (largest difference between the stack and :math:`W, B`),
    ``relu_fit_error`` (relative RMS error of the best single convolution for the ReLU
    stack) and ``linear_fit_error`` (the same fit for the stack without ReLU, about 1e-15).
    """
    rng = np.random.default_rng(seed)
    C, F1, F2 = 2, 4, 3
    w1, b1 = rng.standard_normal((F1, C, 3, 3)), rng.standard_normal(F1)
    w2, b2 = rng.standard_normal((F2, F1, 3, 3)), rng.standard_normal(F2)
    x = rng.standard_normal((64, C, M, M))
    W = _combined_kernel(w1, w2)
    B = b2 + np.einsum("omij,m->o", w2, b1)
    linear = conv.conv2d(conv.conv2d(x, w1, b1), w2, b2)
    gap = float(np.abs(linear - conv.conv2d(x, W, B)).max())
    relu = conv.conv2d(np.maximum(conv.conv2d(x, w1, b1), 0), w2, b2)

    # the best single 5x5 convolution (with bias): least squares on the receptive fields
    win = np.lib.stride_tricks.sliding_window_view(x, (5, 5), axis=(2, 3))   # (N, C, P, P, 5, 5)
    A = win.transpose(0, 2, 3, 1, 4, 5).reshape(-1, C * 25)
    A = np.hstack([A, np.ones((A.shape[0], 1))])

    def fit_error(target):
        T = target.transpose(0, 2, 3, 1).reshape(-1, F2)
        coef, *_ = np.linalg.lstsq(A, T, rcond=None)
        return float(np.sqrt(np.mean((A @ coef - T) ** 2)) / np.sqrt(np.mean((T - T.mean(0)) ** 2)))

    return {"linear_gap": gap, "linear_fit_error": fit_error(linear), "relu_fit_error": fit_error(relu),
            "combined_kernel_size": W.shape[-1]}


# ======================================================= pooling and receptive fields

def pooling_example() -> dict[str, np.ndarray]:
    """A 4x4 input with ties, its 2x2 max pooling and the gradient routing of an upstream gradient (checked against torch in the tests)."""
    x = np.array([[1.0, 3.0, 2.0, 2.0],
                  [3.0, 0.0, 2.0, 2.0],
                  [0.0, 1.0, 5.0, 4.0],
                  [2.0, 1.0, 0.0, 5.0]])[None, None]
    dz = np.array([[10.0, 20.0], [30.0, 40.0]])[None, None]
    z, idx = pooling.max_pool2d(x, 2, return_indices=True)
    return {"x": x[0, 0], "z": z[0, 0], "dz": dz[0, 0], "indices": idx[0, 0],
            "dx": pooling.max_pool2d_backward(dz, idx, x.shape)[0, 0],
            "avg": pooling.avg_pool2d(x, 2)[0, 0],
            "avg_dx": pooling.avg_pool2d_backward(dz, x.shape, 2)[0, 0]}


def receptive_field_rows(stacks: dict[str, Sequence[tuple]]) -> list[list[Any]]:
    """Per stack: its layers, and the receptive field size and jump after the last layer (:func:`dlnotes.cnn.receptive_field`), with the measured extent."""
    rows = []
    for name, layers in stacks.items():
        rf = cnn.receptive_field(layers)[-1]
        size = max(4 * rf.size, 64)
        support = cnn.receptive_field_support(layers, size, _middle_unit(layers, size))
        where = np.flatnonzero(support)
        rows.append([name, rf.size, rf.jump, int(where[-1] - where[0] + 1), int(support.sum())])
    return rows


def _middle_unit(layers, size):
    n = size
    for layer in layers:
        K, S, E, G = (list(layer) + [1, 0, 1][len(layer) - 1:])[:4]
        n = conv.output_size(n, K, S, E, G)
    return n // 2


_RF_K = [1, 2, 3, 5, 7]
_RF_S = [1, 2, 3]
_RF_M = 16


def _rf_layers(K: int, S: int):
    E = (K - 1) // 2
    return [(K, S, E, 1), (K, S, E, 1)]


def _rf_picture(K: int, S: int) -> dict[str, Any]:
    """Everything the receptive-field explorable draws for kernel size K and stride S."""
    layers = _rf_layers(K, S)
    sizes = [_RF_M]
    for k, s, e, g in layers:
        sizes.append(conv.output_size(sizes[-1], k, s, e, g))
    unit = sizes[2] // 2
    # the units that feed the chosen top unit: where its gradient is nonzero, level by level
    feeding = [cnn.receptive_field_support(layers, _RF_M, unit),
               cnn.receptive_field_support(layers[1:], sizes[1], unit), np.arange(sizes[2]) == unit]
    xs = [(np.arange(n) + 0.5) * (_RF_M / n) for n in sizes]        # spread each level
    cold, hot = [], []
    for level in range(2):
        k, s, e, g = layers[level]
        for j in range(sizes[level + 1]):
            for t in range(k):
                src = s * j + g * t - e
                if 0 <= src < sizes[level]:
                    seg = hot if feeding[level + 1][j] else cold
                    seg += [(xs[level][src], float(level)), (xs[level + 1][j], level + 1.0), (np.nan, np.nan)]
    pads = []
    for level in range(2):
        e, step = layers[level][2], _RF_M / sizes[level]
        pads += [((p + 0.5) * step, float(level))
                 for p in list(range(-e, 0)) + list(range(sizes[level], sizes[level] + e))]
    return {"layers": layers, "sizes": sizes, "unit": unit, "feeding": feeding, "xs": xs,
            "cold": np.array(cold).reshape(-1, 2), "hot": np.array(hot).reshape(-1, 2),
            "pads": np.array(pads).reshape(-1, 2), "field": cnn.receptive_field(layers)[-1]}


def _draw_rf(fig: Figure, K: float, S: float):
    ax = fig.subplots()
    cold, = ax.plot([], [], color="0.8", lw=0.5, zorder=1)
    hot, = ax.plot([], [], color=PALETTE["field"], lw=1.3, zorder=2)
    pads, = ax.plot([], [], "s", ms=9, mfc="none", mec="0.6", zorder=2)
    dots = []
    for level in range(3):
        base = PALETTE["input"] if level == 0 else PALETTE["layer"]
        dots.append((ax.plot([], [], "o", ms=9, mfc=base, mec="black", mew=0.5, zorder=3)[0],
                     ax.plot([], [], "o", ms=9, mfc=PALETTE["field"], mec="black", mew=0.5,
                             zorder=4)[0]))
    labels = [ax.text(-5.0, y, "", ha="right", va="center", fontsize=9) for y in (0, 1, 2)]
    ax.set_xlim(-4.5, _RF_M + 4.5)
    ax.set_ylim(-0.5, 2.5)
    ax.set_yticks([])
    ax.set_xlabel("input position (the layers above are spread over the same width)")
    title = ax.set_title(" ", fontsize=9)
    for spine in ("top", "right", "left"):
        ax.spines[spine].set_visible(False)

    def update(K: float, S: float) -> list:
        pic = _rf_picture(int(K), int(S))
        cold.set_data(pic["cold"][:, 0], pic["cold"][:, 1])
        hot.set_data(pic["hot"][:, 0], pic["hot"][:, 1])
        pads.set_data(pic["pads"][:, 0], pic["pads"][:, 1])
        for level, (normal, marked) in enumerate(dots):
            x, on = pic["xs"][level], pic["feeding"][level]
            normal.set_data(x[~on], np.full((~on).sum(), float(level)))
            marked.set_data(x[on], np.full(on.sum(), float(level)))
        names = ["input", "layer 1", "layer 2"]
        for t, name, n in zip(labels, names, pic["sizes"]):
            t.set_text(f"{name}: {n} units")
        rf = pic["field"]
        lo, hi = rf.interval(pic["unit"])
        title.set_text(f"K = {int(K)}, S = {int(S)}, padding E = {pic['layers'][0][2]}: the marked "
                       f"unit sees {rf.size} input positions ({lo} to {hi}); "
                       f"{int(pic['feeding'][0].sum())} of them are real inputs")
        return [cold, hot, pads, *[d for pair in dots for d in pair], *labels, title]

    update(K, S)
    return update


def receptive_field_explorable() -> Explorable:
    """Explorable: two stacked layers with kernel size K and stride S; the output sizes and the receptive field of one unit."""
    return Explorable(
        _draw_rf,
        [Control("K", "kernel size K", _RF_K, value=3, fmt="{:.0f}"),
         Control("S", "stride S", _RF_S, value=1, fmt="{:.0f}")],
        alt=("Three rows of circles: 16 inputs at the bottom, the outputs of a first layer above "
             "them and of a second layer at the top, with lines from each output to the K inputs "
             "it reads. One unit of the top layer is marked with everything it depends on: its "
             "inputs in layer 1 and its receptive field in the input row. Empty squares are the "
             "zero padding. Larger kernels and strides widen the receptive field; strides shrink "
             "the layers."),
        caption=("Two layers with the same kernel size K, stride S and padding (K − 1)//2. "
                 "Output size M' = ⌊(M + 2E − K)/S⌋ + 1; the receptive field grows by "
                 "(K − 1) × (product of the strides below) per layer."),
        figsize=(8.4, 2.9), dpi=72)


def saliency(model: cnn.CNN, X: Any, channel: int = 0, position: tuple[int, int] = (0, 1)
             ) -> tuple[np.ndarray, tuple[tuple[int, int], tuple[int, int]]]:
    """The gradient of one unit of the CNN's last feature map with respect to the first input image, shape (M1, M2), and the unit's receptive field ((first row, last row), (first column, last column)) from :func:`dlnotes.cnn.receptive_field`."""
    Xa = model._check_X(X)[:1]
    feats, caches = model._body_forward(Xa)
    C, P1, P2 = model.body_shape
    d = np.zeros_like(feats)
    d[0, channel * P1 * P2 + position[0] * P2 + position[1]] = 1.0
    da = d
    for i in range(len(model.body) - 1, -1, -1):
        da, _ = model.body[i].backward(da, caches[i])
    rf = model.receptive_fields()[-1]
    return da[0, 0], (rf.interval(position[0]), rf.interval(position[1]))


def saliency_figure(model: cnn.CNN, X: Any, channel: int = 0, position: tuple[int, int] = (0, 1)) -> Figure:
    """The gradient of one unit of the CNN's last feature map with respect to the input image (:func:`saliency`), with the unit's receptive field drawn as a box."""
    Xa = model._check_X(X)[:1]
    g, ((r0, r1), (c0, c1)) = saliency(model, Xa, channel, position)
    fig = new_figure(6.4, 3.0)
    ax_x, ax_g = fig.subplots(1, 2)
    ax_x.imshow(Xa[0, 0], cmap="gray_r")
    lim = float(np.abs(g).max()) or 1.0
    im = ax_g.imshow(g, cmap=DIVERGING, vmin=-lim, vmax=lim)
    fig.colorbar(im, ax=ax_g, orientation="horizontal", shrink=0.85, label="∂ feature / ∂ pixel")
    from matplotlib.patches import Rectangle

    for ax in (ax_x, ax_g):
        ax.add_patch(Rectangle((c0 - 0.5, r0 - 0.5), c1 - c0 + 1, r1 - r0 + 1, fill=False,
                               edgecolor=PALETTE["field"], lw=2, clip_on=False))
        ax.set_xlabel("column")
        ax.set_ylabel("row")
        ax.set_xlim(-2.5, 9.5)
        ax.set_ylim(9.5, -2.5)
    ax_x.set_title("an 8x8 digit (standardised)", fontsize=9)
    ax_g.set_title(f"gradient of feature ({channel}, {position[0]}, {position[1]})", fontsize=9)
    return fig


# ======================================================= equivariance and invariance

def _shift(img: np.ndarray, d1: int, d2: int) -> np.ndarray:
    """(T x)_{j} = x_{j - Δj}: move the content down by d1 and right by d2, zeros flowing in."""
    out = np.zeros_like(img)
    H, W = img.shape
    out[max(d1, 0):H + min(d1, 0), max(d2, 0):W + min(d2, 0)] = \
        img[max(-d1, 0):H - max(d1, 0), max(-d2, 0):W - max(d2, 0)]
    return out


def shift_check(image: Any | None = None, shift: tuple[int, int] = (7, 12),
                kernel: str = "Sobel") -> dict[str, float]:
    r"""Convolution commutes with shifts, exactly, away from the borders.

    Compares :math:`w \star (\mathcal T x)` with :math:`\mathcal T(w \star x)` for the shift
    :math:`(\mathcal T x)_j = x_{j - \Delta j}` (zeros come in at the border), both computed
    with zero padding so the outputs keep the image's size. Returns the largest difference
    on the interior (more than the kernel's reach from the image border and from the band
    where zeros came in) and on the rest.
    """
    img = photo() if image is None else np.asarray(image, float)
    k = KERNELS[kernel]
    d1, d2 = shift

    def layer(a):
        return conv.conv2d(a[None, None], k[None, None], padding=1)[0, 0]

    a, b = layer(_shift(img, d1, d2)), _shift(layer(img), d1, d2)
    H, W = img.shape
    inner = np.zeros_like(img, dtype=bool)
    inner[d1 + 2:H - 2, d2 + 2:W - 2] = True
    diff = np.abs(a - b)
    return {"interior": float(diff[inner].max()), "border": float(diff[~inner].max()),
            "scale": float(np.abs(b).max())}


def _relative(a: np.ndarray, b: np.ndarray, margin: int) -> float:
    sl = (slice(margin, -margin), slice(margin, -margin))
    return float(np.linalg.norm(a[sl] - b[sl]) / np.linalg.norm(b[sl]))


def transform_checks(image: Any | None = None) -> list[list[Any]]:
    """Does filtering commute with a transformation? Relative difference of transform-then-filter and filter-then-transform, for shifts, rotations and a change of scale."""
    from scipy import ndimage

    img = photo() if image is None else np.asarray(image, float)
    sq = img[:, :img.shape[0]]                                  # square crop for rotations

    def f(a, name):
        return filtered(a, KERNELS[name])

    rows = []
    for name in ("Sobel", "Laplacian"):
        s = shift_check(img, kernel=name)
        rows.append([f"shift by (7, 12) pixels", name, s["interior"] / s["scale"]])
    for name in ("Sobel", "Laplacian"):
        rows.append(["rotation by 90°", name, _relative(f(np.rot90(sq), name), np.rot90(f(sq, name)), 4)])
    for name in ("Sobel", "Laplacian"):
        a = f(ndimage.rotate(sq, 30, reshape=False, order=3), name)
        b = ndimage.rotate(np.pad(f(sq, name), 1), 30, reshape=False, order=3)[1:-1, 1:-1]
        m = sq.shape[0] // 4                                    # the central part only
        rows.append(["rotation by 30°", name, _relative(a[m:-m, m:-m], b[m:-m, m:-m], 2)])
    H, W = (s // 2 * 2 for s in img.shape)
    down = lambda a: a[:a.shape[0] // 2 * 2, :a.shape[1] // 2 * 2].reshape(  # noqa: E731
        a.shape[0] // 2, 2, a.shape[1] // 2, 2).mean(axis=(1, 3))
    for name in ("Sobel", "Laplacian"):
        a = f(down(img[:H, :W]), name)
        b = down(f(img[:H, :W], name))[:a.shape[0], :a.shape[1]]
        rows.append(["scale by 1/2", name, _relative(a, b, 2)])
    return rows


def transform_figure(image: Any | None = None) -> Figure:
    """Transform-then-filter against filter-then-transform for the Sobel kernel: a shift (equal), a 90° rotation (vertical edges become horizontal) and a halving of the scale."""
    img = photo() if image is None else np.asarray(image, float)
    sq = img[:, :img.shape[0]]
    k = KERNELS["Sobel"]
    fig = new_figure(7.6, 5.4)
    axes = fig.subplots(2, 3)

    def layer(a):
        return conv.conv2d(a[None, None], k[None, None], padding=1)[0, 0]

    d = (7, 12)
    down = lambda a: a[:a.shape[0] // 2 * 2, :a.shape[1] // 2 * 2].reshape(  # noqa: E731
        a.shape[0] // 2, 2, a.shape[1] // 2, 2).mean(axis=(1, 3))
    pairs = [("shift by (7, 12)", layer(_shift(sq, *d)), _shift(layer(sq), *d)),
             ("rotate by 90°", layer(np.rot90(sq)), np.rot90(layer(sq))),
             ("scale by 1/2", layer(down(sq)), down(layer(sq)))]
    lim = float(np.quantile(np.abs(layer(sq)), 0.995))
    for col, (name, a, b) in enumerate(pairs):
        im = _show(axes[0, col], a, True, lim, f"{name}, then filter")
        _show(axes[1, col], b, True, lim, f"filter, then {name.split(' ')[0]}")
    fig.colorbar(im, ax=axes, orientation="horizontal", shrink=0.5, aspect=40, extend="both",
                 label="Sobel response (0 = white)")
    return fig


def pooling_invariance(image: Any | None = None, shifts: Sequence[int] = range(0, 9),
                       windows: Sequence[int] = (1, 2, 4, 8)) -> dict[int, np.ndarray]:
    r"""Share of max-pooled outputs that do not change when the input moves right by a few pixels.

    The input is a typical first-layer feature map, the edge strength :math:`|w \star x|` for
    the Sobel kernel on the photograph (non-negative, like a feature after a non-linearity,
    and with few exact ties); it is pooled with :math:`K \times K` windows and stride
    :math:`K` (window 1: no pooling). A pooled output is unchanged if it is exactly the same
    number after the shift (outputs whose window touches the band where the shift brings in
    new columns are left out). Returns window -> array over ``shifts``.
    """
    img = photo() if image is None else np.asarray(image, float)
    feat = np.abs(filtered(img, KERNELS["Sobel"]))
    base = feat[None, None]
    out = {}
    smax = max(shifts)
    for K in windows:
        ref = pooling.max_pool2d(base, K)[0, 0]
        fractions = []
        for s in shifts:
            moved = np.zeros_like(feat)
            moved[:, s:] = feat[:, :feat.shape[1] - s]
            pooled = pooling.max_pool2d(moved[None, None], K)[0, 0]
            keep = slice(-(-smax // K) + 1, None)               # windows clear of the new band
            fractions.append(float(np.mean(pooled[:, keep] == ref[:, keep])))
        out[int(K)] = np.array(fractions)
    return out


def pooling_invariance_figure(result: dict[int, np.ndarray], shifts: Sequence[int] = range(0, 9)) -> Figure:
    """The share of unchanged pooled outputs against the shift, one curve per window size."""
    fig = new_figure(6.4, 3.2)
    ax = fig.subplots()
    s = np.asarray(list(shifts))
    for (K, frac), color in zip(result.items(), _WINDOW_COLORS):
        label = "no pooling" if K == 1 else f"{K}x{K} max pooling, stride {K}"
        ax.plot(s, frac, "o-", color=color, label=label)
    ax.set_xlabel("shift to the right (pixels)")
    ax.set_ylabel("share of pooled outputs unchanged")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("Pooling is invariant to small shifts, and only approximately", fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    return fig


# ======================================================= sizes of networks

def layer_size_rows(M1: int, M2: int, F_in: int, F_out: int, K: int) -> list[list[Any]]:
    """The notes' table for one layer: units, weights and connections of a dense and a convolutional layer, formulas and counts."""
    d = cnn.dense_layer_size(M1, M2, F_in, F_out)
    c = cnn.conv_layer_size(M1, M2, F_in, F_out, K)
    return [
        ["output units", "$M_1 M_2 F_{\\text{out}}$", d["units"], "$M_1 M_2 F_{\\text{out}}$", c["units"]],
        ["weights", "$M_1^2 M_2^2 F_{\\text{in}} F_{\\text{out}}$", d["weights"],
         "$K^2 F_{\\text{in}} F_{\\text{out}}$", c["weights"]],
        ["connections", "$M_1^2 M_2^2 F_{\\text{in}} F_{\\text{out}}$", d["connections"],
         "$M_1 M_2 K^2 F_{\\text{in}} F_{\\text{out}}$", c["connections"]],
    ]


ARCHITECTURES = {"LeNet-5": cnn.lenet5, "AlexNet": cnn.alexnet, "VGG-16": cnn.vgg16}


def _dense_like(r: cnn.LayerSize) -> bool:
    # a convolution whose output is a single position (LeNet-5's C5) is a dense layer in disguise
    return r.kind == "fc" or (r.kind == "conv" and r.output_shape[1:] == (1, 1))


def architecture_rows() -> list[list[Any]]:
    """Per architecture: parameters, units and connections (:func:`dlnotes.cnn.network_sizes`), and the share of each in the convolutional layers.

    Dense layers, and convolutions with a single output position (LeNet-5's C5, which sees
    its whole 5x5 input), count as the dense part. (The tests check the parameter counts
    against ``torch.nn``.)
    """
    rows = []
    for name, arch in ARCHITECTURES.items():
        shape, spec = arch()
        sizes = cnn.network_sizes(spec, shape)
        total = {k: sum(getattr(r, k) for r in sizes) for k in ("weights", "units", "connections")}
        conv_part = {k: sum(getattr(r, k) for r in sizes if not _dense_like(r)) for k in total}
        rows.append([name, f"{shape[0]}x{shape[1]}x{shape[2]}", total["weights"],
                     conv_part["weights"] / total["weights"], total["units"],
                     conv_part["units"] / total["units"], total["connections"],
                     conv_part["connections"] / total["connections"]])
    return rows


def alexnet_rows() -> list[list[Any]]:
    """AlexNet layer by layer: output shape, units, weights, connections."""
    shape, spec = cnn.alexnet()
    return [[r.name, "x".join(map(str, r.output_shape)), r.units, r.weights, r.connections]
            for r in cnn.network_sizes(spec, shape)]


# ======================================================= the digits CNN

def digits_runs(epochs: int = 20, batch_size: int = 64, lr: float = 3e-3, seed: int = 0,
                data: Dataset | None = None, progress: bool = False,
                channels: Sequence[int] = (8, 16), hidden: Sequence[int] = (32, 64)) -> dict[str, dict]:
    """Train the chapter's CNN and the MLPs of the earlier chapters on the digits with Adam, on the same minibatches.

    Returns name -> ``{"model", "history", "params"}``; the names are ``"CNN"`` and
    ``"MLP, H hidden"``.
    """
    data = digits() if data is None else data
    models = {"CNN": cnn.CNN(channels=channels, seed=seed)}
    for h in hidden:
        models[f"MLP, {h} hidden"] = training.MLP(data.X_train.shape[1], h, 10, seed=seed)
    out = {}
    for name, model in models.items():
        hist = training.train(model, optim.Adam(model.params, lr=lr), data, epochs=epochs,
                              batch_size=batch_size, seed=seed, progress=progress, desc=name)
        out[name] = {"model": model, "history": hist, "params": model.n_params}
    return out


def digits_figure(runs: dict[str, dict]) -> Figure:
    """Validation accuracy and training loss against the epoch, for the CNN and the MLPs."""
    fig = new_figure(9.0, 3.2)
    ax_a, ax_l = fig.subplots(1, 2)
    colors = [PALETTE["cnn"], PALETTE["mlp"], "#a6a1d0", "#cbc9e2"]
    for (name, r), c in zip(runs.items(), colors):
        h = r["history"]
        label = f"{name} ({r['params']} parameters)"
        ax_a.plot(h.epoch, h.val_accuracy, "o-", ms=2.5, color=c, label=label)
        ax_l.semilogy(h.epoch, h.train_loss, "o-", ms=2.5, color=c, label=label)
    ax_a.set_xlabel("epoch")
    ax_a.set_ylabel("validation accuracy")
    ax_a.set_ylim(0.8, 1.0)
    ax_a.legend(fontsize=8, frameon=False, loc="lower right")
    ax_l.set_xlabel("epoch")
    ax_l.set_ylabel("training loss (log scale)")
    return fig
