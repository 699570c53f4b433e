"""Data sets shipped with installed packages, standardised with training statistics only."""

import numpy as np
import pytest
from sklearn.datasets import load_diabetes

from dlnotes import datasets


def test_diabetes_split_sizes_names_and_standardisation():
    d = datasets.diabetes(val_fraction=0.3, seed=0)
    raw = load_diabetes()
    assert d.X_train.shape[0] + d.X_val.shape[0] == raw.data.shape[0]
    assert d.X_val.shape[0] == round(0.3 * raw.data.shape[0])
    assert d.feature_names == tuple(raw.feature_names)
    np.testing.assert_allclose(d.X_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(d.X_train.std(axis=0), 1, atol=1e-12)
    assert abs(d.y_train.mean()) < 1e-12 and abs(d.y_train.std() - 1) < 1e-12


def test_diabetes_rows_are_the_original_patients_rescaled():
    d = datasets.diabetes(seed=3)
    raw = load_diabetes()
    # every training target maps back to an original target by the same affine map
    ymu, ysd = np.mean(raw.target), np.std(raw.target)
    back = np.sort(np.concatenate([d.y_train, d.y_val]))
    z = np.sort((raw.target - ymu) / ysd)
    slope, intercept = np.polyfit(z, back, 1)
    np.testing.assert_allclose(slope * z + intercept, back, atol=1e-9)


def test_diabetes_split_is_deterministic_per_seed():
    a, b, c = datasets.diabetes(seed=1), datasets.diabetes(seed=1), datasets.diabetes(seed=2)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert not np.array_equal(a.X_train, c.X_train)


@pytest.mark.parametrize("frac", [0.0, 1.0, -0.1, 1.5])
def test_diabetes_rejects_a_bad_validation_fraction(frac):
    with pytest.raises(ValueError, match="val_fraction"):
        datasets.diabetes(val_fraction=frac)
