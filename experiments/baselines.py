"""Baselines every tuned model is compared with, fitted on the same split.

- majority class: predicts the training positive rate for everyone (AUC 0.5, the floor);
- L1 logistic regression on scaled numerics (median-imputed, with missing indicators) and
  one-hot categoricals (the training levels, rare ones grouped as the tuned model groups them:
  features/categories.py; unseen or missing levels are all-zero), with
  C chosen on validation: what a careful notebook would have done.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from experiments.metrics import MetricName, greater_is_better, score
from features.categories import group_values

L1_C_GRID: tuple[float, ...] = (0.01, 0.1, 1.0)
MISSING_LEVEL = "__missing__"


@dataclass(frozen=True)
class BaselineResult:
    """A fitted baseline's chosen parameters and its validation/test probabilities."""

    name: str
    params: dict[str, object]
    validation_probabilities: np.ndarray
    test_probabilities: np.ndarray


def majority_class(train_y: np.ndarray, validation_rows: int, test_rows: int) -> BaselineResult:
    """Everyone gets the training positive rate."""
    rate = float(np.mean(train_y))
    return BaselineResult(
        name="majority_class",
        params={"positive_rate": rate},
        validation_probabilities=np.full(validation_rows, rate),
        test_probabilities=np.full(test_rows, rate),
    )


def l1_logistic_pipeline(
    numeric: Sequence[str], categorical_levels: Mapping[str, Sequence[str]], c: float, seed: int
) -> Pipeline:
    """Scaled numerics + one-hot categoricals into an L1-penalised logistic regression."""
    categorical = list(categorical_levels)
    transformers: list[tuple] = []
    if numeric:
        transformers.append(
            (
                "numeric",
                make_pipeline(
                    SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                    StandardScaler(),
                ),
                list(numeric),
            )
        )
    if categorical:
        transformers.append(
            (
                "categorical",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value=MISSING_LEVEL),
                    OneHotEncoder(
                        categories=[list(categorical_levels[name]) for name in categorical],
                        handle_unknown="ignore",
                    ),
                ),
                categorical,
            )
        )
    return Pipeline(
        [
            ("prepare", ColumnTransformer(transformers)),
            (
                "model",
                LogisticRegression(
                    C=c, l1_ratio=1.0, solver="liblinear", max_iter=1000, random_state=seed
                ),
            ),
        ]
    )


def _as_model_input(
    frame: pd.DataFrame, categorical_levels: Mapping[str, Sequence[str]]
) -> pd.DataFrame:
    """Categoricals as plain object columns of str (missing stays missing), rare levels
    grouped like the tuned model's, for sklearn."""
    converted = frame.copy()
    for name, levels in categorical_levels.items():
        column = group_values(converted[name], levels)
        converted[name] = column.astype(object).where(column.notna(), np.nan)
    return converted


def l1_logistic(
    train: tuple[pd.DataFrame, np.ndarray],
    validation: tuple[pd.DataFrame, np.ndarray],
    test_x: pd.DataFrame,
    numeric: Sequence[str],
    categorical_levels: Mapping[str, Sequence[str]],
    metric: MetricName,
    seed: int,
) -> BaselineResult:
    """Fit one pipeline per C in the grid, keep the best on validation."""
    train_x, train_y = _as_model_input(train[0], categorical_levels), train[1]
    validation_x, validation_y = _as_model_input(validation[0], categorical_levels), validation[1]
    best: tuple[float, float, Pipeline] | None = None
    for c in L1_C_GRID:
        pipeline = l1_logistic_pipeline(numeric, categorical_levels, c, seed)
        pipeline.fit(train_x, train_y)
        value = score(metric, validation_y, pipeline.predict_proba(validation_x)[:, 1])
        better = best is None or (
            value > best[0] if greater_is_better(metric) else value < best[0]
        )
        if better:
            best = (value, c, pipeline)
    assert best is not None  # the grid is never empty
    _, c, pipeline = best
    return BaselineResult(
        name="l1_logistic",
        params={"C": c, "penalty": "l1", "solver": "liblinear"},
        validation_probabilities=pipeline.predict_proba(validation_x)[:, 1],
        test_probabilities=pipeline.predict_proba(_as_model_input(test_x, categorical_levels))[
            :, 1
        ],
    )
