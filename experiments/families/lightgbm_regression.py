"""LightGBM regression as a model family: the tuned model of a value label (value_within).

Objective: Tweedie (log link). A value label such as 90-day revenue is zero for most rows and
right-skewed for the rest; Tweedie with a variance power between 1 (Poisson) and 2 (gamma) is
a compound Poisson-gamma distribution with a point mass at zero, and its log link keeps every
prediction positive. The variance power is tuned (1.1 to 1.9) with the tree parameters of
experiments/search_space.py (no scale_pos_weight: there are no classes).

Selection: validation RMSE (the mean over the rolling-origin folds, like the classifiers), not
the Tweedie deviance: the deviance depends on the variance power, so trials with different
powers would not be compared on one scale; RMSE is in the label's unit. Early stopping and
pruning watch the same RMSE.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import optuna

from experiments.families.base import TrainingRows
from experiments.families.lightgbm_family import refit_booster
from experiments.objective import (
    BEST_ITERATION_ATTR,
    FOLD_ITERATIONS_ATTR,
    FOLD_SCORES_ATTR,
    VALIDATION_NAME,
    WORKER_HOST_ATTR,
    WORKER_PID_ATTR,
    FoldData,
    StudyData,
    fit_booster,
    pruning_callback,
)
from experiments.search_space import DATASET_PARAMS, EARLY_STOPPING_ROUNDS, suggest_params
from serving import LightGBMRegressionModel, Output

OBJECTIVE = "tweedie"
SELECTION_METRIC = "rmse"  # LightGBM's metric name, also the run's `val_rmse`
VARIANCE_POWER = (1.1, 1.9)


def fixed_value_params(seed: int, num_threads: int) -> dict[str, object]:
    """Parameters every trial and the refit share: objective, metric, determinism, seeds."""
    return {
        **DATASET_PARAMS,
        "objective": OBJECTIVE,
        "metric": SELECTION_METRIC,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": num_threads,
        "seed": seed,
    }


@dataclass(frozen=True)
class LightGBMRegressionFamily:
    """Tweedie LightGBM on the encoded matrix; `threads` fixes its threads."""

    threads: int = 1

    @property
    def name(self) -> str:
        return "lightgbm_regression"

    @property
    def output(self) -> Output:
        return "value"

    def search_space(self, trial: optuna.Trial, train_y: np.ndarray) -> dict[str, object]:
        return {
            **suggest_params(trial, negative_to_positive=1.0),
            "tweedie_variance_power": trial.suggest_float(
                "tweedie_variance_power", *VARIANCE_POWER
            ),
        }

    def fit(
        self, rows: TrainingRows, params: Mapping[str, object], seed: int
    ) -> LightGBMRegressionModel:
        """`params` must hold `num_boost_round` (the chosen trial's best iteration)."""
        fixed = fixed_value_params(seed, self.threads)
        return LightGBMRegressionModel(refit_booster(rows, fixed, params))

    def objective(
        self,
        data: StudyData,
        seed: int,
        *,
        checkpoint: Callable[[], None] | None = None,
    ) -> Callable[[optuna.Trial], float]:
        """Optuna's objective (minimised): mean validation RMSE over the folds; the last fold
        is fitted first and reports to the pruner, as experiments/objective.py does."""
        base = fixed_value_params(seed, self.threads)
        checkpoints = [] if checkpoint is None else [lambda env: checkpoint()]

        def fit(fold: FoldData, params: dict[str, object], pruning: list) -> lgb.Booster:
            return fit_booster(
                fold,
                params,
                callbacks=[
                    *checkpoints,
                    *pruning,
                    lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False),
                ],
            )

        def objective(trial: optuna.Trial) -> float:
            trial.set_user_attr(WORKER_PID_ATTR, os.getpid())
            trial.set_user_attr(WORKER_HOST_ATTR, socket.gethostname())
            params = {**base, **self.search_space(trial, np.empty(0))}
            final = fit(data.final, params, [pruning_callback(trial, SELECTION_METRIC)])
            boosters = [fit(fold, params, []) for fold in data.folds[:-1]] + [final]
            scores = [float(b.best_score[VALIDATION_NAME][SELECTION_METRIC]) for b in boosters]
            trial.set_user_attr(BEST_ITERATION_ATTR, int(final.best_iteration))
            trial.set_user_attr(FOLD_SCORES_ATTR, scores)
            trial.set_user_attr(FOLD_ITERATIONS_ATTR, [int(b.best_iteration) for b in boosters])
            return sum(scores) / len(scores)

        return objective
