"""Tests of dlnotes.training (and the digits loader) against torch autograd and torch.optim.

Order: the data, model gradients against autograd and finite differences, the training
loop against an independent torch loop, determinism and recording, the book-scale
comparison (slow), bad inputs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits

from dlnotes import optim, schedules
from dlnotes.datasets import Dataset, digits
from dlnotes.gradcheck import check_gradient
from dlnotes.training import MLP, SoftmaxRegression, compare_optimizers, minibatch_indices, train


# --------------------------------------------------------------------------- the data

def test_digits_split_sizes_labels_and_standardisation(data):
    raw = load_digits()
    assert data.X_train.shape[0] + data.X_val.shape[0] == 1797
    assert data.X_val.shape == (round(0.3 * 1797), 64)
    assert data.feature_names == tuple(raw.feature_names)
    assert data.y_train.dtype.kind == "i" and set(np.unique(data.y_train)) == set(range(10))
    sd = data.X_train.std(axis=0)
    assert_allclose(data.X_train.mean(axis=0), 0, atol=1e-12)
    assert_allclose(sd[sd > 1e-12], 1, atol=1e-12)
    # the only other columns are pixels blank in every training image: all zero after centring
    assert 0 < np.sum(sd <= 1e-12) <= 4
    assert_array_equal(data.X_train[:, sd <= 1e-12], 0)


def test_digits_rows_are_the_original_images_with_their_labels():
    d = digits(seed=4)
    raw = load_digits()
    X = np.vstack([d.X_train, d.X_val])
    y = np.concatenate([d.y_train, d.y_val])
    # each column is an increasing affine map of the raw pixels: recover it from the sorted
    # values, map back, and compare the (image, label) pairs with the originals
    back = np.empty_like(X)
    for j in range(64):
        r, z = np.sort(raw.data[:, j]), np.sort(X[:, j])
        if np.ptp(r) == 0:
            back[:, j] = r[0]
            continue
        slope, intercept = np.polyfit(z, r, 1)
        assert slope > 0
        back[:, j] = slope * X[:, j] + intercept
    assert_allclose(back, np.round(back), atol=1e-8)
    ours = sorted(map(tuple, np.column_stack([np.round(back), y]).astype(int)))
    orig = sorted(map(tuple, np.column_stack([raw.data, raw.target]).astype(int)))
    assert ours == orig


def test_digits_split_is_deterministic_per_seed_and_checks_its_fraction():
    a, b, c = digits(seed=1), digits(seed=1), digits(seed=2)
    assert_array_equal(a.X_train, b.X_train)
    assert_array_equal(a.y_val, b.y_val)
    assert not np.array_equal(a.y_train, c.y_train)
    with pytest.raises(ValueError, match="val_fraction"):
        digits(val_fraction=1.0)


# ------------------------------------------------------------------- model gradients

def torch_scores(model, X, params):
    if isinstance(model, SoftmaxRegression):
        W, b = params
        return X @ W + b
    W1, b1, W2, b2 = params
    act = torch.relu if model.activation == "relu" else torch.tanh
    return act(X @ W1 + b1) @ W2 + b2


@pytest.mark.parametrize("make", [lambda: SoftmaxRegression(64, 10, seed=2),
                                  lambda: MLP(64, 16, 10, activation="relu", seed=2),
                                  lambda: MLP(64, 16, 10, activation="tanh", seed=2)])
def test_loss_and_grads_match_torch_autograd(make, data):
    model = make()
    X, y = data.X_train[:50], data.y_train[:50]
    loss, grads = model.loss_and_grads(X, y)
    tp = [torch.tensor(p, requires_grad=True) for p in model.params]
    ref = F.cross_entropy(torch_scores(model, torch.tensor(X), tp), torch.tensor(y))
    ref.backward()
    assert loss == pytest.approx(ref.item(), rel=1e-13)
    for g, p in zip(grads, tp):
        assert g.shape == p.shape
        assert_allclose(g, p.grad.numpy(), rtol=1e-11, atol=1e-14)


def test_mlp_gradients_pass_a_finite_difference_check(data):
    model = MLP(64, 8, 10, activation="tanh", seed=0)
    X, y = data.X_train[:20], data.y_train[:20]
    for i, p in enumerate(model.params):
        def f(v, i=i):
            saved = model.params[i].copy()
            model.params[i][...] = v
            out = model.loss(X, y)
            model.params[i][...] = saved
            return out

        def grad(v, i=i):
            saved = model.params[i].copy()
            model.params[i][...] = v
            out = model.loss_and_grads(X, y)[1][i]
            model.params[i][...] = saved
            return out

        assert check_gradient(f, grad, p.copy()).passed


def test_softmax_regression_starts_near_log_k(data):
    model = SoftmaxRegression(64, 10, seed=0)
    assert model.loss(data.X_train, data.y_train) == pytest.approx(math.log(10), abs=0.02)


# ---------------------------------------------------------- the loop against torch

def test_training_loop_matches_an_independent_torch_loop_for_two_epochs(data):
    model = MLP(64, 32, 10, seed=3)
    tp = [torch.tensor(p.copy(), requires_grad=True) for p in model.params]
    hist = train(model, optim.Adam(model.params, lr=3e-3), data, epochs=2, batch_size=50, seed=9,
                 progress=False)
    topt = torch.optim.Adam(tp, lr=3e-3)
    X, y = torch.tensor(data.X_train), torch.tensor(data.y_train)
    rng = np.random.default_rng(9)
    losses = []
    for _ in range(2):
        for idx in minibatch_indices(len(data.y_train), 50, rng):
            idx = torch.tensor(idx)
            loss = F.cross_entropy(torch_scores(model, X[idx], tp), y[idx])
            topt.zero_grad()
            loss.backward()
            topt.step()
            losses.append(loss.item())
    assert_allclose(hist.step_loss, losses, rtol=1e-10)
    for p, q in zip(model.params, tp):
        assert np.max(np.abs(p - q.detach().numpy())) < 1e-10
    with torch.no_grad():
        val = F.cross_entropy(torch_scores(model, torch.tensor(data.X_val), tp), torch.tensor(data.y_val))
    assert hist.val_loss[-1] == pytest.approx(val.item(), rel=1e-9)


def test_full_batch_training_is_gradient_descent(data):
    small = Dataset(data.X_train[:100], data.y_train[:100], data.X_val[:20], data.y_val[:20], (), "")
    model = SoftmaxRegression(64, 10, seed=1)
    W0, b0 = (p.copy() for p in model.params)
    train(model, optim.SGD(model.params, lr=0.5), small, epochs=5, batch_size=1000, progress=False)
    replay = SoftmaxRegression(64, 10, seed=1)
    for _ in range(5):
        _, grads = replay.loss_and_grads(small.X_train, small.y_train)
        for p, g in zip(replay.params, grads):
            p -= 0.5 * g
    for p, q in zip(model.params, replay.params):
        assert_allclose(p, q, rtol=1e-12, atol=1e-15)
    assert not np.allclose(model.params[0], W0)


# -------------------------------------------------------------- recording, determinism

def test_training_is_deterministic_per_seed(data):
    def run(seed, model_seed=0):
        m = MLP(64, 16, 10, seed=model_seed)
        return train(m, optim.SGD(m.params, lr=0.05, momentum=0.9), data, epochs=2, seed=seed,
                     progress=False)

    a, b, c = run(0), run(0), run(1)
    assert_array_equal(a.step_loss, b.step_loss)
    assert_array_equal(a.val_accuracy, b.val_accuracy)
    assert not np.array_equal(a.step_loss, c.step_loss)
    assert a.train_loss[0] == c.train_loss[0]  # same initial model, different batch order


def test_history_records_every_step_epoch_and_scheduled_rate(data):
    m = SoftmaxRegression(64, 10)
    sched = schedules.warmup(schedules.cosine(0.5, 40), warmup_steps=5)
    h = train(m, optim.SGD(m.params, lr=0.5), data, epochs=3, batch_size=100, schedule=sched,
              progress=False)
    n = len(data.y_train)
    assert h.steps_per_epoch == -(-n // 100) == 13
    assert h.step_loss.shape == h.lr.shape == (39,)
    assert_allclose(h.lr, sched.values(39))
    assert_array_equal(h.epoch, [0, 1, 2, 3])
    assert h.train_loss.shape == h.val_accuracy.shape == (4,)
    assert h.train_loss[-1] < 0.5 * h.train_loss[0]
    assert h.val_accuracy[-1] > 0.85
    assert_allclose(h.train_loss[-1], m.loss(data.X_train, data.y_train), rtol=1e-12)
    assert_allclose(h.val_accuracy[-1], m.accuracy(data.X_val, data.y_val))
    assert not h.diverged and h.seconds > 0


def test_a_diverging_run_is_flagged_and_stops(data):
    m = MLP(64, 16, 10)
    with np.errstate(all="raise"):
        h = train(m, optim.SGD(m.params, lr=1e200), data, epochs=3, progress=False)
    assert h.diverged
    assert np.isnan(h.step_loss[-1]) and np.isnan(h.val_loss[-1])
    assert np.isfinite(h.val_loss[0])


def test_the_progress_bar_can_be_disabled(data, capsys):
    m = SoftmaxRegression(64, 10)
    train(m, optim.SGD(m.params, lr=0.1), data, epochs=1, progress=False)
    assert capsys.readouterr().err == ""
    train(m, optim.SGD(m.params, lr=0.1), data, epochs=1, progress=True, desc="sgd")
    assert "sgd" in capsys.readouterr().err


def test_float32_models_train_in_float32(data):
    m = MLP(64, 16, 10, dtype=np.float32)
    h = train(m, optim.Adam(m.params, lr=1e-2), data, epochs=2, progress=False)
    assert all(p.dtype == np.float32 for p in m.params)
    assert h.train_loss[-1] < h.train_loss[0]


def test_minibatch_indices_cover_every_sample_once():
    batches = minibatch_indices(103, 10, np.random.default_rng(0))
    assert [len(b) for b in batches] == [10] * 10 + [3]
    assert_array_equal(np.sort(np.concatenate(batches)), np.arange(103))


@pytest.mark.slow
def test_six_optimizers_train_the_digits_mlp_from_the_same_start(data):
    opts = {
        "SGD": lambda p: optim.SGD(p, lr=0.1),
        "Momentum": lambda p: optim.SGD(p, lr=0.05, momentum=0.9),
        "Nesterov": lambda p: optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True),
        "AdaGrad": lambda p: optim.Adagrad(p, lr=0.05),
        "RMSProp": lambda p: optim.RMSprop(p, lr=1e-3),
        "Adam": lambda p: optim.Adam(p, lr=1e-3),
    }
    out = compare_optimizers(lambda: MLP(64, 64, 10, seed=0), opts, data, epochs=20, batch_size=32,
                             progress=False)
    assert list(out) == list(opts)
    first = {h.train_loss[0] for h in out.values()}
    assert len(first) == 1
    for name, h in out.items():
        assert h.val_accuracy[-1] > 0.9, name
        assert h.train_loss[-1] < 0.1, name


# ------------------------------------------------------------------------- bad inputs

def test_training_rejects_an_optimizer_built_on_other_arrays(data):
    m = MLP(64, 8, 10)
    other = MLP(64, 8, 10)
    with pytest.raises(ValueError, match="model.params"):
        train(m, optim.SGD(other.params, lr=0.1), data, progress=False)
    with pytest.raises(TypeError, match="optimizer"):
        train(m, torch.optim.SGD([torch.zeros(1)], lr=0.1), data, progress=False)


def test_training_arguments_are_checked(data):
    m = SoftmaxRegression(64, 10)
    opt = optim.SGD(m.params, lr=0.1)
    with pytest.raises(ValueError, match="epochs"):
        train(m, opt, data, epochs=0, progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        train(m, opt, data, batch_size=0, progress=False)
    with pytest.raises(TypeError, match="data"):
        train(m, opt, (data.X_train, data.y_train), progress=False)
    with pytest.raises(TypeError, match="schedule"):
        train(m, opt, data, schedule=0.1, progress=False)
    wrong = SoftmaxRegression(10, 10)
    with pytest.raises(ValueError, match="64 features|10 features"):
        train(wrong, optim.SGD(wrong.params), data, progress=False)
    seven = SoftmaxRegression(64, 7)
    with pytest.raises(ValueError, match="class indices"):
        train(seven, optim.SGD(seven.params), data, progress=False)


def test_model_arguments_are_checked():
    with pytest.raises(ValueError, match="activation"):
        MLP(4, 3, 2, activation="sigmoid")
    with pytest.raises(ValueError, match="n_classes"):
        SoftmaxRegression(4, 1)
    with pytest.raises(TypeError, match="dtype"):
        MLP(4, 3, 2, dtype=np.int32)
    with pytest.raises(ValueError, match="X must have 4 features"):
        MLP(4, 3, 2).loss_and_grads(np.zeros((2, 5)), [0, 1])
