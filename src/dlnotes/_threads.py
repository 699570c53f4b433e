"""One BLAS thread for the small matrices of the book's experiments.

On a shared machine, BLAS threads for matrices of a few hundred rows spend most of their time
waiting for each other (the experiments of the transfer and tuning chapters ran up to ten times
slower with the default thread count). :func:`one_thread` limits BLAS to one thread inside a
``with`` block; :func:`single_threaded` does the same for a whole function.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any, Callable


def one_thread():
    """A context manager that limits BLAS (OpenBLAS, MKL) to one thread, if threadpoolctl is installed."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return contextlib.nullcontext()
    return threadpool_limits(1)


def single_threaded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: run ``fn`` with one BLAS thread (the results are the same up to rounding)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with one_thread():
            return fn(*args, **kwargs)
    return wrapper
