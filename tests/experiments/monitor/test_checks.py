"""What alerts: the findings rule as a table, the AUC standard error by hand and the PSI
sampling noise against simulation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from experiments.monitor.checks import (
    ACQUISITION,
    AUC_DROP,
    ECE,
    PREDICTION,
    SINCE_PREVIOUS,
    VS_TRAINING,
    CutoffPerformance,
    Drift,
    FeatureDrift,
    auc_standard_error,
    column_drift,
    findings,
)
from experiments.monitor.config import Thresholds


def test_hanley_mcneil_by_hand():
    # A = 0.8, 50 positives, 50 negatives: Q1 = 2/3, Q2 = 1.28/1.8.
    q1, q2 = 0.8 / 1.2, 1.28 / 1.8
    variance = (0.16 + 49 * (q1 - 0.64) + 49 * (q2 - 0.64)) / 2500
    assert math.isclose(auc_standard_error(0.8, 50, 50), math.sqrt(variance))
    assert auc_standard_error(0.8, 500, 5000) < auc_standard_error(0.8, 50, 500)
    assert math.isnan(auc_standard_error(float("nan"), 10, 10))
    assert math.isnan(auc_standard_error(0.7, 0, 10))


@pytest.mark.parametrize(
    ("values", "size"),
    [
        (
            lambda rng, n: pd.Series(rng.choice(list("abcde"), n, p=[0.4, 0.3, 0.15, 0.1, 0.05])),
            400,
        ),
        (lambda rng, n: pd.Series(rng.gamma(2.0, 3.0, n)), 300),
    ],
)
def test_noise_is_the_mean_psi_of_samples_without_drift(values, size):
    rng = np.random.default_rng(7)
    drifts = [column_drift("x", values(rng, size), values(rng, size // 2)) for _ in range(300)]
    mean_psi = np.mean([d.psi for d in drifts])
    assert mean_psi == pytest.approx(np.mean([d.noise for d in drifts]), rel=0.2)


def _drift(feature: str, psi: float, noise: float = 0.01) -> FeatureDrift:
    return FeatureDrift(feature, "numeric", psi, noise)


def _performance(auc: float, auc_se: float, ece: float, ece_noise: float) -> CutoffPerformance:
    return CutoffPerformance("2024-08-01", 500, 100, auc, auc_se, ece, ece_noise, 2.0)


def _found(drift: Drift, performance=(), test_auc=0.8, test_se=0.01) -> set[tuple[str, str, str]]:
    return {
        (f.level, f.subject, f.measure)
        for f in findings(drift, tuple(performance), test_auc, test_se, Thresholds())
    }


def test_psi_vs_training_only_warns():
    drift = Drift(
        vs_training=(_drift("tenure_days", 8.0), _drift(PREDICTION, 0.5)),
        since_previous=(),
        acquisition=(),
    )
    assert _found(drift) == {
        ("warn", "tenure_days", VS_TRAINING),
        ("warn", PREDICTION, VS_TRAINING),
    }


def test_since_previous_alerts_above_its_floor_and_the_noise_and_spares_tenure():
    drift = Drift(
        vs_training=(),
        since_previous=(
            _drift("count_LIKE_30d", 3.0),  # emptied by a tracking bug
            _drift("count_PLAY_30d", 0.3, noise=0.15),  # above 0.25 but under 3 x noise
            _drift("active_days_30d", 0.2),  # under 0.25
            _drift("tenure_days", 2.0),  # reported only
            _drift(PREDICTION, 0.21),  # above the prediction's 0.2
        ),
        acquisition=(),
        not_alerted=("tenure_days",),
    )
    assert _found(drift) == {
        ("alert", "count_LIKE_30d", SINCE_PREVIOUS),
        ("alert", PREDICTION, SINCE_PREVIOUS),
    }


def test_acquisition_mix_alerts_above_its_floor_and_the_noise():
    drift = Drift(
        vs_training=(),
        since_previous=(),
        acquisition=(_drift("channel", 0.25), _drift("age", 0.2, noise=0.1), _drift("city", 0.05)),
    )
    assert _found(drift) == {("alert", "channel", ACQUISITION)}


@pytest.mark.parametrize(
    ("performance", "expected"),
    [
        (_performance(0.72, 0.01, 0.02, 0.05), {AUC_DROP}),  # 0.08 drop, 5.7 SE
        (_performance(0.72, 0.04, 0.02, 0.05), set()),  # 0.08 drop, under 2 SE
        (_performance(0.78, 0.001, 0.02, 0.05), set()),  # significant, under 0.05
        (_performance(0.80, 0.01, 0.15, 0.05), {ECE}),
        (_performance(0.80, 0.01, 0.15, 0.2), set()),  # what a calibrated model reaches
        (_performance(float("nan"), float("nan"), 0.05, 0.1), set()),
    ],
)
def test_performance_alerts_only_beyond_its_sampling_error(performance, expected):
    drift = Drift(vs_training=(), since_previous=(), acquisition=())
    assert {measure for *_, measure in _found(drift, [performance])} == expected
