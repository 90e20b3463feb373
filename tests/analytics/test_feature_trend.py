"""The features' trend (top-features --period): each feature's share of each period's active
users, worked by hand, against top-features over each period, on Spark and on a real-shaped
export."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest

from analytics import Filters, top_features
from analytics.plots import lines
from analytics.usage import feature_trend, trend_shares
from usagecast_cli.main import main

from .conftest import EVENTS_CSV_CONFIG, at, ingest_export
from .test_activity import EXPORT_EVENTS
from .test_usage import EVENTS, USERS


def _rows(table: pd.DataFrame, name: str = "area") -> list[list]:
    return table[[name, "users", "events", "active_users", "rank"]].to_numpy().tolist()


def test_each_weeks_features_are_ranked_among_its_active_users(tiny_store):
    trend = feature_trend(tiny_store(USERS, EVENTS), period="week")
    weeks = trend.groupby("period", sort=True)
    assert list(weeks.groups) == [at(0), at(7), at(14)]
    first, second, third = (part for _, part in weeks)
    # Week 0: a, b and c active; search by all three (4 events), the others by one each.
    assert _rows(first) == [
        ["search", 3, 4, 3, 1],
        ["library", 1, 1, 3, 2],
        ["premium", 1, 1, 3, 3],
        ["radio", 1, 1, 3, 4],
    ]
    assert first["user_share"].tolist() == pytest.approx([1, 1 / 3, 1 / 3, 1 / 3])
    assert _rows(second) == [["premium", 1, 1, 2, 1], ["radio", 1, 1, 2, 2]]
    # Week 2: d's login has no area, yet d is one of the week's 2 active users.
    assert _rows(third) == [["library", 1, 1, 2, 1], ["search", 1, 1, 2, 2]]
    assert third["user_share"].tolist() == [0.5, 0.5]
    # The data ends a second into day 20: week 2 (days 14-20) is partial.
    assert trend.groupby("period")["partial"].first().tolist() == [False, False, True]


def test_a_periods_features_are_top_features_over_that_period(tiny_store):
    engine = tiny_store(USERS, EVENTS)
    trend = feature_trend(engine, Filters(segment="channel = 'ads'"), period="week", by="area")
    for start, part in trend.groupby("period"):
        week = Filters(segment="channel = 'ads'", start=start, end=start + pd.Timedelta(days=7))
        alone = top_features(engine, week)
        assert part["area"].tolist() == alone["area"].tolist()
        assert part["user_share"].tolist() == pytest.approx(alone["user_share"].tolist())
    months = feature_trend(engine, period="month", by="event_type")
    assert months["period"].unique().tolist() == [at(0)] and months["partial"].all()
    assert (
        months["event_type"].tolist()
        == top_features(engine, by="event_type")["event_type"].tolist()
    )
    # A start inside a week cuts that week short: partial, its counts from day 3 on only.
    late = feature_trend(engine, Filters(start=at(3)), period="week")
    assert late.loc[late["period"] == at(0), "partial"].all()
    assert _rows(late[late["period"] == at(0)])[0] == ["library", 1, 1, 2, 1]
    assert feature_trend(engine, Filters(segment="channel = 'tv'")).empty


def test_the_shares_for_reading_follow_the_most_used_features(tiny_store):
    trend = feature_trend(tiny_store(USERS, EVENTS), period="week")
    wide = trend_shares(trend, "area", top=6)
    assert wide.columns.tolist() == ["period", "search", "library", "premium", "radio"]
    assert wide["period"].tolist() == ["2024-01-01", "2024-01-08", "2024-01-15*"]
    expected = [1, 1 / 3, 1 / 3, 1 / 3, 0, 0, 0.5, 0.5, 0.5, 0.5, 0, 0]  # a row per week
    assert wide.iloc[:, 1:].to_numpy().ravel().tolist() == pytest.approx(expected)
    assert trend_shares(trend, "area", top=2).columns.tolist() == ["period", "search", "library"]


def test_the_plot_dashes_the_way_to_a_partial_period(tiny_store):
    trend = feature_trend(tiny_store(USERS, EVENTS), period="week")
    axes = lines(trend, "period", "user_share", "area", "t", partial="partial").axes[0]
    # search and library were used in week 2, the partial one; premium and radio were not.
    assert len([line for line in axes.lines if line.get_linestyle() == "--"]) == 2
    assert len([line for line in axes.lines if line.get_markerfacecolor() == "none"]) == 2
    assert "partial period" in axes.get_xlabel()
    plain = lines(trend, "period", "user_share", "area", "t").axes[0]
    assert {line.get_linestyle() for line in plain.lines} == {"-"} and len(plain.lines) == 4


@pytest.mark.spark
def test_spark_gives_the_same_trend(duck_and_spark):
    duck, spark = duck_and_spark(USERS, EVENTS)
    for period in ("day", "week", "month"):
        pd.testing.assert_frame_equal(
            feature_trend(spark, period=period), feature_trend(duck, period=period)
        )


def test_cli_trend_of_event_types_on_a_date_only_export(tmp_path, capsys):
    ingest_export(tmp_path, {"events.csv": EXPORT_EVENTS}, EVENTS_CSV_CONFIG)
    capsys.readouterr()
    args = ["analytics", "top-features", "--by", "event_type", "--period", "week"]
    assert main([*args, "--log"]) == 0
    out = capsys.readouterr().out
    # Week of Mar 4: 7 and 8 log in, 7 reports; Mar 11: 7 and 9 log in; Mar 18 (the data ends
    # with Mar 20): 8 logs in.
    assert [line.split() for line in out.splitlines()[1:5]] == [
        ["period", "login", "report"],
        ["2024-03-04", "1", "0.5"],
        ["2024-03-11", "1", "0"],
        ["2024-03-18*", "1", "0"],
    ]
    assert "* partial week" in out
    (run,) = mlflow.search_runs(experiment_names=["analytics"], output_format="list")
    assert run.data.params["period"] == "week"
    artifacts = {item.path for item in mlflow.MlflowClient().list_artifacts(run.info.run_id)}
    assert artifacts == {"feature_trend.csv", "feature_trend.parquet", "feature_trend.png"}
    assert main([*args, "--limit", "1"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[2].split() == ["2024-03-18*", "1", "0"]
    assert "(2 earlier weeks not shown; --limit 0 shows all)" in out
    assert main([*args, "--per-event-type"]) == 2
    assert "--period cannot go with --per-event-type" in capsys.readouterr().err
