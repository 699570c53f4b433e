"""dlnotes.pooling against torch.nn.functional.max_pool2d / avg_pool2d and autograd, with the
tie convention of max-pooling's gradient checked on inputs full of ties."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from numpy.testing import assert_allclose

from dlnotes import pooling


def _geometry(seed):
    rng = np.random.default_rng(seed)
    K = tuple(int(k) for k in rng.integers(1, 4, 2))
    S = tuple(int(s) for s in rng.integers(1, 4, 2))
    E = tuple(int(rng.integers(0, k // 2 + 1)) for k in K)
    D = tuple(int(d) for d in rng.integers(1, 3, 2))
    return K, S, E, D, rng


@pytest.mark.parametrize("seed", range(30))
def test_max_pool_values_indices_and_gradient_match_torch_on_inputs_with_ties(seed):
    K, S, E, D, rng = _geometry(seed)
    x = rng.integers(0, 3, size=(2, 3, 7, 8)).astype(float)     # many ties
    xt = torch.tensor(x, requires_grad=True)
    try:
        zt, it = F.max_pool2d(xt, K, S, E, D, return_indices=True)
    except RuntimeError:
        pytest.skip("torch rejects this geometry")
    dz = rng.standard_normal(tuple(zt.shape))
    zt.backward(torch.tensor(dz))
    z, idx = pooling.max_pool2d(x, K, S, E, D, return_indices=True)
    assert np.array_equal(z, zt.detach().numpy())
    assert np.array_equal(idx, it.numpy())                 # the same winner in every tie
    assert_allclose(pooling.max_pool2d_backward(dz, idx, x.shape), xt.grad.numpy(), atol=1e-14)
    assert_allclose(pooling.max_pool2d_backward(dz, it.numpy(), x.shape), xt.grad.numpy(), atol=1e-14)


def test_a_tie_sends_the_whole_gradient_to_the_first_maximum_in_row_major_order():
    # window [[1, 3], [3, 0]]: the 3 at (0, 1) comes before the 3 at (1, 0)
    x = np.array([[[[1.0, 3.0], [3.0, 0.0]]]])
    z, idx = pooling.max_pool2d(x, 2, return_indices=True)
    dx = pooling.max_pool2d_backward(np.ones_like(z), idx, x.shape)
    xt = torch.tensor(x, requires_grad=True)
    F.max_pool2d(xt, 2).sum().backward()
    assert dx.tolist() == [[[[0.0, 1.0], [0.0, 0.0]]]] == xt.grad.tolist()
    # a window of zeros (as after a ReLU): the top-left entry gets it all, it is not shared
    x0 = np.zeros((1, 1, 2, 2))
    z, idx = pooling.max_pool2d(x0, 2, return_indices=True)
    assert pooling.max_pool2d_backward(np.full_like(z, 4.0), idx, x0.shape).tolist() == \
        [[[[4.0, 0.0], [0.0, 0.0]]]]


def test_overlapping_windows_add_their_gradients_on_a_shared_winner():
    x = np.array([[[[0.0, 9.0, 0.0, 0.0]]]])
    z, idx = pooling.max_pool2d(x, (1, 2), stride=1, return_indices=True)
    assert z.tolist() == [[[[9.0, 9.0, 0.0]]]]
    dx = pooling.max_pool2d_backward(np.array([[[[1.0, 2.0, 5.0]]]]), idx, x.shape)
    assert dx.tolist() == [[[[0.0, 3.0, 5.0, 0.0]]]]


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("seed", range(20))
def test_avg_pool_and_its_gradient_match_torch(seed, count_include_pad):
    K, S, E, _, rng = _geometry(seed)
    x = rng.standard_normal((2, 3, 7, 8))
    xt = torch.tensor(x, requires_grad=True)
    zt = F.avg_pool2d(xt, K, S, E, count_include_pad=count_include_pad)
    dz = rng.standard_normal(tuple(zt.shape))
    zt.backward(torch.tensor(dz))
    z = pooling.avg_pool2d(x, K, S, E, count_include_pad)
    assert_allclose(z, zt.detach().numpy(), rtol=1e-13, atol=1e-14)
    assert_allclose(pooling.avg_pool2d_backward(dz, x.shape, K, S, E, count_include_pad),
                    xt.grad.numpy(), rtol=1e-13, atol=1e-14)


def test_pooling_keeps_float32():
    x = np.random.default_rng(0).standard_normal((1, 2, 6, 6)).astype(np.float32)
    z, idx = pooling.max_pool2d(x, 2, return_indices=True)
    assert z.dtype == np.float32 and pooling.avg_pool2d(x, 3, 1).dtype == np.float32
    assert pooling.max_pool2d_backward(z, idx, x.shape).dtype == np.float32
    assert_allclose(pooling.avg_pool2d(x, 3, 1), F.avg_pool2d(torch.tensor(x), 3, 1).numpy(), rtol=1e-6)


def test_the_default_stride_is_the_window():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    assert pooling.max_pool2d(x, 2).tolist() == [[[[5.0, 7.0], [13.0, 15.0]]]]
    assert pooling.avg_pool2d(x, 2).tolist() == [[[[2.5, 4.5], [10.5, 12.5]]]]


@pytest.mark.parametrize("call, match", [
    (lambda: pooling.max_pool2d(np.zeros((1, 1, 5, 5)), 2, padding=2), "at most half"),
    (lambda: pooling.avg_pool2d(np.zeros((1, 1, 5, 5)), 3, padding=2), "at most half"),
    (lambda: pooling.max_pool2d(np.zeros((1, 5, 5)), 2), "4-D"),
    (lambda: pooling.max_pool2d(np.zeros((1, 1, 5, 5)), 0), "kernel_size"),
    (lambda: pooling.max_pool2d(np.zeros((1, 1, 2, 2)), 3), "no output"),
    (lambda: pooling.max_pool2d_backward(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 2, 2), int) + 99,
                                         (1, 1, 4, 4)), "indices"),
    (lambda: pooling.avg_pool2d_backward(np.zeros((1, 1, 3, 3)), (1, 1, 4, 4), 2), "output's shape"),
])
def test_pooling_rejects_bad_arguments(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
