"""Argument checks shared by every dlnotes module.

Each check either returns a clean NumPy array or raises a ``TypeError`` /
``ValueError`` whose message names the argument and says what was expected.
The point is that a mistake in a reader's code surfaces at the call they wrote,
not as a NaN three cells later or a traceback from deep inside NumPy.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np

REDUCTIONS = ("none", "mean", "sum")


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
        raise TypeError(f"{name} must be a numeric array; it holds Python objects "
                        "(a ragged list, or None values?)")
    if arr.dtype.kind == "b":
        raise TypeError(f"{name} must be a numeric array, got booleans")
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
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
    v = float(x)
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


def check_reduction(reduction: Any) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return reduction


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
        arr = arr.astype(np.int64)
    elif arr.dtype.kind not in "iu" or arr.dtype.kind == "b":
        raise TypeError(f"{name} must be an array of integer class indices, got dtype {arr.dtype}")
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) to match {n} samples, got shape {arr.shape}")
    bad = (arr < 0) | (arr >= k)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"{name} must be class indices in {{0, ..., {k - 1}}} (0-based, k={k}); "
                         f"got {int(arr[i])} at position {i}")
    return arr.astype(np.int64, copy=False)


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
