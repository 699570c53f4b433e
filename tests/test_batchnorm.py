"""dlnotes.batchnorm against torch.nn.BatchNorm1d/2d (train, eval, running statistics) and autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dlnotes import batchnorm as B
from dlnotes import datasets, initialization, optim, training


def _torch_bn(shape, gamma, beta, momentum=0.1, eps=1e-5):
    cls = torch.nn.BatchNorm1d if len(shape) == 2 else torch.nn.BatchNorm2d
    bn = cls(shape[1], eps=eps, momentum=momentum).double()
    with torch.no_grad():
        bn.weight.copy_(torch.tensor(gamma))
        bn.bias.copy_(torch.tensor(beta))
    return bn


@pytest.mark.parametrize("shape", [(8, 3), (5, 4, 3, 2)])
@pytest.mark.parametrize("momentum", [0.1, 0.5])
def test_train_and_eval_and_running_statistics_match_torch_over_several_steps(shape, momentum):
    rng = np.random.default_rng(0)
    C = shape[1]
    gamma, beta = rng.uniform(0.5, 2, C), rng.standard_normal(C)
    ours = B.BatchNorm(C, momentum=momentum)
    ours.gamma[:], ours.beta[:] = gamma, beta
    ref = _torch_bn(shape, gamma, beta, momentum)
    for step in range(5):
        x = 3.0 + 2.0 * rng.standard_normal(shape)
        out, _ = ours.forward(x)
        ref.train()
        np.testing.assert_allclose(out, ref(torch.tensor(x)).detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ours.running_mean, ref.running_mean.numpy(), rtol=1e-12)
        np.testing.assert_allclose(ours.running_var, ref.running_var.numpy(), rtol=1e-12)
    ours.training = False
    ref.eval()
    x = rng.standard_normal(shape)
    np.testing.assert_allclose(ours.forward(x)[0], ref(torch.tensor(x)).detach().numpy(), rtol=1e-10, atol=1e-12)


def test_the_batch_is_normalised_with_the_biased_variance_and_the_running_var_is_unbiased():
    x = np.array([[1.0], [2.0], [4.0], [9.0]])
    out, cache = B.batchnorm_forward(x, [1.0], [0.0], eps=1e-12)
    assert out.std() == pytest.approx(1.0, rel=1e-9)      # biased std of the output is 1
    rm, rv = B.update_running(np.zeros(1), np.ones(1), cache, momentum=1.0)
    assert rv[0] == pytest.approx(np.var(x, ddof=1)) and rm[0] == pytest.approx(4.0)


@pytest.mark.parametrize("shape", [(6, 3), (4, 2, 3, 3)])
@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_backward_matches_autograd(shape, train, dtype):
    rng = np.random.default_rng(1)
    C = shape[1]
    x = rng.standard_normal(shape).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    gamma, beta = rng.uniform(0.5, 2, C), rng.standard_normal(C)
    rm, rv = rng.standard_normal(C), rng.uniform(0.5, 2, C)
    out, cache = B.batchnorm_forward(x, gamma, beta, train=train, running_mean=rm, running_var=rv)
    assert out.dtype == dtype
    dx, dgamma, dbeta = B.batchnorm_backward(g, cache)
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    gt = torch.tensor(gamma, requires_grad=True)
    bt = torch.tensor(beta, requires_grad=True)
    yt = torch.nn.functional.batch_norm(xt, torch.tensor(rm), torch.tensor(rv), gt, bt,
                                        training=train, momentum=0.0, eps=1e-5)
    (yt * torch.tensor(g, dtype=torch.float64)).sum().backward()
    tol = 1e-9 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(out, yt.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(dgamma, gt.grad.numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(dbeta, bt.grad.numpy(), rtol=tol, atol=tol)


def test_gamma_sigma_and_beta_mu_recover_the_identity():
    rng = np.random.default_rng(2)
    x = 5 + 3 * rng.standard_normal((16, 4))
    eps = 1e-5
    out, _ = B.batchnorm_forward(x, np.sqrt(x.var(0) + eps), x.mean(0), eps=eps)
    np.testing.assert_allclose(out, x, rtol=1e-12)


def test_bn_mlp_gradients_match_torch_and_it_starts_from_the_plain_networks_weights():
    data = datasets.digits()
    X, y = data.X_train[:32], data.y_train[:32]
    model = B.BNMLP(64, [16, 16, 16], 10, seed=0)
    plain = initialization.DeepMLP(64, [16, 16, 16], 10, seed=0)
    for W, Wp in zip(model.weights, plain.weights):
        np.testing.assert_array_equal(W, Wp)
    loss, grads = model.loss_and_grads(X, y)
    ps = [torch.tensor(p, requires_grad=True) for p in model.params]
    a = torch.tensor(X)
    for l in range(3):
        z = torch.nn.functional.batch_norm(a @ ps[3 * l], None, None, ps[3 * l + 1], ps[3 * l + 2],
                                           training=True, eps=1e-5)
        a = torch.relu(z)
    lt = torch.nn.functional.cross_entropy(a @ ps[9] + ps[10], torch.tensor(y))
    lt.backward()
    assert loss == pytest.approx(lt.item(), rel=1e-10)
    for gn, p in zip(grads, ps):
        np.testing.assert_allclose(gn, p.grad.numpy(), rtol=1e-8, atol=1e-12)
    norms = model.weight_gradient_norms(X, y)
    np.testing.assert_allclose(norms, [np.linalg.norm(ps[3 * l].grad.numpy()) for l in range(3)], rtol=1e-8)


def test_training_uses_running_statistics_for_evaluation():
    data = datasets.digits()
    model = B.BNMLP(64, [16, 16], 10, seed=0)
    hist = training.train(model, optim.SGD(model.params, lr=0.1), data, epochs=2, progress=False)
    assert model.training is True
    model.training = False
    assert hist.val_accuracy[-1] == pytest.approx(model.accuracy(data.X_val, data.y_val))
    assert hist.val_accuracy[-1] > 0.5


def test_bad_inputs_are_clear_errors():
    with pytest.raises(ValueError, match="shape"):
        B.batchnorm_forward(np.ones(3), [1.0], [0.0])
    with pytest.raises(ValueError, match="gamma"):
        B.batchnorm_forward(np.ones((3, 2)), [1.0], [0.0, 0.0])
    with pytest.raises(ValueError, match="more than one value"):
        B.batchnorm_forward(np.ones((1, 2)), [1.0, 1.0], [0.0, 0.0])
    with pytest.raises(ValueError, match="running_mean"):
        B.batchnorm_forward(np.ones((3, 2)), [1.0, 1.0], [0.0, 0.0], train=False)
    with pytest.raises(ValueError, match="eps"):
        B.batchnorm_forward(np.ones((3, 1)), [1.0], [0.0], eps=0)
    with pytest.raises(ValueError, match="momentum"):
        B.BatchNorm(3, momentum=1.5)
