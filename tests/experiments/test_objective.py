"""The objective: a trial's value is the mean of its folds' best validation scores."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import optuna
import pandas as pd
import pytest

from experiments.objective import (
    BEST_ITERATION_ATTR,
    FOLD_ITERATIONS_ATTR,
    FOLD_SCORES_ATTR,
    build_study_data,
    fold_metrics,
    make_objective,
)
from experiments.search_space import EARLY_STOPPING_ROUNDS, MAX_BOOST_ROUNDS, fixed_params

PARAMS = {
    "learning_rate": 0.1,
    "num_leaves": 8,
    "min_data_in_leaf": 10,
    "feature_fraction": 0.9,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l1": 1e-3,
    "lambda_l2": 1e-3,
    "min_gain_to_split": 0.0,
    "scale_pos_weight": 1.5,
}


def rows(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, np.ndarray]:
    x = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    y = (x["a"] + rng.normal(size=n) > 0.8).astype(float).to_numpy()
    return x, y


def plain_fit_score(train, validation) -> tuple[float, int]:
    """What one trial scored before folds: one fit with early stopping on the validation rows."""
    params = {**fixed_params("roc_auc", 0, 1), **PARAMS}
    train_set = lgb.Dataset(*train, params={"max_bin": 255, "feature_pre_filter": False})
    booster = lgb.train(
        params,
        train_set,
        num_boost_round=MAX_BOOST_ROUNDS,
        valid_sets=[lgb.Dataset(*validation, reference=train_set)],
        valid_names=["validation"],
        callbacks=[lgb.early_stopping(EARLY_STOPPING_ROUNDS, first_metric_only=True)],
    )
    return float(booster.best_score["validation"]["auc"]), int(booster.best_iteration)


@pytest.fixture
def folds():
    rng = np.random.default_rng(4)
    return [(rows(rng, 300), rows(rng, 100)) for _ in range(3)]


def test_one_fold_scores_a_trial_exactly_as_a_single_fit(folds):
    (train, validation) = folds[-1]
    data = build_study_data(*train, *validation, categorical=[])
    trial = optuna.trial.FixedTrial(PARAMS)
    value = make_objective(data, "roc_auc", seed=0, num_threads=1)(trial)
    assert (value, trial.user_attrs[BEST_ITERATION_ATTR]) == plain_fit_score(train, validation)
    assert trial.user_attrs[FOLD_SCORES_ATTR] == [value]


def test_several_folds_score_the_mean_and_the_refit_iteration_is_the_last_folds(folds):
    (train, validation), earlier = folds[-1], folds[:-1]
    data = build_study_data(
        *train,
        *validation,
        categorical=[],
        earlier_folds=[(*t, *v) for t, v in earlier],
    )
    trial = optuna.trial.FixedTrial(PARAMS)
    value = make_objective(data, "roc_auc", seed=0, num_threads=1)(trial)
    expected = [plain_fit_score(t, v) for t, v in folds]  # oldest first
    assert trial.user_attrs[FOLD_SCORES_ATTR] == [score for score, _ in expected]
    assert trial.user_attrs[FOLD_ITERATIONS_ATTR] == [it for _, it in expected]
    assert trial.user_attrs[BEST_ITERATION_ATTR] == expected[-1][1]
    assert value == pytest.approx(np.mean([score for score, _ in expected]), abs=1e-12)
    assert len(set(trial.user_attrs[FOLD_SCORES_ATTR])) == 3  # the folds differ


def test_a_seeded_study_over_folds_prunes_and_scores_the_same_twice(folds):
    (train, validation), earlier = folds[-1], folds[:-1]
    data = build_study_data(
        *train, *validation, categorical=[], earlier_folds=[(*t, *v) for t, v in earlier]
    )

    def run() -> list[tuple[str, float | None]]:
        study = optuna.create_study(
            direction="maximize",
            sampler=optuna.samplers.TPESampler(seed=2),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=5),
        )
        study.optimize(make_objective(data, "roc_auc", seed=0, num_threads=1), n_trials=10)
        return [(t.state.name, t.value) for t in study.trials]

    first = run()
    assert first == run()
    assert {state for state, _ in first} == {"COMPLETE", "PRUNED"}  # pruning still acts


def test_fold_metrics_name_each_fold_and_the_spread():
    assert fold_metrics("roc_auc", [0.7, 0.8, 0.9]) == {
        "folds": 3.0,
        "val_roc_auc_std": pytest.approx(np.std([0.7, 0.8, 0.9])),
        "val_roc_auc_fold_1": 0.7,
        "val_roc_auc_fold_2": 0.8,
        "val_roc_auc_fold_3": 0.9,
    }
