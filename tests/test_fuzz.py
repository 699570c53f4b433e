"""Property-based fuzzing of every public callable of losses, regularization, optim, schedules
and gradcheck (issue 7, B8).

The callables are found by discovery (each module's ``__all__``), so a new function is
fuzzed as soon as it is exported; a parameter name this file has no strategy for fails the
coverage test with a message saying what to add. Every call gets arguments that are mostly
valid (shapes agree, labels are in range) so that the computations run, at a moderate or an
extreme scale (values up to 1.7e308 and down to 5e-324), and sometimes a deliberately bad
argument (NaN, a wrong shape or type, an integer beyond float64, an array where a string
belongs, ...). For every call:

* the only exceptions are ``ValueError`` and ``TypeError``, and their message names one of
  the callable's arguments;
* no warning escapes (NumPy's floating-point warnings included), except the documented
  :class:`dlnotes.regularization.ConvergenceWarning`;
* finite input gives no NaN; at the moderate scale no infinity either (except the infinite
  values by definition: the logarithm of a zero probability), and the stable functions
  (softmax, the bounded gradients, the adaptive optimizers' steps) stay finite at any scale;
* input holding NaN is refused;
* no call runs longer than a few seconds (a timer interrupts it and the test fails).

Classes are fuzzed through their use: an optimizer is built and stepped, a schedule built
and evaluated. Deterministic for CI: ``derandomize=True``, no example database.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
import signal
import warnings
from contextlib import contextmanager
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from dlnotes import gradcheck, losses, optim, regularization, schedules

MODULES = (losses, regularization, optim, schedules, gradcheck)
# No shrinking: a failure is reported as first found (derandomized, so reproducible), and a
# failing run stays as quick as a passing one.
FUZZ = settings(max_examples=20, derandomize=True, database=None, deadline=None,
                suppress_health_check=list(HealthCheck), print_blob=False,
                phases=[Phase.explicit, Phase.generate])
TIMEOUT_S = 10  # per call; the slowest legitimate call takes well under a second


def _discover() -> dict[str, Any]:
    found = {}
    for mod in MODULES:
        for name in mod.__all__:
            obj = getattr(mod, name)
            if callable(obj):
                found[f"{mod.__name__.rsplit('.', 1)[-1]}.{name}"] = obj
    return found


PUBLIC = _discover()

# Callables that are records or base classes, not operations: checked to be what they claim.
RECORDS = {"regularization.DensePenalties", "optim.Trajectory", "gradcheck.GradCheck",
           "gradcheck.FiniteDifferenceStudy"}
ABSTRACT = {"optim.Optimizer"}
WARNINGS = {"regularization.ConvergenceWarning"}
OPTIMIZERS = {k for k, v in PUBLIC.items()
              if inspect.isclass(v) and issubclass(v, optim.Optimizer) and not inspect.isabstract(v)}
CLASSES = {"schedules.Schedule"}  # fuzzed by test_fuzz_schedule_class
FUNCTIONS = sorted(k for k in PUBLIC if k not in RECORDS | ABSTRACT | WARNINGS | OPTIMIZERS | CLASSES)

# May return +-inf for finite input by definition (the log of a zero probability).
INFINITE_BY_DEFINITION = {"losses.categorical_nll", "losses.categorical_nll_grad",
                          "losses.cross_entropy", "losses.kl_divergence", "losses.kl_divergence_grad"}
# Bounded, or built to be stable: finite for every finite input, at any scale.
ALWAYS_FINITE = {"losses.softmax", "losses.softmax_cross_entropy_grad", "losses.l1_grad",
                 "losses.huber_grad", "losses.log_cosh_grad", "losses.logistic_loss_grad",
                 "losses.zero_one_loss", "losses.entropy", "regularization.l1_penalty_grad",
                 "gradcheck.relative_error", "optim.adam_first_step",
                 "optim.adam_uncorrected_step_factor", "schedules.constant"}
# Return NaN rows on purpose (a trajectory after its divergence).
NAN_BY_DESIGN = {"optim.run", "optim.race"}


# ------------------------------------------------------------------------- the harness

class CallTimeout(Exception):
    """Raised by the timer: a call did not return (a hang)."""


@contextmanager
def time_limit(seconds: float):
    def handler(signum, frame):
        raise CallTimeout(f"the call did not return within {seconds} s")

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _names_an_argument(message: str, names: list[str]) -> bool:
    return any(re.search(rf"(?<![A-Za-z0-9_]){re.escape(n)}(?![A-Za-z0-9_])", message) for n in names)


def _has(out: Any, test: Callable[[np.ndarray], bool], seen: set | None = None) -> bool:
    """Does any float in ``out`` (numbers, arrays, containers, records, optimizers) pass ``test``?"""
    seen = set() if seen is None else seen
    if id(out) in seen:
        return False
    seen.add(id(out))
    if isinstance(out, (float, np.floating)):
        return bool(test(np.asarray(out)))
    if isinstance(out, np.ndarray):
        return out.dtype.kind == "f" and bool(test(out))
    if isinstance(out, dict):
        return any(_has(v, test, seen) for v in out.values())
    if isinstance(out, (list, tuple)):
        return any(_has(v, test, seen) for v in out)
    if dataclasses.is_dataclass(out) and not isinstance(out, type):
        return any(_has(getattr(out, f.name), test, seen) for f in dataclasses.fields(out))
    if isinstance(out, optim.Optimizer):
        return _has(out.params, test, seen) or _has(out.state, test, seen)
    return False


def brief(x: Any, limit: int = 300) -> str:
    with np.printoptions(threshold=8, edgeitems=2):
        text = repr(x)
    return text if len(text) <= limit else text[:limit] + "..."


def has_nan(out):
    return _has(out, lambda a: np.isnan(a).any())


def has_inf(out):
    return _has(out, lambda a: np.isinf(a).any())


class Outcome:
    def __init__(self, value=None, error=None):
        self.value, self.error = value, error


def call_checked(label: str, fn: Callable, names: list[str], *args, **kwargs) -> Outcome:
    """Call ``fn``; fail on a hang, an escaping warning, or an exception other than a clear
    ValueError / TypeError naming one of ``names``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with time_limit(TIMEOUT_S):
                value = fn(*args, **kwargs)
        except (ValueError, TypeError) as exc:
            message = str(exc)
            assert _names_an_argument(message, names), (
                f"{label}: {type(exc).__name__} does not name an argument {names}: {message!r}")
            assert "truth value of an array" not in message and "unhashable" not in message, (
                f"{label}: NumPy/Python internals leak through: {message!r}")
            return Outcome(error=exc)
        except CallTimeout:
            pytest.fail(f"{label} hung (no return within {TIMEOUT_S} s) on {brief(args)} {brief(kwargs)}")
        except Exception as exc:  # noqa: BLE001 - the point of the test
            pytest.fail(f"{label} raised {type(exc).__name__}: {exc} (only ValueError/TypeError "
                        f"are allowed) on {brief(args)} {brief(kwargs)}")
    escaped = [w for w in caught if not issubclass(w.category, regularization.ConvergenceWarning)]
    assert not escaped, (f"{label}: a warning escaped: {escaped[0].category.__name__}: "
                         f"{escaped[0].message} on {brief(args)} {brief(kwargs)}")
    return Outcome(value=value)


# --------------------------------------------------------------------------- strategies

MODERATE = st.one_of(st.floats(-1e3, 1e3, allow_nan=False), st.sampled_from([0.0, 1.0, -1.0, 1e-300]))
EXTREME = st.one_of(st.sampled_from([1.7e308, -1.7e308, 1e308, -1e308, 1e200, -1e200, 1e155, 5e-324,
                                     -5e-324, 1e-300, 0.0]),
                    st.floats(-1e308, 1e308, allow_nan=False, allow_infinity=False), MODERATE)


class Ctx:
    """What one example draws once and every argument shares: sizes and the scale."""

    def __init__(self, data):
        self.data = data
        # one draw for everything an example shares (draws are what costs time here)
        self.extreme, self.N, self.C, self.n, two_d, self.bad_at, self.defaults = data.draw(
            st.tuples(st.booleans(), st.integers(1, 5), st.integers(2, 4), st.integers(1, 4),
                      st.booleans(), st.integers(0, 15), st.integers(0, 2 ** 24 - 1)),
            label="extreme, N, C, n, 2-D, bad argument, defaults")
        self.shape = (self.N, self.C) if two_d else (self.N,)
        self.count = 0          # arguments made so far
        self.bad = False        # a deliberately bad argument was passed
        self.nan_input = False  # an argument holds NaN

    def draw(self, strategy, label=None):
        return self.data.draw(strategy, label=label)

    def corrupt(self) -> bool:
        """Pass a bad value for this argument? At most one per example, in about half of them."""
        self.count += 1
        return self.count == self.bad_at

    def use_default(self, i: int) -> bool:
        """Leave the i-th parameter at its default? (one time in four)"""
        return (self.defaults >> (2 * (i % 12))) & 3 == 0

    def elements(self):
        return EXTREME if self.extreme else MODERATE

    def array(self, shape, positive=False):
        if self.corrupt():
            return self.bad_array(shape)
        flat = self.draw(st.lists(self.elements(), min_size=int(np.prod(shape)),
                                  max_size=int(np.prod(shape))), label="array")
        a = np.array(flat, dtype=np.float64).reshape(shape)
        return np.abs(a) if positive else a

    def bad_array(self, shape):
        self.bad = True
        choice = self.draw(st.integers(0, 8), label="bad array")
        if choice == 0:
            a = np.ones(shape)
            a.flat[0] = np.nan
            self.nan_input = True
            return a
        return [np.full(shape, np.inf), np.ones(shape + (2,)), "abc", None, [1.0, None],
                [2 ** 1024] * int(np.prod(shape)), np.zeros(0), np.ones(shape, dtype=bool)][choice - 1]

    def scalar(self, lo=None, hi=None, lo_open=False, integer=False):
        if self.corrupt():
            return self.bad_scalar()
        if integer:
            top = 5 if hi is None else min(hi, 5)
            return self.draw(st.integers(lo if lo is not None else 0, top))
        lo_ = -1e3 if lo is None else lo
        hi_ = 1e3 if hi is None else hi
        if self.extreme and lo is not None and hi is None:
            hi_ = 1e308
        v = self.draw(st.one_of(st.floats(lo_, hi_, allow_nan=False, allow_infinity=False),
                                st.sampled_from([x for x in (lo_, hi_, 1.0, 0.5) if lo_ <= x <= hi_])))
        if lo_open and v == lo_:
            v = hi_ if hi_ > lo_ else lo_ + 1.0
        return v

    def bad_scalar(self):
        self.bad = True
        choice = self.draw(st.integers(0, 8), label="bad scalar")
        if choice == 0:
            self.nan_input = True
            return float("nan")
        return [float("inf"), -1.0, 2 ** 1024, -(2 ** 1100), "0.1", None, np.array([0.5, 0.5]),
                True][choice - 1]

    def integer(self, lo=0, hi=5):
        if self.corrupt():
            self.bad = True
            return self.draw(st.sampled_from([-1, 2 ** 70, 2 ** 1100, 1.5, "3", None, True, np.array([2])]))
        return self.draw(st.integers(lo, hi))

    def choice(self, options):
        if self.corrupt():
            self.bad = True
            return self.draw(st.sampled_from([np.array(list(options[:2])), [options[0]], {options[0]: 1},
                                              "not-an-option", None, 3]))
        return self.draw(st.sampled_from(list(options)))

    def flag(self):
        if self.corrupt():
            self.bad = True
            return self.draw(st.sampled_from(["no", 0, None, np.array([True])]))
        return self.draw(st.booleans())

    def labels(self):
        if self.corrupt():
            self.bad = True
            return self.draw(st.sampled_from([[self.C] * self.N, [-1] * self.N, [0.5] * self.N, "0",
                                              np.full(self.N, np.nan), [0] * (self.N + 1), [None] * self.N,
                                              np.full(self.N, 1e300)]))
        return np.array(self.draw(st.lists(st.integers(0, self.C - 1), min_size=self.N, max_size=self.N)))

    def signed_labels(self):
        if self.corrupt():
            self.bad = True
            return self.draw(st.sampled_from([[0] * self.N, [2] * self.N, "ab", [1] * (self.N + 1)]))
        return np.array(self.draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=self.N, max_size=self.N)))

    def distribution(self, shape):
        if self.corrupt():
            return self.bad_array(shape)
        w = self.draw(st.lists(st.one_of(st.floats(0, 1), st.sampled_from([0.0, 5e-324, 1e-300])),
                               min_size=int(np.prod(shape)), max_size=int(np.prod(shape))))
        a = np.array(w).reshape(shape)
        a[..., 0] += 1e-3  # no all-zero row
        return a / a.sum(axis=-1, keepdims=True)


# A few callbacks: well-behaved ones, and ones that misbehave in every way a user's can.
def _quadratic(v):
    return float(np.sum(np.asarray(v, dtype=float) ** 2))


GOOD_F = [_quadratic, lambda v: float(np.sum(np.sin(v)))]
BAD_F = [lambda v: None, lambda v: np.ones(2), lambda v: float("inf"), lambda v: "a", 3.0,
         lambda v: float("nan")]
GOOD_GRAD = [lambda v: 2.0 * np.asarray(v)]
BAD_GRAD = [lambda v: None, lambda v: np.zeros(7), lambda v: np.full(np.shape(v), np.nan), "grad",
            lambda v: [None] * np.size(v)]


def _callback(ctx: Ctx, good, bad):
    if ctx.corrupt():
        ctx.bad = True
        return ctx.draw(st.sampled_from(bad))
    return ctx.draw(st.sampled_from(good))


def _schedule(ctx: Ctx):
    if ctx.corrupt():
        ctx.bad = True
        return ctx.draw(st.sampled_from([lambda t: 0.1, "cosine", None, 0.1]))
    return ctx.draw(st.sampled_from([schedules.constant(0.1), schedules.cosine(0.5, 10),
                                     schedules.step_decay(0.1, 3, 0.5),
                                     schedules.warmup(schedules.exponential(0.2, 0.9), 4)]))


def _make_optimizer(ctx: Ctx):
    if ctx.corrupt():
        ctx.bad = True
        return ctx.draw(st.sampled_from([lambda p: None, lambda p: optim.SGD([np.zeros(len(p[0]))]),
                                         "sgd"]))
    return ctx.draw(st.sampled_from([lambda p: optim.SGD(p, lr=0.05, momentum=0.9),
                                     lambda p: optim.Adam(p, lr=0.1, amsgrad=True),
                                     lambda p: optim.RMSprop(p, lr=0.01, centered=True, momentum=0.5),
                                     lambda p: optim.Adagrad(p, lr=0.5, lr_decay=0.1)]))


def _step_schedule(ctx: Ctx):
    if ctx.corrupt():
        ctx.bad = True
        return ctx.draw(st.sampled_from([lambda t: -1.0, lambda t: None, "cosine", lambda t: float("nan")]))
    return ctx.draw(st.sampled_from([None, schedules.constant(0.1), lambda t: 0.1 / (1 + t)]))


def _milestones(ctx: Ctx):
    if ctx.corrupt():
        ctx.bad = True
        return ctx.draw(st.sampled_from([[5, 3], [], [2 ** 1100], "5", [1.5], None, [0]]))
    return sorted(set(ctx.draw(st.lists(st.integers(1, 30), min_size=1, max_size=4))))


def _betas(ctx: Ctx):
    if ctx.corrupt():
        ctx.bad = True
        return ctx.draw(st.sampled_from([(1.0, 0.9), (0.9, float("nan")), 0.9, "ab", (0.9,), (0.9, 2 ** 1024)]))
    return (ctx.draw(st.floats(0, 0.999)), ctx.draw(st.floats(0, 0.9999)))


def _t_array(ctx: Ctx):
    if ctx.corrupt():
        ctx.bad = True
        return ctx.draw(st.sampled_from([0, 1.5, [0, 1], np.array([2 ** 62, -1]), "1", np.zeros(0, int), True]))
    return ctx.draw(st.one_of(st.integers(1, 10 ** 6), st.lists(st.integers(1, 5000), min_size=1, max_size=4)))


def _lr(ctx: Ctx):
    return ctx.scalar(0.0, 10.0 if not ctx.extreme else 1e3)


# Arguments by name; (callable, name) overrides where one name means different things.
def strategies_for(label: str, ctx: Ctx) -> dict[str, Callable[[], Any]]:
    N, C, n, shape = ctx.N, ctx.C, ctx.n, ctx.shape
    scores_2d = label.startswith("losses.") and label not in {
        "losses.binary_hinge", "losses.binary_hinge_grad", "losses.logistic_loss",
        "losses.logistic_loss_grad", "losses.softmax", "losses.log_softmax"}
    vec_shape = (n,) if label.startswith(("optim.", "gradcheck.")) else shape
    table = {
        # losses
        "y_pred": lambda: ctx.array(shape), "y_true": lambda: ctx.array(shape),
        "reduction": lambda: ctx.choice(("none", "mean", "sum")),
        "delta": lambda: ctx.scalar(0.0, None, lo_open=True),
        "y": lambda: ctx.array((N,)),
        "loss": lambda: ctx.choice(("l2", "l1", "huber", "log_cosh")),
        "scores": (lambda: ctx.array((N, C))) if scores_2d else (lambda: ctx.array((N,))),
        "axis": lambda: ctx.integer(-1, 0),
        "labels": ctx.labels if scores_2d else ctx.signed_labels,
        "probs": lambda: ctx.distribution((N, C)),
        "p": (lambda: ctx.integer(1, 2)) if scores_2d or "hinge" in label else (lambda: ctx.distribution((C,))),
        "q": lambda: ctx.distribution((C,)),
        "n": lambda: ctx.integer(1, 300),
        "seed": lambda: ctx.integer(0, 10 ** 6),
        "margin": lambda: ctx.scalar(0.0, None, lo_open=True),
        # regularization
        "theta": lambda: ctx.array((n,)) if ctx.draw(st.booleans()) else [ctx.array((n,)), ctx.array((2, 2))],
        "l1_ratio": lambda: ctx.scalar(0.0, 1.0),
        "kind": lambda: ctx.choice(("l1", "l2") if label == "regularization.dense_penalties"
                                   else ("l1", "l2", "elastic_net")),
        "per_sample_losses": lambda: ctx.array((N,), positive=True),
        "data_grad": None,  # shaped like theta: filled in below
        "lam": lambda: ctx.scalar(0.0, None),
        "z": lambda: ctx.array((n,)),
        "tau": lambda: ctx.scalar(0.0, None),
        "X": lambda: ctx.array((N, n)),
        "tol": lambda: ctx.scalar(1e-12, 1e-3) if label.startswith("regularization") else ctx.scalar(0.0, 1.0),
        "max_iter": lambda: ctx.integer(1, 300),
        "w0": lambda: None if ctx.draw(st.booleans()) else ctx.array((n,)),
        "lams": lambda: ctx.array((ctx.draw(st.integers(1, 3)),), positive=True),
        "W": lambda: ctx.array((n, C)),
        "b": (lambda: ctx.array((C,))) if label == "regularization.dense_penalties" else None,
        "kernel": lambda: ctx.scalar(0.0, None), "bias": lambda: ctx.scalar(0.0, None),
        "activity": lambda: ctx.scalar(0.0, None),
        "activation": lambda: ctx.choice(("identity", "tanh", "relu", "sigmoid")),
        # optim (update rules and facts)
        "x": lambda: ctx.array(vec_shape), "x_tilde": lambda: ctx.array((n,)),
        "v": lambda: ctx.array((n,)), "m": lambda: ctx.array((n,)),
        "s": lambda: ctx.array((n,), positive=True),
        "grad": lambda: ctx.array((n,)), "buffer": lambda: ctx.array((n,)),
        "lr": lambda: _lr(ctx),
        "momentum": lambda: ctx.scalar(0.0, 1.0),
        "beta": lambda: ctx.scalar(0.0, 0.999),
        "eps": lambda: ctx.scalar(1e-12, 1.0),
        "betas": lambda: _betas(ctx),
        "t": (lambda: _t_array(ctx)) if label == "optim.adam_uncorrected_step_factor" else (lambda: ctx.integer(1, 10 ** 6)),
        "bias_correction": ctx.flag,
        "weight_decay": lambda: ctx.scalar(0.0, 1.0),
        "per_sample_grads": lambda: ctx.array((N, n)),
        "batch_size": lambda: ctx.integer(1, N) if label.startswith("optim") else ctx.integer(1, 4096),
        "base_batch_size": lambda: ctx.integer(1, 4096),
        "make_optimizer": lambda: _make_optimizer(ctx),
        "optimizers": lambda: ({"a": _make_optimizer(ctx), "b": _make_optimizer(ctx)}
                               if not ctx.corrupt() else ctx.draw(st.sampled_from([{}, [1], "adam"]))),
        "f": lambda: _callback(ctx, GOOD_F, BAD_F),
        "grad_f": lambda: _callback(ctx, GOOD_GRAD, BAD_GRAD),
        "x0": lambda: ctx.array((n,)),
        "steps": lambda: ctx.integer(0, 20),
        "schedule": (lambda: _schedule(ctx)) if label == "schedules.warmup" else (lambda: _step_schedule(ctx)),
        # schedules
        "step_size": lambda: ctx.integer(1, 50), "gamma": lambda: ctx.scalar(1e-3, 1.0),
        "milestones": lambda: _milestones(ctx), "decay": lambda: ctx.scalar(0.0, None),
        "timescale": lambda: ctx.scalar(0.0, None, lo_open=True),
        "total_steps": lambda: ctx.integer(1, 10 ** 6), "min_lr": lambda: ctx.scalar(0.0, 0.05),
        "start_factor": lambda: ctx.scalar(0.0, 1.0), "end_factor": lambda: ctx.scalar(0.0, None),
        "period": lambda: ctx.integer(1, 100), "period_mult": lambda: ctx.integer(1, 3),
        "max_lr": lambda: ctx.scalar(0.05, 10.0), "step_size_up": lambda: ctx.integer(1, 40),
        "step_size_down": lambda: None if ctx.draw(st.booleans()) else ctx.integer(1, 40),
        "warmup_steps": lambda: ctx.integer(1, 40), "rule": lambda: ctx.choice(("linear", "sqrt")),
        # gradcheck
        "h": ((lambda: ctx.array((ctx.draw(st.integers(1, 4)),), positive=True))
              if label == "gradcheck.finite_difference_study" else (lambda: ctx.scalar(0.0, 1.0, lo_open=True))),
        "a": lambda: ctx.array((n,)),
        "floor": lambda: ctx.scalar(0.0, 1.0, lo_open=True),
    }
    if label == "gradcheck.relative_error":
        table["b"] = lambda: ctx.array((n,))
    if label == "losses.fit_location" or label.startswith("regularization."):
        table["y"] = lambda: ctx.array((N,))
    if label == "optim.set_num_threads":
        table["n"] = lambda: ctx.integer(1, 4)
    return table


def build_kwargs(label: str, fn: Callable, ctx: Ctx) -> dict[str, Any]:
    table = strategies_for(label, ctx)
    kwargs = {}
    for i, (name, param) in enumerate(inspect.signature(fn).parameters.items()):
        if name == "data_grad":
            continue
        make = table.get(name)
        assert make is not None, (f"no fuzzing strategy for parameter {name!r} of {label}: add one to "
                                  "strategies_for in tests/test_fuzz.py")
        if param.default is not inspect.Parameter.empty and ctx.use_default(i):
            continue
        kwargs[name] = make()
    if "data_grad" in inspect.signature(fn).parameters:
        theta = kwargs.get("theta")
        if isinstance(theta, list) and all(isinstance(a, np.ndarray) for a in theta):
            kwargs["data_grad"] = [ctx.array(a.shape) for a in theta]
        elif isinstance(theta, np.ndarray):
            kwargs["data_grad"] = ctx.array(theta.shape)
        else:
            kwargs["data_grad"] = ctx.array((ctx.n,))
    return kwargs


def _input_has_nan(kwargs) -> bool:
    def nan(v):
        if isinstance(v, float):
            return math.isnan(v)
        if isinstance(v, np.ndarray) and v.dtype.kind == "f":
            return bool(np.isnan(v).any())
        if isinstance(v, (list, tuple)):
            return any(nan(x) for x in v)
        return False
    return any(nan(v) for v in kwargs.values())


@pytest.fixture(autouse=True)
def _keep_optim_threads():
    old = optim.get_num_threads()
    yield
    optim.set_num_threads(old)


# ------------------------------------------------------------------------------ tests

class _Sizes(Ctx):
    """A Ctx that draws nothing: enough to list the strategies' names."""

    def __init__(self):
        self.N, self.C, self.n, self.shape, self.extreme = 2, 3, 2, (2,), False
        self.count, self.bad_at = 0, -1


_SIZES = _Sizes()


def test_every_public_callable_is_fuzzed():
    """Discovery found the callables, and every one has strategies for all its arguments."""
    assert len(FUNCTIONS) > 70 and len(OPTIMIZERS) == 5
    assert set(PUBLIC) == set(FUNCTIONS) | RECORDS | ABSTRACT | WARNINGS | OPTIMIZERS | CLASSES
    for label in RECORDS:
        assert dataclasses.is_dataclass(PUBLIC[label]), label
    for label in ABSTRACT:
        assert inspect.isabstract(PUBLIC[label]), label
    for label in WARNINGS:
        assert issubclass(PUBLIC[label], Warning), label
    for label in FUNCTIONS:
        fn = PUBLIC[label]
        assert not inspect.isclass(fn), f"{label} is a class this file does not know how to fuzz"
        table = strategies_for(label, _SIZES)  # names only; nothing is drawn here
        missing = [p for p in inspect.signature(fn).parameters if p not in table]
        assert not missing, f"add fuzzing strategies for {missing} of {label} to tests/test_fuzz.py"


@pytest.mark.parametrize("label", FUNCTIONS)
@FUZZ
@given(data=st.data())
def test_fuzz_function(label, data):
    fn = PUBLIC[label]
    ctx = Ctx(data)
    kwargs = build_kwargs(label, fn, ctx)
    names = list(inspect.signature(fn).parameters)
    out = call_checked(label, fn, names, **kwargs)
    nan_in = _input_has_nan(kwargs)
    if out.error is not None:
        return
    assert not nan_in, f"{label} accepted NaN input {brief(kwargs)}"
    value = out.value
    if label not in NAN_BY_DESIGN:
        assert not has_nan(value), f"{label} returned NaN for finite input {brief(kwargs)}: {brief(value)}"
    if not ctx.bad and label not in NAN_BY_DESIGN | INFINITE_BY_DEFINITION:
        if label in ALWAYS_FINITE or not ctx.extreme:
            assert not has_inf(value), f"{label} returned inf for {brief(kwargs)}: {brief(value)}"
    if isinstance(value, schedules.Schedule):
        check_schedule(label, value, ctx)


def check_schedule(label, sched, ctx):
    t = ctx.draw(st.one_of(st.integers(0, 10 ** 6), st.sampled_from([2 ** 53, 2 ** 53 + 1, -1, 2 ** 1100, 1.5])))
    got = call_checked(f"{label}(...)({t!r})", sched, ["t", "fn"], t)
    if got.error is None:
        assert isinstance(got.value, float) and math.isfinite(got.value) and got.value >= 0, (label, t, got.value)
    steps = ctx.draw(st.one_of(st.integers(0, 60), st.sampled_from([2 ** 70, -1])))
    got = call_checked(f"{label}(...).values({steps})", sched.values, ["steps", "fn"], steps)
    if got.error is None:
        assert got.value.shape == (steps,) and np.all(np.isfinite(got.value)) and np.all(got.value >= 0)


@FUZZ
@given(data=st.data())
def test_fuzz_schedule_class(data):
    ctx = Ctx(data)
    fn = ctx.draw(st.sampled_from([lambda t: 0.1, lambda t: 0.1 * 0.9 ** t, lambda t: -1.0, lambda t: None,
                                   lambda t: float("inf"), "fn", lambda t: np.ones(2)]))
    lr = _lr(ctx)
    description = ctx.draw(st.sampled_from(["a schedule", 3, None]))
    out = call_checked("schedules.Schedule", schedules.Schedule, ["fn", "lr", "description"], fn, lr, description)
    if out.error is None:
        check_schedule("schedules.Schedule", out.value, ctx)


ADAPTIVE = {"optim.Adagrad", "optim.RMSprop", "optim.Adam", "optim.AdamW"}


@pytest.mark.parametrize("label", sorted(OPTIMIZERS))
@FUZZ
@given(data=st.data())
def test_fuzz_optimizer(label, data):
    cls = PUBLIC[label]
    ctx = Ctx(data)
    dtype = ctx.draw(st.sampled_from([np.float64, np.float32]))
    table = strategies_for(label, ctx)
    table["lr"] = lambda: ctx.scalar(0.0, 1.0)  # see below: hyperparameters stay in a sensible range
    table["dampening"] = lambda: ctx.scalar(0.0, 1.0)
    table["initial_accumulator_value"] = lambda: ctx.scalar(0.0, 10.0)
    table["lr_decay"] = lambda: ctx.scalar(0.0, 10.0)
    table["nesterov"] = table["amsgrad"] = table["centered"] = table["maximize"] = ctx.flag
    shapes = [(ctx.n,), (2, ctx.C)][:ctx.draw(st.integers(1, 2))]
    limit = float(np.finfo(dtype).max) / 2

    def param_array(shape):
        a = ctx.array(shape)
        if isinstance(a, np.ndarray) and a.dtype.kind == "f" and a.shape == shape:
            with np.errstate(over="ignore"):  # an inf entry stays inf
                return np.clip(a, -limit, limit).astype(dtype)
        return a

    params = [param_array(s) for s in shapes]
    kwargs = {}
    for i, (name, param) in enumerate(inspect.signature(cls).parameters.items()):
        if name == "params" or (param.default is not inspect.Parameter.empty and ctx.use_default(i)):
            continue
        kwargs[name] = table[name]()
    names = list(inspect.signature(cls).parameters)
    built = call_checked(label, cls, names, params, **kwargs)
    if built.error is not None:
        return
    assert not _input_has_nan({"params": params, **kwargs}), f"{label} accepted NaN {brief(params)} {brief(kwargs)}"
    opt = built.value
    for _ in range(ctx.draw(st.integers(1, 3))):
        grads = [param_array(p.shape) if isinstance(p, np.ndarray) else p for p in opt.params]
        if ctx.corrupt():
            with np.errstate(over="ignore"):
                grads = ctx.draw(st.sampled_from([[np.zeros((7,))] * len(grads), "g",
                                                  [g.astype(np.float16) for g in grads]]))
        if any(isinstance(g, np.ndarray) and g.dtype.kind == "f" and np.isnan(g).any() for g in grads):
            grads = [np.nan_to_num(g) for g in grads]  # NaN gradients propagate by design (as in torch)
        stepped = call_checked(f"{label}.step", opt.step, ["grads"], grads)
        if stepped.error is not None:
            return
    assert not has_nan(opt), f"{label}: NaN after steps from finite input: {opt!r} {brief(opt.params)}"
    if not ctx.extreme or label in ADAPTIVE:
        # moderate values cannot overflow; huge gradients give the adaptive methods finite steps
        assert not has_inf(opt.params), f"{label}: inf after steps: {opt!r} {brief(opt.params)}"
    for method in ("effective_lr", "current_lr"):
        if hasattr(opt, method):
            rates = call_checked(f"{label}.{method}", getattr(opt, method), [])
            assert rates.error is None and not has_nan(rates.value)
