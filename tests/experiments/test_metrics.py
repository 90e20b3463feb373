"""Metric definitions on tiny hand-checked cases."""

from __future__ import annotations

import numpy as np
import pytest

from experiments.metrics import (
    calibration_noise,
    evaluate,
    expected_calibration_error,
    max_f1_threshold,
)


def test_lift_and_precision_at_the_top():
    labels = np.array([1, 0, 0, 0, 0, 0, 0, 0, 0, 1] * 10)
    scores = np.linspace(1, 0, 100)  # row 0 first, row 1 second, ...
    result = evaluate(labels, scores)
    assert result["precision_at_1pct"] == 1.0  # the top row is a positive
    assert result["lift_at_1pct"] == pytest.approx(1.0 / 0.2)
    assert result["precision_at_10pct"] == pytest.approx(0.2)
    assert result["lift_at_10pct"] == pytest.approx(1.0)


def test_calibration_error_is_zero_when_rates_match_and_large_when_not():
    labels = np.array([1, 0, 0, 0] * 25)
    assert expected_calibration_error(labels, np.full(100, 0.25)) == pytest.approx(0.0)
    assert expected_calibration_error(labels, np.full(100, 0.95)) == pytest.approx(0.70)


@pytest.mark.slow
def test_calibration_noise_shrinks_with_rows_and_follows_its_seed():
    rng = np.random.default_rng(0)
    small, large = rng.uniform(0.05, 0.6, 100), rng.uniform(0.05, 0.6, 10_000)
    assert calibration_noise(small, seed=1) == calibration_noise(small, seed=1)
    assert calibration_noise(small, seed=1) > 3 * calibration_noise(large, seed=1)
    # A calibrated model's own ECE on 100 rows is below its 95th percentile most of the time.
    below = [
        expected_calibration_error(rng.random(100) < small, small) <= calibration_noise(small, 2)
        for _ in range(200)
    ]
    assert 0.88 <= np.mean(below) <= 0.99


def test_auc_is_nan_with_one_class_instead_of_an_exception():
    assert np.isnan(evaluate(np.zeros(5), np.linspace(0, 1, 5))["roc_auc"])


def test_max_f1_threshold_separates_a_separable_set():
    labels = np.array([0, 0, 0, 1, 1])
    scores = np.array([0.1, 0.2, 0.3, 0.8, 0.9])
    assert max_f1_threshold(labels, scores) == pytest.approx(0.8)
