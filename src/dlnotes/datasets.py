"""Small real data sets used by the book, all shipped inside installed packages (no downloads).

Each loader returns standardised arrays so that the chapters can focus on the method.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Dataset", "diabetes", "digits"]


@dataclass(frozen=True)
class Dataset:
    """Features, targets and names of a data set split into training and validation parts.

    Attributes
    ----------
    X_train, X_val : arrays of shape (N_train, D), (N_val, D)
    y_train, y_val : arrays of shape (N_train,), (N_val,)
    feature_names : tuple of str
    description : str
    feature_mean, feature_std : arrays of shape (D,) or None
        The training part's statistics the features were standardised with (raw = X * std + mean),
        where the loader standardised them.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    feature_names: tuple[str, ...]
    description: str
    feature_mean: np.ndarray | None = None
    feature_std: np.ndarray | None = None


def diabetes(val_fraction: float = 0.3, seed: int = 0) -> Dataset:
    """scikit-learn's diabetes regression data (442 patients, 10 features; Efron et al. 2004).

    Features are standardised and the target (disease progression after one year) is
    centred and scaled to unit variance, all with statistics of the training part only.
    The split is random with the given seed.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
    from sklearn.datasets import load_diabetes

    raw = load_diabetes()
    X = np.asarray(raw.data, dtype=float)
    y = np.asarray(raw.target, dtype=float)
    idx = np.random.default_rng(seed).permutation(len(y))
    n_val = int(round(val_fraction * len(y)))
    val, train = idx[:n_val], idx[n_val:]
    mu, sd = X[train].mean(axis=0), X[train].std(axis=0)
    ymu, ysd = y[train].mean(), y[train].std()
    return Dataset((X[train] - mu) / sd, (y[train] - ymu) / ysd, (X[val] - mu) / sd,
                   (y[val] - ymu) / ysd, tuple(raw.feature_names),
                   "diabetes progression, 10 standardised clinical features")


def digits(val_fraction: float = 0.3, seed: int = 0) -> Dataset:
    """scikit-learn's handwritten digits (1797 images of 8x8 pixels, 10 classes; UCI optdigits).

    Each of the 64 pixels (0..16) is standardised with the training part's mean and
    standard deviation; the few pixels that are constant in the training part (always
    blank) are only centred. ``y_train`` and ``y_val`` are integer class labels 0..9. The
    split is random with the given seed. Used by the optimizer chapters to train a small
    classifier (:mod:`dlnotes.training`).
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
    from sklearn.datasets import load_digits

    raw = load_digits()
    X = np.asarray(raw.data, dtype=float)
    y = np.asarray(raw.target, dtype=np.int64)
    idx = np.random.default_rng(seed).permutation(len(y))
    n_val = int(round(val_fraction * len(y)))
    val, train = idx[:n_val], idx[n_val:]
    mu, sd = X[train].mean(axis=0), X[train].std(axis=0)
    sd[sd == 0] = 1.0  # a pixel blank in every training image carries no information
    return Dataset((X[train] - mu) / sd, y[train], (X[val] - mu) / sd, y[val],
                   tuple(raw.feature_names), "handwritten digits 0-9, 8x8 standardised pixels", mu, sd)
