"""dlnotes.averaging against torch.optim (weight decay), torch.optim.swa_utils (Polyak, EMA) and the closed forms."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from dlnotes import averaging as A
from dlnotes import datasets, optim, schedules, training


def test_decoupled_weight_decay_shrinks_by_one_minus_lr_lambda_per_step_like_torch_adamw():
    x0 = np.array([1.0, -2.0, 0.5])
    lr, lam, k = 0.1, 0.3, 25
    p = torch.nn.Parameter(torch.tensor(x0))
    opt = torch.optim.AdamW([p], lr=lr, weight_decay=lam)
    for _ in range(k):
        opt.zero_grad()
        p.grad = torch.zeros_like(p)          # no loss gradient: only the decay acts
        opt.step()
    np.testing.assert_allclose(A.decayed_weights(x0, lr, lam, k), p.detach().numpy(), rtol=1e-12)
    assert A.shrinkage_factor(lr, lam) == pytest.approx(0.97)
    ours = [x0.copy()]
    o = optim.AdamW(ours, lr=lr, weight_decay=lam)
    for _ in range(k):
        o.step([np.zeros(3)])
    np.testing.assert_allclose(ours[0], p.detach().numpy(), rtol=1e-12)


def _iterates(k, seed=0):
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal((3, 2)), rng.standard_normal(2)] for _ in range(k)]


def _torch_average(iterates, **kwargs):
    lin = torch.nn.Linear(3, 2).double()
    avg = AveragedModel(lin, **kwargs)
    for W, b in iterates:
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(W.T))
            lin.bias.copy_(torch.tensor(b))
        avg.update_parameters(lin)
    return avg.module.weight.detach().numpy().T, avg.module.bias.detach().numpy()


@pytest.mark.parametrize("k", [1, 2, 7])
def test_polyak_average_matches_averaged_model(k):
    its = _iterates(k)
    pa = A.PolyakAverage()
    for it in its:
        pa.update(it)
    W, b = _torch_average(its)
    np.testing.assert_allclose(pa.average[0], W, rtol=1e-12)
    np.testing.assert_allclose(pa.average[1], b, rtol=1e-12)
    np.testing.assert_allclose(pa.average[0], np.mean([w for w, _ in its], axis=0), rtol=1e-12)
    assert pa.n == k


@pytest.mark.parametrize("decay", [0.5, 0.9, 0.999])
@pytest.mark.parametrize("k", [1, 3, 10])
def test_ema_matches_get_ema_multi_avg_fn_and_the_closed_form(decay, k):
    its = _iterates(k, seed=1)
    ema = A.EMA(decay)
    for it in its:
        ema.update(it)
    W, b = _torch_average(its, multi_avg_fn=get_ema_multi_avg_fn(decay))
    np.testing.assert_allclose(ema.average[0], W, rtol=1e-10)
    np.testing.assert_allclose(ema.average[1], b, rtol=1e-10)
    closed = decay ** (k - 1) * its[0][1] + sum((1 - decay) * decay ** (k - t) * its[t - 1][1]
                                                 for t in range(2, k + 1))
    np.testing.assert_allclose(ema.average[1], closed, rtol=1e-10)


def test_ensemble_probabilities_are_the_mean_of_the_softmaxes_and_sum_to_one():
    data = datasets.digits()
    models = [training.SoftmaxRegression(64, 10, seed=s) for s in range(3)]
    P = A.ensemble_probabilities(models, data.X_val)
    ref = np.mean([torch.softmax(torch.tensor(m.scores(data.X_val)), 1).numpy() for m in models], axis=0)
    np.testing.assert_allclose(P, ref, rtol=1e-10)
    np.testing.assert_allclose(P.sum(axis=1), 1.0)


def test_snapshot_ensemble_saves_one_model_per_cycle_at_the_lowest_rate():
    data = datasets.digits()
    snaps, hist = A.snapshot_ensemble(lambda: training.MLP(64, 16, 10, seed=0),
                                      lambda p: optim.SGD(p, lr=0.1, momentum=0.9), data,
                                      lr=0.1, cycles=3, epochs_per_cycle=2)
    assert len(snaps) == 3 and len(hist.epoch) == 7
    steps = hist.steps_per_epoch * 2
    ref = schedules.cosine_warm_restarts(0.1, period=steps).values(3 * steps)
    np.testing.assert_allclose(hist.lr, ref)
    assert not np.allclose(snaps[0].params[0], snaps[1].params[0])
    np.testing.assert_allclose(snaps[-1].accuracy(data.X_val, data.y_val), hist.val_accuracy[-1])


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ValueError, match="lr \\* weight_decay"):
        A.shrinkage_factor(1.0, 2.0)
    with pytest.raises(ValueError, match="decay"):
        A.EMA(1.0)
    with pytest.raises(TypeError, match="params"):
        A.PolyakAverage().update(np.ones(3))
    pa = A.PolyakAverage()
    pa.update([np.ones(2)])
    with pytest.raises(ValueError, match="same shapes"):
        pa.update([np.ones(3)])
