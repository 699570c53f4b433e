"""The exercises of *Averaging and augmentation*: solutions against torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from dlnotes import exercises

SEEDS = range(8)


def test_the_chapter_has_its_exercises():
    assert {e.id for e in exercises.for_chapter("averaging-augmentation")} >= {
        "averaging-augmentation.ema-weights", "averaging-augmentation.mixup-label",
        "averaging-augmentation.shapes"}


@pytest.mark.parametrize("seed", SEEDS)
def test_ema_weights_match_torch_averaged_model(seed):
    inst = exercises.get("averaging-augmentation.ema-weights")(seed)
    p = torch.nn.Linear(1, 1, bias=False).double()
    avg = AveragedModel(p, multi_avg_fn=get_ema_multi_avg_fn(inst.params["decay"]))
    got = []
    for x in inst.params["xs"]:
        with torch.no_grad():
            p.weight.fill_(x)
        avg.update_parameters(p)
        got.append(avg.module.weight.item())
    np.testing.assert_allclose(inst.solution, got, rtol=1e-10)
    assert inst.check(inst.answer).correct


@pytest.mark.parametrize("seed", SEEDS)
def test_mixup_label_is_the_blend_of_one_hot_labels(seed):
    inst = exercises.get("averaging-augmentation.mixup-label")(seed)
    q = inst.params
    oh = torch.nn.functional.one_hot(torch.tensor([q["y1"], q["y2"]]), q["C"]).double()
    np.testing.assert_allclose(inst.solution, (q["lam"] * oh[0] + (1 - q["lam"]) * oh[1]).numpy())
    assert sum(inst.solution) == pytest.approx(1.0)


@pytest.mark.parametrize("seed", SEEDS)
def test_shapes_follow_torch_ops(seed):
    inst = exercises.get("averaging-augmentation.shapes")(seed)
    q = inst.params
    x = torch.zeros(q["N"], 3, q["H"], q["W"])[:, :, :q["h"], :q["w"]]
    x = torch.flip(torch.nn.functional.interpolate(x, size=(q["S"], q["S"]), mode="bilinear"), dims=[3])
    x = torch.nn.Conv2d(3, q["F"], 3, padding=1)(x)
    x = torch.nn.functional.fractional_max_pool2d(x, 2, output_size=(q["o"], q["o"]))
    assert list(x.shape) == inst.solution
    assert inst.check(inst.answer).correct
