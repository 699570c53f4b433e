"""The landscape chapter's exercises: determinism, grading, and solutions against SymPy and NumPy references."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from dlnotes import exercises

IDS = [e.id for e in exercises.for_chapter("landscape")]
SEEDS = range(10)


def test_the_chapter_has_the_two_exercises():
    assert {"landscape.classify-hessian", "landscape.condition-number"} <= set(IDS)


@pytest.mark.parametrize("ex_id", IDS)
def test_same_seed_same_instance_and_its_solution_grades_correct(ex_id):
    a, b = exercises.get(ex_id)(5), exercises.get(ex_id)(5)
    assert a.prompt == b.prompt and a.check(a.answer).correct
    assert len({exercises.get(ex_id)(s).prompt for s in SEEDS}) >= 3


@pytest.mark.parametrize("seed", SEEDS)
def test_classification_matches_sympys_hessian_of_the_stated_function(seed):
    inst = exercises.get("landscape.classify-hessian")(seed)
    p = inst.params
    x1, x2 = sp.symbols("x1 x2")
    f = p["a"] * x1 ** 2 + 2 * p["b"] * x1 * x2 + p["c"] * x2 ** 2 + x1 ** 3 * x2 ** 3
    assert [sp.diff(f, v).subs({x1: 0, x2: 0}) for v in (x1, x2)] == [0, 0]
    H = np.array(sp.hessian(f, (x1, x2)).subs({x1: 0, x2: 0}), dtype=float)
    np.testing.assert_array_equal(H, p["H"])
    lam = np.linalg.eigvalsh(H)
    want = ("c" if lam[0] < 0 < lam[1] else "a" if lam[0] > 0 else "b" if lam[1] < 0 else "d")
    assert inst.solution == want


@pytest.mark.parametrize("seed", SEEDS)
def test_condition_numbers_match_sampled_data(seed):
    inst = exercises.get("landscape.condition-number")(seed)
    scale, r = inst.params["scale"], inst.params["r"]
    rng = np.random.default_rng(seed)
    Z = rng.multivariate_normal([0, 0], [[1, r], [r, 1]], size=200_000)
    X = Z * [1.0, scale]
    k = lambda M: (lambda e: e[-1] / e[0])(np.linalg.eigvalsh(2 * M.T @ M / len(M)))  # noqa: E731
    k_raw, k_std = inst.solution
    assert k(X) == pytest.approx(k_raw, rel=0.05)
    Xs = (X - X.mean(0)) / X.std(0)
    assert k(Xs) == pytest.approx(k_std, rel=0.05)
