"""Figures and explorable of the chapter *Adaptive learning rates*, and the numbers the chapter states.

References are torch.optim runs; then the claims the prose makes; then the explorable's
fast path and the axes' labels.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dlnotes import explorables, optim
from dlnotes.figures import adaptive as figs

from figure_checks import assert_axes_labelled  # tests/ helper


def _torch_feed(make, grads, x0):
    """Run a torch optimizer on given gradients; return the parameter after each step and the optimizer."""
    p = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
    opt = make([p])
    out = []
    for g in grads:
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        out.append(p.detach().numpy().copy())
    return np.array(out), opt, p


# ------------------------------------------------------------------ AdaGrad and RMSProp

def test_adagrad_rate_rows_match_torch_and_never_increase():
    rows, never_increases = figs.adagrad_rate_rows()
    assert never_increases
    _, opt, p = _torch_feed(lambda ps: torch.optim.Adagrad(ps, lr=0.1), [[1.0]] * 10000, [0.0])
    rate_torch = 0.1 / (math.sqrt(opt.state[p]["sum"].item()) + 1e-10)
    assert rows[-1][0] == 10000 and rows[-1][1] == pytest.approx(rate_torch, rel=1e-12)
    for t, rate, formula in rows:
        assert rate == pytest.approx(formula, rel=1e-8)


def test_plateau_rates_match_torch_and_rmsprop_recovers_while_adagrad_stalls():
    data, fig = figs.rates_on_a_plateau()
    grads = [[g] for g in figs.plateau_gradients()]
    xa, _, _ = _torch_feed(lambda ps: torch.optim.Adagrad(ps, lr=0.01), grads, [0.0])
    xr, _, _ = _torch_feed(lambda ps: torch.optim.RMSprop(ps, lr=0.01, alpha=0.9), grads, [0.0])
    np.testing.assert_allclose(np.abs(np.diff(np.r_[0.0, xa[:, 0]])), data["adagrad_step"], rtol=1e-10)
    np.testing.assert_allclose(np.abs(np.diff(np.r_[0.0, xr[:, 0]])), data["rmsprop_step"], rtol=1e-10)
    assert np.all(np.diff(data["adagrad_rate"]) <= 0)
    late = slice(-100, None)
    # RMSProp's steps return to about alpha; AdaGrad's stay orders of magnitude smaller
    assert data["rmsprop_step"][late].mean() == pytest.approx(0.01, rel=0.2)
    assert data["rmsprop_step"][late].mean() / data["adagrad_step"][late].mean() > 300
    assert_axes_labelled(fig)


def test_eps_outside_column_is_torchs_first_adagrad_step():
    for g, outside, inside, ratio in figs.eps_placement_rows():
        steps, _, _ = _torch_feed(lambda ps: torch.optim.Adagrad(ps, lr=0.01, eps=1e-8), [[g]], [0.0])
        assert outside == pytest.approx(-steps[0, 0], rel=1e-12)
        assert inside == pytest.approx(0.01 * g / math.sqrt(g * g + 1e-8), rel=1e-12)
        assert ratio == pytest.approx(outside / inside)


# ------------------------------------------------------------------ Adam

def test_adam_factor_facts_match_torch_moments():
    facts = figs.adam_factor_facts()
    # uncorrected step from torch's (uncorrected) moments over the corrected step torch takes
    p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([p], lr=1e-3, eps=0.0)
    ratios = []
    for _ in range(1000):
        before = p.detach().clone()
        p.grad = torch.ones(1, dtype=torch.float64)
        opt.step()
        st = opt.state[p]
        uncorrected = 1e-3 * st["exp_avg"] / st["exp_avg_sq"].sqrt()
        ratios.append((uncorrected / (before - p.detach())).item())
    assert facts["first"] == pytest.approx(ratios[0], rel=1e-9)
    assert facts["peak"] == pytest.approx(max(ratios), rel=1e-9)
    assert facts["peak_t"] == int(np.argmax(ratios)) + 1 == 12
    assert facts["t1000"] == pytest.approx(ratios[999], rel=1e-9)
    assert 3000 < facts["within_1pct"] < 5000


def test_adam_bias_figure_is_labelled_and_first_corrected_step_is_alpha():
    assert_axes_labelled(figs.adam_bias_correction())
    steps, _, _ = _torch_feed(lambda ps: torch.optim.Adam(ps, lr=1e-3), [[7.0]], [0.0])
    assert optim.adam_first_step(np.array([7.0]), 1e-3)[0] == pytest.approx(steps[0, 0], rel=1e-12)


# ------------------------------------------------------------------ AdamW against L2

def test_decay_rows_match_torch_adam_and_adamw_and_show_the_difference():
    lr, wd, steps, scales = 1e-3, 0.1, 1000, (100.0, 1.0, 0.01)
    rows = figs.decay_rows(lr, wd, steps, scales)
    noise = np.random.default_rng(0).standard_normal((steps, 3)) * np.array(scales)
    ends = {}
    for name, make in (("none", lambda ps: torch.optim.Adam(ps, lr=lr)),
                       ("l2", lambda ps: torch.optim.Adam(ps, lr=lr, weight_decay=wd)),
                       ("adamw", lambda ps: torch.optim.AdamW(ps, lr=lr, weight_decay=wd))):
        xs, _, _ = _torch_feed(make, noise, [1.0, 1.0, 1.0])
        ends[name] = xs[-1]
    for i, row in enumerate(rows):
        assert row[1] == pytest.approx(ends["none"][i] - ends["l2"][i], abs=1e-10)
        assert row[2] == pytest.approx(ends["none"][i] - ends["adamw"][i], abs=1e-10)
    assert rows[0][1] < 0.01 and rows[2][1] > 0.5          # L2: large gradients escape the decay
    for row in rows:                                         # AdamW: all about 1 - (1 - lr wd)^steps
        assert row[2] == pytest.approx(row[3], rel=0.1)


# ------------------------------------------------------------------ the race

def test_rotation_leaves_gd_and_momentum_unchanged_and_hurts_the_adaptive_methods():
    rows = {name: (aligned, turned) for name, aligned, turned in figs.rotation_rows()}
    for name in ("GD", "Momentum", "Nesterov"):
        assert rows[name][1] == pytest.approx(rows[name][0], rel=1e-8)
    for name in ("RMSProp", "Adam"):
        assert rows[name][1] > 1000 * rows[name][0]
        assert rows[name][1] > rows["Momentum"][1]         # "fall behind momentum"


def test_race_claims_adaptive_methods_ignore_kappa_and_nesterov_diverges_at_1_5():
    q, x0 = figs._race_problem(1000.0)
    runs = optim.race(figs.race_makers(1.0), q, q.grad, x0, figs.RACE_STEPS)
    assert runs["Adam"].losses[-1] < 1e-5 and runs["RMSProp"].losses[-1] < 1e-5
    assert runs["GD"].losses[-1] > 0.1
    q1, x1 = figs._race_problem(1.0)
    hot = optim.race(figs.race_makers(1.5), q1, q1.grad, x1, figs.RACE_STEPS)
    assert not hot["Nesterov"].losses[-1] < 1e2
    assert hot["Momentum"].losses[-1] < 1e-3


def test_race_makers_match_torch_for_every_optimizer():
    q, x0 = figs._race_problem(10.0)
    torch_makers = {
        "GD": lambda ps: torch.optim.SGD(ps, lr=0.3),
        "Momentum": lambda ps: torch.optim.SGD(ps, lr=0.3, momentum=0.9),
        "Nesterov": lambda ps: torch.optim.SGD(ps, lr=0.3, momentum=0.9, nesterov=True),
        "AdaGrad": lambda ps: torch.optim.Adagrad(ps, lr=0.3),
        "RMSProp": lambda ps: torch.optim.RMSprop(ps, lr=0.3),
        "Adam": lambda ps: torch.optim.Adam(ps, lr=0.3),
    }
    runs = optim.race(figs.race_makers(0.3), q, q.grad, x0, 50)
    A = torch.tensor(q.A)
    for name, make in torch_makers.items():
        p = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
        opt = make([p])
        for _ in range(50):
            opt.zero_grad()
            (0.5 * p @ A @ p).backward()
            opt.step()
        np.testing.assert_allclose(runs[name].xs[-1], p.detach().numpy(), rtol=1e-9, atol=1e-12)


# ------------------------------------------------------------------ real training

@pytest.mark.slow
def test_digits_race_claims(monkeypatch, capsys):
    monkeypatch.setenv(explorables.MODE_ENV, "static")
    rows, best, fig = figs.digits_race()
    assert "it/s" not in capsys.readouterr().err          # no progress bar in the static build
    assert_axes_labelled(fig)
    by_name = {name: h for name, (lr, h) in best.items()}
    assert set(by_name) == set(figs.DIGITS_GRIDS)
    val = {n: h.val_loss[-1] for n, h in by_name.items()}
    train = {n: h.train_loss[-1] for n, h in by_name.items()}
    assert min(val, key=val.get) == "AdamW"                                  # lowest validation loss
    assert set(sorted(train, key=train.get)[:2]) == {"AdaGrad", "RMSProp"}   # fit fastest
    acc = [h.val_accuracy[-1] for h in by_name.values()]
    assert max(acc) - min(acc) < 0.03                                        # about the same accuracy
    for row in rows:
        assert row[1].count("→") == 3
