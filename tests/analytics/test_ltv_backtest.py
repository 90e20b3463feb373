"""LTV formula backtest: mean predicted vs realised value per channel (hand-computed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analytics import channel_ranking, ltv_backtest, ltv_formula_rows
from analytics.channels import expected_active_periods
from analytics.runs import rows_from_cutoff
from contracts.errors import UsagecastError
from contracts.manifest import FeatureSetManifest
from contracts.workspace import event_store_path
from features.engines.spark import SparkEngine
from features.featureset import build_feature_set, load_feature_set
from usagecast_cli.main import main

SPEC = """
name: value
version: 1
dataset: test
cutoffs: {calendar: {start: 2024-04-01, end: 2024-04-01, every: 7}}
label: {kind: value_within, event_type: BUY, horizon_days: 60}
features:
  - {kind: count, event_types: [PLAY], windows: [30]}
"""


def day(number: int) -> pd.Timestamp:
    return pd.Timestamp("2024-01-01") + pd.Timedelta(days=number, hours=12)


# Everyone signs up 2024-01-01; the cutoff 2024-04-01 is day 91, so 30-day periods 0 and 1
# have fully elapsed successors (at risk), period 2 does not.
USERS = [("a1", day(0), "A"), ("a2", day(0), "A"), ("b1", day(0), "B")]
EVENTS = [
    # a1: active in periods 0, 1, 2 (retained 2 of 2); one order of 10 before the cutoff.
    ("a1", day(5), "PLAY", "music", None),
    ("a1", day(35), "BUY", "shop", 10.0),
    ("a1", day(65), "PLAY", "music", None),
    ("a1", day(100), "BUY", "shop", 12.0),  # realised: inside (cutoff, cutoff + 60d]
    # a2: active in period 0 only (retained 0 of 1); one order of 20; nothing after.
    ("a2", day(5), "PLAY", "music", None),
    ("a2", day(6), "BUY", "shop", 20.0),
    # b1: periods 0, 1 (retained 1 of 2); one order of 6.
    ("b1", day(5), "PLAY", "music", None),
    ("b1", day(35), "PLAY", "music", None),
    ("b1", day(40), "BUY", "shop", 6.0),
    ("b1", day(95), "BUY", "shop", 4.0),  # realised
    ("b1", day(200), "BUY", "shop", 5.0),  # past the horizon (data runs past it)
]
# Channel A: AOV 30/2 = 15, frequency 2 orders / 4 active periods = 0.5, retention 2/3,
#   expected active periods in the next 2: 2/3 + 4/9 = 10/9 -> predicted 7.5 x 10/9.
# Channel B: AOV 6, frequency 1/2, retention 1/2 -> 3 x (1/2 + 1/4) = 2.25.
EXPECTED = pd.DataFrame(
    {
        "channel": ["A", "B"],
        "rows": [2, 1],
        "rows_predicted": [2, 1],
        "predicted_mean": [7.5 * 10 / 9, 2.25],
        "realised_mean": [6.0, 4.0],
        "predicted_over_realised": [7.5 * 10 / 9 / 6.0, 2.25 / 4.0],
    }
)


@pytest.fixture
def value_set(tiny_store, tmp_path):
    event_store_path().parent.mkdir(parents=True, exist_ok=True)
    engine = tiny_store(USERS, EVENTS, name=str(event_store_path()))
    sets_dir = tmp_path / "sets"
    (sets_dir / "value").mkdir(parents=True)
    (sets_dir / "value" / "v1.yaml").write_text(SPEC)
    engine.close()
    build_feature_set("value@v1", sets_dir=sets_dir)
    return load_feature_set("value@v1")


def test_backtest_matches_the_hand_computed_table(value_set, tiny_store):
    frame, manifest = value_set
    engine = tiny_store(USERS, EVENTS, name="copy.duckdb")
    table = ltv_backtest(engine, frame, manifest, ["BUY"])
    pd.testing.assert_frame_equal(table, EXPECTED, check_dtype=False)


def test_a_models_values_are_averaged_per_channel_beside_the_formula(value_set, tiny_store):
    frame, manifest = value_set
    engine = tiny_store(USERS, EVENTS, name="copy.duckdb")
    values = pd.Series(np.arange(len(frame), dtype=float), index=frame.index)
    table = ltv_backtest(engine, frame, manifest, ["BUY"], model_values=values)
    rows = ltv_formula_rows(engine, frame, manifest, ["BUY"])
    assert rows.index.equals(frame.index)
    expected = values.groupby(rows["channel"]).mean()
    assert table.set_index("channel")["model_mean"].to_dict() == expected.to_dict()
    np.testing.assert_allclose(
        table["model_over_realised"], table["model_mean"] / table["realised_mean"]
    )
    pd.testing.assert_frame_equal(table[EXPECTED.columns], EXPECTED, check_dtype=False)


def test_rows_from_cutoff_keeps_later_cutoffs_and_refuses_none(value_set):
    frame, _ = value_set
    last = pd.to_datetime(frame["cutoff"]).max()
    kept = rows_from_cutoff(frame, last.to_pydatetime(), "value@v1")
    assert (pd.to_datetime(kept["cutoff"]) == last).all() and len(kept) > 0
    assert rows_from_cutoff(frame, None, "value@v1") is frame
    with pytest.raises(UsagecastError, match="no rows at cutoffs from"):
        rows_from_cutoff(frame, (last + pd.Timedelta(days=1)).to_pydatetime(), "value@v1")


@pytest.mark.spark
@pytest.mark.usefixtures("spark_session")
def test_spark_gives_the_same_backtest(value_set, tiny_store, tmp_path):
    frame, manifest = value_set
    tiny_store(USERS, EVENTS, name="copy.duckdb")
    spark = SparkEngine(tmp_path / "copy.duckdb")
    table = ltv_backtest(spark, frame, manifest, ["BUY"])
    pd.testing.assert_frame_equal(table, EXPECTED, check_dtype=False)


@pytest.mark.slow
def test_cli_prints_predicted_vs_realised(value_set, capsys):
    argv = ["analytics", "ltv", "--purchase-event", "BUY", "--feature-set", "value@v1"]
    assert main([*argv, "--log"]) == 0
    printed = capsys.readouterr().out
    block = printed.split("ltv_predicted_vs_realised")[1].splitlines()
    assert block[2].split()[:3] == ["A", "2", "2"] and float(block[2].split()[4]) == 6.0
    ranking = printed.split("ltv_channel_ranking")[1].splitlines()
    assert ranking[2].split() == ["formula", "2", "A", ">", "B", "A", ">", "B", "True", "1"]
    assert "logged MLflow run" in printed


def test_backtest_needs_a_value_label(tiny_store):
    engine = tiny_store(USERS, EVENTS)
    manifest = FeatureSetManifest.from_dict(
        {"ref": "churn@v1", "label": {"kind": "churn", "long_horizon": False}}
    )
    with pytest.raises(UsagecastError, match="needs a value_within label"):
        ltv_backtest(engine, pd.DataFrame(), manifest, ["BUY"])


def test_expected_active_periods_is_the_geometric_partial_sum():
    got = expected_active_periods(pd.Series([0.0, 0.5, 1.0]), 3)
    assert got.tolist() == [0.0, 0.5 + 0.25 + 0.125, 3.0]


def _backtest(realised: list[float], **predicted: list[float]) -> pd.DataFrame:
    table = pd.DataFrame({"channel": list("abcd"), "realised_mean": realised})
    return table.assign(**predicted)


def test_channel_ranking_puts_each_predictors_order_beside_the_realised_one():
    table = _backtest(
        [4.0, 3.0, 2.0, 1.0],
        predicted_mean=[1.0, 2.0, np.nan, 4.0],  # no formula value for c: left out
        model_mean=[2.0, 1.5, 1.0, 0.5],
    )
    ranking = channel_ranking(table).set_index("predictor")
    assert ranking.loc["formula", "channels"] == 3
    assert ranking.loc["formula", "realised_order"] == "a > b > d"
    assert ranking.loc["formula", "predicted_order"] == "d > b > a"
    assert not ranking.loc["formula", "same_order"]
    assert ranking.loc["formula", "spearman"] == pytest.approx(-1.0)
    assert ranking.loc["model", "predicted_order"] == "a > b > c > d"
    assert ranking.loc["model", "same_order"] and ranking.loc["model", "spearman"] == 1.0


def test_channel_ranking_without_a_model_ranks_the_formula_only_and_ties_by_name():
    ranking = channel_ranking(_backtest([1.0, 1.0, 2.0, 0.5], predicted_mean=[3.0, 3.0, 3.0, 3.0]))
    assert ranking["predictor"].tolist() == ["formula"]
    assert ranking.loc[0, "realised_order"] == "c > a > b > d"
    assert ranking.loc[0, "predicted_order"] == "a > b > c > d"
    assert np.isnan(ranking.loc[0, "spearman"])  # a predictor that ties every channel


@given(  # mean values per row in cents, as money is: distinct amounts stay distinct when scaled
    st.lists(st.integers(0, 10_000), min_size=2, max_size=6, unique=True).map(
        lambda cents: [amount / 100 for amount in cents]
    ),
    st.floats(0.1, 10.0),
)
def test_a_predictor_off_by_a_factor_orders_the_channels_as_realised(realised, factor):
    table = pd.DataFrame({"channel": [f"c{i}" for i in range(len(realised))]})
    table = table.assign(realised_mean=realised, model_mean=[factor * v for v in realised])
    ranking = channel_ranking(table.assign(predicted_mean=np.nan)).set_index("predictor")
    assert ranking.loc["model", "same_order"]
    assert ranking.loc["model", "spearman"] == pytest.approx(1.0)
    assert ranking.loc["formula", "channels"] == 0 and np.isnan(ranking.loc["formula", "spearman"])
