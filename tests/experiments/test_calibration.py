"""Fitting the calibration: Platt scaling on validation rows, with its edge cases."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from contracts.errors import UsagecastError
from experiments.calibration import fit_calibration, shifted_for_refit
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


def test_a_refit_s_map_takes_out_the_move_of_its_training_log_odds():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4000, 2))
    fitted = (rng.random(4000) < 0.20).astype(float)  # the first fit's rows: rate 0.20
    later = (rng.random(2000) < 0.08).astype(float)  # the rows the refit adds: rate 0.08
    refit = np.concatenate([fitted, later])
    raw, labels = _rows(rng, 5000, 1.3, -0.4)
    calibration = fit_calibration(labels, raw)
    shifted = shifted_for_refit(calibration, fitted, refit)
    assert shifted.slope == calibration.slope and (shifted.rows, shifted.positives) == (
        calibration.rows,
        calibration.positives,
    )
    assert shifted_for_refit(calibration, fitted, fitted) == calibration
    # LightGBM starts each fit at its rows' log-odds, scale_pos_weight or not: the refit's raw
    # score moves by the change, and the shifted map gives its rows the first fit's probability.
    # (A learning rate of ~0 leaves each booster at its starting score.)
    params = {"objective": "binary", "scale_pos_weight": 2.5, "learning_rate": 1e-12}
    params = {**params, "verbose": -1, "seed": 0}
    first = lgb.train(params, lgb.Dataset(x, fitted), num_boost_round=1)
    second = lgb.train(params, lgb.Dataset(np.vstack([x, x[:2000]]), refit), num_boost_round=1)
    raw_first, raw_second = first.predict(x, raw_score=True), second.predict(x, raw_score=True)
    np.testing.assert_allclose(shifted.apply(raw_second), calibration.apply(raw_first), rtol=1e-6)
    assert not np.allclose(calibration.apply(raw_second), calibration.apply(raw_first))
