"""Tests of the numerical-vs-analytic gradient study in dlnotes.gradcheck.

Order: forward differences against SciPy and closed forms, convergence orders and the
round-off regime measured by the study, cost in evaluations, bad inputs.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize
from numpy.testing import assert_allclose

from dlnotes.gradcheck import (FiniteDifferenceStudy, finite_difference_study,
                               forward_difference_gradient, numerical_gradient)


def f(v):
    return float(np.sum(np.exp(np.sin(v))))


def grad_f(v):
    return np.cos(v) * np.exp(np.sin(v))


X = np.array([0.3, -1.2, 2.0, 0.7])


def test_forward_difference_agrees_with_scipy_approx_fprime():
    for h in (1e-3, 1e-6):
        assert_allclose(forward_difference_gradient(f, X, h), scipy.optimize.approx_fprime(X, f, h),
                        rtol=1e-6, atol=1e-9)


def test_forward_difference_error_is_half_h_times_the_second_derivative():
    # f(x+h) - f(x) = h f' + h^2/2 f'' + O(h^3): the leading error is h/2 f''
    x = np.array([0.4])
    fs = lambda v: float(np.sin(v[0]))
    for h in (1e-3, 1e-4):
        err = forward_difference_gradient(fs, x, h)[0] - np.cos(0.4)
        assert err == pytest.approx(-h / 2 * np.sin(0.4), rel=2e-3)


def test_forward_difference_is_exact_for_a_linear_function_up_to_round_off():
    a = np.array([1.5, -2.0, 0.25])
    assert_allclose(forward_difference_gradient(lambda v: float(a @ v), np.zeros(3), 1e-3), a, rtol=1e-12)


def slope(h, err, lo, hi):
    keep = (h >= lo) & (h <= hi)
    return np.polyfit(np.log10(h[keep]), np.log10(err[keep]), 1)[0]


def test_study_shows_order_1_and_order_2_truncation_and_round_off_growing_like_1_over_h():
    s = finite_difference_study(f, grad_f, X)
    assert isinstance(s, FiniteDifferenceStudy)
    assert s.h.shape == s.forward_error.shape == s.central_error.shape == (49,)
    assert slope(s.h, s.forward_error, 1e-5, 1e-2) == pytest.approx(1.0, abs=0.05)
    assert slope(s.h, s.central_error, 1e-4, 1e-2) == pytest.approx(2.0, abs=0.05)
    assert -1.6 < slope(s.h, s.forward_error, 1e-13, 1e-10) < -0.5
    assert -1.6 < slope(s.h, s.central_error, 1e-13, 1e-9) < -0.5


def test_best_steps_are_near_sqrt_eps_and_cube_root_of_eps():
    s = finite_difference_study(f, grad_f, X)
    eps = np.finfo(float).eps
    assert np.sqrt(eps) / 30 < s.best_h_forward < np.sqrt(eps) * 30
    assert eps ** (1 / 3) / 30 < s.best_h_central < eps ** (1 / 3) * 30
    # the centred difference is the more accurate one at its best step
    assert s.central_error.min() < s.forward_error.min() / 10


def test_study_counts_d_plus_1_and_2d_evaluations_per_gradient():
    calls = []

    def counted(v):
        calls.append(1)
        return f(v)

    forward_difference_gradient(counted, X, 1e-6)
    n_forward = len(calls)
    calls.clear()
    numerical_gradient(counted, X, 1e-6)
    n_central = len(calls)
    s = finite_difference_study(f, grad_f, X, h=[1e-6, 1e-4])
    assert (s.forward_evaluations, s.central_evaluations) == (n_forward, n_central) == (5, 8)
    assert s.dim == 4


def test_study_on_a_matrix_argument_uses_every_entry():
    A = np.array([[2.0, 0.5], [0.5, 1.0]])
    W = np.array([[0.3, -0.2, 1.0], [0.1, 0.4, -0.5]])
    s = finite_difference_study(lambda M: float(np.trace(M.T @ A @ M)), lambda M: 2 * A @ M, W,
                                h=[1e-5])
    assert s.dim == 6 and s.central_evaluations == 12
    assert s.central_error[0] < 1e-9


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match="h must be"):
        forward_difference_gradient(f, X, 0.0)
    with pytest.raises(ValueError, match="h must hold steps > 0"):
        finite_difference_study(f, grad_f, X, h=[1e-3, -1e-3])
    with pytest.raises(ValueError, match="grad_f"):
        finite_difference_study(f, lambda v: np.zeros(3), X)
    with pytest.raises(TypeError, match="callable"):
        finite_difference_study(f, None, X)
    with pytest.raises(TypeError, match="scalar"):
        forward_difference_gradient(lambda v: v, X)
