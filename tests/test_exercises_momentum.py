"""The momentum chapter's exercises: determinism, grading, and every solution against torch.optim."""

from __future__ import annotations


import numpy as np
import pytest
import sympy as sp
import torch

from dlnotes import exercises

CHAPTER = "momentum"
IDS = [e.id for e in exercises.for_chapter(CHAPTER)]
SEEDS = range(6)


def test_the_chapter_has_the_exercises_the_brief_asks_for():
    assert len(IDS) >= 5 and all(i.startswith("momentum.") for i in IDS)
    types = {exercises.get(i).answer_type for i in IDS}
    assert types == {"numeric", "choice", "code"}
    assert {"momentum.buffer-form", "momentum.velocity-form", "momentum.nesterov-step"} <= set(IDS)


# ------------------------------------------------------------------ against torch.optim

def _torch_quadratic_run(p, lr, rho, steps, nesterov=False):
    a = torch.tensor(p["a"], dtype=torch.float64)
    x = torch.tensor(p["x0"], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([x], lr=lr, momentum=rho, nesterov=nesterov)
    for _ in range(steps):
        opt.zero_grad()
        (0.5 * (a * x ** 2).sum()).backward()
        opt.step()
    return x.detach().numpy(), opt.state[x]["momentum_buffer"].numpy()


@pytest.mark.parametrize("seed", SEEDS)
def test_buffer_form_solution_matches_torch_sgd_momentum(seed):
    inst = exercises.get("momentum.buffer-form")(seed)
    p = inst.params
    x2, b2 = _torch_quadratic_run(p, p["lr"], p["momentum"], 2)
    np.testing.assert_allclose(inst.solution, [*x2, *b2], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("seed", SEEDS)
def test_velocity_form_solution_is_torchs_iterate_and_minus_lr_times_its_buffer(seed):
    inst = exercises.get("momentum.velocity-form")(seed)
    p = inst.params
    x2, b2 = _torch_quadratic_run(p, p["lr"], p["momentum"], 2)
    np.testing.assert_allclose(inst.solution, [*x2, *(-p["lr"] * b2)], rtol=1e-12, atol=1e-14)


def _torch_nesterov_step(x_tilde, buffer, grad_fn, lr, rho):
    """One torch SGD(nesterov=True) step from a given parameter and momentum buffer."""
    p = torch.tensor(x_tilde, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr, momentum=rho, nesterov=True)
    opt.state[p]["momentum_buffer"] = torch.tensor(buffer, dtype=torch.float64)
    p.grad = grad_fn(p.detach())
    opt.step()
    return p.detach().numpy(), opt.state[p]["momentum_buffer"].numpy()


@pytest.mark.parametrize("seed", SEEDS)
def test_nesterov_step_solution_matches_torch_through_the_change_of_variables(seed):
    inst = exercises.get("momentum.nesterov-step")(seed)
    p = inst.params
    x, v, lr, rho = np.array(p["x"]), np.array(p["v"]), p["lr"], p["momentum"]
    a = torch.tensor(p["a"], dtype=torch.float64)
    # torch keeps x~ = x + rho v as the parameters and m = -v / lr as its buffer
    xt1, b1 = _torch_nesterov_step(x + rho * v, -v / lr, lambda q: a * q, lr, rho)
    v1 = -lr * b1
    np.testing.assert_allclose(inst.solution, [*(xt1 - rho * v1), *v1], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_rearranged_form_choice_is_the_only_candidate_that_reproduces_torch(seed):
    inst = exercises.get("momentum.rearranged-form")(seed)
    rho_sym = sp.Symbol("rho", positive=True)
    lr, rho, steps = 0.05, 0.8, 25
    a = np.array([1.0, 6.0])
    x0 = np.array([1.5, -0.7])
    # reference: torch's nesterov iterates are the look-ahead points x~_t
    p = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr, momentum=rho, nesterov=True)
    ref = []
    for _ in range(steps):
        opt.zero_grad()
        (0.5 * (torch.tensor(a) * p ** 2).sum()).backward()
        opt.step()
        ref.append(p.detach().numpy().copy())
    matching = []
    for key, (A_text, C_text) in inst.params["coefficients"].items():
        A = float(sp.sympify(A_text, locals={"rho": rho_sym}).subs(rho_sym, rho))
        C = float(sp.sympify(C_text, locals={"rho": rho_sym}).subs(rho_sym, rho))
        xt, v, path = x0.copy(), np.zeros(2), []
        for _ in range(steps):
            v_new = rho * v - lr * a * xt
            xt = xt + A * v + C * v_new
            v = v_new
            path.append(xt.copy())
        if np.allclose(path, ref, rtol=1e-10, atol=1e-12):
            matching.append(key)
    assert matching == [inst.solution]


@pytest.mark.parametrize("seed", SEEDS)
def test_terminal_velocity_solution_matches_torch(seed):
    inst = exercises.get("momentum.terminal-velocity")(seed)
    p = inst.params
    x = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([x], lr=p["lr"], momentum=p["momentum"])
    for _ in range(p["steps"]):
        before = x.item()
        opt.zero_grad()
        (p["slope"] * x).sum().backward()
        opt.step()
    assert inst.solution == pytest.approx(abs(x.item() - before), rel=1e-12)
    assert inst.solution == pytest.approx(p["lr"] * p["slope"] / (1 - p["momentum"]), rel=1e-3)


@pytest.mark.parametrize("seed", SEEDS)
def test_stability_solution_separates_convergence_from_divergence_in_torch(seed):
    inst = exercises.get("momentum.stability")(seed)
    p = inst.params

    def final(lr):
        x = torch.ones(1, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.SGD([x], lr=lr, momentum=p["momentum"], nesterov=p["nesterov"])
        for _ in range(5000):
            opt.zero_grad()
            (0.5 * p["lam"] * x ** 2).sum().backward()
            opt.step()
        return abs(x.item())

    assert final(0.9 * inst.solution) < 1e-2
    assert not final(1.1 * inst.solution) < 1e3


@pytest.mark.parametrize("seed", SEEDS)
def test_nesterov_code_tests_match_torch_and_only_the_reference_passes(seed):
    inst = exercises.get("momentum.nesterov-code")(seed)
    for (xt, v, g, lr, rho), expected in inst.tests:
        v = np.array(v)
        xt1, b1 = _torch_nesterov_step(xt, -v / lr, lambda q: torch.tensor(g, dtype=torch.float64), lr, rho)
        np.testing.assert_allclose(expected, [xt1, -lr * b1], rtol=1e-10, atol=1e-12)
    assert inst.check(inst.solution).correct
    assert not inst.check(inst.starter).correct
    namespace = {}
    exec(inst.starter, namespace)          # the starter's function, run on the tests, is wrong
    bad = inst.check(namespace["nesterov_step"])
    assert not bad.correct and "First failing input" in bad.feedback
