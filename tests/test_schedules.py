"""Tests of dlnotes.schedules against torch.optim.lr_scheduler over 300 steps.

Order: references (one torch scheduler per schedule; LambdaLR where torch has no class;
SequentialLR for warm-up), documented differences, the batch-size rule, bad inputs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from numpy.testing import assert_allclose
from torch.optim import lr_scheduler as L

from dlnotes import optim, schedules

from torch_references import scheduler_rates  # tests/ helper

STEPS = 300
LR = 0.1


def torch_rates(make_scheduler, steps=STEPS, lr=LR):
    """The lr torch's optimizer uses at steps 0..steps-1, with scheduler.step() after each."""
    return scheduler_rates(make_scheduler, steps, lr)


CASES = {
    "step": (schedules.step_decay(LR, step_size=30, gamma=0.5),
             lambda o: L.StepLR(o, step_size=30, gamma=0.5)),
    "multistep": (schedules.multistep(LR, [50, 120, 121, 250], gamma=0.3),
                  lambda o: L.MultiStepLR(o, milestones=[50, 120, 121, 250], gamma=0.3)),
    "exponential": (schedules.exponential(LR, gamma=0.99),
                    lambda o: L.ExponentialLR(o, gamma=0.99)),
    "cosine": (schedules.cosine(LR, total_steps=STEPS, min_lr=1e-3),
               lambda o: L.CosineAnnealingLR(o, T_max=STEPS, eta_min=1e-3)),
    "cosine-to-zero": (schedules.cosine(LR, total_steps=STEPS),
                       lambda o: L.CosineAnnealingLR(o, T_max=STEPS)),
    "linear-decay": (schedules.linear(LR, total_steps=200, start_factor=1.0, end_factor=0.0),
                     lambda o: L.LinearLR(o, start_factor=1.0, end_factor=0.0, total_iters=200)),
    "linear-ramp": (schedules.linear(LR, total_steps=100, start_factor=0.25, end_factor=1.0),
                    lambda o: L.LinearLR(o, start_factor=0.25, end_factor=1.0, total_iters=100)),
    "warm-restarts": (schedules.cosine_warm_restarts(LR, period=40),
                      lambda o: L.CosineAnnealingWarmRestarts(o, T_0=40)),
    "warm-restarts-doubling": (schedules.cosine_warm_restarts(LR, period=20, period_mult=2, min_lr=1e-3),
                               lambda o: L.CosineAnnealingWarmRestarts(o, T_0=20, T_mult=2, eta_min=1e-3)),
    "1/t": (schedules.inverse_time(LR, decay=0.05),
            lambda o: L.LambdaLR(o, lambda t: 1.0 / (1.0 + 0.05 * t))),
    "inverse-sqrt": (schedules.inverse_sqrt(LR, timescale=10.0),
                     lambda o: L.LambdaLR(o, lambda t: 1.0 / math.sqrt(1.0 + t / 10.0))),
    "warmup-from-zero": (schedules.warmup(schedules.constant(LR), warmup_steps=25),
                         lambda o: L.LambdaLR(o, lambda t: min(1.0, t / 25))),
    "warmup-then-cosine": (
        schedules.warmup(schedules.cosine(LR, total_steps=STEPS - 20), warmup_steps=20, start_factor=0.01),
        lambda o: L.SequentialLR(o, [L.LinearLR(o, start_factor=0.01, total_iters=20),
                                     L.CosineAnnealingLR(o, T_max=STEPS - 20)], milestones=[20])),
    "warmup-then-step": (
        schedules.warmup(schedules.step_decay(LR, 50, 0.5), warmup_steps=10, start_factor=0.1),
        lambda o: L.SequentialLR(o, [L.LinearLR(o, start_factor=0.1, total_iters=10),
                                     L.StepLR(o, step_size=50, gamma=0.5)], milestones=[10])),
}


@pytest.mark.parametrize("case", list(CASES))
def test_schedule_matches_torch_lr_scheduler_for_300_steps(case):
    ours, make = CASES[case]
    ref = torch_rates(make)
    assert_allclose(ours.values(STEPS), ref, rtol=1e-12, atol=1e-15)
    # a constant would match nothing above; make sure each case actually moves
    assert ref.max() > 1.5 * ref.min()


def test_warmup_then_inverse_sqrt_with_timescale_w_is_lr_sqrt_w_over_t():
    w = 40
    sched = schedules.warmup(schedules.inverse_sqrt(LR, timescale=w), warmup_steps=w)
    t = np.arange(w, 1000)
    assert_allclose([sched(int(k)) for k in t], LR * np.sqrt(w / t), rtol=1e-13)
    assert_allclose([sched(k) for k in range(w)], LR * np.arange(w) / w, rtol=1e-13)


def test_cosine_stays_at_min_lr_after_total_steps_where_torch_climbs_back():
    ours = schedules.cosine(LR, total_steps=100, min_lr=1e-3)
    ref = torch_rates(lambda o: L.CosineAnnealingLR(o, T_max=100, eta_min=1e-3), steps=200)
    assert_allclose(ours.values(101), ref[:101], rtol=1e-12)
    assert_allclose(ours.values(200)[100:], 1e-3)
    assert ref[199] > 0.09  # torch's cosine has come back up


def test_linear_warmup_composes_with_every_schedule_and_shifts_it():
    base = schedules.exponential(LR, 0.9)
    sched = schedules.warmup(base, warmup_steps=5, start_factor=0.2)
    assert_allclose(sched.values(5), LR * np.array([0.2, 0.36, 0.52, 0.68, 0.84]), rtol=1e-14)
    assert_allclose(sched.values(20)[5:], base.values(15), rtol=1e-14)


def test_schedule_drives_an_optimizer_like_torch_scheduler_drives_torch_sgd():
    rng = np.random.default_rng(0)
    x0 = rng.normal(size=4)
    grads = rng.normal(size=(60, 4))
    sched = schedules.warmup(schedules.cosine(0.2, 50), warmup_steps=10, start_factor=0.1)
    p = x0.copy()
    ours = optim.SGD([p], lr=sched(0), momentum=0.9)
    tp = torch.tensor(x0, requires_grad=True)
    topt = torch.optim.SGD([tp], lr=0.2, momentum=0.9)
    tsched = L.SequentialLR(topt, [L.LinearLR(topt, start_factor=0.1, total_iters=10),
                                   L.CosineAnnealingLR(topt, T_max=50)], milestones=[10])
    for t, g in enumerate(grads):
        ours.lr = sched(t)
        ours.step([g])
        tp.grad = torch.tensor(g)
        topt.step()
        tsched.step()
    assert_allclose(p, tp.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_schedule_values_and_call_agree_and_description_is_readable():
    s = schedules.step_decay(0.1, 10, 0.5)
    assert s(25) == pytest.approx(0.025)
    assert_allclose(s.values(30), [s(t) for t in range(30)])
    assert "step decay" in repr(s)
    assert s.values(0).shape == (0,)


# ------------------------------------------------------------- batch-size scaling rule

def test_linear_scaling_rule_one_big_step_equals_k_small_steps_while_the_gradient_is_constant():
    # For a loss that is linear in the parameters, per-sample gradients do not depend on x,
    # so k steps with batches of B at rate lr go exactly where one step with the union
    # batch of kB at rate k*lr goes: the rationale of the linear rule.
    rng = np.random.default_rng(0)
    per_sample = rng.normal(size=(32, 3))
    x0 = rng.normal(size=3)
    B, k, lr = 8, 4, 0.05
    x_small = x0.copy()
    for j in range(k):
        x_small = optim.gd_step(x_small, per_sample[j * B:(j + 1) * B].mean(axis=0), lr)
    big_lr = schedules.scale_lr_for_batch_size(lr, k * B, B)
    assert big_lr == pytest.approx(k * lr)
    x_big = optim.gd_step(x0, per_sample.mean(axis=0), big_lr)
    assert_allclose(x_small, x_big, rtol=1e-13)


def test_sqrt_scaling_rule_keeps_the_update_noise_constant():
    # the standard deviation of lr * (minibatch mean) scales like lr / sqrt(B)
    rng = np.random.default_rng(1)
    G = rng.normal(size=(4096, 2))
    lr0, b0 = 0.1, 16
    noise = {}
    for B in (16, 64, 256):
        lr = schedules.scale_lr_for_batch_size(lr0, B, b0, rule="sqrt")
        noise[B] = lr ** 2 * optim.minibatch_gradient_variance(G, B)
    assert_allclose(noise[64], noise[16], rtol=0.03)
    assert_allclose(noise[256], noise[16], rtol=0.1)


# ------------------------------------------------------------------------- bad inputs

@pytest.mark.parametrize("t", [-1, -100])
def test_a_negative_step_is_rejected(t):
    with pytest.raises(ValueError, match="t must be >= 0"):
        schedules.cosine(0.1, 10)(t)


@pytest.mark.parametrize("t", [1.5, "3", None, True])
def test_a_non_integer_step_is_rejected(t):
    with pytest.raises(TypeError, match="t must be an integer"):
        schedules.constant(0.1)(t)


@pytest.mark.parametrize("make", [
    lambda: schedules.constant(-0.1),
    lambda: schedules.exponential(float("nan"), 0.9),
    lambda: schedules.cosine(-1.0, 10),
])
def test_a_bad_base_learning_rate_is_rejected(make):
    with pytest.raises(ValueError, match="lr"):
        make()


def test_bad_schedule_arguments_name_the_argument():
    with pytest.raises(ValueError, match="gamma"):
        schedules.exponential(0.1, 1.5)
    with pytest.raises(ValueError, match="gamma"):
        schedules.step_decay(0.1, 10, gamma=0.0)
    with pytest.raises(ValueError, match="step_size"):
        schedules.step_decay(0.1, 0)
    with pytest.raises(TypeError, match="step_size"):
        schedules.step_decay(0.1, 2.5)
    with pytest.raises(ValueError, match="strictly increasing"):
        schedules.multistep(0.1, [30, 20])
    with pytest.raises(ValueError, match="total_steps"):
        schedules.cosine(0.1, 0)
    with pytest.raises(ValueError, match="min_lr"):
        schedules.cosine(0.1, 10, min_lr=0.2)
    with pytest.raises(ValueError, match="timescale"):
        schedules.inverse_sqrt(0.1, 0.0)
    with pytest.raises(ValueError, match="decay"):
        schedules.inverse_time(0.1, -1.0)
    with pytest.raises(ValueError, match="period_mult"):
        schedules.cosine_warm_restarts(0.1, 10, period_mult=0)
    with pytest.raises(ValueError, match="warmup_steps"):
        schedules.warmup(schedules.constant(0.1), 0)
    with pytest.raises(ValueError, match="start_factor"):
        schedules.warmup(schedules.constant(0.1), 5, start_factor=1.5)
    with pytest.raises(TypeError, match="schedule"):
        schedules.warmup(lambda t: 0.1, 5)
    with pytest.raises(ValueError, match="rule"):
        schedules.scale_lr_for_batch_size(0.1, 64, 32, rule="cubic")
    with pytest.raises(ValueError, match="batch_size"):
        schedules.scale_lr_for_batch_size(0.1, 0, 32)


@pytest.mark.parametrize("up, down", [(25, None), (10, 40), (1, 1)])
def test_cyclic_matches_torch_cycliclr_for_300_steps(up, down):
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.5)
    sched = torch.optim.lr_scheduler.CyclicLR(opt, base_lr=0.01, max_lr=0.3, step_size_up=up,
                                              step_size_down=down, mode="triangular",
                                              cycle_momentum=False)
    torch_rates = []
    for _ in range(300):
        torch_rates.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    ours = schedules.cyclic(0.01, 0.3, up, down).values(300)
    np.testing.assert_allclose(ours, torch_rates, rtol=0, atol=1e-15)


def test_cyclic_goes_up_then_down_and_repeats():
    c = schedules.cyclic(0.0, 1.0, 4, 6)
    assert c(0) == 0.0 and c(4) == pytest.approx(1.0) and c(10) == pytest.approx(0.0)
    assert c(2) == pytest.approx(0.5) and c(7) == pytest.approx(0.5)
    np.testing.assert_allclose(c.values(30)[:10], c.values(30)[10:20])


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(min_lr=0.5, max_lr=0.1, step_size_up=3), ValueError, "max_lr"),
    (dict(min_lr=-0.1, max_lr=0.1, step_size_up=3), ValueError, "min_lr"),
    (dict(min_lr=0.0, max_lr=0.1, step_size_up=0), ValueError, "step_size_up"),
    (dict(min_lr=0.0, max_lr=0.1, step_size_up=2.5), TypeError, "step_size_up"),
    (dict(min_lr=0.0, max_lr=0.1, step_size_up=2, step_size_down=0), ValueError, "step_size_down"),
])
def test_cyclic_rejects_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        schedules.cyclic(**kwargs)


# ------------------------------------------------ issue 7, B5, B6: regressions, exact errors

@pytest.mark.parametrize("make, name", [
    (lambda n: schedules.cosine(0.1, n), "total_steps"),
    (lambda n: schedules.linear(0.1, n), "total_steps"),
    (lambda n: schedules.cosine_warm_restarts(0.1, n), "period"),
    (lambda n: schedules.cosine_warm_restarts(0.1, 10, period_mult=n), "period_mult"),
    (lambda n: schedules.warmup(schedules.constant(0.1), n), "warmup_steps"),
    (lambda n: schedules.step_decay(0.1, n), "step_size"),
    (lambda n: schedules.multistep(0.1, [5, n]), r"milestones\[1\]"),
    (lambda n: schedules.cyclic(0.0, 0.1, n), "step_size_up"),
    (lambda n: schedules.scale_lr_for_batch_size(0.1, n, 32), "batch_size"),
])
def test_step_counts_beyond_2_to_the_53_are_rejected_when_the_schedule_is_built(make, name):
    # 2**1100 used to be accepted and to fail with OverflowError when the schedule was evaluated
    with pytest.raises(ValueError, match=rf"^{name} must be an integer <= 9007199254740992, got 2\*\*1100"):
        make(2 ** 1100)


@pytest.mark.parametrize("sched", [schedules.exponential(0.1, 0.5), schedules.cosine(0.1, 10),
                                   schedules.inverse_time(0.1, 1.0)], ids=repr)
def test_a_step_number_beyond_2_to_the_53_is_a_value_error(sched):
    with pytest.raises(ValueError, match=r"^t must be <= 2\*\*53 \(the largest step number\), got 2\*\*1100"):
        sched(2 ** 1100)
    assert sched(2 ** 53) >= 0.0


def test_values_bounds_the_number_of_steps():
    # values(2**70) used to loop for ever
    with pytest.raises(ValueError, match=r"^steps must be an integer <= 10000000, got 2\*\*70"):
        schedules.constant(0.1).values(2 ** 70)
    assert schedules.constant(0.1).values(0).shape == (0,)


@pytest.mark.parametrize("args, exc, match", [
    (("not callable", 0.1, "x"), TypeError, r"^fn must be a callable t -> learning rate, got str"),
    ((lambda t: 0.1, float("nan"), "x"), ValueError, r"^lr must be finite, got nan"),
    ((lambda t: 0.1, -1.0, "x"), ValueError, r"^lr must be >= 0"),
    ((lambda t: 0.1, 0.1, 3), TypeError, r"^description must be a string, got int"),
])
def test_the_public_schedule_constructor_checks_its_arguments(args, exc, match):
    # Schedule(fn, lr, description) used to accept all of these
    with pytest.raises(exc, match=match):
        schedules.Schedule(*args)


@pytest.mark.parametrize("fn, exc, match", [
    (lambda t: float("nan"), ValueError, r"^fn \(the schedule's function\) must return a finite rate >= 0, got nan at t = 3"),
    (lambda t: -0.5, ValueError, r"must return a finite rate >= 0, got -0\.5 at t = 3"),
    (lambda t: None, TypeError, r"must return a finite number, got NoneType at t = 3"),
    (lambda t: "0.1", TypeError, r"must return a number, got str at t = 3"),
    (lambda t: np.ones(2), TypeError, r"must return a number, got ndarray at t = 3"),
])
def test_a_schedule_whose_function_returns_no_rate_is_caught_at_the_call(fn, exc, match):
    sched = schedules.Schedule(fn, 0.1, "bad")
    with pytest.raises(exc, match=match):
        sched(3)


def test_rule_must_be_one_of_two_strings_even_when_it_is_an_array():
    with pytest.raises(ValueError, match=r"^rule must be one of \('linear', 'sqrt'\)"):
        schedules.scale_lr_for_batch_size(0.1, 64, 32, rule=np.array(["linear"]))


def test_a_scaled_rate_beyond_the_float_range_is_a_value_error():
    with pytest.raises(ValueError, match=r"^lr \* batch_size / base_batch_size overflows a float"):
        schedules.scale_lr_for_batch_size(1e308, 2 ** 53, 1)
    # lr * B overflows, lr * (B / B0) does not
    assert schedules.scale_lr_for_batch_size(5e307, 2 ** 20, 2 ** 19) == 1e308


@pytest.mark.parametrize("value", [2 ** 1024, 10 ** 400])
def test_a_huge_integer_rate_is_a_value_error(value):
    with pytest.raises(ValueError, match=r"^lr must be finite, got an integer too large for a float"):
        schedules.constant(value)
