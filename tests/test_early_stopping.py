"""dlnotes.early_stopping: patience on hand-made curves, the best checkpoint, and the two retraining strategies."""

from __future__ import annotations

import numpy as np
import pytest

from dlnotes import datasets, early_stopping as E, optim, training


def test_patience_stops_after_that_many_epochs_without_improvement_and_keeps_the_best_params():
    losses = [1.0, 0.8, 0.7, 0.75, 0.71, 0.72, 0.69, 0.70, 0.71, 0.72, 0.73]
    stopper = E.EarlyStopping(patience=4)
    stopped = None
    for e, v in enumerate(losses):
        if stopper.step(e, v, [np.array([float(e)])]):
            stopped = e
            break
    # epochs 3-5 do not improve (3 < patience), 0.69 at epoch 6 does; epochs 7-10 do not: stop at 10
    assert stopper.best_epoch == 6 and stopped == 10 and stopper.best_params[0][0] == 6.0
    short = E.EarlyStopping(patience=3)
    assert [short.step(e, v, [np.zeros(1)]) for e, v in enumerate(losses[:6])][-1] and short.best_epoch == 2


def test_min_delta_ignores_tiny_improvements():
    stopper = E.EarlyStopping(patience=2, min_delta=0.05)
    assert not stopper.step(0, 1.0, [np.zeros(1)])
    assert not stopper.step(1, 0.98, [np.zeros(1)])       # not better by more than 0.05
    assert stopper.step(2, 0.97, [np.zeros(1)])
    assert stopper.best_epoch == 0


def test_train_early_stopping_restores_the_best_weights_and_its_validation_loss():
    full = datasets.digits()
    inner = E.split_off_validation(full, 0.3, seed=0)
    assert len(inner.y_train) + len(inner.y_val) == len(full.y_train)
    model = training.MLP(64, 32, 10, seed=0)
    run = E.train_early_stopping(model, optim.SGD(model.params, lr=0.2, momentum=0.9), inner, max_epochs=40,
                                 patience=3)
    assert run.val_loss[run.best_epoch] == pytest.approx(run.val_loss.min())
    assert model.loss(inner.X_val, inner.y_val) == pytest.approx(run.val_loss[run.best_epoch], rel=1e-12)
    assert run.stopped_epoch == 40 or run.stopped_epoch - run.best_epoch == 3
    assert run.best_steps == run.best_epoch * run.steps_per_epoch


def test_both_retraining_strategies_use_all_the_data():
    full = datasets.digits()
    inner = E.split_off_validation(full, 0.3, seed=0)
    all_data = E.merge_validation(inner, full)
    assert len(all_data.y_train) == len(full.y_train) and np.array_equal(all_data.X_val, full.X_val)
    model = training.MLP(64, 32, 10, seed=0)
    run = E.train_early_stopping(model, optim.SGD(model.params, lr=0.2, momentum=0.9), inner, max_epochs=30,
                                 patience=3)
    m1, h1 = E.retrain_same_steps(lambda: training.MLP(64, 32, 10, seed=0),
                                  lambda p: optim.SGD(p, lr=0.2, momentum=0.9), all_data, run)
    assert h1.steps_per_epoch == run.steps_per_epoch and len(h1.epoch) - 1 == max(run.best_epoch, 1)
    target = run.train_loss[run.best_epoch]
    extra, losses = E.continue_until(model, optim.SGD(model.params, lr=0.2, momentum=0.9), all_data, inner,
                                     target, max_epochs=60)
    assert losses[-1] <= target and np.all(losses[:-1] > target)
    assert extra == len(losses)


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ValueError, match="patience"):
        E.EarlyStopping(patience=0)
    with pytest.raises(ValueError, match="min_delta"):
        E.EarlyStopping(min_delta=-1)
    with pytest.raises(ValueError, match="val_fraction"):
        E.split_off_validation(datasets.digits(), 1.0)
