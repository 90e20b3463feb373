"""Retention, channels and LTV on hand-built logs, answers worked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from analytics import Filters, channels, ltv, retention
from analytics.plots import heatmap
from analytics.retention import marked_retention, partial_mask, period_columns

from .conftest import at

# 2024-01-01 (day 0) is a Monday.
RETENTION_USERS = [("a", at(0), "ads"), ("b", at(2), "seo"), ("c", at(8), "ads")]
RETENTION_EVENTS = [
    ("a", at(1), "PLAY", "search", None),
    ("a", at(8), "PLAY", "search", None),
    ("b", at(15), "PLAY", "search", None),
    ("c", at(9), "PLAY", "radio", None),
    ("c", at(20), "PLAY", "radio", None),
]
# The same with a time of day on the last event (timestamp data, not date-only).
TIMED_RETENTION_EVENTS = [*RETENTION_EVENTS[:-1], ("c", at(20, 12), "PLAY", "radio", None)]


def test_weekly_retention_matrix(tiny_store):
    table = retention(tiny_store(RETENTION_USERS, RETENTION_EVENTS))
    assert table["users"].tolist() == [2, 1]
    assert table[["0", "1", "2"]].iloc[0].tolist() == [0.5, 0.5, 0.5]
    # Week 2 of the second cohort starts on day 22, after the last event: not observed.
    assert table[["0", "1"]].iloc[1].tolist() == [1.0, 1.0]
    assert np.isnan(table["2"].iloc[1])


def test_the_period_running_at_the_end_of_the_data_is_partial(tiny_store):
    # The last event is at noon on day 20 (a Sunday): the data end one second later, and
    # week 2 of the first cohort and week 1 of the second run until day 21, past the end.
    table = retention(tiny_store(RETENTION_USERS, TIMED_RETENTION_EVENTS))
    assert table["partial_period"].tolist() == [2, 1]
    assert partial_mask(table).to_numpy().tolist() == [
        [False, False, True],
        [False, True, False],
    ]
    shown = marked_retention(table)
    assert list(shown.columns) == ["cohort", "users", "0", "1", "2"]
    assert shown[["0", "1", "2"]].to_numpy().tolist() == [["0.5", "0.5", "0.5*"], ["1", "1*", ""]]


def test_date_only_data_end_with_their_last_date(tiny_store):
    # Every event at 00:00: the data cover day 20 whole and end on day 21, a Monday.
    table = retention(tiny_store(RETENTION_USERS, RETENTION_EVENTS))
    assert table["partial_period"].isna().all()


def test_periods_ending_with_the_data_are_complete(tiny_store):
    # Ending exactly on a Monday closes every started week.
    table = retention(tiny_store(RETENTION_USERS, RETENTION_EVENTS), Filters(end=at(21)))
    assert table["partial_period"].isna().all()
    assert not partial_mask(table).to_numpy().any()


def test_a_started_period_nobody_came_back_in_is_zero_not_missing(tiny_store):
    # Week 3 of the first cohort (days 21-27) has no events but ended with the data.
    table = retention(tiny_store(RETENTION_USERS, RETENTION_EVENTS), Filters(end=at(28)))
    assert period_columns(table) == ["0", "1", "2", "3"]
    assert table["3"].iloc[0] == 0.0 and table["2"].iloc[1] == 0.0
    assert np.isnan(table["3"].iloc[1]) and table["partial_period"].isna().all()


def test_monthly_partial_period(tiny_store):
    # One January cohort; the data end on day 20: January itself is still running.
    table = retention(tiny_store(RETENTION_USERS, RETENTION_EVENTS), period="month")
    assert period_columns(table) == ["0"] and table["partial_period"].tolist() == [0]
    engine = tiny_store(RETENTION_USERS, RETENTION_EVENTS, name="month_end.duckdb")
    whole = retention(engine, Filters(end=at(31)), period="month")
    assert period_columns(whole) == ["0"] and whole["partial_period"].isna().all()
    february = retention(engine, Filters(end=at(31, 1)), period="month")
    assert period_columns(february) == ["0", "1"] and february["partial_period"].tolist() == [1]


def test_the_heatmap_hatches_partial_cells_only(tiny_store):
    table = retention(tiny_store(RETENTION_USERS, TIMED_RETENTION_EVENTS))
    figure = heatmap(table[period_columns(table)], "t", "weeks", "cohort", partial_mask(table))
    axes = figure.axes[0]
    hatched = [(patch.get_x(), patch.get_y()) for patch in axes.patches if patch.get_hatch()]
    assert sorted(hatched) == [(0.5, 0.5), (1.5, -0.5)]
    assert {text.get_text() for text in axes.texts} >= {"0.50*", "1.00*", "0.50", "1.00"}
    plain = heatmap(table[period_columns(table)], "t", "weeks", "cohort")
    assert not plain.axes[0].patches


def test_only_the_named_activity_events_retain(tiny_store):
    events = [*RETENTION_EVENTS, ("a", at(15), "cancel", None, None)]
    engine = tiny_store(RETENTION_USERS, events)
    assert retention(engine)["2"].tolist()[0] == 1.0
    plays = retention(engine, activity_events=["PLAY"])
    assert plays["2"].tolist()[0] == 0.5 and plays["1"].tolist() == [0.5, 1.0]


def test_retention_filters_cohorts_by_segment_and_area(tiny_store):
    engine = tiny_store(RETENTION_USERS, RETENTION_EVENTS)
    ads = retention(engine, Filters(segment="channel = 'ads'", area_prefix="radio"))
    assert ads["users"].tolist() == [1, 1]
    assert ads[["0", "1"]].iloc[0].tolist() == [0.0, 0.0]
    assert ads[["0", "1"]].iloc[1].tolist() == [1.0, 1.0]
    monthly = retention(engine, Filters(start=at(1)), period="month")
    assert monthly["users"].tolist() == [2] and monthly["0"].tolist() == [1.0]


VALUE_USERS = [
    ("a", at(0), "ads"),
    ("b", at(0), "ads"),
    ("c", at(0), "seo"),
    ("d", at(0), None),
]
VALUE_EVENTS = [
    ("a", at(1), "BUY", "premium", 10.0),
    ("a", at(35), "BUY", "premium", 20.0),
    ("a", at(100), "PLAY", "search", None),
    ("b", at(2), "PLAY", "search", None),
    ("c", at(5), "BUY", "premium", 6.0),
    ("c", at(65), "PLAY", "radio", None),
]


def test_channels_table_with_lift_and_gains(tiny_store):
    table = channels(tiny_store(VALUE_USERS, VALUE_EVENTS), "BUY").set_index("channel")
    assert table.index.tolist() == ["seo", "ads", "(missing)"]
    assert table["users"].tolist() == [1, 2, 1]
    assert table["active_users"].tolist() == [1, 2, 0]
    assert table["conversion_rate"].tolist() == [1.0, 0.5, 0.0]
    assert table["revenue_per_user"].tolist() == [6.0, 15.0, 0.0]
    assert table["actions_per_user_PLAY"].tolist() == [1.0, 1.0, 0.0]
    assert table["lift"].tolist() == [2.0, 1.0, 0.0]
    assert table["cum_users_share"].tolist() == [0.25, 0.75, 1.0]
    assert table["cum_conversions_share"].tolist() == [0.5, 1.0, 1.0]


def test_channels_reject_an_unknown_channel_attribute(tiny_store):
    from contracts.errors import UsagecastError

    with pytest.raises(UsagecastError, match="'campaign' is not a user attribute"):
        channels(tiny_store(VALUE_USERS, VALUE_EVENTS), "BUY", channel="campaign")


def test_ltv_by_the_documented_formula(tiny_store):
    # ads: periods a {0, 1, 3}, b {0}; only periods 0 and 1 have a fully elapsed next period
    # (the data end on day 100): 3 at risk, 1 retained -> L = 1 / (1 - 1/3) = 1.5.
    # LTV = AOV 15 x frequency 2/4 x 1.5. seo: r = 0 -> L = 1; LTV = 6 x 1/2 x 1.
    per_channel, per_user = ltv(tiny_store(VALUE_USERS, VALUE_EVENTS), ["BUY"])
    per_channel = per_channel.set_index("channel")
    assert per_channel.loc["ads", "retention"] == pytest.approx(1 / 3)
    assert per_channel.loc["ads", "ltv"] == pytest.approx(11.25)
    assert per_channel.loc["seo", "ltv"] == pytest.approx(3.0)
    assert np.isnan(per_channel.loc["(missing)", "ltv"])
    assert per_user["user_id"].tolist() == ["a", "c", "b", "d"]
    assert per_user["ltv"].tolist() == pytest.approx([15.0, 3.0, 0.0, 0.0])
    assert per_user["rank"].tolist() == [1, 2, 3, 4]
