"""Figures and explorable of the chapter *Momentum and Nesterov*, and the numbers the chapter states.

Reference first (torch.optim, eigenvalues of iteration matrices), then the claims the
prose makes, then the explorable's fast path and the axes' labels.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dlnotes import landscapes, nesterov, optim
from dlnotes.figures import momentum as figs

from figure_checks import assert_axes_labelled  # tests/ helper


# ------------------------------------------------------------------ references

@pytest.mark.parametrize("kappa", [4.0, 25.0, 400.0])
def test_heavy_ball_parameters_give_the_spectral_radius_they_promise(kappa):
    q = landscapes.ill_conditioned_quadratic(kappa)
    lr, rho, rate = landscapes.heavy_ball_parameters(q.eigenvalues[0], q.eigenvalues[-1])
    # x_{t+1} = x_t - lr A x_t + rho (x_t - x_{t-1}) as a linear map of (x_t, x_{t-1})
    n = q.dim
    M = np.block([[(1 + rho) * np.eye(n) - lr * q.A, -rho * np.eye(n)], [np.eye(n), np.zeros((n, n))]])
    assert np.max(np.abs(np.linalg.eigvals(M))) == pytest.approx(rate, rel=1e-6)
    assert rate == pytest.approx((math.sqrt(kappa) - 1) / (math.sqrt(kappa) + 1))


def test_heavy_ball_parameters_reject_bad_eigenvalues():
    with pytest.raises(ValueError, match="lam_min"):
        landscapes.heavy_ball_parameters(0.0, 1.0)
    with pytest.raises(ValueError, match="lam_min"):
        landscapes.heavy_ball_parameters(2.0, 1.0)


@pytest.mark.parametrize("rho", [0.0, 0.5, 0.9, 0.99])
def test_stability_limits_match_the_closed_forms(rho):
    assert landscapes.stability_limit(rho) == pytest.approx(2 * (1 + rho), rel=1e-9)
    assert landscapes.stability_limit(rho, nesterov=True) == pytest.approx(2 * (1 + rho) / (1 + 2 * rho), rel=1e-9)


@pytest.mark.parametrize("nesterov_", [False, True])
@pytest.mark.parametrize("rho", [0.5, 0.9])
def test_stability_limit_separates_convergence_from_divergence_in_torch(rho, nesterov_):
    lam = 2.0
    limit = landscapes.stability_limit(rho, nesterov=nesterov_) / lam

    def final(lr):
        p = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
        opt = torch.optim.SGD([p], lr=lr, momentum=rho, nesterov=nesterov_)
        for _ in range(3000):
            opt.zero_grad()
            (0.5 * lam * p ** 2).sum().backward()
            opt.step()
        return abs(p.item())

    assert final(0.95 * limit) < 1e-3
    assert not final(1.05 * limit) < 1e3     # grows without bound (inf or nan)


def test_nesterov_forms_match_torch_sgd_nesterov_for_1000_steps():
    cmp, fig = figs.nesterov_forms()
    p = torch.tensor(figs.NESTEROV_START, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([p], lr=figs.NESTEROV_LR, momentum=figs.NESTEROV_RHO, nesterov=True)
    path = [p.detach().numpy().copy()]
    for _ in range(figs.NESTEROV_STEPS):
        opt.zero_grad()
        ((1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2).backward()
        opt.step()
        path.append(p.detach().numpy().copy())
    np.testing.assert_allclose(np.array(path), cmp.x_tilde, atol=1e-12)
    assert cmp.max_abs_difference < 1e-12
    assert_axes_labelled(fig)


# ------------------------------------------------------------------ what the chapter says

def test_the_two_momentum_forms_agree_with_a_constant_rate_and_part_with_a_schedule():
    f = landscapes.Rosenbrock()

    def run(rates):
        xb, b = np.array([-1.2, 1.0]), np.zeros(2)
        xv, v = xb.copy(), np.zeros(2)
        for lr in rates:
            xb, b = optim.momentum_step(xb, b, f.grad(xb), lr, 0.9)
            xv, v = optim.momentum_velocity_step(xv, v, f.grad(xv), lr, 0.9)
        return np.abs(xb - xv).max()

    assert run([1e-3] * 100) < 1e-12
    assert run([1e-3] * 50 + [5e-4] * 50) > 1e-3


def test_the_momentum_buffer_reaches_one_over_one_minus_rho_times_the_plain_step():
    for rho in (0.5, 0.9, 0.99):
        x = np.zeros(1)
        opt = optim.SGD([x], lr=0.01, momentum=rho)
        for _ in range(2000):
            before = x.copy()
            opt.step([np.ones(1)])
        assert abs(x[0] - before[0]) / 0.01 == pytest.approx(1 / (1 - rho), rel=1e-6)


def test_conditioning_rows_scale_like_kappa_for_gd_and_sqrt_kappa_for_momentum():
    rows = figs.conditioning_rows()
    (k10, gd10_rate, gd10, hb10_rate, hb10, _), _, (k1000, _, gd1000, _, hb1000, _) = rows
    assert 80 < gd1000 / gd10 < 120            # "a hundred times more steps"
    assert 7 < hb1000 / hb10 < 15              # "only ten times more"
    assert gd10 == pytest.approx(math.log(1e-6) / math.log(gd10_rate), abs=3)
    for r in rows:
        assert r[4] < r[2]


def test_saddle_escape_order_is_nesterov_then_momentum_then_gd():
    escape, fig = figs.saddle_escape()
    assert escape["Momentum"] < escape["GD"] / 2        # "in less than half the time"
    assert escape["Nesterov"] < escape["Momentum"]       # "sooner still"
    assert_axes_labelled(fig)


def test_measured_signal_to_noise_ratio_matches_the_prediction():
    rows, fig = figs.noise_averaging()
    for rho, measured, predicted in rows:
        assert measured == pytest.approx(predicted, rel=0.05), rho
    assert_axes_labelled(fig)


def test_the_derivation_is_verified_step_by_step_and_rendered_from_sympy():
    checks = nesterov.verify_derivation()
    assert all(c.ok for c in checks)
    md = figs.derivation_markdown().data
    for i, step in enumerate(nesterov.DERIVATION):
        assert f"**Step {i}: {step.title}.**" in md and step.latex in md
    assert md.count("✓") == len(nesterov.DERIVATION) - 1
    assert f"**All {len(checks)} steps verified:** True." in md


def test_a_corrupted_derivation_is_reported_as_such():
    steps = list(nesterov.DERIVATION)
    steps[4] = figs.source_slips()["(1-rho)/(1+rho)"][1]
    md = figs.derivation_markdown(steps).data
    assert "✗" in md and "steps verified:** False." in md


def test_both_source_slips_are_rejected_and_the_right_form_is_accepted():
    for name, (previous, wrong) in figs.source_slips().items():
        assert not nesterov.verify_step(previous, wrong).ok, name
    md = figs.slips_markdown().data
    assert md.count("✗ **not** the same update") == 2
    assert r"\frac{1 - \rho}{1 + \rho}" in md and r"\nabla f(v_{t+1})" in md
    # the correct result stated in the chapter, (1 + rho) v_{t+1}
    assert "(1 + \\rho) v_{t+1}" in nesterov.DERIVATION[4].latex.replace("\\left", "").replace("\\right", "")


def test_nesterov_forms_part_ways_only_when_the_run_does_not_settle():
    r = landscapes.Rosenbrock()
    assert nesterov.compare_forms(r.grad, [-1.2, 1.0], 1e-3, 0.9, 1000).max_abs_difference < 1e-12
    assert nesterov.compare_forms(r.grad, [-1.2, 1.0], 2e-3, 0.9, 1000).max_abs_difference > 1e-3


def test_valley_claims_rho_zero_coincide_and_nesterov_diverges_first():
    f = landscapes.Rosenbrock(**figs.VALLEY)
    x0 = np.array(figs.VALLEY_START)
    same = optim.race(figs._sgd_makers(0.01, 0.0), f, f.grad, x0, figs.VALLEY_STEPS)
    np.testing.assert_array_equal(same["GD"].xs, same["Nesterov"].xs)
    np.testing.assert_array_equal(same["GD"].xs, same["Momentum"].xs)
    hot = optim.race(figs._sgd_makers(max(figs._VALLEY_LRS), 0.9), f, f.grad, x0, figs.VALLEY_STEPS)
    assert hot["Nesterov"].diverged and not hot["Momentum"].diverged
    calm = optim.race(figs._sgd_makers(0.003, 0.9), f, f.grad, x0, figs.VALLEY_STEPS)
    assert calm["Momentum"].losses[-1] < calm["GD"].losses[-1] / 100


# ------------------------------------------------------------------ figures and explorable

@pytest.mark.slow
@pytest.mark.parametrize("make", [figs.ill_conditioning, lambda: figs.saddle_escape()[1],
                                  lambda: figs.noise_averaging()[1], lambda: figs.nesterov_forms()[1]],
                         ids=["ill_conditioning", "saddle", "noise", "nesterov_forms"])
def test_static_figures_have_labelled_axes(make):
    assert_axes_labelled(make())


