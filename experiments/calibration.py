"""Fitting the served model's calibration on validation rows (applied by serving/calibration.py).

The tuned booster's probabilities are not calibrated (scale_pos_weight is searched, and
early-stopped boosting over- or under-shoots), so the trainer fits Platt scaling (a logistic
regression on the raw score) on rows the booster was not trained on, and serves that.
A raw score that ranks worse than chance there gets slope 0 (every row the observed rate)
rather than a decreasing map. A model refit on more rows (`tune --refit train+validation`) has
no rows of its own left to calibrate on: it takes that fit's map, moved by `shifted_for_refit`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.special import logit
from sklearn.linear_model import LogisticRegression

from contracts.errors import UsagecastError
from serving.calibration import Calibration


def fit_calibration(labels: np.ndarray, raw_scores: np.ndarray) -> Calibration:
    """The calibration of `raw_scores` (log-odds) against 0/1 `labels` of the same rows.

    Raises UsagecastError when the rows hold one class only (nothing to calibrate against).
    """
    y = np.asarray(labels, dtype="float64")
    raw = np.asarray(raw_scores, dtype="float64").reshape(-1, 1)
    if len(y) != len(raw):
        raise ValueError(f"{len(y)} labels for {len(raw)} scores")
    positives = int(y.sum())
    if positives in (0, len(y)):
        raise UsagecastError(
            f"cannot calibrate on {len(y)} validation rows holding one class only; "
            "move the validation boundary (--validation-from) so both classes occur"
        )
    model = LogisticRegression(C=np.inf, solver="lbfgs", max_iter=1000).fit(raw, y)
    slope, intercept = float(model.coef_[0, 0]), float(model.intercept_[0])
    if slope < 0:
        rate = positives / len(y)
        slope, intercept = 0.0, float(np.log(rate / (1 - rate)))
    return Calibration(slope=slope, intercept=intercept, rows=len(y), positives=positives)


def shifted_for_refit(
    calibration: Calibration, fitted_labels: np.ndarray, refit_labels: np.ndarray
) -> Calibration:
    """`calibration`, fitted on the scores of a booster trained on `fitted_labels`, for the same
    configuration refit on `refit_labels` (0/1, both classes present).

    LightGBM boosts from its training rows' log-odds (scale_pos_weight cancels out of the
    difference), so the refit's raw score moves by the change in that log-odds; the intercept
    takes the move out, and the map keeps the level it learned on validation rows.
    """
    shift = float(logit(np.mean(refit_labels)) - logit(np.mean(fitted_labels)))
    return dataclasses.replace(
        calibration, intercept=calibration.intercept - calibration.slope * shift
    )
