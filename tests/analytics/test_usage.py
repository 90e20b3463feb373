"""Top features and features-before-conversion on a hand-built log, answers worked by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from analytics import Filters, before_conversion, channels, retention, top_features
from features.engines.spark import SparkEngine

from .conftest import at

USERS = [
    ("a", at(0), "ads"),
    ("b", at(0), "seo"),
    ("c", at(0), "ads"),
    ("d", at(10), "ads"),
]
EVENTS = [
    ("a", at(1), "PLAY", "search", None),
    ("a", at(3), "PLAY", "radio", None),
    ("a", at(5, hour=10), "BUY_PREMIUM", "premium", 9.99),
    ("a", at(6), "PLAY", "search", None),
    ("b", at(2), "PLAY", "search", None),
    ("b", at(4), "LIKE", "library", None),
    ("b", at(12), "BUY_PREMIUM", "premium", 9.99),
    ("c", at(1), "PLAY", "search", None),
    ("c", at(20), "PLAY", "library", None),
    ("d", at(12), "PLAY", "radio", None),
    ("d", at(14), "SKIP", "search", None),
    ("d", at(15), "LOGIN", None, None),
]


def test_top_features_rank_by_unique_users_then_events(tiny_store):
    table = top_features(tiny_store(USERS, EVENTS))
    assert table["area"].tolist() == ["search", "library", "premium", "radio"]
    assert table["users"].tolist() == [4, 2, 2, 2]
    assert table["events"].tolist() == [5, 2, 2, 2]
    assert table["user_share"].tolist() == [1.0, 0.5, 0.5, 0.5]
    assert table["rank"].tolist() == [1, 2, 3, 4]


def test_top_features_per_event_type_ranks_within_each_type(tiny_store):
    table = top_features(tiny_store(USERS, EVENTS), per_event_type=True)
    play = table[table["event_type"] == "PLAY"]
    assert play[["area", "users", "events", "rank"]].values.tolist() == [
        ["search", 3, 4, 1],
        ["radio", 2, 2, 2],
        ["library", 1, 1, 3],
    ]
    assert table.loc[table["event_type"] == "SKIP", "area"].tolist() == ["search"]


def test_top_features_with_segment_area_prefix_and_time_range(tiny_store):
    engine = tiny_store(USERS, EVENTS)
    ads = top_features(engine, Filters(segment="channel = 'ads'", area_prefix="r"))
    assert ads[["area", "users", "events"]].values.tolist() == [["radio", 2, 2]]
    # Active users in scope: a and d used an area starting with "r".
    assert ads["user_share"].tolist() == [1.0]
    early = top_features(engine, Filters(start=at(2), end=at(6)))
    assert early[["area", "users"]].values.tolist() == [
        ["library", 1],
        ["premium", 1],
        ["radio", 1],
        ["search", 1],
    ]


def test_before_conversion_matches_the_hand_computed_lift(tiny_store):
    # Converters: a (tenure day 5), b (tenure day 12). At day 5 all four users are at risk;
    # at day 12 only b and c (a converted, d's anchor is past the end of the data).
    # search: (4/4 + 2/2) / 2 = 1; radio: (2/4 + 0/2) / 2; library: (1/4 + 1/2) / 2.
    table = before_conversion(tiny_store(USERS, EVENTS), "BUY_PREMIUM")
    assert table["area"].tolist() == ["search", "radio", "library"]
    assert table["converters_using"].tolist() == [2, 1, 1]
    assert table["converter_share"].tolist() == [1.0, 0.5, 0.5]
    assert table["comparison_share"].tolist() == pytest.approx([1.0, 0.25, 0.375])
    assert table["lift"].tolist() == pytest.approx([1.0, 2.0, 0.5 / 0.375])


def test_before_conversion_respects_segment_and_time_range(tiny_store):
    engine = tiny_store(USERS, EVENTS)
    ads = before_conversion(engine, "BUY_PREMIUM", Filters(segment="channel = 'ads'"))
    assert ads[["area", "converters_using"]].values.tolist() == [["radio", 1], ["search", 1]]
    assert ads["comparison_share"].tolist() == pytest.approx([2 / 3, 1.0])
    late = before_conversion(engine, "BUY_PREMIUM", Filters(start=at(6)))
    assert late["area"].tolist() == ["library", "search"]
    assert late["lift"].tolist() == pytest.approx([2.0, 1.0])


def test_before_conversion_lookback_shortens_the_window(tiny_store):
    # 3 days: a's window [day 2 10:00, day 5 10:00) holds radio only; b's [day 9, day 12)
    # holds nothing.
    table = before_conversion(tiny_store(USERS, EVENTS), "BUY_PREMIUM", lookback_days=3)
    assert table.loc[table["converters_using"] > 0, "area"].tolist() == ["radio"]
    assert table["converter_share"].max() == 0.5


def test_no_converters_gives_an_empty_table(tiny_store):
    assert before_conversion(tiny_store(USERS, EVENTS), "NEVER_HAPPENS").empty


@pytest.mark.spark
def test_duckdb_and_spark_give_the_same_tables(tiny_store, tmp_path):
    duck = tiny_store(USERS, EVENTS)
    spark = SparkEngine(tmp_path / "events.duckdb")
    for compute in (
        lambda engine: top_features(engine, per_event_type=True),
        lambda engine: before_conversion(engine, "BUY_PREMIUM"),
        lambda engine: retention(engine),
        lambda engine: retention(engine, period="month", activity_events=["PLAY", "LIKE"]),
        lambda engine: channels(engine, "BUY_PREMIUM"),
    ):
        pd.testing.assert_frame_equal(compute(duck), compute(spark), check_dtype=False)
