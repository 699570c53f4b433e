"""dlnotes.newton: the sign of the step, against torch's Hessians and scipy's solver, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize
import torch

from dlnotes import landscapes, newton


def _torch_rosen(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


@pytest.mark.parametrize("seed", range(5))
def test_one_newton_step_solves_a_quadratic_and_the_flipped_sign_mirrors_it(seed):
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((5, 5))
    A = M @ M.T + 0.1 * np.eye(5)
    x_star, x = rng.standard_normal(5), rng.standard_normal(5)
    quad = landscapes.Quadratic(A, x_star=x_star)
    g = quad.grad(x)
    np.testing.assert_allclose(newton.newton_step(x, g, A), x_star, atol=1e-9)
    q = newton.newton_direction(g, A)
    assert g @ q < 0                                  # a descent direction for positive definite H
    np.testing.assert_allclose(x - q, 2 * x - x_star, atol=1e-9)   # the sign slip


def test_newton_iterates_on_rosenbrock_match_torch_hessian_and_grad():
    f = landscapes.Rosenbrock()
    run = newton.newton(f, f.grad, f.hessian, np.array([-1.2, 1.0]), 6)
    x = torch.tensor([-1.2, 1.0], dtype=torch.float64)
    for t in range(6):
        H = torch.autograd.functional.hessian(_torch_rosen, x)
        g = torch.func.grad(_torch_rosen)(x)
        x = x - torch.linalg.solve(H, g)
        np.testing.assert_allclose(run.xs[t + 1], x.numpy(), rtol=1e-10, atol=1e-12)


def test_newton_converges_quadratically_near_the_minimum():
    f = landscapes.Rosenbrock()
    run = newton.newton(f, f.grad, f.hessian, np.array([1.01, 1.03]), 6, gtol=1e-14)
    err = np.linalg.norm(run.xs - 1.0, axis=1)
    err = err[err > 1e-13]
    assert len(err) >= 3 and np.all(err[1:] <= 1e3 * err[:-1] ** 2)   # e_{t+1} <= C e_t^2
    assert err[-1] < 1e-8


def test_pure_newton_goes_to_the_saddle_and_damped_newton_does_not():
    f = landscapes.EscapeSaddle()
    x0 = np.array([1.0, 0.3])
    pure = newton.newton(f, f.grad, f.hessian, x0, 30, gtol=1e-14)
    damped = newton.damped_newton(f, f.grad, f.hessian, x0, 30, gtol=1e-14)
    assert landscapes.classify_critical_point(f.hessian(pure.xs[-1])) == "saddle"
    np.testing.assert_allclose(np.abs(damped.xs[-1]), [0.0, 1.0], atol=1e-8)
    assert not damped.newton_steps[0] and damped.newton_steps[-1]
    assert np.all(np.diff(damped.losses) <= 0)


def test_damped_newton_matches_scipy_newton_cg_on_rosenbrock():
    f = landscapes.Rosenbrock()
    x0 = np.array([-1.2, 1.0])
    ours = newton.damped_newton(f, f.grad, f.hessian, x0, 100, gtol=1e-10)
    ref = scipy.optimize.minimize(f, x0, jac=f.grad, hess=f.hessian, method="Newton-CG",
                                  options={"xtol": 1e-12})
    np.testing.assert_allclose(ours.xs[-1], ref.x, atol=1e-6)
    assert ours.etas.min() < 1.0 <= ours.etas.max()


def test_cost_counts():
    assert newton.newton_cost(3) == {"memory_floats": 9.0, "flops": 2 * 27 / 3 + 36}
    assert newton.gradient_step_cost(10) == {"memory_floats": 10.0, "flops": 20.0}


def test_bad_hessians_are_rejected_with_a_clear_error():
    g = np.ones(2)
    with pytest.raises(ValueError, match="H must be square"):
        newton.newton_direction(g, np.ones((2, 3)))
    with pytest.raises(ValueError, match="H must be symmetric"):
        newton.newton_direction(g, np.array([[1.0, 2.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="singular"):
        newton.newton_direction(g, np.zeros((2, 2)))
    with pytest.raises(ValueError, match="H must be finite"):
        newton.newton_direction(g, np.array([[np.nan, 0.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="g has 3 entries"):
        newton.newton_direction(np.ones(3), np.eye(2))
    with pytest.raises(ValueError, match="steps"):
        newton.newton(lambda x: 0.0, lambda x: x, lambda x: np.eye(2), np.ones(2), -1)
