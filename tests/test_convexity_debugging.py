"""dlnotes.convexity and dlnotes.debugging: the composition counterexample, PSD Hessians of convex models,
permutation symmetry of an MLP (against torch), and the debugging checklist on real runs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dlnotes import convexity, curvature, debugging, gradcheck, training


def test_convex_of_convex_needs_a_nondecreasing_outer_function():
    c = convexity.composition_counterexample()
    assert c["decreasing_h_gap"] == pytest.approx(1 - math.exp(-1))
    assert c["decreasing_h_min_second"] == pytest.approx(-2.0, rel=1e-3)
    assert c["nondecreasing_h_gap"] < 0 and c["nondecreasing_h_min_second"] > 0


def test_convex_models_have_psd_hessians_on_real_data(data):
    X = np.hstack([data.X_train, np.ones((len(data.X_train), 1))])
    rng = np.random.default_rng(0)
    assert convexity.min_eigenvalue(curvature.least_squares_hessian(X)) > -1e-10
    for _ in range(3):
        w = rng.standard_normal(X.shape[1])
        assert convexity.min_eigenvalue(curvature.logistic_hessian(X, w)) > -1e-10
    W = 0.1 * rng.standard_normal((X.shape[1], 10))
    H = curvature.softmax_hessian(X[:300], W)
    assert convexity.min_eigenvalue(H) > -1e-10
    # singular: the same vector added to every column of W changes nothing
    v = np.repeat(rng.standard_normal(X.shape[1])[:, None], 10, axis=1).ravel()
    assert np.abs(H @ v).max() < 1e-10


def test_permuting_hidden_units_keeps_the_function_and_torch_agrees(data):
    X, y = data.X_train[:200], data.y_train[:200]
    m = training.MLP(64, 8, 10, activation="tanh", seed=0)
    perm = np.random.default_rng(1).permutation(8)
    p = convexity.permute_hidden_units(m, perm)
    np.testing.assert_allclose(p.scores(X), m.scores(X), rtol=1e-12, atol=1e-12)
    lin1, lin2 = torch.nn.Linear(64, 8).double(), torch.nn.Linear(8, 10).double()
    with torch.no_grad():
        lin1.weight.copy_(torch.tensor(p.W1.T))
        lin1.bias.copy_(torch.tensor(p.b1))
        lin2.weight.copy_(torch.tensor(p.W2.T))
        lin2.bias.copy_(torch.tensor(p.b2))
        ref = torch.nn.functional.cross_entropy(lin2(torch.tanh(lin1(torch.tensor(X)))), torch.tensor(y))
    assert m.loss(X, y) == pytest.approx(float(ref), rel=1e-12)
    with pytest.raises(ValueError, match="perm must be a permutation"):
        convexity.permute_hidden_units(m, [0, 0, 1, 2, 3, 4, 5, 6])


def test_midpoint_of_two_equivalent_trained_mlps_has_a_higher_loss(data):
    X, y = data.X_train[:300], data.y_train[:300]
    m = training.MLP(64, 8, 10, activation="tanh", seed=0)
    debugging.overfit_subset(m, X, y, samples=300, steps=150, lr=0.02)
    p = convexity.permute_hidden_units(m, np.roll(np.arange(8), 1))
    theta_a, f, _, _ = curvature.model_loss_and_gradient(m, X, y)
    theta_b = curvature.model_loss_and_gradient(p, X, y)[0]
    assert f(theta_a) == pytest.approx(f(theta_b), rel=1e-12)
    assert convexity.midpoint_gap(f, theta_a, theta_b) > 0.1


def test_the_gradient_check_passes_on_the_mlp_and_fails_on_a_broken_gradient(data):
    X, y = data.X_train[:30, :6], data.y_train[:30]
    m = training.MLP(6, 5, 10, activation="tanh", seed=0)
    theta, f, grad_f, _ = curvature.model_loss_and_gradient(m, X, y)
    assert gradcheck.check_gradient(f, grad_f, theta).max_relative_error < 1e-6
    assert gradcheck.check_gradient(f, lambda t: 2 * grad_f(t), theta).max_relative_error > 0.1


def test_initial_loss_is_close_to_log_c(data):
    loss, log_c = debugging.initial_loss(training.SoftmaxRegression(64, 10), data.X_train, data.y_train)
    assert log_c == pytest.approx(math.log(10)) and abs(loss - log_c) < 0.05


def test_a_tiny_subset_is_memorised(data):
    losses = debugging.overfit_subset(training.MLP(64, 32, 10, seed=0), data.X_train, data.y_train,
                                      samples=20, steps=200, lr=0.01)
    assert losses[0] > 2.0 and losses[-1] < 1e-2


def test_first_non_finite_finds_where_a_too_high_rate_overflows(data):
    X, y = data.X_train, data.y_train
    bad = debugging.first_non_finite(training.MLP(64, 32, 10, seed=0), X, y, lr=50.0, steps=300)
    assert bad.step is not None and bad.where in ("scores", "loss", "z1", "a1") and bad.max_abs
    ok = debugging.first_non_finite(training.MLP(64, 32, 10, seed=0), X, y, lr=0.1, steps=20)
    assert ok.step is None
    with pytest.raises(TypeError, match="MLP"):
        debugging.first_non_finite(training.SoftmaxRegression(64, 10), X, y, lr=0.1, steps=1)
