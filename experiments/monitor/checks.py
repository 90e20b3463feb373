"""Pure monitoring computations: drift per feature, performance per later cutoff, and the
findings the thresholds turn them into.

What alerts (config.py, docs/reference/monitoring.md): a break, not ageing. PSI against
the training rows months earlier moves for any population that ages or churns, so it only
warns; alerts come from comparisons of like with like (the scoring rows one cadence earlier,
the signups of the training period) and from performance decay larger than its sampling
error. Every PSI finding must also exceed a multiple of the PSI sampling noise alone gives.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from experiments.metrics import (
    calibration_noise,
    expected_calibration_error,
    top_fraction_stats,
)
from experiments.monitor.config import Thresholds
from experiments.monitor.psi import binned_shares, expected_noise, is_categorical, psi_from_shares

LIFT_FRACTION = 0.10
PREDICTION = "prediction"  # the name the prediction's PSI carries in findings and metrics
# The measures of findings, one per comparison.
VS_TRAINING = "PSI vs training"
SINCE_PREVIOUS = "PSI since previous check"
ACQUISITION = "acquisition-mix PSI"
AUC_DROP = "AUC drop"
ECE = "ECE"
SKEW = "training/serving skew (share of logged rows differing)"


@dataclass(frozen=True)
class FeatureDrift:
    """PSI of one column between a reference sample and a current one, and the PSI sampling
    noise alone gives samples of those sizes over those bins (psi.expected_noise)."""

    feature: str
    kind: Literal["numeric", "categorical"]
    psi: float
    noise: float


@dataclass(frozen=True)
class CutoffPerformance:
    """The champion on the labelled rows of one later cutoff (or month of per-user cutoffs)."""

    cutoff: str
    rows: int
    positives: int
    roc_auc: float  # NaN when the rows hold one class only
    auc_se: float  # Hanley-McNeil standard error of roc_auc
    ece: float
    ece_noise: float  # 95th percentile ECE of a perfectly calibrated model on these rows
    lift_at_10pct: float  # NaN without positives


@dataclass(frozen=True)
class Finding:
    """One value above its threshold (the larger of the configured one and the noise bound);
    `alert` findings fail the command, `warn` ones do not."""

    level: Literal["alert", "warn"]
    subject: str
    measure: str
    value: float
    threshold: float

    def message(self) -> str:
        return (
            f"{self.level.upper()}: {self.subject} {self.measure} {self.value:.4f} > "
            f"{self.threshold:g}"
        )


def column_drift(feature: str, reference: pd.Series, current: pd.Series) -> FeatureDrift:
    """PSI of one column (psi.py binning; the kind follows the reference column's dtype)."""
    expected, actual = binned_shares(reference, current)
    return FeatureDrift(
        feature,
        "categorical" if is_categorical(reference) else "numeric",
        psi_from_shares(expected, actual),
        expected_noise(expected, actual, len(reference), len(current)),
    )


def feature_drift(
    reference: pd.DataFrame, current: pd.DataFrame, features: tuple[str, ...]
) -> tuple[FeatureDrift, ...]:
    """PSI of each feature between two frames."""
    return tuple(column_drift(f, reference[f], current[f]) for f in features)


def prediction_stability(reference: np.ndarray, current: np.ndarray) -> FeatureDrift:
    """PSI of the predicted probability (numeric binning at the reference's deciles)."""
    return column_drift(
        PREDICTION, pd.Series(reference, dtype="float64"), pd.Series(current, dtype="float64")
    )


def auc_standard_error(auc: float, positives: int, negatives: int) -> float:
    """Hanley-McNeil (1982) standard error of a ROC-AUC on `positives` and `negatives` rows;
    NaN when the AUC is undefined."""
    if not math.isfinite(auc) or positives == 0 or negatives == 0:
        return float("nan")
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    variance = (
        auc * (1 - auc) + (positives - 1) * (q1 - auc**2) + (negatives - 1) * (q2 - auc**2)
    ) / (positives * negatives)
    return math.sqrt(max(variance, 0.0))


def performance_groups(cutoffs: pd.Series, per_user: bool) -> pd.Series:
    """The group of each labelled row: its cutoff's date, or its month for per-user cutoffs
    (one cutoff per user would give one row per group)."""
    times = pd.to_datetime(cutoffs)
    return times.dt.strftime("%Y-%m") if per_user else times.dt.strftime("%Y-%m-%d")


def performance_by_group(
    groups: pd.Series, labels: np.ndarray, probabilities: np.ndarray, seed: int = 0
) -> tuple[CutoffPerformance, ...]:
    """AUC with its standard error, ECE with its noise level (draws seeded by `seed`) and
    lift in the top LIFT_FRACTION of each group, oldest first."""
    labels = np.asarray(labels, dtype="float64")
    probabilities = np.asarray(probabilities, dtype="float64")
    keys = np.asarray(groups)
    result = []
    for key in sorted(set(keys)):
        y, p = labels[keys == key], probabilities[keys == key]
        auc = float("nan") if len(np.unique(y)) < 2 else float(roc_auc_score(y, p))
        positives = int(y.sum())
        result.append(
            CutoffPerformance(
                cutoff=str(key),
                rows=len(y),
                positives=positives,
                roc_auc=auc,
                auc_se=auc_standard_error(auc, positives, len(y) - positives),
                ece=expected_calibration_error(y, p),
                ece_noise=calibration_noise(p, seed),
                lift_at_10pct=top_fraction_stats(y, p, LIFT_FRACTION)[1],
            )
        )
    return tuple(result)


@dataclass(frozen=True)
class Drift:
    """The three PSI comparisons of one monitor run (docs/reference/monitoring.md)."""

    vs_training: tuple[FeatureDrift, ...]  # features, then the prediction
    since_previous: tuple[FeatureDrift, ...]  # features, then the prediction
    acquisition: tuple[FeatureDrift, ...]  # static attributes of new signups
    # Features whose PSI since the previous check is reported only (tenure: it moves with the
    # calendar and the inflow of signups, which the acquisition check watches).
    not_alerted: tuple[str, ...] = ()


def _psi_finding(
    level: Literal["alert", "warn"],
    item: FeatureDrift,
    measure: str,
    floor: float,
    multiple: float,
) -> Finding | None:
    threshold = max(floor, multiple * item.noise)
    if item.psi > threshold:
        return Finding(level, item.feature, measure, item.psi, threshold)
    return None


def findings(
    drift: Drift,
    performance: tuple[CutoffPerformance, ...],
    test_auc: float,
    test_auc_se: float,
    thresholds: Thresholds,
) -> tuple[Finding, ...]:
    """Every value above its threshold (config.py); an undefined AUC crosses nothing, and an
    undefined standard error leaves the AUC drop to its fixed threshold."""
    t = thresholds
    m = t.psi_noise_multiple
    candidates = [
        *(_psi_finding("warn", d, VS_TRAINING, t.feature_psi_warn, m) for d in drift.vs_training),
        *(
            _psi_finding(
                "alert",
                d,
                SINCE_PREVIOUS,
                t.prediction_psi_alert if d.feature == PREDICTION else t.feature_psi_alert,
                m,
            )
            for d in drift.since_previous
            if d.feature not in drift.not_alerted
        ),
        *(
            _psi_finding("alert", d, ACQUISITION, t.acquisition_psi_alert, m)
            for d in drift.acquisition
        ),
    ]
    result = [finding for finding in candidates if finding is not None]
    for row in performance:
        drop = test_auc - row.roc_auc
        se = math.sqrt(test_auc_se**2 + row.auc_se**2)
        threshold = (
            max(t.auc_drop_alert, t.auc_drop_z * se) if math.isfinite(se) else t.auc_drop_alert
        )
        if drop > threshold:  # False for NaN
            result.append(Finding("alert", f"cutoff {row.cutoff}", AUC_DROP, drop, threshold))
        ece_threshold = max(t.ece_alert, row.ece_noise)
        if row.ece > ece_threshold:
            result.append(Finding("alert", f"cutoff {row.cutoff}", ECE, row.ece, ece_threshold))
    return tuple(result)


def skew_findings(skew: pd.DataFrame, thresholds: Thresholds) -> tuple[Finding, ...]:
    """An alert per feature whose share of differing logged rows (skew.training_serving_skew's
    table) is above `skew_share_alert`; no compared row crosses nothing."""
    limit = thresholds.skew_share_alert
    return tuple(
        Finding("alert", str(row.feature), SKEW, float(row.share_differing), limit)
        for row in skew.itertuples()
        if row.share_differing > limit  # False for NaN
    )
