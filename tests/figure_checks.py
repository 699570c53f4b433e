"""Assertions shared by the figure tests of every chapter (imported by the test modules)."""

from __future__ import annotations

import io

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

PNG = b"\x89PNG\r\n\x1a\n"


def assert_axes_labelled(fig: Figure) -> None:
    """Every visible axes has an x label, and a y label unless it shares one or has no y ticks."""
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        assert ax.get_xlabel(), f"an axis without an x label: {ax.get_title()!r}"
        shared = ax.get_shared_y_axes().get_siblings(ax)
        assert any(a.get_ylabel() for a in shared) or not ax.get_yticks().size, \
            f"an axis without a y label: {ax.get_title()!r}"


def pixels(png: bytes) -> np.ndarray:
    """A PNG as an integer RGB array of shape (H, W, 3)."""
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=int)
