"""The adaptive chapter's exercises: determinism, grading, and every solution against torch.optim."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dlnotes import exercises

CHAPTER = "adaptive"
IDS = [e.id for e in exercises.for_chapter(CHAPTER)]
SEEDS = range(6)


def _feed(make, grads, x0):
    """Run a torch optimizer on given gradients; return the final parameter, the optimizer and the tensor."""
    p = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    opt = make([p])
    for g in grads:
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
    return p.detach().numpy().copy(), opt, p


def test_the_chapter_has_the_exercises_the_brief_asks_for():
    assert len(IDS) >= 5 and all(i.startswith("adaptive.") for i in IDS)
    assert {exercises.get(i).answer_type for i in IDS} == {"numeric", "choice", "code"}
    assert {"adaptive.adagrad-steps", "adaptive.rmsprop-steps", "adaptive.adam-bias-correction",
            "adaptive.adamw-vs-l2", "adaptive.adam-code"} <= set(IDS)


# ------------------------------------------------------------------ against torch.optim

@pytest.mark.parametrize("seed", SEEDS)
def test_adagrad_steps_solution_matches_torch(seed):
    inst = exercises.get("adaptive.adagrad-steps")(seed)
    p = inst.params
    x2, _, _ = _feed(lambda ps: torch.optim.Adagrad(ps, lr=p["lr"], eps=1e-10), [p["g1"], p["g2"]], p["x0"])
    np.testing.assert_allclose(inst.solution, x2, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("seed", SEEDS)
def test_rmsprop_steps_solution_matches_torch(seed):
    inst = exercises.get("adaptive.rmsprop-steps")(seed)
    p = inst.params
    x2, opt, t = _feed(lambda ps: torch.optim.RMSprop(ps, lr=p["lr"], alpha=p["beta"], eps=1e-8),
                       [p["g1"], p["g2"]], p["x0"])
    np.testing.assert_allclose(inst.solution, [*x2, *opt.state[t]["square_avg"].numpy()],
                               rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("seed", SEEDS)
def test_adam_bias_correction_solution_matches_torch_and_torchs_own_moments(seed):
    inst = exercises.get("adaptive.adam-bias-correction")(seed)
    p = inst.params
    tensor = torch.tensor(p["x0"], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([tensor], lr=p["lr"], betas=(0.9, 0.999), eps=1e-8)
    x_uncorrected = np.array(p["x0"])
    for g in (p["g1"], p["g2"]):
        tensor.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        # Adam "almost" uses torch's own (uncorrected) moments directly
        st = opt.state[tensor]
        x_uncorrected = x_uncorrected - p["lr"] * (
            st["exp_avg"] / (st["exp_avg_sq"].sqrt() + 1e-8)).numpy()
    np.testing.assert_allclose(inst.solution, [*tensor.detach().numpy(), *x_uncorrected],
                               rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("seed", SEEDS)
def test_adagrad_rate_solution_matches_torchs_accumulator(seed):
    inst = exercises.get("adaptive.adagrad-rate")(seed)
    p = inst.params
    _, opt, t = _feed(lambda ps: torch.optim.Adagrad(ps, lr=p["lr"], eps=1e-10), [[p["g"]]] * p["t"], [0.0])
    expected = p["lr"] / (math.sqrt(opt.state[t]["sum"].item()) + 1e-10)
    assert inst.solution == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_adamw_vs_l2_solution_matches_torch_adam_and_adamw(seed):
    inst = exercises.get("adaptive.adamw-vs-l2")(seed)
    p = inst.params
    x_l2, _, _ = _feed(lambda ps: torch.optim.Adam(ps, lr=p["lr"], weight_decay=p["lam"]), [p["g"]], p["x0"])
    x_w, _, _ = _feed(lambda ps: torch.optim.AdamW(ps, lr=p["lr"], weight_decay=p["lam"]), [p["g"]], p["x0"])
    np.testing.assert_allclose(inst.solution, [*x_l2, *x_w], rtol=1e-12, atol=1e-14)
    # the exercise is built so that the decay flips the sign of Adam's second step
    assert np.sign(x_l2[1] - p["x0"][1]) != np.sign(x_w[1] - (1 - p["lr"] * p["lam"]) * p["x0"][1])


@pytest.mark.parametrize("seed", SEEDS)
def test_decay_choice_solution_agrees_with_an_independent_torch_simulation(seed):
    inst = exercises.get("adaptive.decay-choice")(seed)
    p = inst.params
    scales = np.array([100.0, 1.0, 0.01])
    noise = np.random.default_rng(1234 + seed).standard_normal((1000, 3)) * scales
    cls = torch.optim.Adam if p["optimizer"] == "Adam" else torch.optim.AdamW
    plain, _, _ = _feed(lambda ps: torch.optim.Adam(ps, lr=1e-3), noise, [1.0, 1.0, 1.0])
    decayed, _, _ = _feed(lambda ps: cls(ps, lr=1e-3, weight_decay=p["weight_decay"]), noise, [1.0, 1.0, 1.0])
    shrink = plain - decayed
    if shrink.max() - shrink.min() < 0.1 * shrink.mean():
        category = "equal"
    else:
        category = "large" if shrink.argmax() == 0 else "small"
    assert category == ("small" if p["optimizer"] == "Adam" else "equal")
    assert inst.solution == "abc"[p["order"].index(category)]


@pytest.mark.parametrize("seed", SEEDS)
def test_uncorrected_factor_solution_matches_torch_moments(seed):
    inst = exercises.get("adaptive.uncorrected-factor")(seed)
    t, (b1, b2) = inst.params["t"], inst.params["betas"]
    x = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([x], lr=1.0, betas=(b1, b2), eps=0.0)
    for _ in range(t):
        before = x.item()
        x.grad = torch.ones(1, dtype=torch.float64)
        opt.step()
    st = opt.state[x]
    uncorrected = (st["exp_avg"] / st["exp_avg_sq"].sqrt()).item()
    assert inst.solution == pytest.approx(uncorrected / (before - x.item()), rel=1e-9)


@pytest.mark.parametrize("seed", SEEDS)
def test_adam_code_tests_match_torch_and_only_the_reference_passes(seed):
    inst = exercises.get("adaptive.adam-code")(seed)
    for (x, m, s, g, t, lr, b1, b2, eps), expected in inst.tests:
        p = torch.tensor(x, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.Adam([p], lr=lr, betas=(b1, b2), eps=eps)
        opt.state[p] = {"step": torch.tensor(float(t - 1)),
                        "exp_avg": torch.tensor(m, dtype=torch.float64),
                        "exp_avg_sq": torch.tensor(s, dtype=torch.float64)}
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        st = opt.state[p]
        np.testing.assert_allclose(expected, [p.detach().numpy(), st["exp_avg"].numpy(),
                                              st["exp_avg_sq"].numpy()], rtol=1e-10, atol=1e-13)
    assert inst.check(inst.solution).correct
    assert not inst.check(inst.starter).correct
    namespace = {}
    exec(inst.starter, namespace)          # the starter's function, run on the tests, is wrong
    bad = inst.check(namespace["adam_step"])
    assert not bad.correct and "First failing input" in bad.feedback
