"""Active users per period and growth accounting (new, retained, resurrected, churned),
checked by hand, against a plain-Python reference, on Spark and on a real-shaped export."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import mlflow
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics import Filters
from analytics.activity import active_users, period_number, period_start
from contracts.errors import UsagecastError
from events.store import EXPERIMENT_ASSIGNED
from usagecast_cli.main import main

from .conftest import EVENTS_CSV_CONFIG, at, ingest_export

USERS = [
    *[(name, at(-30), "ads") for name in ("a", "b")],
    *[(name, at(-30), "seo") for name in ("c", "e")],
    ("d", at(0), "seo"),
]
# DAY0 (2024-01-01) is a Monday: week k holds days 7k..7k+6.
EVENTS = [
    ("a", at(1), "PLAY", "home", None),  # week 0: new
    ("a", at(8), "PLAY", "home", None),  # week 1: retained; week 2: churned
    ("a", at(22), "LIKE", "shop", None),  # week 3: resurrected; the data ends after it
    ("b", at(2), "PLAY", "home", None),  # week 0: new, two active days
    ("b", at(3, 5), "BUY", "shop", 4.0),
    ("b", at(3, 9), "PLAY", "home", None),  # a second event on the same day: one user-day
    ("c", at(9), "PLAY", "home", None),  # week 1: new (b churned)
    ("c", at(15), "PLAY", "home", None),  # week 2: retained
    ("d", at(3), EXPERIMENT_ASSIGNED, "treatment", None),  # an exposure: no activity
    ("d", at(16), "PLAY", "home", None),  # week 2: new
    ("e", at(13, 23), "PLAY", "home", None),  # Sunday night: week 1 (new), churned in week 2
]


def _counts(table: pd.DataFrame) -> list[list[int]]:
    columns = ["active_users", "new_users", "retained_users", "resurrected_users"]
    return table[[*columns, "churned_users"]].to_numpy().tolist()


def test_weeks_split_active_users_by_what_they_did_the_week_before(tiny_store):
    table = active_users(tiny_store(USERS, EVENTS), period="week")
    assert table["period"].tolist() == [at(0), at(7), at(14), at(21)]
    assert _counts(table) == [[2, 2, 0, 0, 0], [3, 2, 1, 0, 1], [2, 1, 1, 0, 2], [1, 0, 0, 1, 2]]
    assert table["quick_ratio"].tolist()[1:] == [2.0, 0.5, 0.5]
    assert np.isnan(table["quick_ratio"].iloc[0])  # nobody churned yet
    # Week 0: a on day 1, b on days 2 and 3 over 7 days; week 3: the data covers days 21-22.
    assert table["avg_daily_active"].tolist() == pytest.approx([3 / 7, 3 / 7, 2 / 7, 1 / 2])
    assert table["stickiness"].tolist() == pytest.approx([3 / 14, 1 / 7, 1 / 7, 1 / 2])
    assert table["partial"].tolist() == [False, False, False, True]


def test_filters_activity_events_and_the_start_keep_the_history(tiny_store):
    engine = tiny_store(USERS, EVENTS)
    ads = active_users(engine, Filters(segment="channel = 'ads'"), period="week")
    assert _counts(ads) == [[2, 2, 0, 0, 0], [1, 0, 1, 0, 1], [0, 0, 0, 0, 1], [1, 0, 0, 1, 0]]
    assert np.isnan(ads["stickiness"].iloc[2])  # nobody active: no share
    shop = active_users(engine, Filters(area_prefix="shop"), period="week")
    assert shop["period"].tolist() == [at(0), at(7), at(14), at(21)]
    assert _counts(shop) == [[1, 1, 0, 0, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0], [1, 1, 0, 0, 0]]
    plays = active_users(engine, period="week", activity_events=("LIKE", "BUY"))
    assert _counts(plays) == _counts(shop)
    # From week 2 on: a and c are still retained or churned by what they did before.
    later = active_users(engine, Filters(start=at(16)), period="week")
    assert later["period"].tolist() == [at(14), at(21)]
    assert _counts(later) == _counts(active_users(engine, period="week"))[2:]
    # The range's end ends the data: week 1 is the last, and partial.
    early = active_users(engine, Filters(end=at(10)), period="week")
    assert _counts(early) == [[2, 2, 0, 0, 0], [2, 1, 1, 0, 1]]
    assert early["partial"].tolist() == [False, True]
    assert early["avg_daily_active"].iloc[1] == pytest.approx(2 / 3)  # days 7-9 observed


def test_days_and_months(tiny_store):
    engine = tiny_store(USERS, EVENTS)
    days = active_users(engine, period="day")
    assert days["period"].iloc[0] == at(1) and days["period"].iloc[-1] == at(22)
    assert len(days) == 22 and "stickiness" not in days.columns
    assert days.set_index("period").loc[at(3), "active_users"] == 1  # b; d's exposure is none
    assert days.set_index("period").loc[at(4), "churned_users"] == 1  # b, after day 3
    months = active_users(engine, period="month")
    assert _counts(months) == [[5, 5, 0, 0, 0]]
    # 9 user-days (a 3, b 2, c 2, d 1, e 1) over the 23 days from Jan 1 the data covers.
    assert months["avg_daily_active"].tolist() == pytest.approx([9 / 23])
    assert months["partial"].tolist() == [True]
    empty = active_users(engine, Filters(segment="channel = 'tv'"))
    assert empty.empty and "stickiness" in empty.columns


def test_a_breakdown_is_each_values_table_over_the_same_periods(tiny_store):
    users = [*USERS, ("f", at(-30), None)]
    engine = tiny_store(users, [*EVENTS, ("f", at(10), "PLAY", "home", None)])
    table = active_users(engine, period="week", breakdown="channel")
    assert table.columns[0] == "channel"
    assert table["channel"].unique().tolist() == ["(missing)", "ads", "seo"]
    for value, part in table.groupby("channel"):
        assert part["period"].tolist() == [at(0), at(7), at(14), at(21)]
        if value != "(missing)":  # seo's first active week is week 1: compare from there
            alone = active_users(engine, Filters(segment=f"channel = '{value}'"), period="week")
            pd.testing.assert_frame_equal(
                part.drop(columns="channel").tail(len(alone)).reset_index(drop=True), alone
            )
    assert _counts(table[table["channel"] == "(missing)"]) == [
        [0, 0, 0, 0, 0],
        [1, 1, 0, 0, 0],
        [0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0],
    ]
    # Users are split, not copied: the values' counts add up to the whole table's.
    summed = table.groupby("period")[list(table.columns[2:7])].sum().to_numpy().tolist()
    assert summed == _counts(active_users(engine, period="week"))
    with pytest.raises(UsagecastError, match="'plan' is not a user attribute; known: channel"):
        active_users(engine, breakdown="plan")
    # By signup month: a, b, c, e and f signed up in December, d in January.
    cohorts = active_users(engine, period="week", breakdown="signup_month")
    assert cohorts["signup_month"].unique().tolist() == ["2023-12-01", "2024-01-01"]
    january = cohorts[cohorts["signup_month"] == "2024-01-01"]
    assert january["active_users"].tolist() == [0, 0, 1, 0]  # d, in week 2
    assert cohorts.groupby("period")["active_users"].sum().tolist() == [
        row[0] for row in _counts(active_users(engine, period="week"))
    ]


@pytest.mark.parametrize("period", ["day", "week", "month"])
@pytest.mark.parametrize("moment", ["1999-12-31 23:59", "2024-01-01", "2024-02-29 12:00"])
def test_a_periods_number_and_its_first_day_agree(period, moment):
    moment = pd.Timestamp(moment)
    start = period_start(period_number(moment, period), period)
    assert start <= moment < period_start(period_number(moment, period) + 1, period)
    assert period != "week" or start.day_name() == "Monday"


def reference(events: list[tuple], period: str, end: datetime) -> pd.DataFrame:
    """The counts in plain Python: sets of active users per period start."""

    def first_day(moment: datetime) -> datetime:
        day = datetime(moment.year, moment.month, moment.day)
        if period == "week":
            return day - timedelta(days=day.weekday())
        return day.replace(day=1) if period == "month" else day

    def following(start: datetime) -> datetime:
        if period == "month":
            return (start + timedelta(days=32)).replace(day=1)
        return start + timedelta(days=7 if period == "week" else 1)

    active: dict[datetime, set[str]] = {}
    for user, moment, *_ in events:
        active.setdefault(first_day(moment), set()).add(user)
    starts = [min(active)]
    while following(starts[-1]) < end:
        starts.append(following(starts[-1]))
    seen: set[str] = set()
    rows, previous = [], set()
    for start in starts:
        now = active.get(start, set())
        retained, resurrected = now & previous, (now & seen) - previous
        rows.append([len(now), len(now - seen), len(retained), len(resurrected)])
        rows[-1].append(len(previous - now))
        seen |= now
        previous = now
    return pd.DataFrame(
        rows, index=pd.Index(starts, name="period"), columns=["a", "n", "r", "s", "c"]
    )


EVENT = st.tuples(
    st.sampled_from(["a", "b", "c", "d"]),
    st.integers(0, 70 * 4).map(lambda steps: datetime(2024, 1, 25) + timedelta(hours=6 * steps)),
)
STORES = itertools.count()


@pytest.mark.slow  # a store per example
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    events=st.lists(EVENT, min_size=1, max_size=30),
    period=st.sampled_from(["day", "week", "month"]),
)
def test_the_counts_are_the_reference_sets(tiny_store, events, period):
    rows = [(user, moment, "PLAY", "home", None) for user, moment in events]
    engine = tiny_store(USERS, rows, name=f"store-{next(STORES)}.duckdb")
    table = active_users(engine, period=period)
    end = max(moment for _, moment in events) + timedelta(seconds=1)
    expected = reference(rows, period, end)
    assert table["period"].tolist() == expected.index.tolist()
    assert _counts(table) == expected.to_numpy().tolist()


@pytest.mark.spark
def test_spark_counts_the_same(duck_and_spark):
    duck, spark = duck_and_spark(USERS, EVENTS)
    for period in ("day", "week", "month"):
        pd.testing.assert_frame_equal(
            active_users(spark, Filters(segment="channel = 'ads'"), period=period),
            active_users(duck, Filters(segment="channel = 'ads'"), period=period),
        )
    pd.testing.assert_frame_equal(
        active_users(spark, breakdown="channel"), active_users(duck, breakdown="channel")
    )


# A SaaS export as users bring one: a BOM, dates without times, ids written as floats by a
# spreadsheet, a blank id (quarantined) and a duplicated row.
EXPORT_EVENTS = """\ufeffAccount ID,Date,Event
7.0,2024-03-04,login
7.0,2024-03-04,login
7.0,2024-03-05,report
8.0,2024-03-06,login
,2024-03-06,login
7.0,2024-03-12,login
9.0,2024-03-13,login
8.0,2024-03-20,login
"""


def test_cli_active_users_on_a_date_only_export(tmp_path, capsys):
    ingest_export(tmp_path, {"events.csv": EXPORT_EVENTS}, EVENTS_CSV_CONFIG)
    capsys.readouterr()
    assert main(["analytics", "active-users", "--period", "week", "--log"]) == 0
    out = capsys.readouterr().out
    # Weeks of Mar 4 (7 and 8 new), Mar 11 (7 retained, 9 new; 8 churned), Mar 18 (8
    # resurrected; 7 and 9 churned): the data ends with Mar 20, so that week is partial.
    rows = [line.split() for line in out.splitlines()[2:5]]
    assert [row[:7] for row in rows] == [
        ["2024-03-04", "2", "2", "0", "0", "0", "NaN"],
        ["2024-03-11", "2", "1", "1", "0", "1", "1"],
        ["2024-03-18*", "1", "0", "0", "1", "2", "0.5"],
    ]
    assert "* partial week" in out
    (run,) = mlflow.search_runs(experiment_names=["analytics"], output_format="list")
    assert run.data.params["period"] == "week"
    artifacts = {item.path for item in mlflow.MlflowClient().list_artifacts(run.info.run_id)}
    assert artifacts == {"active_users.csv", "active_users.parquet", "active_users.png"}
    assert main(["analytics", "active-users", "--activity-event", "export"]) == 2
    assert "export" in capsys.readouterr().err
    assert main(["analytics", "active-users", "--breakdown", "plan"]) == 2
    assert "'plan' is not a user attribute; known: signup_time" in capsys.readouterr().err
