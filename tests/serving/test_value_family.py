"""The value family (LightGBM regression, Poisson) through the served-model contract: values in
label units, contributions in value units that sum to them, a text file, and `value` answers
from the pyfunc in process and behind a real `mlflow models serve`."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import replace

import lightgbm
import mlflow
import numpy as np
import pandas as pd
import pytest
from optuna.trial import FixedTrial

from experiments.families import LightGBMRegressionFamily, TrainingRows
from serving import (
    FITTED_MODELS,
    LightGBMRegressionModel,
    ModelFileError,
    ModelMetadata,
    Scorer,
    ServingInputError,
    encode_matrix,
    log_serving_model,
    parse_params,
    save_model_files,
)
from serving.local_server import running_server

CITIES = ("berlin", "lagos", "lima")


@pytest.fixture(scope="module")
def value_model():
    """A Poisson model of a zero-heavy value: who buys depends on plays and city."""
    rng = np.random.default_rng(3)
    rows = pd.DataFrame(
        {
            "plays_30d": rng.poisson(20, 500).astype("float64"),
            "city": rng.choice(CITIES, 500),
        }
    )
    buys = rng.random(500) < 1 / (1 + np.exp(-0.2 * (rows["plays_30d"] - 22)))
    value = np.where(buys, 9.99 * (1 + (rows["city"] == "lagos")), 0.0)
    metadata = ModelMetadata(
        feature_names=("plays_30d", "city"),
        categorical_levels={"city": CITIES},
        threshold=0.5,
        feature_set="ltv_90d@v2",
        feature_set_fingerprint="fp-test",
        label_kind="value_within",
        family="lightgbm_regression",
        output="value",
    )
    family = LightGBMRegressionFamily()
    params = {
        **family.search_space(
            FixedTrial(
                {
                    "learning_rate": 0.1,
                    "num_leaves": 7,
                    "min_data_in_leaf": 10,
                    "feature_fraction": 1.0,
                    "bagging_fraction": 1.0,
                    "bagging_freq": 0,
                    "lambda_l1": 1e-8,
                    "lambda_l2": 1e-8,
                    "min_gain_to_split": 0.0,
                }
            ),
            value,
        ),
        "num_boost_round": 40,
    }
    model = family.fit(TrainingRows(rows, value, rows, value, metadata), params, seed=0)
    return model, metadata, rows, value


def test_the_family_is_known_to_the_served_model():
    assert FITTED_MODELS["lightgbm_regression"] is LightGBMRegressionModel
    assert LightGBMRegressionFamily().output == "value"


def test_values_are_the_boosters_predictions_and_track_the_label(value_model):
    model, metadata, rows, value = value_model
    encoded = encode_matrix(rows, metadata)
    values = model.raw_scores(encoded)
    np.testing.assert_allclose(values, model.booster.predict(encoded), rtol=1e-12)
    assert (values > 0).all()
    # The Poisson deviance's log link fits the training total (a GLM's balance property).
    assert values.sum() == pytest.approx(value.sum(), rel=0.01)


def test_contributions_are_in_value_units_and_sum_to_the_value(value_model):
    model, metadata, rows, _ = value_model
    encoded = encode_matrix(rows, metadata)
    contributions = model.contributions(encoded)
    np.testing.assert_allclose(contributions.sum(axis=1), model.raw_scores(encoded), atol=1e-9)
    log_scale = model.booster.predict(encoded, pred_contrib=True)
    np.testing.assert_allclose(contributions[:, -1], np.exp(log_scale[:, -1]))
    # Rescaled, not reshuffled: each feature keeps the sign of its log-scale contribution.
    moved = np.abs(log_scale[:, :-1]) > 1e-9
    assert (np.sign(contributions[:, :-1])[moved] == np.sign(log_scale[:, :-1])[moved]).all()


def test_saved_as_text_and_loaded_back(value_model, tmp_path):
    model, metadata, rows, _ = value_model
    directory = save_model_files(model, metadata, tmp_path / "m")
    scorer = Scorer.from_files(directory / model.file_name, directory / "metadata.json")
    encoded = encode_matrix(rows, metadata)
    np.testing.assert_array_equal(scorer.raw_scores(encoded), model.raw_scores(encoded))


def test_a_booster_without_a_log_link_is_refused():
    booster = lightgbm.train(
        {"objective": "regression", "verbose": -1},
        lightgbm.Dataset(np.arange(40.0).reshape(20, 2), label=np.arange(20.0)),
        num_boost_round=2,
    )
    with pytest.raises(ModelFileError, match="log-link"):
        LightGBMRegressionModel(booster)


def test_the_pyfunc_answers_value_and_explains_it(value_model):
    model, metadata, rows, _ = value_model
    scorer = Scorer(model, metadata)
    head = rows.head(3)
    predicted = scorer.respond(head, parse_params(None))
    assert list(predicted.columns) == ["value"]
    np.testing.assert_allclose(predicted["value"], model.raw_scores(encode_matrix(head, metadata)))
    explained = scorer.respond(head, parse_params({"mode": "explain", "k": 1}))
    for _, row in explained.iterrows():
        terms = sum(c["contribution"] for c in row["contributions"])
        total = row["base_value"] + terms + row["other_contribution"]
        assert total == pytest.approx(row["raw_score"]) == pytest.approx(row["value"])
    with pytest.raises(ServingInputError, match="what-if"):
        scorer.respond(head, parse_params({"mode": "whatif"}))


def test_metadata_of_another_family_is_refused_for_the_value_model(value_model, tmp_path):
    model, metadata, _, _ = value_model
    with pytest.raises(ValueError, match="lightgbm"):
        save_model_files(model, replace(metadata, family="lightgbm"), tmp_path / "m")


@pytest.mark.serve
def test_served_by_mlflow_models_serve(value_model, tmp_path, monkeypatch):
    model, metadata, rows, _ = value_model
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    monkeypatch.setenv("MLFLOW_TRACKING_URI", env["MLFLOW_TRACKING_URI"])
    with mlflow.start_run():
        info = log_serving_model(model, metadata, rows.head(5))
    head = rows.head(4)
    records = json.loads(head.to_json(orient="records"))
    expected = model.raw_scores(encode_matrix(head, metadata))
    with running_server(info.model_uri, tmp_path / "server.log", env) as base:
        for params in (None, {"mode": "explain", "k": 2}):
            body = {"dataframe_records": records, **({"params": params} if params else {})}
            request = urllib.request.Request(
                f"{base}/invocations",
                data=json.dumps(body).encode(),
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=30) as response:
                answer = json.loads(response.read())["predictions"]
            np.testing.assert_allclose([row["value"] for row in answer], expected, rtol=1e-9)
            assert all("probability" not in row for row in answer)
    assert params is not None and all("contributions" in row for row in answer)
