"""Figures of *The tuning recipe*: the smoothing explorable and what it measures."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from dlnotes.figures import tuning as figs

from figure_checks import PNG, assert_axes_labelled  # tests/ helper


def test_smoothing_noise_is_zero_for_a_geometric_decay_and_the_log_step_std_otherwise():
    t = np.arange(300)
    assert figs.smoothing_noise(3.0 * 0.99 ** t, 20) < 1e-12   # log of its average falls linearly
    rng = np.random.default_rng(0)
    loss = np.exp(rng.normal(size=300))
    direct = np.convolve(loss, np.ones(20) / 20, mode="valid")    # windows 0..19, 1..20, ...
    expected = np.std(np.diff(np.log(direct[1:])))                # from the window ending at step 20
    assert np.isclose(figs.smoothing_noise(loss, 20), expected, rtol=1e-12)
    assert np.isclose(figs.smoothing_noise(loss, 1), np.std(np.diff(np.log(loss[1:]))))


def test_smoothing_explorable_draws_every_window_differently_with_labelled_axes():
    rng = np.random.default_rng(1)
    loss = 2.5 * np.exp(-np.arange(400) / 60) * np.exp(0.3 * rng.normal(size=400)) + 1e-3
    ex = figs.smoothing_explorable(loss)
    frames = [ex.render(**s) for s in ex.states()]
    assert len(set(frames)) == len(figs._WINDOWS) and all(f.startswith(PNG) for f in frames)
    fig = Figure()
    ex.draw(fig, window=50)
    assert_axes_labelled(fig)


def test_smoothing_noise_rejects_bad_input():
    import pytest
    with pytest.raises(ValueError, match="step_loss"):
        figs.smoothing_noise(np.array([1.0, 0.0, 2.0]), 2)
    with pytest.raises(ValueError, match="window"):
        figs.smoothing_noise(np.ones(10), 0)
