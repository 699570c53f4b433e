"""dlnotes.activations against torch: values and autograd gradients, float32 and float64, extreme inputs."""

from __future__ import annotations

import mpmath as mp
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlnotes import activations as act

DTYPES = {np.float32: torch.float32, np.float64: torch.float64}
# (name, our forward, our backward, torch function)
CASES = [
    ("sigmoid", act.sigmoid, act.sigmoid_backward, torch.sigmoid),
    ("tanh", act.tanh, act.tanh_backward, torch.tanh),
    ("relu", act.relu, act.relu_backward, torch.relu),
    ("leaky_relu", act.leaky_relu, act.leaky_relu_backward, F.leaky_relu),
    ("leaky_relu_0.1", lambda z: act.leaky_relu(z, 0.1),
     lambda da, z: act.leaky_relu_backward(da, z, 0.1), lambda t: F.leaky_relu(t, 0.1)),
    ("elu", act.elu, act.elu_backward, F.elu),
    ("elu_0.5", lambda z: act.elu(z, 0.5), lambda da, z: act.elu_backward(da, z, 0.5),
     lambda t: F.elu(t, alpha=0.5)),
    ("gelu", act.gelu, act.gelu_backward, F.gelu),
    ("gelu_tanh", lambda z: act.gelu(z, "tanh"), lambda da, z: act.gelu_backward(da, z, "tanh"),
     lambda t: F.gelu(t, approximate="tanh")),
]
IDS = [c[0] for c in CASES]
TOL64 = dict(rtol=1e-13, atol=1e-300)
EPS32 = float(np.finfo(np.float32).eps)
EPS64 = float(np.finfo(np.float64).eps)


def _error_bound(truth, scale, eps):
    """What floating point can promise: a few ulps of the result plus a few ulps of the
    inputs' scale (1 - tanh^2 z near |z| = 5 loses most relative accuracy to cancellation,
    in torch as in ours; the bound is checked against torch's own results too)."""
    return 8 * eps * (np.abs(truth) + np.abs(scale)) + 1e-300


def _inputs(dtype):
    rng = np.random.default_rng(0)
    big = np.finfo(dtype).max / 4
    special = [0.0, 1e-8, -1e-8, 1e-30, -1e-30, 0.5, -0.5, 5.0, -5.0, 20.0, -20.0, 40.0, -40.0,
               100.0, -100.0, 1e4, -1e4, 1e20, -1e20, big, -big]
    return np.concatenate([3.0 * rng.standard_normal(500), special]).astype(dtype)


def _torch_value_and_grad(fn, z, da):
    t = torch.tensor(z, requires_grad=True)
    out = fn(t)
    out.backward(torch.tensor(da))
    return out.detach().numpy(), t.grad.numpy()


def _mp_reference(name, z):
    """phi(z) and phi'(z) in 40-digit arithmetic (mpmath), rounded to float64: the truth."""
    mp.mp.dps = 40
    slope = {"leaky_relu": 0.01, "leaky_relu_0.1": 0.1}.get(name)
    alpha = {"elu": 1.0, "elu_0.5": 0.5}.get(name)
    out_a, out_d = [], []
    for zi in z.astype(np.float64):
        x = mp.mpf(float(zi))
        if name == "sigmoid":
            a = 1 / (1 + mp.exp(-x)); d = a * (1 - a)
        elif name == "tanh":
            a = mp.tanh(x); d = mp.sech(x) ** 2
        elif name == "relu":
            a = max(x, 0); d = mp.mpf(1 if x > 0 else 0)
        elif slope is not None:
            a = x if x > 0 else slope * x; d = mp.mpf(1 if x > 0 else slope)
        elif alpha is not None:
            a = x if x > 0 else alpha * mp.expm1(x); d = mp.mpf(1) if x > 0 else alpha * mp.exp(x)
        elif name == "gelu" and abs(x) > 1e6:      # mpmath's ncdf overflows out there
            a = x if x > 0 else mp.mpf(0); d = mp.mpf(1 if x > 0 else 0)
        elif name == "gelu":
            cdf = mp.ncdf(x); a = x * cdf; d = cdf + x * mp.npdf(x)
        elif name == "gelu_tanh":
            k = mp.sqrt(2 / mp.pi)
            u = k * (x + mp.mpf("0.044715") * x ** 3)
            a = x * (1 + mp.tanh(u)) / 2
            d = (1 + mp.tanh(u)) / 2 + x / 2 * mp.sech(u) ** 2 * k * (1 + 3 * mp.mpf("0.044715") * x ** 2)
        out_a.append(float(a)); out_d.append(float(d))
    return np.array(out_a), np.array(out_d)


# torch's tanh-form GELU computes 0.5 z (1 + tanh u): for z << 0 the sum cancels and its
# result (and gradient) is off by more than the bound; there only our result is checked
TORCH_CANCELS = {"gelu_tanh"}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, fwd, bwd, ref", CASES, ids=IDS)
def test_forward_and_backward_match_torch_autograd(name, fwd, bwd, ref, dtype):
    z = _inputs(dtype)
    da = np.random.default_rng(1).standard_normal(z.shape).astype(dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        a, dz = fwd(z), bwd(da, z)
    assert a.dtype == dtype and dz.dtype == dtype
    assert np.all(np.isfinite(a)) and np.all(np.isfinite(dz))
    a_torch, dz_torch = _torch_value_and_grad(ref, z, da)
    # torch is finite too, except the tanh form of GELU's gradient: 0.044715 z^3 overflows
    # for huge |z| and torch returns NaN there, where the true derivative is 0 or 1
    assert np.all(np.isfinite(a_torch))
    assert np.all(np.isfinite(dz_torch)) or name == "gelu_tanh"
    a_true, d_true = _mp_reference(name, z)
    eps = float(np.finfo(dtype).eps)
    z64, da64 = z.astype(np.float64), da.astype(np.float64)
    for ours, theirs, truth, scale in ((a, a_torch, a_true, np.minimum(np.abs(z64), 1.0)),
                                       (dz, dz_torch, d_true * da64, da64)):
        bound = _error_bound(truth, scale, eps)
        assert np.all(np.abs(ours - truth) <= bound)
        with np.errstate(invalid="ignore"):
            torch_ok = np.abs(theirs - truth) <= bound
        assert torch_ok.all() or name in TORCH_CANCELS
        # so ours agrees with torch wherever torch is accurate (everywhere but a GELU tail)
        assert np.all(np.abs(ours - theirs)[torch_ok] <= 2 * bound[torch_ok])
        assert torch_ok.mean() > 0.9


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu", "identity"])
def test_registry_kernels_match_the_public_functions_and_torch_names(name):
    z = _inputs(np.float64)
    da = np.random.default_rng(2).standard_normal(z.shape)
    a = act.ACTIVATIONS[name]
    if name == "identity":
        np.testing.assert_array_equal(a.forward(z), z)
        np.testing.assert_array_equal(a.backward(da, z), da)
        return
    fwd = getattr(act, name)
    bwd = getattr(act, name + "_backward")
    np.testing.assert_array_equal(a.forward(z), fwd(z))
    np.testing.assert_array_equal(a.backward(da, z), bwd(da, z))


def test_derivatives_at_the_kinks_follow_torch():
    z = np.array([0.0])
    one = np.array([1.0])
    assert act.relu_backward(one, z)[0] == 0.0
    assert act.leaky_relu_backward(one, z, 0.2)[0] == pytest.approx(0.2)
    assert act.elu_backward(one, z)[0] == 1.0
    _, g = _torch_value_and_grad(lambda t: F.leaky_relu(t, 0.2), z, one)
    assert g[0] == pytest.approx(0.2)


def test_sigmoid_is_accurate_on_its_lower_tail_where_one_minus_e_fails():
    z = np.array([-50.0, -300.0, -700.0])
    np.testing.assert_allclose(act.sigmoid(z), np.exp(z) / (1 + np.exp(z)), rtol=1e-15)
    assert np.all(act.sigmoid(z) > 0)


def test_leaky_relu_with_zero_slope_is_relu_and_derivatives_are_finite_differences():
    z = np.linspace(-3, 3, 61) + 0.013          # avoid the kink
    np.testing.assert_array_equal(act.leaky_relu(z, 0.0), act.relu(z))
    h = 1e-6
    one = np.ones_like(z)
    for fwd, bwd in [(act.sigmoid, act.sigmoid_backward), (act.tanh, act.tanh_backward),
                     (act.elu, act.elu_backward), (act.gelu, act.gelu_backward)]:
        fd = (fwd(z + h) - fwd(z - h)) / (2 * h)
        np.testing.assert_allclose(bwd(one, z), fd, rtol=1e-7, atol=1e-9)


# ------------------------------------------------------------------ maxout

def _torch_maxout(x, W, b):
    return torch.stack([x @ W[p] + b[p] for p in range(W.shape[0])]).amax(dim=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("k", [1, 2, 4])
def test_maxout_forward_and_backward_match_torch_autograd(k, dtype):
    rng = np.random.default_rng(k)
    x = rng.standard_normal((7, 5)).astype(dtype)
    W = rng.standard_normal((k, 5, 3)).astype(dtype)
    b = rng.standard_normal((k, 3)).astype(dtype)
    da = rng.standard_normal((7, 3)).astype(dtype)
    a, piece = act.maxout(x, W, b)
    dx, dW, db = act.maxout_backward(da, x, W, b, piece)
    tx, tW, tb = (torch.tensor(v, requires_grad=True) for v in (x, W, b))
    ta = _torch_maxout(tx, tW, tb)
    ta.backward(torch.tensor(da))
    tol = TOL64 if dtype == np.float64 else dict(rtol=1e-5, atol=1e-6)
    assert a.dtype == dtype and dx.dtype == dtype and dW.dtype == dtype
    np.testing.assert_allclose(a, ta.detach().numpy(), **tol)
    for ours, ref in ((dx, tx), (dW, tW), (db, tb)):
        np.testing.assert_allclose(ours, ref.grad.numpy(), **tol)


def test_maxout_contains_relu_and_leaky_relu():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((50, 4))
    W1, b1 = rng.standard_normal((4, 6)), rng.standard_normal(6)
    z = x @ W1 + b1
    relu_like, _ = act.maxout(x, np.stack([W1, 0 * W1]), np.stack([b1, 0 * b1]))
    leaky_like, _ = act.maxout(x, np.stack([W1, 0.1 * W1]), np.stack([b1, 0.1 * b1]))
    np.testing.assert_allclose(relu_like, act.relu(z), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(leaky_like, act.leaky_relu(z, 0.1), rtol=1e-14, atol=1e-15)


def test_maxout_rejects_bad_shapes():
    x, W, b = np.ones((3, 4)), np.ones((2, 4, 5)), np.ones((2, 5))
    with pytest.raises(ValueError, match="W must have shape"):
        act.maxout(x, np.ones((4, 5)), b)
    with pytest.raises(ValueError, match="x must have shape"):
        act.maxout(np.ones((3, 3)), W, b)
    with pytest.raises(ValueError, match="b must have shape"):
        act.maxout(x, W, np.ones(5))
    a, piece = act.maxout(x, W, b)
    with pytest.raises(ValueError, match="piece"):
        act.maxout_backward(np.ones((3, 5)), x, W, b, piece + 5)
    with pytest.raises(ValueError, match="da must have shape"):
        act.maxout_backward(np.ones((3, 4)), x, W, b, piece)


# ------------------------------------------------------------------ dead units and bad input

def test_dead_units_are_the_columns_that_are_zero_on_every_input():
    a = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 2.0]])
    np.testing.assert_array_equal(act.dead_units(a), [True, False, False])
    with pytest.raises(ValueError, match="shape"):
        act.dead_units(np.zeros(3))


@pytest.mark.parametrize("bad, err, match", [
    ([1.0, np.nan], ValueError, "finite"),
    ([np.inf], ValueError, "finite"),
    ("1.0", TypeError, "numeric"),
    ([True, False], TypeError, "real numeric"),
    ([[1.0], [1.0, 2.0]], TypeError, "numeric"),
])
def test_bad_inputs_raise_clear_errors(bad, err, match):
    with pytest.raises(err, match=match):
        act.sigmoid(bad)


def test_bad_parameters_raise_clear_errors():
    with pytest.raises(ValueError, match="negative_slope"):
        act.leaky_relu([1.0], 1.5)
    with pytest.raises(ValueError, match="approximate"):
        act.gelu([1.0], "erf")
    with pytest.raises(ValueError, match="alpha"):
        act.elu([1.0], -1.0)
    with pytest.raises(ValueError, match="shape"):
        act.relu_backward(np.ones(3), np.ones(4))
    with pytest.raises(ValueError, match="activation must be one of"):
        act.get("swish")
    with pytest.raises(ValueError, match="only applies"):
        act.get("relu", 0.1)


def test_integers_become_float64():
    assert act.relu([1, -2]).dtype == np.float64
