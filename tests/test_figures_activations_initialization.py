"""Figures and explorable of *Activations and initialization*, and the claims its prose makes."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from dlnotes import activations as act
from dlnotes import initialization as init
from dlnotes.figures import activations_initialization as figs

from figure_checks import assert_axes_labelled  # tests/ helper


def test_figures_have_labelled_axes():
    for make in (figs.activation_curves, figs.activation_std_figure, figs.gradient_norm_figure,
                 figs.histogram_figure, lambda: figs.dead_relu_figure(figs.dead_relu_runs())):
        assert_axes_labelled(make())


def test_init_statistics_are_torchs_forward_pass_of_the_same_weights(data):
    st = figs.init_statistics("tanh")["Xavier/Glorot"]
    model = init.DeepMLP(64, [figs.WIDTH] * figs.DEPTH, 10, activation="tanh", init="xavier_normal",
                         seed=0, dtype=np.float32)
    a = torch.tensor(data.X_train[:figs.N_IMAGES], dtype=torch.float32)
    stds = []
    for W in model.weights[:-1]:
        a = torch.tanh(a @ torch.tensor(W))
        stds.append(a.std(unbiased=False).item())
    np.testing.assert_allclose(st.act_std, stds, rtol=1e-4)


def test_the_four_initializations_behave_as_the_chapter_says():
    tanh, relu = figs.init_statistics("tanh"), figs.init_statistics("relu")
    small, large, xav, he = figs.INIT_SCHEMES
    assert tanh[small].act_std[-1] < 1e-8 and relu[large].act_std[-1] > 1e6
    assert tanh[large].saturated.mean() > 0.6
    assert relu[xav].act_std[-1] / relu[xav].act_std[0] < 0.1
    assert 0.3 < relu[he].act_std[-1] / relu[he].act_std[0] < 2
    # too-large tanh: unit derivatives vanish, but the weight gradients grow towards the input
    assert tanh[large].grad_norm[0] > 100 * tanh[large].grad_norm[-1]


def test_dead_relu_runs_dead_units_have_zero_gradients_and_leaky_units_do_not():
    runs = figs.dead_relu_runs()
    fast, slow, leaky = runs[("relu", 0.05)], runs[("relu", 0.003)], runs[("leaky_relu", 0.05)]
    assert fast.dead[-1, 1] > 0.3 > slow.dead[-1].max()
    assert fast.zero_grad.all()
    assert not leaky.zero_grad[1:].any()
    assert fast.dead.shape == (7, 3) and fast.val_accuracy.shape == (7,)


def test_dead_units_counts_a_relu_layer():
    a = act.relu(np.array([[-1.0, 2.0, 0.0], [-3.0, -1.0, 0.0]]))
    np.testing.assert_array_equal(act.dead_units(a), [True, False, True])


def test_maxout_rows_reproduce_relu_and_leaky_relu_exactly_enough():
    rows = figs.maxout_rows()
    assert rows[0][1] < 1e-12 and rows[1][1] < 1e-12
    assert rows[0][2] == 2 * (64 * 32 + 32)


def test_torch_default_linear_init_is_sqrt6_smaller_than_he():
    rows = figs.torch_default_rows()
    torch.manual_seed(0)
    # PyTorch's own default for the same 64 -> 64 layer; 4096 weights: ~1.1% sampling error
    w = torch.nn.Linear(figs.WIDTH, figs.WIDTH).weight
    assert rows[0][1] == pytest.approx(w.std().item(), rel=0.05)
    assert rows[1][1] / rows[0][1] == pytest.approx(math.sqrt(6), rel=0.05)
    assert rows[0][3] < 1e-3 < 0.1 < rows[1][3]


def test_constant_initialization_keeps_the_units_identical():
    facts = figs.symmetry_facts()
    assert facts["constant_spread"] == 0.0 and facts["random_spread"] > 0.1


def test_explorable_names_the_activation_and_has_few_states():
    ex = figs.init_explorable()
    assert len(ex.states()) <= 30
    html = ex.to_html()
    assert "tanh" in html and "ReLU" in html
    assert re.search(r'aria-valuetext="activation = tanh"', html)
