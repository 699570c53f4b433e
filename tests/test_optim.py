"""Tests of dlnotes.optim against torch.optim, closed forms and exact enumeration.

Order: references (torch.optim on the real gradients of an MLP on digits, for the
optimizers and for the update rules, with the documented mappings), equivalences between
formulations, behaviour (AdaGrad's rates, Adam's first step, weight decay), the
in-place / float32 / threaded machinery, the runner, properties, bad inputs.
"""

from __future__ import annotations

import inspect
import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.testing import assert_allclose, assert_array_equal

from dlnotes import optim, regularization
from dlnotes.landscapes import Rosenbrock, ill_conditioned_quadratic, stability_bound
from optim_references import TorchMLP, max_diff, start_arrays

STEPS = 200
TOL = 1e-10
PROPERTY = settings(max_examples=50, deadline=None)


# The torch reference model (TorchMLP) and helpers live in optim_references.py, shared with
# test_optim_torch_args.py.


# ---------------------------------------------------- optimizers == torch.optim, 200 steps

OPTIMIZER_CASES = {
    "sgd": (optim.SGD, dict(lr=0.1), torch.optim.SGD, dict(lr=0.1)),
    "sgd-momentum": (optim.SGD, dict(lr=0.05, momentum=0.9),
                     torch.optim.SGD, dict(lr=0.05, momentum=0.9, dampening=0)),
    "sgd-nesterov": (optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True),
                     torch.optim.SGD, dict(lr=0.05, momentum=0.9, dampening=0, nesterov=True)),
    "sgd-momentum-weight-decay": (optim.SGD, dict(lr=0.05, momentum=0.8, weight_decay=1e-2),
                                  torch.optim.SGD, dict(lr=0.05, momentum=0.8, weight_decay=1e-2)),
    "sgd-weight-decay": (optim.SGD, dict(lr=0.1, weight_decay=1e-2),
                         torch.optim.SGD, dict(lr=0.1, weight_decay=1e-2)),
    "sgd-nesterov-weight-decay": (optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-2),
                                  torch.optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True,
                                                        weight_decay=1e-2)),
    "adagrad": (optim.Adagrad, dict(lr=0.05), torch.optim.Adagrad, dict(lr=0.05)),
    "adagrad-accumulator-weight-decay": (
        optim.Adagrad, dict(lr=0.05, initial_accumulator_value=0.1, weight_decay=1e-2, eps=1e-6),
        torch.optim.Adagrad, dict(lr=0.05, initial_accumulator_value=0.1, weight_decay=1e-2, eps=1e-6)),
    # RMSprop: our beta is torch's alpha
    "rmsprop": (optim.RMSprop, dict(lr=1e-3, beta=0.9), torch.optim.RMSprop, dict(lr=1e-3, alpha=0.9)),
    "rmsprop-weight-decay": (optim.RMSprop, dict(lr=1e-3, weight_decay=1e-2, eps=1e-6),
                             torch.optim.RMSprop, dict(lr=1e-3, weight_decay=1e-2, eps=1e-6)),
    "adam": (optim.Adam, dict(lr=1e-3), torch.optim.Adam, dict(lr=1e-3)),
    "adam-l2-weight-decay": (optim.Adam, dict(lr=2e-3, betas=(0.8, 0.99), weight_decay=1e-2),
                             torch.optim.Adam, dict(lr=2e-3, betas=(0.8, 0.99), weight_decay=1e-2)),
    "adamw": (optim.AdamW, dict(lr=1e-3, weight_decay=0.1), torch.optim.AdamW, dict(lr=1e-3, weight_decay=0.1)),
}


@pytest.mark.parametrize("case", list(OPTIMIZER_CASES))
def test_optimizer_matches_torch_for_200_steps_on_mlp_gradients(case, data):
    ours_cls, ours_kw, torch_cls, torch_kw = OPTIMIZER_CASES[case]
    model = TorchMLP(data)
    params = start_arrays(model)
    ours = ours_cls(params, **ours_kw)
    ref = torch_cls(model.params, foreach=True, **torch_kw)
    worst = 0.0
    for t in range(STEPS):
        grads = model.grads(t)
        ref.step()
        ours.step(grads)
        worst = max(worst, max_diff(params, model.numpy()))
    assert worst < TOL
    # the run must have moved the weights, or the comparison says nothing
    assert max_diff(params, start_arrays(TorchMLP(data))) > 1e-3


def test_adagrad_lr_decay_is_the_1_over_t_schedule_on_lr(data):
    from dlnotes.schedules import inverse_time

    model = TorchMLP(data)
    params = start_arrays(model)
    ours = optim.Adagrad(params, lr=0.05)
    ref = torch.optim.Adagrad(model.params, lr=0.05, lr_decay=0.01, foreach=True)
    sched = inverse_time(0.05, decay=0.01)
    for t in range(STEPS):
        grads = model.grads(t)
        ref.step()
        ours.lr = sched(t)
        ours.step(grads)
    assert max_diff(params, model.numpy()) < TOL


def test_sgd_follows_a_changing_lr_like_torch(data):
    # the gradient-sum buffer is rescaled by a new lr at once, as in torch
    model = TorchMLP(data)
    params = start_arrays(model)
    ours = optim.SGD(params, lr=0.1, momentum=0.9)
    ref = torch.optim.SGD(model.params, lr=0.1, momentum=0.9)
    for t in range(STEPS):
        grads = model.grads(t)
        lr = 0.1 * 0.99 ** t
        ref.param_groups[0]["lr"] = lr
        ref.step()
        ours.lr = lr
        ours.step(grads)
    assert max_diff(params, model.numpy()) < TOL


def test_adam_without_bias_correction_matches_torch_adam_with_rescaled_lr_and_eps(data):
    # torch step: lr_t/(1-b1^t) * m / (sqrt(s)/sqrt(1-b2^t) + eps_t). With
    # lr_t = lr (1-b1^t)/sqrt(1-b2^t) and eps_t = eps/sqrt(1-b2^t) it is lr m/(sqrt(s)+eps).
    b1, b2, lr, eps = 0.9, 0.999, 1e-3, 1e-8
    model = TorchMLP(data)
    params = start_arrays(model)
    ours = optim.Adam(params, lr=lr, betas=(b1, b2), eps=eps, bias_correction=False)
    ref = torch.optim.Adam(model.params, lr=lr, betas=(b1, b2), eps=eps, foreach=True)
    for t in range(1, STEPS + 1):
        grads = model.grads(t - 1)
        c2 = np.sqrt(1 - b2 ** t)
        ref.param_groups[0]["lr"] = lr * (1 - b1 ** t) / c2
        ref.param_groups[0]["eps"] = eps / c2
        ref.step()
        ours.step(grads)
    assert max_diff(params, model.numpy()) < TOL


def test_rmsprop_eps_is_added_outside_the_square_root_like_torch():
    # with a large eps the two placements differ by a lot; torch's is outside
    g = np.array([0.3, -2.0, 1e-3])
    x = np.zeros(3)
    eps = 0.5
    p = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    p.grad = torch.tensor(g)
    torch.optim.RMSprop([p], lr=0.1, alpha=0.9, eps=eps).step()
    optim.RMSprop([x], lr=0.1, beta=0.9, eps=eps).step([g])
    s = 0.1 * g * g
    assert_allclose(x, -0.1 * g / (np.sqrt(s) + eps), rtol=1e-14)
    assert_allclose(x, p.detach().numpy(), rtol=1e-14)
    assert np.max(np.abs(x + 0.1 * g / np.sqrt(s + eps))) > 1e-2


# ------------------------------------------------ update rules == torch.optim, 200 steps
#
# Each rule runs on every parameter array of the MLP with its own state, fed the same
# gradients as torch. Where our state is in other units, the mapping is applied.

def _run_rule(rule, data, torch_cls, torch_kw, n_state):
    model = TorchMLP(data)
    xs = start_arrays(model)
    states = [[np.zeros_like(x) for _ in range(n_state)] for x in xs]
    ref = torch_cls(model.params, foreach=True, **torch_kw)
    worst = 0.0
    for t in range(1, STEPS + 1):
        grads = model.grads(t - 1)
        ref.step()
        for i, g in enumerate(grads):
            xs[i], *states[i] = rule(xs[i], states[i], g, t)
        worst = max(worst, max_diff(xs, model.numpy()))
    return worst


RULE_CASES = {
    "gd_step": (lambda x, s, g, t: (optim.gd_step(x, g, 0.1),), 0, torch.optim.SGD, dict(lr=0.1)),
    "momentum_step": (lambda x, s, g, t: optim.momentum_step(x, s[0], g, 0.05, 0.9), 1,
                      torch.optim.SGD, dict(lr=0.05, momentum=0.9)),
    # velocity v = -lr * torch's buffer; the iterates are the same
    "momentum_velocity_step": (lambda x, s, g, t: optim.momentum_velocity_step(x, s[0], g, 0.05, 0.9), 1,
                               torch.optim.SGD, dict(lr=0.05, momentum=0.9)),
    # the rearranged form's iterate is torch's parameter (the look-ahead point)
    "nesterov_step": (lambda x, s, g, t: optim.nesterov_step(x, s[0], g, 0.05, 0.9), 1,
                      torch.optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True)),
    "adagrad_step": (lambda x, s, g, t: optim.adagrad_step(x, s[0], g, 0.05), 1,
                     torch.optim.Adagrad, dict(lr=0.05)),
    "rmsprop_step": (lambda x, s, g, t: optim.rmsprop_step(x, s[0], g, 1e-3, beta=0.95), 1,
                     torch.optim.RMSprop, dict(lr=1e-3, alpha=0.95)),
    "adam_step": (lambda x, s, g, t: optim.adam_step(x, s[0], s[1], g, t, 1e-3), 2,
                  torch.optim.Adam, dict(lr=1e-3)),
    "adam_step-l2": (lambda x, s, g, t: optim.adam_step(x, s[0], s[1], g, t, 1e-3, weight_decay=0.05), 2,
                     torch.optim.Adam, dict(lr=1e-3, weight_decay=0.05)),
    "adamw_step": (lambda x, s, g, t: optim.adamw_step(x, s[0], s[1], g, t, 1e-3, weight_decay=0.1), 2,
                   torch.optim.AdamW, dict(lr=1e-3, weight_decay=0.1)),
}


@pytest.mark.parametrize("case", list(RULE_CASES))
def test_update_rule_matches_torch_for_200_steps_on_mlp_gradients(case, data):
    rule, n_state, torch_cls, torch_kw = RULE_CASES[case]
    assert _run_rule(rule, data, torch_cls, torch_kw, n_state) < TOL


def test_momentum_velocity_is_minus_lr_times_torch_momentum_buffer(data):
    model = TorchMLP(data)
    xs = start_arrays(model)
    vs = [np.zeros_like(x) for x in xs]
    ref = torch.optim.SGD(model.params, lr=0.05, momentum=0.9)
    for t in range(50):
        grads = model.grads(t)
        ref.step()
        for i, g in enumerate(grads):
            xs[i], vs[i] = optim.momentum_velocity_step(xs[i], vs[i], g, 0.05, 0.9)
    for v, p in zip(vs, model.params):
        buf = ref.state[p]["momentum_buffer"].numpy()
        assert_allclose(v, optim.velocity_from_buffer(buf, 0.05), rtol=1e-10, atol=1e-14)


# ------------------------------------------------------------- equivalent formulations

def test_the_two_momentum_formulations_give_the_same_iterates_on_rosenbrock():
    f = Rosenbrock()
    lr, rho = 1e-3, 0.9
    xa, va = np.array([-1.2, 1.0]), np.zeros(2)
    xb, vb = xa.copy(), np.zeros(2)
    for _ in range(1000):
        xa, va = optim.momentum_step(xa, va, f.grad(xa), lr, rho)
        xb, vb = optim.momentum_velocity_step(xb, vb, f.grad(xb), lr, rho)
        assert np.max(np.abs(xa - xb)) < 1e-12
        assert_allclose(vb, -lr * va, rtol=1e-9, atol=1e-15)
    assert np.linalg.norm(xa - np.array([-1.2, 1.0])) > 0.5  # it went somewhere


def test_the_two_momentum_formulations_differ_once_the_learning_rate_changes():
    f = ill_conditioned_quadratic(10.0)
    xa, va = np.array([1.0, 1.0]), np.zeros(2)
    xb, vb = xa.copy(), np.zeros(2)
    for t in range(20):
        lr = 0.5 if t < 10 else 0.05
        xa, va = optim.momentum_step(xa, va, f.grad(xa), lr, 0.9)
        xb, vb = optim.momentum_velocity_step(xb, vb, f.grad(xb), lr, 0.9)
    assert np.max(np.abs(xa - xb)) > 1e-2


def test_sgd_nesterov_optimizer_follows_the_lookahead_form_shifted_by_rho_v():
    # torch-style SGD(nesterov=True) iterates are the look-ahead points x + rho v
    f = Rosenbrock(b=10.0)
    lr, rho = 2e-3, 0.9
    x, v = np.array([-1.0, 2.0]), np.zeros(2)
    p = x.copy()
    opt = optim.SGD([p], lr=lr, momentum=rho, nesterov=True)
    for _ in range(500):
        x, v = optim.nesterov_lookahead_step(x, v, f.grad, lr, rho)
        opt.step([f.grad(p)])
        assert np.max(np.abs(p - (x + rho * v))) < 1e-12


def test_stateful_optimizers_agree_with_the_update_rules():
    rng = np.random.default_rng(3)
    x0 = rng.normal(size=(7, 3))
    grads = [rng.normal(size=(7, 3)) for _ in range(30)]
    p = x0.copy()
    opt = optim.Adam([p], lr=0.01, betas=(0.8, 0.9), eps=1e-6, bias_correction=False)
    x, m, s = x0, np.zeros_like(x0), np.zeros_like(x0)
    for t, g in enumerate(grads, start=1):
        opt.step([g])
        x, m, s = optim.adam_step(x, m, s, g, t, 0.01, (0.8, 0.9), 1e-6, bias_correction=False)
    assert_allclose(p, x, rtol=1e-13, atol=1e-15)
    assert_allclose(opt.state[0]["m"], m, rtol=1e-13)
    assert_allclose(opt.state[0]["s"], s, rtol=1e-13)


# -------------------------------------------------------------------------- behaviour

def test_adagrad_per_coordinate_rate_never_increases(data):
    model = TorchMLP(data)
    params = start_arrays(model)
    opt = optim.Adagrad(params, lr=0.05)
    prev = opt.effective_lr()
    assert all(np.all(r == 0.05 / 1e-10) for r in prev)
    decreased = 0
    for t in range(100):
        opt.step(model.grads(t))
        now = opt.effective_lr()
        for a, b in zip(prev, now):
            assert np.all(b <= a)
            decreased += int(np.sum(b < a))
        prev = now
    assert decreased > 0


@given(hnp.arrays(np.float64, (20, 4), elements=st.floats(-1e3, 1e3)))
@PROPERTY
def test_adagrad_rate_never_increases_for_any_gradient_sequence(gs):
    p = np.zeros(4)
    opt = optim.Adagrad([p], lr=1.0, eps=1e-10)
    prev = opt.effective_lr()[0]
    for g in gs:
        opt.step([g])
        now = opt.effective_lr()[0]
        assert np.all(now <= prev)
        prev = now


def test_adam_first_bias_corrected_step_moves_every_coordinate_by_about_lr():
    g = np.array([1e-3, -0.5, 2.0, -30.0, 4e3])
    lr = 1e-3
    p = np.zeros_like(g)
    optim.Adam([p], lr=lr).step([g])
    assert_allclose(np.abs(p), lr, rtol=2e-5)
    assert_array_equal(np.sign(p), -np.sign(g))
    assert_allclose(optim.adam_first_step(g, lr=lr), p, rtol=1e-12)


def test_adam_first_step_without_bias_correction_is_3_16_times_too_long():
    g = np.array([1e-2, -0.5, 2.0, -30.0])
    step = optim.adam_first_step(g, lr=1e-3, bias_correction=False)
    factor = 0.1 / np.sqrt(0.001)
    # eps = 1e-8 against sqrt(1 - beta2)|g| >= 3e-4 shifts the smallest entry by 3e-5
    assert_allclose(np.abs(step), factor * 1e-3, rtol=1e-4)
    assert 3.16 < factor < 3.17


def test_adam_uncorrected_step_factor_matches_running_adam_on_a_constant_gradient():
    g = np.full(3, 0.7)
    a, b = np.zeros(3), np.zeros(3)
    corrected = optim.Adam([a], lr=1e-3, eps=1e-14)
    uncorrected = optim.Adam([b], lr=1e-3, eps=1e-14, bias_correction=False)
    t = np.arange(1, 301)
    ratios = []
    for _ in t:
        a0, b0 = a.copy(), b.copy()
        corrected.step([g])
        uncorrected.step([g])
        ratios.append((b - b0)[0] / (a - a0)[0])
    assert_allclose(ratios, optim.adam_uncorrected_step_factor(t), rtol=1e-9)
    peak = int(t[np.argmax(ratios)])
    assert peak == 12 and 6.5 < max(ratios) < 6.6


def test_weight_decay_is_an_l2_penalty_of_strength_half_lambda():
    # torch's weight_decay=wd adds wd*x to the gradient: dlnotes.regularization's
    # L2 penalty lambda*sum(x^2) with lambda = wd/2
    rng = np.random.default_rng(0)
    x0 = rng.normal(size=5)
    a, b = x0.copy(), x0.copy()
    wd = 0.3
    opt_a = optim.SGD([a], lr=0.1, momentum=0.5, weight_decay=wd)
    opt_b = optim.SGD([b], lr=0.1, momentum=0.5)
    for _ in range(20):
        g = rng.normal(size=5)
        gb = g + (wd / 2) * regularization.l2_penalty_grad(b)
        opt_a.step([g])
        opt_b.step([gb])
    assert_allclose(a, b, rtol=1e-13)


def test_for_sgd_coupled_weight_decay_is_the_same_as_decoupled_shrinkage():
    rng = np.random.default_rng(1)
    x = rng.normal(size=6)
    g = rng.normal(size=6)
    p = x.copy()
    optim.SGD([p], lr=0.1, weight_decay=0.2).step([g])
    assert_allclose(p, (1 - 0.1 * 0.2) * x - 0.1 * g, rtol=1e-14)


def test_adamw_shrinks_every_weight_by_one_factor_but_adam_l2_by_one_amount():
    # with no loss gradient: AdamW multiplies by (1 - lr*wd); Adam with L2 normalises the
    # decay term, so its first step moves every weight by about lr, big or small
    x = np.array([1e-3, 0.1, 1.0, -10.0])
    lr, wd = 1e-2, 0.1
    a, b = x.copy(), x.copy()
    optim.AdamW([a], lr=lr, weight_decay=wd).step([np.zeros(4)])
    optim.Adam([b], lr=lr, weight_decay=wd).step([np.zeros(4)])
    assert_allclose(a, (1 - lr * wd) * x, rtol=1e-15)
    assert_allclose(np.abs(b - x), lr, rtol=1e-4)


def test_gd_on_a_quadratic_converges_below_2_over_lambda_max_and_diverges_above():
    q = ill_conditioned_quadratic(20.0, lambda_max=4.0, angle=0.3)
    bound = stability_bound(q)
    assert_allclose(bound, 0.5)
    x0 = np.array([1.0, -2.0])
    below = optim.run(lambda p: optim.SGD(p, lr=0.98 * bound), q, q.grad, x0, 2000)
    above = optim.run(lambda p: optim.SGD(p, lr=1.02 * bound), q, q.grad, x0, 2000)
    assert below.losses[-1] < 1e-12 and not below.diverged
    assert above.diverged or above.losses[-1] > 1e6


def test_minibatch_gradient_variance_matches_enumeration_of_all_batches():
    rng = np.random.default_rng(0)
    G = rng.normal(size=(7, 3)) + np.array([1.0, -2.0, 0.5])
    gbar = G.mean(axis=0)
    for B in range(1, 8):
        errs = [np.sum((G[list(c)].mean(axis=0) - gbar) ** 2)
                for c in itertools.combinations(range(7), B)]
        assert_allclose(optim.minibatch_gradient_variance(G, B), np.mean(errs), rtol=1e-12, atol=1e-15)
    assert optim.minibatch_gradient_variance(G, 7) == pytest.approx(0.0, abs=1e-15)


def test_defaults_are_torch_defaults():
    names = {"SGD": torch.optim.SGD, "Adagrad": torch.optim.Adagrad, "RMSprop": torch.optim.RMSprop,
             "Adam": torch.optim.Adam, "AdamW": torch.optim.AdamW}
    rename = {"beta": "alpha"}
    for name, cls in names.items():
        torch_defaults = {k: v.default for k, v in inspect.signature(cls).parameters.items()}
        ours = {k: v.default for k, v in inspect.signature(getattr(optim, name)).parameters.items()
                if k != "params"}
        for k, v in optim.DEFAULTS[name].items():
            assert ours[k] == v, (name, k)
            assert torch_defaults[rename.get(k, k)] == v, (name, k)
        # every hyperparameter torch shares with us is in the table
        assert set(optim.DEFAULTS[name]) == {k for k in ours if rename.get(k, k) in torch_defaults}


# ------------------------------------------------- in place, float32, threads, chunks

def test_step_updates_the_given_arrays_in_place_and_leaves_the_gradients_alone():
    W = np.ones((3, 2))
    b = np.zeros(2)
    gW, gb = np.full((3, 2), 0.5), np.full(2, -1.0)
    gW0, gb0 = gW.copy(), gb.copy()
    opt = optim.Adam([W, b], lr=0.1, weight_decay=0.5)
    opt.step([gW, gb])
    assert opt.params[0] is W and opt.params[1] is b
    assert np.all(W < 1) and np.all(b > 0)
    assert_array_equal(gW, gW0)
    assert_array_equal(gb, gb0)


@pytest.mark.parametrize("case", ["sgd-nesterov", "adagrad", "rmsprop", "adam", "adamw"])
def test_optimizers_work_in_float32_and_match_torch_float32(case, data):
    ours_cls, ours_kw, torch_cls, torch_kw = OPTIMIZER_CASES[case]
    model = TorchMLP(data, dtype=torch.float32)
    params = start_arrays(model, np.float32)
    ours = ours_cls(params, **ours_kw)
    ref = torch_cls(model.params, foreach=True, **torch_kw)
    for t in range(50):
        grads = model.grads(t)
        assert grads[0].dtype == np.float32
        ref.step()
        ours.step(grads)
    assert all(p.dtype == np.float32 for p in params)
    assert all(s.dtype == np.float32 for st_ in ours.state for s in st_.values())
    assert max_diff(params, model.numpy()) < 1e-5


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_arrays_give_identical_results_with_one_or_two_threads(dtype):
    n = 3 * optim._chunk_elements(np.dtype(dtype)) + 17  # several chunks and a ragged end
    rng = np.random.default_rng(5)
    x0 = rng.normal(size=n).astype(dtype)
    grads = [rng.normal(size=n).astype(dtype) for _ in range(3)]
    results = []
    old = optim.get_num_threads()
    try:
        for threads in (1, 2):
            optim.set_num_threads(threads)
            p = x0.copy()
            opt = optim.AdamW([p], lr=1e-2, weight_decay=0.1)
            for g in grads:
                opt.step([g])
            results.append(p)
    finally:
        optim.set_num_threads(old)
    assert_array_equal(results[0], results[1])
    ref = torch.tensor(x0.astype(np.float64), requires_grad=True)
    topt = torch.optim.AdamW([ref], lr=1e-2, weight_decay=0.1, foreach=True)
    for g in grads:
        ref.grad = torch.tensor(g.astype(np.float64))
        topt.step()
    tol = 1e-12 if dtype == np.float64 else 1e-5
    assert np.max(np.abs(results[0] - ref.detach().numpy())) < tol


def test_optimizer_accepts_a_single_array_and_a_plain_list_gradient():
    p = np.zeros(2)
    opt = optim.SGD(p, lr=0.5)
    opt.step([1.0, -2.0])
    assert_allclose(p, [-0.5, 1.0])
    opt.step(np.array([1.0, 1.0]))
    assert_allclose(p, [-1.0, 0.5])
    assert opt.t == 2


# ------------------------------------------------------------------------------ runner

def test_run_records_iterates_losses_gradient_norms_and_scheduled_rates():
    q = ill_conditioned_quadratic(5.0)
    x0 = np.array([1.0, 1.0])
    tr = optim.run(lambda p: optim.SGD(p, lr=0.1), q, q.grad, x0, 30, schedule=lambda t: 0.1 / (1 + t))
    assert tr.xs.shape == (31, 2) and tr.losses.shape == (31,) and tr.lrs.shape == (30,)
    assert_allclose(tr.xs[0], x0)
    assert_allclose(tr.losses, [q(x) for x in tr.xs])
    assert_allclose(tr.grad_norms, [np.linalg.norm(q.grad(x)) for x in tr.xs])
    assert_allclose(tr.lrs, 0.1 / (1 + np.arange(30)))
    # replay by hand
    x = x0.copy()
    for t in range(30):
        x = optim.gd_step(x, q.grad(x), 0.1 / (1 + t))
    assert_allclose(tr.final, x, rtol=1e-14)


def test_run_stops_and_flags_a_divergence_without_warnings():
    q = ill_conditioned_quadratic(2.0, lambda_max=1.0)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tr = optim.run(lambda p: optim.SGD(p, lr=5.0), q, q.grad, [1.0, 1.0], 5000)
    assert tr.diverged
    assert np.isnan(tr.losses[-1]) and np.all(np.isfinite(tr.final))


def test_race_runs_every_optimizer_from_the_same_start():
    f = Rosenbrock(b=10.0)
    out = optim.race({"sgd": lambda p: optim.SGD(p, lr=1e-3),
                      "adam": lambda p: optim.Adam(p, lr=1e-2)}, f, f.grad, [-1.0, 2.0], 100)
    assert list(out) == ["sgd", "adam"]
    for tr in out.values():
        assert_allclose(tr.xs[0], [-1.0, 2.0])
        assert tr.losses[-1] < tr.losses[0]


# ------------------------------------------------------------------------- bad inputs

@pytest.mark.parametrize("lr", [-0.1, float("nan"), float("inf")])
def test_bad_learning_rate_is_rejected_everywhere(lr):
    x = np.zeros(2)
    with pytest.raises(ValueError, match="lr"):
        optim.gd_step(x, x, lr)
    with pytest.raises(ValueError, match="lr"):
        optim.adam_step(x, x, x, x, 1, lr)
    with pytest.raises(ValueError, match="lr"):
        optim.SGD([x], lr=lr)
    opt = optim.Adam([x])
    with pytest.raises(ValueError, match="lr"):
        opt.lr = lr


def test_learning_rate_must_be_a_number():
    with pytest.raises(TypeError, match="lr"):
        optim.SGD([np.zeros(2)], lr="0.1")


@pytest.mark.parametrize("betas", [(1.0, 0.999), (0.9, 1.0), (-0.1, 0.9), (0.9, float("nan"))])
def test_betas_outside_0_1_are_rejected(betas):
    x = np.zeros(2)
    with pytest.raises(ValueError, match=r"betas\[[01]\]"):
        optim.Adam([x], betas=betas)
    with pytest.raises(ValueError, match=r"betas\[[01]\]"):
        optim.adam_step(x, x, x, x, 1, betas=betas)


def test_betas_must_be_a_pair():
    with pytest.raises(TypeError, match="betas"):
        optim.Adam([np.zeros(2)], betas=0.9)


@pytest.mark.parametrize("beta", [1.0, -0.5, float("nan")])
def test_rmsprop_beta_outside_0_1_is_rejected(beta):
    with pytest.raises(ValueError, match="beta"):
        optim.RMSprop([np.zeros(2)], beta=beta)
    with pytest.raises(ValueError, match="beta"):
        optim.rmsprop_step(np.zeros(2), np.zeros(2), np.ones(2), 0.1, beta=beta)


@pytest.mark.parametrize("momentum", [-0.1, 1.5, float("nan")])
def test_momentum_outside_0_1_is_rejected(momentum):
    with pytest.raises(ValueError, match="momentum"):
        optim.SGD([np.zeros(2)], momentum=momentum)
    with pytest.raises(ValueError, match="momentum"):
        optim.momentum_step(np.zeros(2), np.zeros(2), np.ones(2), 0.1, momentum)


def test_negative_eps_and_weight_decay_are_rejected():
    with pytest.raises(ValueError, match="eps"):
        optim.Adagrad([np.zeros(2)], eps=-1e-8)
    with pytest.raises(ValueError, match="weight_decay"):
        optim.AdamW([np.zeros(2)], weight_decay=-0.1)


def test_nesterov_needs_momentum():
    with pytest.raises(ValueError, match="momentum"):
        optim.SGD([np.zeros(2)], lr=0.1, nesterov=True)


def test_update_rules_reject_mismatched_shapes_naming_both_arguments():
    with pytest.raises(ValueError, match="x has shape .* grad has shape"):
        optim.gd_step(np.zeros(3), np.zeros(2), 0.1)
    with pytest.raises(ValueError, match="x has shape .* v has shape"):
        optim.momentum_step(np.zeros(3), np.zeros(4), np.zeros(3), 0.1, 0.9)
    with pytest.raises(ValueError, match="s has shape"):
        optim.adam_step(np.zeros(3), np.zeros(3), np.zeros((3, 1)), np.zeros(3), 1)


def test_update_rules_reject_nan_gradients():
    with pytest.raises(ValueError, match="grad must be finite"):
        optim.adagrad_step(np.zeros(2), np.zeros(2), np.array([1.0, np.nan]), 0.1)


def test_adam_step_number_must_start_at_1():
    x = np.zeros(2)
    with pytest.raises(ValueError, match="t must be >= 1"):
        optim.adam_step(x, x, x, x, 0)
    with pytest.raises(TypeError, match="t must be"):
        optim.adam_step(x, x, x, x, 1.5)


def test_step_rejects_gradients_of_the_wrong_shape_dtype_or_count():
    W, b = np.zeros((3, 2)), np.zeros(2)
    opt = optim.SGD([W, b], lr=0.1)
    with pytest.raises(ValueError, match=r"grads\[1\] has shape \(3,\) but params\[1\] has shape \(2,\)"):
        opt.step([np.zeros((3, 2)), np.zeros(3)])
    with pytest.raises(ValueError, match="expected 2, got 1"):
        opt.step([np.zeros((3, 2))])
    with pytest.raises(TypeError, match=r"grads\[0\] has dtype float32"):
        opt.step([np.zeros((3, 2), np.float32), np.zeros(2)])
    assert opt.t == 0


def test_params_must_be_float_arrays_that_can_be_updated_in_place():
    with pytest.raises(TypeError, match=r"params\[0\] must be a NumPy array"):
        optim.SGD([[1.0, 2.0]])
    with pytest.raises(TypeError, match="float32 or float64"):
        optim.SGD([np.zeros(3, dtype=np.int64)])
    with pytest.raises(ValueError, match="C-contiguous"):
        optim.SGD([np.zeros((4, 4))[:, 0]])
    with pytest.raises(ValueError, match="appears twice"):
        p = np.zeros(2)
        optim.SGD([p, p])


def test_minibatch_gradient_variance_rejects_a_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        optim.minibatch_gradient_variance(np.zeros((5, 2)), 6)
    with pytest.raises(TypeError, match="batch_size"):
        optim.minibatch_gradient_variance(np.zeros((5, 2)), 2.0)


def test_run_rejects_a_factory_that_ignores_its_params():
    other = np.zeros(2)
    with pytest.raises(ValueError, match="make_optimizer"):
        optim.run(lambda p: optim.SGD([other]), lambda x: 0.0, lambda x: x, [1.0, 1.0], 3)
    with pytest.raises(TypeError, match="make_optimizer"):
        optim.run(lambda p: None, lambda x: 0.0, lambda x: x, [1.0, 1.0], 3)


def test_rmsprop_effective_rate_recovers_after_large_gradients_while_adagrads_does_not():
    x_r, x_a = np.zeros(3), np.zeros(3)
    rms, ada = optim.RMSprop([x_r], lr=0.01, beta=0.9), optim.Adagrad([x_a], lr=0.01)
    for g in [np.full(3, 10.0)] * 20 + [np.full(3, 0.01)] * 200:
        rms.step([g.copy()])
        ada.step([g.copy()])
    # reference: torch's RMSprop keeps square_avg = s; the step divides by sqrt(s) + eps
    t = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    topt = torch.optim.RMSprop([t], lr=0.01, alpha=0.9, eps=1e-8)
    for g in [np.full(3, 10.0)] * 20 + [np.full(3, 0.01)] * 200:
        t.grad = torch.tensor(g)
        topt.step()
    s = topt.state[t]["square_avg"].numpy()
    np.testing.assert_allclose(rms.effective_lr()[0], 0.01 / (np.sqrt(s) + 1e-8), rtol=1e-12)
    assert rms.effective_lr()[0][0] > 100 * ada.effective_lr()[0][0]


def test_run_records_divergence_even_when_f_rejects_non_finite_input():
    # a dlnotes loss validates its input: a diverged iterate must end the run, not raise
    from dlnotes import losses

    def f(x):
        return losses.l2(x, np.zeros_like(x), reduction="sum")

    def grad_f(x):
        return losses.l2_grad(x, np.zeros_like(x), reduction="sum")

    traj = optim.run(lambda p: optim.SGD(p, lr=1e3), f, grad_f, np.array([1.0, -2.0]), 500)
    assert traj.diverged and np.isnan(traj.losses[-1])
    assert np.all(np.isfinite(traj.losses[:3]))


# ------------------------------------------ issue 7, B4, B6, B7: argument checks, regressions

@pytest.mark.parametrize("rule, name", [
    (lambda s: optim.adagrad_step(np.zeros(2), s, np.ones(2), 0.1), "s"),
    (lambda s: optim.rmsprop_step(np.zeros(2), s, np.ones(2), 0.1), "s"),
    (lambda s: optim.adam_step(np.zeros(2), np.zeros(2), s, np.ones(2), 3), "s"),
])
def test_update_rules_reject_a_negative_squared_gradient_accumulator(rule, name):
    # a negative s used to give NaN (the square root of a negative number)
    with pytest.raises(ValueError, match=rf"^{name} must be >= 0 .*got -0\.5 at flat index 1"):
        rule(np.array([0.1, -0.5]))


@pytest.mark.parametrize("call", [
    lambda: optim.adam_step(np.zeros(2), np.zeros(2), np.zeros(2), np.ones(2), 1, bias_correction="no"),
    lambda: optim.adam_first_step(np.ones(2), bias_correction="no"),
    lambda: optim.adam_first_step(np.ones(2), bias_correction=0),
    lambda: optim.Adam([np.zeros(2)], bias_correction="no"),
])
def test_bias_correction_must_be_a_boolean(call):
    # "no" used to count as True
    with pytest.raises(TypeError, match=r"bias_correction must be True or False, got 'no'|got 0"):
        call()


@pytest.mark.parametrize("cls", [optim.SGD, optim.Adagrad, optim.RMSprop, optim.Adam, optim.AdamW])
@pytest.mark.parametrize("bad, shown", [(np.nan, "nan"), (np.inf, "inf"), (-np.inf, "-inf")])
def test_optimizers_reject_non_finite_initial_parameters(cls, bad, shown):
    with pytest.raises(ValueError, match=rf"params\[1\] must be finite .*found {shown} at flat index 2"):
        cls([np.zeros(3), np.array([[0.0, 1.0], [bad, 2.0]])])


def test_eps_must_be_positive_in_every_adaptive_rule():
    for call in [lambda: optim.adagrad_step(np.zeros(2), np.zeros(2), np.zeros(2), 0.1, eps=0.0),
                 lambda: optim.rmsprop_step(np.zeros(2), np.zeros(2), np.zeros(2), 0.1, eps=0.0),
                 lambda: optim.adam_step(np.zeros(2), np.zeros(2), np.zeros(2), np.zeros(2), 1, eps=0.0),
                 lambda: optim.RMSprop([np.zeros(2)], eps=0.0)]:
        with pytest.raises(ValueError, match=r"eps must be > 0"):
            call()
    # torch allows eps = 0 and then steps a never-moved coordinate by 0/0 = NaN
    p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    p.grad = torch.zeros(1, dtype=torch.float64)
    torch.optim.Adagrad([p], eps=0.0).step()
    assert torch.isnan(p).all()


@pytest.mark.parametrize("bad, exc, match", [
    (lambda x: None, TypeError, r"grad_f\(x\) must return an array shaped like x \(2,\), got NoneType"),
    (lambda x: "ab", TypeError, r"grad_f\(x\) must return an array shaped like x"),
    (lambda x: [1.0, None], TypeError, r"grad_f\(x\) must return a numeric array"),
    (lambda x: np.zeros(3), ValueError, r"grad_f\(x\) must return an array shaped like x \(2,\), got shape \(3,\)"),
])
def test_run_rejects_a_gradient_callback_that_returns_no_gradient(bad, exc, match):
    # returning None used to fail with a reshape error from deep inside NumPy
    with pytest.raises(exc, match=match):
        optim.run(lambda p: optim.SGD(p, lr=0.1), lambda x: float(x @ x), bad, [1.0, 1.0], 3)


def test_run_rejects_an_objective_that_returns_no_number():
    with pytest.raises(TypeError, match=r"f\(x\) must return a real number, got NoneType"):
        optim.run(lambda p: optim.SGD(p, lr=0.1), lambda x: None, lambda x: 2 * x, [1.0, 1.0], 3)


@pytest.mark.parametrize("steps, exc, match", [
    (2 ** 70, ValueError, r"steps must be a non-negative integer <= 10000000, got 2\*\*70"),
    (-1, ValueError, r"steps must be a non-negative integer >= 0"),
    (2.0, TypeError, r"steps must be a non-negative integer, got float"),
])
def test_run_bounds_the_number_of_steps(steps, exc, match):
    with pytest.raises(exc, match=match):
        optim.run(lambda p: optim.SGD(p, lr=0.1), lambda x: 0.0, lambda x: x, [1.0], steps)


@pytest.mark.parametrize("lr", [2 ** 1024, 10 ** 400])
def test_a_huge_python_integer_as_lr_is_a_clear_value_error(lr):
    # it used to raise OverflowError from float() inside the argument check
    with pytest.raises(ValueError, match=r"lr must be finite, got an integer too large for a float"):
        optim.SGD([np.zeros(2)], lr=lr)
    with pytest.raises(ValueError, match=r"lr must be finite"):
        optim.gd_step(np.zeros(2), np.zeros(2), lr)


def test_adam_step_number_is_bounded():
    x = np.zeros(2)
    with pytest.raises(ValueError, match=r"t must be <= 2\*\*53"):
        optim.adam_step(x, x, x, x, 2 ** 1100)


def test_update_rules_never_return_nan_for_finite_input():
    # x_tilde - rho v and (1 + rho) v_next both overflow, with opposite signs: inf - inf
    with pytest.raises(ValueError, match=r"nesterov_step: an intermediate value overflowed float64"):
        optim.nesterov_step(np.array([1.7e308]), np.array([-1.7e308]), np.array([1e308]), 1.0, 1.0)
    # a result beyond the range is +-inf (the correctly rounded value), without a warning
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert optim.gd_step(np.array([1e308]), np.array([-1e308]), 10.0)[0] == np.inf
