"""Every fitted model family through the same contract: raw scores, contributions that sum to
them, a text file that loads back to the same model, and the served pyfunc's three modes."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from serving import (
    FITTED_MODELS,
    FeatureEncodingError,
    LinearModel,
    LinearTerm,
    ModelFileError,
    Scorer,
    ServingInputError,
    encode_matrix,
    parse_params,
    save_model_files,
)
from serving.families import fitted_model_class

FAMILIES = ("lightgbm", "l1_logistic")


@pytest.fixture(params=FAMILIES)
def tiny(request, tiny_model, tiny_logistic):
    """The tiny model of each family, fitted on the same rows."""
    return {"lightgbm": tiny_model, "l1_logistic": tiny_logistic}[request.param]


def test_every_family_is_known_to_the_served_model():
    # The value family (a regression) has its own tests: tests/serving/test_value_family.py.
    assert {*FAMILIES, "lightgbm_regression"} == set(FITTED_MODELS)


def test_contributions_sum_to_the_raw_score(tiny):
    encoded = encode_matrix(tiny.rows, tiny.metadata)
    contributions = tiny.model.contributions(encoded)
    assert contributions.shape == (len(tiny.rows), len(tiny.metadata.feature_names) + 1)
    np.testing.assert_allclose(
        contributions.sum(axis=1), tiny.model.raw_scores(encoded), rtol=0, atol=1e-9
    )


def test_saved_model_is_text_and_loads_back_to_the_same_scores(tiny, tmp_path):
    directory = save_model_files(tiny.model, tiny.metadata, tmp_path / "m")
    model_file = directory / tiny.model.file_name
    assert sorted(p.name for p in directory.iterdir()) == sorted(
        ["metadata.json", tiny.model.file_name]
    )
    model_file.read_text(encoding="utf-8")  # text, never a pickle
    scorer = Scorer.from_files(model_file, directory / "metadata.json")
    assert type(scorer.model) is fitted_model_class(tiny.metadata.family)
    encoded = encode_matrix(tiny.rows, tiny.metadata)
    np.testing.assert_array_equal(scorer.raw_scores(encoded), tiny.model.raw_scores(encoded))
    np.testing.assert_array_equal(
        scorer.model.contributions(encoded), tiny.model.contributions(encoded)
    )


def test_predict_explain_and_whatif_are_answered_for_every_family(tiny):
    scorer = Scorer(tiny.model, tiny.metadata)
    rows = tiny.rows.head(3)
    predicted = scorer.respond(rows, parse_params(None))
    np.testing.assert_allclose(predicted["probability"], tiny.probabilities(rows), atol=1e-12)
    assert (predicted["label"] == (predicted["probability"] >= tiny.metadata.threshold)).all()
    explained = scorer.respond(rows, parse_params({"mode": "explain", "k": 2}))
    for _, row in explained.iterrows():
        terms = sum(c["contribution"] for c in row["contributions"])
        assert row["base_value"] + terms + row["other_contribution"] == pytest.approx(
            row["raw_score"], abs=1e-9
        )
        assert {c["feature"] for c in row["contributions"]} <= set(tiny.metadata.feature_names)
    whatif = scorer.respond(rows, parse_params({"mode": "whatif", "k": 1, "budget_ms": 50}))
    assert len(whatif["whatif"]) == 3


def test_a_damaged_model_file_is_refused_for_every_family(tiny, tmp_path):
    directory = save_model_files(tiny.model, tiny.metadata, tmp_path / "m")
    model_file = directory / tiny.model.file_name
    model_file.write_text(model_file.read_text()[:200])
    with pytest.raises(ValueError, match=rf"{tiny.model.file_name} is damaged"):
        Scorer.from_files(model_file, directory / "metadata.json")


def test_a_model_saved_under_another_familys_metadata_is_refused(
    tiny_model, tiny_logistic, tmp_path
):
    with pytest.raises(ValueError, match=r"names family 'l1_logistic'.*LightGBMModel"):
        save_model_files(tiny_model.model, tiny_logistic.metadata, tmp_path / "m")


def test_metadata_refuses_an_unknown_family_or_output(tiny_model):
    with pytest.raises(FeatureEncodingError, match="family 'xgboost' is not known"):
        replace(tiny_model.metadata, family="xgboost")
    with pytest.raises(FeatureEncodingError, match="output 'rank' is not one of"):
        replace(tiny_model.metadata, output="rank")
    with pytest.raises(ModelFileError, match="known families"):
        fitted_model_class("xgboost")


def test_logistic_explanation_is_weight_times_distance_from_the_training_mean(tiny_logistic):
    model, metadata = tiny_logistic.model, tiny_logistic.metadata
    encoded = encode_matrix(tiny_logistic.rows, metadata)
    contributions = model.contributions(encoded)
    # The base value is the training rows' mean raw score (a linear model's mean prediction).
    np.testing.assert_allclose(contributions[:, -1], model.raw_scores(encoded).mean(), atol=1e-9)
    # plays_30d has no gaps: one `value` term, weight x (scaled value - its training mean).
    (term,) = [t for t in model.terms if t.feature == "plays_30d"]
    column = metadata.feature_names.index("plays_30d")
    expected = term.weight * ((encoded[:, column] - term.center) / term.scale - term.mean)
    np.testing.assert_allclose(contributions[:, column], expected, atol=1e-12)


def test_linear_model_json_round_trips_and_refuses_unknown_keys(tiny_logistic):
    model = tiny_logistic.model
    assert LinearModel.from_json(model.to_json()) == model
    payload = json.loads(model.to_json())
    payload["terms"][0]["slope"] = 1.0
    with pytest.raises(ModelFileError, match=r"unknown keys \['slope'\]"):
        LinearModel.from_json(json.dumps(payload))
    payload = json.loads(model.to_json()) | {"format_version": 2}
    with pytest.raises(ModelFileError, match="version 2 is not readable"):
        LinearModel.from_json(json.dumps(payload))
    with pytest.raises(ModelFileError, match="kind 'log'"):
        LinearTerm(feature="plays_30d", kind="log", weight=1.0)


def test_a_value_output_answers_values_and_refuses_whatif_in_one_line(tiny_logistic):
    """The seam a regressor will use: the raw score is the answer, there is no label."""
    metadata = replace(tiny_logistic.metadata, output="value")
    scorer = Scorer(tiny_logistic.model, metadata)
    rows = tiny_logistic.rows.head(3)
    answer = scorer.respond(rows, parse_params(None))
    assert list(answer.columns) == ["value"]
    np.testing.assert_array_equal(
        answer["value"], tiny_logistic.model.raw_scores(encode_matrix(rows, metadata))
    )
    explained = scorer.respond(rows, parse_params({"mode": "explain"}))
    np.testing.assert_allclose(explained["raw_score"], answer["value"], atol=1e-12)
    with pytest.raises(ServingInputError, match="outputs a value, and what-if searches"):
        scorer.respond(rows, parse_params({"mode": "whatif"}))
