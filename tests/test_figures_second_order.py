"""Figures and explorable of the chapter *Second-order methods and line search*: labelled axes, and what the alt texts say."""

from __future__ import annotations

import numpy as np

from dlnotes import landscapes, linesearch
from dlnotes.figures import second_order as figs

from figure_checks import assert_axes_labelled  # tests/ helper


def test_every_figure_has_labelled_axes():
    rosen = landscapes.Rosenbrock()
    x = np.array([-1.2, 1.0])
    g = rosen.grad(x)
    bt = linesearch.backtracking(rosen, x, g, -g, eta0=1e-2)
    gs = linesearch.golden_section(lambda e: (e - 0.3) ** 2, 0.0, 1.0, steps=10)
    fake_timings = {"n": np.array([10.0, 100.0]), "newton": np.array([1e-5, 1e-3]),
                    "gd": np.array([1e-6, 2e-6])}
    for fig in (figs.rosenbrock_figure(figs.rosenbrock_runs()), figs.saddle_figure(figs.saddle_runs()),
                figs.cost_figure(fake_timings), figs.backtracking_figure(rosen, x, -g, bt, 1e-4),
                figs.golden_figure(gs)):
        assert_axes_labelled(fig)


def test_the_valley_explorables_alt_text_is_true_on_every_frame():
    for b in figs.VALLEY_BS:
        for x1 in figs.VALLEY_STARTS:
            r = figs.valley_runs(b, x1)
            f = r["f"]
            assert f(r["damped Newton"][-1]) < 1e-10
            assert f(r["GD"][-1]) > 1e-6
            if b <= 30:
                assert f(r["BFGS"][-1]) < 1e-10
            assert all(len(r[k]) <= figs.VALLEY_ITERS + 1 for k in ("GD", "damped Newton", "BFGS"))


def test_the_explorable_renders_two_different_frames():
    ex = figs.valley_explorable()
    assert len(ex.controls) == 2
    assert ex.render(b=2.0, x1=-1.5) != ex.render(b=100.0, x1=0.5)
    assert_axes_labelled(ex._fig)


def test_linesearch_explorable_runs_are_the_first_armijo_step_of_the_geometric_sequence():
    from dlnotes import landscapes
    f = landscapes.Rosenbrock()
    x = np.array([-1.2, 1.0])
    g = f.grad(x)
    for c1 in figs.LS_C1S:
        for shrink in figs.LS_SHRINKS:
            k = 0          # the first k with f(x - eta0 shrink^k g) <= f(x) - c1 eta0 shrink^k |g|^2
            while f(x - figs.LS_ETA0 * shrink ** k * g) > f(x) - c1 * figs.LS_ETA0 * shrink ** k * (g @ g):
                k += 1
            bt = figs.linesearch_run(c1, shrink)
            assert len(bt.tried) == k + 1 and np.isclose(bt.eta, figs.LS_ETA0 * shrink ** k)


def test_linesearch_explorable_draws_every_state_differently_with_labelled_axes():
    from matplotlib.figure import Figure
    ex = figs.linesearch_explorable()
    frames = {ex.render(**s) for s in ex.states()}
    assert len(frames) == len(figs.LS_C1S) * len(figs.LS_SHRINKS)
    fig = Figure()
    figs._draw_linesearch(fig, c1=0.1, shrink=0.5)
    assert_axes_labelled(fig)
