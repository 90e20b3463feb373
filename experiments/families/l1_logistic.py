"""L1-penalised logistic regression as a model family: the baseline every tuned model is
compared with, fitted and served like any other family.

Scaled numerics (median-imputed, with missing indicators) and one-hot categoricals (the
training levels, rare ones grouped as the tuned model groups them: features/categories.py;
unseen or missing levels are all-zero) into scikit-learn's liblinear solver. The fitted
pipeline is exported term by term to serving's LinearModel (numpy only, JSON on disk), and
every score the run logs is the exported model's: the served model is the one measured.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import optuna
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from experiments.families.base import TrainingRows
from features.categories import group_values
from serving import LinearModel, LinearTerm, ModelMetadata, Output, encode_matrix

L1_C_GRID: tuple[float, ...] = (0.01, 0.1, 1.0)
MISSING_LEVEL = "__missing__"


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


def _numeric_terms(numeric_step: Pipeline, numeric: Sequence[str]) -> list[dict]:
    """The numeric block's terms, in the pipeline's column order: each feature's filled and
    scaled value, then the missing indicators (features that had gaps at training)."""
    imputer = numeric_step.named_steps["simpleimputer"]
    scaler = numeric_step.named_steps["standardscaler"]
    terms = [
        {"feature": name, "kind": "value", "fill": imputer.statistics_[i]}
        for i, name in enumerate(numeric)
    ]
    if imputer.indicator_ is not None:
        terms += [{"feature": numeric[i], "kind": "missing"} for i in imputer.indicator_.features_]
    if len(terms) != len(scaler.mean_):
        raise ValueError(f"{len(terms)} numeric terms for {len(scaler.mean_)} scaled columns")
    return [
        {**term, "center": center, "scale": scale}
        for term, center, scale in zip(terms, scaler.mean_, scaler.scale_, strict=True)
    ]


def _level_terms(
    categorical_step: Pipeline, categorical: Sequence[str], metadata: ModelMetadata
) -> list[dict]:
    """The categorical block's terms: one per level, matched on the level's encoded code."""
    encoder = categorical_step.named_steps["onehotencoder"]
    terms = []
    for name, levels in zip(categorical, encoder.categories_, strict=True):
        codes = metadata.level_codes[name]
        terms += [{"feature": name, "kind": "level", "code": codes[lv]} for lv in levels]
    return terms


def export_linear_model(
    pipeline: Pipeline, metadata: ModelMetadata, train_encoded: np.ndarray
) -> LinearModel:
    """The fitted pipeline as serving's LinearModel over the encoded matrix; each term's mean
    is taken on the training rows (the explanations' base)."""
    numeric = [name for _, name in metadata.numeric_positions]
    prepare = pipeline.named_steps["prepare"]
    terms: list[dict] = []
    for step_name, step, columns in prepare.transformers_:
        if step_name == "numeric":
            terms += _numeric_terms(step, numeric)
        elif step_name == "categorical":
            terms += _level_terms(step, columns, metadata)
    model = pipeline.named_steps["model"]
    weights = model.coef_[0]
    if len(weights) != len(terms):
        raise ValueError(f"{len(terms)} exported terms for {len(weights)} coefficients")
    unweighted = LinearModel(
        metadata.feature_names,
        tuple(LinearTerm(weight=0.0, **term) for term in terms),
        float(model.intercept_[0]),
    )
    means = unweighted.design(train_encoded).mean(axis=0)
    return LinearModel(
        metadata.feature_names,
        tuple(
            LinearTerm(weight=float(w), mean=float(m), **term)
            for term, w, m in zip(terms, weights, means, strict=True)
        ),
        float(model.intercept_[0]),
    )


@dataclass(frozen=True)
class L1LogisticFamily:
    """The L1 logistic regression; its one parameter is C, from `L1_C_GRID`."""

    @property
    def name(self) -> str:
        return "l1_logistic"

    @property
    def output(self) -> Output:
        return "probability"

    def search_space(self, trial: optuna.Trial, train_y: np.ndarray) -> dict[str, object]:
        return {"C": trial.suggest_categorical("C", L1_C_GRID)}

    def fit(self, rows: TrainingRows, params: Mapping[str, object], seed: int) -> LinearModel:
        metadata = rows.metadata
        numeric = [name for _, name in metadata.numeric_positions]
        pipeline = l1_logistic_pipeline(
            numeric, metadata.categorical_levels, float(params["C"]), seed
        )
        pipeline.fit(_as_model_input(rows.train, metadata.categorical_levels), rows.train_y)
        return export_linear_model(pipeline, metadata, encode_matrix(rows.train, metadata))
