"""dlnotes.tuning: moving average against numpy.convolve, sampling distributions against scipy.stats, the range test and the update-ratio monitor against torch."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.stats
import torch

from dlnotes import optim, training, tuning


# ------------------------------------------------------------------ moving average

@pytest.mark.parametrize("window", [1, 2, 5, 17, 50])
def test_moving_average_is_numpy_convolve_once_the_window_is_full(window):
    x = np.random.default_rng(window).standard_normal(200).cumsum()
    ma = tuning.moving_average(x, window)
    np.testing.assert_allclose(ma[window - 1:], np.convolve(x, np.ones(window) / window, mode="valid"),
                               rtol=1e-12, atol=1e-12)
    # before that, the mean of what there is
    np.testing.assert_allclose(ma[:window - 1], np.cumsum(x[:window - 1]) / np.arange(1, window),
                               rtol=1e-12, atol=1e-12)


def test_moving_average_is_trailing_and_keeps_the_length():
    x = np.zeros(10)
    x[5] = 10.0
    ma = tuning.moving_average(x, 3)
    assert ma.shape == x.shape and np.all(ma[:5] == 0) and ma[5] == pytest.approx(10 / 3)
    np.testing.assert_array_equal(tuning.moving_average(x, 1), x)
    np.testing.assert_allclose(tuning.moving_average(x, 100), np.cumsum(x) / np.arange(1, 11))


def test_moving_average_rejects_bad_input():
    with pytest.raises(ValueError, match="window"):
        tuning.moving_average([1.0, 2.0], 0)
    with pytest.raises(ValueError, match="finite"):
        tuning.moving_average([1.0, np.nan], 2)
    with pytest.raises(ValueError, match="1-D"):
        tuning.moving_average(np.ones((2, 2)), 2)


# ------------------------------------------------------------------ sampling distributions

def test_log_uniform_samples_follow_scipys_loguniform():
    v = tuning.LogUniform(1e-4, 1.0).sample(0, 20_000)
    assert scipy.stats.kstest(v, scipy.stats.loguniform(1e-4, 1.0).cdf).pvalue > 1e-3
    # and not a plain uniform on the same interval (the test has the power to tell them apart)
    assert scipy.stats.kstest(v, scipy.stats.uniform(1e-4, 1.0 - 1e-4).cdf).pvalue < 1e-10


def test_uniform_samples_follow_scipys_uniform():
    v = tuning.Uniform(-2.0, 3.0).sample(1, 20_000)
    assert scipy.stats.kstest(v, scipy.stats.uniform(-2.0, 5.0).cdf).pvalue > 1e-3
    assert scipy.stats.kstest(v, scipy.stats.norm(0.5, 1.44).cdf).pvalue < 1e-10


def test_choice_samples_each_value_equally_often():
    v = tuning.Choice(["a", "b", "c", "d"]).sample(2, 8000)
    counts = [int(np.sum(v == k)) for k in "abcd"]
    assert scipy.stats.chisquare(counts).pvalue > 1e-3


def test_random_search_draws_every_axis_independently_and_deterministically():
    space = {"lr": tuning.LogUniform(1e-3, 1.0), "wd": tuning.Uniform(0.0, 1.0)}
    configs = tuning.random_search(space, 4000, seed=5)
    assert configs == tuning.random_search(space, 4000, seed=5)
    assert configs != tuning.random_search(space, 4000, seed=6)
    lr = np.array([c["lr"] for c in configs])
    wd = np.array([c["wd"] for c in configs])
    assert scipy.stats.kstest(lr, scipy.stats.loguniform(1e-3, 1.0).cdf).pvalue > 1e-3
    assert scipy.stats.kstest(wd, scipy.stats.uniform(0, 1).cdf).pvalue > 1e-3
    assert abs(scipy.stats.spearmanr(lr, wd).statistic) < 0.06      # 4 standard errors at n = 4000
    assert len(set(lr)) == 4000 and isinstance(configs[0]["lr"], float)


def test_grid_search_is_the_product_of_linspace_and_geomspace():
    space = {"lr": tuning.LogUniform(1e-3, 1.0), "wd": tuning.Uniform(0.0, 1.0), "act": tuning.Choice(["relu", "tanh"])}
    configs = tuning.grid_search(space, {"lr": 4, "wd": 3, "act": 99})
    expected = list(itertools.product(np.geomspace(1e-3, 1.0, 4), np.linspace(0, 1, 3), ["relu", "tanh"]))
    assert len(configs) == 4 * 3 * 2
    for c, (a, b, e) in zip(configs, expected):
        assert c["lr"] == pytest.approx(a, rel=1e-15) and c["wd"] == pytest.approx(b) and c["act"] == e
    assert len({c["lr"] for c in tuning.grid_search(space, 3)}) == 3


def test_search_spaces_reject_bad_ranges():
    with pytest.raises(ValueError, match="high"):
        tuning.Uniform(1.0, 1.0)
    with pytest.raises(ValueError, match="low"):
        tuning.LogUniform(0.0, 1.0)
    with pytest.raises(ValueError, match="values"):
        tuning.Choice([])
    with pytest.raises(TypeError, match="space"):
        tuning.random_search({"lr": (1e-3, 1)}, 3)


def test_run_search_counts_a_non_finite_objective_as_minus_infinity():
    trials = tuning.run_search(lambda x: math.nan if x > 0.5 else x, [{"x": 0.2}, {"x": 0.9}])
    assert [t.value for t in trials] == [0.2, -math.inf]
    assert max(trials, key=lambda t: t.value).params == {"x": 0.2}


# ------------------------------------------------------------------ the range test

def test_range_test_raises_the_rate_geometrically_and_stops_when_the_loss_explodes(data):
    model = training.SoftmaxRegression(64, 10, seed=0)
    seen = []

    class Spy(optim.SGD):
        def step(self, grads):
            seen.append(self.lr)
            super().step(grads)

    rt = tuning.lr_range_test(model, lambda p, lr: Spy(p, lr=lr), data, 1e-4, 1e3, steps=150)
    np.testing.assert_allclose(rt.lr, np.geomspace(1e-4, 1e3, 150), rtol=1e-12)
    np.testing.assert_allclose(seen, rt.lr[:len(seen)], rtol=1e-15)
    assert rt.stopped_at < 150 and np.all(np.isnan(rt.loss[rt.stopped_at:]))
    assert rt.steepest <= rt.best and np.nanmin(rt.smoothed) < 0.5 * rt.smoothed[0]
    np.testing.assert_allclose(rt.smoothed[:rt.stopped_at],
                               tuning.moving_average(rt.loss[:rt.stopped_at], 10))


def test_range_test_rejects_bad_arguments(data):
    m = training.SoftmaxRegression(64, 10)
    with pytest.raises(ValueError, match="lr_max"):
        tuning.lr_range_test(m, lambda p, lr: optim.SGD(p, lr=lr), data, 1.0, 0.1)
    with pytest.raises(TypeError, match="make_optimizer"):
        tuning.lr_range_test(m, lambda p, lr: None, data)


# ------------------------------------------------------------------ the update-to-weight ratio

def test_update_ratio_monitor_matches_torch_sgd_momentum_updates():
    rng = np.random.default_rng(0)
    params = [rng.standard_normal((5, 4)), rng.standard_normal(4)]
    grads = [[rng.standard_normal(p.shape) for p in params] for _ in range(6)]
    tensors = [torch.tensor(p.copy(), requires_grad=True) for p in params]
    opt_t = torch.optim.SGD(tensors, lr=0.05, momentum=0.9, weight_decay=0.01)
    expected = []
    for g in grads:
        before = [t.detach().clone() for t in tensors]
        for t, gi in zip(tensors, g):
            t.grad = torch.tensor(gi)
        opt_t.step()
        expected.append([((t.detach() - b).norm() / b.norm()).item() for t, b in zip(tensors, before)])
    mon = tuning.UpdateRatioMonitor(optim.SGD(params, lr=0.05, momentum=0.9, weight_decay=0.01))
    for g in grads:
        mon.step([x.copy() for x in g])
    np.testing.assert_allclose(mon.ratios, expected, rtol=1e-12)
    np.testing.assert_allclose(params[0], tensors[0].detach().numpy(), rtol=1e-12)


def test_update_ratio_monitor_works_inside_the_training_loop_with_a_schedule(data):
    from dlnotes import schedules

    m = training.MLP(64, 16, 10, seed=0)
    mon = tuning.UpdateRatioMonitor(optim.SGD(m.params, lr=0.1))
    h = training.train(m, mon, data, epochs=2, schedule=schedules.constant(0.02), progress=False)
    assert mon.ratios.shape == (2 * h.steps_per_epoch, 4)
    assert mon.inner.lr == 0.02 and np.all(h.lr == 0.02)
    assert np.isnan(mon.ratios[0, 1]) and np.isfinite(mon.ratios[1:, 1]).all()   # b1 starts at 0
    assert np.all(mon.ratios[:, 0] > 0)
    with pytest.raises(TypeError, match="optimizer"):
        tuning.UpdateRatioMonitor("sgd")
