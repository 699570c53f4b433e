"""dlnotes.cnn: the NumPy CNN against an equivalent PyTorch model (forward, every gradient,
the input gradient, optimizer steps with per-group learning rates), its reuse API (heads,
freezing, state), receptive fields against measured gradients, and network sizes against
torch.nn parameter counts and the papers' own numbers."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn as nn
from numpy.testing import assert_allclose

from dlnotes import cnn, losses, optim, training


def _torch_model(in_channels, channels, n_classes, K, pool, body_features, dtype=torch.float64):
    """The same architecture written directly with torch.nn (not with the model's to_torch)."""
    layers = []
    c = in_channels
    for f in channels:
        layers += [nn.Conv2d(c, f, K, padding=K // 2, dtype=dtype), nn.ReLU()]
        if pool > 1:
            layers.append(nn.MaxPool2d(pool))
        c = f
    layers.append(nn.Flatten())
    return nn.Sequential(OrderedDict(body=nn.Sequential(*layers),
                                     head=nn.Linear(body_features, n_classes, dtype=dtype)))


def _load(tm, model):
    state = {k: torch.from_numpy(v.copy()) for k, v in model.state_dict().items()}
    tm.load_state_dict(state, strict=True)            # same names, same shapes
    return tm


CONFIGS = [
    dict(in_shape=(1, 8, 8), channels=(8, 16), pool=2, kernel_size=3),
    dict(in_shape=(2, 9, 7), channels=(3,), pool=2, kernel_size=5),
    dict(in_shape=(1, 6, 6), channels=(2, 3, 4), pool=1, kernel_size=3),
]


@pytest.mark.parametrize("config", CONFIGS, ids=["digits", "one-layer", "no-pool"])
def test_forward_loss_and_every_gradient_match_torch_to_1e10_in_float64(config, data):
    model = cnn.CNN(n_classes=10, seed=3, **config)
    tm = _load(_torch_model(config["in_shape"][0], config["channels"], 10, config["kernel_size"],
                            config["pool"], model.n_body_features), model)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((17, *config["in_shape"])) * 2
    y = rng.integers(0, 10, 17)
    loss, grads = model.loss_and_grads(X, y)
    xt = torch.tensor(X, requires_grad=True)
    z_t = tm(xt)
    loss_t = nn.functional.cross_entropy(z_t, torch.tensor(y))
    loss_t.backward()
    assert_allclose(model.scores(X), z_t.detach().numpy(), rtol=1e-10, atol=1e-10)
    assert loss == pytest.approx(loss_t.item(), rel=1e-12)
    names = list(model.named_params())
    torch_grads = dict(tm.named_parameters())
    assert len(grads) == len(names)
    for name, g in zip(names, grads):
        assert_allclose(g, torch_grads[name].grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)
    ds = losses.softmax_cross_entropy_grad(model.scores(X), y)
    assert_allclose(model.input_gradient(X, ds), xt.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_the_digits_model_matches_torch_in_float32_and_computes_in_float32(data):
    model = cnn.CNN(seed=1, dtype=np.float32)
    tm = _load(_torch_model(1, (8, 16), 10, 3, 2, 64, dtype=torch.float32), model)
    X, y = data.X_train[:64], data.y_train[:64]
    loss, grads = model.loss_and_grads(X, y)
    assert all(g.dtype == np.float32 for g in grads)
    z_t = tm(torch.tensor(X.reshape(-1, 1, 8, 8), dtype=torch.float32))
    nn.functional.cross_entropy(z_t, torch.tensor(y)).backward()
    for (name, p), g in zip(tm.named_parameters(), grads):
        assert_allclose(g, p.grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=name)


def test_to_torch_is_the_same_network(data):
    model = cnn.CNN(seed=2)
    X = data.X_train[:20]
    z = model.to_torch()(torch.tensor(X.reshape(-1, 1, 8, 8))).detach().numpy()
    assert_allclose(z, model.scores(X), rtol=1e-12, atol=1e-12)


def test_the_direct_and_im2col_methods_give_the_same_model(data):
    a, b = cnn.CNN(seed=4, method="im2col"), cnn.CNN(seed=4, method="direct")
    la, ga = a.loss_and_grads(data.X_train[:30], data.y_train[:30])
    lb, gb = b.loss_and_grads(data.X_train[:30], data.y_train[:30])
    assert la == pytest.approx(lb, rel=1e-13)
    for u, v in zip(ga, gb):
        assert_allclose(u, v, rtol=1e-11, atol=1e-13)


def test_digits_architecture_and_parameter_count():
    model = cnn.CNN()
    assert model.n_body_features == 16 * 2 * 2 and model.body_shape == (16, 2, 2)
    # conv1: 8*1*9 + 8, conv2: 16*8*9 + 16, head: 64*10 + 10
    assert model.n_params == 80 + 1168 + 650 == model.n_trainable
    assert [r[2] for r in model.summary()] == [80, 0, 0, 1168, 0, 0, 0, 650]
    assert sum(p.numel() for p in model.to_torch().parameters()) == model.n_params


def test_training_with_dlnotes_train_is_deterministic_and_learns(data):
    runs = []
    for _ in range(2):
        model = cnn.CNN(seed=0)
        h = training.train(model, optim.Adam(model.params, lr=1e-2), data, epochs=3,
                           batch_size=64, seed=0, progress=False)
        runs.append((h, model.state_dict()))
    (h, s), (h2, s2) = runs
    assert np.array_equal(h.step_loss, h2.step_loss)
    assert all(np.array_equal(s[k], s2[k]) for k in s)
    assert h.train_loss[-1] < 0.5 * h.train_loss[0] and h.val_accuracy[-1] > 0.85


def test_same_seed_same_weights_and_the_head_seed_leaves_the_body_alone():
    a, b = cnn.CNN(seed=5), cnn.CNN(seed=5)
    assert all(np.array_equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
    c = cnn.CNN(seed=5, head_seed=99)
    for k, v in a.state_dict().items():
        if k.endswith("weight"):                     # (biases start at zero everywhere)
            assert np.array_equal(v, c.state_dict()[k]) == k.startswith("body.")


def test_a_frozen_body_is_not_trained_and_only_the_head_gets_gradients(data):
    model = cnn.CNN(seed=0).freeze_body()
    assert model.frozen and model.params == model.param_groups()["head"]
    assert model.n_trainable == 650 < model.n_params
    body = {k: v.copy() for k, v in model.state_dict().items() if k.startswith("body.")}
    feats = model.features(data.X_val)
    h = training.train(model, optim.SGD(model.params, lr=0.1), data, epochs=2, progress=False)
    assert h.train_loss[-1] < h.train_loss[0]
    assert all(np.array_equal(v, model.state_dict()[k]) for k, v in body.items())
    assert np.array_equal(model.features(data.X_val), feats)
    # the head's gradients equal the full model's head gradients
    free = model.copy().unfreeze_body()
    _, g_frozen = model.loss_and_grads(data.X_train[:40], data.y_train[:40])
    _, g_free = free.loss_and_grads(data.X_train[:40], data.y_train[:40])
    assert len(g_frozen) == 2 and len(g_free) == 6
    for u, v in zip(g_frozen, g_free[-2:]):
        assert_allclose(u, v, rtol=1e-14)


def test_a_replaced_head_transfers_the_body_to_other_classes(data):
    pre = cnn.CNN(seed=0)
    first = cnn.class_subset(data, [0, 1, 2, 3, 4])
    pre.replace_head(5)
    training.train(pre, optim.Adam(pre.params, lr=1e-2), first, epochs=2, progress=False)
    body = {k: v.copy() for k, v in pre.state_dict().items() if k.startswith("body.")}
    second = cnn.class_subset(data, [5, 6, 7, 8, 9])
    assert set(np.unique(second.y_train)) == {0, 1, 2, 3, 4}
    assert len(second.y_train) == int(np.isin(data.y_train, [5, 6, 7, 8, 9]).sum())
    new = cnn.CNN(seed=7, n_classes=5).load_state_dict(pre.state_dict(), body_only=True)
    assert all(np.array_equal(new.state_dict()[k], v) for k, v in body.items())
    new.reset_head(seed=11).freeze_body()
    h = training.train(new, optim.Adam(new.params, lr=1e-2), second, epochs=3, progress=False)
    assert h.val_accuracy[-1] > 0.6 and new.n_classes == 5


def test_grouped_optimizer_matches_torch_sgd_with_two_param_groups(data):
    model = cnn.CNN(seed=0)
    tm = _load(_torch_model(1, (8, 16), 10, 3, 2, 64), model)
    groups = model.param_groups()
    ours = cnn.GroupedOptimizer([optim.SGD(groups["body"], lr=0.01, momentum=0.9),
                                 optim.SGD(groups["head"], lr=0.1, momentum=0.9)])
    theirs = torch.optim.SGD([{"params": tm.body.parameters(), "lr": 0.01},
                              {"params": tm.head.parameters(), "lr": 0.1}], momentum=0.9)
    for step in range(5):
        idx = slice(32 * step, 32 * step + 32)
        X, y = data.X_train[idx], data.y_train[idx]
        _, grads = model.loss_and_grads(X, y)
        ours.step(grads)
        theirs.zero_grad()
        nn.functional.cross_entropy(tm(torch.tensor(X.reshape(-1, 1, 8, 8))), torch.tensor(y)).backward()
        theirs.step()
    for name, p in tm.named_parameters():
        assert_allclose(model.named_params()[name], p.detach().numpy(), rtol=1e-10, atol=1e-12)
    ours.lr = 0.05                                   # a schedule rescales both groups alike
    assert [o.lr for o in ours.optimizers] == pytest.approx([0.05, 0.5])


def test_grouped_optimizer_works_with_dlnotes_train(data):
    model = cnn.CNN(seed=0)
    g = model.param_groups()
    opt = cnn.GroupedOptimizer([optim.Adam(g["head"], lr=1e-2), optim.SGD(g["body"], lr=1e-3)])
    with pytest.raises(ValueError, match="same arrays"):
        training.train(model, opt, data, epochs=1, progress=False)   # groups out of order
    opt = cnn.GroupedOptimizer([optim.SGD(g["body"], lr=1e-3), optim.Adam(g["head"], lr=1e-2)])
    h = training.train(model, opt, data, epochs=1, progress=False, schedule=lambda t: 1e-3)
    assert np.all(h.lr == 1e-3) and h.train_loss[-1] < h.train_loss[0]


def test_state_dict_round_trip_and_copies_are_independent():
    a = cnn.CNN(seed=0)
    b = cnn.CNN(seed=1).load_state_dict(a.state_dict())
    assert all(np.array_equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())
    c = a.copy()
    c.params[0] += 1.0
    assert not np.array_equal(a.params[0], c.params[0])
    with pytest.raises(ValueError, match="missing"):
        b.load_state_dict({"head.weight": a.head.params["weight"]})
    with pytest.raises(ValueError, match="shape"):
        cnn.CNN(n_classes=5).load_state_dict(a.state_dict())
    # strict=False loads what is given: here a head, e.g. trained on precomputed features
    W, bias = np.ones((10, 64)), np.arange(10.0)
    b.load_state_dict({"head.weight": W, "head.bias": bias}, strict=False)
    assert np.array_equal(b.head.params["weight"], W) and np.array_equal(b.params[-1], bias)
    assert np.array_equal(b.params[0], a.params[0])
    with pytest.raises(ValueError, match="does not have"):
        b.load_state_dict({"tail.weight": W}, strict=False)


def test_inputs_may_be_flat_rows_or_images_and_bad_ones_are_rejected(data):
    model = cnn.CNN()
    X = data.X_train[:5]
    assert_allclose(model.scores(X), model.scores(X.reshape(5, 1, 8, 8)))
    assert model.features(X).shape == (5, 64)
    with pytest.raises(ValueError, match="shape"):
        model.scores(np.zeros((5, 63)))
    with pytest.raises(ValueError, match="shape"):
        model.scores(np.zeros((5, 2, 8, 8)))
    with pytest.raises(ValueError, match="finite"):
        model.scores(np.full((1, 64), np.nan))
    with pytest.raises(ValueError, match="n_classes"):
        cnn.CNN(n_classes=1)
    with pytest.raises(TypeError, match="dtype"):
        cnn.CNN(dtype=np.int32)
    with pytest.raises(ValueError, match="channels"):
        cnn.CNN(channels=())


def test_class_subset_rejects_unknown_or_repeated_classes(data):
    with pytest.raises(ValueError, match="distinct"):
        cnn.class_subset(data, [1, 1])
    with pytest.raises(ValueError, match="do not occur"):
        cnn.class_subset(data, [3, 42])


# ------------------------------------------------------------------ receptive fields

def _random_stack(seed):
    rng = np.random.default_rng(seed)
    layers = []
    for _ in range(int(rng.integers(1, 5))):
        K, S, G = int(rng.integers(1, 5)), int(rng.integers(1, 3)), int(rng.integers(1, 3))
        layers.append((K, S, int(rng.integers(0, K // 2 + 1)), G))
    return layers


def _torch_support(layers, size, unit):
    x = torch.zeros(1, 1, size, dtype=torch.float64, requires_grad=True)
    a = x + 0.0
    for K, S, E, G in layers:
        a = nn.functional.conv1d(a, torch.ones(1, 1, K, dtype=torch.float64), stride=S,
                                 padding=E, dilation=G)
    a[0, 0, unit].backward()
    return x.grad[0, 0].numpy() > 0


@pytest.mark.parametrize("seed", range(30))
def test_receptive_field_formula_matches_the_support_of_the_gradient(seed):
    layers = _random_stack(seed)
    size = 60
    fields = cnn.receptive_field(layers)
    n_out = size
    for K, S, E, G in layers:
        n_out = (n_out + 2 * E - G * (K - 1) - 1) // S + 1
    for unit in sorted({0, n_out // 2, n_out - 1}):
        support = cnn.receptive_field_support(layers, size, unit)
        assert np.array_equal(support, _torch_support(layers, size, unit))
        lo, hi = fields[-1].interval(unit)
        where = np.flatnonzero(support)
        # inside the extent; its two ends are read whenever they are not in the padding
        # (dilated or strided layers may leave holes in between)
        assert where[0] >= lo and where[-1] <= hi
        assert (lo < 0 or support[lo]) and (hi >= size or support[hi])


def test_receptive_field_of_the_classic_stacks():
    # two 3x3 convolutions see 5x5; three see 7x7 (Simonyan and Zisserman's argument)
    assert [f.size for f in cnn.receptive_field([(3, 1, 1)] * 3)] == [3, 5, 7]
    # conv 3 -> pool 2 -> conv 3 -> pool 2 (the digits CNN): 3, 4, 8, 10
    model = cnn.CNN()
    assert [(f.size, f.jump, f.start) for f in model.receptive_fields()] == \
        [(3, 1, -1), (4, 2, -1), (8, 2, -3), (10, 4, -3)]
    # a dilated layer has holes inside its extent
    support = cnn.receptive_field_support([(3, 1, 0, 3)], 9, 0)
    assert support.tolist() == [True, False, False, True, False, False, True, False, False]


def test_the_gradient_of_a_digits_feature_stays_inside_its_receptive_field(data):
    model = cnn.CNN(seed=0)
    X = data.X_train[:1]
    # d(feature)/d(input) through the body: a one-hot gradient on the head's input
    feats, cache = model._body_forward(model._check_X(X))
    d = np.zeros_like(feats)
    d[0, 16 * 0 + 0 * 2 + 1] = 1.0                   # channel 0, position (0, 1) of the 2x2 map
    da = d
    for i in range(len(model.body) - 1, -1, -1):
        da, _ = model.body[i].backward(da, cache[i])
    rf = model.receptive_fields()[-1]
    (rlo, rhi), (clo, chi) = rf.interval(0), rf.interval(1)
    rows, cols = np.nonzero(da[0, 0])
    assert rows.size and rows.min() >= max(rlo, 0) and rows.max() <= min(rhi, 7)
    assert cols.min() >= max(clo, 0) and cols.max() <= min(chi, 7)


# ------------------------------------------------------------------ sizes of networks

@pytest.mark.parametrize("arch, total", [(cnn.lenet5, 61_706), (cnn.alexnet, 60_965_224),
                                         (cnn.vgg16, 138_357_544)])
def test_parameter_counts_match_torch_layer_by_layer_and_the_known_totals(arch, total):
    shape, spec = arch()
    rows = cnn.network_sizes(spec, shape)
    model = cnn.to_torch(spec, shape)
    weighted = [m for m in model if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert [r.weights for r in rows if r.weights] == [sum(p.numel() for p in m.parameters())
                                                      for m in weighted]
    assert sum(r.weights for r in rows) == total == sum(p.numel() for p in model.parameters())
    # the shapes agree with torch's own shape inference
    out = torch.zeros(1, *shape, device="meta")
    for m, r in zip([m for m in model if not isinstance(m, nn.Flatten)], rows):
        out = m(out.flatten(1) if isinstance(m, nn.Linear) else out)
        assert tuple(out.shape[1:]) == r.output_shape


def test_lenet_and_alexnet_counts_reproduce_the_papers_numbers():
    # LeCun et al. (1998) count a bias as a connection: C1 has 122,304 connections and
    # 156 trainable parameters, C5 48,120 connections, F6 10,164 parameters.
    shape, spec = cnn.lenet5()
    r = {row.name: row for row in cnn.network_sizes(spec, shape)}
    assert r["C1"].weights == 156 and r["C1"].connections + r["C1"].units == 122_304
    assert r["C5"].connections + r["C5"].units == 48_120 and r["F6"].weights == 10_164
    # Krizhevsky et al. (2012): "253,440-186,624-64,896-64,896-43,264-4096-4096-1000" neurons;
    # every number but the first (a known slip: 55*55*96 = 290,400) is what we count.
    shape, spec = cnn.alexnet()
    units = [row.units for row in cnn.network_sizes(spec, shape) if row.kind != "pool"]
    assert units == [290_400, 186_624, 64_896, 64_896, 43_264, 4096, 4096, 1000]


@pytest.mark.parametrize("M1, M2, F_in, F_out, K", [(5, 4, 2, 3, 3), (3, 3, 1, 2, 1), (6, 2, 3, 1, 3)])
def test_layer_size_formulas_count_the_nonzeros_of_the_jacobian(M1, M2, F_in, F_out, K):
    torch.manual_seed(0)
    fc = nn.Linear(M1 * M2 * F_in, M1 * M2 * F_out, bias=False, dtype=torch.float64)
    J = torch.autograd.functional.jacobian(fc, torch.randn(M1 * M2 * F_in, dtype=torch.float64))
    size = cnn.dense_layer_size(M1, M2, F_in, F_out)
    assert size["weights"] == fc.weight.numel() and size["connections"] == int((J != 0).sum())
    assert size["units"] == M1 * M2 * F_out
    # a valid convolution on an input enlarged by the padding has the same outputs and
    # connections as the size-keeping one, and none of them meets the padding
    layer = nn.Conv2d(F_in, F_out, K, bias=False, dtype=torch.float64)
    J = torch.autograd.functional.jacobian(
        layer, torch.randn(1, F_in, M1 + K - 1, M2 + K - 1, dtype=torch.float64))
    size = cnn.conv_layer_size(M1, M2, F_in, F_out, K)
    assert size["weights"] == layer.weight.numel()
    assert size["connections"] == int((J != 0).sum()) and size["units"] == M1 * M2 * F_out


@pytest.mark.parametrize("call, error, match", [
    (lambda: cnn.receptive_field([]), ValueError, "non-empty"),
    (lambda: cnn.receptive_field([(0, 1)]), ValueError, "kernel_size"),
    (lambda: cnn.receptive_field(["conv"]), TypeError, "kernel_size, stride"),
    (lambda: cnn.receptive_field([cnn.ReLU()]), ValueError, "no window"),
    (lambda: cnn.receptive_field_support([(3, 1)], 10, 8), ValueError, "unit must be"),
    (lambda: cnn.GroupedOptimizer([]), TypeError, "non-empty"),
    (lambda: cnn.GroupedOptimizer([optim.SGD([np.zeros(2)], lr=0.0)]), ValueError, "reference"),
    (lambda: cnn.network_sizes([("dense", "x", 3)], (1, 4, 4)), ValueError, "unknown layer kind"),
])
def test_helpers_reject_bad_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_a_parameter_array_cannot_be_in_two_groups():
    p = np.zeros(3)
    with pytest.raises(ValueError, match="more than one group"):
        cnn.GroupedOptimizer([optim.SGD([p], lr=0.1), optim.SGD([p], lr=0.1)])
