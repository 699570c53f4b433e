"""The exercises of *The tuning recipe*: solutions against torch, numpy and enumeration."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from dlnotes import exercises

SEEDS = range(8)


def test_the_chapter_has_the_exercises_the_brief_asks_for():
    assert {e.id for e in exercises.for_chapter("tuning")} >= {
        "tuning.initial-loss", "tuning.update-ratio", "tuning.random-vs-grid", "tuning.moving-average-code"}


@pytest.mark.parametrize("seed", SEEDS)
def test_initial_loss_is_torchs_cross_entropy_of_equal_scores(seed):
    inst = exercises.get("tuning.initial-loss")(seed)
    C, N = inst.params["C"], inst.params["N"]
    labels = torch.randint(0, C, (N,), generator=torch.Generator().manual_seed(seed))
    ref = torch.nn.functional.cross_entropy(torch.zeros(N, C, dtype=torch.float64), labels).item()
    assert inst.solution == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_update_ratio_is_lr_times_gradient_norm_over_weight_norm_as_torch_steps(seed):
    inst = exercises.get("tuning.update-ratio")(seed)
    p = inst.params
    shape = p["shape"]
    w = torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    w = (w * p["w_norm"] / w.norm()).requires_grad_()
    g = torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed + 100))
    w.grad = g * p["g_norm"] / g.norm()
    before = w.detach().clone()
    torch.optim.SGD([w], lr=p["lr"]).step()
    assert inst.solution == pytest.approx(((w.detach() - before).norm() / before.norm()).item(), rel=1e-10)


@pytest.mark.parametrize("seed", SEEDS)
def test_random_vs_grid_counts_by_enumeration(seed):
    inst = exercises.get("tuning.random-vs-grid")(seed)
    k, d = inst.params["k"], inst.params["d"]
    grid = list(itertools.product(range(k), repeat=d))
    first = {c[0] for c in grid}
    rng = np.random.default_rng(seed)
    random_first = {tuple(rng.uniform(size=d))[0] for _ in range(k ** d)}
    assert inst.solution == [len(first), len(random_first)]


@pytest.mark.parametrize("seed", SEEDS)
def test_moving_average_reference_is_numpy_convolve_on_full_windows(seed):
    inst = exercises.get("tuning.moving-average-code")(seed)
    for (x, M), expected in inst.tests:
        full = np.convolve(x, np.ones(M) / M, mode="valid")
        np.testing.assert_allclose(expected[M - 1:], full, rtol=1e-12)
        np.testing.assert_allclose(expected[:M - 1], np.cumsum(x[:M - 1]) / np.arange(1, M), rtol=1e-12)
    centred = ("import numpy as np\ndef moving_average(x, window):\n"
               "    return np.convolve(x, np.ones(window) / window, mode='same')\n")
    assert not inst.check(centred).correct
