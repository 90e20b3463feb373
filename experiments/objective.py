"""The Optuna objective: one LightGBM fit per trial on Datasets built once per study.

Each fit reports its validation score every boosting iteration to the trial, so the pruner
can stop hopeless trials early; early stopping ends the rest. The best iteration is stored on
the trial so the refit reproduces the best trial's model exactly.
"""

from __future__ import annotations

import os
from collections.abc import Callable
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
WORKER_PID_ATTR = "worker_pid"


@dataclass(frozen=True)
class StudyData:
    """LightGBM Datasets for one study, constructed once and shared by every trial."""

    train: lgb.Dataset
    validation: lgb.Dataset
    negative_to_positive: float


def build_study_data(
    train_x: pd.DataFrame,
    train_y: np.ndarray,
    validation_x: pd.DataFrame,
    validation_y: np.ndarray,
    categorical: list[str],
) -> StudyData:
    """Bin the training rows once (free_raw_data=False so the Dataset can be reused)."""
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
    positives = float(np.sum(train_y))
    negatives = float(len(train_y) - positives)
    return StudyData(train, validation, negatives / positives if positives else 1.0)


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
    data: StudyData,
    params: dict[str, object],
    *,
    num_boost_round: int = MAX_BOOST_ROUNDS,
    callbacks: list[Callable] | None = None,
) -> lgb.Booster:
    """Train on the study's Dataset, evaluating on its validation Dataset."""
    return lgb.train(
        params,
        data.train,
        num_boost_round=num_boost_round,
        valid_sets=[data.validation],
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
) -> Callable[[optuna.Trial], float]:
    """The function Optuna minimises/maximises: the best validation score of one fit.

    `checkpoint` runs every boosting iteration (a safe point to act on Ctrl-C/SIGTERM).
    """
    lightgbm_metric = LIGHTGBM_METRIC[metric]
    base = fixed_params(metric, seed, num_threads)
    checkpoints = [] if checkpoint is None else [lambda env: checkpoint()]

    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr(WORKER_PID_ATTR, os.getpid())
        params = {**base, **suggest_params(trial, data.negative_to_positive)}
        booster = fit_booster(
            data,
            params,
            callbacks=[
                *checkpoints,
                pruning_callback(trial, lightgbm_metric),
                lgb.early_stopping(EARLY_STOPPING_ROUNDS, first_metric_only=True, verbose=False),
            ],
        )
        trial.set_user_attr(BEST_ITERATION_ATTR, int(booster.best_iteration))
        return float(booster.best_score[VALIDATION_NAME][lightgbm_metric])

    return objective


def study_direction(metric: MetricName) -> str:
    """Optuna's direction for the tuning metric."""
    return "maximize" if greater_is_better(metric) else "minimize"
