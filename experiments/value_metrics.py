"""Evaluation metrics for value (regression) predictions: error, ranking and calibration.

All functions are pure: realised values and predicted values in, numbers out.
- RMSE and MAE: the error in the label's own unit (money for an LTV label);
- normalised Gini (registry/policy.py, the value gate's measure): how well the predictions
  rank the value (1 = perfect order, 0 = random);
- calibration by decile: rows in ascending predicted order cut into ten groups of equal size
  (the first groups one row larger when the count does not divide), each group's predicted
  mean beside its realised mean; `decile_mae` is the mean absolute gap over the groups;
- `total_ratio`: predicted total / realised total, what a budget per channel relies on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from registry.policy import normalised_gini

DECILES = 10


def rmse(realised: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(predicted) - np.asarray(realised)) ** 2)))


def mae(realised: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(predicted) - np.asarray(realised))))


def decile_calibration(
    realised: np.ndarray, predicted: np.ndarray, groups: int = DECILES
) -> pd.DataFrame:
    """Per group of ascending predictions: decile (1 = lowest), rows, predicted_mean,
    realised_mean."""
    predicted = np.asarray(predicted, dtype="float64")
    realised = np.asarray(realised, dtype="float64")
    order = np.argsort(predicted, kind="stable")
    parts = [part for part in np.array_split(order, min(groups, len(order))) if len(part)]
    return pd.DataFrame(
        {
            "decile": np.arange(1, len(parts) + 1),
            "rows": [len(part) for part in parts],
            "predicted_mean": [float(predicted[part].mean()) for part in parts],
            "realised_mean": [float(realised[part].mean()) for part in parts],
        }
    )


def evaluate_value(realised: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """The value metrics a run logs (per part: `val_`/`test_` prefixed by the caller)."""
    deciles = decile_calibration(realised, predicted)
    realised_total = float(np.sum(realised))
    return {
        "rmse": rmse(realised, predicted),
        "mae": mae(realised, predicted),
        "normalised_gini": normalised_gini(realised, predicted),
        "decile_mae": float((deciles["predicted_mean"] - deciles["realised_mean"]).abs().mean()),
        "predicted_mean": float(np.mean(predicted)),
        "realised_mean": float(np.mean(realised)),
        "total_ratio": float(np.sum(predicted)) / realised_total
        if realised_total
        else float("nan"),
    }
