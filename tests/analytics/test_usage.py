"""Top features and features-before-conversion on a hand-built log, answers worked by hand,
by product area and by event type."""

from __future__ import annotations

import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics import Filters, before_conversion, channels, retention, top_features
from analytics.usage import FeaturePresence, converter_count, feature_presence
from contracts.errors import UsagecastError
from features.engines.duckdb import DuckDBEngine
from features.engines.spark import SparkEngine

from .conftest import at, write_store

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
    # Converters: a (day 5 10:00: tenure day 6, the first whole day after it), b (day 12
    # 00:00: tenure day 12). At day 6 b, c and d are at risk (a converted on day 5), windows
    # ending at day 6 (b, c) and day 16 (d, signed up on day 10); at day 12 only b and c (d's
    # anchor is past the end of the data). search: (3/3 + 2/2) / 2 = 1; radio (d):
    # (1/3 + 0/2) / 2 = 1/6; library (b): (1/3 + 1/2) / 2 = 5/12.
    table = before_conversion(tiny_store(USERS, EVENTS), "BUY_PREMIUM")
    assert table["area"].tolist() == ["search", "radio", "library"]
    assert table["converters_using"].tolist() == [2, 1, 1]
    assert table["converter_share"].tolist() == [1.0, 0.5, 0.5]
    assert table["comparison_share"].tolist() == pytest.approx([1.0, 1 / 6, 5 / 12])
    assert table["lift"].tolist() == pytest.approx([1.0, 3.0, 1.2])


def test_before_conversion_respects_segment_and_time_range(tiny_store):
    engine = tiny_store(USERS, EVENTS)
    # Ads users: a converts (tenure day 6); at day 6 c (search) and d (radio, search).
    ads = before_conversion(engine, "BUY_PREMIUM", Filters(segment="channel = 'ads'"))
    assert ads[["area", "converters_using"]].values.tolist() == [["radio", 1], ["search", 1]]
    assert ads["comparison_share"].tolist() == pytest.approx([0.5, 1.0])
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
    engine = tiny_store(USERS, EVENTS)
    assert before_conversion(engine, "NEVER_HAPPENS").empty
    by_type = before_conversion(engine, "NEVER_HAPPENS", by="event_type")
    assert by_type.empty and by_type.columns[0] == "event_type"


def test_top_features_by_event_type_ranks_every_event_type(tiny_store):
    # LOGIN has no area: not an area feature, but an event type like any other.
    expected = pd.DataFrame(
        {
            "event_type": ["PLAY", "BUY_PREMIUM", "LIKE", "LOGIN", "SKIP"],
            "users": [4, 2, 1, 1, 1],
            "events": [7, 2, 1, 1, 1],
            "user_share": [1.0, 0.5, 0.25, 0.25, 0.25],
            "rank": [1, 2, 3, 4, 5],
        }
    )
    table = top_features(tiny_store(USERS, EVENTS), by="event_type")
    pd.testing.assert_frame_equal(table, expected)


def test_the_area_prefix_filters_events_when_ranking_event_types(tiny_store):
    # Events in areas starting with "s" (search): PLAY by a, b, c (4 events), SKIP by d.
    engine = tiny_store(USERS, EVENTS)
    table = top_features(engine, Filters(area_prefix="s"), by="event_type")
    assert table[["event_type", "users", "events"]].values.tolist() == [
        ["PLAY", 3, 4],
        ["SKIP", 1, 1],
    ]
    assert table["user_share"].tolist() == [0.75, 0.25]
    # Converters a and b both played in search before converting. Day 6 (b, c, d): b and c
    # played in search, d skipped there: PLAY 2/3, SKIP 1/3; day 12: b and c played: PLAY 2/2.
    before = before_conversion(engine, "BUY_PREMIUM", Filters(area_prefix="s"), by="event_type")
    assert before["event_type"].tolist() == ["PLAY", "SKIP"]
    assert before["converters_using"].tolist() == [2, 0]
    assert before["comparison_share"].tolist() == pytest.approx([5 / 6, 1 / 6])
    assert before["lift"].tolist() == pytest.approx([1.2, 0.0])


def test_before_conversion_by_event_type_matches_the_hand_computed_lift(tiny_store):
    # Converters a (day 5 10:00: tenure day 6) and b (day 12 00:00: tenure day 12). a's
    # window: PLAY; b's: PLAY, LIKE. Day-6 group (b, c, d; d's window is its days -24..5):
    # PLAY 3/3, LIKE 1/3 (b), SKIP 1/3 and LOGIN 1/3 (d on its days 4 and 5). Day-12 group
    # (b, c): PLAY 2/2, LIKE 1/2. So PLAY 1, LIKE 5/12, SKIP and LOGIN 1/6 (ties by name).
    # BUY_PREMIUM itself is absent: every window ends before the first conversion (b's
    # converter window and day-12 comparison window both end at exactly its conversion).
    expected = pd.DataFrame(
        {
            "event_type": ["PLAY", "LIKE", "LOGIN", "SKIP"],
            "converters_using": [2, 1, 0, 0],
            "converter_share": [1.0, 0.5, 0.0, 0.0],
            "comparison_share": [1.0, 5 / 12, 1 / 6, 1 / 6],
            "lift": [1.0, 1.2, 0.0, 0.0],
        }
    )
    table = before_conversion(tiny_store(USERS, EVENTS), "BUY_PREMIUM", by="event_type")
    pd.testing.assert_frame_equal(table, expected, rtol=1e-12)


def test_a_later_conversion_event_is_not_a_use_before_the_first(tiny_store):
    # a buys twice; the second purchase lies in nobody's window before a first purchase.
    events = [*EVENTS, ("a", at(5, hour=12), "BUY_PREMIUM", "premium", 9.99)]
    table = before_conversion(tiny_store(USERS, events), "BUY_PREMIUM", by="event_type")
    assert "BUY_PREMIUM" not in table["event_type"].tolist()
    assert table["event_type"].tolist() == ["PLAY", "LIKE", "LOGIN", "SKIP"]


@pytest.mark.parametrize("lookback_days", [1, 30])
def test_first_day_converters_are_compared_with_the_first_hours_of_the_others(
    tiny_store, lookback_days
):
    # Segment-like: no areas, signup = first event, every user views a page then. c1..c3
    # order 4 hours after signup: tenure day 1, whose group (n1..n3; the converters bought
    # before it) viewed a page in [signup + 1 - lookback, signup + 1 day). Anchored at day 0,
    # the comparison windows would end at signup, before any use: share 0, no lift.
    signups = {
        "c1": at(0, hour=9),
        "c2": at(1, hour=14),
        "c3": at(2, hour=20),
        "n1": at(0, hour=11),
        "n2": at(1, hour=8),
        "n3": at(3, hour=2),
    }
    users = [(user, signup, "ads") for user, signup in signups.items()]
    hours = pd.Timedelta(hours=1)
    events = [
        (user, signup + offset * hours, "page_viewed", None, None)
        for user, signup in signups.items()
        for offset in (0, 1)
    ]
    events += [
        (user, signups[user] + 4 * hours, "order_completed", None, 20.0)
        for user in ("c1", "c2", "c3")
    ]
    events.append(("n1", at(6), "product_added", None, None))  # the data end, past day 1
    table = before_conversion(
        tiny_store(users, events), "order_completed", lookback_days=lookback_days, by="event_type"
    )
    assert table.to_dict("list") == {
        "event_type": ["page_viewed"],
        "converters_using": [3],
        "converter_share": [1.0],
        "comparison_share": [1.0],
        "lift": [1.0],
    }


# A date-only store (every time at 00:00): conversions lie whole days after signup (p and t
# on tenure day 3, q on day 7), so the tenure day is the same whether it is counted by floor
# or ceiling. The tables below were computed by the floor-anchored implementation and must
# not change. r's charts on its day 4 lies only in windows of days 5 and 6 (lookback 2),
# where nobody converted: listed with comparison share 0 and no lift.
DATE_USERS = [
    ("p", at(0), "ads"),
    ("q", at(1), "seo"),
    ("r", at(2), "ads"),
    ("s", at(0), "seo"),
    ("t", at(4), "ads"),
]
DATE_EVENTS = [
    ("p", at(0), "PLAY", "home", None),
    ("p", at(1), "PLAY", "search", None),
    ("p", at(3), "BUY_PREMIUM", "shop", 9.99),
    ("q", at(1), "PLAY", "home", None),
    ("q", at(2), "LIKE", "library", None),
    ("q", at(4), "PLAY", "search", None),
    ("q", at(8), "BUY_PREMIUM", "shop", 9.99),
    ("r", at(2), "PLAY", "home", None),
    ("r", at(3), "PLAY", "search", None),
    ("r", at(5), "LIKE", "library", None),
    ("r", at(6), "PLAY", "charts", None),
    ("s", at(0), "PLAY", "search", None),
    ("s", at(2), "SKIP", "radio", None),
    ("s", at(6), "PLAY", "home", None),
    ("t", at(4), "PLAY", "home", None),
    ("t", at(5), "LIKE", "library", None),
    ("t", at(7), "BUY_PREMIUM", "shop", 9.99),
    ("t", at(9), "PLAY", "radio", None),
]


def test_a_date_only_store_keeps_its_before_conversion_tables(tiny_store):
    engine = tiny_store(DATE_USERS, DATE_EVENTS)
    by_area = pd.DataFrame(
        {
            "area": ["library", "search", "home", "radio", "charts"],
            "converters_using": [1, 1, 0, 0, 0],
            "converter_share": [1 / 3, 1 / 3, 0.0, 0.0, 0.0],
            "comparison_share": [4 / 15, 4 / 15, 1 / 9, 2 / 15, 0.0],
            "lift": [1.25, 1.25, 0.0, 0.0, np.nan],
        }
    )
    by_type = pd.DataFrame(
        {
            "event_type": ["PLAY", "LIKE", "SKIP"],
            "converters_using": [3, 2, 0],
            "converter_share": [1.0, 2 / 3, 0.0],
            "comparison_share": [1.0, 22 / 45, 11 / 45],
            "lift": [1.0, 15 / 11, 0.0],
        }
    )
    pd.testing.assert_frame_equal(
        before_conversion(engine, "BUY_PREMIUM", lookback_days=2), by_area, rtol=1e-12
    )
    pd.testing.assert_frame_equal(
        before_conversion(engine, "BUY_PREMIUM", by="event_type"), by_type, rtol=1e-12
    )


def test_presence_and_converters_tell_why_a_table_is_empty(tiny_store):
    # From day 6: a's search, b's purchase, c's library, d's radio, search and LOGIN (no area).
    engine = tiny_store(USERS, EVENTS)
    late = Filters(start=at(6), area_prefix="zzz")
    assert feature_presence(engine, late) == FeaturePresence(events=6, with_feature=5)
    assert feature_presence(engine, late, "event_type") == FeaturePresence(6, 6)
    assert feature_presence(engine, late, all_time=True) == FeaturePresence(12, 11)
    # a's first purchase (day 5) falls before day 6: only b converts in the range.
    assert converter_count(engine, "BUY_PREMIUM", late) == 1
    assert converter_count(engine, "BUY_PREMIUM") == 2


def test_ranking_event_types_within_event_types_is_refused(tiny_store):
    with pytest.raises(UsagecastError) as raised:
        top_features(tiny_store(USERS, EVENTS), per_event_type=True, by="event_type")
    assert str(raised.value) == (
        "top-features: --per-event-type ranks product areas within each event type and "
        "cannot go with --by event_type, which ranks the event types themselves"
    )


# i3 was a jazz track until day 5 and rock from then on: an event reads the genre it had then.
ITEMS = [
    ("i1", "rock", None, None),
    ("i2", "jazz", None, None),
    ("i3", "jazz", at(0), at(5)),
    ("i3", "rock", at(5), None),
]
ITEM_EVENTS = [
    ("a", at(1), "PLAY", None, None, "i1"),
    ("a", at(2), "PLAY", None, None, "i3"),
    ("a", at(6), "PLAY", None, None, "i3"),
    ("a", at(6, hour=12), "BUY_PREMIUM", None, 9.99),
    ("b", at(2), "PLAY", None, None, "i2"),
    ("b", at(3), "PLAY", None, None),
    ("c", at(7), "PLAY", None, None, "i3"),
    ("d", at(12), "PLAY", None, None, "i9"),  # an item the catalogue lacks: no genre
]


def test_features_by_an_item_attribute_read_each_items_version_at_the_event(tiny_store):
    engine = tiny_store(USERS, ITEM_EVENTS, items=ITEMS)
    table = top_features(engine, by="item:genre")
    assert table.values.tolist() == [["rock", 2, 3, 0.5, 1], ["jazz", 2, 2, 0.5, 2]]
    assert list(table.columns) == ["item_genre", "users", "events", "user_share", "rank"]
    before = before_conversion(engine, "BUY_PREMIUM", by="item:genre")
    assert before[["item_genre", "converters_using"]].values.tolist() == [
        ["jazz", 1],
        ["rock", 1],
    ]
    presence = feature_presence(engine, by="item:genre")
    assert presence == FeaturePresence(events=8, with_feature=5)


def test_an_item_attribute_the_store_lacks_is_refused_with_those_it_has(tiny_store):
    with_items = tiny_store(USERS, ITEM_EVENTS, items=ITEMS)
    with pytest.raises(
        UsagecastError, match=r"item:mood .* \(categorical item attributes: genre\)"
    ):
        top_features(with_items, by="item:mood")
    without = tiny_store(USERS, EVENTS, name="plain.duckdb")
    with pytest.raises(UsagecastError, match=r"categorical item attributes: none"):
        before_conversion(without, "BUY_PREMIUM", by="item:genre")


@pytest.mark.spark
@pytest.mark.usefixtures("spark_session")
def test_duckdb_and_spark_give_the_same_tables_by_an_item_attribute(tiny_store, tmp_path):
    duck = tiny_store(USERS, ITEM_EVENTS, items=ITEMS)
    spark = SparkEngine(tmp_path / "events.duckdb")
    for compute in (
        lambda engine: top_features(engine, by="item:genre"),
        lambda engine: top_features(engine, per_event_type=True, by="item:genre"),
        lambda engine: before_conversion(engine, "BUY_PREMIUM", by="item:genre"),
    ):
        pd.testing.assert_frame_equal(compute(duck), compute(spark), check_dtype=False)


def test_an_unknown_grouping_column_is_refused(tiny_store):
    engine = tiny_store(USERS, EVENTS)
    for compute in (
        lambda: top_features(engine, by="user_id"),
        lambda: before_conversion(engine, "BUY_PREMIUM", by="user_id"),
    ):
        with pytest.raises(
            UsagecastError,
            match=r"by: must be one of area, event_type or item:ATTR \(a categorical item "
            r"attribute\), got 'user_id'",
        ):
            compute()


TYPES = ("A", "B", "C", "BUY")
random_events = st.lists(
    st.tuples(st.sampled_from("uvwxy"), st.integers(0, 40), st.sampled_from(TYPES)),
    max_size=30,
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    raw=random_events,
    prefix=st.sampled_from([None, "A", "B", "BU"]),
    start=st.sampled_from([None, 10]),
    lookback_days=st.integers(1, 15),
)
def test_areas_named_after_event_types_rank_like_the_event_types(
    raw, prefix, start, lookback_days
):
    """With every event's area set to its event type, by area and by event type are one
    table (up to the first column's name), whatever the filters."""
    users = [(user, at(index), "ads") for index, user in enumerate("uvwxy")]
    events = [(user, at(day, hour=day % 24), kind, kind, None) for user, day, kind in raw]
    filters = Filters(start=None if start is None else at(start), area_prefix=prefix)
    with tempfile.TemporaryDirectory() as folder:
        engine = DuckDBEngine(write_store(Path(folder) / "events.duckdb", users, events))
        try:
            for compute in (
                lambda by: top_features(engine, filters, by=by),
                lambda by: before_conversion(
                    engine, "BUY", filters, lookback_days=lookback_days, by=by
                ),
            ):
                by_area = compute("area").rename(columns={"area": "event_type"})
                pd.testing.assert_frame_equal(by_area, compute("event_type"), rtol=1e-12)
        finally:
            engine.close()


@pytest.mark.spark
@pytest.mark.usefixtures("spark_session")
def test_duckdb_and_spark_give_the_same_tables(tiny_store, tmp_path):
    duck = tiny_store(USERS, EVENTS)
    spark = SparkEngine(tmp_path / "events.duckdb")
    for compute in (
        lambda engine: top_features(engine, per_event_type=True),
        lambda engine: top_features(engine, Filters(area_prefix="s"), by="event_type"),
        lambda engine: before_conversion(engine, "BUY_PREMIUM"),
        lambda engine: before_conversion(engine, "BUY_PREMIUM", by="event_type"),
        lambda engine: pd.DataFrame(
            [
                {
                    **asdict(feature_presence(engine, Filters(start=at(6)))),
                    "converters": converter_count(engine, "BUY_PREMIUM", Filters(start=at(6))),
                }
            ]
        ),
        lambda engine: retention(engine),
        lambda engine: retention(engine, period="month", activity_events=["PLAY", "LIKE"]),
        lambda engine: channels(engine, "BUY_PREMIUM"),
    ):
        pd.testing.assert_frame_equal(compute(duck), compute(spark), check_dtype=False)
