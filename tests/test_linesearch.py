"""dlnotes.linesearch against SciPy (minimize_scalar, golden, bracket, line_search), closed forms and properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.optimize
from hypothesis import given, settings
from hypothesis import strategies as st

from dlnotes import landscapes, linesearch


def _rosen_line():
    f = landscapes.Rosenbrock()
    x = np.array([-1.2, 1.0])
    g = f.grad(x)
    q = -g / np.linalg.norm(g)
    return f, x, g, q


# ------------------------------------------------------------------ references

@pytest.mark.parametrize("seed", range(5))
def test_exact_step_on_a_quadratic_matches_scipy_minimize_scalar(seed):
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((4, 4))
    A = M @ M.T + 0.5 * np.eye(4)
    quad = landscapes.Quadratic(A, x_star=rng.standard_normal(4))
    x = rng.standard_normal(4)
    g = quad.grad(x)
    q = -g + 0.1 * rng.standard_normal(4)
    if g @ q >= 0:
        q = -g
    eta = linesearch.exact_step_quadratic(A, g, q)
    ref = scipy.optimize.minimize_scalar(lambda e: quad(x + e * q), method="brent", tol=1e-12).x
    assert eta == pytest.approx(ref, rel=1e-6)
    assert quad.grad(x + eta * q) @ q == pytest.approx(0.0, abs=1e-9)


def test_golden_section_agrees_with_scipy_golden_and_brent_on_the_same_bracket():
    f, x, g, q = _rosen_line()
    phi = lambda e: f(x + e * q)  # noqa: E731
    lo, mid, hi = sorted(linesearch.bracket(phi, 0.0, 0.01).points)
    ours = linesearch.golden_section(phi, lo, hi, tol=1e-10)
    assert ours.x == pytest.approx(scipy.optimize.golden(phi, brack=(lo, mid, hi), tol=1e-10), abs=1e-7)
    assert ours.x == pytest.approx(scipy.optimize.minimize_scalar(phi, bracket=(lo, mid, hi),
                                                                  method="brent").x, abs=1e-7)
    par, points = linesearch.parabolic_interpolation(phi, lo, mid, hi, steps=50)
    assert par == pytest.approx(ours.x, abs=1e-7) and len(points) < ours.evaluations


def test_golden_section_interior_points_are_the_golden_fractions():
    seen = []
    linesearch.golden_section(lambda e: seen.append(e) or (e - 0.3) ** 2, 0.0, 1.0, steps=1)
    assert seen[0] == pytest.approx(1 - linesearch.GOLDEN) and seen[1] == pytest.approx(linesearch.GOLDEN)
    assert linesearch.GOLDEN == pytest.approx((math.sqrt(5) - 1) / 2)
    assert linesearch.GOLDEN ** 2 == pytest.approx(1 - linesearch.GOLDEN)


@pytest.mark.parametrize("start", [(0.0, 0.01), (0.5, 0.3), (-2.0, -1.0)])
def test_bracket_brackets_like_scipy_bracket(start):
    f, x, g, q = _rosen_line()
    phi = lambda e: f(x + e * q)  # noqa: E731
    br = linesearch.bracket(phi, *start)
    fa, fb, fc = br.values
    assert fb <= fa and fb < fc
    a, b, c = br.points
    assert min(a, c) < b < max(a, c)
    assert all(phi(p) == v for p, v in zip(br.points, br.values))
    xa, xb, xc, fa_s, fb_s, fc_s, _ = scipy.optimize.bracket(phi, *start)
    m = linesearch.golden_section(phi, min(a, c), max(a, c), tol=1e-10).x
    m_s = linesearch.golden_section(phi, min(xa, xc), max(xa, xc), tol=1e-10).x
    assert m == pytest.approx(m_s, abs=1e-6)


def test_parabolic_vertex_is_exact_for_a_parabola():
    p = lambda t: 3 * (t - 0.7) ** 2 + 1  # noqa: E731
    assert linesearch.parabolic_vertex(0.0, 0.5, 2.0, p(0.0), p(0.5), p(2.0)) == pytest.approx(0.7)


def test_scipy_line_search_steps_pass_our_wolfe_check_and_ours_pass_scipys_conditions():
    f, x, g, q = _rosen_line()
    eta_s = scipy.optimize.line_search(f, f.grad, x, q, c1=1e-4, c2=0.9)[0]
    slope = float(g @ q)
    assert linesearch.wolfe(f(x), f(x + eta_s * q), slope, float(f.grad(x + eta_s * q) @ q), eta_s,
                            strong=True)
    eta, f_new, g_new, _ = linesearch.wolfe_search(f, f.grad, x, g, q)
    assert f_new == f(x + eta * q) and np.array_equal(g_new, f.grad(x + eta * q))
    assert f_new <= f(x) + 1e-4 * eta * slope and g_new @ q >= 0.9 * slope


def test_backtracking_accepts_the_first_armijo_step_and_rejects_the_ones_before():
    f, x, g, q = _rosen_line()
    res = linesearch.backtracking(f, x, g, q, eta0=0.5, c1=1e-4, shrink=0.5)
    slope = float(g @ q)
    for k, (eta, val) in enumerate(zip(res.tried, res.values)):
        assert eta == 0.5 * 0.5 ** k and val == f(x + eta * q)
        assert (val <= f(x) + 1e-4 * eta * slope) == (k == len(res.tried) - 1)
    assert res.eta == res.tried[-1] and res.evaluations == len(res.tried) + 1


# ------------------------------------------------------------------ properties

@settings(max_examples=40, deadline=None)
@given(lo=st.floats(-10, 10), width=st.floats(0.1, 50), frac=st.floats(0.0, 1.0),
       steps=st.integers(1, 30))
def test_golden_interval_shrinks_by_0618_per_step_and_keeps_the_minimum(lo, width, frac, steps):
    c = lo + frac * width
    res = linesearch.golden_section(lambda e: (e - c) ** 2, lo, lo + width, steps=steps)
    lengths = res.intervals[:, 1] - res.intervals[:, 0]
    np.testing.assert_allclose(lengths[1:] / lengths[:-1], linesearch.GOLDEN, rtol=1e-6)
    assert res.evaluations == steps + 2
    a, b = res.intervals[-1]
    assert a - 1e-9 * width <= c <= b + 1e-9 * width


@settings(max_examples=40, deadline=None)
@given(lam=st.floats(0.1, 100), x=st.floats(-10, 10).filter(lambda v: abs(v) > 1e-3),
       c1=st.floats(1e-4, 0.9), shrink=st.floats(0.1, 0.9))
def test_backtracking_step_satisfies_armijo_on_a_parabola(lam, x, c1, shrink):
    f = lambda p: 0.5 * lam * float(p[0]) ** 2  # noqa: E731
    g = np.array([lam * x])
    res = linesearch.backtracking(f, np.array([x]), g, -g, eta0=1.0, c1=c1, shrink=shrink)
    assert res.values[-1] <= f([x]) - c1 * res.eta * g[0] ** 2
    # on a parabola Armijo holds exactly for eta <= 2 (1 - c1) / lam
    assert res.eta <= 2 * (1 - c1) / lam * (1 + 1e-12)
    assert res.eta == 1.0 or res.eta / shrink > 2 * (1 - c1) / lam * (1 - 1e-12)


# ------------------------------------------------------------------ bad input

def test_a_direction_that_is_not_a_descent_direction_is_rejected():
    f, x, g, _ = _rosen_line()
    for search in (lambda q: linesearch.backtracking(f, x, g, q),
                   lambda q: linesearch.wolfe_search(f, f.grad, x, g, q),
                   lambda q: linesearch.exact_step_quadratic(np.eye(2), g, q)):
        with pytest.raises(ValueError, match="q is not a descent direction"):
            search(g)
        with pytest.raises(ValueError, match="descent direction"):
            search(np.zeros(2))


def test_bad_arguments_name_themselves():
    f, x, g, q = _rosen_line()
    with pytest.raises(ValueError, match="c1"):
        linesearch.backtracking(f, x, g, q, c1=1.5)
    with pytest.raises(ValueError, match="shrink"):
        linesearch.backtracking(f, x, g, q, shrink=1.0)
    with pytest.raises(ValueError, match="same shape"):
        linesearch.backtracking(f, x, g, q[:1])
    with pytest.raises(ValueError, match="lo must be smaller"):
        linesearch.golden_section(lambda e: e * e, 1.0, 0.0)
    with pytest.raises(ValueError, match="collinear"):
        linesearch.parabolic_vertex(0, 1, 2, 0, 1, 2)
    with pytest.raises(ValueError, match="bracket a minimum"):
        linesearch.parabolic_interpolation(lambda e: e, 0.0, 1.0, 2.0)
    with pytest.raises(ValueError, match="curvature"):
        linesearch.exact_step_quadratic(-np.eye(2), g, q)
    with pytest.raises(RuntimeError, match="unbounded"):
        linesearch.bracket(lambda e: -e, 0.0, 1.0, max_steps=20)
    with pytest.raises(TypeError, match="f must be"):
        linesearch.bracket(None, 0.0, 1.0)
