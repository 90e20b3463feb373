"""Time to convert: the follow-up of each user, the Kaplan-Meier shares by day, checked by
hand, against a plain-Python product-limit reference, on Spark and on a real-shaped export."""

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
from analytics.conversion_time import (
    Adoption,
    conversion_time_table,
    converted_shares,
    follow_up,
    parse_adoption,
    time_to_convert,
)
from contracts.errors import UsagecastError
from events.store import EXPERIMENT_ASSIGNED
from usagecast_cli.main import main

from .conftest import DAY0, at, ingest_export

DAY = 86_400
USERS = [
    ("a", at(0), "ads"),
    ("b", at(0), "ads"),
    ("c", at(0), "seo"),
    ("d", at(4), "seo"),
    ("e", at(9), None),
    ("f", at(20), "ads"),  # signed up after the data's end (day 12): not in the cohort
]
EVENTS = [
    ("a", at(0, 6), "BUY", "shop", 9.0),  # 6 hours after signup: day 0
    ("a", at(3), "BUY", "shop", 9.0),  # a second purchase: only the first counts
    ("b", at(-1), "BUY", "shop", 9.0),  # before signup: does not count
    ("b", at(2, 12), "BUY", "shop", 9.0),  # 2.5 days after signup: day 2
    ("c", at(1), "PLAY", "home", None),  # never buys: followed to the end, day 12
    ("d", at(5), "PLAY", "home", None),  # never buys: followed for 8 days
    ("e", at(11), "BUY", "shop", 9.0),  # 2 days after signup
    ("c", at(11, 23), "PLAY", "home", None),  # the last event: the data ends 1 s after it
]


def test_each_user_is_followed_to_their_first_conversion_or_the_end(tiny_store):
    users = follow_up(tiny_store(USERS, EVENTS), "BUY").sort_values("user_id")
    end = 11 * DAY + 23 * 3600 + 1
    assert users["user_id"].tolist() == ["a", "b", "c", "d", "e"]
    hours = 3600
    assert users["seconds"].tolist() == [6 * hours, 2.5 * DAY, end, end - 4 * DAY, 2 * DAY]
    assert users["converted"].tolist() == [True, True, False, False, True]


def test_the_shares_are_kaplan_meier_not_converters_over_everyone(tiny_store):
    result = time_to_convert(tiny_store(USERS, EVENTS), "BUY", days=10)
    curve = result.curve.set_index("day")
    # Day 0: a of 5; day 2: b and e of the 4 left; d leaves at day 7 unconverted; c at 11.
    assert curve.loc[0, ["at_risk", "converted", "censored"]].tolist() == [5, 1, 0]
    assert curve.loc[2, ["at_risk", "converted", "censored"]].tolist() == [4, 2, 0]
    assert curve.loc[7, ["at_risk", "converted", "censored"]].tolist() == [2, 0, 1]
    assert curve["at_risk"].tolist()[-2:] == [1, 1]
    shares = curve["converted_share"].tolist()
    assert shares[:3] == pytest.approx([1 / 5, 1 / 5, 1 - 4 / 5 * 2 / 4])
    assert shares[-1] == pytest.approx(0.6)  # d's censoring changes nothing after day 2
    summary = result.summary.iloc[0]
    assert summary[["users", "converted", "observed_whole_window"]].tolist() == [5, 3, 4]
    assert summary["converted_share"] == pytest.approx(0.6)
    assert summary["median_days_to_convert"] == pytest.approx(2.0)  # 0.25, 2, 2.5 days
    # Censoring is what moves the estimate: with d followed to day 7 and then converting on
    # day 8, the share by day 9 rises by d's step over the 2 at risk (c and d).
    later = [*EVENTS, ("d", at(11, 12), "BUY", "shop", 9.0)]
    shares = time_to_convert(tiny_store(USERS, later, name="later.duckdb"), "BUY", days=10)
    assert shares.curve["converted_share"].iloc[-1] == pytest.approx(1 - 2 / 5 * 1 / 2)


def test_filters_choose_the_cohort_by_signup_and_end_the_data(tiny_store):
    engine = tiny_store(USERS, EVENTS)
    ads = time_to_convert(engine, "BUY", Filters(segment="channel = 'ads'"), days=3)
    assert ads.summary[["users", "converted"]].iloc[0].tolist() == [2, 2]
    assert ads.curve["converted_share"].tolist() == pytest.approx([0.5, 0.5, 1.0])
    later = follow_up(engine, "BUY", Filters(start=at(1)))
    assert sorted(later["user_id"]) == ["d", "e"]
    # The range's end ends the data: e signed up on day 9 and converts only on day 11.
    early = follow_up(engine, "BUY", Filters(end=at(10))).set_index("user_id")
    assert early.loc["e", ["seconds", "converted"]].tolist() == [DAY, False]
    assert not early.loc["a", "converted"] or early.loc["a", "seconds"] == 6 * 3600
    with pytest.raises(UsagecastError, match="an area filter and activity events go with"):
        follow_up(engine, "BUY", Filters(area_prefix="shop"))
    with pytest.raises(UsagecastError, match="a window of 0 days after signup: must be at least"):
        time_to_convert(engine, "BUY", days=0)
    nobody = time_to_convert(engine, "BUY", Filters(segment="channel = 'tv'"), days=2)
    assert nobody.summary["users"].tolist() == [0]
    assert nobody.curve["converted_share"].isna().all()


TRIALS = [
    ("a", at(1), "TRIAL", "shop", None),  # a buys on day 3: 2 days later (day 0's not counted)
    ("b", at(3), "TRIAL", "shop", None),  # b bought on day 2.5 only: before the trial
    ("c", at(2), "TRIAL", "shop", None),
    ("c", at(5), "TRIAL", "shop", None),  # a second trial: the first one starts the clock
    ("e", at(10), "TRIAL", "shop", None),  # e buys on day 11
]


def test_a_start_event_starts_each_users_clock_at_its_first_one(tiny_store):
    engine = tiny_store(USERS, [*EVENTS, *TRIALS])
    users = follow_up(engine, "BUY", start_event="TRIAL").set_index("user_id")
    end = 11 * DAY + 23 * 3600 + 1
    assert users.index.tolist() == ["a", "b", "c", "e"]  # d never started a trial
    assert users["seconds"].tolist() == [2 * DAY, end - 3 * DAY, end - 2 * DAY, DAY]
    assert users["converted"].tolist() == [True, False, False, True]
    # The range chooses the start: from day 2 on, a's trial is out and c's first is day 2.
    later = follow_up(engine, "BUY", Filters(start=at(2)), start_event="TRIAL")
    assert sorted(later["user_id"]) == ["b", "c", "e"]
    result = time_to_convert(engine, "BUY", days=3, start_event="TRIAL")
    assert result.summary[["users", "converted", "median_days_to_convert"]].iloc[0].tolist() == [
        4,
        2,
        1.5,
    ]
    with pytest.raises(UsagecastError, match="'BUY' is both the start and the conversion"):
        follow_up(engine, "BUY", start_event="BUY")


def test_a_breakdown_gives_each_values_curve(tiny_store):
    engine = tiny_store(USERS, EVENTS)
    result = time_to_convert(engine, "BUY", days=5, breakdown="channel")
    assert result.summary["channel"].tolist() == ["(missing)", "ads", "seo"]
    assert result.summary["users"].tolist() == [1, 2, 2]
    assert result.curve.columns[0] == "channel" and len(result.curve) == 15
    for value in ("ads", "seo"):
        alone = time_to_convert(engine, "BUY", Filters(segment=f"channel = '{value}'"), days=5)
        part = result.curve[result.curve["channel"] == value].drop(columns="channel")
        pd.testing.assert_frame_equal(part.reset_index(drop=True), alone.curve)
    with pytest.raises(UsagecastError, match="'plan' is not a user attribute"):
        time_to_convert(engine, "BUY", breakdown="plan")
    # Signup cohorts: a to d signed up in the week of Monday Jan 1, e on Wednesday Jan 10.
    weekly = time_to_convert(engine, "BUY", days=5, breakdown="signup_week").summary
    assert weekly[["signup_week", "users", "converted"]].to_numpy().tolist() == [
        ["2024-01-01", 4, 2],
        ["2024-01-08", 1, 1],
    ]


ADOPTION_USERS = [
    ("a", at(0), "ads"),
    ("b", at(0), "seo"),
    ("c", at(0, 12), "seo"),
    ("d", at(1), "ads"),
]
ADOPTION_EVENTS = [
    ("a", at(0, 1), "PLAY", "home", None),
    ("a", at(1, 5), "PLAY", "home", None),
    ("a", at(1, 7), "PLAY", "home", None),  # a second event on a date: still one active day
    ("a", at(2, 9), "PLAY", "home", None),  # the third date in a row: adopted here
    ("b", at(0, 3), "PLAY", "home", None),
    ("b", at(3), "PLAY", "home", None),
    ("b", at(7), "PLAY", "home", None),  # dates 0, 3, 7: 8 days, not inside 7
    ("b", at(8), "PLAY", "home", None),  # dates 3, 7, 8: adopted
    ("c", at(0, 6), "PLAY", "home", None),  # before signup: not an active day of c's
    ("c", at(1), "PLAY", "home", None),
    ("c", at(2), "PLAY", "home", None),
    ("c", at(3), EXPERIMENT_ASSIGNED, "treatment", None),  # an exposure: not activity
    ("d", at(1), "BUY", "shop", 9.0),
    ("d", at(2), "PLAY", "home", None),
    ("d", at(3), "PLAY", "home", None),  # adopted with the purchase's date, not without it
    ("a", at(9, 23), "PLAY", "home", None),  # the data ends a second after it
]


def test_adoption_is_the_first_date_completing_the_active_days(tiny_store):
    engine = tiny_store(ADOPTION_USERS, ADOPTION_EVENTS)
    end = 9 * DAY + 23 * 3600 + 1

    def followed(adoption: Adoption, **options) -> list[tuple[int, bool]]:
        users = follow_up(engine, adoption, **options).sort_values("user_id")
        return list(zip(users["seconds"], users["converted"], strict=True))

    hours = 3600
    assert followed(Adoption(3, 7)) == [
        (2 * DAY + 9 * hours, True),
        (8 * DAY, True),
        (end - 12 * hours, False),
        (2 * DAY, True),
    ]
    without_purchases = [(2 * DAY + 9 * hours, True), (8 * DAY, True)]
    without_purchases += [(end - 12 * hours, False), (end - DAY, False)]
    assert followed(Adoption(3, 7), activity_events=("PLAY",)) == without_purchases
    assert followed(Adoption(3, 7), filters=Filters(area_prefix="home")) == without_purchases
    # One active day: the first event after signup.
    assert followed(Adoption(1, 1)) == [
        (hours, True),
        (3 * hours, True),
        (12 * hours, True),
        (0, True),
    ]
    assert followed(Adoption(2, 2))[:2] == [(DAY + 5 * hours, True), (8 * DAY, True)]
    result = time_to_convert(engine, Adoption(3, 7), days=9, breakdown="channel")
    assert result.summary[["channel", "users", "converted"]].to_numpy().tolist() == [
        ["ads", 2, 2],
        ["seo", 2, 1],
    ]
    with pytest.raises(UsagecastError, match="needs 1 <= min days <= window days"):
        Adoption(8, 7)
    assert parse_adoption(" 3/7") == Adoption(3, 7)
    with pytest.raises(UsagecastError, match=r"write MIN_DAYS/WINDOW_DAYS, e\.g\. 3/7"):
        parse_adoption("3 in 7")


def reference_share(durations: list[tuple[float, bool]], limit: float) -> float:
    """The product-limit estimate in plain Python: walk the conversion times in order; NaN
    past the longest follow-up unless nobody is left unconverted by then."""
    staying = 1.0
    for time in sorted({seconds for seconds, converted in durations if converted}):
        if time >= limit:
            break
        at_risk = sum(1 for seconds, _ in durations if seconds >= time)
        converting = sum(1 for seconds, converted in durations if converted and seconds == time)
        staying *= 1 - converting / at_risk
    if limit > max(seconds for seconds, _ in durations) and staying > 0:
        return float("nan")
    return 1 - staying


@settings(max_examples=60, deadline=None)
@given(
    durations=st.lists(st.tuples(st.integers(0, 6), st.booleans()), min_size=1, max_size=25),
    limit=st.integers(0, 8),
)
def test_the_shares_are_the_reference_product_limit(durations, limit):
    seconds = np.array([seconds for seconds, _ in durations], dtype="int64")
    converted = np.array([converted for _, converted in durations], dtype="bool")
    share = converted_shares(seconds, converted, [limit])[0]
    assert share == pytest.approx(reference_share(durations, limit), nan_ok=True)
    if converted.all():  # nobody censored: converters over everyone
        assert share == pytest.approx(float((seconds < limit).mean()))


STORES = itertools.count()
SIGNUP = st.integers(0, 20).map(lambda day: at(day))
CONVERSION = st.integers(-48, 30 * 24).map(lambda hours: timedelta(hours=hours))


@pytest.mark.slow  # a store per example
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(users=st.lists(st.tuples(SIGNUP, st.lists(CONVERSION, max_size=3)), min_size=1, max_size=8))
def test_the_table_is_the_reference_over_any_store(tiny_store, users):
    rows = [(f"u{index}", signup, "ads") for index, (signup, _) in enumerate(users)]
    events = [
        (f"u{index}", signup + offset, "BUY", "shop", 1.0)
        for index, (signup, offsets) in enumerate(users)
        for offset in offsets
    ]
    events.append(("u0", at(25), "PLAY", "home", None))
    engine = tiny_store(rows, events, name=f"store-{next(STORES)}.duckdb")
    # The data's end: a second after the last event, or the end of its date when every event
    # is at midnight (a date-only store).
    last = max(moment for _, moment, *_ in events)
    dates_only = all(
        (moment - DAY0) % timedelta(days=1) == timedelta(0) for _, moment, *_ in events
    )
    end = last + (timedelta(days=1) if dates_only else timedelta(seconds=1))
    durations = []
    for signup, offsets in users:
        after = [signup + offset for offset in offsets if offset >= timedelta(0)]
        first = min((moment for moment in after if moment < end), default=None)
        durations.append((((first or end) - signup).total_seconds(), first is not None))
    result = time_to_convert(engine, "BUY", days=14)
    expected = [reference_share(durations, (day + 1) * DAY) for day in range(14)]
    assert result.curve["converted_share"].tolist() == pytest.approx(expected, nan_ok=True)


def reference_adoption(
    signup: datetime, moments: list[datetime], end: datetime, adoption: Adoption
) -> datetime | None:
    """The adopting moment in plain Python: walk the active dates after signup in order."""
    firsts: dict[datetime, datetime] = {}
    for moment in sorted(moment for moment in moments if signup <= moment < end):
        firsts.setdefault(moment.replace(hour=0, minute=0, second=0), moment)
    dates = sorted(firsts)
    back = adoption.min_days - 1
    for index in range(back, len(dates)):
        if (dates[index] - dates[index - back]).days < adoption.window_days:
            return firsts[dates[index]]
    return None


HOURS = st.integers(-48, 20 * 24).map(lambda hours: at(0) + timedelta(hours=hours))


@pytest.mark.slow  # a store per example
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    users=st.lists(st.tuples(SIGNUP, st.lists(HOURS, max_size=8)), min_size=1, max_size=6),
    sizes=st.tuples(st.integers(1, 3), st.integers(0, 5)),
)
def test_adoption_is_the_reference_over_any_store(tiny_store, users, sizes):
    adoption = Adoption(sizes[0], sizes[0] + sizes[1])
    rows = [(f"u{index}", signup, "ads") for index, (signup, _) in enumerate(users)]
    events = [
        (f"u{index}", moment, "PLAY", "home", None)
        for index, (_, moments) in enumerate(users)
        for moment in moments
    ]
    events.append(("u0", at(21, 5), "PLAY", "home", None))  # the data ends 1 s after it
    engine = tiny_store(rows, events, name=f"store-{next(STORES)}.duckdb")
    end = at(21, 5) + timedelta(seconds=1)
    followed = follow_up(engine, adoption).set_index("user_id")
    for index, (signup, moments) in enumerate(users):
        moments = [*moments, at(21, 5)] if index == 0 else moments
        adopted = reference_adoption(signup, moments, end, adoption)
        expected = ((adopted or end) - signup).total_seconds(), adopted is not None
        assert tuple(followed.loc[f"u{index}", ["seconds", "converted"]]) == expected


@pytest.mark.spark
def test_spark_follows_the_same_users(duck_and_spark):
    duck, spark = duck_and_spark(USERS, EVENTS)
    filters = (Filters(), Filters(segment="channel = 'seo'", end=at(10)))
    conversions = ("BUY", Adoption(2, 3), Adoption(1, 1))
    breakdowns = (None, "signup_week", "signup_month")
    for index, (conversion, scope) in enumerate(itertools.product(conversions, filters)):
        breakdown = breakdowns[index % len(breakdowns)]
        start = "PLAY" if index % 2 else None
        on_spark = follow_up(spark, conversion, scope, breakdown, (), start)
        on_duck = follow_up(duck, conversion, scope, breakdown, (), start)
        on_spark, on_duck = on_spark.sort_values("user_id"), on_duck.sort_values("user_id")
        pd.testing.assert_frame_equal(
            on_spark.reset_index(drop=True), on_duck.reset_index(drop=True)
        )


def test_an_empty_breakdown_has_the_columns():
    empty = pd.DataFrame({"user_id": [], "seconds": [], "converted": [], "breakdown": []})
    result = conversion_time_table(empty, 3, "plan")
    assert result.curve.columns.tolist()[:2] == ["plan", "day"] and result.curve.empty
    assert result.summary.columns.tolist()[:2] == ["plan", "users"] and result.summary.empty


# A users export and an event log as users bring them: BOMs, dates without times, ids written
# as floats by a spreadsheet, a blank id (quarantined) and a duplicated row.
EXPORT_USERS = """\ufeffAccount ID,Created,Plan
7.0,2024-03-01,team
8.0,2024-03-01,solo
9.0,2024-03-05,team
10.0,2024-03-10,solo
"""
EXPORT_EVENTS = """\ufeffAccount ID,Date,Event
7.0,2024-03-01,login
7.0,2024-03-04,upgrade
7.0,2024-03-04,upgrade
8.0,2024-03-02,login
,2024-03-03,upgrade
9.0,2024-03-05,upgrade
10.0,2024-03-12,login
8.0,2024-03-20,login
"""
EXPORT_CONFIG = """name: saas
users:
  files: users.csv
  columns: {user_id: Account ID, signup_time: Created}
  attributes: {plan: {column: Plan, kind: static, dtype: categorical}}
events:
  files: events.csv
  columns: {user_id: Account ID, timestamp: Date, event_type: Event}
"""


def test_cli_time_to_convert_on_a_date_only_export(tmp_path, capsys):
    files = {"users.csv": EXPORT_USERS, "events.csv": EXPORT_EVENTS}
    ingest_export(tmp_path, files, EXPORT_CONFIG)
    capsys.readouterr()
    args = ["analytics", "time-to-convert", "--event", "upgrade", "--days", "7"]
    assert main([*args, "--log"]) == 0
    out = capsys.readouterr().out
    # 9 upgrades on its signup date (day 0), 7 three days after (day 3); 8 and 10 never do,
    # 10 followed for the 11 days to the end of Mar 20: all 4 for the whole week.
    summary, within = (block.splitlines() for block in out.split("\n\n")[:2])
    assert summary[2].split() == ["4", "2", "0.5", "1.5", "4"]
    assert [within[1].split(), within[2].split()] == [["1d", "7d"], ["0.25", "0.5"]]
    (run,) = mlflow.search_runs(experiment_names=["analytics"], output_format="list")
    assert run.data.params["event"] == "upgrade" and run.data.params["days"] == "7"
    artifacts = {item.path for item in mlflow.MlflowClient().list_artifacts(run.info.run_id)}
    assert {"time_to_convert.csv", "time_to_convert_summary.csv", "time_to_convert.png"} <= (
        artifacts
    )
    assert main([*args, "--breakdown", "plan"]) == 0
    out = capsys.readouterr().out
    assert [line.split()[:3] for line in out.splitlines()[2:4]] == [
        ["solo", "2", "0"],
        ["team", "2", "2"],
    ]
    # Solo's users were followed for 20 and 11 days without converting: no 30-day share.
    assert main([*args[:-1], "30", "--breakdown", "plan"]) == 0
    out = capsys.readouterr().out
    assert [line.split() for line in out.split("\n\n")[1].splitlines()[1:4]] == [
        ["plan", "1d", "7d", "14d", "30d"],
        ["solo", "0", "0", "0", "NaN"],
        ["team", "0.5", "1", "1", "1"],
    ]
    assert "NaN: nobody not yet converted was followed that long" in out
    assert main([*args, "--segment", "plan = 'enterprise'"]) == 0
    assert "no user in the segment signed up" in capsys.readouterr().out
    # Adopted at 2 active dates within 7 days: only 7 (Mar 1 and Mar 4), 3 days after signup.
    assert main(["analytics", "time-to-convert", "--adoption", "2/7", "--days", "7"]) == 0
    summary = capsys.readouterr().out.splitlines()
    assert summary[2].split() == ["4", "1", "0.25", "3", "4"]
    for wrong, words in (
        (["--adoption", "2/7", "--event", "upgrade"], "give --event or --adoption, not both"),
        (["--adoption", "2-7"], "write MIN_DAYS/WINDOW_DAYS"),
        (["--event", "upgrade", "--activity-event", "login"], "go with --adoption"),
        (["--adoption", "2/7", "--activity-event", "logout"], "'logout' is not in the event"),
    ):
        try:
            code = main(["analytics", "time-to-convert", *wrong])
        except SystemExit as stop:  # argparse refuses a malformed option itself
            code = stop.code
        assert code == 2
        assert words in capsys.readouterr().err
    assert main(["analytics", "time-to-convert", "--event", "purchase"]) == 2
    assert "purchase" in capsys.readouterr().err
    # From the first login: 7 upgrades 3 days after it, 8 never (followed 19 days), 10 is
    # followed 9 days; 9 never logged in.
    assert main([*args, "--from-event", "login"]) == 0
    assert capsys.readouterr().out.splitlines()[2].split() == ["3", "1", "0.3333", "3", "3"]
    assert main([*args, "--from-event", "signin"]) == 2
    assert "'signin' is not in the event store" in capsys.readouterr().err
