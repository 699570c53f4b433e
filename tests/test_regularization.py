"""Tests of dlnotes.regularization against independent references.

Order: references (PyTorch norms and autograd, torch.optim.SGD, SciPy, scikit-learn),
properties (hypothesis), bad inputs.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.optimize
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.linear_model import ElasticNet, Lasso, Ridge

from dlnotes import losses
from dlnotes import regularization as reg
from dlnotes.datasets import diabetes
from dlnotes.gradcheck import check_gradient, numerical_gradient

RTOL, ATOL = 1e-12, 1e-14
PROPERTY = settings(max_examples=60, deadline=None)
KINDS = ("l1", "l2", "elastic_net")


def T(x, grad: bool = False) -> torch.Tensor:
    return torch.tensor(np.asarray(x, dtype=np.float64), dtype=torch.float64, requires_grad=grad)


def away_from_zero(shape, seed):
    """Random weights with every entry at least 0.1 from zero (L1's kink)."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=shape)
    return np.sign(w) * (np.abs(w) + 0.1)


def torch_penalty(tensors, kind, l1_ratio=0.5):
    """R(theta) from torch.linalg.vector_norm, summed over the tensors."""
    l1 = sum(torch.linalg.vector_norm(t, ord=1) for t in tensors)
    l2 = sum(torch.linalg.vector_norm(t, ord=2) ** 2 for t in tensors)
    return {"l1": l1, "l2": l2, "elastic_net": l1_ratio * l1 + (1 - l1_ratio) * l2}[kind]


PENALTY_FUNCS = {
    "l1": (reg.l1_penalty, reg.l1_penalty_grad),
    "l2": (reg.l2_penalty, reg.l2_penalty_grad),
    "elastic_net": (reg.elastic_net_penalty, reg.elastic_net_penalty_grad),
}


def params_single():
    return away_from_zero((3, 4), seed=0)


def params_list():
    return [away_from_zero((3, 4), seed=1), away_from_zero(4, seed=2), away_from_zero((2, 2, 2), seed=3)]


# ---------------------------------------------------------------- penalties and grads

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("l1_ratio", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("structure", ["single", "list"])
def test_penalty_matches_torch_vector_norms(kind, l1_ratio, structure):
    theta = params_single() if structure == "single" else params_list()
    arrays = [theta] if structure == "single" else theta
    ref = torch_penalty([T(a) for a in arrays], kind, l1_ratio).item()
    got = reg.penalty(theta, kind, l1_ratio=l1_ratio)
    assert isinstance(got, float)
    assert got == pytest.approx(ref, rel=RTOL)
    f, _ = PENALTY_FUNCS[kind]
    direct = f(theta, l1_ratio) if kind == "elastic_net" else f(theta)
    assert direct == pytest.approx(ref, rel=RTOL)


def test_penalties_on_a_list_equal_the_penalty_of_the_concatenation():
    theta = params_list()
    flat = np.concatenate([a.ravel() for a in theta])
    assert reg.l1_penalty(theta) == pytest.approx(np.linalg.norm(flat, 1), rel=RTOL)
    assert reg.l2_penalty(theta) == pytest.approx(np.linalg.norm(flat) ** 2, rel=RTOL)


def test_a_nested_python_list_is_one_parameter_array():
    # [[1, 2], [3, 4]] is a 2x2 matrix, not two parameter arrays
    assert reg.l2_penalty([[1.0, 2.0], [3.0, -4.0]]) == 30.0
    g = reg.l2_penalty_grad([[1.0, 2.0], [3.0, -4.0]])
    assert isinstance(g, np.ndarray) and g.shape == (2, 2)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("l1_ratio", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("structure", ["single", "list"])
def test_penalty_grad_matches_torch_autograd(kind, l1_ratio, structure):
    theta = params_single() if structure == "single" else params_list()
    arrays = [theta] if structure == "single" else theta
    ts = [T(a, grad=True) for a in arrays]
    torch_penalty(ts, kind, l1_ratio).backward()
    got = reg.penalty_grad(theta, kind, l1_ratio=l1_ratio)
    _, fg = PENALTY_FUNCS[kind]
    direct = fg(theta, l1_ratio) if kind == "elastic_net" else fg(theta)
    if structure == "single":
        assert isinstance(got, np.ndarray) and isinstance(direct, np.ndarray)
        got, direct = [got], [direct]
    else:
        assert isinstance(got, list) and len(got) == len(theta)
    for g, d, t in zip(got, direct, ts):
        assert g.shape == t.shape
        assert_allclose(g, t.grad.numpy(), rtol=RTOL, atol=ATOL)
        assert_allclose(d, t.grad.numpy(), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("kind", KINDS)
def test_penalty_grad_passes_gradcheck(kind):
    theta = away_from_zero((4, 3), seed=4)
    result = check_gradient(lambda w: reg.penalty(w, kind, 0.4),
                            lambda w: reg.penalty_grad(w, kind, 0.4), theta)
    assert result.passed, result.max_relative_error


def test_l1_penalty_grad_is_zero_at_zero_like_torch():
    theta = np.array([-2.0, 0.0, 3.0])
    t = T(theta, grad=True)
    torch.linalg.vector_norm(t, ord=1).backward()
    assert_allclose(reg.l1_penalty_grad(theta), t.grad.numpy())
    assert reg.l1_penalty_grad(theta)[1] == 0.0


# ------------------------------------------------------------------ objective and grad

def regression_problem(n=20, d=3, k=2, seed=5):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.normal(size=(n, k))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("lam", [0.0, 0.05, 2.0])
def test_objective_is_mean_loss_plus_lam_times_torch_penalty(kind, lam):
    X, Y = regression_problem()
    W, b = away_from_zero((3, 2), 6), away_from_zero(2, 7)
    per_sample = F.mse_loss(T(X @ W + b), T(Y), reduction="none").sum(dim=1).numpy()
    ref = per_sample.mean() + lam * torch_penalty([T(W), T(b)], kind, 0.3).item()
    assert reg.objective(per_sample, [W, b], lam, kind, l1_ratio=0.3) == pytest.approx(ref, rel=RTOL)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("lam", [0.0, 0.05, 2.0])
def test_objective_grad_matches_torch_autograd_of_the_total_objective(kind, lam):
    X, Y = regression_problem()
    W0, b0 = away_from_zero((3, 2), 8), away_from_zero(2, 9)

    def data_term(W, b):
        return F.mse_loss(T(X) @ W + b, T(Y), reduction="none").sum(dim=1).mean()

    W, b = T(W0, grad=True), T(b0, grad=True)
    data_grad = torch.autograd.grad(data_term(W, b), [W, b])
    W, b = T(W0, grad=True), T(b0, grad=True)
    total = data_term(W, b) + lam * torch_penalty([W, b], kind, 0.3)
    ref = torch.autograd.grad(total, [W, b])

    got = reg.objective_grad([g.numpy() for g in data_grad], [W0, b0], lam, kind, l1_ratio=0.3)
    assert isinstance(got, list) and len(got) == 2
    for g, r in zip(got, ref):
        assert_allclose(g, r.numpy(), rtol=RTOL, atol=ATOL)
    single = reg.objective_grad(data_grad[0].numpy(), W0, lam, kind, l1_ratio=0.3)
    assert isinstance(single, np.ndarray)
    assert_allclose(single, ref[0].numpy(), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("kind", KINDS)
def test_objective_grad_matches_finite_differences_of_objective(kind):
    X, Y = regression_problem(k=1)
    y = Y[:, 0]
    w0 = away_from_zero(3, 10)
    lam = 0.2

    def J(w):
        return reg.objective(losses.l2(X @ w, y, reduction="none"), w, lam, kind, 0.6)

    data_grad = X.T @ losses.l2_grad(X @ w0, y, reduction="mean")
    num = numerical_gradient(J, w0)
    assert_allclose(reg.objective_grad(data_grad, w0, lam, kind, 0.6), num, rtol=1e-7, atol=1e-9)


def test_l2_penalty_with_half_weight_decay_matches_one_torch_sgd_step():
    theta = [away_from_zero((3, 4), 11), away_from_zero(4, 12)]
    data_grad = [np.random.default_rng(13).normal(size=a.shape) for a in theta]
    lr, wd = 0.1, 0.03
    params = [T(a, grad=True) for a in theta]
    opt = torch.optim.SGD(params, lr=lr, weight_decay=wd)
    for p, g in zip(params, data_grad):
        p.grad = T(g)
    opt.step()
    ours = [a - lr * g for a, g in zip(theta, reg.objective_grad(data_grad, theta, wd / 2, "l2"))]
    for o, p in zip(ours, params):
        assert_allclose(o, p.detach().numpy(), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_l2_penalty_with_half_weight_decay_matches_torch_sgd_on_diabetes_regression(momentum):
    data = diabetes()
    X, y = data.X_train, data.y_train
    lr, wd, steps = 0.05, 0.2, 40
    w, b = np.zeros(X.shape[1]), np.zeros(1)
    tw, tb = T(w, grad=True), T(b, grad=True)
    opt = torch.optim.SGD([tw, tb], lr=lr, weight_decay=wd, momentum=momentum)
    buf = None
    for _ in range(steps):
        opt.zero_grad()
        F.mse_loss(T(X) @ tw + tb, T(y)).backward()
        opt.step()
        # ours: the data gradient from dlnotes.losses, the penalty from objective_grad
        g_pred = losses.l2_grad(X @ w + b, y, reduction="mean")
        g = reg.objective_grad([X.T @ g_pred, np.array([g_pred.sum()])], [w, b], wd / 2, "l2")
        buf = g if buf is None else [momentum * m + gi for m, gi in zip(buf, g)]
        w, b = w - lr * buf[0], b - lr * buf[1]
    assert_allclose(w, tw.detach().numpy(), rtol=1e-10, atol=1e-13)
    assert_allclose(b, tb.detach().numpy(), rtol=1e-10, atol=1e-13)
    assert np.abs(w).max() > 0.1  # the model actually moved


# ------------------------------------------------------------------- soft-thresholding

@pytest.mark.parametrize("tau", [0.0, 0.3, 1.0])
def test_soft_threshold_is_the_prox_of_the_l1_norm(tau):
    zs = np.array([-3.0, -1.2, -0.5, -0.2, 0.0, 0.2, 0.7, 1.0, 2.5])
    got = reg.soft_threshold(zs, tau)
    for z, w in zip(zs, got):
        ref = scipy.optimize.minimize_scalar(lambda v: 0.5 * (v - z) ** 2 + tau * abs(v),
                                             bounds=(-abs(z) - 1, abs(z) + 1), method="bounded",
                                             options={"xatol": 1e-12}).x
        assert w == pytest.approx(ref, abs=1e-6)


def test_soft_threshold_gives_exact_positive_zeros_inside_the_threshold():
    z = np.array([-0.5, -0.1, 0.0, 0.3, 0.5, -0.6, 2.0])
    w = reg.soft_threshold(z, 0.5)
    assert np.array_equal(w[:5], np.zeros(5))
    assert not np.signbit(w[:5]).any()
    assert_allclose(w[5:], [-0.1, 1.5], rtol=1e-14)


# ------------------------------------------------------------- linear fits vs sklearn

def sklearn_fit(X, y, lam, kind, l1_ratio=0.5):
    n = X.shape[0]
    common = dict(fit_intercept=False, tol=1e-13, max_iter=1_000_000)
    if kind == "l2":
        return Ridge(alpha=n * lam, fit_intercept=False).fit(X, y).coef_
    if kind == "l1":
        return Lasso(alpha=lam / 2, **common).fit(X, y).coef_
    a = lam * l1_ratio / 2 + lam * (1 - l1_ratio)
    return ElasticNet(alpha=a, l1_ratio=l1_ratio / (2 * a) * lam, **common).fit(X, y).coef_


def random_problem(n=80, d=7, seed=14):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) @ (np.eye(d) + 0.3 * rng.normal(size=(d, d)))
    w_true = np.array([2.0, 0.0, -1.0, 0.0, 0.5, 0.0, 0.05])
    return X, X @ w_true + 0.5 * rng.normal(size=n)


CASES = [("l2", 0.01, 0.5), ("l2", 0.3, 0.5), ("l1", 0.02, 1.0), ("l1", 0.2, 1.0),
         ("elastic_net", 0.05, 0.3), ("elastic_net", 0.2, 0.8)]


@pytest.mark.parametrize("kind, lam, l1_ratio", CASES)
@pytest.mark.parametrize("problem", ["diabetes", "random"])
def test_fit_linear_matches_sklearn_with_the_documented_alpha_mapping(kind, lam, l1_ratio, problem):
    if problem == "diabetes":
        data = diabetes()
        X, y = data.X_train, data.y_train
    else:
        X, y = random_problem()
    got = reg.fit_linear(X, y, lam, kind, l1_ratio=l1_ratio)
    ref = sklearn_fit(X, y, lam, kind, l1_ratio)
    assert got.shape == (X.shape[1],)
    assert_allclose(got, ref, rtol=0, atol=1e-6)
    if kind != "l2":
        # the same weights are exactly zero
        assert np.array_equal(got == 0, ref == 0)


def test_fit_linear_without_penalty_is_least_squares():
    X, y = random_problem(seed=15)
    ref = np.linalg.lstsq(X, y, rcond=None)[0]
    for kind in KINDS:
        assert_allclose(reg.fit_linear(X, y, 0.0, kind), ref, rtol=0, atol=1e-8)


def test_fit_linear_l1_is_all_zero_exactly_above_the_kkt_threshold():
    data = diabetes()
    X, y = data.X_train, data.y_train
    # w = 0 is optimal iff |X^T y / N| <= lam / 2 componentwise (subgradient condition)
    lam_max = 2 * np.max(np.abs(X.T @ y)) / len(y)
    assert np.array_equal(reg.fit_linear(X, y, 1.01 * lam_max, "l1"), np.zeros(X.shape[1]))
    assert np.count_nonzero(reg.fit_linear(X, y, 0.95 * lam_max, "l1")) >= 1


def test_fit_linear_l1_minimises_the_objective_of_the_docstring():
    X, y = random_problem(seed=16)
    lam = 0.3
    w = reg.fit_linear(X, y, lam, "l1")

    def J(v):
        return np.mean((X @ v - y) ** 2) + lam * np.abs(v).sum()

    ref = scipy.optimize.minimize(J, np.zeros(X.shape[1]), method="Powell",
                                  options={"xtol": 1e-10, "ftol": 1e-14, "maxiter": 100_000})
    assert J(w) <= ref.fun + 1e-10
    assert np.count_nonzero(w == 0) >= 1


def test_regularization_path_stacks_one_fit_per_strength():
    data = diabetes()
    X, y = data.X_train, data.y_train
    lams = np.array([0.0, 0.01, 0.1, 1.0, 10.0])
    for kind in KINDS:
        path = reg.regularization_path(X, y, lams, kind, l1_ratio=0.5)
        assert path.shape == (5, X.shape[1])
        for row, lam in zip(path, lams):
            # the path warm-starts each fit, so it agrees with a cold fit to solver accuracy
            assert_allclose(row, reg.fit_linear(X, y, lam, kind, 0.5), rtol=0, atol=1e-8)
    ridge_norms = np.linalg.norm(reg.regularization_path(X, y, lams, "l2"), axis=1)
    assert np.all(np.diff(ridge_norms) < 0)


# --------------------------------------------------------- kernel/bias/activity penalties

TORCH_ACT = {"identity": lambda z: z, "tanh": torch.tanh, "relu": torch.relu,
             "sigmoid": torch.sigmoid}


def dense_problem(seed=17):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(6, 3))
    W, b = away_from_zero((3, 4), seed + 1), away_from_zero(4, seed + 2)
    assert np.abs(X @ W + b).min() > 1e-3  # ReLU and |a| kinks stay out of reach
    return W, b, X


@pytest.mark.parametrize("activation", list(TORCH_ACT))
@pytest.mark.parametrize("kind", ["l1", "l2"])
def test_dense_penalties_match_torch_autograd(activation, kind):
    W0, b0, X = dense_problem()
    lam_w, lam_b, lam_a = 0.03, 0.2, 0.7
    W, b = T(W0, grad=True), T(b0, grad=True)
    A = TORCH_ACT[activation](T(X) @ W + b)
    k_ref = lam_w * torch_penalty([W], kind)
    b_ref = lam_b * torch_penalty([b], kind)
    a_ref = lam_a * torch_penalty([A], kind) / X.shape[0]
    total = k_ref + b_ref + a_ref
    gW, gb = torch.autograd.grad(total, [W, b])

    got = reg.dense_penalties(W0, b0, X, kernel=lam_w, bias=lam_b, activity=lam_a,
                              activation=activation, kind=kind)
    assert got.kernel == pytest.approx(k_ref.item(), rel=RTOL)
    assert got.bias == pytest.approx(b_ref.item(), rel=RTOL)
    assert got.activity == pytest.approx(a_ref.item(), rel=RTOL)
    assert got.total == pytest.approx(total.item(), rel=RTOL)
    assert got.grad_W.shape == W0.shape and got.grad_b.shape == b0.shape
    assert_allclose(got.grad_W, gW.numpy(), rtol=RTOL, atol=ATOL)
    assert_allclose(got.grad_b, gb.numpy(), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("activation", list(TORCH_ACT))
def test_dense_penalties_grads_pass_gradcheck(activation):
    W0, b0, X = dense_problem(seed=20)
    kw = dict(kernel=0.1, bias=0.05, activity=0.5, activation=activation, kind="l2")
    check_W = check_gradient(lambda W: reg.dense_penalties(W, b0, X, **kw).total,
                             lambda W: reg.dense_penalties(W, b0, X, **kw).grad_W, W0)
    check_b = check_gradient(lambda b: reg.dense_penalties(W0, b, X, **kw).total,
                             lambda b: reg.dense_penalties(W0, b, X, **kw).grad_b, b0)
    assert check_W.passed and check_b.passed


@pytest.mark.parametrize("kind", ["l1", "l2"])
def test_only_the_activity_penalty_depends_on_the_data(kind):
    W, b, X1 = dense_problem(seed=23)
    X2 = 3.0 * X1[::-1] + 0.5
    kw = dict(kernel=0.1, bias=0.2, activity=0.3, activation="tanh", kind=kind)
    p1, p2 = reg.dense_penalties(W, b, X1, **kw), reg.dense_penalties(W, b, X2, **kw)
    assert p1.kernel == p2.kernel and p1.bias == p2.bias
    assert p1.activity != pytest.approx(p2.activity, rel=1e-3)
    # without the activity term the gradients do not see X either
    kw["activity"] = 0.0
    q1, q2 = reg.dense_penalties(W, b, X1, **kw), reg.dense_penalties(W, b, X2, **kw)
    assert np.array_equal(q1.grad_W, q2.grad_W) and np.array_equal(q1.grad_b, q2.grad_b)
    assert q1.activity == 0.0 and q1.total == pytest.approx(q1.kernel + q1.bias, rel=1e-15)


# -------------------------------------------------------------------------- properties

param_arrays = hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=4),
                          elements=st.floats(-1e3, 1e3))


@PROPERTY
@given(param_arrays, st.floats(0.0, 1.0))
def test_penalties_are_non_negative_and_zero_only_at_zero(theta, r):
    for value in (reg.l1_penalty(theta), reg.l2_penalty(theta), reg.elastic_net_penalty(theta, r)):
        assert value >= 0
    assert (reg.l1_penalty(theta) == 0) == (not np.any(theta))
    assert reg.l1_penalty(np.zeros_like(theta)) == reg.l2_penalty(np.zeros_like(theta)) == 0.0


@PROPERTY
@given(param_arrays)
def test_elastic_net_interpolates_between_l2_and_l1(theta):
    assert reg.elastic_net_penalty(theta, 1.0) == reg.l1_penalty(theta)
    assert reg.elastic_net_penalty(theta, 0.0) == reg.l2_penalty(theta)
    assert np.array_equal(reg.elastic_net_penalty_grad(theta, 1.0), reg.l1_penalty_grad(theta))
    assert np.array_equal(reg.elastic_net_penalty_grad(theta, 0.0), reg.l2_penalty_grad(theta))


@PROPERTY
@given(hnp.arrays(np.float64, st.integers(1, 6), elements=st.floats(-10.0, 10.0)),
       st.floats(0.0, 5.0))
def test_soft_threshold_beats_every_other_point_on_the_prox_objective(z, tau):
    w = reg.soft_threshold(z, tau)

    def prox_objective(v):
        return 0.5 * (v - z) ** 2 + tau * np.abs(v)

    rng = np.random.default_rng(0)
    best = prox_objective(w)
    for _ in range(20):
        other = w + rng.normal(scale=0.5, size=z.shape)
        assert np.all(best <= prox_objective(other) + 1e-12)
    assert np.all(best <= prox_objective(np.zeros_like(z)) + 1e-12)
    assert np.all(best <= prox_objective(z) + 1e-12)


@PROPERTY
@given(param_arrays, st.floats(0.0, 10.0))
def test_objective_with_zero_lam_is_the_mean_data_loss(theta, extra):
    per_sample = np.abs(theta.ravel()) + extra
    assert reg.objective(per_sample, theta, 0.0) == pytest.approx(per_sample.mean(), rel=1e-15)


# -------------------------------------------------------------------------- bad inputs

PENALTY_CALLS = [reg.l1_penalty, reg.l1_penalty_grad, reg.l2_penalty, reg.l2_penalty_grad,
                 reg.elastic_net_penalty, reg.elastic_net_penalty_grad, reg.penalty,
                 reg.penalty_grad]


@pytest.mark.parametrize("f", PENALTY_CALLS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("theta, exc, match", [
    (np.array([1.0, np.nan]), ValueError, r"theta must be finite; found NaN at index 1"),
    (np.array([1.0, np.inf]), ValueError, r"theta must be finite; found an infinite value"),
    ([np.ones(2), np.array([0.0, np.nan])], ValueError, r"theta\[1\] must be finite"),
    ("abc", TypeError, r"theta must be a numeric array"),
    ([1.0, None], TypeError, r"theta must be a numeric array"),
    ([], ValueError, r"theta must not be empty"),
])
def test_penalties_reject_bad_theta(f, theta, exc, match):
    with pytest.raises(exc, match=match):
        f(theta)


@pytest.mark.parametrize("call", [
    lambda r: reg.elastic_net_penalty(np.ones(2), r),
    lambda r: reg.elastic_net_penalty_grad(np.ones(2), r),
    lambda r: reg.penalty(np.ones(2), "elastic_net", r),
    lambda r: reg.penalty_grad(np.ones(2), "elastic_net", r),
    lambda r: reg.objective(np.ones(3), np.ones(2), 0.1, "elastic_net", r),
    lambda r: reg.fit_linear(np.eye(3), np.ones(3), 0.1, "elastic_net", r),
])
@pytest.mark.parametrize("l1_ratio, exc, match", [
    (1.5, ValueError, r"l1_ratio must be <= 1"),
    (-0.1, ValueError, r"l1_ratio must be >= 0"),
    (float("nan"), ValueError, r"l1_ratio must be finite"),
    ("0.5", TypeError, r"l1_ratio must be a real number"),
])
def test_elastic_net_rejects_l1_ratio_outside_0_1(call, l1_ratio, exc, match):
    with pytest.raises(exc, match=match):
        call(l1_ratio)


KIND_CALLS = [
    lambda kind: reg.penalty(np.ones(2), kind),
    lambda kind: reg.penalty_grad(np.ones(2), kind),
    lambda kind: reg.objective(np.ones(3), np.ones(2), 0.1, kind),
    lambda kind: reg.objective_grad(np.ones(2), np.ones(2), 0.1, kind),
    lambda kind: reg.fit_linear(np.eye(3), np.ones(3), 0.1, kind),
    lambda kind: reg.regularization_path(np.eye(3), np.ones(3), [0.1], kind),
]
KIND_IDS = ["penalty", "penalty_grad", "objective", "objective_grad", "fit_linear",
            "regularization_path"]


@pytest.mark.parametrize("call", KIND_CALLS, ids=KIND_IDS)
@pytest.mark.parametrize("kind", ["l3", "L2", None])
def test_unknown_penalty_kind_is_rejected(call, kind):
    with pytest.raises(ValueError, match=r"must be one of \('l1', 'l2', 'elastic_net'\), got"):
        call(kind)


@pytest.mark.parametrize("call", KIND_CALLS, ids=KIND_IDS)
def test_unknown_penalty_kind_error_names_the_kind_argument(call):
    # the argument is called `kind`; the message must say so (it says "penalty must be ...")
    with pytest.raises(ValueError, match=r"\bkind\b.*\('l1', 'l2', 'elastic_net'\)"):
        call("ridge")


@pytest.mark.parametrize("call", [
    lambda lam: reg.objective(np.ones(3), np.ones(2), lam),
    lambda lam: reg.objective_grad(np.ones(2), np.ones(2), lam),
    lambda lam: reg.fit_linear(np.eye(3), np.ones(3), lam),
    lambda lam: reg.regularization_path(np.eye(3), np.ones(3), [0.1, lam]),
], ids=["objective", "objective_grad", "fit_linear", "regularization_path"])
def test_negative_lam_is_rejected(call):
    with pytest.raises(ValueError, match=r"lam must be >= 0, got -0\.1"):
        call(-0.1)


@pytest.mark.parametrize("data_grad, theta, match", [
    (np.zeros(3), np.zeros(4), r"data_grad has shape \(3,\) but theta has shape \(4,\)"),
    (np.zeros((2, 2)), np.zeros(4), r"data_grad has shape \(2, 2\) but theta has shape \(4,\)"),
    ([np.zeros(2), np.zeros(3)], [np.zeros(2), np.zeros(4)],
     r"data_grad\[1\] has shape \(3,\) but theta\[1\] has shape \(4,\)"),
    (np.zeros(2), [np.zeros(2), np.zeros(4)], r"data_grad has 1 arrays but theta has 2"),
    ([np.zeros(2), np.zeros(4), np.zeros(1)], [np.zeros(2), np.zeros(4)],
     r"data_grad has 3 arrays but theta has 2"),
    (np.array([np.nan, 0.0]), np.zeros(2), r"data_grad must be finite"),
])
def test_objective_grad_rejects_data_grad_that_does_not_match_theta(data_grad, theta, match):
    with pytest.raises(ValueError, match=match):
        reg.objective_grad(data_grad, theta, 0.1)


@pytest.mark.parametrize("losses_, exc, match", [
    (np.ones((2, 2)), ValueError, r"per_sample_losses must be 1-D"),
    (np.array([1.0, np.nan]), ValueError, r"per_sample_losses must be finite"),
    ("abc", TypeError, r"per_sample_losses must be a numeric array"),
])
def test_objective_rejects_bad_per_sample_losses(losses_, exc, match):
    with pytest.raises(exc, match=match):
        reg.objective(losses_, np.ones(2), 0.1)


@pytest.mark.parametrize("X, y, match", [
    (np.ones((5, 2)), np.ones(4), r"X has 5 rows but y has 4 entries"),
    (np.ones(5), np.ones(5), r"X must be 2-D"),
    (np.ones((5, 2)), np.ones((5, 1)), r"y must be 1-D"),
    (np.full((5, 2), np.nan), np.ones(5), r"X must be finite"),
])
def test_fit_linear_rejects_mismatched_or_bad_data(X, y, match):
    with pytest.raises(ValueError, match=match):
        reg.fit_linear(X, y, 0.1)


def test_regularization_path_rejects_a_non_vector_lams():
    with pytest.raises(ValueError, match=r"lams must be 1-D"):
        reg.regularization_path(np.eye(3), np.ones(3), [[0.1, 0.2]])


@pytest.mark.parametrize("z, tau, exc, match", [
    (np.ones(2), -0.1, ValueError, r"tau must be >= 0"),
    (np.ones(2), float("nan"), ValueError, r"tau must be finite"),
    (np.array([np.nan]), 0.1, ValueError, r"z must be finite"),
    ("abc", 0.1, TypeError, r"z must be a numeric array"),
])
def test_soft_threshold_rejects_bad_inputs(z, tau, exc, match):
    with pytest.raises(exc, match=match):
        reg.soft_threshold(z, tau)


W23, B3, X42 = np.ones((2, 3)), np.ones(3), np.ones((4, 2))


@pytest.mark.parametrize("args, kwargs, exc, match", [
    ((W23, np.ones(4), X42), {}, ValueError, r"b has shape \(4,\) but W has 3 output columns"),
    ((W23, B3, np.ones((4, 3))), {}, ValueError, r"X has 3 features \(columns\) but W expects 2"),
    ((np.ones(3), B3, X42), {}, ValueError, r"W must be 2-D"),
    ((W23, np.ones((1, 3)), X42), {}, ValueError, r"b must be 1-D"),
    ((W23, B3, np.ones(2)), {}, ValueError, r"X must be 2-D"),
    ((W23, B3, np.full((4, 2), np.inf)), {}, ValueError, r"X must be finite"),
    ((W23, B3, X42), {"kernel": -1.0}, ValueError, r"kernel must be >= 0"),
    ((W23, B3, X42), {"bias": -1.0}, ValueError, r"bias must be >= 0"),
    ((W23, B3, X42), {"activity": -1.0}, ValueError, r"activity must be >= 0"),
    ((W23, B3, X42), {"activity": "big"}, TypeError, r"activity must be a real number"),
    ((W23, B3, X42), {"activation": "softplus"}, ValueError, r"activation must be one of"),
    ((W23, B3, X42), {"kind": "elastic_net"}, ValueError, r"kind must be 'l1' or 'l2'"),
])
def test_dense_penalties_rejects_bad_shapes_and_settings(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        reg.dense_penalties(*args, **kwargs)


def test_fit_linear_warns_when_it_does_not_converge():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 5))
    y = rng.normal(size=40)
    with pytest.warns(RuntimeWarning, match="did not converge in max_iter=3"):
        reg.fit_linear(X, y, 0.1, "l1", max_iter=3)


@pytest.mark.parametrize("max_iter", [0, -1, 2.5, True])
def test_fit_linear_rejects_a_bad_max_iter(max_iter):
    with pytest.raises(ValueError, match="max_iter"):
        reg.fit_linear(np.eye(3), np.ones(3), 0.1, "l1", max_iter=max_iter)


def test_objective_grad_returns_the_structure_of_theta():
    w = np.array([1.0, -2.0])
    out = reg.objective_grad([np.ones(2)], [w], 0.5)
    assert isinstance(out, list) and len(out) == 1
    np.testing.assert_allclose(out[0], np.ones(2) + 0.5 * 2 * w)
    single = reg.objective_grad(np.ones(2), w, 0.5)
    assert isinstance(single, np.ndarray)


def test_fit_linear_warm_start_reaches_the_same_solution():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(60, 6))
    y = X @ np.array([1.0, 0.0, -2.0, 0.0, 0.5, 0.0]) + 0.1 * rng.normal(size=60)
    cold = reg.fit_linear(X, y, 0.05, "l1")
    warm = reg.fit_linear(X, y, 0.05, "l1", w0=reg.fit_linear(X, y, 0.2, "l1"))
    np.testing.assert_allclose(warm, cold, atol=1e-9)
    with pytest.raises(ValueError, match="w0 must have shape"):
        reg.fit_linear(X, y, 0.05, "l1", w0=np.zeros(3))


# ------------------------------------- issue 7, B3, B6, B7: regressions and exact errors

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("lam", [0.0, 0.1])
def test_fit_linear_on_an_all_zero_X_is_zero(kind, lam):
    # l1 used to divide by a zero Lipschitz constant (NaN weights); l2 with lam = 0 raised
    # numpy's LinAlgError "Singular matrix"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        w = reg.fit_linear(np.zeros((6, 3)), np.arange(6.0), lam, kind)
    assert_array_equal(w, np.zeros(3))


def test_regularization_path_on_an_all_zero_X_is_zero():
    # it used to fail with "w0 must be finite", naming an argument the caller never passed
    path = reg.regularization_path(np.zeros((6, 3)), np.arange(6.0), [0.0, 0.1, 1.0], "l1")
    assert_array_equal(path, np.zeros((3, 3)))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("exponent", [1020, -1000])
def test_fit_linear_is_exact_for_data_near_the_ends_of_the_float64_range(kind, exponent):
    # X and y scaled by 2**1020 (up to 1e308) or 2**-1000 (1e-301): X^T X overflows or
    # underflows, which used to give NaN or inf; without a penalty the least-squares
    # solution does not change with the scale
    X, y = random_problem(seed=16)
    ref = np.linalg.lstsq(X, y, rcond=None)[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        w = reg.fit_linear(np.ldexp(X, exponent), np.ldexp(y, exponent), 0.0, kind)
    assert np.max(np.abs(np.ldexp(X, exponent))) > (1e307 if exponent > 0 else 0)
    # l2 is a least-squares solve; l1 and elastic net iterate to tol on the gradient mapping
    assert_allclose(w, ref, rtol=0, atol=1e-8 if kind == "l2" else 1e-6)


def test_fit_linear_l1_scales_with_x_and_lam_as_the_algebra_says():
    # J(w) for (2**k X, y, lam) is J(u) for (X, y, lam / 2**k) with u = 2**k w
    X, y = random_problem(seed=17)
    k = 1000
    big = reg.fit_linear(np.ldexp(X, k), y, float(np.ldexp(0.1, k)), "l1")
    small = reg.fit_linear(X, y, 0.1, "l1")
    assert_allclose(np.ldexp(big, k), small, rtol=0, atol=1e-8)
    assert np.array_equal(big == 0, small == 0)


def test_fit_linear_reports_weights_beyond_the_float64_range():
    X, y = random_problem(seed=18)
    with pytest.raises(ValueError, match=r"fit_linear: the fitted weights are beyond float64's range"):
        reg.fit_linear(np.ldexp(X, -1000), np.ldexp(y, 1000), 0.0)


@pytest.mark.parametrize("call", [
    lambda r: reg.penalty(np.ones(2), "l1", r),
    lambda r: reg.penalty_grad(np.ones(2), "l2", r),
    lambda r: reg.objective(np.ones(3), np.ones(2), 0.1, "l1", r),
    lambda r: reg.objective_grad(np.ones(2), np.ones(2), 0.1, "l2", r),
    lambda r: reg.fit_linear(np.eye(3), np.ones(3), 0.1, "l1", r),
    lambda r: reg.regularization_path(np.eye(3), np.ones(3), [0.1], "l1", r),
], ids=["penalty", "penalty_grad", "objective", "objective_grad", "fit_linear", "regularization_path"])
def test_a_nan_l1_ratio_is_an_error_whatever_the_kind(call):
    # kind='l1' used to ignore a NaN l1_ratio
    with pytest.raises(ValueError, match=r"l1_ratio must be finite, got nan"):
        call(float("nan"))


@pytest.mark.parametrize("call", KIND_CALLS, ids=KIND_IDS)
@pytest.mark.parametrize("kind", [np.array(["l1", "l2"]), ["l2"], {"l2": 1}])
def test_an_array_or_unhashable_kind_gets_our_error(call, kind):
    # "truth value of an array is ambiguous" used to leak
    with pytest.raises(ValueError, match=r"^kind \(the penalty\) must be one of \('l1', 'l2', 'elastic_net'\)"):
        call(kind)


def test_dense_penalties_reject_an_array_as_an_option():
    with pytest.raises(ValueError, match=r"^activation must be one of"):
        reg.dense_penalties(W23, B3, X42, activation=np.array(["tanh"]))
    with pytest.raises(ValueError, match=r"^kind must be 'l1' or 'l2'"):
        reg.dense_penalties(W23, B3, X42, kind=np.array(["l1"]))


def test_regularization_path_names_the_bad_strength():
    with pytest.raises(ValueError, match=r"^lams\[2\]: lam must be >= 0, got -1"):
        reg.regularization_path(np.eye(3), np.ones(3), [0.1, 0.2, -1.0])


def test_fit_linear_warns_with_a_convergence_warning():
    X, y = random_problem(seed=19)
    with pytest.warns(reg.ConvergenceWarning, match="did not converge in max_iter=2"):
        reg.fit_linear(X, y, 0.1, "l1", max_iter=2)
    assert issubclass(reg.ConvergenceWarning, RuntimeWarning)


def test_extreme_penalties_give_inf_or_an_error_never_nan_or_a_warning():
    big = np.array([1e200, -1e200])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert reg.l2_penalty(big) == np.inf                       # 2e400: correctly rounded
        assert reg.objective(np.ones(2), big, 0.0) == 1.0           # lam = 0: no penalty at all
        assert_array_equal(reg.objective_grad(np.ones(2), big, 0.0), np.ones(2))
        d = reg.dense_penalties(np.full((2, 3), 1e200), B3, X42, kernel=0.0, activity=0.0)
        assert d.total == 0.0 and np.all(d.grad_W == 0)
        assert_allclose(reg.soft_threshold(np.array([1.7e308, -1.7e308]), 1e308), [0.7e308, -0.7e308])
