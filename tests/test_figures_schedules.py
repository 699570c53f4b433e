"""Figures, explorable and experiments of the chapter *Learning-rate schedules*.

Order: the explorable (labels, alt text, fast path = full redraw, size), the figures
(labelled axes), the schedules the chapter shows against torch.optim.lr_scheduler and
closed forms, then the training experiments and the statements the chapter makes about them.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose
from torch.optim import lr_scheduler as L

from dlnotes import schedules
from dlnotes.figures import schedules as figs

from figure_checks import assert_axes_labelled  # tests/ helper
from torch_references import scheduler_rates  # tests/ helper


# ------------------------------------------------------------------ the explorable

@pytest.mark.parametrize("warmup, period", [(0, 100), (100, 300), (25, 200), (200, 1000)])
def test_plotted_schedule_matches_torch_warmup_then_cosine_warm_restarts(warmup, period):
    ours = figs.plotted_schedule(warmup, period).values(1000)
    if warmup == 0:
        make = lambda o: L.CosineAnnealingWarmRestarts(o, T_0=period)
    else:
        make = lambda o: L.SequentialLR(o, [L.LambdaLR(o, lambda t: t / warmup),
                                            L.CosineAnnealingWarmRestarts(o, T_0=period)],
                                        milestones=[warmup])
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        ref = scheduler_rates(make, 1000)
    assert_allclose(ours, ref, rtol=1e-12, atol=1e-15)


def test_restarts_counted_by_the_explorable_are_where_the_formula_puts_them():
    v = figs.plotted_schedule(100, 300).values(1000)
    assert list(figs._restart_steps(v, 100)) == [400, 700]          # W + k T0 < 1000
    v = figs.plotted_schedule(0, 200).values(1000)
    assert list(figs._restart_steps(v, 0)) == [200, 400, 600, 800]
    assert figs._restart_steps(figs.plotted_schedule(50, 1000).values(1000), 50).size == 0


# ------------------------------------------------------------------ the chapter's schedules

def test_every_book_schedule_equals_its_torch_scheduler():
    entries = figs.book_schedules(lr=0.1, steps=1000)
    parity = figs.torch_parity(entries, 1000)
    assert len(parity) == len(entries) == 11 and max(parity.values()) < 1e-12


def test_book_schedules_are_built_from_the_code_they_show():
    for e in figs.book_schedules(lr=0.1, steps=1000):
        rebuilt = eval(e.dlnotes_code, {name: getattr(schedules, name) for name in schedules.__all__})
        assert_allclose(rebuilt.values(1000), e.schedule.values(1000), rtol=0, atol=0)


def test_book_schedules_agree_with_their_closed_forms():
    e = {x.name: x.schedule for x in figs.book_schedules(lr=0.1, steps=1000)}
    t = np.arange(1000)
    assert_allclose(e["cosine"].values(1000), 0.05 * (1 + np.cos(np.pi * t / 1000)), atol=1e-15)
    assert_allclose(e["exponential"].values(1000), 0.1 * np.exp(t * math.log(0.997)), rtol=1e-12)
    assert_allclose(e["1/t"].values(1000), 0.1 / (1 + 0.01 * t), rtol=1e-14)
    late = t[t >= 100]
    assert_allclose(e["warm-up + inverse sqrt"].values(1000)[late], 0.1 * np.sqrt(100 / late), rtol=1e-12)
    assert_allclose(e["step"].values(1000), 0.1 * 0.5 ** (t // 250), rtol=1e-15)


def test_schedules_figure_has_labelled_axes():
    entries = figs.book_schedules(lr=0.1, steps=200)
    fig = figs.schedules_figure(entries, 200)
    assert_axes_labelled(fig)
    assert sum(ax.get_visible() for ax in fig.axes) == len(entries)


def test_exponential_slip_increases_while_exponential_decay_decreases():
    # the table of the chapter: e^{-kt} falls, e^{-k/t} rises towards alpha
    k, t = 0.005, np.array([1, 10, 100, 1000])
    ours = np.array([schedules.exponential(0.1, math.exp(-k))(int(s)) for s in t])
    assert np.all(np.diff(ours) < 0) and np.all(np.diff(0.1 * np.exp(-k / t)) > 0)
    assert_allclose(ours, 0.1 * np.exp(-k * t), rtol=1e-12)


# ------------------------------------------------------------------ training experiments

@pytest.fixture(scope="module")
def comparison(data):
    return figs.schedule_comparison(epochs=20, batch_size=16, lr=0.1, momentum=0.9,
                                    weight_decay=0.01, data=data)


def test_schedule_comparison_records_the_rates_of_its_schedules(comparison):
    for r in comparison.values():
        h = r["history"]
        assert_allclose(h.lr, r["schedule"].values(len(h.lr)), rtol=1e-15)


def test_multistep_run_is_the_constant_run_until_its_first_milestone(comparison):
    const, multi = comparison["constant"]["history"], comparison["multistep"]["history"]
    half = len(const.lr) // 2
    assert_allclose(multi.step_loss[:half], const.step_loss[:half], rtol=0, atol=0)
    assert multi.step_loss[half + 50] != const.step_loss[half + 50]


def test_decaying_schedules_end_lower_and_steadier_than_the_constant_rate(comparison):
    h = {k: v["history"] for k, v in comparison.items()}
    for name in ("multistep", "warm-up + cosine"):
        assert h[name].train_loss[-1] < h["constant"].train_loss[-1] / 2
        assert h[name].val_accuracy[-1] > h["constant"].val_accuracy[-1]
        spread = lambda x: np.std(x.step_loss[-x.steps_per_epoch:])
        assert spread(h[name]) < spread(h["constant"]) / 2
        assert np.sum(h[name].lr) < np.sum(h["constant"].lr)


def test_schedule_comparison_figure_has_labelled_axes(comparison):
    assert_axes_labelled(figs.schedule_comparison_figure(comparison))


def test_batch_scaling_runs_use_the_linear_and_square_root_rates_and_the_linear_rule_recovers(data):
    runs = figs.batch_scaling_runs(batch_sizes=(16, 128), epochs=20, data=data)
    by = {(r["batch_size"], r["rule"]): r for r in runs}
    assert set(by) == {(16, "none"), (128, "none"), (128, "linear"), (128, "sqrt")}
    assert by[(128, "linear")]["lr"] == pytest.approx(0.02 * 128 / 16)
    assert by[(128, "sqrt")]["lr"] == pytest.approx(0.02 * math.sqrt(128 / 16))
    loss = {k: r["history"].train_loss[-1] for k, r in by.items()}
    assert loss[(128, "linear")] == pytest.approx(loss[(16, "none")], rel=0.25)
    assert loss[(128, "linear")] < loss[(128, "sqrt")] < loss[(128, "none")]
    assert loss[(128, "none")] > 3 * loss[(16, "none")]
    assert by[(128, "none")]["steps"] == 20 * math.ceil(data.X_train.shape[0] / 128)
