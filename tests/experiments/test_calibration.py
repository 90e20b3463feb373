"""Fitting the calibration: Platt scaling on validation rows, with its edge cases."""

from __future__ import annotations

import numpy as np
import pytest

from contracts.errors import UsagecastError
from experiments.calibration import fit_calibration
from experiments.metrics import expected_calibration_error


def _rows(rng: np.random.Generator, n: int, slope: float, intercept: float):
    """Raw scores whose true probability is sigmoid(slope * raw + intercept)."""
    raw = rng.normal(0.0, 1.5, n)
    labels = (rng.random(n) < 1 / (1 + np.exp(-(slope * raw + intercept)))).astype(float)
    return raw, labels


def test_platt_recovers_the_true_map_and_removes_the_calibration_error():
    rng = np.random.default_rng(3)
    raw, labels = _rows(rng, 20_000, slope=0.5, intercept=-1.0)
    calibration = fit_calibration(labels, raw)
    assert calibration.slope == pytest.approx(0.5, abs=0.05)
    assert calibration.intercept == pytest.approx(-1.0, abs=0.05)
    assert (calibration.rows, calibration.positives) == (20_000, int(labels.sum()))
    held_raw, held_labels = _rows(rng, 20_000, slope=0.5, intercept=-1.0)
    before = expected_calibration_error(held_labels, 1 / (1 + np.exp(-held_raw)))
    after = expected_calibration_error(held_labels, calibration.apply(held_raw))
    assert before > 0.1 and after < 0.02


def test_a_score_ranking_worse_than_chance_gets_the_observed_rate():
    rng = np.random.default_rng(4)
    raw, labels = _rows(rng, 2_000, slope=-1.0, intercept=0.0)
    calibration = fit_calibration(labels, raw)
    assert calibration.slope == 0.0
    np.testing.assert_allclose(calibration.apply(raw), labels.mean())


def test_one_class_cannot_be_calibrated():
    with pytest.raises(UsagecastError, match="one class only"):
        fit_calibration(np.zeros(50), np.linspace(-1, 1, 50))
