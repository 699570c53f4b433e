r"""Optimizers: update rules, stateful optimizers and a trajectory runner.

Taught in the chapters *Gradient descent and its problems* (GD, SGD, minibatches), *Momentum and Nesterov* (both
momentum forms, Nesterov) and *Adaptive learning rates* (AdaGrad, RMSProp, Adam, AdamW).

Three layers, each tested against ``torch.optim``:

1. **Update rules**: one small pure function per rule, on NumPy arrays, that reads like
   its equation and returns the new iterate and state (the inputs are never modified).
   ``gd_step``, ``momentum_step``, ``momentum_velocity_step``,
   ``nesterov_lookahead_step``, ``nesterov_step``, ``adagrad_step``, ``rmsprop_step``,
   ``adam_step``, ``adamw_step``.
2. **Optimizers**: :class:`SGD`, :class:`Adagrad`, :class:`RMSprop`, :class:`Adam`,
   :class:`AdamW`, in the spirit of ``torch.optim``: built on a list of parameter arrays,
   ``step(grads)`` updates them *in place*, ``lr`` can be changed between steps (that is
   how schedules are applied). They work in float32 and float64, with preallocated
   buffers and no temporary arrays in the hot path.
3. **Runner**: :func:`run` and :func:`race` record trajectories and losses on a test
   function for the book's figures.

Notation (the book's, with the PyTorch argument in brackets): :math:`x_t` the iterate
(parameters) after :math:`t` steps, counted from :math:`t = 0`;
:math:`g_t = \nabla f(x_t)` the gradient (or a minibatch estimate of it);
:math:`\alpha` learning rate [``lr``]; :math:`\rho` momentum [``momentum``];
:math:`\beta_1, \beta_2` Adam's decay rates [``betas``]; :math:`\beta_2` is also RMSProp's
decay rate [``alpha`` in ``torch.optim.RMSprop``, ``beta`` here];
:math:`\varepsilon` [``eps``]; :math:`\lambda` weight decay [``weight_decay``];
:math:`m` the accumulated gradient: SGD's momentum buffer (torch's ``momentum_buffer``)
and Adam's first moment (``exp_avg``); :math:`v` a velocity (the displacement of the
next step, :math:`v = -\alpha m`); :math:`s` the accumulated or averaged squared
gradient (Kingma & Ba call it :math:`v`). One step of every method reads
:math:`x_{t+1} = x_t - \alpha\,(\dots)`; Adam's bias corrections use the number of steps
taken, :math:`t + 1`.

Conventions shared with PyTorch (and checked by the tests): :math:`\varepsilon` is added
*outside* the square root, :math:`\sqrt{s} + \varepsilon`, in AdaGrad, RMSProp and Adam;
all buffers start at zero (AdaGrad's can start elsewhere); ``weight_decay`` in
:class:`SGD`, :class:`Adagrad`, :class:`RMSprop` and :class:`Adam` adds
:math:`\lambda x` to the gradient (an L2 penalty :math:`\tfrac{\lambda}{2}\lVert x\rVert^2`
in the loss, i.e. ``dlnotes.regularization`` strength :math:`\lambda/2`), while
:class:`AdamW` shrinks :math:`x \leftarrow (1 - \alpha\lambda)x` separately;
``maximize=True`` (every optimizer) uses :math:`-g_t` in place of :math:`g_t`, before the
weight decay is added, so the optimizer climbs :math:`f`.

Huge gradients: a gradient so large that :math:`(1-\beta_2) g^2` overflows the parameters'
dtype (from about 1e155 in float64 and 1e20 in float32 for Adam) makes :math:`s` infinite
and that coordinate's adaptive step 0, exactly as in PyTorch; the other coordinates are
unaffected and nothing becomes NaN. Three deliberate differences from PyTorch, all where
PyTorch would return NaN: :math:`\varepsilon` must be positive (with
:math:`\varepsilon = 0` a coordinate whose gradient has always been 0 would take the
step 0/0); centred RMSProp treats a variance estimate :math:`s - m^2` whose terms both
overflowed as infinite (a step of 0, which is also what PyTorch's fused multiply-add
gives); and a decay rate of 0 forgets an average that overflowed (:math:`0 \cdot \infty`).

"""

from __future__ import annotations

import math
import numbers
import os
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from ._validation import (as_bool, as_callable, as_float_array, as_int, as_scalar,
                          check_same_shape, guarded)

__all__ = [
    # update rules
    "gd_step", "momentum_step", "momentum_velocity_step", "velocity_from_buffer",
    "nesterov_lookahead_step", "nesterov_step",
    "adagrad_step", "rmsprop_step", "adam_step", "adamw_step",
    # facts about the rules, for the chapter
    "minibatch_gradient_variance", "adam_first_step", "adam_uncorrected_step_factor",
    # optimizers
    "Optimizer", "SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "DEFAULTS",
    "set_num_threads", "get_num_threads",
    # runner
    "Trajectory", "run", "race",
]


# ------------------------------------------------------------------ argument checks

def _lr(lr: Any) -> float:
    return as_scalar(lr, "lr", low=0.0)


def _momentum(momentum: Any) -> float:
    # rho = 1 is allowed: the undamped heavy ball is worth showing (it never settles).
    return as_scalar(momentum, "momentum", low=0.0, high=1.0)


def _decay_rate(value: Any, name: str) -> float:
    return as_scalar(value, name, low=0.0, high=1.0, high_open=True)


def _betas(betas: Any) -> tuple[float, float]:
    if isinstance(betas, (str, bytes)) or not isinstance(betas, Sequence) or len(betas) != 2:
        raise TypeError(f"betas must be a pair (beta1, beta2) of numbers in [0, 1), got {betas!r}")
    return _decay_rate(betas[0], "betas[0]"), _decay_rate(betas[1], "betas[1]")


def _eps(eps: Any) -> float:
    # eps = 0 would make 0/0 the step of a coordinate whose gradient has always been 0
    return as_scalar(eps, "eps", low=0.0, low_open=True)


def _weight_decay(weight_decay: Any) -> float:
    return as_scalar(weight_decay, "weight_decay", low=0.0)


#: The largest step count accepted: every integer up to it is exact in float64.
MAX_STEPS = 2 ** 53


def _step_number(t: Any) -> int:
    if isinstance(t, bool) or not isinstance(t, numbers.Integral):
        raise TypeError(f"t must be a positive integer (the step number, starting at 1), "
                        f"got {type(t).__name__}")
    if t < 1:
        raise ValueError(f"t must be >= 1 (the step number, starting at 1), got {t}")
    if t > MAX_STEPS:
        raise ValueError(f"t must be <= 2**53 (the step number), got 2**{int(t).bit_length() - 1}")
    return int(t)


def _non_negative(arr: np.ndarray, name: str, what: str) -> np.ndarray:
    if np.any(arr < 0):
        i = int(np.argmax(arr.reshape(-1) < 0))
        raise ValueError(f"{name} must be >= 0 ({what}); got {arr.reshape(-1)[i]:g} at flat index {i}")
    return arr


def _arrays(**named: Any) -> list[np.ndarray]:
    """Validate same-shaped float arrays; the first one names the expected shape."""
    items = [(name, as_float_array(value, name)) for name, value in named.items()]
    first_name, first = items[0]
    for name, arr in items[1:]:
        check_same_shape(first, arr, first_name, name)
    return [arr for _, arr in items]


# ------------------------------------------------------------------------ update rules
#
# Every rule checks its arguments, runs with NumPy's floating-point warnings off and never
# returns NaN for finite input (see dlnotes._validation.guarded): an iterate that
# overflows becomes +-inf, the correctly rounded value, and a rule whose intermediate values
# overflow into inf - inf raises a ValueError naming the arguments instead.

@guarded("x", "grad", "lr")
def gd_step(x: Any, grad: Any, lr: float) -> np.ndarray:
    r"""One gradient-descent step, :math:`x_{t+1} = x_t - \alpha g_t`.

    Gradient descent, SGD and minibatch SGD share this rule; they differ only in
    :math:`g_t`: the gradient of the mean loss over all :math:`N` samples, of one
    sample's loss, or of the mean over a minibatch of :math:`B` samples.

    Chapter: *Gradient descent and its problems*.

    Parameters
    ----------
    x : array of any shape
        The iterate :math:`x_t`.
    grad : array shaped like ``x``
        :math:`g_t`.
    lr : float >= 0
        :math:`\alpha` (``torch.optim.SGD``'s ``lr``).

    Returns
    -------
    array shaped like ``x``: :math:`x_{t+1}`.
    """
    x, g = _arrays(x=x, grad=grad)
    return x - _lr(lr) * g


@guarded("x", "v", "grad", "lr")
def momentum_step(x: Any, v: Any, grad: Any, lr: float, momentum: float) -> tuple[np.ndarray, np.ndarray]:
    r"""SGD with momentum, gradient-sum form: :math:`m_{t+1} = \rho m_t + g_t`, :math:`x_{t+1} = x_t - \alpha m_{t+1}`.

    The buffer :math:`m` accumulates gradients (it has the units of a gradient); it is
    passed as the argument ``v``. This is ``torch.optim.SGD(momentum=rho, dampening=0)``,
    whose ``momentum_buffer`` is :math:`m`. The velocity form
    :func:`momentum_velocity_step` gives the same iterates with velocity
    :math:`v = -\alpha m` (see :func:`velocity_from_buffer`), as long as :math:`\alpha`
    is constant.

    Chapter: *Momentum and Nesterov*.

    Parameters
    ----------
    x, v, grad : arrays of the same shape
        :math:`x_t`, the buffer :math:`m_t` (zeros at the start) and :math:`g_t`.
    lr : float >= 0
        :math:`\alpha`.
    momentum : float in [0, 1]
        :math:`\rho`.

    Returns
    -------
    (x_next, v_next) : arrays shaped like ``x``: :math:`x_{t+1}` and :math:`m_{t+1}`.
    """
    x, v, g = _arrays(x=x, v=v, grad=grad)
    lr, rho = _lr(lr), _momentum(momentum)
    v_next = rho * v + g
    return x - lr * v_next, v_next


@guarded("x", "v", "grad", "lr")
def momentum_velocity_step(x: Any, v: Any, grad: Any, lr: float,
                           momentum: float) -> tuple[np.ndarray, np.ndarray]:
    r"""SGD with momentum, velocity form: :math:`v_{t+1} = \rho v_t - \alpha g_t`, :math:`x_{t+1} = x_t + v_{t+1}`.

    Here :math:`v` is a velocity: the displacement of the next step (units of
    :math:`x`). Sutskever et al. (2013) and CS231n write momentum this way. With a
    constant :math:`\alpha` it gives the same iterates as :func:`momentum_step`, whose
    buffer is :math:`m = -v/\alpha`. With a changing :math:`\alpha` the two differ: here
    the velocity keeps the rates it was built with; in the gradient-sum form a new
    :math:`\alpha` rescales the whole accumulated buffer at once.

    Chapter: *Momentum and Nesterov*.

    Parameters
    ----------
    x, v, grad : arrays of the same shape
        :math:`x_t`, :math:`v_t` (zeros at the start) and :math:`g_t`.
    lr : float >= 0
        :math:`\alpha`.
    momentum : float in [0, 1]
        :math:`\rho`.

    Returns
    -------
    (x_next, v_next) : arrays shaped like ``x``.
    """
    x, v, g = _arrays(x=x, v=v, grad=grad)
    lr, rho = _lr(lr), _momentum(momentum)
    v_next = rho * v - lr * g
    return x + v_next, v_next


@guarded("buffer", "lr")
def velocity_from_buffer(buffer: Any, lr: float) -> np.ndarray:
    r"""Convert a gradient-sum momentum buffer :math:`m` into a velocity, :math:`v = -\alpha m`.

    ``buffer`` is the :math:`m` of :func:`momentum_step` (``torch.optim.SGD``'s
    ``momentum_buffer``); the result is the :math:`v` of :func:`momentum_velocity_step`.
    Returns an array shaped like ``buffer``.

    Chapter: *Momentum and Nesterov*.
    """
    b = as_float_array(buffer, "buffer")
    return -_lr(lr) * b


@guarded("x", "v", "lr", "grad_f")
def nesterov_lookahead_step(x: Any, v: Any, grad_f: Callable[[np.ndarray], Any], lr: float,
                            momentum: float) -> tuple[np.ndarray, np.ndarray]:
    r"""Nesterov momentum, look-ahead form: :math:`v_{t+1} = \rho v_t - \alpha\nabla f(x_t + \rho v_t)`, :math:`x_{t+1} = x_t + v_{t+1}`.

    The gradient is taken at the point the momentum is about to carry us to, not at
    :math:`x_t`. Training code rarely has that point at hand; :func:`nesterov_step` is
    the same method after the change of variables :math:`\tilde x = x + \rho v`
    (derived and checked in :mod:`dlnotes.nesterov`).

    Chapter: *Momentum and Nesterov*.

    Parameters
    ----------
    x, v : arrays of the same shape
        :math:`x_t`, :math:`v_t` (velocity units; zeros at the start).
    grad_f : callable
        :math:`\nabla f`; takes an array shaped like ``x`` and returns one.
    lr : float >= 0
        :math:`\alpha`.
    momentum : float in [0, 1]
        :math:`\rho`.

    Returns
    -------
    (x_next, v_next) : arrays shaped like ``x``.
    """
    as_callable(grad_f, "grad_f", "a callable returning the gradient")
    x, v = _arrays(x=x, v=v)
    lr, rho = _lr(lr), _momentum(momentum)
    look = x + rho * v
    if not np.all(np.isfinite(look)):
        raise ValueError("x + momentum * v overflows float64: x and v are too large")
    g = as_float_array(grad_f(look), "grad_f(x + momentum * v)")
    check_same_shape(x, g, "x", "grad_f(x + momentum * v)")
    v_next = rho * v - lr * g
    return x + v_next, v_next


@guarded("x_tilde", "v", "grad", "lr")
def nesterov_step(x_tilde: Any, v: Any, grad: Any, lr: float,
                  momentum: float) -> tuple[np.ndarray, np.ndarray]:
    r"""Nesterov momentum, rearranged form: :math:`v_{t+1} = \rho v_t - \alpha g(\tilde x_t)`, :math:`\tilde x_{t+1} = \tilde x_t - \rho v_t + (1 + \rho) v_{t+1}`.

    The iterate is the look-ahead point :math:`\tilde x_t = x_t + \rho v_t`, so the only
    gradient needed is the one at the current iterate, like plain momentum. The update
    can also be read as :math:`\tilde x_{t+1} = \tilde x_t + v_{t+1} + \rho(v_{t+1} - v_t)`.
    In ``torch.optim.SGD(nesterov=True)``'s units :math:`m = -v/\alpha` it is
    :math:`m_{t+1} = \rho m_t + g`, :math:`\tilde x_{t+1} = \tilde x_t - \alpha(g + \rho m_{t+1})`.

    Chapter: *Momentum and Nesterov* (the worked rederivation).

    Parameters
    ----------
    x_tilde, v, grad : arrays of the same shape
        :math:`\tilde x_t`, :math:`v_t` (zeros at the start, so :math:`\tilde x_0 = x_0`)
        and the gradient :math:`\nabla f(\tilde x_t)`.
    lr : float >= 0
        :math:`\alpha`.
    momentum : float in [0, 1]
        :math:`\rho`.

    Returns
    -------
    (x_tilde_next, v_next) : arrays shaped like ``x_tilde``. Recover the look-ahead
    form's iterate as :math:`x_t = \tilde x_t - \rho v_t`.
    """
    xt, v, g = _arrays(x_tilde=x_tilde, v=v, grad=grad)
    lr, rho = _lr(lr), _momentum(momentum)
    v_next = rho * v - lr * g
    return xt - rho * v + (1.0 + rho) * v_next, v_next


@guarded("x", "s", "grad", "lr")
def adagrad_step(x: Any, s: Any, grad: Any, lr: float, eps: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    r"""AdaGrad: :math:`s_{t+1} = s_t + g_t^2`, :math:`x_{t+1} = x_t - \alpha\, g_t / (\sqrt{s_{t+1}} + \varepsilon)`.

    Every coordinate gets its own rate :math:`\alpha / (\sqrt{s_{t+1}} + \varepsilon)`.
    Because :math:`s` only grows, these rates only shrink: fine for convex problems, too
    early a stop for deep networks. Squares, roots and divisions are elementwise.
    Same as ``torch.optim.Adagrad(lr, eps=eps)`` with ``lr_decay=0`` and
    ``initial_accumulator_value`` equal to the starting :math:`s`.

    Chapter: *Adaptive learning rates* (AdaGrad).

    Parameters
    ----------
    x, s, grad : arrays of the same shape
        :math:`x_t`, the running sum of squared gradients :math:`s_t \ge 0` (zeros at
        the start) and :math:`g_t`.
    lr : float >= 0
        :math:`\alpha` (torch default 1e-2).
    eps : float > 0
        :math:`\varepsilon`, added outside the square root (torch default 1e-10).

    Returns
    -------
    (x_next, s_next) : arrays shaped like ``x``.
    """
    x, s, g = _arrays(x=x, s=s, grad=grad)
    _non_negative(s, "s", "a sum of squared gradients")
    lr, eps = _lr(lr), _eps(eps)
    s_next = s + g * g
    return x - lr * g / (np.sqrt(s_next) + eps), s_next


@guarded("x", "s", "grad", "lr")
def rmsprop_step(x: Any, s: Any, grad: Any, lr: float, beta: float = 0.99,
                 eps: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
    r"""RMSProp: :math:`s_{t+1} = \beta_2 s_t + (1 - \beta_2) g_t^2`, :math:`x_{t+1} = x_t - \alpha\, g_t / (\sqrt{s_{t+1}} + \varepsilon)`.

    "Leaky AdaGrad": the sum of squares becomes an exponential moving average, so old
    gradients are forgotten and the rates stop shrinking. Same as
    ``torch.optim.RMSprop(lr, alpha=beta, eps=eps)`` (``momentum=0, centered=False``;
    :class:`RMSprop` has both).

    Chapter: *Adaptive learning rates* (RMSProp).

    Parameters
    ----------
    x, s, grad : arrays of the same shape
        :math:`x_t`, the moving average of squared gradients :math:`s_t \ge 0` (zeros
        at the start) and :math:`g_t`.
    lr : float >= 0
        :math:`\alpha` (torch default 1e-2).
    beta : float in [0, 1)
        :math:`\beta_2`, torch's ``alpha`` (default 0.99). The argument is not called alpha
        because :math:`\alpha` is the learning rate in this book.
    eps : float > 0
        :math:`\varepsilon`, outside the square root (torch default 1e-8).

    Returns
    -------
    (x_next, s_next) : arrays shaped like ``x``.
    """
    x, s, g = _arrays(x=x, s=s, grad=grad)
    _non_negative(s, "s", "an average of squared gradients")
    lr, beta, eps = _lr(lr), _decay_rate(beta, "beta"), _eps(eps)
    s_next = (beta * s if beta else 0.0) + (1.0 - beta) * g * g
    return x - lr * g / (np.sqrt(s_next) + eps), s_next


@guarded("x", "m", "s", "grad", "lr")
def adam_step(x: Any, m: Any, s: Any, grad: Any, t: int, lr: float = 1e-3,
              betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
              bias_correction: bool = True,
              weight_decay: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Adam: :math:`m_{t+1} = \beta_1 m_t + (1-\beta_1) g_t`, :math:`s_{t+1} = \beta_2 s_t + (1-\beta_2) g_t^2`, :math:`x_{t+1} = x_t - \alpha\,\hat m_{t+1} / (\sqrt{\hat s_{t+1}} + \varepsilon)`.

    With bias correction (the full form), :math:`\hat m_{t+1} = m_{t+1} / (1 - \beta_1^{t+1})`
    and :math:`\hat s_{t+1} = s_{t+1} / (1 - \beta_2^{t+1})` undo the pull towards the zero
    starting values; the power is the number of steps taken, the argument ``t`` below.
    Without it (Adam "almost"), :math:`\hat m = m`, :math:`\hat s = s`; the first step is
    then :math:`(1-\beta_1)/\sqrt{1-\beta_2} \approx 3.2` times too long for the default
    betas (see :func:`adam_first_step`).

    ``weight_decay`` :math:`\lambda > 0` replaces :math:`g_t` by :math:`g_t + \lambda x_t`
    (an L2 penalty in the loss), as ``torch.optim.Adam(weight_decay=...)`` does. The
    decay then passes through :math:`1/\sqrt{\hat s}`, so weights with large gradients
    are decayed less; :func:`adamw_step` decouples it.

    Chapter: *Adaptive learning rates* (Adam).

    Parameters
    ----------
    x, m, s, grad : arrays of the same shape
        :math:`x_t`, :math:`m_t`, :math:`s_t \ge 0` (zeros at the start) and :math:`g_t`.
    t : int >= 1
        The number of steps taken once this one is done (1 for the first step, i.e.
        :math:`t + 1` in the book's count from 0), used by the bias correction.
    lr : float >= 0
        :math:`\alpha` (default 1e-3).
    betas : (float, float), each in [0, 1)
        :math:`(\beta_1, \beta_2)` (default (0.9, 0.999)).
    eps : float > 0
        :math:`\varepsilon`, added to :math:`\sqrt{\hat s_{t+1}}` (default 1e-8).
    bias_correction : bool
    weight_decay : float >= 0
        :math:`\lambda`.

    Returns
    -------
    (x_next, m_next, s_next) : arrays shaped like ``x``.
    """
    x, m, s, g = _arrays(x=x, m=m, s=s, grad=grad)
    _non_negative(s, "s", "an average of squared gradients")
    t = _step_number(t)
    lr, (beta1, beta2), eps = _lr(lr), _betas(betas), _eps(eps)
    bias_correction = as_bool(bias_correction, "bias_correction")
    weight_decay = _weight_decay(weight_decay)
    g = g + weight_decay * x
    # beta m + (1 - beta) g cannot overflow for finite m and g (torch's lerp m + w (g - m) can)
    m_next = (beta1 * m if beta1 else 0.0) + (1.0 - beta1) * g
    s_next = (beta2 * s if beta2 else 0.0) + (1.0 - beta2) * g * g
    if bias_correction:
        m_hat, s_hat = m_next / (1.0 - beta1 ** t), s_next / (1.0 - beta2 ** t)
    else:
        m_hat, s_hat = m_next, s_next
    return x - lr * m_hat / (np.sqrt(s_hat) + eps), m_next, s_next


@guarded("x", "m", "s", "grad", "lr")
def adamw_step(x: Any, m: Any, s: Any, grad: Any, t: int, lr: float = 1e-3,
               betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
               weight_decay: float = 1e-2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""AdamW: Adam on the loss gradient alone, plus the decoupled shrinkage :math:`x \leftarrow (1 - \alpha\lambda)\,x`.

    .. math::

        x_{t+1} = (1 - \alpha\lambda)\,x_t - \alpha\,\hat m_{t+1} / (\sqrt{\hat s_{t+1}} + \varepsilon)

    with :math:`\hat m_{t+1}, \hat s_{t+1}` built from :math:`g_t` only (bias corrected).
    Every weight shrinks by the same factor whatever its gradient history, which is what
    weight decay means for plain SGD. Same as ``torch.optim.AdamW``. Loshchilov & Hutter
    write the shrinkage as :math:`\eta_t\lambda'` with a schedule multiplier
    :math:`\eta_t`; PyTorch's (and our) :math:`\lambda` is their :math:`\lambda'/\alpha`.

    Chapter: *Adaptive learning rates* (AdamW and L2 regularization).

    Parameters
    ----------
    x, m, s, grad : arrays of the same shape
    t : int >= 1
        As in :func:`adam_step`.
    lr : float >= 0
    betas : (float, float), each in [0, 1)
    eps : float > 0
    weight_decay : float >= 0
        :math:`\lambda` (default 1e-2, as in torch).

    Returns
    -------
    (x_next, m_next, s_next) : arrays shaped like ``x``.
    """
    x, m, s, g = _arrays(x=x, m=m, s=s, grad=grad)
    lr, weight_decay = _lr(lr), _weight_decay(weight_decay)
    x_adam, m_next, s_next = adam_step(x, m, s, g, t, lr, betas, eps)
    # x_adam - x is the Adam displacement; adding the shrinkage of the *old* x keeps
    # the decay independent of the adaptive scaling.
    return x_adam - lr * weight_decay * x, m_next, s_next


# ---------------------------------------------------------- facts for the chapter

@guarded("per_sample_grads")
def minibatch_gradient_variance(per_sample_grads: Any, batch_size: int) -> float:
    r"""Mean squared error of a minibatch gradient, :math:`\mathbb E\lVert \hat g_B - \bar g\rVert^2 = \frac{N - B}{N - 1}\,\frac{\sigma^2}{B}`.

    :math:`\bar g = \frac1N\sum_i g_i` is the full-batch gradient, :math:`\hat g_B` the mean
    over a batch of :math:`B` distinct samples drawn uniformly without replacement, and
    :math:`\sigma^2 = \frac1N\sum_i \lVert g_i - \bar g\rVert^2` the spread of the
    per-sample gradients. The noise falls like :math:`1/B` (the factor
    :math:`(N-B)/(N-1)` makes it exactly 0 for the full batch): a batch 4 times larger
    halves the noise's standard deviation, at 4 times the cost.

    Chapter: *Gradient descent and its problems* (GD vs SGD vs minibatch SGD).

    Parameters
    ----------
    per_sample_grads : array of shape (N, n)
        Row :math:`i` is :math:`g_i`, the gradient of sample :math:`i`'s loss.
    batch_size : int in [1, N]

    Returns
    -------
    float (infinite only if the exact value is beyond float64's range).
    """
    G = as_float_array(per_sample_grads, "per_sample_grads", ndim=2)
    n = G.shape[0]
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral):
        raise TypeError(f"batch_size must be an integer, got {type(batch_size).__name__}")
    if not 1 <= batch_size <= n:
        raise ValueError(f"batch_size must be in [1, N] = [1, {n}], got {batch_size}")
    if n == 1:
        return 0.0
    # scale by a power of two so that sums of squares cannot overflow; undo it at the end
    _, e = np.frexp(np.max(np.abs(G)))
    Gs = np.ldexp(G, -int(e))
    sigma2 = float(np.mean(np.sum((Gs - Gs.mean(axis=0)) ** 2, axis=1)))
    return float(np.ldexp((n - batch_size) / (n - 1) * sigma2 / batch_size, 2 * int(e)))


@guarded("grad", "lr")
def adam_first_step(grad: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                    eps: float = 1e-8, bias_correction: bool = True) -> np.ndarray:
    r"""The displacement :math:`x_1 - x_0` of Adam's first step, with or without bias correction.

    From zero moments, :math:`m_1 = (1-\beta_1) g_0` and :math:`s_1 = (1-\beta_2) g_0^2`.
    With the correction, :math:`\hat m_1 = g_0` and :math:`\hat s_1 = g_0^2`, so the step is
    :math:`-\alpha\, g_0 / (|g_0| + \varepsilon) \approx -\alpha \operatorname{sign} g_0`:
    every coordinate moves by about :math:`\alpha`, whatever the gradient's scale. Without
    it the step is :math:`-\alpha (1-\beta_1) g_0 / (\sqrt{1-\beta_2}\,|g_0| + \varepsilon)`,
    about :math:`(1-\beta_1)/\sqrt{1-\beta_2}` times longer (3.16 for the defaults).

    Chapter: *Adaptive learning rates* (Adam's bias correction).

    Parameters
    ----------
    grad : array of any shape
        The first gradient :math:`g_0`.
    lr, betas, eps, bias_correction : as in :func:`adam_step`.

    Returns
    -------
    array shaped like ``grad``.
    """
    g = as_float_array(grad, "grad")
    zeros = np.zeros_like(g)
    x1, _, _ = adam_step(zeros, zeros, zeros, g, 1, lr, betas, eps, bias_correction)
    return x1


@guarded("t")
def adam_uncorrected_step_factor(t: Any, betas: tuple[float, float] = (0.9, 0.999)) -> np.ndarray | float:
    r"""How much longer Adam's step is without bias correction after ``t`` steps, for a constant gradient: :math:`(1-\beta_1^t)/\sqrt{1-\beta_2^t}`.

    For a constant gradient :math:`g` (and :math:`\varepsilon \to 0`), after :math:`t`
    steps :math:`m_t = (1-\beta_1^t)g` and :math:`s_t = (1-\beta_2^t)g^2`; the corrected
    step has length :math:`\alpha` per coordinate and the uncorrected one this factor
    times :math:`\alpha`. For the default betas it is 3.16 for the first step
    (:math:`t = 1`), peaks at 6.57 at :math:`t = 12`, is still 1.26 at :math:`t = 1000`
    and comes within 1% of 1 only after about 3900 steps, because :math:`\beta_2` forgets
    far more slowly than :math:`\beta_1`.

    Chapter: *Adaptive learning rates* (Adam's bias correction).

    Parameters
    ----------
    t : int or int array, >= 1
        The number of steps taken.
    betas : (float, float), each in [0, 1)

    Returns
    -------
    float, or an array shaped like ``t``.
    """
    beta1, beta2 = _betas(betas)
    if isinstance(t, bool):
        raise TypeError("t must be an integer or an integer array (step numbers), got bool")
    tt = np.asarray(t)
    if tt.dtype.kind not in "iu" or tt.dtype == bool:
        raise TypeError(f"t must be an integer or an integer array (step numbers), got dtype {tt.dtype}")
    if tt.size == 0:
        raise ValueError("t must not be empty")
    if np.any(tt < 1):
        raise ValueError(f"t must be >= 1 (step numbers start at 1), got {tt.min()}")
    tf = tt.astype(np.float64)
    out = (1.0 - beta1 ** tf) / np.sqrt(1.0 - beta2 ** tf)
    return float(out) if out.ndim == 0 else out


# ----------------------------------------------------------- stateful optimizers
#
# The hot path works on flat views of C-contiguous arrays. Arrays larger than one chunk
# are processed chunk by chunk, interleaved over a few threads: NumPy releases the GIL
# inside each ufunc, and a chunk's scratch buffer stays in the L2 cache while the
# dozen ufuncs of one update pass over it. Each element is computed by the same
# sequence of operations whatever the chunking, so results do not depend on it.

_CHUNK_BYTES = 1 << 20
_num_threads = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def set_num_threads(n: int) -> None:
    """Set how many threads the optimizers use for large arrays (default: the cores available).

    Like ``torch.set_num_threads``. Results are identical for any number of threads.
    """
    global _num_threads
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    _num_threads = int(n)


def get_num_threads() -> int:
    """Number of threads the optimizers use for large arrays."""
    return _num_threads


def _executor(workers: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    if _pool is None or _pool_size < workers:
        if _pool is not None:
            _pool.shutdown(wait=True)
        _pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dlnotes-optim")
        _pool_size = workers
    return _pool


def _chunk_elements(dtype: np.dtype) -> int:
    return max(1024, _CHUNK_BYTES // np.dtype(dtype).itemsize)


class Optimizer(ABC):
    r"""Base class: a list of parameter arrays updated in place by :meth:`step`.

    Subclasses define the rule. Shared interface, as in ``torch.optim``:

    * ``Optimizer(params, lr=..., ...)``: ``params`` is one NumPy array or a list of them
      (float32 or float64, C-contiguous, writable, finite). The optimizer keeps references
      and changes these arrays in place; keep using the same arrays in your model.
    * ``step(grads)``: one update, with ``grads`` shaped like ``params`` (one array or a
      list in the same order). Returns ``None``.
    * ``lr``: the learning rate :math:`\alpha`; assign to it between steps to follow a
      schedule (:mod:`dlnotes.schedules`).
    * ``maximize``: climb instead of descend (every rule sees :math:`-g_t`).
    * ``t``: the number of steps taken; ``state``: one dict of buffers per parameter.

    Gradients are not checked for NaN or infinity (that would cost a pass over memory
    per step); like in PyTorch, a non-finite gradient propagates into the parameters, and
    so does an iterate that overflows (that is how :func:`run` detects a divergence).
    NumPy's floating-point warnings are off inside :meth:`step`.
    """

    #: scratch arrays per thread: an effective gradient (weight decay) and a temporary
    _n_scratch = 2

    def __init__(self, params: Any, lr: float, maximize: bool = False) -> None:
        self.params = self._check_params(params)
        # the largest value every parameter dtype holds: a coefficient beyond it would
        # become inf inside the float32 kernels (and inf * 0 = NaN)
        self._dtype_max = min(float(np.finfo(p.dtype).max) for p in self.params)
        self._dtype_tiny = max(float(np.finfo(p.dtype).smallest_subnormal) for p in self.params)
        self.lr = lr
        self.maximize = as_bool(maximize, "maximize")
        self.t = 0
        self.state: list[dict[str, np.ndarray]] = [self._init_state(p) for p in self.params]
        self._scratch: dict[tuple[np.dtype, int], list[tuple[np.ndarray, ...]]] = {}

    # -- public interface
    @property
    def lr(self) -> float:
        r""":math:`\alpha`, the learning rate (``lr``); settable between steps."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = self._fits_dtype(_lr(value), "lr")

    def step(self, grads: Any) -> None:
        """Apply one update to every parameter array, in place.

        Parameters
        ----------
        grads : array or list of arrays
            The gradients, in the order of ``params`` and with their shapes and dtypes.
        """
        grads = self._check_grads(grads)
        self.t += 1
        coeffs = self._coefficients()
        for x, g, state in zip(self.params, grads, self.state):
            self._apply(x, g, tuple(state.values()), coeffs)

    def __repr__(self) -> str:
        shapes = ", ".join(str(p.shape) for p in self.params)
        return f"{type(self).__name__}({self._hyper_repr()}; params: {shapes}; t={self.t})"

    # -- to be provided by subclasses
    def _init_state(self, p: np.ndarray) -> dict[str, np.ndarray]:
        return {}

    def _coefficients(self) -> tuple:
        return ()

    @property
    @abstractmethod
    def _kernel(self) -> Callable[..., None]:
        """The in-place update ``kernel(x, g, state, tmp, coefficients)`` on flat slices."""

    def _hyper_repr(self) -> str:
        return f"lr={self.lr:g}"

    def _weight_decay_for_gradient(self) -> float:
        return 0.0

    # -- machinery
    def _fits_dtype(self, value: float, name: str) -> float:
        if value > self._dtype_max:
            raise ValueError(f"{name} = {value:g} is larger than the parameters' dtype holds "
                             f"(float32 max {self._dtype_max:.3g})")
        return value

    def _eps_for_dtype(self, eps: float) -> float:
        eps = self._fits_dtype(eps, "eps")
        if eps < self._dtype_tiny:
            raise ValueError(f"eps = {eps:g} rounds to 0 in float32 (the dtype of a parameter); "
                             f"use eps >= {self._dtype_tiny:.3g}")
        return eps

    def _hyper_repr_tail(self) -> str:
        return ", maximize=True" if self.maximize else ""

    @staticmethod
    def _check_params(params: Any) -> list[np.ndarray]:
        items = list(params) if isinstance(params, (list, tuple)) else [params]
        if not items:
            raise ValueError("params must be a non-empty list of arrays")
        seen: set[int] = set()
        for i, p in enumerate(items):
            name = f"params[{i}]"
            if not isinstance(p, np.ndarray):
                raise TypeError(f"{name} must be a NumPy array (the optimizer updates it in "
                                f"place), got {type(p).__name__}")
            if p.dtype not in (np.float32, np.float64):
                raise TypeError(f"{name} must have dtype float32 or float64, got {p.dtype}")
            if not p.flags.c_contiguous or not p.flags.writeable:
                raise ValueError(f"{name} must be a C-contiguous, writable array (it is "
                                 "updated in place); make one with np.ascontiguousarray and "
                                 "use that array in your model")
            if p.size == 0:
                raise ValueError(f"{name} must not be empty, got shape {p.shape}")
            if not np.all(np.isfinite(p)):
                bad = int(np.argmax(~np.isfinite(p.reshape(-1))))
                raise ValueError(f"{name} must be finite (the starting parameters); found "
                                 f"{p.reshape(-1)[bad]} at flat index {bad}")
            if id(p) in seen:
                raise ValueError(f"{name} appears twice in params")
            seen.add(id(p))
        return items

    def _check_grads(self, grads: Any) -> list[np.ndarray]:
        if isinstance(grads, np.ndarray):
            items = [grads]
        elif isinstance(grads, (list, tuple)) and grads and all(isinstance(g, np.ndarray) for g in grads):
            items = list(grads)
        elif len(self.params) == 1:
            items = [grads]  # e.g. a plain list of numbers for the only parameter array
        else:
            raise TypeError(f"grads must be a list of {len(self.params)} NumPy arrays, one per "
                            f"parameter array, got {type(grads).__name__}")
        if len(items) != len(self.params):
            raise ValueError(f"grads must hold one array per parameter array: expected "
                             f"{len(self.params)}, got {len(items)}")
        out = []
        for i, (g, p) in enumerate(zip(items, self.params)):
            name = f"grads[{i}]"
            if not isinstance(g, np.ndarray):
                g = as_float_array(g, name)
                if np.any(np.abs(g) > np.finfo(p.dtype).max):
                    raise ValueError(f"{name} must be finite in {p.dtype} (the dtype of params[{i}]); "
                                     "it holds values beyond its range")
                g = g.astype(p.dtype)
            if g.shape != p.shape:
                raise ValueError(f"{name} has shape {g.shape} but params[{i}] has shape "
                                 f"{p.shape}; they must match")
            if g.dtype != p.dtype:
                raise TypeError(f"{name} has dtype {g.dtype} but params[{i}] has dtype "
                                f"{p.dtype}; they must match")
            out.append(np.ascontiguousarray(g))
        return out

    def _scratch_for(self, dtype: np.dtype, workers: int, n: int) -> list[tuple[np.ndarray, ...]]:
        size = min(_chunk_elements(dtype), max(p.size for p in self.params))
        key = (np.dtype(dtype), size)
        bufs = self._scratch.setdefault(key, [])
        while len(bufs) < workers:
            bufs.append(tuple(np.empty(size, dtype) for _ in range(self._n_scratch)))
        return bufs

    def _apply(self, x: np.ndarray, g: np.ndarray, state: tuple[np.ndarray, ...], c: tuple) -> None:
        flat = (x.reshape(-1), g.reshape(-1)) + tuple(s.reshape(-1) for s in state)
        n = x.size
        chunk = _chunk_elements(x.dtype)
        n_chunks = -(-n // chunk)
        workers = max(1, min(_num_threads, n_chunks))
        scratch = self._scratch_for(x.dtype, workers, n)
        wd = self._weight_decay_for_gradient()
        maximize = self.maximize

        def work(worker: int) -> None:
            gbuf, tmp = scratch[worker]
            # errstate is per thread: a huge gradient may overflow g^2 to inf, on purpose
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                for k in range(worker, n_chunks, workers):
                    lo, hi = k * chunk, min((k + 1) * chunk, n)
                    xs, gs, *ss = (a[lo:hi] for a in flat)
                    if wd or maximize:
                        # the rule sees -g if maximizing, then + lambda x (L2 in the loss),
                        # in torch's order; the caller's g is untouched.
                        ge = gbuf[:hi - lo]
                        if wd:
                            np.multiply(xs, wd, out=ge)
                            (np.subtract if maximize else np.add)(ge, gs, out=ge)
                        else:
                            np.negative(gs, out=ge)
                        gs = ge
                    self._kernel(xs, gs, ss, tmp[:hi - lo], c)

        if workers == 1:
            work(0)
            return
        futures = [_executor(workers - 1).submit(work, w) for w in range(1, workers)]
        work(0)
        for f in futures:
            f.result()


# The kernels below update slices in place. Each is the equation of its optimizer
# rewritten as a sequence of in-place ufuncs in the order torch.optim computes it, so that
# float32 results agree with torch's to a few units in the last place; scalars (Python
# floats) are precomputed once per step in ``_coefficients`` so they keep the array's
# dtype (NEP 50). Moving averages are written beta * a + (1 - beta) * b, which cannot
# overflow for finite a and b (torch's lerp a + (1 - beta)(b - a) can).

def _blas(dtype: np.dtype) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """BLAS axpy (y <- y + a x) and scal (x <- a x) for the dtype; both update in place."""
    from scipy.linalg import blas

    return (blas.saxpy, blas.sscal) if dtype == np.float32 else (blas.daxpy, blas.dscal)


class SGD(Optimizer):
    r"""Stochastic gradient descent, with optional momentum (dampened or not) and Nesterov momentum.

    * plain: :math:`x_{t+1} = x_t - \alpha g_t`;
    * ``momentum=rho``: :math:`m_{t+1} = \rho m_t + (1 - \text{dampening})\, g_t`,
      :math:`x_{t+1} = x_t - \alpha m_{t+1}` (gradient-sum form, :func:`momentum_step`),
      ``dampening`` 0 by default. The first step sets :math:`m_1 = g_0` undampened, as
      torch does; from then on a dampened buffer tends to
      :math:`(1-\text{dampening})\, g/(1-\rho)` for a constant gradient, so
      ``dampening=rho`` makes it an exponential moving average of the gradients, the size
      of one gradient rather than :math:`1/(1-\rho)` of them;
    * ``nesterov=True``: :math:`m_{t+1} = \rho m_t + g_t`,
      :math:`x_{t+1} = x_t - \alpha (g_t + \rho m_{t+1})`, which is :func:`nesterov_step`
      with its velocity :math:`v = -\alpha m` and :math:`x` playing the look-ahead point.

    Identical to ``torch.optim.SGD(params, lr, momentum, dampening, weight_decay,
    nesterov, maximize=maximize)``; ``state[i]['v']`` is torch's ``momentum_buffer``
    :math:`m` (the key keeps its old name). Because :math:`m` is a sum of gradients,
    changing ``lr`` rescales past momentum immediately (as in torch); the velocity form
    would not.

    Chapters: *Gradient descent and its problems*; *Momentum and Nesterov*.

    Parameters
    ----------
    params : array or list of arrays (float32/float64, C-contiguous)
    lr : float >= 0
        :math:`\alpha` (default 1e-3, torch's).
    momentum : float in [0, 1]
        :math:`\rho` (default 0).
    nesterov : bool
        Requires ``momentum > 0`` and ``dampening == 0`` (as in torch).
    weight_decay : float >= 0
        :math:`\lambda`: the rule sees :math:`g_t + \lambda x_t`.
    dampening : float in [0, 1], keyword only
        Default 0.
    maximize : bool, keyword only
        Climb: the rule sees :math:`-g_t + \lambda x_t` (default False).
    """

    def __init__(self, params: Any, lr: float = 1e-3, momentum: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0, *,
                 dampening: float = 0.0, maximize: bool = False) -> None:
        self.momentum = _momentum(momentum)
        self.nesterov = as_bool(nesterov, "nesterov")
        if self.nesterov and self.momentum == 0.0:
            raise ValueError("nesterov=True needs momentum > 0 (Nesterov momentum with rho = 0 "
                             "is plain SGD)")
        self.dampening = as_scalar(dampening, "dampening", low=0.0, high=1.0)
        if self.nesterov and self.dampening != 0.0:
            raise ValueError("nesterov=True needs dampening = 0 (as in torch.optim.SGD)")
        self.weight_decay = _weight_decay(weight_decay)
        super().__init__(params, lr, maximize)
        self._fits_dtype(self.weight_decay, "weight_decay")

    def _init_state(self, p):
        return {"v": np.zeros_like(p)} if self.momentum > 0 else {}

    def _coefficients(self):
        return (self.lr,) if self.momentum == 0 else (self.lr, self.momentum)

    def _weight_decay_for_gradient(self):
        return self.weight_decay

    @property
    def _kernel(self):  # pragma: no cover - SGD overrides _apply
        raise AssertionError("SGD updates through BLAS in _apply")

    def _apply(self, x: np.ndarray, g: np.ndarray, state: tuple[np.ndarray, ...], c: tuple) -> None:
        # NumPy has no fused "x - alpha g": two ufuncs would read and write memory twice.
        # BLAS axpy does it in one pass, in place (and threads large arrays itself), which is
        # what torch's add_(g, alpha=-lr) does. Each line below is one pass over memory.
        # The effective gradient is e = sign g + lambda x, sign = -1 when maximizing.
        axpy, scal = _blas(x.dtype)
        xf, gf = x.reshape(-1), g.reshape(-1)
        lr, wd = self.lr, self.weight_decay
        sign = -1.0 if self.maximize else 1.0
        if self.momentum == 0:
            if wd:
                scal(1.0 - lr * wd, xf)           # x - alpha (sign g + lambda x), using the old x
            axpy(gf, xf, a=-lr * sign)
            return
        rho = self.momentum
        # torch starts the buffer at the first gradient, undampened
        keep = 1.0 if self.t == 1 else 1.0 - self.dampening
        vf = state[0].reshape(-1)
        scal(rho, vf)                             # m <- rho m + keep * (sign g + lambda x)
        axpy(gf, vf, a=keep * sign)
        if wd:
            axpy(xf, vf, a=keep * wd)
        if self.nesterov:                         # x <- x - alpha (sign g + lambda x + rho m)
            if wd:
                scal(1.0 - lr * wd, xf)
            axpy(gf, xf, a=-lr * sign)
            axpy(vf, xf, a=-lr * rho)
        else:                                     # x <- x - alpha m
            axpy(vf, xf, a=-lr)

    def _hyper_repr(self):
        return (f"lr={self.lr:g}, momentum={self.momentum:g}, nesterov={self.nesterov}, "
                f"weight_decay={self.weight_decay:g}, dampening={self.dampening:g}"
                + self._hyper_repr_tail())


def _adagrad_kernel(x, g, state, tmp, c) -> None:
    lr, eps = c
    (s,) = state
    np.multiply(g, g, out=tmp)          # s <- s + g^2
    np.add(s, tmp, out=s)
    np.sqrt(s, out=tmp)                 # x <- x - alpha_t g / (sqrt(s) + eps)
    np.add(tmp, eps, out=tmp)
    np.divide(g, tmp, out=tmp)
    np.multiply(tmp, lr, out=tmp)
    np.subtract(x, tmp, out=x)


class Adagrad(Optimizer):
    r"""AdaGrad: :math:`s_{t+1} = s_t + g_t^2`, :math:`x_{t+1} = x_t - \alpha_t\, g_t / (\sqrt{s_{t+1}} + \varepsilon)`.

    With ``lr_decay`` :math:`= 1/\tau` the rate of step :math:`t` (counted from 0) is
    :math:`\alpha_t = \alpha / (1 + t/\tau)`, the 1/t schedule with time constant
    :math:`\tau` steps (:func:`dlnotes.schedules.inverse_time` with ``decay`` = ``lr_decay``)
    built in; with 0 (the default) :math:`\alpha_t = \alpha`.
    ``initial_accumulator_value`` is :math:`s_0`.

    Identical to ``torch.optim.Adagrad(params, lr, lr_decay, weight_decay,
    initial_accumulator_value, eps, maximize=maximize)``; ``state[i]['s']`` is torch's
    ``sum``.

    Chapter: *Adaptive learning rates* (AdaGrad).

    Parameters
    ----------
    params : array or list of arrays (float32/float64, C-contiguous)
    lr : float >= 0
        :math:`\alpha` (default 1e-2).
    eps : float > 0
        :math:`\varepsilon`, outside the square root (default 1e-10).
    weight_decay : float >= 0
        :math:`\lambda`: the rule sees :math:`g_t + \lambda x_t`.
    initial_accumulator_value : float >= 0
        :math:`s_0` (default 0; TensorFlow/Keras use 0.1).
    lr_decay : float >= 0, keyword only
        :math:`1/\tau` (default 0).
    maximize : bool, keyword only
        Climb: the rule sees :math:`-g_t + \lambda x_t` (default False).
    """

    def __init__(self, params: Any, lr: float = 1e-2, eps: float = 1e-10,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0, *,
                 lr_decay: float = 0.0, maximize: bool = False) -> None:
        self.eps = _eps(eps)
        self.weight_decay = _weight_decay(weight_decay)
        self.initial_accumulator_value = as_scalar(initial_accumulator_value,
                                                   "initial_accumulator_value", low=0.0)
        self.lr_decay = as_scalar(lr_decay, "lr_decay", low=0.0)
        super().__init__(params, lr, maximize)
        self._eps_for_dtype(self.eps)
        self._fits_dtype(self.weight_decay, "weight_decay")
        self._fits_dtype(self.initial_accumulator_value, "initial_accumulator_value")

    def _init_state(self, p):
        return {"s": np.full_like(p, self.initial_accumulator_value)}

    def current_lr(self) -> float:
        r"""The rate :math:`\alpha_t = \alpha / (1 + t/\tau)` of the next step (after ``t`` steps)."""
        return self.lr / (1.0 + self.t * self.lr_decay) if self.lr_decay else self.lr

    def _coefficients(self):
        # step() has already counted this step: torch's clr = lr / (1 + (step - 1) lr_decay)
        clr = self.lr / (1.0 + (self.t - 1) * self.lr_decay) if self.lr_decay else self.lr
        return (clr, self.eps)

    def _weight_decay_for_gradient(self):
        return self.weight_decay

    _kernel = staticmethod(_adagrad_kernel)

    def effective_lr(self) -> list[np.ndarray]:
        r"""Per-coordinate learning rates :math:`\alpha_t / (\sqrt{s_t} + \varepsilon)` of the next step.

        Returns one array per parameter array. They never increase (for a fixed ``lr``).
        """
        with np.errstate(over="ignore", divide="ignore"):
            return [self.current_lr() / (np.sqrt(st["s"]) + self.eps) for st in self.state]

    def _hyper_repr(self):
        return (f"lr={self.lr:g}, eps={self.eps:g}, weight_decay={self.weight_decay:g}, "
                f"initial_accumulator_value={self.initial_accumulator_value:g}, "
                f"lr_decay={self.lr_decay:g}" + self._hyper_repr_tail())


def _decay(a, beta) -> None:
    """a <- beta a in place; beta = 0 forgets a entirely, even an infinite one (0 * inf is NaN)."""
    if beta:
        np.multiply(a, beta, out=a)
    else:
        a.fill(0.0)


def _rmsprop_square_avg(g, s, tmp, beta, keep) -> None:
    _decay(s, beta)                     # s <- beta s + (1 - beta) g^2
    np.multiply(g, keep, out=tmp)
    np.multiply(tmp, g, out=tmp)
    np.add(s, tmp, out=s)


def _rmsprop_denominator(s, m, g, tmp, beta, keep, eps) -> None:
    """tmp <- sqrt(s - m^2) + eps (centred; m updated first) or sqrt(s) + eps."""
    if m is None:
        np.sqrt(s, out=tmp)
    else:
        _decay(m, beta)                         # m <- beta m + (1 - beta) g
        np.multiply(g, keep, out=tmp)
        np.add(m, tmp, out=m)
        np.multiply(m, m, out=tmp)              # variance estimate s - m^2
        np.subtract(s, tmp, out=tmp)
        np.fmin(tmp, np.inf, out=tmp)           # inf - inf (both overflowed): infinite variance
        np.maximum(tmp, 0.0, out=tmp)           # rounding can leave -1e-17 for a constant gradient
        np.sqrt(tmp, out=tmp)
    np.add(tmp, eps, out=tmp)


def _rmsprop_kernel(x, g, state, tmp, c) -> None:
    lr, beta, keep, eps, rho, centered = c
    s = state[0]
    m = state[1] if centered else None
    _rmsprop_square_avg(g, s, tmp, beta, keep)
    _rmsprop_denominator(s, m, g, tmp, beta, keep, eps)
    np.divide(g, tmp, out=tmp)          # g / (sqrt(.) + eps)
    if rho:
        buf = state[-1]                 # buf <- rho buf + g / (sqrt(.) + eps); x <- x - alpha buf
        np.multiply(buf, rho, out=buf)
        np.add(buf, tmp, out=buf)
        np.multiply(buf, lr, out=tmp)
    else:
        np.multiply(tmp, lr, out=tmp)
    np.subtract(x, tmp, out=x)


class RMSprop(Optimizer):
    r"""RMSProp: :math:`s_{t+1} = \beta_2 s_t + (1-\beta_2) g_t^2`, :math:`x_{t+1} = x_t - \alpha\, g_t / (\sqrt{s_{t+1}} + \varepsilon)`.

    Two options, both from torch:

    * ``centered=True`` divides by an estimate of the gradient's standard deviation
      instead of its root mean square: with the running mean of the gradients
      :math:`m_{t+1} = \beta_2 m_t + (1-\beta_2) g_t` (a first moment, as in Adam but
      with RMSProp's rate; zero at the start),
      :math:`x_{t+1} = x_t - \alpha\, g_t / (\sqrt{s_{t+1} - m_{t+1}^2} + \varepsilon)`
      (Graves 2013). Where the gradients agree from step to step the variance is small
      and the step longer than plain RMSProp's.
    * ``momentum=rho`` adds heavy-ball momentum on the normalized gradient, in velocity
      form :math:`v_{t+1} = \rho v_t - \alpha\, g_t / (\sqrt{s_{t+1}} + \varepsilon)`
      (or the centred denominator), :math:`x_{t+1} = x_t + v_{t+1}`. Torch stores the
      buffer :math:`-v/\alpha` and multiplies it by the current ``lr``, so (as in
      :class:`SGD`) a new ``lr`` rescales past momentum at once.

    Identical to ``torch.optim.RMSprop(params, lr, alpha=beta, eps, weight_decay,
    momentum, centered, maximize=maximize)``; ``state[i]['s']``, ``['m']`` and
    ``['momentum_buffer']`` are torch's ``square_avg``, ``grad_avg`` and
    ``momentum_buffer``.

    Chapter: *Adaptive learning rates* (RMSProp).

    Parameters
    ----------
    params : array or list of arrays (float32/float64, C-contiguous)
    lr : float >= 0
        :math:`\alpha` (default 1e-2).
    beta : float in [0, 1)
        :math:`\beta_2`, torch's ``alpha`` (default 0.99).
    eps : float > 0
        :math:`\varepsilon`, outside the square root (default 1e-8). TensorFlow puts it
        inside, :math:`\sqrt{s_{t+1} + \varepsilon}`; the two differ noticeably only while
        :math:`s` is tiny.
    weight_decay : float >= 0
        :math:`\lambda`: the rule sees :math:`g_t + \lambda x_t`.
    momentum : float in [0, 1], keyword only
        :math:`\rho` (default 0).
    centered : bool, keyword only
        Default False.
    maximize : bool, keyword only
        Climb: the rule sees :math:`-g_t + \lambda x_t` (default False).
    """

    def __init__(self, params: Any, lr: float = 1e-2, beta: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, *, momentum: float = 0.0, centered: bool = False,
                 maximize: bool = False) -> None:
        self.beta = _decay_rate(beta, "beta")
        self.eps = _eps(eps)
        self.weight_decay = _weight_decay(weight_decay)
        self.momentum = _momentum(momentum)
        self.centered = as_bool(centered, "centered")
        super().__init__(params, lr, maximize)
        self._eps_for_dtype(self.eps)
        self._fits_dtype(self.weight_decay, "weight_decay")

    def _init_state(self, p):
        state = {"s": np.zeros_like(p)}
        if self.centered:
            state["m"] = np.zeros_like(p)
        if self.momentum > 0:
            state["momentum_buffer"] = np.zeros_like(p)
        return state

    def _coefficients(self):
        return (self.lr, self.beta, 1.0 - self.beta, self.eps, self.momentum, self.centered)

    def _weight_decay_for_gradient(self):
        return self.weight_decay

    _kernel = staticmethod(_rmsprop_kernel)

    def effective_lr(self) -> list[np.ndarray]:
        r"""Per-coordinate learning rates :math:`\alpha / (\sqrt{s_t} + \varepsilon)` of the next step.

        (With ``centered=True``, :math:`\alpha / (\sqrt{s_t - m_t^2} + \varepsilon)`
        for the current averages.) Unlike AdaGrad's, they can grow again when recent
        gradients are small: :math:`s` forgets old gradients at rate :math:`\beta_2`.
        Returns one array per parameter array.
        """
        out = []
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for st in self.state:
                var = st["s"] - st["m"] ** 2 if self.centered else st["s"]
                var = np.maximum(np.fmin(var, np.inf), 0.0)
                out.append(self.lr / (np.sqrt(var) + self.eps))
        return out

    def _hyper_repr(self):
        return (f"lr={self.lr:g}, beta={self.beta:g}, eps={self.eps:g}, "
                f"weight_decay={self.weight_decay:g}, momentum={self.momentum:g}, "
                f"centered={self.centered}" + self._hyper_repr_tail())


def _adam_kernel(x, g, state, tmp, c) -> None:
    beta1, keep1, beta2, keep2, c2, eps, step, amsgrad = c
    m, s = state[0], state[1]
    _decay(m, beta1)                    # m <- beta1 m + (1 - beta1) g
    np.multiply(g, keep1, out=tmp)
    np.add(m, tmp, out=m)
    _decay(s, beta2)                    # s <- beta2 s + (1 - beta2) g^2, as torch's addcmul
    np.multiply(g, keep2, out=tmp)
    np.multiply(tmp, g, out=tmp)
    np.add(s, tmp, out=s)
    if amsgrad:                         # s_max <- max(s_max, s); the denominator uses s_max
        s_max = state[2]
        np.maximum(s_max, s, out=s_max)
        s = s_max
    np.sqrt(s, out=tmp)                 # x <- x - step * m / (sqrt(s) / c2 + eps)
    if c2 != 1.0:
        np.divide(tmp, c2, out=tmp)
    np.add(tmp, eps, out=tmp)
    np.divide(m, tmp, out=tmp)
    np.multiply(tmp, step, out=tmp)
    np.subtract(x, tmp, out=x)


def _adamw_kernel(x, g, state, tmp, c) -> None:
    shrink, *adam = c
    np.multiply(x, shrink, out=x)       # x <- (1 - alpha lambda) x, before the Adam step
    _adam_kernel(x, g, state, tmp, tuple(adam))


class Adam(Optimizer):
    r"""Adam: :math:`x_{t+1} = x_t - \alpha\, \hat m_{t+1} / (\sqrt{\hat s_{t+1}} + \varepsilon)` with bias-corrected moving averages of :math:`g` and :math:`g^2`.

    .. math::

        m_{t+1} = \beta_1 m_t + (1-\beta_1) g_t,\quad
        s_{t+1} = \beta_2 s_t + (1-\beta_2) g_t^2,\quad
        \hat m_{t+1} = \frac{m_{t+1}}{1-\beta_1^{t+1}},\quad
        \hat s_{t+1} = \frac{s_{t+1}}{1-\beta_2^{t+1}}.

    ``amsgrad=True`` (Reddi et al. 2018) divides by the largest second moment seen so far,
    :math:`\hat s^{\max}_{t+1} = \max(s^{\max}_t, s_{t+1})/(1-\beta_2^{t+1})` with
    :math:`s^{\max}_0 = 0`, so a coordinate's effective rate can never grow back after a
    burst of large gradients, which repairs a known non-convergence of Adam.

    Identical to ``torch.optim.Adam(params, lr, betas, eps, weight_decay, amsgrad,
    maximize=maximize)``; ``state[i]['m']``, ``['s']`` and ``['s_max']`` are torch's
    ``exp_avg``, ``exp_avg_sq`` and ``max_exp_avg_sq``. ``bias_correction=False`` gives
    Adam without the correction (:math:`\hat m = m`, :math:`\hat s = s`), which torch does
    not offer. The code computes the step as
    :math:`\frac{\alpha}{1-\beta_1^{t+1}}\, m_{t+1} / (\sqrt{s_{t+1}}/\sqrt{1-\beta_2^{t+1}} + \varepsilon)`,
    in torch's order of operations.

    Chapter: *Adaptive learning rates* (Adam).

    Parameters
    ----------
    params : array or list of arrays (float32/float64, C-contiguous)
    lr : float >= 0
        :math:`\alpha` (default 1e-3).
    betas : (float, float), each in [0, 1)
        :math:`(\beta_1, \beta_2)` (default (0.9, 0.999)).
    eps : float > 0
        :math:`\varepsilon` (default 1e-8), added to :math:`\sqrt{\hat s_{t+1}}`.
    weight_decay : float >= 0
        :math:`\lambda`: L2 in the loss, the rule sees :math:`g_t + \lambda x_t`
        (see :class:`AdamW` for the decoupled version).
    bias_correction : bool
        Default True.
    amsgrad : bool, keyword only
        Default False.
    maximize : bool, keyword only
        Climb: the rule sees :math:`-g_t + \lambda x_t` (default False).
    """

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, bias_correction: bool = True, *,
                 amsgrad: bool = False, maximize: bool = False) -> None:
        self.betas = _betas(betas)
        self.eps = _eps(eps)
        self.weight_decay = _weight_decay(weight_decay)
        self.bias_correction = as_bool(bias_correction, "bias_correction")
        self.amsgrad = as_bool(amsgrad, "amsgrad")
        super().__init__(params, lr, maximize)
        self._eps_for_dtype(self.eps)
        self._fits_dtype(self.weight_decay, "weight_decay")

    def _init_state(self, p):
        state = {"m": np.zeros_like(p), "s": np.zeros_like(p)}
        if self.amsgrad:
            state["s_max"] = np.zeros_like(p)
        return state

    def _coefficients(self):
        beta1, beta2 = self.betas
        if self.bias_correction:
            c1, c2 = 1.0 - beta1 ** self.t, math.sqrt(1.0 - beta2 ** self.t)
        else:
            c1 = c2 = 1.0
        return (beta1, 1.0 - beta1, beta2, 1.0 - beta2, c2, self.eps, self.lr / c1, self.amsgrad)

    def _weight_decay_for_gradient(self):
        return self.weight_decay

    _kernel = staticmethod(_adam_kernel)

    def _hyper_repr(self):
        return (f"lr={self.lr:g}, betas={self.betas}, eps={self.eps:g}, "
                f"weight_decay={self.weight_decay:g}, bias_correction={self.bias_correction}, "
                f"amsgrad={self.amsgrad}" + self._hyper_repr_tail())


class AdamW(Adam):
    r"""AdamW: :math:`x_{t+1} = (1 - \alpha\lambda)\,x_t - \alpha\, \hat m_{t+1} / (\sqrt{\hat s_{t+1}} + \varepsilon)`, decoupled weight decay.

    The moments see the loss gradient only; the shrinkage is applied to the weights
    directly, so it does not pass through :math:`1/\sqrt{\hat s}`. Identical to
    ``torch.optim.AdamW(params, lr, betas, eps, weight_decay, amsgrad,
    maximize=maximize)``, including the placement of the decay: multiplied by the current
    ``lr``, before the Adam update (and not reversed by ``maximize``). Loshchilov &
    Hutter's :math:`\lambda'` (with schedule multiplier :math:`\eta_t`) is
    :math:`\alpha\lambda` here.

    Chapter: *Adaptive learning rates* (AdamW vs L2 in the loss).

    Parameters
    ----------
    params : array or list of arrays (float32/float64, C-contiguous)
    lr, betas, eps : as in :class:`Adam`
    weight_decay : float >= 0
        :math:`\lambda` (default 1e-2, as in torch).
    amsgrad, maximize : bool, keyword only
        As in :class:`Adam`.
    """

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, *, amsgrad: bool = False,
                 maximize: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, bias_correction=True,
                         amsgrad=amsgrad, maximize=maximize)

    def _coefficients(self):
        shrink = 1.0 - self.lr * self.weight_decay
        if not math.isfinite(shrink):
            raise ValueError(f"lr * weight_decay = {self.lr:g} * {self.weight_decay:g} overflows")
        return (shrink,) + super()._coefficients()

    def _weight_decay_for_gradient(self):
        return 0.0

    _kernel = staticmethod(_adamw_kernel)

    def _hyper_repr(self):
        return (f"lr={self.lr:g}, betas={self.betas}, eps={self.eps:g}, "
                f"weight_decay={self.weight_decay:g}, amsgrad={self.amsgrad}"
                + self._hyper_repr_tail())


#: Default hyperparameters of each optimizer (the same as PyTorch's; the tests check).
DEFAULTS: dict[str, dict[str, Any]] = {
    "SGD": {"lr": 1e-3, "momentum": 0.0, "nesterov": False, "weight_decay": 0.0,
            "dampening": 0.0, "maximize": False},
    "Adagrad": {"lr": 1e-2, "eps": 1e-10, "weight_decay": 0.0, "initial_accumulator_value": 0.0,
                "lr_decay": 0.0, "maximize": False},
    "RMSprop": {"lr": 1e-2, "beta": 0.99, "eps": 1e-8, "weight_decay": 0.0, "momentum": 0.0,
                "centered": False, "maximize": False},
    "Adam": {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0,
             "amsgrad": False, "maximize": False},
    "AdamW": {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 1e-2,
              "amsgrad": False, "maximize": False},
}


# ------------------------------------------------------------------------------ runner

@dataclass(frozen=True)
class Trajectory:
    """The path of one optimizer on one function, recorded by :func:`run`.

    Attributes
    ----------
    xs : array of shape (steps + 1, n)
        Iterates :math:`x_0, \\dots, x_T`; rows after a divergence are NaN.
    losses : array of shape (steps + 1,)
        :math:`f(x_t)`.
    grad_norms : array of shape (steps + 1,)
        :math:`\\lVert\\nabla f(x_t)\\rVert`.
    lrs : array of shape (steps,)
        The learning rate used at each step.
    diverged : bool
        True if an iterate or loss became infinite or NaN (the run stops there).
    """

    xs: np.ndarray
    losses: np.ndarray
    grad_norms: np.ndarray
    lrs: np.ndarray
    diverged: bool

    @property
    def final(self) -> np.ndarray:
        """The last finite iterate."""
        ok = np.flatnonzero(np.all(np.isfinite(self.xs), axis=1))
        return self.xs[ok[-1]] if ok.size else self.xs[0]


#: The longest run :func:`run` records (its arrays hold steps + 1 rows).
MAX_RUN_STEPS = 10 ** 7


def _real(value: Any, name: str) -> float:
    """A callback's scalar result as a float (inf and NaN allowed: they mean divergence)."""
    if isinstance(value, (str, bytes, bool)) or np.ndim(value) != 0:
        raise TypeError(f"{name} must return a real number, got {type(value).__name__} "
                        f"with shape {np.shape(value)}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must return a real number, got {type(value).__name__}") from None
    except OverflowError:
        return math.inf


def _gradient_like(g: Any, x: np.ndarray) -> np.ndarray:
    """grad_f(x) as a float array shaped like x (inf and NaN allowed: they mean divergence)."""
    if g is None or isinstance(g, (str, bytes)):
        raise TypeError(f"grad_f(x) must return an array shaped like x {x.shape}, got "
                        f"{type(g).__name__}")
    try:
        arr = np.asarray(g)
    except (TypeError, ValueError, OverflowError) as exc:  # ragged lists and the like
        raise TypeError(f"grad_f(x) must return a numeric array shaped like x {x.shape}; "
                        f"could not convert it ({exc})") from None
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"grad_f(x) must return a numeric array shaped like x {x.shape}, "
                        f"got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    if arr.size != x.size:
        raise ValueError(f"grad_f(x) must return an array shaped like x {x.shape}, got shape {arr.shape}")
    return arr.reshape(x.shape)


def run(make_optimizer: Callable[[list[np.ndarray]], Optimizer], f: Callable[[np.ndarray], Any],
        grad_f: Callable[[np.ndarray], Any], x0: Any, steps: int,
        schedule: Callable[[int], float] | None = None) -> Trajectory:
    r"""Run an optimizer on a function from ``x0`` and record the trajectory.

    Chapters: *Momentum and Nesterov* and *Adaptive learning rates* (trajectories, the optimizer race).

    Parameters
    ----------
    make_optimizer : callable
        Builds the optimizer from the parameter list, e.g.
        ``lambda p: optim.Adam(p, lr=0.1)`` or ``functools.partial(optim.SGD, lr=0.1)``.
    f, grad_f : callables
        The objective and its gradient, on arrays of shape (n,) (a
        :mod:`dlnotes.landscapes` function and its ``.grad`` fit).
    x0 : array of shape (n,)
    steps : int >= 0
    schedule : callable, optional
        :math:`t \mapsto \alpha_t` for :math:`t = 0, 1, \dots` (a
        :mod:`dlnotes.schedules` schedule); sets ``lr`` before each step.

    Returns
    -------
    Trajectory
    """
    for name, fn in (("make_optimizer", make_optimizer), ("f", f), ("grad_f", grad_f)):
        if not callable(fn):
            raise TypeError(f"{name} must be callable, got {type(fn).__name__}")
    if schedule is not None and not callable(schedule):
        raise TypeError(f"schedule must be callable (t -> lr) or None, got {type(schedule).__name__}")
    steps = as_int(steps, "steps", low=0, high=MAX_RUN_STEPS, what="a non-negative integer")
    x = np.array(as_float_array(x0, "x0", ndim=1), dtype=np.float64)
    opt = make_optimizer([x])
    if not isinstance(opt, Optimizer):
        raise TypeError(f"make_optimizer must return a dlnotes.optim.Optimizer, got {type(opt).__name__}")
    if len(opt.params) != 1 or opt.params[0] is not x:
        raise ValueError("make_optimizer must build the optimizer on the list it is given")
    d = x.size
    from .landscapes import Landscape

    fast = (isinstance(f, Landscape) and getattr(grad_f, "__self__", None) is f
            and grad_f.__func__ is Landscape.grad)
    if fast:
        if d != f.dim:
            raise ValueError(f"x0 must have shape ({f.dim},) for this {f.dim}-D function, got ({d},)")
        # x0 was checked above and every later x is our own iterate: skip the per-call checks
        # (they were most of the cost of a run on a 2-D test function)
        f, grad_f = f._value, f._grad
    xs = np.full((steps + 1, d), np.nan)
    losses = np.full(steps + 1, np.nan)
    gnorms = np.full(steps + 1, np.nan)
    lrs = np.full(steps, np.nan)
    diverged = False
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(steps + 1):
            # check x before evaluating f: an objective that validates its input (any
            # dlnotes function) would raise on a diverged iterate instead of recording it
            if not np.all(np.isfinite(x)):
                diverged = True
                break
            xs[t] = x
            losses[t] = _real(f(x.copy()), "f(x)") if not fast else float(f(x))
            if not np.isfinite(losses[t]):
                diverged = True
                xs[t], losses[t] = np.nan, np.nan
                break
            g = grad_f(x.copy()) if not fast else grad_f(x)
            if not fast:
                g = _gradient_like(g, x)
            gnorms[t] = float(np.linalg.norm(g))
            if t == steps:
                break
            if schedule is not None:
                try:
                    opt.lr = schedule(t)
                except (TypeError, ValueError) as exc:
                    raise type(exc)(f"schedule(t) at t = {t} is not a learning rate: {exc}") from None
            lrs[t] = opt.lr
            opt.step([np.ascontiguousarray(g, dtype=np.float64).reshape(x.shape)])
    return Trajectory(xs, losses, gnorms, lrs, diverged)


def race(optimizers: Mapping[str, Callable[[list[np.ndarray]], Optimizer]],
         f: Callable[[np.ndarray], Any], grad_f: Callable[[np.ndarray], Any], x0: Any, steps: int,
         schedule: Callable[[int], float] | None = None) -> dict[str, Trajectory]:
    """Run several optimizers from the same start: ``{name: run(make, f, grad_f, x0, steps)}``.

    Chapters: *Momentum and Nesterov* and *Adaptive learning rates* (trajectories, the optimizer race).

    Parameters
    ----------
    optimizers : mapping of name to ``make_optimizer`` (see :func:`run`)
    f, grad_f, x0, steps, schedule : as in :func:`run`

    Returns
    -------
    dict of name to :class:`Trajectory`, in the order given.
    """
    if not isinstance(optimizers, Mapping) or not optimizers:
        raise TypeError("optimizers must be a non-empty mapping of name -> make_optimizer")
    out = {}
    for name, make in optimizers.items():
        try:
            out[name] = run(make, f, grad_f, x0, steps, schedule)
        except (TypeError, ValueError) as exc:
            if "make_optimizer" not in str(exc):
                raise
            raise type(exc)(str(exc).replace("make_optimizer", f"optimizers[{name!r}]")) from None
    return out
