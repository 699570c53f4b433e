"""dlnotes.augmentation against torch (interpolate, fractional_max_pool2d), PIL, scipy and its properties."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageEnhance
from scipy import stats

from dlnotes import augmentation as G


@pytest.fixture(scope="module")
def photo():
    return G.sample_photo("china.jpg", step=8)


def test_the_sample_photo_ships_with_scikit_learn_and_is_rgb_in_0_1(photo):
    assert photo.ndim == 3 and photo.shape[2] == 3 and 0 <= photo.min() and photo.max() <= 1


def test_flip_twice_is_the_identity_and_matches_torch_flip(photo):
    np.testing.assert_array_equal(G.hflip(G.hflip(photo)), photo)
    np.testing.assert_array_equal(G.hflip(photo), torch.flip(torch.tensor(photo), dims=[1]).numpy())


@pytest.mark.parametrize("out", [(10, 17), (40, 33), (53, 80)])
def test_bilinear_resize_matches_torch_interpolate(photo, out):
    ref = torch.nn.functional.interpolate(torch.tensor(photo).permute(2, 0, 1)[None], size=out, mode="bilinear",
                                          align_corners=False)[0].permute(1, 2, 0).numpy()
    np.testing.assert_allclose(G.resize_bilinear(photo, *out), ref, rtol=1e-10, atol=1e-12)


def test_random_resized_crop_areas_and_ratios_stay_in_range():
    rng = np.random.default_rng(0)
    for _ in range(300):
        t, l, h, w = G.crop_box(100, 150, (0.25, 1.0), (3 / 4, 4 / 3), rng)
        assert 0 <= t and t + h <= 100 and 0 <= l and l + w <= 150
        if (h, w) != (100, 150):
            assert 0.2 <= h * w / 15000 <= 1.02 and 0.7 <= w / h <= 1.4
    assert G.random_resized_crop(np.zeros((20, 30, 3)), (8, 8), rng=1).shape == (8, 8, 3)


def _pil(x):
    return Image.fromarray(np.round(x * 255).astype(np.uint8))


@pytest.mark.parametrize("f", [0.5, 1.3])
def test_brightness_and_saturation_match_pil(photo, f):
    img = np.round(photo * 255) / 255
    for ours, enh in ((G.adjust_brightness, ImageEnhance.Brightness), (G.adjust_saturation, ImageEnhance.Color)):
        ref = np.asarray(enh(_pil(img)).enhance(f), dtype=float) / 255
        assert np.max(np.abs(ours(img, f) - ref)) <= 1.5 / 255   # PIL rounds to 8 bits


def test_contrast_keeps_the_mean_grey_level_and_factor_one_is_the_identity(photo):
    x = 0.25 + 0.5 * photo                                       # no clipping for factor 0.5
    np.testing.assert_allclose(G.grayscale(G.adjust_contrast(x, 0.5)).mean(), G.grayscale(x).mean(), rtol=1e-12)
    out, fs = G.color_jitter(photo, 0.0, 0.0, 0.0, rng=0)
    assert fs == (1.0, 1.0, 1.0)
    np.testing.assert_allclose(out, photo)


def test_pca_noise_moves_the_mean_colour_by_the_shift_along_the_principal_components(photo):
    lam, U = G.pca_basis(photo)
    np.testing.assert_allclose(np.sort(lam), np.linalg.eigvalsh(np.cov(photo.reshape(-1, 3).T)), rtol=1e-10)
    out, shift = G.pca_color_noise(photo, 0.1, rng=3)
    np.testing.assert_allclose(out.reshape(-1, 3).mean(0) - photo.reshape(-1, 3).mean(0), shift, atol=1e-12)
    # the covariance of the shift is std^2 U diag(lam^2) U^T
    shifts = np.array([G.pca_color_noise(photo[:4, :4], 0.1, rng=s, basis=(lam, U))[1] for s in range(20000)])
    np.testing.assert_allclose(np.cov(shifts.T), 0.01 * U @ np.diag(lam ** 2) @ U.T, atol=0.05 * 0.01 * lam.max() ** 2)
    # with the square roots, the shift's covariance is std^2 times the image's own colour covariance
    shifts = np.array([G.pca_color_noise(photo[:4, :4], 0.1, rng=s, basis=(lam, U), scale="sqrt")[1]
                       for s in range(20000)])
    cov = np.cov(photo.reshape(-1, 3).T)
    np.testing.assert_allclose(np.cov(shifts.T), 0.01 * cov, atol=0.05 * 0.01 * lam.max())


def test_cutout_zeroes_at_most_a_square():
    img = np.ones((30, 30, 3))
    for s in range(50):
        out, (r, c) = G.cutout(img, 8, rng=s)
        zeros = int((out[..., 0] == 0).sum())
        assert zeros <= 64
        if 4 <= r <= 25 and 4 <= c <= 25:
            assert zeros == 64


def test_mixup_labels_sum_to_one_and_lambda_is_beta_distributed():
    x1, x2 = np.zeros((4, 4)), np.ones((4, 4))
    lams = []
    for s in range(3000):
        x, label, lam = G.mixup(x1, 2, x2, 5, 10, upsilon=0.4, rng=s)
        assert label.sum() == pytest.approx(1.0) and label[2] == pytest.approx(lam)
        np.testing.assert_allclose(x, 1 - lam)
        lams.append(lam)
    assert stats.kstest(lams, stats.beta(0.4, 0.4).cdf).pvalue > 1e-3
    assert stats.kstest(lams, stats.beta(2.0, 2.0).cdf).pvalue < 1e-10   # the test can tell Betas apart
    _, same, _ = G.mixup(x1, 3, x2, 3, 10, lam=0.3)
    assert same[3] == pytest.approx(1.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,k,out", [((2, 3, 25, 25), 2, (14, 17)), ((1, 2, 11, 16), 3, (5, 9))])
def test_fractional_max_pool_matches_torch_given_the_samples(dtype, shape, k, out):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    u = rng.random((shape[0], shape[1], 2)).astype(dtype)
    ref = torch.nn.functional.fractional_max_pool2d(torch.tensor(x), k, output_size=out,
                                                    _random_samples=torch.tensor(u)).numpy()
    np.testing.assert_array_equal(G.fractional_max_pool2d(x, k, out, u), ref)


def test_fractional_intervals_have_gaps_floor_or_ceil_of_the_ratio():
    seq = G.fractional_intervals(0.37, 25, 14, 2)
    gaps = np.diff(seq)
    a = (25 - 2) / 13
    assert set(gaps) <= {int(np.floor(a)), int(np.ceil(a))} and seq[0] == 0 and seq[-1] == 23


def test_stochastic_depth_keeps_rows_with_probability_p_and_averages_to_the_full_block():
    rng = np.random.default_rng(1)
    x, fx = rng.standard_normal((2000, 3)), rng.standard_normal((2000, 3))
    outs, kept = [], []
    for s in range(200):
        o, b = G.stochastic_depth(x, fx, 0.7, rng=s)
        outs.append(o)
        kept.append(b.mean())
    assert abs(np.mean(kept) - 0.7) < 5 * np.sqrt(0.21 / 400000)
    se = np.sqrt(0.3 / 0.7 / 200) * np.abs(fx)
    assert np.mean(np.abs(np.mean(outs, 0) - (x + fx)) < 5 * se + 1e-12) > 0.999
    np.testing.assert_allclose(G.stochastic_depth(x, fx, 0.7, train=False)[0], x + fx)


def test_shift_digits_moves_the_raw_image_by_one_pixel():
    mu, sd = np.full(64, 2.0), np.full(64, 3.0)
    raw = np.zeros((1, 8, 8)); raw[0, 3, 3] = 16
    X = ((raw.reshape(1, 64) - mu) / sd)
    outs = {tuple(np.argwhere((G.shift_digits(X, mu, sd, 1, rng=s) * sd + mu).reshape(8, 8) > 8)[0]) for s in range(60)}
    assert outs == {(r, c) for r in (2, 3, 4) for c in (2, 3, 4)}


def test_bad_inputs_are_clear_errors(photo):
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        G.grayscale(np.ones((4, 4, 2)))
    with pytest.raises(ValueError, match="upsilon"):
        G.mixup(np.ones(2), 0, np.ones(2), 1, 3, upsilon=0)
    with pytest.raises(ValueError, match="y1"):
        G.mixup(np.ones(2), 5, np.ones(2), 1, 3)
    with pytest.raises(ValueError, match="keep probability"):
        G.stochastic_depth(np.ones((2, 2)), np.ones((2, 2)), 0.0)
    with pytest.raises(ValueError, match="output_size"):
        G.fractional_intervals(0.5, 10, 10, 2)
