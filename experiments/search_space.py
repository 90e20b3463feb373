"""The LightGBM search space Optuna samples from, and the fixed parameters around it.

Fixed parameters make every fit deterministic for a seed (deterministic=True, a fixed thread
count, row-wise histograms, all seeds derived from one). Dataset-level parameters (bins,
pre-filtering) are fixed too: the LightGBM Dataset is built once per study and reused by every
trial, which is only allowed when trials do not change them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import optuna

from contracts.errors import UsagecastError
from experiments.metrics import MetricName

LIGHTGBM_METRIC: dict[MetricName, str] = {
    "roc_auc": "auc",
    "pr_auc": "average_precision",
    "logloss": "binary_logloss",
}

# Built into the Dataset once; trials must not vary them.
DATASET_PARAMS: dict[str, object] = {
    "max_bin": 255,
    "feature_pre_filter": False,  # lets trials vary min_data_in_leaf on a shared Dataset
    "verbosity": -1,
}

MAX_BOOST_ROUNDS = 1000
EARLY_STOPPING_ROUNDS = 50


# A causal prior (the spec's actionable `causal`) as a LightGBM monotone constraint sign.
CAUSAL_SIGNS: dict[str, int] = {"increases": 1, "decreases": -1}

# How LightGBM enforces the constraints. "basic" bounds both subtrees of a constrained split by
# the midpoint of its children, which over-constrains: a weak causal feature loses splits and a
# what-if on it shrinks toward 0. "advanced" bounds each leaf only by the leaves it borders, so
# the feature keeps more of its effect. Slower to fit; only used when constraints are given.
MONOTONE_METHOD = "advanced"


def fixed_params(
    metric: MetricName, seed: int, num_threads: int, monotone: Sequence[int] = ()
) -> dict[str, object]:
    """Parameters every trial and the refit share: objective, metric, determinism, seeds,
    and the monotone constraints and their method when given (one sign per model column)."""
    return {
        **(
            {
                "monotone_constraints": list(monotone),
                "monotone_constraints_method": MONOTONE_METHOD,
            }
            if monotone
            else {}
        ),
        **DATASET_PARAMS,
        "objective": "binary",
        "metric": LIGHTGBM_METRIC[metric],
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": num_threads,
        "seed": seed,
    }


def suggest_params(trial: optuna.Trial, negative_to_positive: float) -> dict[str, object]:
    """Sample one trial's tuned parameters.

    scale_pos_weight ranges from 1 (no reweighting) to the training set's negative/positive
    ratio (fully balanced), so class imbalance is handled by the search, not by a guess.
    """
    params: dict[str, object] = {
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 4, 128, log=True),
        "min_data_in_leaf": trial.suggest_int("min_data_in_leaf", 5, 200, log=True),
        "feature_fraction": trial.suggest_float("feature_fraction", 0.4, 1.0),
        "bagging_fraction": trial.suggest_float("bagging_fraction", 0.5, 1.0),
        "bagging_freq": trial.suggest_int("bagging_freq", 0, 5),
        "lambda_l1": trial.suggest_float("lambda_l1", 1e-8, 10.0, log=True),
        "lambda_l2": trial.suggest_float("lambda_l2", 1e-8, 10.0, log=True),
        "min_gain_to_split": trial.suggest_float("min_gain_to_split", 0.0, 1.0),
    }
    if negative_to_positive > 1.0:
        params["scale_pos_weight"] = trial.suggest_float(
            "scale_pos_weight", 1.0, negative_to_positive, log=True
        )
    return params


def monotone_constraints(
    feature_names: Sequence[str],
    categorical: Collection[str],
    actionable: Sequence[Mapping[str, Any]],
    couplings: Sequence[Mapping[str, Any]] = (),
) -> tuple[int, ...]:
    """LightGBM `monotone_constraints` in model column order from the manifest's causal priors:
    +1 where raising the feature `increases` the label's probability, -1 where it `decreases`
    it, 0 elsewhere (categorical features always).

    A prior covers the features a what-if moves with it (the manifest's couplings): its other
    windows (`window`) take its sign, a ratio it is the numerator of takes its sign and one it
    is the denominator of the opposite sign. So a lever moving them together is predicted in
    the prior's direction. Conflicting signs, and constraints asked for without any prior, are
    refused: a run logged as constrained must be constrained as stated.
    """
    signs = dict.fromkeys(feature_names, 0)
    source: dict[str, str] = {}
    for i, entry in enumerate(actionable):
        causal = entry.get("causal")
        if causal is None:
            continue
        name = entry.get("name")
        path = f"manifest actionable[{i}]"
        if causal not in CAUSAL_SIGNS:
            raise UsagecastError(
                f"{path}.causal: {causal!r} is not one of {', '.join(CAUSAL_SIGNS)}"
            )
        if name not in signs:
            raise UsagecastError(f"{path}.name: {name!r} is not one of the model's features")
        if name in categorical:
            raise UsagecastError(
                f"{path}: {name!r} is categorical; a causal prior needs a numeric feature"
            )
        _spread(str(name), CAUSAL_SIGNS[causal], signs, source, str(name), couplings)
    if not any(signs.values()):
        raise UsagecastError(
            "monotone constraints asked for, but no actionable feature declares a causal prior; "
            "add `causal: increases | decreases` to an actionable entry of the spec (a new "
            "version) or tune without --monotone"
        )
    return tuple(signs.values())


def _coupled_signs(
    name: str, sign: int, couplings: Sequence[Mapping[str, Any]]
) -> list[tuple[str, int]]:
    """The features a change to `name` moves directly, with the sign they move by."""
    moved = []
    for coupling in couplings:
        if coupling.get("kind") == "window" and name in (coupling["shorter"], coupling["longer"]):
            other = coupling["longer"] if name == coupling["shorter"] else coupling["shorter"]
            moved.append((other, sign))
        if coupling.get("kind") == "ratio" and name == coupling["numerator"]:
            moved.append((coupling["feature"], sign))
        if coupling.get("kind") == "ratio" and name == coupling["denominator"]:
            moved.append((coupling["feature"], -sign))
    return moved


def _spread(
    name: str,
    sign: int,
    signs: dict[str, int],
    source: dict[str, str],
    prior: str,
    couplings: Sequence[Mapping[str, Any]],
) -> None:
    """Give `name` the sign and pass it along its couplings (features absent from the model,
    such as an unused window, are skipped)."""
    if name not in signs:
        return
    if signs[name] == sign:
        return
    if signs[name] != 0:
        raise UsagecastError(
            f"causal priors conflict on {name!r}: the prior on {source[name]!r} gives it "
            f"{signs[name]:+d}, the prior on {prior!r} {sign:+d}; drop or change one of them"
        )
    signs[name], source[name] = sign, prior
    for other, other_sign in _coupled_signs(name, sign, couplings):
        _spread(other, other_sign, signs, source, prior, couplings)
