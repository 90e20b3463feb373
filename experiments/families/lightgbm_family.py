"""LightGBM binary classification as a model family: the tuned model of `usagecast tune`.

Its search space is experiments/search_space.py's; its Optuna objective (Datasets built once
per study, rolling-origin folds, pruning) is experiments/objective.py, which the tuning run
drives directly. `fit` is the refit of a chosen trial: its params plus `num_boost_round`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import optuna

from experiments.families.base import TrainingRows
from experiments.metrics import MetricName
from experiments.objective import build_study_data, fit_booster, negative_to_positive
from experiments.search_space import fixed_params, suggest_params
from serving import LightGBMModel, Output, encode_features

NUM_BOOST_ROUND = "num_boost_round"


def refit_booster(
    rows: TrainingRows, fixed: Mapping[str, object], params: Mapping[str, object]
) -> lgb.Booster:
    """A chosen trial's refit on `rows.train`: its `params` (which must hold
    `num_boost_round`, its best iteration) over a family's `fixed` ones."""
    tuned = dict(params)
    if NUM_BOOST_ROUND not in tuned:
        raise ValueError(f"a LightGBM refit needs '{NUM_BOOST_ROUND}' in params")
    rounds = int(tuned.pop(NUM_BOOST_ROUND))
    data = build_study_data(
        encode_features(rows.train, rows.metadata),
        rows.train_y,
        encode_features(rows.validation, rows.metadata),
        rows.validation_y,
        list(rows.metadata.categorical_features),
    )
    return fit_booster(data.final, {**fixed, **tuned}, num_boost_round=rounds)


@dataclass(frozen=True)
class LightGBMFamily:
    """LightGBM on the encoded matrix; `metric` and `threads` fix its evaluation and threads,
    `monotone` its monotone constraints (one sign per model column; empty: none)."""

    metric: MetricName
    threads: int = 1
    monotone: tuple[int, ...] = ()

    @property
    def name(self) -> str:
        return "lightgbm"

    @property
    def output(self) -> Output:
        return "probability"

    def search_space(self, trial: optuna.Trial, train_y: np.ndarray) -> dict[str, object]:
        return suggest_params(trial, negative_to_positive(train_y))

    def fit(self, rows: TrainingRows, params: Mapping[str, object], seed: int) -> LightGBMModel:
        """`params` must hold `num_boost_round` (the chosen trial's best iteration)."""
        fixed = fixed_params(self.metric, seed, self.threads, self.monotone)
        return LightGBMModel(refit_booster(rows, fixed, params))
