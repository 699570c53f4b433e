"""Figures of the chapter *The optimization landscape*: labelled axes, and the numbers their alt texts state."""

from __future__ import annotations

import numpy as np

from dlnotes.figures import landscape as figs

from figure_checks import assert_axes_labelled  # tests/ helper


def test_worked_example_finds_a_saddle_and_a_minimum_and_its_figure_is_labelled():
    ex = figs.worked_example()
    assert [r["kind"] for r in ex["rows"]] == ["saddle", "minimum"]
    assert_axes_labelled(figs.worked_figure(ex))


def test_mixed_fractions_rise_to_one_and_the_figure_is_labelled():
    fr = figs.mixed_fractions(samples=500)
    assert fr[0] == 0 and fr[-1] > 0.99
    assert_axes_labelled(figs.mixed_figure(fr))


def test_segment_and_rate_figures_are_labelled(data):
    exp = figs.permutation_experiment(data, steps=50)
    assert abs(exp["loss_a"] - exp["loss_b"]) < 1e-12 and exp["midpoint_gap"] > 0
    assert_axes_labelled(figs.segment_figure(exp))
    runs = figs.rate_runs(data, rates=(1e-4, 3.0), epochs=1)
    assert np.mean(runs[3.0]["history"].step_loss[-5:]) > 100
    assert_axes_labelled(figs.rate_figure(runs))


def test_standardisation_lowers_the_condition_number():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((500, 3)) * [1.0, 100.0, 1e3] + [0.0, 50.0, 5e3]
    raw, std = figs.condition_numbers(X)
    assert raw > 1e4 * std


def test_the_curvature_explorable_names_the_kind_its_alt_text_promises():
    ex = figs.curvature_explorable()
    assert len(ex.controls) == 2
    ex.render(lam1=1.0, lam2=-1.0)
    fig = ex._fig
    for lam1, lam2, kind in ((1.0, 2.0, "minimum"), (-1.0, -1.0, "maximum"), (1.0, -1.0, "saddle"),
                             (0.0, 1.0, "degenerate"), (0.0, 0.0, "degenerate")):
        ex.render(lam1=lam1, lam2=lam2)
        assert fig.axes[0].get_title().endswith(kind), (lam1, lam2, fig.axes[0].get_title())
    assert_axes_labelled(fig)
