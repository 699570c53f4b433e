"""Tests of dlnotes.gradcheck against known derivatives and scipy.optimize.

Order: references (closed-form derivatives, scipy.optimize), convergence order,
relative_error and check_gradient semantics, properties (hypothesis), bad inputs.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize
import scipy.special
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_allclose

from dlnotes.gradcheck import (GradCheck, check_gradient, forward_difference_gradient, numerical_gradient,
                               relative_error)

PROPERTY = settings(max_examples=60, deadline=None)


# ------------------------------------------------------------------ numerical_gradient

def test_numerical_gradient_of_sum_of_sines_is_cosine():
    x = np.linspace(-3.0, 3.0, 13)
    assert_allclose(numerical_gradient(lambda v: np.sin(v).sum(), x), np.cos(x),
                    rtol=1e-9, atol=1e-10)


def test_numerical_gradient_of_a_quadratic_form_on_a_matrix_argument():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(4, 4))
    X = rng.normal(size=(4, 3))
    # f(X) = trace(X^T A X), gradient (A + A^T) X
    g = numerical_gradient(lambda M: np.trace(M.T @ A @ M), X)
    assert g.shape == X.shape and g.dtype == np.float64
    assert_allclose(g, (A + A.T) @ X, rtol=1e-8, atol=1e-9)


def test_numerical_gradient_of_log_sum_exp_is_softmax():
    x = np.random.default_rng(1).normal(scale=3.0, size=6)
    assert_allclose(numerical_gradient(scipy.special.logsumexp, x), scipy.special.softmax(x),
                    rtol=1e-8, atol=1e-11)


def test_numerical_gradient_of_rosenbrock_matches_scipy_rosen_der():
    x = np.array([1.3, 0.7, 0.8, 1.9, 1.2])
    assert_allclose(numerical_gradient(scipy.optimize.rosen, x), scipy.optimize.rosen_der(x),
                    rtol=1e-8, atol=1e-6)


def test_numerical_gradient_agrees_with_scipy_approx_fprime():
    x = np.array([0.3, -1.2, 2.0, 0.5])

    def f(v):
        return np.sum(np.exp(0.5 * v)) + v[0] * v[1] ** 2 - np.cos(v[2] * v[3])

    # approx_fprime is one-sided (O(h)), so the agreement is limited by scipy's error
    ref = scipy.optimize.approx_fprime(x, f, 1e-7)
    assert_allclose(numerical_gradient(f, x), ref, rtol=1e-6, atol=1e-6)


def test_numerical_gradient_accepts_a_0d_point_and_integer_input():
    assert numerical_gradient(lambda v: v ** 3, 2.0) == pytest.approx(12.0, rel=1e-9)
    g = numerical_gradient(lambda v: float(np.sum(v ** 2)), [1, 2, 3])
    assert g.dtype == np.float64
    assert_allclose(g, [2.0, 4.0, 6.0], rtol=1e-9)


def test_numerical_gradient_accepts_numpy_scalars_and_0d_arrays_from_f():
    x = np.array([0.5, -1.0])
    assert_allclose(numerical_gradient(lambda v: np.asarray(np.dot(v, v)), x), 2 * x, rtol=1e-9)
    assert_allclose(numerical_gradient(lambda v: np.float32(v[0]) * 0 + np.dot(v, v), x), 2 * x,
                    rtol=1e-9)


def test_numerical_gradient_does_not_modify_x_and_survives_an_f_that_mutates_its_argument():
    x = np.array([1.0, -2.0, 0.5])
    x_before = x.copy()

    def rude(v):
        value = np.sum(v ** 2)
        v[:] = 1e9  # must not leak into the next evaluation
        return value

    assert_allclose(numerical_gradient(rude, x), 2 * x_before, rtol=1e-9)
    assert np.array_equal(x, x_before)


def test_numerical_gradient_costs_two_evaluations_per_coordinate():
    calls = []
    numerical_gradient(lambda v: calls.append(1) or float(v.sum()), np.zeros((3, 2)))
    assert len(calls) == 12


def test_centred_difference_error_is_second_order_in_h():
    x = np.array([-0.7, 0.2, 1.1])
    exact = np.exp(x)
    hs = [4e-2, 2e-2, 1e-2, 5e-3]
    errors = [np.max(np.abs(numerical_gradient(lambda v: np.exp(v).sum(), x, h=h) - exact))
              for h in hs]
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    # halving h divides the truncation error h^2 f'''/6 by 4 (a one-sided difference: by 2)
    assert np.all((ratios > 3.9) & (ratios < 4.1)), ratios
    # and the leading error term is h^2/6 * f'''(x)
    assert errors[-1] == pytest.approx(hs[-1] ** 2 / 6 * np.exp(x).max(), rel=1e-3)


def test_numerical_gradient_error_grows_again_when_h_is_tiny():
    x = np.array([0.4])
    f = lambda v: float(np.exp(v).sum())  # noqa: E731
    good = abs(numerical_gradient(f, x, h=1e-5)[0] - np.exp(0.4))
    tiny = abs(numerical_gradient(f, x, h=1e-13)[0] - np.exp(0.4))
    assert good < 1e-9 < tiny


# ---------------------------------------------------------------------- relative_error

def test_relative_error_is_relative_to_the_larger_magnitude():
    assert relative_error([1e6], [1e6 + 1e-3]) == pytest.approx(1e-9, rel=1e-6)
    assert relative_error([1e-3], [2e-3]) == pytest.approx(0.5)
    assert relative_error([-1.0], [1.0]) == pytest.approx(2.0)
    assert relative_error([2.0, 4.0], [4.0, 2.0]) == pytest.approx(0.5)


def test_relative_error_is_the_largest_elementwise_error():
    a = np.array([[1.0, 10.0], [100.0, 0.5]])
    b = a.copy()
    b[1, 1] = 0.6  # 1/6 relative
    b[0, 1] = 10.1  # about 0.0099 relative
    assert relative_error(a, b) == pytest.approx(0.1 / 0.6)


def test_relative_error_floor_keeps_near_zero_pairs_from_dividing_zero_by_zero():
    assert relative_error([0.0, 1.0], [0.0, 1.0]) == 0.0
    assert relative_error([0.0], [1e-14]) == pytest.approx(1e-2)
    assert relative_error([0.0], [1e-14], floor=1e-20) == pytest.approx(1.0)
    assert relative_error([0.0], [1e-14], floor=1e-6) == pytest.approx(1e-8)


# ---------------------------------------------------------------------- check_gradient

def f_smooth(w):
    return float(np.sum(np.tanh(w) ** 2) + w[0] * w[-1])


def grad_smooth(w):
    g = 2 * np.tanh(w) * (1 - np.tanh(w) ** 2)
    g[0] += w[-1]
    g[-1] += w[0]
    return g


W0 = np.array([0.3, -1.1, 0.8, 2.0])


def test_check_gradient_passes_for_the_right_gradient():
    result = check_gradient(f_smooth, grad_smooth, W0)
    assert isinstance(result, GradCheck)
    assert result.passed and result.max_relative_error < 1e-8
    assert_allclose(result.analytic, grad_smooth(W0))
    assert_allclose(result.numerical, result.analytic, rtol=1e-7)
    assert result.max_relative_error == relative_error(result.analytic, result.numerical)
    # scipy agrees that this gradient is right
    assert scipy.optimize.check_grad(f_smooth, grad_smooth, W0) < 1e-5


@pytest.mark.parametrize("wrong", [
    lambda w: 2 * grad_smooth(w),
    lambda w: -grad_smooth(w),
    lambda w: grad_smooth(w) * np.array([1.0, 1.0, 1.0, 0.0]),
    lambda w: 2 * np.tanh(w) * (1 - np.tanh(w) ** 2),  # forgot the cross term
], ids=["factor-2", "sign", "one-entry-missing", "term-missing"])
def test_check_gradient_fails_for_a_wrong_gradient(wrong):
    result = check_gradient(f_smooth, wrong, W0)
    assert not result.passed
    assert result.max_relative_error > 1e-2
    assert scipy.optimize.check_grad(f_smooth, wrong, W0) > 1e-2


def test_check_gradient_passes_exactly_when_the_error_is_within_tol():
    slightly_off = lambda w: grad_smooth(w) * (1 + 1e-4)  # noqa: E731
    result = check_gradient(f_smooth, slightly_off, W0, tol=1e-3)
    assert result.passed and 5e-5 < result.max_relative_error < 2e-4
    assert not check_gradient(f_smooth, slightly_off, W0, tol=1e-5).passed


def test_check_gradient_can_fail_at_a_kink_for_a_correct_subgradient():
    relu_sum = lambda w: float(np.maximum(w, 0).sum())  # noqa: E731
    relu_grad = lambda w: (w > 0).astype(float)  # noqa: E731
    assert check_gradient(relu_sum, relu_grad, np.array([0.5, -0.4])).passed
    # at w = 0 the centred difference straddles the kink and gives 1/2
    result = check_gradient(relu_sum, relu_grad, np.array([0.5, 0.0]))
    assert not result.passed and result.numerical[1] == pytest.approx(0.5)


def test_check_gradient_does_not_let_grad_f_modify_x():
    x = W0.copy()

    def grad_that_mutates(w):
        g = grad_smooth(w)
        w[:] = 0.0
        return g

    assert check_gradient(f_smooth, grad_that_mutates, x).passed
    assert np.array_equal(x, W0)


# -------------------------------------------------------------------------- properties

small = st.floats(-10.0, 10.0)


@PROPERTY
@given(st.data())
def test_centred_differences_are_exact_on_quadratics_up_to_rounding(data):
    n = data.draw(st.integers(1, 5))
    A = data.draw(hnp.arrays(np.float64, (n, n), elements=small))
    b = data.draw(hnp.arrays(np.float64, n, elements=small))
    x = data.draw(hnp.arrays(np.float64, n, elements=small))
    g = numerical_gradient(lambda v: 0.5 * v @ A @ v + b @ v, x, h=1e-3)
    assert_allclose(g, 0.5 * (A + A.T) @ x + b, rtol=1e-8, atol=1e-8)


@PROPERTY
@given(hnp.arrays(np.float64, st.integers(1, 6), elements=st.floats(-1e6, 1e6)),
       hnp.arrays(np.float64, st.integers(1, 6), elements=st.floats(-1e6, 1e6)))
def test_relative_error_is_symmetric_zero_on_equal_inputs_and_at_most_two(a, b):
    n = min(len(a), len(b))
    a, b = a[:n], b[:n]
    assert relative_error(a, a) == 0.0
    assert relative_error(a, b) == relative_error(b, a)
    assert 0.0 <= relative_error(a, b) <= 2.0


# -------------------------------------------------------------------------- bad inputs

@pytest.mark.parametrize("f", [None, 3.0, "sum", np.ones(2)])
def test_numerical_gradient_rejects_a_non_callable_f(f):
    with pytest.raises(TypeError, match=r"f must be a callable returning a scalar"):
        numerical_gradient(f, np.ones(2))


@pytest.mark.parametrize("h, exc, match", [
    (0.0, ValueError, r"h must be > 0"),
    (-1e-5, ValueError, r"h must be > 0"),
    (float("nan"), ValueError, r"h must be finite"),
    ("1e-5", TypeError, r"h must be a real number"),
])
def test_numerical_gradient_rejects_a_bad_step(h, exc, match):
    with pytest.raises(exc, match=match):
        numerical_gradient(np.sum, np.ones(2), h=h)


@pytest.mark.parametrize("f", [
    lambda v: v,
    lambda v: np.ones((3, 1)),
    lambda v: None,
    lambda v: [1.0, 2.0],
    lambda v: {"loss": 1.0},
], ids=["array", "column", "None", "list", "dict"])
def test_numerical_gradient_rejects_an_f_that_does_not_return_a_scalar(f):
    with pytest.raises(TypeError, match=r"f must return a scalar"):
        numerical_gradient(f, np.ones(2))


@pytest.mark.parametrize("x, exc, match", [
    (np.array([1.0, np.nan]), ValueError, r"x must be finite; found NaN at index 1"),
    (np.array([np.inf]), ValueError, r"x must be finite"),
    ("abc", TypeError, r"x must be a numeric array"),
    ([1.0, None], TypeError, r"x must be a numeric array"),
    (np.zeros(0), ValueError, r"x must not be empty"),
])
def test_numerical_gradient_rejects_a_bad_point(x, exc, match):
    with pytest.raises(exc, match=match):
        numerical_gradient(np.sum, x)


@pytest.mark.parametrize("a, b, kwargs, exc, match", [
    ([1.0, 2.0], [1.0, 2.0, 3.0], {}, ValueError, r"a has shape \(2,\) but b has shape \(3,\)"),
    ([1.0, np.nan], [1.0, 2.0], {}, ValueError, r"a must be finite"),
    ([1.0, 2.0], [1.0, np.inf], {}, ValueError, r"b must be finite"),
    ([1.0], ["x"], {}, TypeError, r"b must be a real numeric array"),
    ([1.0], [1.0], {"floor": 0.0}, ValueError, r"floor must be > 0"),
    ([1.0], [1.0], {"floor": -1.0}, ValueError, r"floor must be > 0"),
])
def test_relative_error_rejects_bad_inputs(a, b, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        relative_error(a, b, **kwargs)


@pytest.mark.parametrize("grad_f, exc, match", [
    (lambda w: np.ones(2), ValueError, r"grad_f\(x\) has shape \(2,\) but x has shape \(4,\)"),
    (lambda w: np.full(4, np.nan), ValueError, r"grad_f\(x\) must be finite"),
    (lambda w: None, TypeError, r"grad_f\(x\) must be a numeric array"),
])
def test_check_gradient_rejects_a_bad_analytic_gradient(grad_f, exc, match):
    with pytest.raises(exc, match=match):
        check_gradient(f_smooth, grad_f, W0)


def test_check_gradient_rejects_a_non_callable_f_and_a_bad_step():
    with pytest.raises(TypeError, match=r"f must be a callable"):
        check_gradient("f", grad_smooth, W0)
    with pytest.raises(ValueError, match=r"h must be > 0"):
        check_gradient(f_smooth, grad_smooth, W0, h=0.0)
    with pytest.raises(TypeError, match=r"f must return a scalar"):
        check_gradient(lambda w: w, grad_smooth, W0)


@pytest.mark.parametrize("bad", ["1.5", b"1", True])
def test_numerical_gradient_rejects_strings_and_booleans_as_function_values(bad):
    with pytest.raises(TypeError, match=r"f must return a scalar"):
        numerical_gradient(lambda v: bad, np.ones(2))


# ------------------------------------------------ issue 7, B6, B7: regressions, exact errors

@pytest.mark.parametrize("tol, exc, match", [
    (float("inf"), ValueError, r"^tol must be finite, got inf"),
    (-1.0, ValueError, r"^tol must be >= 0, got -1"),
    (float("nan"), ValueError, r"^tol must be finite"),
    ("1e-6", TypeError, r"^tol must be a real number"),
])
def test_check_gradient_checks_tol(tol, exc, match):
    # tol = inf used to pass a wrong gradient, and tol = -1 to fail a right one
    with pytest.raises(exc, match=match):
        check_gradient(f_smooth, grad_smooth, W0, tol=tol)


@pytest.mark.parametrize("difference", [numerical_gradient, forward_difference_gradient])
@pytest.mark.parametrize("value, shown", [(np.inf, "inf"), (-np.inf, "-inf"), (np.nan, "nan"), (10 ** 400, "inf")])
def test_a_callback_that_returns_a_non_finite_value_is_an_error_not_a_nan_gradient(difference, value, shown):
    def f(v):
        return value if v[1] > 1.0 else float(np.sum(v))

    with pytest.raises(ValueError, match=rf"^f must return a finite value; f\(x \+ h e_1\) = {shown}"):
        difference(f, np.array([0.5, 1.0, 0.0]))


@pytest.mark.parametrize("difference", [numerical_gradient, forward_difference_gradient])
def test_a_step_too_large_for_x_is_rejected(difference):
    with pytest.raises(ValueError, match=r"^h = 1e\+308 is too large for x: x \+ h overflows float64"):
        difference(np.sum, np.array([1e308, 0.0]), h=1e308)


def test_finite_difference_study_rejects_steps_too_large_for_x():
    from dlnotes.gradcheck import finite_difference_study

    with pytest.raises(ValueError, match=r"^h holds a step too large for x"):
        finite_difference_study(np.sum, np.ones_like, np.array([1e308]), h=[1e-5, 1e308])


def test_relative_error_of_values_near_the_float64_limit_is_finite():
    # |a - b| overflowed to inf for a = 1.7e308, b = -1.7e308; the relative error is 2
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert relative_error([1.7e308, 1.0], [-1.7e308, 1.0]) == 2.0
        assert numerical_gradient(lambda v: float(1e308 * np.tanh(v[0] * 1e300)), np.array([0.0]), h=1e-300)[0] == np.inf
