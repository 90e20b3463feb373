"""Evaluation metrics for binary propensity scores: ranking, calibration and targeting.

All functions are pure: labels (0/1) and predicted probabilities in, numbers out.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    precision_recall_curve,
    roc_auc_score,
)

from experiments.business import Capacity, capacity_stats

MetricName = Literal["roc_auc", "pr_auc", "logloss"]
METRIC_NAMES: tuple[MetricName, ...] = ("roc_auc", "pr_auc", "logloss")
TOP_FRACTIONS: tuple[float, ...] = (0.01, 0.05, 0.10)
CALIBRATION_BINS = 10
NOISE_DRAWS = 200  # label sets drawn to measure the ECE a calibrated model reaches by chance


def greater_is_better(metric: MetricName) -> bool:
    """Whether the tuning metric is maximised (AUCs) or minimised (log loss)."""
    return metric != "logloss"


def score(metric: MetricName, labels: np.ndarray, probabilities: np.ndarray) -> float:
    """One tuning metric on one set of predictions."""
    if metric == "roc_auc":
        return float(roc_auc_score(labels, probabilities))
    if metric == "pr_auc":
        return float(average_precision_score(labels, probabilities))
    return float(log_loss(labels, np.clip(probabilities, 1e-15, 1 - 1e-15), labels=[0, 1]))


def expected_calibration_error(
    labels: np.ndarray, probabilities: np.ndarray, bins: int = CALIBRATION_BINS
) -> float:
    """Row-weighted mean |observed rate - mean prediction| over equal-width probability bins."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    bin_of = np.clip(np.digitize(probabilities, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        in_bin = bin_of == b
        if in_bin.any():
            gap = abs(labels[in_bin].mean() - probabilities[in_bin].mean())
            total += gap * in_bin.sum()
    return float(total / len(labels))


def calibration_noise(
    probabilities: np.ndarray, seed: int, draws: int = NOISE_DRAWS, quantile: float = 0.95
) -> float:
    """The ECE a perfectly calibrated model reaches by chance on these rows: the `quantile` of
    ECE over `draws` label sets drawn as Bernoulli(probability). On a few hundred test rows
    it is several points, so a gate on ECE alone would refuse good models on small data."""
    rng = np.random.default_rng(seed)
    values = [
        expected_calibration_error((rng.random(len(probabilities)) < probabilities), probabilities)
        for _ in range(draws)
    ]
    return float(np.quantile(values, quantile))


def top_fraction_stats(
    labels: np.ndarray, probabilities: np.ndarray, fraction: float
) -> tuple[float, float]:
    """(precision, lift) among the top `fraction` of rows by score: ceil(fraction * rows), at
    least one; ties in row order (experiments.business.capacity_stats)."""
    stats = capacity_stats(labels, probabilities, Capacity(fraction=fraction).rows(len(labels)))
    return stats.precision, stats.lift


def evaluate(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """Every reported metric: ROC-AUC, PR-AUC, log loss, Brier, ECE, precision/lift at top k%."""
    y = np.asarray(labels, dtype=float)
    p = np.asarray(probabilities, dtype=float)
    single_class = len(np.unique(y)) < 2
    result = {
        "roc_auc": float("nan") if single_class else score("roc_auc", y, p),
        "pr_auc": float("nan") if single_class else score("pr_auc", y, p),
        "logloss": score("logloss", y, p),
        "brier": float(brier_score_loss(y, p)),
        "ece": expected_calibration_error(y, p),
        "positive_rate": float(y.mean()),
        "rows": float(len(y)),
    }
    for fraction in TOP_FRACTIONS:
        precision, lift = top_fraction_stats(y, p, fraction)
        percent = round(fraction * 100)
        result[f"precision_at_{percent}pct"] = precision
        result[f"lift_at_{percent}pct"] = lift
    return result


def max_f1_threshold(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """The probability threshold with the highest F1 on these (validation) rows.

    Used as the served model's label threshold: F1 balances missed buyers against wasted
    offers without needing campaign costs we do not know.
    """
    precision, recall, thresholds = precision_recall_curve(labels, probabilities)
    f1 = np.where(
        precision[:-1] + recall[:-1] > 0,
        2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12),
        0.0,
    )
    if len(thresholds) == 0:
        return 0.5
    return float(thresholds[int(np.argmax(f1))])
