"""Figures, explorables and experiments of *Convolutional networks*, each checked against an
independent reference (PyTorch, SciPy, NumPy) and against what the chapter says about them."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch
import torch.nn.functional as F
from numpy.testing import assert_allclose

from dlnotes import cnn
from dlnotes.figures import convolutional_networks as figs

from figure_checks import assert_axes_labelled  # tests/ helper

EXPLORABLES = [figs.kernel_explorable, figs.receptive_field_explorable]


@pytest.mark.parametrize("make", EXPLORABLES, ids=lambda f: f.__name__)
def test_explorables_are_small_and_their_fast_path_draws_what_a_full_redraw_draws(make):
    ex = make()
    states = ex.states()
    assert len(states) <= 30
    first = ex.render(**states[0])
    ex.render(**states[-1])
    again = ex.render(**states[0])                 # via update() and blitting
    fresh = make().render(**states[0])              # a full draw
    assert again == fresh and first == fresh


def test_strength_kernels_keep_the_brightness_and_the_laplacian_at_one_is_sharpen():
    for name in figs.KERNELS:
        for a in (0.0, 0.5, 1.0, 2.0):
            assert figs.strength_kernel(name, a).sum() == pytest.approx(1.0)
        assert np.array_equal(figs.strength_kernel(name, 0.0), np.pad([[1.0]], 1))
    assert np.array_equal(figs.strength_kernel("Laplacian", 1.0), figs.KERNELS["sharpen"])
    assert_allclose(figs.strength_kernel("blur", 1.0), figs.KERNELS["blur"])


def test_the_photograph_is_grey_in_unit_range_and_filtering_is_scipys():
    img = figs.photo()
    assert img.shape == (213, 320) and 0 <= img.min() < img.max() <= 1
    for name, k in figs.KERNELS.items():
        assert_allclose(figs.filtered(img, k), scipy.signal.correlate2d(img, k, "valid"), atol=1e-12)
        assert_allclose(figs.filtered(img, k, "convolve"), scipy.signal.convolve2d(img, k, "valid"),
                        atol=1e-12)


def test_display_checks_show_the_unnormalised_blur_and_the_signed_outputs_leaving_the_range():
    rows = {r[0]: r for r in figs.display_checks()}
    raw = rows["blur, as in the notes (sum 8)"]
    assert raw[1] == 8 and raw[3] > 7 and raw[4] > 0.9            # almost all pixels clip
    assert rows["blur"][4] == 0.0 and rows["blur"][1] == pytest.approx(1.0)
    for name in ("Laplacian", "Sobel"):
        assert rows[name][1] == 0 and rows[name][5] > 0.3          # many negative outputs


@pytest.mark.parametrize("make", [figs.kernels_figure, figs.naive_display_figure,
                                  figs.transform_figure,
                                  lambda: figs.pooling_invariance_figure(figs.pooling_invariance())])
def test_static_figures_have_labelled_axes(make):
    assert_axes_labelled(make())


def test_the_jpeg_of_a_figure_is_a_jpeg():
    img = figs.jpeg(figs.naive_display_figure())
    assert img.data[:3] == b"\xff\xd8\xff" and img.format == "jpeg"


def test_two_linear_convolutions_are_one_and_with_a_relu_they_are_not():
    out = figs.collapse_check()
    assert out["linear_gap"] < 1e-10 and out["linear_fit_error"] < 1e-10
    assert out["relu_fit_error"] > 0.1 and out["combined_kernel_size"] == 5
    # the combined kernel, checked with torch: two layers against one
    rng = np.random.default_rng(1)
    w1, w2 = rng.standard_normal((4, 2, 3, 3)), rng.standard_normal((3, 4, 3, 3))
    x = torch.tensor(rng.standard_normal((2, 2, 9, 9)))
    two = F.conv2d(F.conv2d(x, torch.tensor(w1)), torch.tensor(w2))
    one = F.conv2d(x, torch.tensor(figs._combined_kernel(w1, w2)))
    assert torch.allclose(two, one, atol=1e-12)


def test_a_one_by_one_convolution_is_a_matrix_per_pixel():
    assert figs.one_by_one_check()["max_difference"] < 1e-12


def test_the_pooling_example_is_torchs():
    ex = figs.pooling_example()
    x = torch.tensor(ex["x"])[None, None].requires_grad_()
    z = F.max_pool2d(x, 2)
    z.backward(torch.tensor(ex["dz"])[None, None])
    assert np.array_equal(ex["z"], z[0, 0].detach().numpy())
    assert np.array_equal(ex["dx"], x.grad[0, 0].numpy())
    x.grad = None
    a = F.avg_pool2d(x, 2)
    a.backward(torch.tensor(ex["dz"])[None, None])
    assert np.array_equal(ex["avg"], a[0, 0].detach().numpy())
    assert np.array_equal(ex["avg_dx"], x.grad[0, 0].numpy())
    # the example has a tie (the 3s of the first window), which the first one wins
    assert ex["dx"][0, 1] == 10 and ex["dx"][1, 0] == 0


def test_convolution_commutes_with_shifts_away_from_the_border_only():
    s = figs.shift_check()
    assert s["interior"] == 0.0 and s["border"] > 0.1 * s["scale"]
    # the same with scipy, zero padding, shifting by slicing
    img = figs.photo()
    k = figs.KERNELS["Sobel"]
    a = scipy.signal.correlate2d(np.pad(img, ((7, 0), (12, 0)))[:-7, :-12], k, "same")
    b = np.pad(scipy.signal.correlate2d(img, k, "same"), ((7, 0), (12, 0)))[:-7, :-12]
    assert np.abs(a - b)[9:-2, 14:-2].max() < 1e-12


def test_rotation_and_scale_break_equivariance_except_for_a_symmetric_kernel_and_quarter_turns():
    rows = {(r[0], r[1]): r[2] for r in figs.transform_checks()}
    assert rows[("rotation by 90°", "Laplacian")] < 1e-12
    assert rows[("rotation by 90°", "Sobel")] > 0.5
    assert rows[("rotation by 30°", "Laplacian")] > 0.05
    assert min(rows[("scale by 1/2", n)] for n in ("Sobel", "Laplacian")) > 0.3
    # independent check of the quarter turn with torch
    img = torch.tensor(figs.photo()[:, :213])
    for name, equal in [("Laplacian", True), ("Sobel", False)]:
        k = torch.tensor(figs.KERNELS[name])[None, None]
        a = F.conv2d(torch.rot90(img, 1)[None, None], k)
        b = torch.rot90(F.conv2d(img[None, None], k), 1, dims=(2, 3))
        assert torch.allclose(a, b) == equal


def test_pooling_invariance_against_torch_for_one_shift():
    res = figs.pooling_invariance(shifts=[0, 1, 3], windows=(1, 4))
    feat = torch.tensor(np.abs(figs.filtered(figs.photo(), figs.KERNELS["Sobel"])))[None, None]
    for K, frac in res.items():
        ref = F.max_pool2d(feat, K)[0, 0]
        moved = F.max_pool2d(F.pad(feat, (1, 0))[..., :-1], K)[0, 0]
        keep = slice(-(-3 // K) + 1, None)
        assert frac[1] == pytest.approx((moved[:, keep] == ref[:, keep]).double().mean().item())
        assert frac[0] == 1.0
    assert res[4][1] > res[1][1] and res[4][1] > res[4][2]


def test_full_invariance_curve_falls_with_the_shift_and_rises_with_the_window():
    res = figs.pooling_invariance()
    for K in (2, 4, 8):
        assert np.all(np.diff(res[K][:K + 1]) < 0)                   # falls until the shift = K
        assert res[K][1] > res[1][1]
    assert res[8][1] > res[4][1] > res[2][1]


def test_receptive_field_rows_agree_with_the_measured_support():
    rows = figs.receptive_field_rows({"3x3 x3": [(3, 1, 1)] * 3, "pooled": [(3, 1, 1), (2, 2), (3, 1, 1)]})
    assert [r[1:] for r in rows] == [[7, 1, 7, 7], [8, 2, 8, 8]]


def test_architecture_rows_count_torchs_parameters_and_follow_the_rule_of_thumb():
    for row, arch in zip(figs.architecture_rows(), figs.ARCHITECTURES.values()):
        shape, spec = arch()
        assert row[2] == sum(p.numel() for p in cnn.to_torch(spec, shape).parameters())
        assert row[3] < 0.5 and row[5] > 0.9 and row[7] > 0.8      # weights dense; units, work conv


def test_saliency_support_lies_in_the_receptive_field(data):
    model = cnn.CNN(seed=0)
    fig = figs.saliency_figure(model, data.X_train[:1])
    assert_axes_labelled(fig)


def test_digits_runs_train_every_model_on_the_same_batches(data):
    runs = figs.digits_runs(epochs=1, data=data)
    assert set(runs) == {"CNN", "MLP, 32 hidden", "MLP, 64 hidden"}
    assert runs["CNN"]["params"] == 1898 and runs["MLP, 32 hidden"]["params"] == 64 * 32 + 32 + 330
    for r in runs.values():
        assert np.all(np.isfinite(r["history"].train_loss))
    assert_axes_labelled(figs.digits_figure(runs))
