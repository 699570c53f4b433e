"""dlnotes.dropout against torch.nn.functional.dropout, exact enumeration, Monte Carlo, SymPy and autograd."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
import torch

from dlnotes import dropout as D

N_BIG = 400_000


@pytest.mark.parametrize("keep", [0.8, 0.3])
def test_torch_p_is_the_drop_probability_and_the_fraction_zeroed_matches_torch(keep):
    assert D.torch_p(keep) == pytest.approx(1 - keep)
    assert D.keep_from_torch(D.torch_p(keep)) == pytest.approx(keep)
    x = np.ones(N_BIG)
    ours = D.dropout_forward(x, keep, rng=0)[0]
    torch.manual_seed(0)
    theirs = torch.nn.functional.dropout(torch.ones(N_BIG, dtype=torch.float64), p=D.torch_p(keep),
                                         training=True).numpy()
    tol = 5 * np.sqrt(keep * (1 - keep) / N_BIG)      # 5 standard errors: ~0.004 here
    for out in (ours, theirs):
        assert abs(np.mean(out == 0) - (1 - keep)) < tol
        # the survivors are scaled by 1/keep (inverted dropout), in both
        np.testing.assert_allclose(np.unique(out[out != 0]), [1 / keep], rtol=1e-12)
        assert abs(out.mean() - 1.0) < 5 * np.sqrt((1 - keep) / keep / N_BIG)
    # swapping the conventions would be caught: the zeroed fraction would be keep, not 1 - keep
    assert abs(keep - (1 - keep)) > 50 * tol


def test_the_mean_over_many_seeds_agrees_with_torch_for_every_seed():
    x = np.linspace(-2.0, 3.0, 5000)
    keep = 0.6
    ours = np.array([D.dropout_forward(x, keep, rng=s)[0] for s in range(200)])
    theirs = []
    for s in range(200):
        torch.manual_seed(s)
        theirs.append(torch.nn.functional.dropout(torch.tensor(x), p=1 - keep).numpy())
    theirs = np.array(theirs)
    se = np.sqrt((1 - keep) / keep / 200) * np.abs(x) + 1e-12
    # the mean over seeds is x for both, to within 5 standard errors at every position
    assert np.mean(np.abs(ours.mean(0) - x) < 5 * se) > 0.999
    assert np.mean(np.abs(theirs.mean(0) - x) < 5 * se) > 0.999
    # and the per-seed fractions zeroed have the binomial spread
    frac = (ours == 0).mean(axis=1)
    assert abs(frac.std() - np.sqrt(keep * (1 - keep) / x.size)) < 0.25 * np.sqrt(keep * (1 - keep) / x.size)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("inverted", [True, False])
def test_train_output_with_a_given_mask_and_test_output_match_torch(dtype, inverted):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((6, 7)).astype(dtype)
    m = D.draw_mask(x.shape, 0.7, rng)
    out, _ = D.dropout_forward(x, 0.7, mask=m, inverted=inverted)
    assert out.dtype == dtype
    ref = torch.tensor(x) * torch.tensor(m, dtype=torch.tensor(x).dtype) / (0.7 if inverted else 1.0)
    np.testing.assert_allclose(out, ref.numpy(), rtol=1e-6)
    test, _ = D.dropout_forward(x, 0.7, train=False, inverted=inverted)
    # inverted dropout's test time is torch's eval mode: the identity
    np.testing.assert_allclose(test, x if inverted else 0.7 * x, rtol=1e-6)
    if inverted:
        np.testing.assert_array_equal(torch.nn.functional.dropout(torch.tensor(x), 0.3, training=False).numpy(), test)


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("inverted", [True, False])
def test_backward_matches_autograd(train, inverted):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 4))
    g = rng.standard_normal((5, 4))
    m = D.draw_mask(x.shape, 0.4, rng)
    out, cache = D.dropout_forward(x, 0.4, train=train, inverted=inverted, mask=m)
    xt = torch.tensor(x, requires_grad=True)
    if train:
        yt = xt * torch.tensor(m) / (0.4 if inverted else 1.0)
    else:
        yt = xt * (1.0 if inverted else 0.4)
    (yt * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(yt.detach().numpy(), out, rtol=1e-12)
    np.testing.assert_allclose(D.dropout_backward(g, cache), xt.grad.numpy(), rtol=1e-12)


def test_the_worked_neuron_has_four_masks_and_expectation_half_the_sum():
    w, x = np.array([2.0, -3.0]), np.array([1.5, 0.5])
    e = D.neuron_under_dropout(w, x, 0.5)
    np.testing.assert_array_equal(e["masks"], [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_allclose(e["probs"], [0.25] * 4)
    np.testing.assert_allclose(e["a"], [0.0, -1.5, 3.0, 1.5])
    assert D.expected_output(w, x, 0.5) == pytest.approx(0.5 * (2 * 1.5 - 3 * 0.5))
    assert D.expected_output(w, x, 0.5, inverted=True) == pytest.approx(2 * 1.5 - 3 * 0.5)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_sympy_proves_the_expectation_is_p_times_the_full_sum(n):
    p = sp.Symbol("p")
    w = sp.symbols(f"w1:{n + 1}")
    x = sp.symbols(f"x1:{n + 1}")
    total = 0
    for bits in np.ndindex(*(2,) * n):
        prob = sp.Mul(*[p if b else 1 - p for b in bits])
        total += prob * sum(b * wj * xj for b, wj, xj in zip(bits, w, x))
    assert sp.simplify(sp.expand(total) - p * sum(wj * xj for wj, xj in zip(w, x))) == 0


@pytest.mark.parametrize("n,p", [(3, 0.3), (6, 0.5), (10, 0.9)])
def test_enumeration_probabilities_sum_to_one_and_the_linear_identity_holds(n, p):
    rng = np.random.default_rng(n)
    w, x = rng.standard_normal(n), rng.standard_normal(n)
    masks, probs = D.enumerate_masks(n, p)
    assert masks.shape == (2 ** n, n) and len({tuple(r) for r in masks}) == 2 ** n
    assert probs.sum() == pytest.approx(1.0, abs=1e-12)
    assert D.expected_output(w, x, p) == pytest.approx(p * np.dot(w, x), abs=1e-12)


@pytest.mark.parametrize("phi", ["sigmoid", "relu", "tanh", None])
def test_enumeration_agrees_with_monte_carlo(phi):
    rng = np.random.default_rng(3)
    w, x = 2 * rng.standard_normal(5), rng.standard_normal(5)
    exact = D.expected_output(w, x, 0.6, phi)
    mc, se = D.monte_carlo_output(w, x, 0.6, phi, samples=200_000, rng=4)
    assert abs(mc - exact) < 5 * se
    assert se < 0.02  # tight enough that a wrong expectation (e.g. phi of the mean) would fail
    if phi == "sigmoid":
        from dlnotes.activations import sigmoid
        assert abs(float(sigmoid(0.6 * np.dot(w, x))) - exact) > 20 * se


def test_weight_scaling_is_the_geometric_mean_before_the_softmax_but_not_before_a_relu():
    rng = np.random.default_rng(5)
    x = rng.standard_normal(3)
    W1, b1 = rng.standard_normal((3, 4)), 0.1 * rng.standard_normal(4)
    W2, b2 = rng.standard_normal((4, 3)), 0.1 * rng.standard_normal(3)
    hid = D.ensemble_predictions(x, W1, b1, W2, b2, 0.5, where="hidden")
    np.testing.assert_allclose(hid["weight_scaling"], hid["geometric"], rtol=1e-12)
    assert np.max(np.abs(hid["arithmetic"] - hid["geometric"])) > 1e-3
    inp = D.ensemble_predictions(x, W1, b1, W2, b2, 0.5, where="input")
    assert np.max(np.abs(inp["weight_scaling"] - inp["geometric"])) > 1e-3
    for v in (*hid.values(), *inp.values()):
        assert v.sum() == pytest.approx(1.0)
    # the ensemble against torch: every subnetwork is the torch net with that mask
    sub = D.subnetwork_predictions(x, W1, b1, W2, b2, 0.5, where="hidden")
    for m, pred in zip(sub["masks"], sub["predictions"]):
        h = torch.relu(torch.tensor(x) @ torch.tensor(W1) + torch.tensor(b1)) * torch.tensor(m)
        np.testing.assert_allclose(torch.softmax(h @ torch.tensor(W2) + torch.tensor(b2), 0).numpy(), pred,
                                   rtol=1e-10)


def test_dropconnect_gradients_match_autograd_and_its_mean_is_the_dense_layer():
    rng = np.random.default_rng(6)
    x, W, b = rng.standard_normal((4, 3)), rng.standard_normal((3, 2)), rng.standard_normal(2)
    m = D.draw_mask(W.shape, 0.5, rng)
    z, cache = D.dropconnect_forward(x, W, b, 0.5, mask=m)
    g = rng.standard_normal(z.shape)
    xt, Wt, bt = (torch.tensor(v, requires_grad=True) for v in (x, W, b))
    zt = xt @ (Wt * torch.tensor(m) / 0.5) + bt
    (zt * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(z, zt.detach().numpy(), rtol=1e-12)
    for ours, t in zip(D.dropconnect_backward(g, cache), (xt, Wt, bt)):
        np.testing.assert_allclose(ours, t.grad.numpy(), rtol=1e-12)
    mean = np.mean([D.dropconnect_forward(x, W, b, 0.5, rng=s)[0] for s in range(4000)], axis=0)
    np.testing.assert_allclose(mean, D.dropconnect_forward(x, W, b, 0.5, train=False)[0], atol=0.15)


@pytest.mark.parametrize("bad", [0, 0.0, -0.1, 1.5, float("nan")])
def test_a_keep_probability_outside_0_1_is_a_clear_error(bad):
    with pytest.raises(ValueError, match=r"p \(the keep probability\) must be in \(0, 1\]"):
        D.dropout_forward(np.ones(3), bad)


def test_bad_arguments_name_themselves():
    with pytest.raises(TypeError, match="keep probability"):
        D.dropout_forward(np.ones(3), "0.5")
    with pytest.raises(TypeError, match="keep probability"):
        D.check_keep(True)
    with pytest.raises(ValueError, match="p_drop"):
        D.keep_from_torch(1.0)
    with pytest.raises(ValueError, match="mask must have the shape"):
        D.dropout_forward(np.ones(3), 0.5, mask=np.ones(4))
    with pytest.raises(ValueError, match="w and x"):
        D.expected_output([1.0, 2.0], [1.0], 0.5)
    with pytest.raises(ValueError, match="n must be"):
        D.enumerate_masks(25, 0.5)
    assert D.dropout_forward(np.ones(3), 1.0, rng=0)[0].tolist() == [1.0, 1.0, 1.0]  # p = 1 keeps all


def test_dropout_mlp_gradients_match_autograd_with_its_masks_and_eval_mode_is_the_plain_mlp():
    from dlnotes import datasets, training
    data = datasets.digits()
    X, y = data.X_train[:16], data.y_train[:16]
    model = D.DropoutMLP(64, 12, 10, 0.6, keep_input=0.8, seed=1, mask_seed=2)
    scores, cache = model.forward(X)
    Xd, z, h, m, m_in = cache
    np.testing.assert_allclose(Xd, X * m_in)
    assert set(np.unique(m)) <= {0.0, 1 / 0.6}
    from dlnotes.losses import softmax_cross_entropy_grad
    grads = model.backward(softmax_cross_entropy_grad(scores, y), cache)
    ps = [torch.tensor(p, requires_grad=True) for p in model.params]
    hid = torch.relu(torch.tensor(Xd) @ ps[0] + ps[1]) * torch.tensor(m)
    torch.nn.functional.cross_entropy(hid @ ps[2] + ps[3], torch.tensor(y)).backward()
    for g, p in zip(grads, ps):
        np.testing.assert_allclose(g, p.grad.numpy(), rtol=1e-10, atol=1e-12)
    model.training = False
    plain = training.MLP(64, 12, 10, seed=1)
    np.testing.assert_allclose(model.scores(X), plain.scores(X), rtol=1e-12)
