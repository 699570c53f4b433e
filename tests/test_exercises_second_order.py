"""The second-order chapter's exercises: determinism, grading, and every solution against an independent reference."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize
import torch

from dlnotes import exercises
from dlnotes.assignments.variants import student_seed

CHAPTER = "second-order"
IDS = [e.id for e in exercises.for_chapter(CHAPTER)]
SEEDS = range(8)


def test_the_chapter_has_the_exercises_the_brief_asks_for():
    assert {"second-order.newton-step", "second-order.bfgs-update", "second-order.golden-interval",
            "second-order.backtracking"} <= set(IDS)


@pytest.mark.parametrize("ex_id", IDS)
def test_same_seed_same_instance_and_its_solution_grades_correct(ex_id):
    a, b = exercises.get(ex_id)(3), exercises.get(ex_id)(3)
    assert a.prompt == b.prompt and a.solution == b.solution
    assert a.check(a.answer).correct and a.check(a.solution).correct
    assert not a.check(np.asarray(a.solution, dtype=float) + 1.0).correct
    assert len({exercises.get(ex_id)(s).prompt for s in SEEDS}) >= 3


@pytest.mark.parametrize("seed", SEEDS)
def test_newton_step_matches_torch_solve(seed):
    p = exercises.get("second-order.newton-step")(seed).params
    H, g, x = (torch.tensor(p[k], dtype=torch.float64) for k in ("H", "g", "x"))
    ref = x - torch.linalg.solve(H, g)
    np.testing.assert_allclose(exercises.get("second-order.newton-step")(seed).solution, ref.numpy(),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_bfgs_update_satisfies_the_secant_condition_and_matches_the_inverse_update(seed):
    inst = exercises.get("second-order.bfgs-update")(seed)
    B, dx, dg = (np.array(inst.params[k], dtype=float) for k in ("B", "dx", "dg"))
    B_new = np.array(inst.solution).reshape(2, 2)
    np.testing.assert_allclose(B_new @ dx, dg, atol=1e-12)
    # the textbook inverse update, written out independently
    r = 1 / (dg @ dx)
    Bi = (np.eye(2) - r * np.outer(dx, dg)) @ np.linalg.inv(B) @ (np.eye(2) - r * np.outer(dg, dx)) \
        + r * np.outer(dx, dx)
    np.testing.assert_allclose(B_new @ Bi, np.eye(2), atol=1e-10)


@pytest.mark.parametrize("seed", SEEDS)
def test_golden_interval_contains_scipys_minimiser_and_has_length_0618_squared(seed):
    inst = exercises.get("second-order.golden-interval")(seed)
    p = inst.params
    lo, hi = inst.solution
    assert hi - lo == pytest.approx(((5 ** 0.5 - 1) / 2) ** 2 * (p["hi"] - p["lo"]), rel=1e-12)
    m = scipy.optimize.minimize_scalar(lambda e: (e - p["c"]) ** 2, bounds=(p["lo"], p["hi"]),
                                       method="bounded").x
    assert lo <= m <= hi


@pytest.mark.parametrize("seed", SEEDS)
def test_backtracking_step_is_the_largest_halving_that_passes_armijo(seed):
    p = exercises.get("second-order.backtracking")(seed).params
    eta = exercises.get("second-order.backtracking")(seed).solution
    lam, x, c1 = p["lambda"], p["x"], p["c1"]
    f = lambda v: 0.5 * lam * v * v  # noqa: E731
    ok = lambda e: f(x - e * lam * x) <= f(x) - c1 * e * (lam * x) ** 2  # noqa: E731
    candidates = [0.5 ** k for k in range(40)]
    assert eta == next(e for e in candidates if ok(e))


def test_students_of_an_assignment_get_different_variants():
    seeds = [student_seed(1234, sid) for sid in ("ada", "alan", "grace")]
    for ex_id in IDS:
        prompts = {exercises.get(ex_id)(s).prompt for s in seeds}
        assert len(prompts) >= 2
