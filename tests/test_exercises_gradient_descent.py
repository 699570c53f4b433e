"""The exercises of *Gradient descent and its problems*: determinism, grading, and every
solution checked against an independent reference (PyTorch, closed forms, enumeration,
plain-Python iteration), never against the dlnotes call that produced it."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.optimize
import torch

from dlnotes import exercises

CHAPTER = "gradient-descent"
IDS = [e.id for e in exercises.for_chapter(CHAPTER)]
SEEDS = range(6)


def test_the_chapter_has_at_least_five_exercises_with_valid_metadata():
    assert len(IDS) >= 5
    for e in exercises.for_chapter(CHAPTER):
        assert e.id.startswith(CHAPTER + ".") and e.points > 0
    assert {e.answer_type for e in exercises.for_chapter(CHAPTER)} == {"numeric", "choice", "code"}


def _torch_gd(A, x_star, x0, lr, steps):
    """torch.optim.SGD on f(x) = 1/2 (x - x*)^T A (x - x*), differentiated by autograd."""
    x = torch.tensor(np.asarray(x0, float), requires_grad=True)
    At, st = torch.tensor(np.asarray(A, float)), torch.tensor(np.asarray(x_star, float))
    opt = torch.optim.SGD([x], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        (0.5 * (x - st) @ At @ (x - st)).backward()
        opt.step()
    return x.detach().numpy()


@pytest.mark.parametrize("seed", SEEDS)
def test_stability_bound_is_where_torch_sgd_switches_from_converging_to_diverging(seed):
    inst = exercises.get("gradient-descent.stability-bound")(seed)
    A = np.array(inst.params["A"])
    bound = inst.solution
    assert bound == pytest.approx(2 / torch.linalg.eigvalsh(torch.tensor(A)).max().item(), rel=1e-12)
    x0 = [1.0, -0.7]                                   # has a component along every eigenvector
    assert np.linalg.norm(_torch_gd(A, [0, 0], x0, 0.98 * bound, 2000)) < 1e-6
    assert np.linalg.norm(_torch_gd(A, [0, 0], x0, 1.02 * bound, 2000)) > 1e6


@pytest.mark.parametrize("seed", SEEDS)
def test_two_gd_steps_match_torch_sgd(seed):
    inst = exercises.get("gradient-descent.gd-steps")(seed)
    p = inst.params
    assert np.allclose(inst.solution, _torch_gd(p["A"], p["x_star"], p["x0"], p["lr"], 2), rtol=1e-12)
    assert p["x0"] != p["x_star"]


def _classify_by_iterating(factor_product: float) -> str:
    c = [1.0]
    for _ in range(6):
        c.append(c[-1] * (1 - factor_product))
    c = np.array(c)
    if np.all(c[1:] == 0):
        return "one step"
    signs_alternate = np.all(np.sign(c[1:]) == -np.sign(c[:-1]))
    sizes = np.abs(c)
    if not signs_alternate:
        return "monotone"
    if np.allclose(sizes, 1):
        return "bouncing"
    return "oscillating" if sizes[-1] < 1 else "diverging"


@pytest.mark.parametrize("seed", range(12))
def test_regime_choice_matches_the_behaviour_of_the_iterates(seed):
    inst = exercises.get("gradient-descent.regime")(seed)
    r = inst.params["lr"] * inst.params["eigenvalue"]
    expected = _classify_by_iterating(r)
    texts = {"monotone": "without changing sign", "one step": "exactly 0 after one step",
             "oscillating": "shrinks towards 0 while flipping", "bouncing": "keeps the same size",
             "diverging": "flips sign every step and grows"}
    assert texts[expected] in inst.choices[inst.solution]


@pytest.mark.parametrize("seed", SEEDS)
def test_finite_differences_match_their_closed_forms(seed):
    inst = exercises.get("gradient-descent.finite-differences")(seed)
    x, h = inst.params["x"], inst.params["h"]
    assert inst.solution == pytest.approx([3 * x ** 2 + 3 * x * h + h ** 2, 3 * x ** 2 + h ** 2], rel=1e-9)
    assert inst.solution[0] == pytest.approx(
        scipy.optimize.approx_fprime(np.array([x]), lambda v: v[0] ** 3, h)[0], rel=1e-9)


@pytest.mark.parametrize("seed", SEEDS)
def test_minibatch_noise_matches_enumeration_of_every_batch(seed):
    inst = exercises.get("gradient-descent.minibatch-noise")(seed)
    g, B = np.array(inst.params["g"]), inst.params["batch_size"]
    exact = np.mean([(np.mean(g[list(c)]) - g.mean()) ** 2
                     for c in itertools.combinations(range(len(g)), B)])
    assert inst.solution == pytest.approx(exact, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("seed", SEEDS)
def test_condition_number_and_best_rate_match_torch_eigenvalues_and_a_torch_run(seed):
    inst = exercises.get("gradient-descent.condition-number")(seed)
    H = np.array(inst.params["H"])
    lo, hi = torch.linalg.eigvalsh(torch.tensor(H)).tolist()
    kappa, lr, rate = inst.solution
    assert kappa == pytest.approx(hi / lo) and lr == pytest.approx(2 / (lo + hi))
    # the worst contraction over a fine grid of rates is smallest at alpha*
    grid = np.linspace(0.01, 2 / hi, 4001)
    worst = np.maximum(np.abs(1 - grid * lo), np.abs(1 - grid * hi))
    assert grid[np.argmin(worst)] == pytest.approx(lr, rel=2e-3)
    # and along the flattest eigenvector one torch step shrinks the error by exactly r
    v = np.linalg.eigh(H)[1][:, 0]
    after = _torch_gd(H, [0, 0], v, lr, 1)
    assert np.linalg.norm(after) == pytest.approx(rate, rel=1e-9)


@pytest.mark.parametrize("seed", SEEDS)
def test_saddle_escape_step_matches_a_plain_python_loop_and_the_log_formula(seed):
    inst = exercises.get("gradient-descent.saddle-escape")(seed)
    lr, m = inst.params["lr"], inst.params["log10_offset"]
    y, k = 10.0 ** m, 0
    while abs(y) <= 1.0:
        y -= lr * (-2 * y)                       # d/dy of -y^2
        k += 1
    assert inst.solution == k
    assert k == math.floor(-m * math.log(10) / math.log(1 + 2 * lr)) + 1


@pytest.mark.parametrize("seed", SEEDS)
def test_fd_cost_counts_match_scipy_and_the_closed_forms(seed):
    inst = exercises.get("gradient-descent.fd-cost")(seed)
    p = inst.params["P"]
    calls = [0]

    def f(v):
        calls[0] += 1
        return float(np.sum(v ** 2))

    scipy.optimize.approx_fprime(np.zeros(p), f, 1e-6)
    assert inst.solution == [calls[0], 2 * p] == [p + 1, 2 * p]


@pytest.mark.parametrize("seed", SEEDS)
def test_gd_code_tests_expect_torch_iterates_and_the_reference_passes(seed):
    inst = exercises.get("gradient-descent.gd-code")(seed)
    steps = inst.params["steps"]
    for (A, x_star, x0, lr, n), expected in inst.tests:
        assert n == steps
        assert np.allclose(expected, _torch_gd(A, x_star, x0, lr, n), rtol=1e-10, atol=1e-12)
    assert inst.check(inst.solution).correct
    assert inst.check(inst.starter).score == 0
