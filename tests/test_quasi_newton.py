"""dlnotes.quasi_newton: the BFGS updates (secant condition, inverse pair, SymPy), L-BFGS's two loops
against the dense product, runs against scipy BFGS / L-BFGS-B and torch.optim.LBFGS, properties, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from dlnotes import landscapes, quasi_newton as qn


def _spd(rng, n):
    M = rng.standard_normal((n, n))
    return M @ M.T / n + 0.2 * np.eye(n)


# ------------------------------------------------------------------ the updates

@pytest.mark.parametrize("seed", range(5))
def test_bfgs_updates_of_b_and_its_inverse_are_inverses_and_satisfy_the_secant_condition(seed):
    rng = np.random.default_rng(seed)
    n = 6
    B = _spd(rng, n)
    B_inv = np.linalg.inv(B)
    A = _spd(rng, n)
    for _ in range(10):
        dx = rng.standard_normal(n)
        dg = A @ dx
        B = qn.bfgs_update(B, dx, dg)
        B_inv = qn.bfgs_inverse_update(B_inv, dx, dg)
        np.testing.assert_allclose(B @ dx, dg, rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(B_inv @ dg, dx, rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(B @ B_inv, np.eye(n), atol=1e-8)


def test_the_inverse_update_equals_the_product_form_of_the_textbook():
    rng = np.random.default_rng(1)
    Bi, dx, dg = _spd(rng, 4), rng.standard_normal(4), rng.standard_normal(4)
    if dg @ dx < 0:
        dg = -dg
    r = 1 / (dg @ dx)
    ref = (np.eye(4) - r * np.outer(dx, dg)) @ Bi @ (np.eye(4) - r * np.outer(dg, dx)) + r * np.outer(dx, dx)
    np.testing.assert_allclose(qn.bfgs_inverse_update(Bi, dx, dg), ref, rtol=1e-12, atol=1e-12)


def test_sympy_checks_every_identity_and_catches_the_misprints():
    assert qn.symbolic_checks(2) == {"secant": True, "inverse secant": True, "inverse": True,
                                     "expanded inverse": True, "update without denominator": False,
                                     "inverse with swapped factors": False}


def test_lbfgs_two_loop_equals_the_dense_product_of_its_updates():
    rng = np.random.default_rng(0)
    for n, mem in ((5, 3), (40, 10), (100, 20)):
        A = _spd(rng, n)
        pairs = [(dx, A @ dx) for dx in rng.standard_normal((mem, n))]
        g = rng.standard_normal(n)
        for scale in (None, 0.3):
            two = qn.lbfgs_two_loop(g, pairs, scale)
            dense = qn.lbfgs_dense_inverse(pairs, n, scale) @ g
            assert np.abs(two - dense).max() <= 1e-12 * np.abs(dense).max()
    assert np.array_equal(qn.lbfgs_two_loop(g, []), g)


# ------------------------------------------------------------------ properties

vec3 = arrays(np.float64, 3, elements=st.floats(-10, 10))


@settings(max_examples=60, deadline=None)
@given(dx=vec3, dg=vec3, diag=arrays(np.float64, 3, elements=st.floats(0.1, 10)))
def test_secant_condition_and_positive_definiteness_hold_whenever_the_curvature_is_positive(dx, dg, diag):
    c = float(dg @ dx)
    if c <= 0:
        with pytest.raises(ValueError, match="curvature"):
            qn.bfgs_update(np.diag(diag), dx, dg)
        return
    if c < 1e-3 * (1 + np.linalg.norm(dx) * np.linalg.norm(dg)):
        return  # nearly orthogonal pairs: the update is legal but too ill-conditioned to test to 1e-7
    B = qn.bfgs_update(np.diag(diag), dx, dg)
    Bi = qn.bfgs_inverse_update(np.diag(1 / diag), dx, dg)
    scale = np.linalg.norm(dg) + 1e-12
    assert np.linalg.norm(B @ dx - dg) <= 1e-7 * scale * (1 + np.abs(B).max())
    assert np.linalg.norm(Bi @ dg - dx) <= 1e-7 * (np.linalg.norm(dx) + 1e-12) * (1 + np.abs(Bi).max())
    assert np.linalg.eigvalsh(B).min() > 0 and np.linalg.eigvalsh(Bi).min() > 0


def test_a_pair_with_nonpositive_curvature_is_rejected_or_skipped():
    B = np.eye(2)
    dx, dg = np.array([1.0, 0.0]), np.array([-1.0, 0.0])
    for update in (qn.bfgs_update, qn.bfgs_inverse_update):
        with pytest.raises(ValueError, match="curvature dg\\^T dx = -1 <= 0"):
            update(B, dx, dg)
        assert np.array_equal(update(B, dx, dg, on_nonpositive="skip"), B)
    with pytest.raises(ValueError, match="on_nonpositive"):
        qn.bfgs_update(B, dx, dg, on_nonpositive="damp")
    with pytest.raises(ValueError, match="pairs\\[0\\]"):
        qn.lbfgs_two_loop(np.ones(2), [(dx, dg)])


def test_bad_matrices_and_pairs_name_the_argument():
    with pytest.raises(ValueError, match="B must be square"):
        qn.bfgs_update(np.ones((2, 3)), np.ones(2), np.ones(2))
    with pytest.raises(ValueError, match="B_inv must be symmetric"):
        qn.bfgs_inverse_update(np.array([[1.0, 1.0], [0.0, 1.0]]), np.ones(2), np.ones(2))
    with pytest.raises(ValueError, match="dx and dg must have 2 entries"):
        qn.bfgs_update(np.eye(2), np.ones(3), np.ones(3))
    with pytest.raises(ValueError, match="dg must be finite"):
        qn.bfgs_update(np.eye(2), np.ones(2), np.array([1.0, np.inf]))
    with pytest.raises(ValueError, match="memory"):
        qn.lbfgs(lambda x: 0.0, lambda x: x, np.ones(2), memory=0)


# ------------------------------------------------------------------ runs against scipy and torch

def test_bfgs_and_lbfgs_find_rosenbrocks_minimum_like_scipy_and_torch():
    f = landscapes.Rosenbrock()
    x0 = np.array([-1.2, 1.0])
    ours = [qn.bfgs(f, f.grad, x0, gtol=1e-8), qn.lbfgs(f, f.grad, x0, memory=10, gtol=1e-8)]
    for r in ours:
        assert r.converged and r.skipped == 0
        np.testing.assert_allclose(r.xs[-1], 1.0, atol=1e-7)
    for method in ("BFGS", "L-BFGS-B"):
        ref = scipy.optimize.minimize(f, x0, jac=f.grad, method=method, options={"gtol": 1e-8})
        np.testing.assert_allclose(ref.x, 1.0, atol=1e-5)
        assert ours[0].iterations < 3 * ref.nit
    w = torch.tensor(x0, requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=500, line_search_fn="strong_wolfe", tolerance_grad=1e-10,
                            tolerance_change=1e-15)

    def closure():
        opt.zero_grad()
        loss = (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2
        loss.backward()
        return loss
    opt.step(closure)
    np.testing.assert_allclose(w.detach().numpy(), ours[1].xs[-1], atol=1e-6)


def test_logistic_regression_gradient_and_hessian_match_torch(data):
    X = np.hstack([data.X_train[:200], np.ones((200, 1))])
    y = np.where(data.y_train[:200] < 5, -1.0, 1.0)
    obj = qn.LogisticRegression(X, y, weight_decay=1e-2)
    w = np.random.default_rng(0).standard_normal(X.shape[1]) * 0.1
    Xt, yt = torch.tensor(X), torch.tensor((y + 1) / 2)

    def loss(wt):
        return (torch.nn.functional.binary_cross_entropy_with_logits(Xt @ wt, yt)
                + 0.5 * 1e-2 * (wt * wt).sum())
    wt = torch.tensor(w)
    assert obj(w) == pytest.approx(float(loss(wt)), rel=1e-12)
    np.testing.assert_allclose(obj.grad(w), torch.func.grad(loss)(wt).numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(obj.hessian(w), torch.autograd.functional.hessian(loss, wt).numpy(),
                               rtol=1e-9, atol=1e-12)


def test_lbfgs_on_logistic_regression_reaches_scipys_minimum(data):
    X = np.hstack([data.X_train, np.ones((len(data.X_train), 1))])
    y = np.where(data.y_train < 5, -1.0, 1.0)
    obj = qn.LogisticRegression(X, y, weight_decay=1e-3)
    w0 = np.zeros(obj.dim)
    ours = qn.lbfgs(obj, obj.grad, w0, gtol=1e-7, max_iter=1000)
    ref = scipy.optimize.minimize(obj, w0, jac=obj.grad, method="L-BFGS-B",
                                  options={"gtol": 1e-9, "ftol": 1e-15, "maxiter": 2000})
    assert ours.converged and ours.losses[-1] == pytest.approx(ref.fun, abs=1e-9)
    np.testing.assert_allclose(ours.xs[-1], ref.x, atol=1e-4)


def test_minibatch_lbfgs_counts_pairs_with_nonpositive_curvature(data):
    X = np.hstack([data.X_train, np.ones((len(data.X_train), 1))])
    y = np.where(data.y_train < 5, -1.0, 1.0)
    obj = qn.LogisticRegression(X, y, weight_decay=1e-3)
    w0 = np.zeros(obj.dim)
    noisy = qn.minibatch_lbfgs(obj, w0, 100, 32, lr=0.1, seed=0)
    same = qn.minibatch_lbfgs(obj, w0, 100, 32, lr=0.1, seed=0, same_batch_pairs=True)
    full = qn.minibatch_lbfgs(obj, w0, 50, len(y), lr=0.1, seed=0)
    assert noisy.pairs == 100 and noisy.nonpositive >= 10
    assert same.nonpositive == 0 and full.nonpositive == 0   # a convex loss on one fixed batch
