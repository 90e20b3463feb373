"""Funnels: each step is the user's first event of its type after the previous step and
inside the window, checked by hand, against a plain-Python reference and on Spark."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import mlflow
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics import Filters
from analytics.funnel import funnel, funnel_reached, parse_steps
from contracts.errors import UsagecastError
from usagecast_cli.main import main

from .conftest import EVENTS_CSV_CONFIG, at, ingest_export

USERS = [(name, at(-30), "ads") for name in ("a", "b", "c", "d", "e")]


def test_steps_are_counted_in_order_within_the_window(tiny_store):
    events = [
        ("a", at(1), "PLAY", "home", None),  # enters day 1
        ("a", at(2), "LIKE", "home", None),
        ("a", at(3), "BUY", "shop", 5.0),  # the whole funnel in 2 days
        ("b", at(1), "LIKE", "home", None),  # a like before its first play is no step
        ("b", at(2), "PLAY", "home", None),  # enters day 2
        ("b", at(20), "BUY", "shop", 5.0),  # no like after the play: stops at step 1
        ("c", at(3), "PLAY", "home", None),  # enters day 3
        ("c", at(5), "LIKE", "home", None),
        ("c", at(11), "BUY", "shop", 5.0),  # 8 days after entering: outside the 7
        ("d", at(4), "PLAY", "home", None),  # enters day 4: date-only, all at midnight,
        ("d", at(4), "LIKE", "home", None),  # the same day counts as in order
        ("e", at(28), "PLAY", "home", None),  # enters day 28; the data ends on day 31
        ("e", at(30), "PLAY", "home", None),
    ]
    engine = tiny_store(USERS, events)
    result = funnel(engine, ("PLAY", "LIKE", "BUY"), 7)
    table = result.table.set_index("event_type")
    assert table["users"].to_dict() == {"PLAY": 4, "LIKE": 3, "BUY": 1}
    assert table["from_previous"].tolist() == [1.0, 0.75, pytest.approx(1 / 3)]
    assert table["from_first"].tolist() == [1.0, 0.75, 0.25]
    # a 24 h, c 48 h, d 0 h from the play to the like; a 24 h from the like to the purchase.
    assert table["median_hours_from_previous"].tolist()[1:] == [24.0, 24.0]
    assert result.censored_users == 1  # e: its 7 days run past the end of the data


def test_a_repeated_step_needs_another_event_and_the_range_picks_the_entry(tiny_store):
    events = [
        ("a", at(1), "PLAY", "home", None),
        ("a", at(1), "PLAY", "home", None),  # a second play at the same time counts
        ("b", at(1), "PLAY", "home", None),  # one play only
        ("c", at(2), "PLAY", "home", None),
        ("c", at(12), "PLAY", "home", None),  # 10 days later: outside the window
        ("c", at(13), "PLAY", "home", None),  # from the range's start: enters day 12
        ("d", at(40), "LIKE", "home", None),  # the data ends on day 41
    ]
    engine = tiny_store(USERS, events)
    steps = parse_steps("PLAY, PLAY")
    assert funnel(engine, steps, 7).table["users"].tolist() == [3, 1]
    ranged = funnel_reached(engine, steps, 7, Filters(start=at(10)))
    assert ranged.set_index("user_id")["at_1"].to_dict() == {"c": at(12)}
    assert ranged["at_2"].tolist() == [at(13)]


def test_a_breakdown_gives_one_funnel_per_value_of_a_user_attribute(tiny_store):
    users = [
        ("a", at(-30), "ads"),
        ("b", at(-30), "seo"),
        ("c", at(-30), None),
        ("d", at(-30), "ads"),
    ]
    events = [
        ("a", at(1), "PLAY", "home", None),
        ("a", at(2), "BUY", "shop", 5.0),
        ("b", at(1), "PLAY", "home", None),
        ("c", at(1), "PLAY", "home", None),  # no channel: its own row, not dropped
        ("c", at(3), "BUY", "shop", 5.0),
        ("d", at(1), "PLAY", "home", None),
        ("d", at(20), "PLAY", "home", None),  # the data ends on day 21
    ]
    engine = tiny_store(users, events)
    result = funnel(engine, ("PLAY", "BUY"), 7, breakdown="channel")
    table = result.table
    assert list(table.columns[:3]) == ["channel", "step", "event_type"]
    assert table.groupby("channel")["users"].apply(list).to_dict() == {
        "(missing)": [1, 1],
        "ads": [2, 1],
        "seo": [1, 0],
    }
    assert table.loc[table["channel"] == "ads", "from_first"].tolist() == [1.0, 0.5]
    with pytest.raises(UsagecastError, match="'plan' is not a user attribute; known: channel"):
        funnel(engine, ("PLAY", "BUY"), 7, breakdown="plan")


def test_bad_steps_and_filters_are_refused(tiny_store):
    for text in ("PLAY", "PLAY,,BUY", ",".join(["PLAY"] * 11)):
        with pytest.raises(UsagecastError, match="2 to 10 event types"):
            parse_steps(text)
    engine = tiny_store(USERS, [("a", at(1), "PLAY", "home", None)])
    with pytest.raises(UsagecastError, match="area filter does not apply"):
        funnel(engine, ("PLAY", "BUY"), 7, Filters(area_prefix="home"))
    with pytest.raises(UsagecastError, match="at least 1"):
        funnel(engine, ("PLAY", "BUY"), 0)


def reference(events: list[tuple], steps: tuple[str, ...], days: int) -> dict[str, list]:
    """Each user's step times, step by step: the first event (by time, then id) of the
    step's type at or after the previous step, before entry + days, not already a step."""
    found: dict[str, list] = {}
    ordered = sorted(enumerate(events), key=lambda pair: (pair[1][0], pair[1][1], pair[0]))
    for user, rows in itertools.groupby(ordered, key=lambda pair: pair[1][0]):
        rows = list(rows)
        entry = next(((i, e) for i, e in rows if e[2] == steps[0]), None)
        if entry is None:
            continue
        chosen, times = {entry[0]}, [entry[1][1]]
        for step in steps[1:]:
            nxt = next(
                (
                    (i, e)
                    for i, e in rows
                    if e[2] == step
                    and e[1] >= times[-1]
                    and e[1] < times[0] + timedelta(days=days)
                    and i not in chosen
                ),
                None,
            )
            if nxt is None:
                break
            chosen.add(nxt[0])
            times.append(nxt[1][1])
        found[user] = times + [None] * (len(steps) - len(times))
    return found


EVENT = st.tuples(
    st.sampled_from(["a", "b", "c"]),
    st.integers(0, 20).map(lambda hours: datetime(2024, 1, 1) + timedelta(hours=6 * hours)),
    st.sampled_from(["PLAY", "LIKE", "BUY"]),
)


STORES = itertools.count()


@pytest.mark.slow  # a store per example
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    events=st.lists(EVENT, min_size=1, max_size=40),
    steps=st.lists(st.sampled_from(["PLAY", "LIKE", "BUY"]), min_size=2, max_size=4),
    days=st.integers(1, 4),
)
def test_the_funnel_is_the_step_by_step_reference(tiny_store, events, steps, days):
    rows = [(user, time, kind, "home", None) for user, time, kind in events]
    engine = tiny_store(USERS, rows, name=f"store-{next(STORES)}.duckdb")
    reached = funnel_reached(engine, tuple(steps), days)
    columns = [f"at_{step}" for step in range(1, len(steps) + 1)]
    found = {
        row.user_id: [None if pd.isna(row[c]) else row[c].to_pydatetime() for c in columns]
        for _, row in reached.iterrows()
    }
    assert found == reference(rows, tuple(steps), days)


@pytest.mark.spark
def test_spark_finds_the_same_funnel(duck_and_spark):
    events = [
        (user, at(day, hour), kind, "home", None)
        for user, day, hour, kind in [
            ("a", 1, 0, "PLAY"), ("a", 1, 0, "PLAY"), ("a", 2, 3, "LIKE"), ("a", 4, 0, "BUY"),
            ("b", 1, 5, "LIKE"), ("b", 2, 0, "PLAY"), ("b", 3, 0, "PLAY"), ("b", 20, 0, "BUY"),
            ("c", 3, 0, "PLAY"), ("c", 5, 0, "LIKE"), ("c", 9, 0, "BUY"), ("e", 28, 0, "PLAY"),
        ]
    ]  # fmt: skip
    duck, spark = duck_and_spark(USERS, events)
    steps = ("PLAY", "PLAY", "LIKE", "BUY")
    expected = funnel_reached(duck, steps, 7, breakdown="channel")
    found = funnel_reached(spark, steps, 7, breakdown="channel")
    assert expected["at_4"].notna().sum() == 1  # a; b and c stop earlier, e is censored
    pd.testing.assert_frame_equal(
        found.sort_values("user_id", ignore_index=True),
        expected.sort_values("user_id", ignore_index=True),
        check_dtype=False,
    )


# A SaaS export as users bring one: a BOM, dates without times, ids written as floats by a
# spreadsheet, a duplicated row (quarantined by the ingest, so not a second step).
EXPORT_EVENTS = """\ufeffAccount ID,Date,Event
7.0,2024-03-01,visit
7.0,2024-03-01,trial
7.0,2024-03-04,purchase
8.0,2024-03-02,visit
8.0,2024-03-02,visit
8.0,2024-03-20,trial
9.0,2024-03-03,trial
9.0,2024-03-05,visit
9.0,2024-03-06,trial
10.0,2024-03-28,visit
"""


def test_cli_funnel_on_a_date_only_export(tmp_path, capsys):
    ingest_export(tmp_path, {"events.csv": EXPORT_EVENTS}, EVENTS_CSV_CONFIG)
    capsys.readouterr()
    args = ["analytics", "funnel", "--steps", "visit,trial,purchase", "--window-days", "7"]
    assert main([*args, "--log"]) == 0
    out = capsys.readouterr().out
    # 7: all three steps on days 1-4 (the visit and trial on the same date, in order);
    # 8: no trial within 7 days; 9: enters at its visit on Mar 5, its trial the next day;
    # 10: enters on Mar 28, its 7 days pass the data's end (Mar 28): left out.
    rows = [line.split() for line in out.splitlines()[2:5]]
    assert [row[:3] for row in rows] == [
        ["1", "visit", "3"],
        ["2", "trial", "2"],
        ["3", "purchase", "1"],
    ]
    assert "run past the end of the data (left out): 1" in out
    runs = mlflow.search_runs(experiment_names=["analytics"], output_format="list")
    assert [run.data.params["steps"] for run in runs] == ["visit,trial,purchase"]
    assert main(["analytics", "funnel", "--steps", "visit,visit"]) == 0
    assert "each of the 4 users who entered has their 30 days run past" in capsys.readouterr().out
    assert main([*args, "--start", "2024-04-01"]) == 0
    assert "no user in the segment did visit in the time range" in capsys.readouterr().out
    assert main([*args, "--breakdown", "plan"]) == 2
    assert "'plan' is not a user attribute; known: signup_time" in capsys.readouterr().err
    assert main(["analytics", "funnel", "--steps", "visit"]) == 2
    assert "2 to 10 event types" in capsys.readouterr().err
