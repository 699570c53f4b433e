"""dlnotes.curvature against torch.autograd.functional.hessian / hvp and SymPy."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
import torch

from dlnotes import curvature, landscapes, training


def test_finite_difference_and_gradient_hessians_match_sympy_on_a_two_variable_function():
    a, b = sp.symbols("x1 x2")
    expr = a ** 3 - 3 * a + b ** 2 + a * b
    H_sym = sp.hessian(expr, (a, b))
    f = sp.lambdify([(a, b)], expr)
    g = sp.lambdify([(a, b)], [sp.diff(expr, a), sp.diff(expr, b)])
    x = np.array([0.7, -0.4])
    ref = np.array(H_sym.subs({a: 0.7, b: -0.4}), dtype=float)
    np.testing.assert_allclose(curvature.finite_difference_hessian(f, x), ref, atol=1e-6)
    np.testing.assert_allclose(curvature.hessian_from_gradient(lambda p: np.array(g(p)), x), ref, atol=1e-8)


def test_rosenbrock_hessians_three_ways_match_torch():
    f = landscapes.Rosenbrock()
    x = np.array([-0.3, 0.8])
    ref = torch.autograd.functional.hessian(
        lambda t: (1 - t[0]) ** 2 + 100 * (t[1] - t[0] ** 2) ** 2, torch.tensor(x)).numpy()
    np.testing.assert_allclose(f.hessian(x), ref, rtol=1e-12)
    np.testing.assert_allclose(curvature.finite_difference_hessian(f, x), ref, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(curvature.hessian_from_gradient(f.grad, x), ref, rtol=1e-7, atol=1e-6)
    v = np.array([0.3, -1.0])
    _, hv = torch.autograd.functional.hvp(lambda t: (1 - t[0]) ** 2 + 100 * (t[1] - t[0] ** 2) ** 2,
                                          torch.tensor(x), torch.tensor(v))
    np.testing.assert_allclose(curvature.hvp(f.grad, x, v), hv.numpy(), rtol=1e-7)


def test_model_hessians_match_torch(data):
    X = np.hstack([data.X_train[:120, :6], np.ones((120, 1))])
    y = data.y_train[:120]
    rng = np.random.default_rng(0)
    Xt = torch.tensor(X)
    # least squares
    t = rng.standard_normal(120)
    ls = lambda w: ((Xt @ w - torch.tensor(t)) ** 2).mean()  # noqa: E731
    np.testing.assert_allclose(curvature.least_squares_hessian(X),
                               torch.autograd.functional.hessian(ls, torch.zeros(7, dtype=torch.float64)).numpy(),
                               rtol=1e-10, atol=1e-12)
    # logistic
    yb = torch.tensor((y < 5).astype(float))
    w = rng.standard_normal(7) * 0.3
    lg = lambda w_: torch.nn.functional.binary_cross_entropy_with_logits(Xt @ w_, yb)  # noqa: E731
    np.testing.assert_allclose(curvature.logistic_hessian(X, w),
                               torch.autograd.functional.hessian(lg, torch.tensor(w)).numpy(),
                               rtol=1e-9, atol=1e-12)
    # softmax, W of shape (7, 10) flattened row-major
    W = rng.standard_normal((7, 10)) * 0.2
    yt = torch.tensor(y)
    sm = lambda wf: torch.nn.functional.cross_entropy(Xt @ wf.reshape(7, 10), yt)  # noqa: E731
    ref = torch.autograd.functional.hessian(sm, torch.tensor(W.ravel())).numpy()
    np.testing.assert_allclose(curvature.softmax_hessian(X, W), ref, rtol=1e-9, atol=1e-12)


def test_mlp_hessian_from_backprop_hvps_matches_torch(data):
    X, y = data.X_train[:40, :5], data.y_train[:40] % 3
    mlp = training.MLP(5, 4, 3, activation="tanh", seed=1)
    theta, f, grad_f, _ = curvature.model_loss_and_gradient(mlp, X, y)
    H = curvature.hessian_from_gradient(grad_f, theta, h=1e-5)
    Xt, yt = torch.tensor(X), torch.tensor(y)

    def loss(th):
        W1, b1 = th[:20].reshape(5, 4), th[20:24]
        W2, b2 = th[24:36].reshape(4, 3), th[36:39]
        return torch.nn.functional.cross_entropy(torch.tanh(Xt @ W1 + b1) @ W2 + b2, yt)
    ref = torch.autograd.functional.hessian(loss, torch.tensor(theta)).numpy()
    assert f(theta) == pytest.approx(float(loss(torch.tensor(theta))), rel=1e-12)
    np.testing.assert_allclose(H, ref, atol=1e-7)


def test_curvature_along_lies_between_the_extreme_eigenvalues():
    rng = np.random.default_rng(2)
    M = rng.standard_normal((5, 5))
    H = M + M.T
    lam = np.linalg.eigvalsh(H)
    for v in rng.standard_normal((20, 5)):
        assert lam[0] - 1e-12 <= curvature.curvature_along(H, v) <= lam[-1] + 1e-12


def test_mixed_spectra_become_the_rule_as_the_dimension_grows():
    fr = [curvature.mixed_spectrum_fraction(n, samples=2000) for n in (1, 2, 4, 8)]
    assert fr[0] == 0.0 and all(a < b for a, b in zip(fr, fr[1:])) and fr[-1] > 0.99


def test_bad_input():
    with pytest.raises(ValueError, match="H must be symmetric"):
        curvature.curvature_along(np.array([[1.0, 2.0], [0.0, 1.0]]), np.ones(2))
    with pytest.raises(ValueError, match="zero vector"):
        curvature.curvature_along(np.eye(2), np.zeros(2))
    with pytest.raises(ValueError, match="v must have the shape"):
        curvature.hvp(lambda x: x, np.ones(2), np.ones(3))
    with pytest.raises(ValueError, match="W has 3 rows"):
        curvature.softmax_hessian(np.ones((4, 2)), np.ones((3, 2)))


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_exact_mlp_hessian_and_hvp_match_torch_autograd(activation, dtype):
    from dlnotes import training
    rng = np.random.default_rng(3)
    X = rng.standard_normal((30, 4))
    y = rng.integers(0, 3, 30)
    mlp = training.MLP(4, 5, 3, activation=activation, seed=2, dtype=dtype)
    phi = torch.tanh if activation == "tanh" else torch.relu
    p = [torch.tensor(np.asarray(w, dtype=float)) for w in mlp.params]
    sizes = [w.numel() for w in p]

    def loss(t):
        W1, b1, W2, b2 = (c.reshape(w.shape) for c, w in zip(torch.split(t, sizes), p))
        # the model sees X in its own dtype; the Hessian is computed in float64 from there
        Xm = torch.tensor(X.astype(dtype).astype(float))
        return torch.nn.functional.cross_entropy(phi(Xm @ W1 + b1) @ W2 + b2, torch.tensor(y))

    theta = torch.cat([w.ravel() for w in p])
    H_ref = torch.autograd.functional.hessian(loss, theta).numpy()
    H = curvature.mlp_hessian(mlp, X, y)
    assert H.shape == (theta.numel(), theta.numel())
    np.testing.assert_allclose(H, H_ref, atol=1e-13)
    v = rng.standard_normal(theta.numel())
    hv_ref = torch.autograd.functional.hvp(loss, theta, torch.tensor(v))[1].numpy()
    np.testing.assert_allclose(curvature.mlp_hvp(mlp, X, y, v), hv_ref, atol=1e-13)


def test_exact_mlp_hvp_rejects_bad_input():
    from dlnotes import training
    mlp = training.MLP(4, 5, 3, seed=0)
    X, y = np.zeros((2, 4)), np.array([0, 1])
    with pytest.raises(ValueError, match="v must have"):
        curvature.mlp_hvp(mlp, X, y, np.zeros(3))
    with pytest.raises(TypeError, match="model"):
        curvature.mlp_hvp(object(), X, y, np.zeros(3))
    with pytest.raises(ValueError):
        curvature.mlp_hvp(mlp, X, np.array([0, 7]), np.zeros(43))
