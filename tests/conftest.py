"""Fixtures shared by the test modules."""

from __future__ import annotations

import sys

import pytest


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Run torch's reference computations on one thread.

    They are tiny; torch's thread pool only adds waiting, and stalls badly when other
    processes share the cores. Test modules import torch at collection time, before this
    runs, so a session that never imports torch (the browser tests) does not load it here.
    """
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="session")
def data():
    """scikit-learn's digits, split and standardised by :func:`dlnotes.datasets.digits` (seed 0)."""
    from dlnotes.datasets import digits

    return digits(seed=0)
