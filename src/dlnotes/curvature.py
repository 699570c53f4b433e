r"""Curvature: Hessians by finite differences, exactly for the book's models, and as Hessian-vector products.

The Hessian :math:`H = \nabla^2 f(x)` holds the second partial derivatives
:math:`\partial^2 f / \partial x_j \partial x_{j'}`; for a twice continuously differentiable
:math:`f` it is symmetric (Clairaut), so it has real eigenvalues :math:`\lambda_i` and orthonormal
eigenvectors :math:`u_i`, :math:`H = U\Lambda U^\top`. The curvature along a direction :math:`v`
is the Rayleigh quotient :math:`v^\top H v / v^\top v`, between :math:`\lambda_{\min}` and
:math:`\lambda_{\max}`.

Three ways to get it:

* :func:`finite_difference_hessian` (from function values) and
  :func:`hessian_from_gradient` (central differences of a gradient);
* exact, for the book's models: :func:`least_squares_hessian`, :func:`logistic_hessian`,
  :func:`softmax_hessian` (the quadratic's Hessian is its matrix :math:`A`);
* :func:`hvp`, a Hessian-vector product from two gradients, which never forms :math:`H`, and
  :func:`hessian_from_hvp`, which assembles :math:`H` one column at a time;

plus :func:`model_loss_and_gradient` that flattens a :class:`dlnotes.training.Classifier`'s
parameters so any of the above applies to a small MLP.

Chapter: *The optimization landscape*.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ._validation import as_callable, as_float_array, as_int, as_labels, as_scalar

__all__ = [
    "finite_difference_hessian", "hessian_from_gradient", "hvp", "hessian_from_hvp",
    "curvature_along", "least_squares_hessian", "logistic_hessian", "softmax_hessian",
    "model_loss_and_gradient", "mlp_hvp", "mlp_hessian", "mixed_spectrum_fraction",
]


def _point(x: Any) -> np.ndarray:
    return as_float_array(x, "x", ndim=1)


def _f(f: Callable, x: np.ndarray) -> float:
    v = f(x)
    if isinstance(v, (str, bytes, bool)) or np.ndim(v) != 0:
        raise TypeError(f"f must return a real number, got {type(v).__name__}")
    return float(v)


def finite_difference_hessian(f: Callable[[np.ndarray], Any], x: Any, h: float = 1e-4) -> np.ndarray:
    r"""Hessian from function values by central second differences, shape (n, n).

    .. math:: H_{jj'} \approx \frac{f(x + h e_j + h e_{j'}) - f(x + h e_j - h e_{j'})
              - f(x - h e_j + h e_{j'}) + f(x - h e_j - h e_{j'})}{4h^2}

    Error :math:`O(h^2)` from truncation plus :math:`O(\varepsilon_{\mathrm{mach}} \lvert f\rvert / h^2)`
    from rounding, so :math:`h \approx 10^{-4}` suits float64. Costs :math:`4n^2` evaluations;
    symmetric by construction.
    """
    f = as_callable(f, "f")
    x = _point(x)
    h = as_scalar(h, "h", low=0.0, low_open=True)
    n = x.shape[0]
    E = np.eye(n) * h
    H = np.empty((n, n))
    for j in range(n):
        for k in range(j, n):
            v = (_f(f, x + E[j] + E[k]) - _f(f, x + E[j] - E[k])
                 - _f(f, x - E[j] + E[k]) + _f(f, x - E[j] - E[k])) / (4.0 * h * h)
            H[j, k] = H[k, j] = v
    return H


def hvp(grad_f: Callable[[np.ndarray], Any], x: Any, v: Any, h: float = 1e-5) -> np.ndarray:
    r"""Hessian-vector product :math:`Hv \approx (\nabla f(x + hv) - \nabla f(x - hv)) / (2h)`, shape (n,).

    Two gradient evaluations, whatever :math:`n`: this is how curvature is measured in large
    networks (with automatic differentiation instead of the difference, as
    ``torch.autograd.functional.hvp`` does). ``h`` is scaled by :math:`1/\lVert v\rVert`.
    """
    grad_f = as_callable(grad_f, "grad_f")
    x = _point(x)
    v = as_float_array(v, "v", ndim=1)
    if v.shape != x.shape:
        raise ValueError(f"v must have the shape of x {x.shape}, got {v.shape}")
    h = as_scalar(h, "h", low=0.0, low_open=True)
    nv = float(np.linalg.norm(v))
    if nv == 0.0:
        return np.zeros_like(x)
    step = h / nv
    gp = np.asarray(grad_f(x + step * v), dtype=float)
    gm = np.asarray(grad_f(x - step * v), dtype=float)
    return (gp - gm) / (2.0 * step)


def hessian_from_hvp(hvp_fn: Callable[[np.ndarray], Any], n: int) -> np.ndarray:
    r"""Assemble :math:`H` from :math:`n` Hessian-vector products :math:`H e_j` (columns), symmetrised; shape (n, n)."""
    hvp_fn = as_callable(hvp_fn, "hvp_fn")
    n = as_int(n, "n", low=1)
    cols = [np.asarray(hvp_fn(e), dtype=float) for e in np.eye(n)]
    H = np.stack(cols, axis=1)
    if H.shape != (n, n):
        raise ValueError(f"hvp_fn must return vectors of length {n}, got shape {cols[0].shape}")
    return 0.5 * (H + H.T)


def hessian_from_gradient(grad_f: Callable[[np.ndarray], Any], x: Any, h: float = 1e-5) -> np.ndarray:
    r"""Hessian by central differences of the gradient (:func:`hvp` along every :math:`e_j`), symmetrised; shape (n, n)."""
    x = _point(x)
    return hessian_from_hvp(lambda e: hvp(grad_f, x, e, h), x.shape[0])


def curvature_along(H: Any, v: Any) -> float:
    r"""The curvature of :math:`f` along :math:`v`: :math:`v^\top H v / v^\top v` (the Rayleigh quotient)."""
    from .newton import check_hessian
    H = check_hessian(H)
    v = as_float_array(v, "v", ndim=1)
    if v.shape[0] != H.shape[0]:
        raise ValueError(f"v has {v.shape[0]} entries but H is {H.shape[0]} x {H.shape[0]}")
    vv = float(v @ v)
    if vv == 0.0:
        raise ValueError("v must not be the zero vector")
    return float(v @ H @ v) / vv


# ------------------------------------------------------------------ exact Hessians

def _X(X: Any) -> np.ndarray:
    return as_float_array(X, "X", ndim=2)


def least_squares_hessian(X: Any) -> np.ndarray:
    r"""Hessian of the least-squares loss :math:`L(w) = \frac1N \lVert Xw - y\rVert^2`: :math:`\frac2N X^\top X`, shape (n, n).

    (The book's L2 loss has no factor 1/2, hence the 2.) It does not depend on :math:`w` or
    :math:`y`, and it is positive semidefinite: :math:`v^\top X^\top X v = \lVert Xv\rVert^2 \ge 0`.
    """
    X = _X(X)
    return 2.0 * (X.T @ X) / X.shape[0]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -z))


def logistic_hessian(X: Any, w: Any) -> np.ndarray:
    r"""Hessian of the mean logistic loss :math:`\frac1N\sum_i \log(1 + e^{-y^{(i)} x^{(i)\top} w})`, shape (n, n).

    :math:`\frac1N X^\top \operatorname{diag}(\sigma(z_i)(1 - \sigma(z_i))) X` with :math:`z_i = x^{(i)\top} w`:
    the labels drop out (since :math:`y^2 = 1`), and every weight :math:`\sigma(1-\sigma)` lies in
    :math:`(0, \tfrac14]`, so the Hessian is positive semidefinite.
    """
    X = _X(X)
    w = as_float_array(w, "w", ndim=1)
    if w.shape[0] != X.shape[1]:
        raise ValueError(f"w has {w.shape[0]} entries but X has {X.shape[1]} columns")
    p = _sigmoid(X @ w)
    return (X.T * (p * (1.0 - p))) @ X / X.shape[0]


def softmax_hessian(X: Any, W: Any) -> np.ndarray:
    r"""Hessian of the mean softmax cross-entropy in the weights :math:`W` (shape (n_in, C)), flattened row-major.

    With :math:`\hat y_i = \operatorname{softmax}(x^{(i)\top} W)`,

    .. math:: H = \frac1N \sum_i \big(x^{(i)} x^{(i)\top}\big) \otimes \big(\operatorname{diag}(\hat y_i) - \hat y_i \hat y_i^\top\big),

    of shape (n_in C, n_in C), indexed like ``W.ravel()`` (input feature first, class second). Each
    factor is positive semidefinite, so :math:`H` is; it is singular, since adding the same vector
    to every column of :math:`W` changes no probability. Labels drop out.
    """
    X = _X(X)
    W = as_float_array(W, "W", ndim=2)
    if W.shape[0] != X.shape[1]:
        raise ValueError(f"W has {W.shape[0]} rows but X has {X.shape[1]} columns")
    Z = X @ W
    Z = Z - Z.max(axis=1, keepdims=True)
    P = np.exp(Z)
    P /= P.sum(axis=1, keepdims=True)
    N, n_in = X.shape
    C = W.shape[1]
    # sum_i x_i x_i^T (x) (diag p_i - p_i p_i^T), as an einsum over samples
    diag_part = np.einsum("ia,ib,ic->acb", X, X, P)            # (n_in, C, n_in): delta_cc'
    H = np.zeros((n_in, C, n_in, C))
    idx = np.arange(C)
    H[:, idx, :, idx] = diag_part.transpose(1, 0, 2)
    H -= np.einsum("ia,ic,ib,id->acbd", X, P, X, P)
    return H.reshape(n_in * C, n_in * C) / N


def model_loss_and_gradient(model: Any, X: Any, y: Any) -> tuple[np.ndarray, Callable, Callable, Callable]:
    r"""A :class:`dlnotes.training.Classifier` as a function of one flat parameter vector.

    Returns ``(theta, f, grad_f, set_params)``: the current parameters concatenated
    (shape (n,)), the mean cross-entropy ``f(theta)``, its backpropagated gradient
    ``grad_f(theta)`` (shape (n,)), and ``set_params(theta)`` which writes a vector back. ``f`` and
    ``grad_f`` leave the model's parameters as they found them.
    """
    shapes = [p.shape for p in model.params]
    sizes = [p.size for p in model.params]
    theta0 = np.concatenate([p.ravel() for p in model.params]).astype(float)

    def set_params(theta):
        theta = np.asarray(theta, dtype=float)
        off = 0
        for p, shape, size in zip(model.params, shapes, sizes):
            p[...] = theta[off:off + size].reshape(shape)
            off += size

    def _with(theta, fn):
        saved = [p.copy() for p in model.params]
        set_params(theta)
        try:
            return fn()
        finally:
            for p, s in zip(model.params, saved):
                p[...] = s

    def f(theta):
        return _with(theta, lambda: float(model.loss(X, y)))

    def grad_f(theta):
        return _with(theta, lambda: np.concatenate([g.ravel() for g in model.loss_and_grads(X, y)[1]]))

    return theta0, f, grad_f, set_params


def _mlp_parts(model: Any, X: Any, y: Any):
    from .training import MLP

    if not isinstance(model, MLP):
        raise TypeError(f"model must be a dlnotes.training.MLP, got {type(model).__name__}")
    if model.activation not in ("tanh", "relu"):
        raise ValueError(f"activation must be 'tanh' or 'relu', got {model.activation!r}")
    Xa = model._check_X(X).astype(float)
    labels = as_labels(y, "y", n=Xa.shape[0], k=model.n_classes)
    return Xa, labels


def mlp_hvp(model: Any, X: Any, y: Any, v: Any) -> np.ndarray:
    r"""The exact Hessian-vector product :math:`Hq` of a one-hidden-layer MLP's mean cross-entropy.

    Pearlmutter's :math:`\mathcal R` operator: the directional derivative along :math:`q` of
    every quantity of the forward and the backward pass, in one more pass of each (no step
    size, no rounding beyond the arithmetic's). For :class:`dlnotes.training.MLP` with
    :math:`z = \phi(XW_1 + b_1)W_2 + b_2`, ``v`` ordered like ``model.params`` flattened
    (:math:`W_1, b_1, W_2, b_2`), shape (n,); returns shape (n,). ReLU's second derivative is
    0 wherever it exists. Computed in float64 whatever the model's dtype (from the inputs and
    weights as the model holds them). Chapter: *The optimization landscape*.
    """
    Xa, labels = _mlp_parts(model, X, y)
    W1, b1, W2, b2 = (np.asarray(p, dtype=float) for p in model.params)
    D, Hd = W1.shape
    C = W2.shape[1]
    n = W1.size + b1.size + W2.size + b2.size
    q = as_float_array(v, "v", ndim=1)
    if q.size != n:
        raise ValueError(f"v must have {n} entries (the MLP's parameters), got {q.size}")
    V1, c1 = q[:D * Hd].reshape(D, Hd), q[D * Hd:D * Hd + Hd]
    V2, c2 = q[D * Hd + Hd:D * Hd + Hd + Hd * C].reshape(Hd, C), q[D * Hd + Hd + Hd * C:]
    N = Xa.shape[0]
    # forward and backward pass
    z1 = Xa @ W1 + b1
    if model.activation == "tanh":
        a = np.tanh(z1)
        d1 = 1.0 - a * a                 # phi'
        d2 = -2.0 * a * d1               # phi''
    else:
        a = np.maximum(z1, 0.0)
        d1 = (z1 > 0).astype(float)
        d2 = np.zeros_like(z1)
    s = a @ W2 + b2
    s = s - s.max(axis=1, keepdims=True)
    P = np.exp(s)
    P /= P.sum(axis=1, keepdims=True)
    Y = np.zeros_like(P)
    Y[np.arange(N), labels] = 1.0
    ds = (P - Y) / N
    da = ds @ W2.T
    # their directional derivatives along q
    Rz1 = Xa @ V1 + c1
    Ra = d1 * Rz1
    Rs = Ra @ W2 + a @ V2 + c2
    RP = P * (Rs - np.sum(P * Rs, axis=1, keepdims=True))
    Rds = RP / N
    RgW2 = Ra.T @ ds + a.T @ Rds
    Rgb2 = Rds.sum(axis=0)
    Rda = Rds @ W2.T + ds @ V2.T
    Rdz = Rda * d1 + da * d2 * Rz1
    RgW1 = Xa.T @ Rdz
    Rgb1 = Rdz.sum(axis=0)
    return np.concatenate([RgW1.ravel(), Rgb1, RgW2.ravel(), Rgb2])


def mlp_hessian(model: Any, X: Any, y: Any) -> np.ndarray:
    """The exact Hessian of a one-hidden-layer MLP's mean cross-entropy, shape (n, n): :func:`mlp_hvp` on each basis vector, symmetrised."""
    _mlp_parts(model, X, y)                      # checks the model and the data first
    n = sum(p.size for p in model.params)
    H = np.column_stack([mlp_hvp(model, X, y, e) for e in np.eye(n)])
    return 0.5 * (H + H.T)


def mixed_spectrum_fraction(n: int, samples: int = 2000, seed: int = 0, tol: float = 0.0) -> float:
    r"""Fraction of random symmetric :math:`n \times n` matrices whose eigenvalues have both signs.

    The matrices are :math:`(M + M^\top)/2` with independent standard normal entries (the
    Gaussian orthogonal ensemble), a crude model of the Hessian at a random critical point: a
    minimum needs all :math:`n` eigenvalues positive, which becomes exponentially rare as
    :math:`n` grows, so almost every critical point is a saddle. With ``tol`` > 0 eigenvalues
    within ``tol`` of zero count as neither sign.
    """
    n = as_int(n, "n", low=1)
    samples = as_int(samples, "samples", low=1)
    tol = as_scalar(tol, "tol", low=0.0)
    rng = np.random.default_rng(as_int(seed, "seed", low=0))
    M = rng.standard_normal((samples, n, n))
    lam = np.linalg.eigvalsh(0.5 * (M + np.swapaxes(M, 1, 2)))
    mixed = (lam > tol).any(axis=1) & (lam < -tol).any(axis=1)
    return float(mixed.mean())
