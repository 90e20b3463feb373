"""Causal priors as LightGBM monotone constraints: the vector, a fitted model that obeys it,
and a tuning run that logs the flag, the constraints and what they cost in test AUC."""

from __future__ import annotations

import functools
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mlflow.tracking import MlflowClient

from contracts.errors import UsagecastError
from contracts.manifest import FeatureSetManifest
from experiments import TuneConfig, format_summary, tune
from experiments.families import LightGBMFamily, TrainingRows
from experiments.families.lightgbm_family import NUM_BOOST_ROUND
from experiments.inputs import read_inputs
from experiments.search_space import MONOTONE_METHOD, fixed_params, monotone_constraints
from serving import LightGBMModel, encode_features
from tests.experiments.conftest import synthetic_feature_set, write_feature_set
from usagecast_cli.main import build_parser

CHANNELS = ("facebook", "reddit")


def _action(name: str, causal: str | None = None) -> dict:
    entry = {"name": name, "direction": "both", "lower": 0, "upper": 10, "integer": False}
    return entry if causal is None else {**entry, "causal": causal}


def test_priors_become_signs_in_model_column_order_and_categoricals_stay_free():
    vector = monotone_constraints(
        ("ads_30d", "channel", "plays_30d", "likes_30d"),
        {"channel"},
        [_action("likes_30d", "increases"), _action("plays_30d"), _action("ads_30d", "decreases")],
    )
    assert vector == (-1, 0, 0, 1)


def test_constraints_bring_their_method_and_a_run_without_them_has_neither():
    constrained = fixed_params("roc_auc", 0, 1, (1, 0, -1))
    assert constrained["monotone_constraints"] == [1, 0, -1]
    assert constrained["monotone_constraints_method"] == MONOTONE_METHOD == "advanced"
    free = fixed_params("roc_auc", 0, 1)
    assert not {"monotone_constraints", "monotone_constraints_method"} & free.keys()


COUPLED = ("ads_7d", "ads_30d", "plays_30d", "ads_per_play_30d", "plays_per_ad_30d")
COUPLINGS = [
    {"kind": "order", "smaller": "ads_7d", "larger": "ads_30d"},
    {"kind": "window", "shorter": "ads_7d", "longer": "ads_30d"},
    {"kind": "window", "shorter": "ads_30d", "longer": "ads_90d"},  # not a model feature
    {
        "kind": "ratio",
        "feature": "ads_per_play_30d",
        "numerator": "ads_30d",
        "denominator": "plays_30d",
    },
    {
        "kind": "ratio",
        "feature": "plays_per_ad_30d",
        "numerator": "plays_30d",
        "denominator": "ads_30d",
    },
]


def test_a_prior_covers_the_windows_and_ratios_a_change_moves_with_it():
    vector = monotone_constraints(COUPLED, (), [_action("ads_30d", "decreases")], COUPLINGS)
    assert vector == (-1, -1, 0, -1, 1)


def test_priors_that_disagree_through_a_coupling_are_refused():
    priors = [_action("ads_30d", "increases"), _action("ads_7d", "decreases")]
    with pytest.raises(UsagecastError, match="causal priors conflict on 'ads_7d'"):
        monotone_constraints(COUPLED, (), priors, COUPLINGS)


@pytest.mark.parametrize(
    ("actionable", "message"),
    [
        ([_action("ads_30d")], "no actionable feature declares a causal prior"),
        ([], "no actionable feature declares a causal prior"),
        ([_action("ads_30d", "up")], r"actionable\[0\]\.causal: 'up' is not one of"),
        ([_action("channel", "increases")], "'channel' is categorical"),
        ([_action("ads_7d", "increases")], "'ads_7d' is not one of the model's features"),
    ],
)
def test_constraints_asked_for_without_a_usable_prior_are_refused(actionable, message):
    with pytest.raises(UsagecastError, match=message):
        monotone_constraints(("ads_30d", "channel"), {"channel"}, actionable)


def _manifest() -> FeatureSetManifest:
    return FeatureSetManifest.from_dict(
        {
            "ref": "bumpy@v1",
            "fingerprint": "fp-bumpy",
            "label": {"kind": "event_within", "event_type": "BUY", "horizon_days": 30},
            "features": [
                {"name": "x", "dtype": "numeric"},
                {"name": "z", "dtype": "numeric"},
                {"name": "channel", "dtype": "categorical", "levels": list(CHANNELS)},
            ],
            "actionable": [_action("x", "increases")],
        }
    )


def _rows(rng: np.random.Generator, n: int) -> tuple[pd.DataFrame, np.ndarray]:
    """A label that rises and falls with x (so an unconstrained model is not monotone in x)."""
    x = rng.uniform(0, 10, n)
    z = rng.normal(size=n)
    channel = rng.choice(CHANNELS, n)
    logit = 0.3 * x + 2.5 * np.sin(2 * x) + z + np.where(channel == "reddit", 1.0, 0.0) - 1.5
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    return pd.DataFrame({"x": x, "z": z, "channel": channel}), label


@functools.cache
def _fitted(constrained: bool) -> tuple[LightGBMModel, object]:
    """A LightGBM fit on the bumpy rows, with x constrained to +1 or free."""
    rng = np.random.default_rng(11)
    train, train_y = _rows(rng, 3000)
    validation, validation_y = _rows(rng, 500)
    inputs = read_inputs(_manifest()).with_training_levels(train)
    metadata = inputs.model_metadata(threshold=0.5)
    monotone = (
        monotone_constraints(metadata.feature_names, inputs.categorical_levels, inputs.actionable)
        if constrained
        else ()
    )
    params = {"num_leaves": 16, "learning_rate": 0.1, "min_data_in_leaf": 10, NUM_BOOST_ROUND: 80}
    family = LightGBMFamily("roc_auc", threads=1, monotone=monotone)
    rows = TrainingRows(train, train_y, validation, validation_y, metadata)
    return family.fit(rows, params, seed=0), metadata


def _scores_along_x(constrained: bool, z: float, channel: str, xs: np.ndarray) -> np.ndarray:
    model, metadata = _fitted(constrained)
    frame = pd.DataFrame({"x": xs, "z": z, "channel": channel})
    return model.raw_scores(encode_features(frame, metadata).to_numpy())


def test_without_the_constraint_the_bumpy_label_makes_the_model_non_monotone():
    scores = _scores_along_x(False, 0.0, "reddit", np.linspace(0, 10, 201))
    assert np.any(np.diff(scores) < -1e-9)


@settings(max_examples=60, deadline=None)
@given(
    z=st.floats(-3, 3),
    channel=st.sampled_from(CHANNELS),
    xs=st.lists(st.floats(-1, 11), min_size=2, max_size=20),
)
def test_a_constrained_model_never_scores_lower_when_its_increasing_feature_rises(z, channel, xs):
    ordered = np.sort(np.array(xs))
    scores = _scores_along_x(True, z, channel, ordered)
    assert np.all(np.diff(scores) >= -1e-12)


def _with_prior(manifest: FeatureSetManifest) -> FeatureSetManifest:
    """The synthetic manifest with activity_30d declared to increase the label."""
    return FeatureSetManifest.from_dict(
        {
            **manifest.to_dict(),
            "actionable": [
                {
                    "name": "activity_30d",
                    "direction": "increase",
                    "lower": 0,
                    "upper": 100,
                    "integer": False,
                    "cost": 1.0,
                    "causal": "increases",
                }
            ],
        }
    )


@pytest.mark.slow
def test_a_monotone_run_logs_the_flag_the_constraints_and_their_cost():
    frame, manifest = synthetic_feature_set()
    ref = write_feature_set(frame, _with_prior(manifest))
    result = tune(TuneConfig(feature_set=ref, trials=3, seed=2, monotone=True))
    run = MlflowClient(result.tracking_uri).get_run(result.parent_run_id)
    assert run.data.params["monotone"] == "true"
    # Feature order activity_30d, noise, channel.
    assert json.loads(run.data.params["monotone_constraints"]) == [1, 0, 0]
    metrics = run.data.metrics
    assert metrics["test_roc_auc_monotone_cost"] == pytest.approx(
        metrics["test_roc_auc_unconstrained"] - metrics["test_roc_auc"]
    )
    assert result.monotone == {"activity_30d": 1}
    assert "monotone:    activity_30d+1; test roc_auc" in format_summary(result)


@pytest.mark.slow
def test_an_unconstrained_run_logs_the_flag_off_and_no_cost(synthetic_ref):
    result = tune(TuneConfig(feature_set=synthetic_ref, trials=2, seed=2))
    run = MlflowClient(result.tracking_uri).get_run(result.parent_run_id)
    assert run.data.params["monotone"] == "false"
    assert "monotone_constraints" not in run.data.params
    assert "test_roc_auc_unconstrained" not in run.data.metrics
    assert "monotone:" not in format_summary(result)


def test_asking_for_constraints_on_a_set_without_priors_fails_before_any_run(synthetic_ref):
    with pytest.raises(UsagecastError, match="no actionable feature declares a causal prior"):
        tune(TuneConfig(feature_set=synthetic_ref, trials=1, monotone=True))


@pytest.mark.parametrize(("argv", "expected"), [([], False), (["--monotone", "true"], True)])
def test_the_cli_flag_is_off_unless_asked_for(argv, expected):
    args = build_parser().parse_args(["tune", "demo@v1", *argv])
    assert args.monotone is expected
