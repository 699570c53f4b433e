"""The exercises of *Learning-rate schedules*: determinism, grading, and every solution
checked against torch.optim.lr_scheduler or a closed form, never against the dlnotes call
that produced it."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from torch.optim import lr_scheduler as L

from dlnotes import exercises

CHAPTER = "schedules"
IDS = [e.id for e in exercises.for_chapter(CHAPTER)]
SEEDS = range(6)


def _torch_rate(make, t, lr):
    """The rate torch's SGD uses at step t (scheduler.step() after every optimizer step)."""
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=lr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        sched = make(opt)
        for _ in range(t):
            p.grad = torch.zeros(1)
            opt.step()
            sched.step()
    return opt.param_groups[0]["lr"]


def _torch_warmup_cosine(lr, W, T, t):
    # torch's LinearLR cannot start at exactly 0; 1e-12 of the peak is 0 to the tolerance used
    return _torch_rate(lambda o: L.SequentialLR(o, [L.LinearLR(o, start_factor=1e-12, total_iters=W),
                                                    L.CosineAnnealingLR(o, T_max=T)], milestones=[W]),
                       t, lr)


def test_the_chapter_has_at_least_five_exercises_with_valid_metadata():
    assert len(IDS) >= 5
    assert {e.answer_type for e in exercises.for_chapter(CHAPTER)} == {"numeric", "code"}
    for e in exercises.for_chapter(CHAPTER):
        assert e.id.startswith(CHAPTER + ".") and e.points > 0


@pytest.mark.parametrize("seed", SEEDS)
def test_warmup_cosine_rate_matches_torch_sequential_lr(seed):
    inst = exercises.get("schedules.warmup-cosine")(seed)
    p = inst.params
    expected = _torch_warmup_cosine(p["lr"], p["warmup"], p["total"], p["t"])
    assert inst.solution == pytest.approx(expected, rel=1e-9, abs=1e-12 * p["lr"])


@pytest.mark.parametrize("seed", SEEDS)
def test_step_decay_rate_matches_torch_step_lr_stepped_once_per_epoch(seed):
    inst = exercises.get("schedules.step-decay")(seed)
    p = inst.params
    epoch = p["t"] // p["steps_per_epoch"]
    expected = _torch_rate(lambda o: L.StepLR(o, step_size=p["every_epochs"], gamma=p["gamma"]),
                           epoch, p["lr"])
    assert inst.solution == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_exponential_rate_matches_torch_exponential_lr_and_the_closed_form(seed):
    inst = exercises.get("schedules.exponential")(seed)
    p = inst.params
    assert inst.solution == pytest.approx(p["lr"] * math.exp(-p["k"] * p["t"]), rel=1e-12)
    expected = _torch_rate(lambda o: L.ExponentialLR(o, gamma=math.exp(-p["k"])), p["t"], p["lr"])
    assert inst.solution == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("seed", SEEDS)
def test_batch_scaling_matches_the_closed_forms(seed):
    inst = exercises.get("schedules.batch-scaling")(seed)
    p = inst.params
    k = p["batch_size"] / p["base_batch_size"]
    assert inst.solution == pytest.approx([p["lr"] * k, p["lr"] * math.sqrt(k)], rel=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_warm_restarts_rate_matches_torch_cosine_annealing_warm_restarts(seed):
    inst = exercises.get("schedules.warm-restarts")(seed)
    p = inst.params
    expected = _torch_rate(lambda o: L.CosineAnnealingWarmRestarts(o, T_0=p["period"],
                                                                   T_mult=p["period_mult"]),
                           p["t"], p["lr"])
    assert inst.solution == pytest.approx(expected, rel=1e-9, abs=1e-15)


@pytest.mark.parametrize("seed", SEEDS)
def test_inverse_time_step_is_the_ceiling_of_the_closed_form(seed):
    inst = exercises.get("schedules.inverse-time")(seed)
    p = inst.params
    assert inst.solution == math.ceil((p["fraction"] - 1) / p["k"])


@pytest.mark.parametrize("seed", SEEDS)
def test_warmup_cosine_code_tests_expect_torch_rates_and_zero_after_the_run(seed):
    inst = exercises.get("schedules.warmup-cosine-code")(seed)
    p = inst.params
    for (t, lr, W, T), expected in inst.tests:
        if t <= W + T:
            ref = _torch_warmup_cosine(lr, W, T, t)
        else:
            ref = 0.0       # torch's cosine would climb back up here; the exercise stays at 0
        assert expected == pytest.approx(ref, rel=1e-9, abs=1e-12 * lr), t
    assert inst.check(inst.solution).correct
    assert inst.check(inst.starter).score < inst.points


@pytest.mark.parametrize("seed", SEEDS)
def test_warmup_cosine_code_torch_claims_of_the_explanation_hold(seed):
    inst = exercises.get("schedules.warmup-cosine-code")(seed)
    p = inst.params
    lr, W, T = p["lr"], p["warmup"], p["total"]
    namespace: dict = {}
    exec(inst.solution, namespace)                      # the reference solution of the exercise
    ref = namespace["warmup_cosine"]
    # "LambdaLR(opt, lambda t: warmup_cosine(t, 1.0, W, T)) gives exactly these rates", for every step
    for t in range(W + T + 10):
        got = _torch_rate(lambda o: L.LambdaLR(o, lambda s: ref(s, 1.0, W, T)), t, lr)
        assert got == pytest.approx(ref(t, lr, W, T), rel=1e-12, abs=1e-15)
    # "SequentialLR with start_factor=1e-12 agrees to within 1e-12 alpha for the first W + T steps"
    for t in range(W + T + 1):
        assert abs(_torch_warmup_cosine(lr, W, T, t) - ref(t, lr, W, T)) <= 1e-12 * lr * (1 + 1e-9)
    assert f"start_factor=1e-12, total_iters={W}" in inst.explanation
    assert f"LambdaLR(opt, lambda t: warmup_cosine(t, 1.0, {W}, {T}))" in inst.explanation
    with pytest.raises(ValueError):                     # "LinearLR refuses to start from exactly 0"
        L.LinearLR(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr), start_factor=0.0)
