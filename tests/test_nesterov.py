"""Tests of the machine-checked Nesterov rederivation (dlnotes.nesterov).

Order: the derivation checks out, corrupted steps are caught, the printed LaTeX is the
checked algebra, the package's update rule is the derived one, both forms give the same
trajectory on non-quadratic functions, bad inputs.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from numpy.testing import assert_allclose

from dlnotes import nesterov as N
from dlnotes import optim
from dlnotes.landscapes import EscapeSaddle, Rosenbrock

S = N.SYMBOLS
rho, alpha = S["rho"], S["alpha"]
v_t, v_n, xt_t, xt_n, m_t, m_n = (S[k] for k in ("v_t", "v_next", "x_tilde_t", "x_tilde_next", "m_t", "m_next"))
g = S["grad_f"]


def test_every_step_of_the_derivation_is_verified_by_sympy():
    checks = N.verify_derivation()
    assert len(checks) == len(N.DERIVATION) >= 6
    assert all(c.ok for c in checks), [c.message for c in checks if not c.ok]
    assert all(r == 0 for c in checks[1:] for r in c.residuals)


def test_the_derivation_ends_at_the_rearranged_form_and_pytorchs_form():
    titles = [s.title for s in N.DERIVATION]
    rearranged = N.DERIVATION[titles.index("Collect the new velocity")]
    assert r"\tilde{x}_{t+1} &= \tilde{x}_t - \rho v_{t} + \left(1 + \rho\right) v_{t+1}" in rearranged.latex
    assert r"v_{t+1} &= \rho v_{t} - \alpha \nabla f(\tilde{x}_t)" in rearranged.latex
    assert r"\tilde{x}_{t+1} &= \tilde{x}_t + v_{t+1} + \rho \left(v_{t+1} - v_{t}\right)" in \
        N.DERIVATION[titles.index("Read it as a step plus a correction")].latex
    assert r"m_{t+1} &= \rho m_{t} + \nabla f(\tilde{x}_t)" in N.DERIVATION[-1].latex


CORRUPTIONS = {
    # the slips the sources make, and a few more: sign, factor, index, a lost alpha
    "sign of rho v_t": (4, 1, lambda: xt_t + rho * v_t + (1 + rho) * v_n),
    "1 - rho instead of 1 + rho": (4, 1, lambda: xt_t - rho * v_t + (1 - rho) * v_n),
    "v_t for v_{t+1}": (5, 1, lambda: xt_t + v_n + rho * (v_t - v_t)),
    "gradient at the wrong point": (1, 0, lambda: rho * v_t - alpha * g(xt_t + rho * v_t)),
    "alpha dropped": (6, 1, lambda: xt_t - g(xt_t) + rho * v_n),
    "m_t for m_{t+1} in the torch form": (7, 1, lambda: xt_t - alpha * (g(xt_t) + rho * m_t)),
    "velocity sign": (3, 0, lambda: rho * v_t + alpha * g(xt_t)),
}


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_a_corrupted_step_is_detected_at_that_step(name):
    index, equation, rhs = CORRUPTIONS[name]
    steps = list(N.DERIVATION)
    steps[index] = N._corrupt(steps[index], equation, rhs())
    checks = N.verify_derivation(tuple(steps))
    assert not checks[index].ok
    assert "differs from the previous step" in checks[index].message
    assert all(c.ok for c in checks[:index])


def test_a_step_that_no_longer_determines_the_update_is_reported():
    broken = N.DerivationStep("half a rule", "only the velocity", (N.DERIVATION[1].equations[0],),
                              N.DERIVATION[1].substitutions)
    check = N.verify_step(N.DERIVATION[0], broken)
    assert not check.ok and "uniquely" in check.message


def test_a_step_with_an_undefined_variable_is_reported():
    step = N.DERIVATION[4]
    # drop the change of variables: x~ is then an unknown symbol
    check = N.verify_step(N.DERIVATION[3], N.DerivationStep(step.title, "", step.equations, {}))
    assert not check.ok and "without a change of variables" in check.message


def test_derivation_latex_holds_every_step_in_order():
    text = N.derivation_latex()
    positions = [text.index(r"\text{" + s.title + "}") for s in N.DERIVATION]
    assert positions == sorted(positions)
    assert text.startswith(r"\begin{aligned}") and text.endswith(r"\end{aligned}")


def test_nesterov_step_implements_the_verified_rearranged_form():
    step = next(s for s in N.DERIVATION if s.title == "Collect the new velocity")
    G = sp.Symbol("G")
    eqs = [(e.lhs - e.rhs).doit().subs(g(xt_t), G) for e in step.equations]
    sol = sp.solve(eqs, [xt_n, v_n], dict=True)[0]
    fx = sp.lambdify((xt_t, v_t, G, rho, alpha), sol[xt_n])
    fv = sp.lambdify((xt_t, v_t, G, rho, alpha), sol[v_n])
    rng = np.random.default_rng(0)
    for _ in range(20):
        x, v, gr = rng.normal(size=(3, 4))
        r, a = rng.uniform(0, 1), rng.uniform(0, 0.5)
        x1, v1 = optim.nesterov_step(x, v, gr, a, r)
        assert_allclose(x1, fx(x, v, gr, r, a), rtol=1e-13, atol=1e-14)
        assert_allclose(v1, fv(x, v, gr, r, a), rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("f, x0, lr, rho_", [
    (Rosenbrock(), [-1.2, 1.0], 1e-3, 0.9),
    (Rosenbrock(a=0.5, b=7.0), [1.5, -0.5], 1e-2, 0.95),
    (EscapeSaddle(), [1.0, 1e-3], 0.05, 0.9),
])
def test_both_forms_give_the_same_trajectory_for_1000_steps_on_a_non_quadratic(f, x0, lr, rho_):
    cmp = N.compare_forms(f.grad, x0, lr, rho_, 1000)
    assert cmp.x_lookahead.shape == (1001, 2)
    assert cmp.max_abs_difference < 1e-12
    assert_allclose(cmp.x_lookahead, cmp.x_tilde - rho_ * cmp.v, rtol=0, atol=1e-12)
    # the trajectory went somewhere, and it is not plain momentum's
    assert np.linalg.norm(cmp.x_lookahead[-1] - cmp.x_lookahead[0]) > 0.1
    x, v = np.array(x0, float), np.zeros(2)
    gap = 0.0
    for t in range(1, 1001):
        x, v = optim.momentum_velocity_step(x, v, f.grad(x), lr, rho_)
        gap = max(gap, float(np.max(np.abs(x - cmp.x_lookahead[t]))))
    assert gap > 1e-3


def test_compare_forms_rejects_bad_arguments():
    f = Rosenbrock()
    with pytest.raises(TypeError, match="grad"):
        N.compare_forms(None, [0.0, 0.0], 0.1, 0.9, 3)
    with pytest.raises(ValueError, match="momentum"):
        N.compare_forms(f.grad, [0.0, 0.0], 0.1, 1.5, 3)
    with pytest.raises(ValueError, match="lr"):
        N.compare_forms(f.grad, [0.0, 0.0], -0.1, 0.9, 3)
    with pytest.raises(ValueError, match="steps"):
        N.compare_forms(f.grad, [0.0, 0.0], 0.1, 0.9, -1)
    with pytest.raises(TypeError, match="DerivationStep"):
        N.verify_step(N.DERIVATION[0], "x = y")
    with pytest.raises(ValueError, match="at least one"):
        N.verify_derivation(())
