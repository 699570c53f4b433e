"""The exercises of *Activations and initialization*: every solution against torch or an independent computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.integrate
import scipy.stats
import torch

from dlnotes import exercises

CHAPTER = "activations-initialization"
IDS = [e.id for e in exercises.for_chapter(CHAPTER)]
SEEDS = range(8)


def test_the_chapter_has_the_exercises_the_brief_asks_for():
    assert {"activations-initialization.init-std", "activations-initialization.depth-scale",
            "activations-initialization.maxout-params",
            "activations-initialization.leaky-relu-code"} <= set(IDS)
    assert {exercises.get(i).answer_type for i in IDS} == {"numeric", "code"}


@pytest.mark.parametrize("seed", SEEDS)
def test_init_std_solution_is_torchs_distribution(seed):
    inst = exercises.get("activations-initialization.init-std")(seed)
    p = inst.params
    w = torch.empty(p["n_out"], p["n_in"], dtype=torch.float64)
    torch.manual_seed(seed)
    nonlin = p["nonlinearity"]
    slope = 0.2 if nonlin == "leaky_relu" else 0
    if p["scheme"].startswith("xavier"):
        gain = torch.nn.init.calculate_gain("tanh") if nonlin == "tanh" else 1.0
        getattr(torch.nn.init, p["scheme"] + "_")(w, gain=gain)
    else:
        getattr(torch.nn.init, p["scheme"] + "_")(w, a=slope, mode=p["mode"], nonlinearity=nonlin)
    v = w.numpy().ravel()
    if p["scheme"].endswith("uniform"):
        # the largest of n uniform draws is within a fraction ~1/n of the bound, from below
        assert np.abs(v).max() <= inst.solution * (1 + 1e-12)
        assert np.abs(v).max() >= inst.solution * (1 - 20 / v.size)
    else:
        # the sample standard deviation, within 6 of its standard errors (1/sqrt(2n))
        assert v.std() == pytest.approx(inst.solution, rel=6 / math.sqrt(2 * v.size))


def test_relu_keeps_half_the_second_moment_of_a_symmetric_input():
    # the fact the depth-scale exercise rests on, by quadrature
    half, _ = scipy.integrate.quad(lambda z: z * z * scipy.stats.norm.pdf(z), 0, np.inf)
    assert half == pytest.approx(0.5, rel=1e-10)


@pytest.mark.parametrize("seed", range(4))
def test_depth_scale_solution_matches_a_simulation(seed):
    inst = exercises.get("activations-initialization.depth-scale")(seed)
    p = inst.params
    rng = np.random.default_rng(seed)
    # 100 independent networks of width 200, one input each: the variance is an average over
    # networks, whose log-scale after D layers spreads by about sqrt(2D/n) each (a 5% error)
    S, n = 100, 200
    z = math.sqrt(p["var0"]) * rng.standard_normal((S, n))
    for _ in range(p["depth"] - 1):
        W = math.sqrt(p["gain_squared"] / n) * rng.standard_normal((S, n, n))
        z = (np.maximum(z, 0)[:, None, :] @ W)[:, 0, :]
    assert np.mean(z * z) == pytest.approx(inst.solution, rel=0.15)


@pytest.mark.parametrize("seed", SEEDS)
def test_maxout_params_solution_counts_a_real_layer(seed):
    inst = exercises.get("activations-initialization.maxout-params")(seed)
    p = inst.params
    pieces = torch.nn.ModuleList(torch.nn.Linear(p["n_in"], p["n_out"]) for _ in range(p["k"]))
    dense = torch.nn.Linear(p["n_in"], p["n_out"])
    count = lambda m: sum(t.numel() for t in m.parameters())
    assert inst.solution == [count(pieces), count(dense)]


@pytest.mark.parametrize("seed", SEEDS)
def test_leaky_relu_code_reference_matches_torch_autograd(seed):
    inst = exercises.get("activations-initialization.leaky-relu-code")(seed)
    for (z, da, slope), expected in inst.tests:
        t = torch.tensor(z, dtype=torch.float64, requires_grad=True)
        torch.nn.functional.leaky_relu(t, slope).backward(torch.tensor(da, dtype=torch.float64))
        np.testing.assert_allclose(expected, t.grad.numpy(), rtol=1e-15)
    assert inst.check(inst.solution).correct
    assert not inst.check(inst.starter).correct
    relu_only = "import numpy as np\ndef leaky_relu_backward(z, da, slope):\n    return da * (z > 0)\n"
    assert not inst.check(relu_only).correct
