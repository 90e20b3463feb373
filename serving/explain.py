"""Explanations from a fitted model's contributions (serving/families.py), reduced to top-k.

A contribution matrix has one column per feature plus a last column holding the base value
(the expected raw score); each row sums to the raw score. LightGBM's is its exact TreeSHAP
(`Booster.predict(X, pred_contrib=True)`), a linear model's weight x (term - training mean).
We keep the k largest contributions by magnitude and report the rest as one number, so
base_value + sum(top-k) + other_contribution == raw_score holds for every row.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class RowExplanation:
    """One row's explanation in raw-score (log-odds) units."""

    raw_score: float
    base_value: float
    contributions: tuple[dict[str, Any], ...]
    other_contribution: float


def _json_value(value: Any) -> Any:
    """A feature value as JSON can carry it: NaN/None become null, numpy scalars plain."""
    if value is None:
        return None
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def top_k_contributions(
    contrib: np.ndarray,
    feature_names: Sequence[str],
    raw_values: Sequence[Sequence[Any]],
    k: int,
) -> list[RowExplanation]:
    """Top-k contributions per row from a contribution matrix (rows x (features + 1)).

    `raw_values[row][j]` is the value the caller sent for feature j (a level string for a
    categorical), reported next to its contribution.
    """
    per_feature = contrib[:, :-1]
    base_values = contrib[:, -1]
    raw_scores = contrib.sum(axis=1)
    keep = min(k, per_feature.shape[1])
    # argsort on -|c| with a stable sort gives a deterministic order for ties.
    order = np.argsort(-np.abs(per_feature), axis=1, kind="stable")[:, :keep]
    explanations = []
    for row, columns in enumerate(order):
        chosen = per_feature[row, columns]
        explanations.append(
            RowExplanation(
                raw_score=float(raw_scores[row]),
                base_value=float(base_values[row]),
                contributions=tuple(
                    {
                        "feature": feature_names[j],
                        "value": _json_value(raw_values[row][j]),
                        "contribution": float(per_feature[row, j]),
                    }
                    for j in columns
                ),
                other_contribution=float(per_feature[row].sum() - chosen.sum()),
            )
        )
    return explanations
