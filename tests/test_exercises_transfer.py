"""The exercises of *Transfer learning* and *Fine-tuning*: solutions against torch and simulations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlnotes import cnn, exercises

SEEDS = range(8)


def test_the_chapters_have_their_exercises():
    assert {e.id for e in exercises.for_chapter("transfer-learning")} >= {
        "transfer-learning.trainable-params", "transfer-learning.which-cell"}
    assert {e.id for e in exercises.for_chapter("fine-tuning")} >= {
        "fine-tuning.stability-limit", "fine-tuning.discriminative-step"}


@pytest.mark.parametrize("seed", SEEDS)
def test_trainable_params_match_torchs_count(seed):
    inst = exercises.get("transfer-learning.trainable-params")(seed)
    c1, c2 = inst.params["channels"]
    C = inst.params["C"]
    net = torch.nn.Sequential(torch.nn.Conv2d(1, c1, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                              torch.nn.Conv2d(c1, c2, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                              torch.nn.Flatten(), torch.nn.Linear(c2 * 4, C))
    head = sum(p.numel() for p in net[-1].parameters())
    assert net(torch.zeros(1, 1, 8, 8)).shape == (1, C)
    assert inst.solution == [head, sum(p.numel() for p in net.parameters())]


def test_which_cell_follows_the_table_for_every_scenario():
    seen = {}
    for seed in range(40):
        inst = exercises.get("transfer-learning.which-cell")(seed)
        cell = tuple(inst.params["cell"])
        seen[cell] = inst.choices[inst.solution]
    assert "top layer" in seen[("little", "similar")]
    assert "earlier layers" in seen[("little", "different")]
    assert "last few" in seen[("much", "similar")]
    assert "most or all" in seen[("much", "different")]


def _heavy_ball_diverges(lr, lam, rho, steps=4000):
    x, v = 1.0, 0.0
    for _ in range(steps):
        v = rho * v + lam * x
        x = x - lr * v
        if abs(x) > 1e6:
            return True
    return False


@pytest.mark.parametrize("seed", SEEDS)
def test_stability_limit_solution_separates_convergence_from_divergence(seed):
    inst = exercises.get("fine-tuning.stability-limit")(seed)
    p = inst.params
    for lam, lr_max in ((p["lam_scratch"], inst.solution[0]), (p["lam_finetune"], inst.solution[1])):
        assert not _heavy_ball_diverges(0.99 * lr_max, lam, p["rho"])
        assert _heavy_ball_diverges(1.01 * lr_max, lam, p["rho"])


@pytest.mark.parametrize("seed", SEEDS)
def test_discriminative_step_matches_torch_sgd_with_two_groups(seed):
    inst = exercises.get("fine-tuning.discriminative-step")(seed)
    p = inst.params
    wb = torch.tensor([p["wb"]], dtype=torch.float64, requires_grad=True)
    wh = torch.tensor([p["wh"]], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([{"params": [wb], "lr": p["lr_head"] * p["factor"]},
                           {"params": [wh], "lr": p["lr_head"]}])
    wb.grad = torch.tensor([p["gb"]], dtype=torch.float64)
    wh.grad = torch.tensor([p["gh"]], dtype=torch.float64)
    opt.step()
    np.testing.assert_allclose(inst.solution, [wb.item(), wh.item()], rtol=1e-12)
