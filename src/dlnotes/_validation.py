"""Argument checks shared by every dlnotes module.

Each check either returns a clean NumPy array or raises a ``TypeError`` /
``ValueError`` whose message names the argument and says what was expected.
The point is that a mistake in a reader's code surfaces at the call they wrote,
not as a NaN three cells later or a traceback from deep inside NumPy.
"""

from __future__ import annotations

import functools
import inspect
import numbers
from typing import Any, Callable, Sequence

import numpy as np

REDUCTIONS = ("none", "mean", "sum")


def short_repr(x: Any, limit: int = 60) -> str:
    """``repr(x)`` cut to ``limit`` characters, for error messages (an array can be huge)."""
    if isinstance(x, np.ndarray):
        text = f"an array of shape {x.shape} and dtype {x.dtype}"
        return text
    try:
        text = repr(x)
    except Exception:  # pragma: no cover - a broken __repr__
        text = f"<{type(x).__name__}>"
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _too_big_int(x: Any) -> bool:
    """True for an integer that no float64 holds (2**1024 and beyond)."""
    if not isinstance(x, numbers.Integral) or isinstance(x, bool):
        return False
    try:
        float(x)
    except OverflowError:
        return True
    return False


def _first_bad_index(mask: np.ndarray) -> tuple[int, ...] | int:
    idx = tuple(int(i) for i in np.argwhere(mask)[0])
    return idx[0] if len(idx) == 1 else idx


def as_float_array(x: Any, name: str, *, ndim: int | tuple[int, ...] | None = None,
                   allow_empty: bool = False) -> np.ndarray:
    """Return ``x`` as a finite float64 array, or raise an error naming ``name``.

    ``ndim`` restricts the number of dimensions (an int or a tuple of allowed values).
    """
    if isinstance(x, (str, bytes)):
        raise TypeError(f"{name} must be a numeric array, got a {type(x).__name__}")
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} must be a numeric array; could not convert it ({exc})") from None
    if arr.dtype == object:
        flat = arr.reshape(-1)
        if flat.size and all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                             for v in flat):
            # Python integers beyond int64: fine if a float64 holds them
            if any(_too_big_int(v) for v in flat):
                raise ValueError(f"{name} must be finite; it holds an integer too large for "
                                 "float64 (above 2**1024)")
            arr = np.array([float(v) for v in flat]).reshape(arr.shape)
        else:
            raise TypeError(f"{name} must be a numeric array; it holds Python objects "
                            "(a ragged list, or None values?)")
    if arr.dtype.kind == "b":
        raise TypeError(f"{name} must be a numeric array, got booleans")
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    with np.errstate(over="ignore"):  # float128 beyond float64's range becomes inf, reported below
        arr = arr.astype(np.float64, copy=False)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"{name} must be {want}, got shape {arr.shape}")
    if arr.size == 0 and not allow_empty:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = ~np.isfinite(arr)
        kind = "NaN" if np.isnan(arr[bad]).any() else "an infinite value"
        where = "" if arr.ndim == 0 else f" at index {_first_bad_index(bad)}"
        raise ValueError(f"{name} must be finite; found {kind}{where}")
    return arr


def as_scalar(x: Any, name: str, *, low: float | None = None, high: float | None = None,
              low_open: bool = False, high_open: bool = False) -> float:
    """Return ``x`` as a finite float inside the given interval, or raise."""
    if isinstance(x, bool) or not isinstance(x, (numbers.Real, np.floating, np.integer)):
        if isinstance(x, np.ndarray) and x.ndim == 0 and x.dtype.kind in "iuf":
            x = x.item()
        else:
            raise TypeError(f"{name} must be a real number, got {type(x).__name__}")
    if _too_big_int(x):
        raise ValueError(f"{name} must be finite, got an integer too large for a float "
                         f"(about 2**{int(x).bit_length()})")
    try:
        v = float(x)
    except OverflowError:  # a Fraction or Decimal beyond float's range
        raise ValueError(f"{name} must be finite, got a number too large for a float") from None
    if not np.isfinite(v):
        raise ValueError(f"{name} must be finite, got {v}")
    if low is not None and (v < low or (low_open and v == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low:g}, got {v:g}")
    if high is not None and (v > high or (high_open and v == high)):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high:g}, got {v:g}")
    return v


def check_same_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{name_a} has shape {a.shape} but {name_b} has shape {b.shape}; "
                         "they must match")


def check_choice(value: Any, name: str, choices: Sequence[str]) -> str:
    """Return ``value`` if it is one of the strings ``choices``, else raise naming ``name``.

    Safe for any input: an array or an unhashable object gets the same clear error instead
    of NumPy's "truth value of an array is ambiguous".
    """
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {short_repr(value)}")
    return value


def check_reduction(reduction: Any) -> str:
    return check_choice(reduction, "reduction", REDUCTIONS)


def as_int(value: Any, name: str, *, low: int | None = None, high: int | None = None,
           what: str = "an integer") -> int:
    """Return ``value`` as a Python int in ``[low, high]``; booleans and floats are rejected."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {what}, got {type(value).__name__}")
    v = int(value)
    if low is not None and v < low:
        raise ValueError(f"{name} must be {what} >= {low}, got {v}")
    if high is not None and v > high:
        shown = f"2**{v.bit_length() - 1}" if v > 10 ** 12 else str(v)
        raise ValueError(f"{name} must be {what} <= {high}, got {shown}")
    return v


def as_bool(value: Any, name: str) -> bool:
    """Return ``value`` if it is True or False (Python or NumPy); "no" is not False."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {short_repr(value)}")
    return bool(value)


def check_axis(axis: Any, ndim: int, name: str = "axis") -> int:
    """Return ``axis`` as a non-negative axis of an array with ``ndim`` dimensions."""
    if axis is None:
        raise TypeError(f"{name} must be an integer (one axis), got None; like torch's dim, "
                        "it is required: normalising over all elements is rarely meant")
    a = as_int(axis, name)
    if not -ndim <= a < ndim:
        raise ValueError(f"{name} must be in [-{ndim}, {ndim - 1}] for an array with {ndim} "
                         f"dimension{'s' if ndim != 1 else ''}, got {a}")
    return a % ndim


def as_seed(seed: Any, name: str = "seed") -> int | None:
    """A seed for ``np.random.default_rng``: None or an integer >= 0."""
    if seed is None:
        return None
    return as_int(seed, name, low=0, what="None or an integer")


def as_callable(fn: Any, name: str, what: str = "a callable") -> Callable[..., Any]:
    if not callable(fn):
        raise TypeError(f"{name} must be {what}, got {type(fn).__name__}")
    return fn


def _non_finite(out: Any, allow_inf: bool) -> bool:
    """True if ``out`` (a number, array, or tuple/list/dataclass of them) holds NaN (or inf)."""
    if isinstance(out, (tuple, list)):
        return any(_non_finite(o, allow_inf) for o in out)
    if hasattr(out, "__dataclass_fields__"):
        return any(_non_finite(getattr(out, f), allow_inf) for f in out.__dataclass_fields__)
    if isinstance(out, (float, np.floating, np.ndarray)):
        arr = np.asarray(out)
        if arr.dtype.kind != "f":
            return False
        return bool(np.isnan(arr).any() if allow_inf else not np.isfinite(arr).all())
    return False


def guarded(*blame: str, allow_inf: bool = True) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: run the function with NumPy's floating-point warnings off and never return NaN.

    Every argument is checked to be finite on the way in, so a NaN on the way out can only
    come from an intermediate value that overflowed float64 (``inf - inf``, ``0 * inf``);
    the wrapper turns it into a ``ValueError`` naming the arguments in ``blame``. An
    infinite result is returned as is when ``allow_inf`` (the correctly rounded value of a
    result beyond float64's range, such as ``l2`` of residuals of 1e200, or an infinite
    value by definition, such as ``-log 0``); with ``allow_inf=False`` it is an error too.
    """
    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        names = ", ".join(blame)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with np.errstate(all="ignore"):
                out = func(*args, **kwargs)
            if _non_finite(out, allow_inf):
                raise ValueError(f"{func.__name__}: an intermediate value overflowed float64, so "
                                 f"the result is undefined; {names} are too large in absolute "
                                 "value (rescale them)")
            return out

        wrapper.__signature__ = inspect.signature(func)  # type: ignore[attr-defined]
        return wrapper

    return decorate


def as_labels(labels: Any, name: str, *, n: int, k: int) -> np.ndarray:
    """Return integer class labels of shape (n,) with values in {0, ..., k-1}."""
    if isinstance(labels, (str, bytes)):
        raise TypeError(f"{name} must be an array of integer class indices, got a string")
    arr = np.asarray(labels)
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be integer class indices; found NaN or inf")
        if not np.all(arr == np.round(arr)):
            raise TypeError(f"{name} must be integer class indices, got non-integer values "
                            f"such as {arr[arr != np.round(arr)].flat[0]!r}")
    elif arr.dtype.kind not in "iu" or arr.dtype.kind == "b":
        raise TypeError(f"{name} must be an array of integer class indices, got dtype {arr.dtype}")
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) to match {n} samples, got shape {arr.shape}")
    bad = (arr < 0) | (arr >= k)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"{name} must be class indices in {{0, ..., {k - 1}}} (0-based, k={k}); "
                         f"got {arr[i]:.0f} at position {i}")
    return arr.astype(np.int64)


def as_signed_labels(labels: Any, name: str, *, shape: tuple[int, ...]) -> np.ndarray:
    """Return binary labels in {-1, +1} with the given shape, as float64."""
    arr = as_float_array(labels, name)
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape} to match the scores, got {arr.shape}")
    bad = (arr != 1.0) & (arr != -1.0)
    if bad.any():
        raise ValueError(f"{name} must contain only -1 and +1 (binary labels); "
                         f"got {arr[bad].flat[0]:g} at index {_first_bad_index(bad)}")
    return arr


def as_probabilities(p: Any, name: str, *, atol: float = 1e-6) -> np.ndarray:
    """Return ``p`` (shape (k,) or (N, k)) if every row is a probability distribution."""
    arr = as_float_array(p, name, ndim=(1, 2))
    neg = arr < 0
    if neg.any():
        raise ValueError(f"{name} must hold probabilities >= 0; got {arr[neg].flat[0]:g} "
                         f"at index {_first_bad_index(neg)}")
    big = arr > 1.0 + atol
    if big.any():
        raise ValueError(f"{name} must hold probabilities <= 1; got {arr[big].flat[0]:g} "
                         f"at index {_first_bad_index(big)}")
    sums = arr.sum(axis=-1)
    off = np.abs(sums - 1.0) > atol
    if np.any(off):
        if arr.ndim == 1:
            raise ValueError(f"{name} must sum to 1 (a probability distribution); it sums to "
                             f"{float(sums):.6g}")
        i = int(np.argmax(off))
        raise ValueError(f"each row of {name} must sum to 1 (a probability distribution); "
                         f"row {i} sums to {sums[i]:.6g}")
    return arr


def as_param_list(params: Any, name: str) -> tuple[list[np.ndarray], bool]:
    """Accept one array, or a list/tuple of NumPy arrays (the parameters of a model).

    Returns (list of float arrays, was_single). A nested Python list such as
    ``[[1, 2], [3, 4]]`` is one 2-D array, not two parameter arrays.
    """
    if isinstance(params, (list, tuple)) and len(params) > 0 and all(
            isinstance(p, np.ndarray) for p in params):
        return [as_float_array(p, f"{name}[{i}]") for i, p in enumerate(params)], False
    return [as_float_array(params, name)], True
