"""Pure monitoring computations: drift per feature, performance per later cutoff, and the
findings the thresholds turn them into."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from experiments.metrics import expected_calibration_error, top_fraction_stats
from experiments.monitor.config import Thresholds
from experiments.monitor.psi import is_categorical, population_stability

LIFT_FRACTION = 0.10
PREDICTION = "prediction"  # the name the prediction's PSI carries in findings and metrics


@dataclass(frozen=True)
class FeatureDrift:
    """PSI of one model feature between the training rows and the current rows."""

    feature: str
    kind: Literal["numeric", "categorical"]
    psi: float


@dataclass(frozen=True)
class CutoffPerformance:
    """The champion on the labelled rows of one later cutoff (or month of per-user cutoffs)."""

    cutoff: str
    rows: int
    positives: int
    roc_auc: float  # NaN when the rows hold one class only
    ece: float
    lift_at_10pct: float  # NaN without positives


@dataclass(frozen=True)
class Finding:
    """One value above its threshold; `alert` findings fail the command, `warn` ones do not."""

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


def feature_drift(
    reference: pd.DataFrame, current: pd.DataFrame, features: tuple[str, ...]
) -> tuple[FeatureDrift, ...]:
    """PSI of each feature (psi.py binning; the kind follows the reference column's dtype)."""
    return tuple(
        FeatureDrift(
            feature,
            "categorical" if is_categorical(reference[feature]) else "numeric",
            population_stability(reference[feature], current[feature]),
        )
        for feature in features
    )


def prediction_stability(training: np.ndarray, current: np.ndarray) -> float:
    """PSI of the predicted probability (numeric binning at the training rows' deciles)."""
    return population_stability(pd.Series(training, dtype="float64"), pd.Series(current))


def performance_groups(cutoffs: pd.Series, per_user: bool) -> pd.Series:
    """The group of each labelled row: its cutoff's date, or its month for per-user cutoffs
    (one cutoff per user would give one row per group)."""
    times = pd.to_datetime(cutoffs)
    return times.dt.strftime("%Y-%m") if per_user else times.dt.strftime("%Y-%m-%d")


def performance_by_group(
    groups: pd.Series, labels: np.ndarray, probabilities: np.ndarray
) -> tuple[CutoffPerformance, ...]:
    """AUC, ECE and lift in the top LIFT_FRACTION of each group, oldest first."""
    labels = np.asarray(labels, dtype="float64")
    probabilities = np.asarray(probabilities, dtype="float64")
    keys = np.asarray(groups)
    result = []
    for key in sorted(set(keys)):
        y, p = labels[keys == key], probabilities[keys == key]
        auc = float("nan") if len(np.unique(y)) < 2 else float(roc_auc_score(y, p))
        result.append(
            CutoffPerformance(
                cutoff=str(key),
                rows=len(y),
                positives=int(y.sum()),
                roc_auc=auc,
                ece=expected_calibration_error(y, p),
                lift_at_10pct=top_fraction_stats(y, p, LIFT_FRACTION)[1],
            )
        )
    return tuple(result)


def findings(
    drift: tuple[FeatureDrift, ...],
    prediction_psi: float,
    performance: tuple[CutoffPerformance, ...],
    test_auc: float,
    thresholds: Thresholds,
) -> tuple[Finding, ...]:
    """Every value above its threshold (config.py); an undefined AUC crosses nothing."""
    result = []
    for item in drift:
        if item.psi > thresholds.feature_psi_alert:
            result.append(
                Finding("alert", item.feature, "PSI", item.psi, thresholds.feature_psi_alert)
            )
        elif item.psi > thresholds.feature_psi_warn:
            result.append(
                Finding("warn", item.feature, "PSI", item.psi, thresholds.feature_psi_warn)
            )
    if prediction_psi > thresholds.prediction_psi_alert:
        result.append(
            Finding("alert", PREDICTION, "PSI", prediction_psi, thresholds.prediction_psi_alert)
        )
    for row in performance:
        drop = test_auc - row.roc_auc
        if drop > thresholds.auc_drop_alert:  # False for NaN
            result.append(
                Finding(
                    "alert", f"cutoff {row.cutoff}", "AUC drop", drop, thresholds.auc_drop_alert
                )
            )
        if row.ece > thresholds.ece_alert:
            result.append(
                Finding("alert", f"cutoff {row.cutoff}", "ECE", row.ece, thresholds.ece_alert)
            )
    return tuple(result)
