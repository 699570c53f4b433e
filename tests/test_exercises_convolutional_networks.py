"""The exercises of *Convolutional networks*: every solution checked against PyTorch (layer
shapes, parameter counts, autograd), NumPy or SciPy, never against the dlnotes call that
produced it; the generic checks (determinism, grading, rendering) are in test_exercises.py."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch
import torch.nn as nn
import torch.nn.functional as F

from dlnotes import exercises

CHAPTER = "convolutional-networks"
SEEDS = range(8)


def test_the_chapter_has_the_five_exercises_of_the_issue_and_all_answer_types():
    ids = {e.id for e in exercises.for_chapter(CHAPTER)}
    assert {f"{CHAPTER}.{name}" for name in ("output-size", "conv1d-by-hand", "parameter-count",
                                             "receptive-field", "max-pool-gradient")} <= ids
    assert {e.answer_type for e in exercises.for_chapter(CHAPTER)} == {"numeric", "choice", "code"}


@pytest.mark.parametrize("seed", SEEDS)
def test_output_size_is_the_shape_torch_produces(seed):
    inst = exercises.get(f"{CHAPTER}.output-size")(seed)
    p = inst.params
    z = F.conv2d(torch.zeros(1, 1, p["M1"], p["M2"]), torch.zeros(1, 1, p["K"], p["K"]),
                 stride=p["S"], padding=p["E"], dilation=p["G"])
    assert inst.solution == list(z.shape[2:])


@pytest.mark.parametrize("seed", range(16))
def test_conv1d_by_hand_matches_torch_conv1d_or_numpy_convolve(seed):
    inst = exercises.get(f"{CHAPTER}.conv1d-by-hand")(seed)
    p = inst.params
    x, w = np.array(p["x"]), np.array(p["w"])
    if p["mode"] == "conv1d":
        ref = F.conv1d(torch.tensor(x)[None, None], torch.tensor(w)[None, None],
                       stride=p["stride"], padding=p["padding"])[0, 0].numpy()
    else:
        ref = np.convolve(x, w, "full")
    assert np.array_equal(np.array(inst.solution), ref)


@pytest.mark.parametrize("seed", SEEDS)
def test_parameter_counts_are_torchs(seed):
    inst = exercises.get(f"{CHAPTER}.parameter-count")(seed)
    p = inst.params
    M, F_in, F_out, K = p["M"], p["F_in"], p["F_out"], p["K"]
    layer = nn.Conv2d(F_in, F_out, K, padding=K // 2, groups=p["groups"], device="meta")
    dense = nn.Linear(M * M * F_in, M * M * F_out, device="meta")
    assert inst.solution == [sum(q.numel() for q in layer.parameters()),
                             sum(q.numel() for q in dense.parameters())]
    assert layer(torch.zeros(1, F_in, M, M, device="meta")).shape[2:] == (M, M)


@pytest.mark.parametrize("seed", range(12))
def test_receptive_field_is_the_support_of_a_gradient_in_torch(seed):
    inst = exercises.get(f"{CHAPTER}.receptive-field")(seed)
    size, jump = inst.solution
    x = torch.zeros(1, 1, 200, dtype=torch.float64, requires_grad=True)
    a = x + 0
    for K, S in inst.params["layers"]:
        a = F.conv1d(a, torch.ones(1, 1, K, dtype=torch.float64), stride=S)
    a[0, 0, 3].backward(retain_graph=True)
    where = torch.nonzero(x.grad[0, 0]).flatten()
    assert int(where[-1] - where[0] + 1) == size
    first = int(where[0])
    x.grad.zero_()
    a[0, 0, 4].backward()
    assert int(torch.nonzero(x.grad[0, 0]).flatten()[0]) - first == jump


@pytest.mark.parametrize("seed", range(12))
def test_max_pool_answer_is_torchs_output_and_autograd_gradient(seed):
    inst = exercises.get(f"{CHAPTER}.max-pool-gradient")(seed)
    x = torch.tensor(inst.params["x"], dtype=torch.float64)[None, None].requires_grad_()
    z = F.max_pool2d(x, 2)
    z.backward(torch.tensor(inst.params["dz"], dtype=torch.float64)[None, None])
    expected = z.detach().flatten().tolist() + x.grad.flatten().tolist()
    assert inst.solution == expected
    # every variant has a tie, so the convention matters
    xs = np.array(inst.params["x"])
    assert any(np.sum(xs[r:r + 2, c:c + 2] == xs[r:r + 2, c:c + 2].max()) > 1
               for r in (0, 2) for c in (0, 2))


@pytest.mark.parametrize("seed", range(12))
def test_flip_choice_compares_torch_conv2d_with_scipy_convolve2d(seed):
    inst = exercises.get(f"{CHAPTER}.flip")(seed)
    w = np.array(inst.params["w"])
    x = np.random.default_rng(seed).standard_normal((9, 9))
    layer = F.conv2d(torch.tensor(x)[None, None], torch.tensor(w)[None, None])[0, 0].numpy()
    true = scipy.signal.convolve2d(x, w, mode="valid")
    expected = "a" if np.allclose(layer, true) else ("b" if np.allclose(layer, -true) else "c")
    assert inst.solution == expected


def test_the_flip_exercise_draws_every_case():
    answers = {exercises.get(f"{CHAPTER}.flip")(s).solution for s in range(20)}
    assert answers == {"a", "b", "c"}


@pytest.mark.parametrize("seed", range(4))
def test_corr2d_code_tests_are_torchs_conv2d_and_the_reference_passes(seed):
    inst = exercises.get(f"{CHAPTER}.corr2d-code")(seed)
    for (x, w, stride, padding), expected in inst.tests:
        ref = F.conv2d(torch.tensor(x, dtype=torch.float64)[None, None],
                       torch.tensor(w, dtype=torch.float64)[None, None], stride=stride,
                       padding=padding)[0, 0].numpy()
        assert np.array_equal(np.array(expected), ref)
    assert inst.check(inst.solution).correct
    flipped = inst.solution.replace("np.sum(w * x", "np.sum(w[::-1, ::-1] * x")
    assert not inst.check(flipped).correct          # a true convolution is not the layer
    assert not inst.check(inst.starter).correct
