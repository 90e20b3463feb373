"""LightGBM regression as a model family: the tuned model of a value label (value_within).

Objective: Poisson deviance with a log link (LightGBM's `poisson`, which takes any
non-negative label, money included). A value label such as 90-day revenue is zero for most
rows and right-skewed for the rest; the log link keeps every prediction positive, and with
the Poisson deviance (the log link's canonical pair) every Newton step balances the fitted
total against the realised total of the rows it fits, so a budget summed over users starts
from the right level. Tweedie objectives with a variance power above 1 weight each row's
error by prediction^(1 - power) and lose that balance: the fitted total falls below the
realised one, the more so the higher the power (docs/decisions/value-model.md).

Categorical features with at most ONE_VS_REST_LEVELS levels split one level against the rest,
bounded by the searched min_data_in_leaf and lambda_l2 like any split: LightGBM's grouping of
levels adds its own fixed regularisation (cat_l2, cat_smooth, min_data_per_group = 100 rows
per side), which on a few hundred rows cannot isolate a small level such as an acquisition
channel with a fraction of the users.

Selection: validation RMSE (the mean over the rolling-origin folds, like the classifiers), in
the label's unit; early stopping and pruning watch the same RMSE.

Total calibration (`total_calibration`, `scaled`): one multiplier, the validation rows'
realised total over the selected model's predicted total, applied to the served model as a
shift of its log-scale score (every leaf of its first tree), so every prediction, batch score
and explanation base carries it without a separate step at serving.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import optuna

from contracts.errors import UsagecastError
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

OBJECTIVE = "poisson"
SELECTION_METRIC = "rmse"  # LightGBM's metric name, also the run's `val_rmse`
ONE_VS_REST_LEVELS = 32


def fixed_value_params(seed: int, num_threads: int) -> dict[str, object]:
    """Parameters every trial and the refit share: objective, metric, determinism, seeds."""
    return {
        **DATASET_PARAMS,
        "objective": OBJECTIVE,
        "metric": SELECTION_METRIC,
        "max_cat_to_onehot": ONE_VS_REST_LEVELS,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": num_threads,
        "seed": seed,
    }


@dataclass(frozen=True)
class LightGBMRegressionFamily:
    """Poisson LightGBM on the encoded matrix; `threads` fixes its threads."""

    threads: int = 1

    @property
    def name(self) -> str:
        return "lightgbm_regression"

    @property
    def output(self) -> Output:
        return "value"

    def search_space(self, trial: optuna.Trial, train_y: np.ndarray) -> dict[str, object]:
        return suggest_params(trial, negative_to_positive=1.0)

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


def total_calibration(realised: np.ndarray, predicted: np.ndarray) -> float:
    """The multiplier that makes the predicted total equal the realised total of the same
    rows. Raises UsagecastError when either total is not positive (nothing to scale by)."""
    realised_total = float(np.sum(realised))
    predicted_total = float(np.sum(predicted))
    if not (realised_total > 0 and predicted_total > 0):
        raise UsagecastError(
            f"cannot calibrate the predicted total on {len(realised)} validation rows: "
            f"realised total {realised_total:g}, predicted {predicted_total:g}; both must be "
            "positive (move the validation boundary, --validation-from, to rows with value)"
        )
    return realised_total / predicted_total


def scaled(model: LightGBMRegressionModel, factor: float) -> LightGBMRegressionModel:
    """A copy of `model` whose every prediction is `factor` times the original: log(factor)
    added to every leaf of the first tree (a log link's multiplier is a shift of the score)."""
    if not (np.isfinite(factor) and factor > 0):
        raise ValueError(f"a value model's scale must be finite and positive, got {factor}")
    booster = lgb.Booster(model_str=model.booster.model_to_string())
    shift = float(np.log(factor))
    leaves = booster.dump_model(num_iteration=1)["tree_info"][0]["num_leaves"]
    for leaf in range(leaves):
        booster.set_leaf_output(0, leaf, booster.get_leaf_output(0, leaf) + shift)
    return LightGBMRegressionModel(booster)
