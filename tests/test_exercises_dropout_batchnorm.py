"""The exercises of *Dropout and batch normalization*: solutions against torch and Monte Carlo."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlnotes import exercises

SEEDS = range(8)


def test_the_chapter_has_its_exercises():
    assert {e.id for e in exercises.for_chapter("dropout-batchnorm")} >= {
        "dropout-batchnorm.expected-activation", "dropout-batchnorm.bn-forward"}


@pytest.mark.parametrize("seed", SEEDS)
def test_expected_activation_matches_torch_dropout_averaged_over_many_masks(seed):
    inst = exercises.get("dropout-batchnorm.expected-activation")(seed)
    p = inst.params["p"]
    w, x = (torch.tensor(inst.params[k], dtype=torch.float64) for k in ("w", "x"))
    torch.manual_seed(seed)
    n = 200_000
    # torch's p is the drop probability; F.dropout is inverted dropout
    a = torch.nn.functional.dropout(x.expand(n, 2), p=1 - p, training=True) @ w
    se = a.std().item() / np.sqrt(n)
    assert abs(a.mean().item() - inst.solution[1]) < 5 * se
    assert abs(p * a.mean().item() - inst.solution[0]) < 5 * p * se
    assert inst.check(inst.answer).correct
    assert not inst.check([inst.solution[1], inst.solution[1]]).correct  # forgetting p is wrong


@pytest.mark.parametrize("seed", SEEDS)
def test_bn_forward_matches_torch_batchnorm1d(seed):
    inst = exercises.get("dropout-batchnorm.bn-forward")(seed)
    bn = torch.nn.BatchNorm1d(1, eps=1e-12).double()
    with torch.no_grad():
        bn.weight.fill_(inst.params["gamma"])
        bn.bias.fill_(inst.params["beta"])
    out = bn(torch.tensor(inst.params["x"], dtype=torch.float64)[:, None]).detach().numpy()[:, 0]
    np.testing.assert_allclose(inst.solution, out, rtol=1e-9, atol=1e-9)
    x = np.array(inst.params["x"])
    assert inst.check([x.mean(), x.var(), *out]).correct
    # the unbiased variance is a different (wrong) answer for the part
    assert inst.check([x.mean(), x.var(ddof=1), *out]).correct  # right final result earns all points
    assert inst.check([x.mean(), x.var(ddof=1), *(out + 1)]).score < inst.points
