"""The value family's fit (experiments/families/lightgbm_regression.py): the fitted total
matches the realised one, a small level of a categorical gets its own value, and the total
calibration scales every prediction of the served model by one multiplier."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.errors import UsagecastError
from experiments.families import LightGBMRegressionFamily, TrainingRows
from experiments.families.lightgbm_family import NUM_BOOST_ROUND
from experiments.families.lightgbm_regression import scaled, total_calibration
from serving import LightGBMRegressionModel, ModelMetadata, encode_matrix

CHANNELS = ("a", "b", "c", "d", "e")
PARAMS = {
    "learning_rate": 0.1,
    "num_leaves": 7,
    "min_data_in_leaf": 5,
    "feature_fraction": 1.0,
    "bagging_fraction": 1.0,
    "bagging_freq": 0,
    "lambda_l1": 1e-8,
    "lambda_l2": 1e-8,
    "min_gain_to_split": 0.0,
    NUM_BOOST_ROUND: 100,
}


def _value_rows(rows: int = 300) -> tuple[pd.DataFrame, np.ndarray]:
    """Who buys depends on plays; what a purchase is worth on the channel: `e`, a tenth of
    the users, pays a quarter of `a`'s price."""
    rng = np.random.default_rng(0)
    channel = rng.choice(CHANNELS, rows, p=[0.3, 0.25, 0.2, 0.15, 0.1])
    plays = rng.poisson(20, rows).astype("float64")
    buys = rng.random(rows) < 1 / (1 + np.exp(-0.2 * (plays - 22)))
    price = np.select([channel == "a", channel == "e"], [20.0, 5.0], 10.0)
    return pd.DataFrame({"plays_30d": plays, "channel": channel}), np.where(buys, price, 0.0)


METADATA = ModelMetadata(
    feature_names=("plays_30d", "channel"),
    categorical_levels={"channel": CHANNELS},
    threshold=0.5,
    feature_set="ltv@v1",
    feature_set_fingerprint="fp-test",
    label_kind="value_within",
    family="lightgbm_regression",
    output="value",
)


@pytest.fixture(scope="module")
def fitted() -> tuple[LightGBMRegressionModel, np.ndarray, np.ndarray, pd.Series]:
    rows, value = _value_rows()
    model = LightGBMRegressionFamily().fit(
        TrainingRows(rows, value, rows, value, METADATA), PARAMS, seed=0
    )
    return model, encode_matrix(rows, METADATA), value, rows["channel"]


def test_the_fitted_total_is_the_realised_total(fitted):
    # Poisson deviance with its log link balances every Newton step: the fitted total is the
    # realised total of the rows fitted (a Tweedie power of 1.6 falls 4% short here).
    model, encoded, value, _ = fitted
    assert model.raw_scores(encoded).sum() == pytest.approx(value.sum(), rel=0.01)


def test_a_small_level_of_a_categorical_gets_its_own_value(fitted):
    # `e` holds 30 rows: LightGBM's grouping of levels (at least 100 rows a side) would leave
    # it 1.4 times its realised mean; split one level against the rest, it gets its own.
    model, encoded, value, channel = fitted
    predicted = pd.Series(model.raw_scores(encoded)).groupby(channel.to_numpy()).mean()
    realised = pd.Series(value).groupby(channel.to_numpy()).mean()
    assert (predicted / realised).between(0.85, 1.15).all(), (predicted / realised).to_dict()


def test_total_calibration_is_realised_over_predicted_total():
    assert total_calibration(np.array([0.0, 10.0, 5.0]), np.array([3.0, 3.0, 3.0])) == 15 / 9


@pytest.mark.parametrize(
    ("realised", "predicted"), [([0.0, 0.0], [1.0, 2.0]), ([1.0, 0.0], [0.0, 0.0])]
)
def test_total_calibration_needs_positive_totals(realised, predicted):
    with pytest.raises(UsagecastError, match="validation rows: realised total"):
        total_calibration(np.array(realised), np.array(predicted))


@settings(max_examples=25, deadline=None)
@given(factor=st.floats(min_value=0.05, max_value=20.0))
def test_scaled_multiplies_every_prediction(fitted, factor):
    model, encoded, _, _ = fitted
    before = model.raw_scores(encoded)
    calibrated = scaled(model, factor)
    np.testing.assert_allclose(calibrated.raw_scores(encoded), factor * before, rtol=1e-9)
    np.testing.assert_array_equal(model.raw_scores(encoded), before)  # the original is kept
    contributions = calibrated.contributions(encoded[:20])
    np.testing.assert_allclose(
        contributions.sum(axis=1), calibrated.raw_scores(encoded[:20]), rtol=1e-9
    )


def test_a_scaled_model_saves_its_scale(fitted, tmp_path):
    model, encoded, _, _ = fitted
    calibrated = scaled(model, 0.8)
    calibrated.save(tmp_path / "model.txt")
    loaded = LightGBMRegressionModel.load(tmp_path / "model.txt")
    np.testing.assert_allclose(
        loaded.raw_scores(encoded), 0.8 * model.raw_scores(encoded), rtol=1e-9
    )


@pytest.mark.parametrize("factor", [0.0, -1.0, float("nan"), float("inf")])
def test_scaled_refuses_a_factor_that_is_not_positive(fitted, factor):
    with pytest.raises(ValueError, match="finite and positive"):
        scaled(fitted[0], factor)
