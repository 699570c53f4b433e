"""Figures of *Transfer learning* and *Fine-tuning*: labelled axes, and the runs they are made of against direct computations."""

from __future__ import annotations

import numpy as np
import pytest

from dlnotes import optim
from dlnotes import transfer as tr
from dlnotes.figures import fine_tuning as ft
from dlnotes.figures import transfer_learning as tl

from figure_checks import assert_axes_labelled  # tests/ helper


def test_transfer_figures_have_labelled_axes():
    _, acc = tl.method_table(sizes=(5,), seeds=(0,))
    assert_axes_labelled(tl.size_figure(acc, sizes=(5,)))
    fig = tl.example_images()
    assert len(fig.axes) == 15


def test_a_cached_run_is_the_computation_it_describes():
    pre = tr.load_pretrained()
    _, target = tr.tasks()
    d = tr.few_shot(target, 5, 1)
    m = tr.new_model(pre, seed=1)
    tr.fit(m, optim.SGD(m.params, lr=tl.ALPHA_FINETUNE, momentum=tl.MOMENTUM), d.X_train, d.y_train,
           tl.STEPS, batch_size=tl.BATCH, seed=1)
    assert tl.run("finetune", "similar", 5, 1) == m.accuracy(d.X_val, d.y_val)
    fresh = tr.new_model(pre, seed=1)
    probe = tr.probe_accuracy(fresh.features(d.X_train), d.y_train, fresh.features(d.X_val), d.y_val)
    assert tl.run("probe", "similar", 5, 1) == probe


def test_fine_tuning_track_records_the_distance_every_step():
    t = ft.track(0.01)
    assert t.distance.shape == (ft.STEPS + 1,) and t.distance[0] < 1e-6   # float32 copy of the weights
    assert t.probe.shape == (len(ft.CHECKPOINTS),) and len(t.body_grad) == ft.GRAD_STEPS
    # the same run without the recording reaches the same weights (recording does not perturb it)
    pre = tr.load_pretrained()
    model, data = ft._start("fresh", 0)
    opt = tr.grouped_sgd(model, 0.01, 0.01, ft.MOMENTUM)
    tr.fit(model, opt, data.X_train, data.y_train, ft.STEPS, batch_size=ft.BATCH, seed=0)
    assert tr.body_distance(model, pre) == t.distance[-1]


def test_fine_tuning_figures_have_labelled_axes():
    assert_axes_labelled(ft.track_figure())
    assert_axes_labelled(ft.gradient_figure())
    res = {k: np.full((len(ft.RATES), 1), 0.5) for k in ("finetune", "scratch")}
    assert_axes_labelled(ft.sweep_figure(res))


def test_upright_probe_is_transfer_probe_accuracy_on_upright_and_rotated_images():
    model = tr.pretrained_cnn()
    _, target = tr.tasks()
    rot = tr.rotate(target)
    probe = tl.upright_probe()
    F = model.features
    assert probe["acc_upright"] == tr.probe_accuracy(F(target.X_train), target.y_train,
                                                     F(target.X_val), target.y_val)
    assert probe["acc_rotated"] == tr.probe_accuracy(F(target.X_train), target.y_train,
                                                     F(rot.X_val), rot.y_val)


def test_feature_views_rotate_the_image_and_run_the_pretrained_body():
    model = tr.pretrained_cnn()
    _, target = tr.tasks()
    v = tl.feature_views(7)
    i = int(np.flatnonzero(target.y_val == 2)[0])
    img = target.X_val[i].reshape(8, 8)
    np.testing.assert_array_equal(v["upright"]["image"], img)
    np.testing.assert_array_equal(v["rotated"]["image"], np.rot90(img))      # counter-clockwise
    f = model.features(np.rot90(img).reshape(1, 64))[0]
    np.testing.assert_array_equal(v["rotated"]["features"], f)
    assert np.isclose(v["cosine"], f @ v["upright"]["features"]
                      / np.linalg.norm(f) / np.linalg.norm(v["upright"]["features"]))
    assert v["upright"]["maps"].shape == (8, 4, 4) and (v["upright"]["maps"] >= 0).all()  # after ReLU
    with pytest.raises(ValueError, match="digit"):
        tl.feature_views(3)


def test_features_explorable_draws_every_state_differently():
    from figure_checks import PNG
    ex = tl.features_explorable()
    frames = {ex.render(**s) for s in ex.states()}
    assert len(frames) == 10 and all(f.startswith(PNG) for f in frames)
    from matplotlib.figure import Figure
    fig = Figure()
    tl._draw_features(fig, digit=0, domain=1)
    assert_axes_labelled(fig)
