"""dlnotes.transfer: the shipped pre-trained CNN, the tasks, probes, optimizers and measurements, against independent references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dlnotes import cnn, optim
from dlnotes import transfer as tr
from dlnotes.datasets import Dataset


@pytest.fixture(scope="module")
def tasks():
    return tr.tasks()


@pytest.fixture(scope="module")
def pre():
    return tr.load_pretrained()


# ------------------------------------------------------------------ the pre-trained model

def test_shipped_weights_load_and_solve_the_source_task(tasks):
    source, target = tasks
    model = tr.pretrained_cnn()
    assert model.n_params == 1573 and model.n_classes == 5
    assert model.accuracy(source.X_val, source.y_val) > 0.98
    # it knows nothing about 5-9 yet: its 5-way head is about chance there
    assert model.accuracy(target.X_val, target.y_val) < 0.5


@pytest.mark.slow
def test_pretrain_regenerates_the_shipped_weights_bit_for_bit(pre, tmp_path):
    # under portable_env (OpenBLAS's Haswell kernels, NumPy's AVX2 loops, one thread), so the
    # bits do not depend on which CPU ran it (plain pretrain() differs in the last bits across CPUs)
    path = tr.pretrain_portable(tmp_path / "fresh.npz")
    fresh = tr.load_pretrained(path)
    assert set(fresh) == set(pre)
    for k in pre:
        assert fresh[k].dtype == pre[k].dtype == np.float64
        assert fresh[k].tobytes() == pre[k].tobytes(), k


def test_pretrain_in_process_agrees_with_the_shipped_weights_to_rounding(pre, tasks):
    # without the pinned kernels the weights differ from the shipped ones only by rounding
    fresh = tr.pretrain()
    state = fresh.state_dict()
    for k in pre:
        np.testing.assert_allclose(state[k], pre[k], rtol=1e-9, atol=1e-12, err_msg=k)
    source, _ = tasks
    np.testing.assert_array_equal(fresh.predict(source.X_val),
                                  tr.pretrained_cnn().predict(source.X_val))


def test_portable_env_pins_the_kernels():
    env = tr.portable_env()
    assert env["OPENBLAS_CORETYPE"] == "Haswell" and env["OPENBLAS_NUM_THREADS"] == "1"
    from numpy._core import _multiarray_umath as mu
    if "X86_V4" in mu.__cpu_dispatch__:
        assert "X86_V4" in env["NPY_DISABLE_CPU_FEATURES"].split()


def test_pretrain_command_writes_a_loadable_file(tmp_path, monkeypatch, pre):
    from typer.testing import CliRunner
    from dlnotes.cli import app

    calls = []

    def fake(path, progress=False):
        calls.append(progress)
        return tr.save_pretrained(tr.pretrained_cnn(), path)

    monkeypatch.setattr(tr, "pretrain_portable", fake)
    out = tmp_path / "w.npz"
    res = CliRunner().invoke(app, ["pretrain", "--output", str(out)])
    assert res.exit_code == 0, res.output
    assert calls == [True] and "validation accuracy" in res.output
    loaded = tr.load_pretrained(out)
    assert all(np.array_equal(loaded[k], pre[k]) for k in pre)


def test_new_model_keeps_the_pretrained_body_and_draws_a_fresh_head(pre):
    m = tr.new_model(pre, seed=3)
    named = m.named_params()
    for k, v in pre.items():
        if k.startswith("body."):
            np.testing.assert_array_equal(named[k], v.astype(np.float32))
    assert not np.allclose(named["head.weight"], pre["head.weight"])
    np.testing.assert_array_equal(tr.new_model(pre, seed=3).named_params()["head.weight"],
                                  named["head.weight"])
    r = tr.new_model(None, seed=3)
    assert not np.allclose(r.named_params()["body.0.weight"], pre["body.0.weight"])


# ------------------------------------------------------------------ tasks

def test_tasks_split_the_digits_into_0_4_and_5_9(tasks):
    source, target = tasks
    assert set(np.unique(source.y_train)) == set(np.unique(target.y_train)) == set(range(5))
    assert len(source.y_train) + len(target.y_train) == 1258


def test_few_shot_keeps_n_per_class_and_the_validation_set(tasks):
    _, target = tasks
    d = tr.few_shot(target, 7, seed=1)
    assert np.bincount(d.y_train).tolist() == [7] * 5
    assert d.X_val is target.X_val
    rows = {tuple(r) for r in target.X_train}
    assert all(tuple(r) in rows for r in d.X_train)
    np.testing.assert_array_equal(tr.few_shot(target, 7, seed=1).X_train, d.X_train)
    assert not np.array_equal(tr.few_shot(target, 7, seed=2).X_train, d.X_train)
    assert tr.few_shot(target, None) is target
    with pytest.raises(ValueError, match="per_class"):
        tr.few_shot(target, 0)
    with pytest.raises(ValueError, match="only"):
        tr.few_shot(target, 10_000)


def test_rotate_and_invert_move_the_pixels(tasks):
    _, target = tasks
    r = tr.rotate(target)
    img = target.X_train[0].reshape(8, 8)
    np.testing.assert_array_equal(r.X_train[0].reshape(8, 8), np.rot90(img))
    np.testing.assert_array_equal(tr.rotate(target, 4).X_val, target.X_val)
    np.testing.assert_array_equal(tr.invert(target).X_train, -target.X_train)
    assert r.y_train is target.y_train


# ------------------------------------------------------------------ training

def test_fit_is_deterministic_calls_back_and_lowers_the_loss(tasks, pre):
    _, target = tasks
    d = tr.few_shot(target, 10, seed=0)
    seen = []
    runs = []
    for _ in range(2):
        m = tr.new_model(pre, seed=0)
        losses = tr.fit(m, optim.SGD(m.params, lr=0.01, momentum=0.9), d.X_train, d.y_train, 20,
                        batch_size=16, seed=4, callback=lambda t, model: seen.append(t))
        runs.append((losses, m.state_dict()))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert seen[:21] == list(range(21))
    assert runs[0][0][-5:].mean() < runs[0][0][:5].mean()


def test_fit_stops_when_the_loss_is_no_longer_finite(tasks, pre):
    _, target = tasks
    d = tr.few_shot(target, 10, seed=0)
    m = tr.new_model(pre, seed=0)
    losses = tr.fit(m, optim.SGD(m.params, lr=1e30), d.X_train, d.y_train, 50)
    assert np.isnan(losses[-1]) and np.isfinite(losses[0])


def test_fit_rejects_an_optimizer_on_other_arrays(tasks, pre):
    _, target = tasks
    m = tr.new_model(pre, seed=0)
    with pytest.raises(ValueError, match="model.params"):
        tr.fit(m, optim.SGD([p.copy() for p in m.params], lr=0.1), target.X_train, target.y_train, 1)


def _torch_sgd_groups(model, groups, grads_seq, momentum):
    tensors = {k: torch.tensor(v.astype(np.float64), requires_grad=True) for k, v in model.named_params().items()}
    opt = torch.optim.SGD([{"params": [tensors[k] for k in names], "lr": lr} for names, lr in groups],
                          lr=1.0, momentum=momentum)
    for grads in grads_seq:
        for k, g in zip(model.named_params(), grads):
            tensors[k].grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
    return {k: t.detach().numpy() for k, t in tensors.items()}


def test_layerwise_sgd_matches_torch_sgd_with_parameter_groups(pre):
    model = tr.new_model(pre, seed=0, dtype=np.float64)
    start = {k: v.copy() for k, v in model.named_params().items()}
    opt = tr.grouped_sgd(model, 0.01, 0.1, momentum=0.9, train_blocks=1)
    rng = np.random.default_rng(0)
    grads_seq = [[rng.standard_normal(p.shape) for p in model.params] for _ in range(5)]
    for g in grads_seq:
        opt.step([x.copy() for x in g])
    names = list(start)
    groups = [(names[:2], 0.0), (names[2:4], 0.01), (names[4:], 0.1)]
    ref_model = tr.new_model(pre, seed=0, dtype=np.float64)
    ref = _torch_sgd_groups(ref_model, groups, grads_seq, 0.9)
    for k, v in model.named_params().items():
        np.testing.assert_allclose(v, ref[k], rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(model.named_params()["body.0.weight"], start["body.0.weight"])


def test_grouped_sgd_checks_its_arguments(pre):
    m = tr.new_model(pre, seed=0)
    with pytest.raises(ValueError, match="train_blocks"):
        tr.grouped_sgd(m, 0.1, 0.1, train_blocks=3)
    with pytest.raises(ValueError, match="head_lr"):
        tr.grouped_sgd(m, 0.1, 0.0)
    m.freeze_body()
    with pytest.raises(ValueError, match="frozen"):
        tr.grouped_sgd(m, 0.1, 0.1)


# ------------------------------------------------------------------ probes

def test_linear_probe_is_l2_logistic_regression_as_scikit_learn_fits_it(tasks, pre):
    from sklearn.linear_model import LogisticRegression

    _, target = tasks
    d = tr.few_shot(target, 20, seed=0)
    m = tr.new_model(pre, seed=0, dtype=np.float64)
    F, Fv = m.features(d.X_train), m.features(d.X_val)
    l2 = 1e-2
    W, b = tr.linear_probe(F, d.y_train, l2=l2)
    mu, sd = F.mean(0), F.std(0)
    sd[sd == 0] = 1
    # ours: mean log-loss + l2/2 |W|^2 on standardised features; scikit-learn: C * sum + 1/2 |W|^2
    sk = LogisticRegression(C=1 / (l2 * len(d.y_train)), tol=1e-10, max_iter=10_000).fit((F - mu) / sd, d.y_train)
    z = Fv @ W + b
    ours = np.exp(z - z.max(1, keepdims=True))
    ours /= ours.sum(1, keepdims=True)
    np.testing.assert_allclose(ours, sk.predict_proba((Fv - mu) / sd), atol=2e-5)


def test_probe_head_installs_the_probe_in_the_network(tasks, pre):
    _, target = tasks
    d = tr.few_shot(target, 10, seed=0)
    m = tr.new_model(pre, seed=0, dtype=np.float64)
    W, b = tr.linear_probe(m.features(d.X_train), d.y_train)
    tr.probe_head(m, d.X_train, d.y_train)
    np.testing.assert_allclose(m.scores(d.X_val), m.features(d.X_val) @ W + b, rtol=1e-10, atol=1e-10)
    acc = tr.probe_accuracy(m.features(d.X_train), d.y_train, m.features(d.X_val), d.y_val)
    assert acc == pytest.approx(m.accuracy(d.X_val, d.y_val))


def test_stage_features_are_torchs_first_block_and_the_body_output(tasks, pre):
    _, target = tasks
    m = tr.new_model(pre, seed=0, dtype=np.float64)
    X = target.X_val[:20]
    body = m.to_torch()[0]
    with torch.no_grad():
        first = body[:3](torch.tensor(X.reshape(-1, 1, 8, 8))).reshape(20, -1).numpy()
    np.testing.assert_allclose(tr.stage_features(m, X, 1), first, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(tr.stage_features(m, X, 2), m.features(X))
    with pytest.raises(ValueError, match="stage"):
        tr.stage_features(m, X, 3)


# ------------------------------------------------------------------ measurements

def test_body_distance_is_zero_at_the_start_and_relative(pre):
    m = tr.new_model(pre, seed=0, dtype=np.float64)
    assert tr.body_distance(m, pre) == 0.0
    w = m.named_params()["body.0.weight"]
    w += 1.0
    num = math.sqrt(w.size)
    den = math.sqrt(sum(np.sum(v ** 2) for k, v in pre.items() if k.startswith("body.")))
    assert tr.body_distance(m, pre) == pytest.approx(num / den, rel=1e-12)


def test_gradient_norms_match_torch_autograd_and_keep_the_frozen_state(tasks, pre):
    _, target = tasks
    d = tr.few_shot(target, 5, seed=0)
    m = tr.new_model(pre, seed=0, dtype=np.float64).freeze_body()
    g = tr.gradient_norms(m, d.X_train, d.y_train)
    assert m.frozen
    net = m.to_torch()
    loss = torch.nn.functional.cross_entropy(net(torch.tensor(d.X_train.reshape(-1, 1, 8, 8))),
                                             torch.tensor(d.y_train))
    loss.backward()
    body = math.sqrt(sum(p.grad.pow(2).sum().item() for p in net[0].parameters()))
    head = math.sqrt(sum(p.grad.pow(2).sum().item() for p in net[1].parameters()))
    assert g["body"] == pytest.approx(body, rel=1e-10)
    assert g["head"] == pytest.approx(head, rel=1e-10)
    assert g["loss"] == pytest.approx(loss.item(), rel=1e-12)


def test_sharpness_is_the_largest_eigenvalue_of_torchs_hessian(tasks):
    _, target = tasks
    d = tr.few_shot(target, 4, seed=0)
    model = cnn.CNN(n_classes=5, channels=(2, 3), seed=1)          # 142 parameters
    lam = tr.sharpness(model, d.X_train, d.y_train, tol=1e-8)
    net = model.to_torch()
    names = [n for n, _ in net.named_parameters()]
    shapes = [p.shape for _, p in net.named_parameters()]
    flat0 = torch.cat([p.detach().reshape(-1) for _, p in net.named_parameters()])
    X = torch.tensor(d.X_train.reshape(-1, 1, 8, 8))
    y = torch.tensor(d.y_train)

    def loss(flat):
        params, off = {}, 0
        for n, s in zip(names, shapes):
            k = int(np.prod(s))
            params[n] = flat[off:off + k].reshape(s)
            off += k
        return torch.nn.functional.cross_entropy(torch.func.functional_call(net, params, (X,)), y)

    H = torch.autograd.functional.hessian(loss, flat0).numpy()
    assert lam == pytest.approx(np.linalg.eigvalsh(H).max(), rel=1e-4)
    # and the parameters are back where they were
    np.testing.assert_array_equal(np.concatenate([p.ravel() for p in model.params]), flat0.numpy())


def test_sharpness_refuses_float32(pre, tasks):
    _, target = tasks
    with pytest.raises(TypeError, match="float64"):
        tr.sharpness(tr.new_model(pre, seed=0), target.X_val[:5], target.y_val[:5])
