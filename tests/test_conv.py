"""dlnotes.conv: convolution and cross-correlation against PyTorch (forward and autograd),
SciPy and NumPy, then the properties the chapter states (flip relation, commutativity,
linearity, the output-size formula), then bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from dlnotes import conv


def _random_case(seed: int):
    """Random conv2d arguments: any stride, padding, dilation, non-square kernels, groups."""
    rng = np.random.default_rng(seed)
    groups = int(rng.choice([1, 1, 2, 3]))
    C = groups * int(rng.integers(1, 4))
    Fo = groups * int(rng.integers(1, 4))
    K = tuple(int(k) for k in rng.integers(1, 5, 2))
    S = tuple(int(s) for s in rng.integers(1, 4, 2))
    E = tuple(int(e) for e in rng.integers(0, 3, 2))
    G = tuple(int(g) for g in rng.integers(1, 3, 2))
    M = tuple(G[a] * (K[a] - 1) + 1 + int(rng.integers(0, 7)) - (E[a] if rng.random() < 0.3 else 0)
              for a in range(2))
    M = tuple(max(m, 1) for m in M)
    N = int(rng.integers(1, 4))
    x = rng.standard_normal((N, C, *M))
    w = rng.standard_normal((Fo, C // groups, *K))
    b = rng.standard_normal(Fo)
    return x, w, b, dict(stride=S, padding=E, dilation=G, groups=groups), rng


def _torch_conv2d(x, w, b, kw, dz):
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    z = F.conv2d(xt, wt, bt, **kw)
    z.backward(torch.tensor(dz))
    return z.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


@pytest.mark.parametrize("method", conv.METHODS)
@pytest.mark.parametrize("seed", range(40))
def test_conv2d_forward_and_gradients_match_torch_in_float64(seed, method):
    x, w, b, kw, rng = _random_case(seed)
    try:
        shape = F.conv2d(torch.tensor(x), torch.tensor(w), None, **kw).shape
    except RuntimeError:
        pytest.skip("torch rejects this geometry too (kernel larger than the padded input)")
    dz = rng.standard_normal(tuple(shape))
    z_t, dx_t, dw_t, db_t = _torch_conv2d(x, w, b, kw, dz)
    z = conv.conv2d(x, w, b, method=method, **kw)
    dx, dw, db = conv.conv2d_backward(dz, x, w, method=method, **kw)
    for ours, ref in [(z, z_t), (dx, dx_t), (dw, dw_t), (db, db_t)]:
        assert ours.shape == ref.shape and ours.dtype == np.float64
        assert_allclose(ours, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("chunk_bytes", [1, 3000])
@pytest.mark.parametrize("seed", [0, 5, 11, 17])
def test_blocked_im2col_gives_the_same_gradients(seed, chunk_bytes, monkeypatch):
    # large batches are processed in blocks of samples; force blocks of one or a few samples
    monkeypatch.setattr(conv, "CHUNK_BYTES", chunk_bytes)
    x, w, b, kw, rng = _random_case(seed)
    x = np.concatenate([x] * 3)                          # at least 3 samples
    z = conv.conv2d(x, w, b, **kw)
    dz = rng.standard_normal(z.shape)
    z_t, dx_t, dw_t, db_t = _torch_conv2d(x, w, b, kw, dz)
    dx, dw, db = conv.conv2d_backward(dz, x, w, **kw)
    for ours, ref in [(z, z_t), (dx, dx_t), (dw, dw_t), (db, db_t)]:
        assert_allclose(ours, ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("C, Fo, K, E, G, groups", [
    (4, 2, 3, 1, 2, 2),     # stride 1, few outputs: dx as a transposed convolution
    (2, 8, 3, 1, 1, 2),     # many outputs: dx by scattering the columns back
    (3, 3, 1, 1, 1, 1),     # padding wider than the kernel: scattering too
    (6, 6, (2, 3), (0, 2), (1, 2), 3),
])
def test_both_ways_of_computing_the_input_gradient_match_torch(C, Fo, K, E, G, groups):
    rng = np.random.default_rng(C * Fo)
    K = K if isinstance(K, tuple) else (K, K)
    x = rng.standard_normal((3, C, 7, 9))
    w = rng.standard_normal((Fo, C // groups, *K))
    b = rng.standard_normal(Fo)
    kw = dict(stride=1, padding=E, dilation=G, groups=groups)
    z = conv.conv2d(x, w, b, **kw)
    dz = rng.standard_normal(z.shape)
    z_t, dx_t, dw_t, _ = _torch_conv2d(x, w, b, kw, dz)
    dx, dw, _ = conv.conv2d_backward(dz, x, w, **kw)
    assert_allclose(z, z_t, rtol=1e-12, atol=1e-12)
    assert_allclose(dx, dx_t, rtol=1e-12, atol=1e-12)
    assert_allclose(dw, dw_t, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("method", conv.METHODS)
def test_conv2d_computes_float32_in_float32_and_matches_torch(method):
    x, w, b, kw, rng = _random_case(3)
    x, w, b = (a.astype(np.float32) for a in (x, w, b))
    z = conv.conv2d(x, w, b, method=method, **kw)
    dz = rng.standard_normal(z.shape).astype(np.float32)
    dx, dw, db = conv.conv2d_backward(dz, x, w, method=method, **kw)
    z_t, dx_t, dw_t, db_t = _torch_conv2d(x, w, b, kw, dz)
    for ours, ref in [(z, z_t), (dx, dx_t), (dw, dw_t), (db, db_t)]:
        assert ours.dtype == np.float32
        assert_allclose(ours, ref, rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("method", conv.METHODS)
@pytest.mark.parametrize("seed", range(12))
def test_conv1d_forward_and_gradients_match_torch(seed, method):
    rng = np.random.default_rng(100 + seed)
    groups = int(rng.choice([1, 2]))
    C, Fo, K = 2 * groups, 3 * groups, int(rng.integers(1, 5))
    S, E, G = int(rng.integers(1, 4)), int(rng.integers(0, 3)), int(rng.integers(1, 3))
    M = G * (K - 1) + 1 + int(rng.integers(0, 9))
    x, w, b = rng.standard_normal((2, C, M)), rng.standard_normal((Fo, C // groups, K)), rng.standard_normal(Fo)
    kw = dict(stride=S, padding=E, dilation=G, groups=groups)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    zt = F.conv1d(xt, wt, bt, **kw)
    dz = rng.standard_normal(tuple(zt.shape))
    zt.backward(torch.tensor(dz))
    z = conv.conv1d(x, w, b, method=method, **kw)
    dx, dw, db = conv.conv1d_backward(dz, x, w, method=method, **kw)
    assert_allclose(z, zt.detach().numpy(), rtol=1e-12, atol=1e-12)
    assert_allclose(dx, xt.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert_allclose(dw, wt.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert_allclose(db, bt.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("mode", ["full", "valid", "same"])
@pytest.mark.parametrize("shapes", [((7, 9), (3, 3)), ((6, 5), (2, 4)), ((5, 5), (5, 5)),
                                    ((8, 3), (1, 3)), ((4, 6), (4, 1))])
def test_convolve_and_correlate_match_scipy_in_2d(shapes, mode):
    rng = np.random.default_rng(sum(shapes[0]) * 10 + sum(shapes[1]))
    x, w = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    assert_allclose(conv.convolve(x, w, mode), scipy.signal.convolve2d(x, w, mode), atol=1e-13)
    assert_allclose(conv.correlate(x, w, mode), scipy.signal.correlate(x, w, mode), atol=1e-13)
    if mode != "same" or all(k % 2 for k in w.shape):
        # correlate2d agrees, except that it centres 'same' one position later for even K
        assert_allclose(conv.correlate(x, w, mode), scipy.signal.correlate2d(x, w, mode), atol=1e-13)


@pytest.mark.parametrize("mode", ["full", "valid", "same"])
@pytest.mark.parametrize("M, K", [(7, 3), (7, 4), (6, 2), (5, 5), (9, 1)])
def test_convolve_and_correlate_match_numpy_and_scipy_in_1d(M, K, mode):
    rng = np.random.default_rng(M * 10 + K)
    x, w = rng.standard_normal(M), rng.standard_normal(K)
    assert_allclose(conv.convolve(x, w, mode), np.convolve(x, w, mode), atol=1e-13)
    assert_allclose(conv.correlate(x, w, mode), scipy.signal.correlate(x, w, mode), atol=1e-13)


def test_the_notes_1d_example_by_hand():
    # (x * w)_j = sum_k w_k x_{j-k}, zero-based, everything outside the arrays is zero
    x, w = [1.0, 2.0, 3.0], [1.0, 0.0, -1.0]
    assert conv.convolve(x, w).tolist() == [1.0, 2.0, 2.0, -2.0, -3.0]
    assert conv.correlate(x, w).tolist() == [-2.0]           # 1*1 + 0*2 - 1*3
    # j = -2, ..., 2: w_2 x_0, w_1 x_0 + w_2 x_1, w_0 x_0 + w_2 x_2, w_0 x_1 + w_1 x_2, w_0 x_2
    assert conv.correlate(x, w, "full").tolist() == [-1.0, -2.0, -2.0, 2.0, 3.0]


@pytest.mark.parametrize("mode", ["full", "valid", "same"])
def test_correlation_is_convolution_with_the_flipped_kernel(mode):
    rng = np.random.default_rng(7)
    x, w = rng.standard_normal((9, 8)), rng.standard_normal((3, 4))
    assert_allclose(conv.correlate(x, w, mode), conv.convolve(x, conv.flip(w), mode), atol=1e-13)
    assert_allclose(conv.flip(w), np.rot90(w, 2))


def test_a_one_channel_layer_is_scipys_valid_correlation_and_flipped_convolution():
    rng = np.random.default_rng(8)
    x, w = rng.standard_normal((10, 12)), rng.standard_normal((3, 5))
    z = conv.conv2d(x[None, None], w[None, None])[0, 0]
    assert_allclose(z, scipy.signal.correlate2d(x, w, "valid"), atol=1e-13)
    assert_allclose(z, scipy.signal.convolve2d(x, np.rot90(w, 2), "valid"), atol=1e-13)


def test_sobel_changes_sign_under_the_flip_and_symmetric_kernels_do_not():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((12, 12))
    sobel = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], float)
    laplacian = np.array([[0, -1, 0], [-1, 4, -1], [0, -1, 0]], float)
    assert_allclose(conv.convolve(x, sobel, "valid"), -conv.correlate(x, sobel, "valid"), atol=1e-13)
    assert_allclose(conv.convolve(x, laplacian, "valid"), conv.correlate(x, laplacian, "valid"),
                    atol=1e-13)


arrays_1d = st.lists(st.integers(-9, 9), min_size=1, max_size=7).map(lambda v: np.array(v, float))
arrays_2d = st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(0, 2**31)).map(
    lambda t: np.random.default_rng(t[2]).integers(-5, 6, size=t[:2]).astype(float))


@settings(max_examples=60, deadline=None)
@given(arrays_1d, arrays_1d)
def test_true_convolution_commutes_in_full_mode_1d(a, b):
    assert np.array_equal(conv.convolve(a, b), conv.convolve(b, a))   # integers: exact


@settings(max_examples=60, deadline=None)
@given(arrays_2d, arrays_2d)
def test_true_convolution_commutes_in_full_mode_2d(a, b):
    assert np.array_equal(conv.convolve(a, b), conv.convolve(b, a))


@settings(max_examples=40, deadline=None)
@given(arrays_2d, arrays_2d, arrays_2d, st.integers(-3, 3), st.integers(-3, 3))
def test_convolution_and_correlation_are_linear(x, w, u, c1, c2):
    if u.shape != x.shape:
        u = np.resize(u, x.shape)
    for f in (conv.convolve, conv.correlate):
        mode = "full"
        lhs = f(c1 * x + c2 * u, w, mode)
        assert np.array_equal(lhs, c1 * f(x, w, mode) + c2 * f(u, w, mode))
        v = np.resize(u, w.shape)
        assert np.array_equal(f(x, c1 * w + c2 * v, mode), c1 * f(x, w, mode) + c2 * f(x, v, mode))


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 30), st.integers(1, 7), st.integers(1, 5), st.integers(0, 4), st.integers(1, 3))
def test_output_size_counts_the_positions_where_the_dilated_kernel_fits(M, K, S, E, G):
    span = G * (K - 1) + 1
    fits = [j for j in range(0, M + 2 * E) if j % S == 0 and j + span <= M + 2 * E]
    if not fits:
        with pytest.raises(ValueError, match="no output"):
            conv.output_size(M, K, S, E, G)
        return
    assert conv.output_size(M, K, S, E, G) == len(fits)
    z = F.conv1d(torch.zeros(1, 1, M), torch.zeros(1, 1, K), stride=S, padding=E, dilation=G)
    assert z.shape[-1] == len(fits)


def test_conv2d_output_shape_follows_the_formula_per_axis():
    x = np.zeros((2, 3, 11, 17))
    w = np.zeros((4, 3, 3, 5))
    z = conv.conv2d(x, w, stride=(2, 3), padding=(1, 2), dilation=(2, 1))
    assert z.shape == (2, 4, conv.output_size(11, 3, 2, 1, 2), conv.output_size(17, 5, 3, 2, 1))


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(x=np.zeros((1, 2, 5, 5)), w=np.zeros((1, 3, 3, 3))), ValueError, "F_in/groups"),
    (dict(x=np.zeros((1, 2, 5, 5), np.float32), w=np.zeros((1, 2, 3, 3))), TypeError, "same dtype"),
    (dict(x=np.zeros((1, 2, 5, 5)), w=np.zeros((1, 2, 7, 3))), ValueError, "no output"),
    (dict(x=np.zeros((1, 2, 5, 5)), w=np.zeros((1, 2, 3, 3)), stride=0), ValueError, "stride"),
    (dict(x=np.zeros((1, 2, 5, 5)), w=np.zeros((1, 2, 3, 3)), stride=1.5), TypeError, "stride"),
    (dict(x=np.zeros((1, 2, 5, 5)), w=np.zeros((1, 2, 3, 3)), padding=-1), ValueError, "padding"),
    (dict(x=np.zeros((1, 2, 5, 5)), w=np.zeros((1, 2, 3, 3)), dilation=(1, 2, 3)), ValueError, "dilation"),
    (dict(x=np.zeros((1, 3, 5, 5)), w=np.zeros((2, 1, 3, 3)), groups=3), ValueError, "groups"),
    (dict(x=np.zeros((1, 2, 5)), w=np.zeros((1, 2, 3, 3))), ValueError, "4-D"),
    (dict(x=np.full((1, 2, 5, 5), np.nan), w=np.zeros((1, 2, 3, 3))), ValueError, "finite"),
    (dict(x=np.zeros((1, 2, 5, 5)), w=np.zeros((1, 2, 3, 3)), b=np.zeros(2)), ValueError, "bias"),
    (dict(x=np.zeros((1, 2, 5, 5)), w=np.zeros((1, 2, 3, 3)), method="fft"), ValueError, "method"),
    (dict(x="image", w=np.zeros((1, 2, 3, 3))), TypeError, "numeric"),
])
def test_conv2d_rejects_bad_arguments_with_a_clear_message(kwargs, error, match):
    with pytest.raises(error, match=match):
        conv.conv2d(**kwargs)


def test_backward_rejects_a_gradient_of_the_wrong_shape():
    with pytest.raises(ValueError, match="output's shape"):
        conv.conv2d_backward(np.zeros((1, 1, 4, 4)), np.zeros((1, 2, 5, 5)), np.zeros((1, 2, 3, 3)))


@pytest.mark.parametrize("args, match", [
    ((np.zeros(5), np.zeros((2, 2))), "same number of dimensions"),
    ((np.zeros(3), np.zeros(4), "valid"), "fit inside"),
    ((np.zeros(3), np.zeros(2), "circular"), "mode"),
    ((np.zeros((2, 2, 2)), np.zeros((2, 2, 2))), "1-D or 2-D"),
])
def test_signal_functions_reject_bad_arguments(args, match):
    with pytest.raises(ValueError, match=match):
        conv.convolve(*args)
    with pytest.raises(ValueError, match=match):
        conv.correlate(*args)
