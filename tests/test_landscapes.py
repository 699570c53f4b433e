"""Tests of dlnotes.landscapes against SciPy, SymPy, torch autograd and iterated updates.

Order: references for values/gradients/Hessians, the ill-conditioned quadratic, the
closed form of gradient descent and the stability bound, saddles, bad inputs.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import scipy.optimize
import sympy as sp
import torch
from numpy.testing import assert_allclose

from dlnotes import optim
from dlnotes.gradcheck import numerical_gradient
from dlnotes import schedules
from dlnotes.landscapes import (EscapeSaddle, Quadratic, Rosenbrock, averaged_noise_floor,
                                classify_critical_point, gd_on_quadratic, gd_regime,
                                ill_conditioned_quadratic, noise_floor, noisy_quadratic_run,
                                optimal_lr, saddle, stability_bound)

POINTS = np.array([[0.3, -0.7], [-1.2, 1.0], [1.5, 2.2], [0.0, 0.0], [2.0, -1.0]])


def landscapes():
    A = np.array([[3.0, 1.0], [1.0, 2.0]])
    return {
        "quadratic": Quadratic(A, b=[1.0, -1.0], c=0.5),
        "centred": Quadratic(A, x_star=[0.4, -1.1], f_star=-0.3),
        "ill": ill_conditioned_quadratic(50.0, angle=0.4),
        "saddle": saddle(),
        "escape": EscapeSaddle(),
        "rosenbrock": Rosenbrock(),
        "rosenbrock-gentle": Rosenbrock(a=0.5, b=7.0),
    }


# ----------------------------------------------------------------- value, gradient, Hessian

def test_rosenbrock_matches_scipy_rosen_der_and_hess():
    f = Rosenbrock()
    for x in POINTS:
        assert f(x) == pytest.approx(scipy.optimize.rosen(x), rel=1e-14)
        assert_allclose(f.grad(x), scipy.optimize.rosen_der(x), rtol=1e-13, atol=1e-12)
        assert_allclose(f.hessian(x), scipy.optimize.rosen_hess(x), rtol=1e-13, atol=1e-12)


def test_escape_saddle_and_rosenbrock_derivatives_match_sympy():
    x, y, a, b = sp.symbols("x y a b")
    exprs = {"escape": (EscapeSaddle(), x ** 2 + y ** 4 / 4 - y ** 2 / 2),
             "rosenbrock-gentle": (Rosenbrock(a=0.5, b=7.0), ((a - x) ** 2 + b * (y - x ** 2) ** 2).subs({a: 0.5, b: 7.0}))}
    for f, e in exprs.values():
        grad = [sp.lambdify((x, y), sp.diff(e, v)) for v in (x, y)]
        hess = sp.lambdify((x, y), sp.hessian(e, (x, y)))
        for p in POINTS:
            assert f(p) == pytest.approx(float(e.subs({x: p[0], y: p[1]})), rel=1e-13, abs=1e-14)
            assert_allclose(f.grad(p), [g(*p) for g in grad], rtol=1e-13, atol=1e-13)
            assert_allclose(f.hessian(p), np.array(hess(*p), dtype=float), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("name", list(landscapes()))
def test_gradient_and_hessian_match_torch_autograd(name):
    f = landscapes()[name]

    def torch_f(v):
        if isinstance(f, Quadratic):
            A, b = torch.tensor(f.A), torch.tensor(f.b)
            return 0.5 * v @ A @ v - b @ v + f.c
        if isinstance(f, EscapeSaddle):
            return v[0] ** 2 + v[1] ** 4 / 4 - v[1] ** 2 / 2
        return (f.a - v[0]) ** 2 + f.b * (v[1] - v[0] ** 2) ** 2

    for p in POINTS:
        v = torch.tensor(p, requires_grad=True)
        out = torch_f(v)
        out.backward()
        assert f(p) == pytest.approx(out.item(), rel=1e-13, abs=1e-13)
        assert_allclose(f.grad(p), v.grad.numpy(), rtol=1e-13, atol=1e-13)
        H = torch.autograd.functional.hessian(torch_f, torch.tensor(p)).numpy()
        assert_allclose(f.hessian(p), H, rtol=1e-13, atol=1e-12)


@pytest.mark.parametrize("name", list(landscapes()))
def test_gradient_matches_finite_differences(name):
    f = landscapes()[name]
    for p in POINTS:
        assert_allclose(f.grad(p), numerical_gradient(f, p), rtol=1e-7, atol=1e-6)


@pytest.mark.parametrize("name", list(landscapes()))
def test_values_and_gradients_are_vectorised_over_leading_axes(name):
    f = landscapes()[name]
    P = POINTS.reshape(5, 1, 2) * np.ones((1, 3, 1))
    assert f(P).shape == (5, 3)
    assert_allclose(f(P)[:, 1], [f(p) for p in POINTS], rtol=1e-14)
    assert_allclose(f.grad(P)[:, 2], [f.grad(p) for p in POINTS], rtol=1e-14)


def test_grid_has_meshgrid_layout_and_pointwise_values():
    f = Rosenbrock()
    X, Y, Z = f.grid(7)
    assert X.shape == Y.shape == Z.shape == (7, 7)
    assert Z[2, 5] == pytest.approx(f([X[2, 5], Y[2, 5]]))
    assert X[0, 0] == f.bounds[0][0] and Y[-1, 0] == f.bounds[1][1]


def test_minimizers_are_critical_points_with_the_stated_values():
    f = Rosenbrock(a=0.5, b=7.0)
    assert_allclose(f.grad(f.minimizers[0]), 0, atol=1e-14)
    assert f(f.minimizers[0]) == 0.0
    e = EscapeSaddle()
    for m in e.minimizers:
        assert_allclose(e.grad(m), 0, atol=1e-15)
        assert e(m) == -0.25
        assert classify_critical_point(e.hessian(m)) == "minimum"


def test_rosenbrock_condition_number_at_the_minimum_is_about_b_times_1_plus_4a2_squared():
    f = Rosenbrock()
    assert np.linalg.cond(f.hessian(f.minimizers[0])) == pytest.approx(2508.0, rel=1e-3)


# ---------------------------------------------------------- the ill-conditioned quadratic

@pytest.mark.parametrize("kappa, dim, seed", [(1.0, 2, None), (10.0, 2, None), (1e3, 5, 3), (40.0, 3, None)])
def test_ill_conditioned_quadratic_has_the_requested_spectrum(kappa, dim, seed):
    q = ill_conditioned_quadratic(kappa, dim=dim, lambda_max=2.5, seed=seed)
    assert np.linalg.cond(q.A) == pytest.approx(kappa, rel=1e-9)
    assert q.condition_number == pytest.approx(kappa, rel=1e-12)
    assert np.linalg.eigvalsh(q.A).max() == pytest.approx(2.5, rel=1e-12)
    assert_allclose(q.critical_point, 0, atol=1e-15)


def test_ill_conditioned_quadratic_in_2d_is_rotated_by_the_angle():
    q = ill_conditioned_quadratic(9.0, angle=np.pi / 6)
    stiff = q.eigenvectors[:, -1]
    assert abs(stiff @ np.array([-np.sin(np.pi / 6), np.cos(np.pi / 6)])) == pytest.approx(1.0)


# ----------------------------------------------------------- GD on a quadratic, closed form

@pytest.mark.parametrize("name", ["quadratic", "ill", "saddle"])
def test_closed_form_gradient_descent_equals_iterating_gd_step(name):
    q = landscapes()[name]
    lr = 0.9 * (stability_bound(q) if q.eigenvalues[0] > 0 else 0.5)
    x0 = np.array([1.3, -0.4])
    sol = gd_on_quadratic(q, x0, lr, 60)
    x = x0.copy()
    for k in range(61):
        assert_allclose(sol.iterates[k], x, rtol=1e-10, atol=1e-12)
        x = optim.gd_step(x, q.grad(x), lr)
    assert_allclose(sol.losses, q(sol.iterates), rtol=1e-13)


def test_each_eigen_coordinate_is_multiplied_by_1_minus_lr_lambda_per_step():
    q = ill_conditioned_quadratic(10.0, angle=0.7)
    lr = 0.3
    sol = gd_on_quadratic(q, [2.0, 1.0], lr, 25)
    assert_allclose(sol.factors, 1 - lr * np.linalg.eigvalsh(q.A))
    ratios = sol.eigencoordinates[1:] / sol.eigencoordinates[:-1]
    assert_allclose(ratios, np.broadcast_to(sol.factors, ratios.shape), rtol=1e-12)
    # and the coordinates are really those of x - x* in the eigenbasis
    assert_allclose(sol.eigencoordinates, (sol.iterates - q.critical_point) @ q.eigenvectors, atol=1e-14)


def test_stability_bound_separates_convergence_from_divergence():
    q = ill_conditioned_quadratic(100.0, lambda_max=3.0, angle=0.2)
    bound = stability_bound(q)
    assert bound == pytest.approx(2 / 3)
    x0 = [1.0, 1.0]
    below = gd_on_quadratic(q, x0, 0.99 * bound, 3000)
    above = gd_on_quadratic(q, x0, 1.01 * bound, 3000)
    assert below.losses[-1] < 1e-10
    assert above.losses[-1] > 1e10
    # at the bound the stiff coordinate neither grows nor shrinks: it bounces
    at = gd_on_quadratic(q, x0, bound, 40)
    stiff = at.eigencoordinates[:, -1]
    assert_allclose(np.abs(stiff), abs(stiff[0]), rtol=1e-9)
    assert np.all(np.sign(stiff[1:]) == -np.sign(stiff[:-1]))


def test_optimal_lr_minimises_the_worst_contraction_factor():
    q = ill_conditioned_quadratic(25.0, lambda_max=2.0)
    alpha, rate = optimal_lr(q)
    lams = q.eigenvalues
    grid = np.linspace(0.01, stability_bound(q), 20001)
    worst = np.max(np.abs(1 - grid[:, None] * lams[None, :]), axis=1)
    assert alpha == pytest.approx(grid[np.argmin(worst)], abs=2e-4)
    assert rate == pytest.approx(worst.min(), abs=1e-4)
    assert rate == pytest.approx(24 / 26)


@pytest.mark.parametrize("alpha_lambda, regime", [(-0.1, "grows"), (0.0, "still"), (0.4, "monotone"),
                                                  (1.0, "one step"), (1.5, "oscillating"),
                                                  (2.0, "bouncing"), (2.5, "diverging")])
def test_gd_regime_names_the_behaviour_of_the_closed_form(alpha_lambda, regime):
    lam = 2.0 if alpha_lambda >= 0 else -2.0
    lr = abs(alpha_lambda) / 2.0
    assert gd_regime(lr, lam) == regime
    q = Quadratic(np.diag([lam, 1.0]))
    c = gd_on_quadratic(q, [1.0, 0.0], lr, 6).eigencoordinates[:, 0 if lam < 1 else 1]
    mag, sign = np.abs(c), np.sign(c)
    expected = {
        "grows": np.all(np.diff(mag) > 0) and np.all(sign > 0),
        "still": np.all(mag == 1.0),
        "monotone": np.all(np.diff(mag) < 0) and np.all(sign > 0),
        "one step": np.all(mag[1:] == 0.0),
        "oscillating": np.all(np.diff(mag) < 0) and np.all(sign[1:] == -sign[:-1]),
        "bouncing": np.allclose(mag, 1.0) and np.all(sign[1:] == -sign[:-1]),
        "diverging": np.all(np.diff(mag) > 0) and np.all(sign[1:] == -sign[:-1]),
    }[regime]
    assert expected


# -------------------------------------------------------------------------------- saddles

def test_classify_critical_point_by_eigenvalue_signs():
    assert classify_critical_point(saddle().hessian([0.0, 0.0])) == "saddle"
    assert classify_critical_point(EscapeSaddle().hessian([0.0, 0.0])) == "saddle"
    assert classify_critical_point(Rosenbrock().hessian([1.0, 1.0])) == "minimum"
    assert classify_critical_point(-np.eye(3)) == "maximum"
    assert classify_critical_point(np.diag([1.0, 0.0])) == "degenerate"


def test_gd_on_the_saddle_axis_converges_to_it_and_any_offset_escapes():
    s = saddle()
    on_axis = gd_on_quadratic(s, [1.0, 0.0], 0.1, 100)
    assert_allclose(on_axis.iterates[-1], 0.0, atol=1e-9)
    off = gd_on_quadratic(s, [1.0, 1e-8], 0.1, 100)
    assert abs(off.iterates[-1, 1]) == pytest.approx(1e-8 * 1.2 ** 100, rel=1e-12)


def test_escape_saddle_traps_gd_started_on_the_ridge_and_releases_it_with_a_nudge():
    f = EscapeSaddle()
    trapped = optim.run(lambda p: optim.SGD(p, lr=0.1), f, f.grad, [1.0, 0.0], 300)
    assert_allclose(trapped.final, f.saddle_point, atol=1e-12)
    nudged = optim.run(lambda p: optim.SGD(p, lr=0.1), f, f.grad, [1.0, 1e-6], 300)
    assert_allclose(nudged.final, [0.0, 1.0], atol=1e-8)
    assert_allclose(f.hessian(f.saddle_point) @ f.escape_direction, -f.escape_direction)


# ----------------------------------------------------------------------------- bad inputs

def test_quadratic_rejects_non_symmetric_non_square_and_singular_matrices():
    with pytest.raises(ValueError, match="symmetric"):
        Quadratic([[1.0, 2.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match="square"):
        Quadratic(np.ones((2, 3)))
    with pytest.raises(ValueError, match="invertible"):
        Quadratic(np.diag([1.0, 0.0]))
    with pytest.raises(ValueError, match="b must have shape"):
        Quadratic(np.eye(2), b=[1.0, 2.0, 3.0])


def test_points_of_the_wrong_dimension_are_rejected():
    with pytest.raises(ValueError, match=r"x must have shape \(2,\)"):
        Rosenbrock()([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="x must be finite"):
        EscapeSaddle().grad([np.nan, 0.0])
    with pytest.raises(ValueError, match="one point"):
        Rosenbrock().hessian(POINTS)


def test_bad_arguments_of_the_quadratic_tools_name_the_argument():
    with pytest.raises(ValueError, match="condition_number"):
        ill_conditioned_quadratic(0.5)
    with pytest.raises(ValueError, match="lambda_max"):
        ill_conditioned_quadratic(10.0, lambda_max=0.0)
    with pytest.raises(ValueError, match="lr"):
        gd_on_quadratic(saddle(), [1.0, 1.0], -0.1, 5)
    with pytest.raises(ValueError, match="x0"):
        gd_on_quadratic(saddle(), [1.0, 1.0, 1.0], 0.1, 5)
    with pytest.raises(TypeError, match="Quadratic"):
        gd_on_quadratic(Rosenbrock(), [1.0, 1.0], 0.1, 5)
    with pytest.raises(ValueError, match="positive definite"):
        stability_bound(saddle())
    with pytest.raises(ValueError, match="lr"):
        gd_regime(float("nan"), 1.0)


# ------------------------------------------------------------------ the centred quadratic

def test_centred_quadratic_is_the_expanded_one_with_b_equal_to_a_x_star():
    A = np.array([[3.0, 1.0], [1.0, 2.0]])
    x_star, f_star = np.array([0.4, -1.1]), -0.3
    q = Quadratic(A, x_star=x_star, f_star=f_star)
    expanded = Quadratic(A, b=A @ x_star, c=f_star + 0.5 * x_star @ A @ x_star)
    assert_allclose(q.critical_point, x_star, rtol=0, atol=0)
    assert q.f_star == pytest.approx(f_star) and q(x_star) == pytest.approx(f_star, abs=1e-15)
    for p in POINTS:
        e = torch.tensor(p - x_star, requires_grad=True)
        out = 0.5 * e @ torch.tensor(A) @ e + f_star          # the centred formula, by autograd
        out.backward()
        assert q(p) == pytest.approx(out.item(), rel=1e-13) == expanded(p)
        assert_allclose(q.grad(p), e.grad.numpy(), rtol=1e-13, atol=1e-14)
        assert_allclose(expanded.grad(p), q.grad(p), rtol=1e-12, atol=1e-13)


def test_centred_and_expanded_arguments_exclude_each_other():
    with pytest.raises(ValueError, match="x_star"):
        Quadratic(np.eye(2), b=[1.0, 0.0], x_star=[1.0, 0.0])
    with pytest.raises(ValueError, match="f_star"):
        Quadratic(np.eye(2), c=1.0, f_star=0.0)
    with pytest.raises(ValueError, match="x_star must have shape"):
        Quadratic(np.eye(2), x_star=[1.0, 2.0, 3.0])


# ------------------------------------------------------------------ SGD's noise floor

def _stationary_covariance(lr, lam, var_noise, rho):
    """Covariance of the state (x_t, x_{t-1}) of heavy ball on the noisy quadratic, by SciPy's Lyapunov solver."""
    F = np.array([[1 + rho - lr * lam, -rho], [1.0, 0.0]])
    Q = np.array([[lr * lr * var_noise, 0.0], [0.0, 0.0]])
    return F, scipy.linalg.solve_discrete_lyapunov(F, Q)


@pytest.mark.parametrize("lr, rho, batch", [(1e-2, 0.0, 1), (1e-3, 0.9, 1), (0.3, 0.5, 4), (1.1, 0.0, 2),
                                            (0.05, 0.99, 10)])
def test_noise_floor_is_the_stationary_variance_from_scipys_lyapunov_solver(lr, rho, batch):
    lam, sigma = 1.7, 0.8
    _, S = _stationary_covariance(lr, lam, sigma ** 2 / batch, rho)
    assert noise_floor(lr, curvature=lam, noise=sigma, batch_size=batch, momentum=rho) == \
        pytest.approx(S[0, 0], rel=1e-9)


def test_momentum_has_the_floor_of_sgd_at_the_effective_rate_not_at_its_own():
    rho = 0.9
    mom = noise_floor(1e-3, momentum=rho)
    assert mom == pytest.approx(noise_floor(1e-3 / (1 - rho)), rel=0.01)
    assert mom > 9 * noise_floor(1e-3)


@pytest.mark.parametrize("lr, rho", [(0.05, 0.0), (0.02, 0.8)])
def test_averaged_noise_floor_sums_the_autocovariances_of_the_lyapunov_solution(lr, rho):
    lam, sigma, T = 1.3, 0.7, 40
    F, S = _stationary_covariance(lr, lam, sigma ** 2, rho)
    gam = [(np.linalg.matrix_power(F, k) @ S)[0, 0] for k in range(T)]
    cov = np.array([[gam[abs(s - u)] for u in range(T)] for s in range(T)])
    expected = cov.sum() / T ** 2                      # Var of the mean of T stationary iterates
    assert averaged_noise_floor(lr, T, curvature=lam, noise=sigma, momentum=rho) == \
        pytest.approx(expected, rel=1e-9)
    # and the large-T limit sigma^2 / (lambda^2 T), whatever the rate
    big = 200_000
    assert averaged_noise_floor(lr, big, curvature=lam, noise=sigma, momentum=rho) == \
        pytest.approx(sigma ** 2 / (lam ** 2 * big), rel=0.01)


def test_noisy_quadratic_run_is_torch_sgd_fed_the_same_noise():
    lr, rho, lam, sigma, batch, runs, steps = 0.05, 0.9, 1.5, 0.7, 4, 6, 40
    sched = schedules.inverse_time(lr, 0.05)
    out = noisy_quadratic_run(lr, steps, curvature=lam, noise=sigma, batch_size=batch, momentum=rho,
                              schedule=sched, runs=runs, x0=0.3, burn_in=10, seed=3)
    xi = np.random.default_rng(3).standard_normal((steps, runs)) * sigma / np.sqrt(batch)
    x = torch.full((runs,), 0.3, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([x], lr=lr, momentum=rho)
    seen, total = [0.09], np.zeros(runs)
    for t in range(steps):
        for group in opt.param_groups:
            group["lr"] = sched(t)
        opt.zero_grad()
        (0.5 * lam * (x * x).sum() + (torch.tensor(xi[t]) * x).sum()).backward()
        opt.step()
        xt = x.detach().numpy()
        seen.append(float(np.mean(xt ** 2)))
        if t + 1 > 10:
            total += xt
    assert_allclose(out.final, x.detach().numpy(), rtol=1e-12, atol=1e-15)
    assert_allclose(out.second_moment, seen, rtol=1e-12)
    assert_allclose(out.average, total / (steps - 10), rtol=1e-12)
    assert_allclose(out.lr, [sched(t) for t in range(steps)])


def test_noisy_quadratic_run_draws_the_noise_stream_in_order_across_chunks():
    # 2**17 runs: the noise is drawn 8 rows at a time, and must still be one stream
    runs, steps = 2 ** 17, 20
    out = noisy_quadratic_run(0.1, steps, runs=runs, seed=5, burn_in=0)
    xi = np.random.default_rng(5).standard_normal((steps, runs))
    x = np.zeros(runs)
    for t in range(steps):
        x = x - 0.1 * (x + xi[t])
    assert_allclose(out.final, x, rtol=1e-12, atol=1e-15)


def test_simulated_floors_agree_with_the_closed_forms():
    sgd = noisy_quadratic_run(1e-2, 6000, burn_in=3000, runs=1000)
    mom = noisy_quadratic_run(1e-3, 6000, momentum=0.9, burn_in=3000, runs=1000)
    assert sgd.stationary_second_moment == pytest.approx(noise_floor(1e-2), rel=0.05)
    assert mom.stationary_second_moment == pytest.approx(noise_floor(1e-3, momentum=0.9), rel=0.05)
    assert sgd.averaged_second_moment == pytest.approx(averaged_noise_floor(1e-2, 3000), rel=0.15)
    assert mom.averaged_second_moment == pytest.approx(averaged_noise_floor(1e-3, 3000, momentum=0.9),
                                                       rel=0.15)


def test_noisy_quadratic_tools_reject_bad_arguments_by_name():
    with pytest.raises(ValueError, match="stability limit"):
        noisy_quadratic_run(2.5, 100, runs=4)
    with pytest.raises(ValueError, match="diverged at step"):
        noisy_quadratic_run(0.1, 3000, runs=4, schedule=lambda t: 0.1 if t < 10 else 3.0)
    with pytest.raises(ValueError, match="burn_in"):
        noisy_quadratic_run(0.1, 10, burn_in=10)
    with pytest.raises(ValueError, match="batch_size"):
        noisy_quadratic_run(0.1, 10, batch_size=0)
    with pytest.raises(ValueError, match="momentum"):
        noisy_quadratic_run(0.1, 10, momentum=1.0)
    with pytest.raises(TypeError, match="schedule"):
        noisy_quadratic_run(0.1, 10, schedule=0.1)
    with pytest.raises(ValueError, match="stability limit"):
        noise_floor(2.0)
    with pytest.raises(ValueError, match="steps_averaged"):
        averaged_noise_floor(0.1, 0)
