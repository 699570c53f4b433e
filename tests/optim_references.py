"""Torch references for the optimizer tests: models whose gradients torch computes by autograd.

Imported by ``test_optim.py`` and ``test_optim_torch_args.py``. Each reference model keeps
its own (torch) parameters; ``grads(t)`` returns, as NumPy arrays, the gradients of the
mean cross-entropy on minibatch ``t`` at torch's current parameters. A dlnotes optimizer fed
those gradients must follow torch's optimizer step for step.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from dlnotes.training import MLP


class TorchMLP:
    """The 64-32-10 ReLU network in torch, started from dlnotes.training.MLP's weights.

    ``sign=-1`` returns the gradients of minus the loss: an optimizer with
    ``maximize=True`` then still descends the loss, so long runs stay bounded.
    """

    def __init__(self, data, dtype=torch.float64, batch_size=64, n_batches=200, sign=1.0):
        init = MLP(64, 32, 10, seed=0)
        self.params = [torch.tensor(p, dtype=dtype, requires_grad=True) for p in init.params]
        self.X = torch.tensor(data.X_train, dtype=dtype)
        self.y = torch.tensor(data.y_train)
        self.sign = sign
        rng = np.random.default_rng(1)
        # torch tensors: indexing a tensor with a NumPy array takes a slow path
        self.batches = [torch.from_numpy(rng.choice(len(data.y_train), batch_size, replace=False))
                        for _ in range(n_batches)]

    def loss(self, idx):
        W1, b1, W2, b2 = self.params
        return F.cross_entropy(torch.relu(self.X[idx] @ W1 + b1) @ W2 + b2, self.y[idx])

    def grads(self, t):
        idx = self.batches[t % len(self.batches)]
        loss = self.sign * self.loss(idx)
        for p in self.params:
            p.grad = None
        loss.backward()
        return [p.grad.detach().numpy().copy() for p in self.params]

    def numpy(self):
        return [p.detach().numpy() for p in self.params]


class TorchSoftmaxRegression(TorchMLP):
    """A linear softmax classifier on the digits (W of shape (64, 10), b of shape (10,)).

    Cheaper than the MLP (two parameter arrays, one matrix product), for the 1000-step
    comparisons; started from small random weights (seed 2).
    """

    def __init__(self, data, dtype=torch.float64, batch_size=32, n_batches=250, sign=1.0):
        rng = np.random.default_rng(2)
        W = 0.1 * rng.standard_normal((64, 10))
        b = np.zeros(10)
        self.params = [torch.tensor(p, dtype=dtype, requires_grad=True) for p in (W, b)]
        self.X = torch.tensor(data.X_train, dtype=dtype)
        self.y = torch.tensor(data.y_train)
        self.sign = sign
        self.batches = [torch.from_numpy(rng.choice(len(data.y_train), batch_size, replace=False))
                        for _ in range(n_batches)]

    def loss(self, idx):
        W, b = self.params
        return F.cross_entropy(self.X[idx] @ W + b, self.y[idx])


def start_arrays(model, dtype=np.float64):
    """Copies of the model's starting parameters, as the arrays a dlnotes optimizer updates."""
    return [np.array(p, dtype=dtype) for p in model.numpy()]


def max_diff(ours, theirs):
    return max(float(np.max(np.abs(a - b))) for a, b in zip(ours, theirs))


def max_relative_diff(ours, theirs):
    """Largest |ours - theirs| relative to the largest |theirs| of the same array."""
    return max(float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))
               for a, b in zip(ours, theirs))


class NoisyQuadratic:
    r"""A noisy, ill-conditioned quadratic on two parameter arrays, with gradients from NumPy.

    :math:`f(x) = \tfrac12\sum_j h_j (x_j - x^*_j)^2` with curvatures :math:`h_j` spread
    over four decades, and gradient :math:`h (x - x^*) + \sigma \xi_t` with fixed Gaussian
    noise :math:`\xi_t` (step ``t``) whose scale also varies per coordinate. The gradient is
    evaluated at torch's current parameters, so the comparison is closed-loop like a real
    training run, but costs microseconds instead of an autograd pass: cheap enough for
    1000-step comparisons of every optimizer option. ``sign=-1`` returns minus the
    gradient (for ``maximize=True``).
    """

    shapes = ((6, 5), (7,))

    def __init__(self, dtype=torch.float64, n_noise=97, sign=1.0, seed=3):
        rng = np.random.default_rng(seed)
        self.h = [10.0 ** rng.uniform(-2, 2, size=s) for s in self.shapes]
        self.x_star = [rng.normal(size=s) for s in self.shapes]
        noise_scale = [10.0 ** rng.uniform(-3, 0, size=s) for s in self.shapes]
        self.noise = [[sc * rng.normal(size=sc.shape) for sc in noise_scale] for _ in range(n_noise)]
        self.params = [torch.tensor(rng.normal(size=s), dtype=dtype, requires_grad=True)
                       for s in self.shapes]
        self.dtype = dtype
        self.sign = sign

    def grads(self, t):
        out = []
        for p, h, xs, xi in zip(self.params, self.h, self.x_star, self.noise[t % len(self.noise)]):
            x = p.detach().numpy().astype(np.float64)
            g = self.sign * (h * (x - xs) + xi)
            g = g.astype(np.float32 if self.dtype == torch.float32 else np.float64)
            p.grad = torch.from_numpy(g.copy())
            out.append(g)
        return out

    def numpy(self):
        return [p.detach().numpy() for p in self.params]
