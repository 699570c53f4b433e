r"""Nesterov momentum rederived by a change of variables, every step checked by SymPy.

Taught in the chapter *Momentum and Nesterov* (the worked rederivation).

The look-ahead form (Sutskever et al. 2013) needs the gradient at :math:`x_t + \rho v_t`:

.. math::

    v_{t+1} = \rho v_t - \alpha\nabla f(x_t + \rho v_t), \qquad x_{t+1} = x_t + v_{t+1}.

Tracking the look-ahead point :math:`\tilde x_t = x_t + \rho v_t` instead of :math:`x_t`
gives an update that only needs the gradient at the current iterate:

.. math::

    v_{t+1} = \rho v_t - \alpha\nabla f(\tilde x_t), \qquad
    \tilde x_{t+1} = \tilde x_t - \rho v_t + (1 + \rho) v_{t+1}
                   = \tilde x_t + v_{t+1} + \rho(v_{t+1} - v_t).

:data:`DERIVATION` is that calculation as an ordered tuple of :class:`DerivationStep`:
each holds the update after the step as SymPy equations, LaTeX printed *from those
equations* (so the book shows exactly what was checked), and a sentence saying what
was done. :func:`verify_derivation` checks that every step describes the same update as
the one before it; a slip in any step (a sign, a factor, an index) makes it fail, and the
tests check that it does.

How a step is checked: each step's equations, after undoing its changes of variables
(:math:`\tilde x = x + \rho v`, :math:`m = -v/\alpha`), are solved for
:math:`(x_{t+1}, v_{t+1})` in terms of :math:`(x_t, v_t)`. Two steps are equivalent when
the solutions agree identically in :math:`x_t, v_t, \rho, \alpha` and the unknown gradient
function. The algebra only adds vectors and multiplies them by scalars, so checking it
with scalar symbols checks it coordinate by coordinate for vectors too.

:func:`compare_forms` runs both forms numerically and checks
:math:`x_t = \tilde x_t - \rho v_t` along the whole trajectory.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping

import numpy as np
import sympy as sp
from sympy.printing.latex import LatexPrinter

from ._validation import as_float_array
from .optim import _lr, _momentum, nesterov_lookahead_step, nesterov_step

__all__ = [
    "SYMBOLS", "DerivationStep", "DERIVATION", "StepCheck", "verify_step", "verify_derivation",
    "derivation_latex", "NesterovComparison", "compare_forms",
]

# ------------------------------------------------------------------------ the symbols

rho, alpha = sp.symbols("rho alpha", positive=True)
x_t, v_t, x_next, v_next = sp.symbols("x_t v_t x_{t+1} v_{t+1}")
xt_t, xt_next = sp.symbols(r"\tilde{x}_t \tilde{x}_{t+1}")
m_t, m_next = sp.symbols("m_t m_{t+1}")
#: the gradient :math:`\nabla f`, an unknown function
grad_f = sp.Function("g")

#: The symbols of the derivation, by name.
SYMBOLS: dict[str, Any] = {
    "rho": rho, "alpha": alpha, "x_t": x_t, "v_t": v_t, "x_next": x_next, "v_next": v_next,
    "x_tilde_t": xt_t, "x_tilde_next": xt_next, "m_t": m_t, "m_next": m_next, "grad_f": grad_f,
}

# the changes of variables used along the way, written in the base variables x, v
_TILDE = {xt_t: x_t + rho * v_t, xt_next: x_next + rho * v_next}
_TORCH = {m_t: -v_t / alpha, m_next: -v_next / alpha}


def _add(*terms):
    # unevaluated, so the printed LaTeX keeps the order in which the book writes the terms
    return sp.Add(*terms, evaluate=False)


def _mul(*factors):
    return sp.Mul(*factors, evaluate=False)


def _eq(lhs, rhs) -> sp.Eq:
    return sp.Eq(lhs, rhs, evaluate=False)


class _Printer(LatexPrinter):
    def _print_Function(self, expr, exp=None):
        if expr.func == grad_f:
            return r"\nabla f(" + self._print(expr.args[0]) + ")"
        return super()._print_Function(expr, exp)


def _latex(expr) -> str:
    return _Printer({"order": "none"}).doprint(expr)


# ------------------------------------------------------------------------ the steps

@dataclass(frozen=True)
class DerivationStep:
    r"""One step of the rederivation: the whole update rule after this step.

    Attributes
    ----------
    title : str
        What the step does, in a few words.
    explanation : str
        One or two sentences for the book (Markdown with ``$...$`` math).
    equations : tuple of sympy.Eq
        The update (two equations: one for the velocity, one for the iterate).
    substitutions : mapping of sympy.Symbol to expression
        The changes of variables in force, each written in the base variables
        :math:`x_t, v_t, x_{t+1}, v_{t+1}` (e.g. :math:`\tilde x_t = x_t + \rho v_t`).
    """

    title: str
    explanation: str
    equations: tuple[sp.Eq, ...]
    substitutions: Mapping[sp.Symbol, sp.Expr] = field(default_factory=dict)

    @property
    def latex(self) -> str:
        r"""The equations as LaTeX, one per line of an ``aligned`` block (printed from :attr:`equations`)."""
        lines = [_latex(e.lhs) + " &= " + _latex(e.rhs) for e in self.equations]
        return r"\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}"


_g_lookahead = grad_f(_add(x_t, _mul(rho, v_t)))
_g_tilde = grad_f(xt_t)
_v_update = _eq(v_next, _add(_mul(rho, v_t), _mul(-1, alpha, _g_tilde)))

#: The rederivation, from the look-ahead form to the form PyTorch implements.
DERIVATION: tuple[DerivationStep, ...] = (
    DerivationStep(
        "Look-ahead form",
        r"Nesterov momentum as Sutskever et al. (2013) write it: the gradient is taken at "
        r"$x_t + \rho v_t$, where the momentum is about to carry the iterate.",
        (_eq(v_next, _add(_mul(rho, v_t), _mul(-1, alpha, _g_lookahead))),
         _eq(x_next, _add(x_t, v_next)))),
    DerivationStep(
        "Name the look-ahead point",
        r"Define $\tilde x_t = x_t + \rho v_t$ (and likewise at $t+1$); the gradient is "
        r"taken at $\tilde x_t$.",
        (_v_update, _eq(x_next, _add(x_t, v_next))),
        _TILDE),
    DerivationStep(
        "Eliminate x",
        r"Replace $x_t$ by $\tilde x_t - \rho v_t$ and $x_{t+1}$ by "
        r"$\tilde x_{t+1} - \rho v_{t+1}$; $x$ no longer appears.",
        (_v_update,
         _eq(_add(xt_next, _mul(-1, rho, v_next)), _add(xt_t, _mul(-1, rho, v_t), v_next))),
        _TILDE),
    DerivationStep(
        "Solve for the new look-ahead point",
        r"Move $\rho v_{t+1}$ to the right-hand side.",
        (_v_update, _eq(xt_next, _add(xt_t, _mul(-1, rho, v_t), v_next, _mul(rho, v_next)))),
        _TILDE),
    DerivationStep(
        "Collect the new velocity",
        r"The rearranged form: the only gradient needed is the one at the current "
        r"iterate $\tilde x_t$.",
        (_v_update, _eq(xt_next, _add(xt_t, _mul(-1, rho, v_t), _mul(_add(1, rho), v_next)))),
        _TILDE),
    DerivationStep(
        "Read it as a step plus a correction",
        r"The plain momentum step $v_{t+1}$ plus $\rho$ times the change of velocity.",
        (_v_update, _eq(xt_next, _add(xt_t, v_next, _mul(rho, _add(v_next, _mul(-1, v_t)))))),
        _TILDE),
    DerivationStep(
        "Use the velocity update",
        r"Since $v_{t+1} - \rho v_t = -\alpha\nabla f(\tilde x_t)$: a gradient step plus "
        r"$\rho$ times the new velocity.",
        (_v_update, _eq(xt_next, _add(xt_t, _mul(-1, alpha, _g_tilde), _mul(rho, v_next)))),
        _TILDE),
    DerivationStep(
        "PyTorch's units",
        r"With $m = -v/\alpha$ (a sum of gradients: torch's `momentum_buffer`) this is "
        r"`torch.optim.SGD(nesterov=True)`, with the look-ahead point as its parameters.",
        (_eq(m_next, _add(_mul(rho, m_t), _g_tilde)),
         _eq(xt_next, _add(xt_t, _mul(-1, alpha, _add(_g_tilde, _mul(rho, m_next)))))),
        {**_TILDE, **_TORCH}),
)


# ----------------------------------------------------------------------- verification

@dataclass(frozen=True)
class StepCheck:
    """Result of checking one step against the previous one.

    Attributes
    ----------
    index : int
        Position of the step in the derivation.
    title : str
    ok : bool
        True if the step describes the same update as the previous one.
    residuals : tuple of sympy expressions
        Differences of the solved :math:`x_{t+1}` and :math:`v_{t+1}` between the two
        steps, simplified (all zero when ``ok``).
    message : str
    """

    index: int
    title: str
    ok: bool
    residuals: tuple
    message: str


def _solve(step: DerivationStep) -> dict | str:
    """The step's update as {x_{t+1}: ..., v_{t+1}: ...} in the base variables, or a reason."""
    if not isinstance(step, DerivationStep):
        raise TypeError(f"step must be a DerivationStep, got {type(step).__name__}")
    subs = dict(step.substitutions)
    eqs = [sp.expand((e.lhs - e.rhs).doit().subs(subs).doit()) for e in step.equations]
    stray = set().union(*(e.free_symbols for e in eqs)) - {x_t, v_t, x_next, v_next, rho, alpha}
    if stray:
        return (f"the step uses {sorted(map(str, stray))} without a change of variables "
                "that defines them")
    sols = sp.solve(eqs, [x_next, v_next], dict=True)
    if len(sols) != 1 or set(sols[0]) != {x_next, v_next}:
        return (f"the equations do not determine x_{{t+1}} and v_{{t+1}} uniquely "
                f"(solutions: {sols})")
    return sols[0]


def verify_step(previous: DerivationStep, step: DerivationStep, index: int = 1) -> StepCheck:
    r"""Check with SymPy that ``step`` describes the same update as ``previous``.

    Both are solved for :math:`(x_{t+1}, v_{t+1})` as functions of :math:`(x_t, v_t)` after
    their changes of variables are undone; the step is correct when the two solutions
    are identical. Returns a :class:`StepCheck`.
    """
    ref, new = _solve(previous), _solve(step)
    if isinstance(ref, str):
        return StepCheck(index, step.title, False, (), f"previous step: {ref}")
    if isinstance(new, str):
        return StepCheck(index, step.title, False, (), new)
    residuals = tuple(sp.simplify(new[u] - ref[u]) for u in (x_next, v_next))
    ok = all(r == 0 for r in residuals)
    msg = "same update as the previous step" if ok else (
        f"differs from the previous step: x_{{t+1}} by {residuals[0]}, v_{{t+1}} by {residuals[1]}")
    return StepCheck(index, step.title, ok, residuals, msg)


def verify_derivation(steps: tuple[DerivationStep, ...] | None = None) -> tuple[StepCheck, ...]:
    """Check every step of a derivation (default :data:`DERIVATION`) against the one before it.

    The first step is the definition and is checked only for being solvable. Returns one
    :class:`StepCheck` per step; the derivation is correct when all are ``ok``.

    Chapter: *Momentum and Nesterov* (the worked rederivation).
    """
    steps = DERIVATION if steps is None else tuple(steps)
    if not steps:
        raise ValueError("steps must contain at least one DerivationStep")
    first = _solve(steps[0])
    checks = [StepCheck(0, steps[0].title, not isinstance(first, str), (),
                        first if isinstance(first, str) else "definition")]
    for i in range(1, len(steps)):
        checks.append(verify_step(steps[i - 1], steps[i], i))
    return tuple(checks)


def derivation_latex(steps: tuple[DerivationStep, ...] | None = None) -> str:
    r"""The whole derivation (default :data:`DERIVATION`) as one LaTeX ``aligned`` block, each step labelled with its title."""
    blocks = []
    for s in DERIVATION if steps is None else steps:
        lines = [_latex(e.lhs) + " &= " + _latex(e.rhs) for e in s.equations]
        blocks.append(r"&\text{" + s.title + r"}\\ " + r" \\ ".join(lines))
    return r"\begin{aligned}" + r" \\[4pt] ".join(blocks) + r"\end{aligned}"


def _corrupt(step: DerivationStep, equation: int, new_rhs) -> DerivationStep:
    """A copy of ``step`` with one equation's right-hand side replaced (for tests and exercises)."""
    eqs = list(step.equations)
    eqs[equation] = _eq(eqs[equation].lhs, new_rhs)
    return replace(step, equations=tuple(eqs))


# --------------------------------------------------------------- numerical comparison

@dataclass(frozen=True)
class NesterovComparison:
    r"""Both forms of Nesterov momentum run from the same start (:func:`compare_forms`).

    Attributes
    ----------
    x_lookahead : array of shape (steps + 1, D)
        :math:`x_t` from the look-ahead form.
    x_tilde : array of shape (steps + 1, D)
        :math:`\tilde x_t` from the rearranged form.
    v : array of shape (steps + 1, D)
        :math:`v_t` from the rearranged form.
    x_from_tilde : array of shape (steps + 1, D)
        :math:`\tilde x_t - \rho v_t`, which must equal ``x_lookahead``.
    max_abs_difference : float
        :math:`\max_t \lVert x_t - (\tilde x_t - \rho v_t)\rVert_\infty`.
    """

    x_lookahead: np.ndarray
    x_tilde: np.ndarray
    v: np.ndarray
    x_from_tilde: np.ndarray
    max_abs_difference: float


def compare_forms(grad: Callable[[np.ndarray], Any], x0: Any, lr: float, momentum: float,
                  steps: int) -> NesterovComparison:
    r"""Run the look-ahead and the rearranged form from :math:`x_0`, :math:`v_0 = 0` and compare.

    The look-ahead form uses :func:`dlnotes.optim.nesterov_lookahead_step`, the rearranged
    one :func:`dlnotes.optim.nesterov_step` from :math:`\tilde x_0 = x_0 + \rho v_0 = x_0`.

    Chapter: *Momentum and Nesterov* (the worked rederivation).

    Parameters
    ----------
    grad : callable
        :math:`\nabla f` on arrays of shape (D,).
    x0 : array of shape (D,)
    lr : float >= 0
        :math:`\alpha`.
    momentum : float in [0, 1]
        :math:`\rho`.
    steps : int >= 0

    Returns
    -------
    NesterovComparison
    """
    if not callable(grad):
        raise TypeError(f"grad must be callable, got {type(grad).__name__}")
    x = as_float_array(x0, "x0", ndim=1).copy()
    lr, rho_ = _lr(lr), _momentum(momentum)
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    d = x.size
    xs, xts, vs = (np.empty((steps + 1, d)) for _ in range(3))
    v_a = np.zeros(d)
    xt, v_b = x.copy(), np.zeros(d)
    xs[0], xts[0], vs[0] = x, xt, v_b
    for t in range(steps):
        x, v_a = nesterov_lookahead_step(x, v_a, grad, lr, rho_)
        xt, v_b = nesterov_step(xt, v_b, grad(xt), lr, rho_)
        xs[t + 1], xts[t + 1], vs[t + 1] = x, xt, v_b
    back = xts - rho_ * vs
    return NesterovComparison(xs, xts, vs, back, float(np.max(np.abs(xs - back))))
