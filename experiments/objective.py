"""The Optuna objective: one LightGBM fit per fold per trial on Datasets built once per study.

A trial's value is the mean of its folds' best validation scores (rolling-origin folds,
experiments/split.py). The last fold, the split's own train/validation, is fitted first and
reports its validation score every boosting iteration to the trial, so the pruner can stop
hopeless trials early, as with one fold; the earlier folds run only for trials that survive
it, with early stopping alone. The last fold's best iteration is stored on the trial so the
refit reproduces the best trial's final model exactly; each fold's score and best iteration
are stored too (user attrs FOLD_SCORES_ATTR, FOLD_ITERATIONS_ATTR, oldest fold first).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import optuna
import pandas as pd

from experiments.metrics import MetricName, greater_is_better
from experiments.search_space import (
    DATASET_PARAMS,
    EARLY_STOPPING_ROUNDS,
    LIGHTGBM_METRIC,
    MAX_BOOST_ROUNDS,
    fixed_params,
    suggest_params,
)

VALIDATION_NAME = "validation"
BEST_ITERATION_ATTR = "best_iteration"
FOLD_SCORES_ATTR = "fold_scores"
FOLD_ITERATIONS_ATTR = "fold_best_iterations"
WORKER_PID_ATTR = "worker_pid"
WORKER_HOST_ATTR = "worker_host"

# One fold's rows: training features, labels, validation features, labels.
FoldRows = tuple[pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray]


@dataclass(frozen=True)
class FoldData:
    """One fold's LightGBM Datasets: training rows and the validation rows binned like them."""

    train: lgb.Dataset
    validation: lgb.Dataset


@dataclass(frozen=True)
class StudyData:
    """LightGBM Datasets for one study, constructed once and shared by every trial.

    `folds` oldest first; the last is the split's own train/validation (pruning, refit).
    `negative_to_positive` is the last fold's (it bounds scale_pos_weight's search range).
    """

    folds: tuple[FoldData, ...]
    negative_to_positive: float

    @property
    def final(self) -> FoldData:
        return self.folds[-1]


def build_study_data(
    train_x: pd.DataFrame,
    train_y: np.ndarray,
    validation_x: pd.DataFrame,
    validation_y: np.ndarray,
    categorical: list[str],
    *,
    earlier_folds: Sequence[FoldRows] = (),
) -> StudyData:
    """Bin each fold's training rows once; the given train/validation rows are the last fold."""
    folds = tuple(
        _fold_data(*rows, categorical)
        for rows in (*earlier_folds, (train_x, train_y, validation_x, validation_y))
    )
    return StudyData(folds, negative_to_positive(train_y))


def negative_to_positive(train_y: np.ndarray) -> float:
    """Negatives per positive in 0/1 labels (1.0 without positives): the upper bound of
    scale_pos_weight's search range."""
    positives = float(np.sum(train_y))
    negatives = float(len(train_y) - positives)
    return negatives / positives if positives else 1.0


def _fold_data(
    train_x: pd.DataFrame,
    train_y: np.ndarray,
    validation_x: pd.DataFrame,
    validation_y: np.ndarray,
    categorical: list[str],
) -> FoldData:
    """Construct the Datasets (free_raw_data=False so they can be reused)."""
    train = lgb.Dataset(
        train_x,
        label=train_y,
        categorical_feature=categorical or "auto",
        params=dict(DATASET_PARAMS),
        free_raw_data=False,
    ).construct()
    validation = lgb.Dataset(
        validation_x,
        label=validation_y,
        reference=train,
        categorical_feature=categorical or "auto",
        params=dict(DATASET_PARAMS),
        free_raw_data=False,
    ).construct()
    return FoldData(train, validation)


def pruning_callback(trial: optuna.Trial, lightgbm_metric: str) -> Callable:
    """A LightGBM callback reporting the validation score each iteration; prunes on request."""

    def report(env: lgb.callback.CallbackEnv) -> None:
        for data_name, metric_name, value, _ in env.evaluation_result_list:
            if data_name == VALIDATION_NAME and metric_name == lightgbm_metric:
                trial.report(float(value), env.iteration)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"pruned at iteration {env.iteration}")

    return report


def fit_booster(
    fold: FoldData,
    params: dict[str, object],
    *,
    num_boost_round: int = MAX_BOOST_ROUNDS,
    callbacks: list[Callable] | None = None,
) -> lgb.Booster:
    """Train on a fold's training Dataset, evaluating on its validation Dataset."""
    return lgb.train(
        params,
        fold.train,
        num_boost_round=num_boost_round,
        valid_sets=[fold.validation],
        valid_names=[VALIDATION_NAME],
        callbacks=callbacks or [],
    )


def make_objective(
    data: StudyData,
    metric: MetricName,
    seed: int,
    num_threads: int,
    *,
    checkpoint: Callable[[], None] | None = None,
    monotone: Sequence[int] = (),
) -> Callable[[optuna.Trial], float]:
    """The function Optuna minimises/maximises: the mean over folds of each fit's best
    validation score (see the module docstring for the order and the pruning).

    `checkpoint` runs every boosting iteration (a safe point to act on Ctrl-C/SIGTERM);
    `monotone` constrains every fit (search_space.monotone_constraints).
    """
    lightgbm_metric = LIGHTGBM_METRIC[metric]
    base = fixed_params(metric, seed, num_threads, monotone)
    checkpoints = [] if checkpoint is None else [lambda env: checkpoint()]

    def fit(fold: FoldData, params: dict[str, object], pruning: list[Callable]) -> lgb.Booster:
        return fit_booster(
            fold,
            params,
            callbacks=[
                *checkpoints,
                *pruning,
                lgb.early_stopping(EARLY_STOPPING_ROUNDS, first_metric_only=True, verbose=False),
            ],
        )

    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr(WORKER_PID_ATTR, os.getpid())
        trial.set_user_attr(WORKER_HOST_ATTR, socket.gethostname())
        params = {**base, **suggest_params(trial, data.negative_to_positive)}
        final = fit(data.final, params, [pruning_callback(trial, lightgbm_metric)])
        boosters = [fit(fold, params, []) for fold in data.folds[:-1]] + [final]
        scores = [float(b.best_score[VALIDATION_NAME][lightgbm_metric]) for b in boosters]
        trial.set_user_attr(BEST_ITERATION_ATTR, int(final.best_iteration))
        trial.set_user_attr(FOLD_SCORES_ATTR, scores)
        trial.set_user_attr(FOLD_ITERATIONS_ATTR, [int(b.best_iteration) for b in boosters])
        return sum(scores) / len(scores)

    return objective


def fold_metrics(metric: MetricName, scores: Sequence[float]) -> dict[str, float]:
    """A trial's fold record: `folds`, `val_<metric>_std` (population) and each fold's
    `val_<metric>_fold_<n>` (1 = oldest); `val_<metric>` itself is their mean, the value."""
    return {
        "folds": float(len(scores)),
        f"val_{metric}_std": float(np.std(scores)),
        **{f"val_{metric}_fold_{n}": float(s) for n, s in enumerate(scores, start=1)},
    }


def study_direction(metric: MetricName) -> str:
    """Optuna's direction for the tuning metric."""
    return "maximize" if greater_is_better(metric) else "minimize"
