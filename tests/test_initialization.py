"""dlnotes.initialization against torch.nn.init (statistically), and DeepMLP against torch autograd.

The initializers are random, so they are compared with torch.nn.init through the
sampling distribution of their second moment. For n i.i.d. weights with mean 0, the
estimate m2 = mean(w^2) of the variance has standard error sqrt((mu4 - m2^2) / n), where
mu4 = E[w^4]; both moments are estimated from the samples themselves, so the test uses no
formula of the code under test. Ours and torch's estimates must agree within 6 standard
errors of their difference (a false alarm has probability about 2e-9; the seeds are fixed,
so the test is deterministic). With 10^6 weights per side this resolves a difference of
about 1.2% in the variance, 0.6% in the standard deviation: the tests below check that the
same comparison does fail for a wrong gain, a wrong mode or a wrong distribution.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch

from dlnotes import initialization as init
from dlnotes import training

# a non-square layer, so that fan_in and fan_out differ (by 4x)
N_IN, N_OUT = 2000, 500
Z_MAX = 6.0


def _ours(fn, *args, seed=0, dtype=np.float64, **kw):
    return fn((N_IN, N_OUT), *args, rng=seed, dtype=dtype, **kw)


def _torch(fn, *args, seed=0, **kw):
    torch.manual_seed(seed)
    w = torch.empty(N_OUT, N_IN, dtype=torch.float64)      # torch's (out, in) layout
    fn(w, *args, **kw)
    return w.T.numpy()                                      # back to the book's (in, out)


def _z_score(a: np.ndarray, b: np.ndarray) -> float:
    """|m2(a) - m2(b)| in standard errors of the difference (moments estimated from the data)."""
    def m2_and_var(w):
        w = np.asarray(w, dtype=np.float64).ravel()
        m2 = np.mean(w * w)
        return m2, (np.mean(w ** 4) - m2 * m2) / w.size
    (ma, va), (mb, vb) = m2_and_var(a), m2_and_var(b)
    return abs(ma - mb) / math.sqrt(va + vb)


def _same_distribution(a, b) -> bool:
    return _z_score(a, b) < Z_MAX and scipy.stats.ks_2samp(a.ravel()[:200_000], b.ravel()[:200_000]).pvalue > 1e-6


PAIRS = [
    ("xavier_uniform", init.xavier_uniform, (), {}, torch.nn.init.xavier_uniform_, (), {}),
    ("xavier_uniform_gain", init.xavier_uniform, (1.7,), {}, torch.nn.init.xavier_uniform_, (), {"gain": 1.7}),
    ("xavier_normal", init.xavier_normal, (), {}, torch.nn.init.xavier_normal_, (), {}),
    ("xavier_normal_tanh", init.xavier_normal, (5 / 3,), {}, torch.nn.init.xavier_normal_, (),
     {"gain": torch.nn.init.calculate_gain("tanh")}),
    ("kaiming_uniform", init.kaiming_uniform, (), {}, torch.nn.init.kaiming_uniform_, (), {}),
    ("kaiming_uniform_fan_out", init.kaiming_uniform, (), {"mode": "fan_out"},
     torch.nn.init.kaiming_uniform_, (), {"mode": "fan_out"}),
    ("kaiming_uniform_leaky", init.kaiming_uniform, (0.2,), {"nonlinearity": "leaky_relu"},
     torch.nn.init.kaiming_uniform_, (0.2,), {"nonlinearity": "leaky_relu"}),
    ("kaiming_uniform_linear_default", init.kaiming_uniform, (math.sqrt(5),), {},
     torch.nn.init.kaiming_uniform_, (math.sqrt(5),), {}),
    ("kaiming_normal", init.kaiming_normal, (), {}, torch.nn.init.kaiming_normal_, (), {}),
    ("kaiming_normal_fan_out_relu", init.kaiming_normal, (), {"mode": "fan_out", "nonlinearity": "relu"},
     torch.nn.init.kaiming_normal_, (), {"mode": "fan_out", "nonlinearity": "relu"}),
    ("kaiming_normal_tanh", init.kaiming_normal, (), {"nonlinearity": "tanh"},
     torch.nn.init.kaiming_normal_, (), {"nonlinearity": "tanh"}),
    ("normal", init.normal, (0.05,), {}, torch.nn.init.normal_, (0.0, 0.05), {}),
]


@pytest.mark.parametrize("name, ours, args, kw, theirs, targs, tkw", PAIRS, ids=[p[0] for p in PAIRS])
def test_initializer_draws_from_torchs_distribution(name, ours, args, kw, theirs, targs, tkw):
    a = _ours(ours, *args, **kw)
    b = _torch(theirs, *targs, **tkw)
    assert a.shape == (N_IN, N_OUT)
    assert _z_score(a, b) < Z_MAX
    # the shape of the distribution too (normal vs uniform), not just its variance
    assert scipy.stats.ks_2samp(a.ravel()[:200_000], b.ravel()[:200_000]).pvalue > 1e-6
    if "uniform" in name:   # the same support: both maxima approach the bound from below
        assert np.abs(a).max() == pytest.approx(np.abs(b).max(), rel=1e-4)


def test_the_comparison_resolves_half_a_percent_in_the_standard_deviation():
    # 6 standard errors of the difference, for normal weights, as a fraction of the std
    a = _ours(init.xavier_normal, seed=1)
    b = _torch(torch.nn.init.xavier_normal_, seed=1)
    m2 = np.mean(a * a)
    se = math.sqrt((np.mean(a ** 4) - m2 ** 2) / a.size + (np.mean(b ** 4) - np.mean(b * b) ** 2) / b.size)
    assert Z_MAX * se / m2 / 2 < 0.007


@pytest.mark.parametrize("wrong, theirs, tkw", [
    # wrong mode: fan_out where torch uses fan_in (variance 4x off)
    (lambda: _ours(init.kaiming_normal, mode="fan_out"), torch.nn.init.kaiming_normal_, {}),
    # wrong gain: the linear gain 1 instead of torch's default sqrt(2)
    (lambda: _ours(init.kaiming_normal, gain=1.0), torch.nn.init.kaiming_normal_, {}),
    # wrong gain for tanh: 1 instead of 5/3
    (lambda: _ours(init.xavier_uniform), torch.nn.init.xavier_uniform_, {"gain": 5 / 3}),
    # the fans swapped (torch's (out, in) layout read as ours): Kaiming fan_in off by 4x
    (lambda: init.kaiming_uniform((N_OUT, N_IN), rng=0).T, torch.nn.init.kaiming_uniform_, {}),
    # Xavier's mean of the fans replaced by the fan-in alone (variance 1.6x off)
    (lambda: init.normal((N_IN, N_OUT), math.sqrt(1 / N_IN), rng=0), torch.nn.init.xavier_normal_, {}),
    # a 2% error in the standard deviation
    (lambda: 1.02 * _ours(init.xavier_normal), torch.nn.init.xavier_normal_, {}),
])
def test_the_same_comparison_fails_for_a_wrong_gain_mode_or_layout(wrong, theirs, tkw):
    assert not _same_distribution(wrong(), _torch(theirs, **tkw))


def test_the_comparison_fails_for_the_wrong_distribution_with_the_right_variance():
    a = _ours(init.xavier_uniform)
    b = _torch(torch.nn.init.xavier_normal_)
    assert _z_score(a, b) < Z_MAX           # the variances agree ...
    assert not _same_distribution(a, b)     # ... the shapes do not (KS)


@pytest.mark.parametrize("nonlinearity, param", [
    ("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
    ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", 0), ("selu", None),
])
def test_calculate_gain_equals_torch(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(
        torch.nn.init.calculate_gain(nonlinearity, param), rel=1e-15)


def test_standard_deviations_are_the_books_formulas_and_float32_is_kept():
    assert init.xavier_std(300, 100) == pytest.approx(math.sqrt(2 / 400))
    assert init.kaiming_std(300, 100) == pytest.approx(math.sqrt(2 / 300))
    assert init.kaiming_std(300, 100, mode="fan_out") == pytest.approx(math.sqrt(2 / 100))
    w = init.kaiming_normal((N_IN, N_OUT), rng=3, dtype=np.float32)
    assert w.dtype == np.float32 and w.flags.c_contiguous
    assert _z_score(w, _torch(torch.nn.init.kaiming_normal_, seed=3)) < Z_MAX


def test_fans_and_bad_arguments():
    assert init.fans((3, 4)) == (3, 4)
    assert init.fans((2, 3, 4)) == (3, 4)
    assert init.fans((8, 3, 5, 5), fan_in=75, fan_out=200) == (75, 200)
    with pytest.raises(ValueError, match="fan_in= and fan_out="):
        init.fans((8, 3, 5, 5))
    with pytest.raises(ValueError, match="mode"):
        init.kaiming_normal((3, 4), mode="fan_avg")
    with pytest.raises(ValueError, match="nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="shape"):
        init.xavier_normal((3, 0))
    with pytest.raises(ValueError, match="gain"):
        init.xavier_normal((3, 4), -1.0)
    with pytest.raises(TypeError, match="dtype"):
        init.xavier_normal((3, 4), dtype=np.int32)
    with pytest.raises(TypeError, match="rng"):
        init.xavier_normal((3, 4), rng="seed")


def test_same_seed_same_weights():
    np.testing.assert_array_equal(init.xavier_normal((5, 6), rng=4), init.xavier_normal((5, 6), rng=4))


# ------------------------------------------------------------------ DeepMLP

def _torch_mlp_grads(model, X, y, act_fn):
    ws = [torch.tensor(w, requires_grad=True) for w in model.weights]
    bs = [torch.tensor(b, requires_grad=True) for b in model.biases]
    a = torch.tensor(X)
    for l, (W, b) in enumerate(zip(ws, bs)):
        z = a @ W + b
        a = z if l == len(ws) - 1 else act_fn(z)
    loss = torch.nn.functional.cross_entropy(a, torch.tensor(y))
    loss.backward()
    return loss.item(), [g for wb in zip(ws, bs) for g in (wb[0].grad.numpy(), wb[1].grad.numpy())]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation, torch_fn", [
    ("relu", torch.relu), ("tanh", torch.tanh), ("sigmoid", torch.sigmoid),
    ("leaky_relu", torch.nn.functional.leaky_relu), ("elu", torch.nn.functional.elu),
    ("gelu", torch.nn.functional.gelu)])
def test_deep_mlp_loss_and_gradients_match_torch_autograd(activation, torch_fn, dtype, data):
    X, y = data.X_train[:40].astype(dtype), data.y_train[:40]
    model = init.DeepMLP(64, [16, 12, 8], 10, activation=activation, init="xavier_normal", seed=1,
                         dtype=dtype)
    loss, grads = model.loss_and_grads(X, y)
    ref_loss, ref = _torch_mlp_grads(model, X, y, torch_fn)
    tol = dict(rtol=1e-10, atol=1e-13) if dtype == np.float64 else dict(rtol=2e-4, atol=2e-6)
    assert loss == pytest.approx(ref_loss, rel=tol["rtol"])
    assert [g.dtype for g in grads] == [dtype] * len(grads)
    for g, r in zip(grads, ref):
        np.testing.assert_allclose(g, r, **tol)


def test_deep_mlp_trains_with_the_training_loop(data):
    model = init.DeepMLP(64, [32, 32], 10, activation="relu", init="kaiming_normal", seed=0)
    from dlnotes import optim
    h = training.train(model, optim.SGD(model.params, lr=0.05, momentum=0.9), data, epochs=3,
                       progress=False)
    assert h.val_accuracy[-1] > 0.9 and h.train_loss[-1] < h.train_loss[0] / 5


def test_deep_mlp_weights_follow_the_named_scheme_and_the_output_layer_uses_gain_one():
    m = init.DeepMLP(64, [400] * 3, 10, init="kaiming_normal", seed=0)
    assert [w.shape for w in m.weights] == [(64, 400), (400, 400), (400, 400), (400, 10)]
    assert m.weights[1].std() == pytest.approx(math.sqrt(2 / 400), rel=0.01)
    assert m.weights[-1].std() == pytest.approx(math.sqrt(1 / 400), rel=0.05)
    g = init.DeepMLP(64, [400] * 2, 10, init="xavier_normal", gain=2.0, seed=0)
    assert g.weights[1].std() == pytest.approx(2 * math.sqrt(2 / 800), rel=0.01)
    f = init.DeepMLP(64, [400] * 2, 10, init=0.01, seed=0)
    assert all(w.std() == pytest.approx(0.01, rel=0.05) for w in f.weights)
    with pytest.raises(ValueError, match="gain applies"):
        init.DeepMLP(64, [4], 10, init=0.01, gain=2.0)
    with pytest.raises(ValueError, match="init must be"):
        init.DeepMLP(64, [4], 10, init="orthogonal")
    with pytest.raises(ValueError, match="widths"):
        init.DeepMLP(64, [4, 0], 10)


def test_layer_statistics_are_those_of_the_forward_pass(data):
    m = init.DeepMLP(64, [50] * 4, 10, activation="tanh", init="xavier_normal", seed=2)
    st = init.layer_statistics(m, data.X_train, data.y_train)
    zs, acts = m.layer_outputs(data.X_train)
    np.testing.assert_allclose(st.act_std, [a.std() for a in acts])
    np.testing.assert_allclose(st.pre_std, [z.std() for z in zs])
    np.testing.assert_allclose(st.saturated, [np.mean(np.abs(a) > 0.99) for a in acts])
    _, grads = m.loss_and_grads(data.X_train, data.y_train)
    np.testing.assert_allclose(st.grad_norm, [np.linalg.norm(grads[2 * l]) for l in range(4)])
    assert st.loss == pytest.approx(m.loss(data.X_train, data.y_train))
    # dL/da for the last hidden layer, by torch autograd
    X = torch.tensor(data.X_train)
    a = X
    ws = [torch.tensor(w, requires_grad=True) for w in m.weights]
    hidden = []
    for l, W in enumerate(ws):
        z = a @ W
        a = z if l == len(ws) - 1 else torch.tanh(z)
        if l < len(ws) - 1:
            a.retain_grad()
            hidden.append(a)
    torch.nn.functional.cross_entropy(a, torch.tensor(data.y_train)).backward()
    N = len(data.y_train)
    np.testing.assert_allclose(st.act_grad_std, [N * h.grad.std(unbiased=False).item() for h in hidden],
                               rtol=1e-10)
