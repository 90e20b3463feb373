"""Paths to and from an event: checked by hand, against a plain-Python walk of each user's
events, on Spark, and through the CLI on a real-shaped export."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import timedelta

import mlflow
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics import Filters
from analytics.paths import END, START, path_rows, paths, paths_table
from contracts.errors import UsagecastError
from events.store import EXPERIMENT_ASSIGNED
from usagecast_cli.main import main

from .conftest import DAY0, EVENTS_CSV_CONFIG, at, ingest_export

USERS = [(user, at(-10), "seo" if user in "cg" else "ads") for user in "abcdefg"]
EVENTS = [
    ("f", at(-10), "LOGIN", None, None),  # the data's first event
    ("a", at(-6), "SKIP", "home", None),  # 11 days before a's purchase: outside the window
    ("a", at(1), "PLAY", "home", None),
    ("a", at(2), "LIKE", "social", None),
    ("a", at(3), "PLAY", "home", None),
    ("a", at(4), "PLAY", "radio", None),  # a second PLAY in a row: one step
    ("a", at(5), "BUY", "shop", 9.0),
    ("a", at(6), "PLAY", "home", None),  # exactly a day after a's purchase
    ("b", at(2), "PLAY", "home", None),
    ("b", at(4), "LIKE", "social", None),  # the same time as the purchase, listed before it
    ("b", at(4), "BUY", "shop", 9.0),
    ("b", at(4), "SKIP", "home", None),  # the same time, listed after it
    ("c", at(3), EXPERIMENT_ASSIGNED, "arm_b", None),  # an exposure log: never a step
    ("c", at(3, 12), "PLAY", "home", None),
    ("c", at(6), "BUY", "shop", 9.0),
    ("c", at(8), "BUY", "shop", 9.0),  # a second purchase: the first one anchors
    ("d", at(2), "PLAY", "home", None),  # never buys
    ("e", at(-5), "BUY", "shop", 9.0),  # 10 days before it reach before the data's start
    ("e", at(-4), "LOGIN", None, None),  # no area: no step by area
    ("g", at(14), "PLAY", "home", None),
    ("g", at(15), "BUY", "shop", 9.0),  # 10 days after it reach past the data's end
    ("d", at(20), "PLAY", "home", None),  # the last event: the data ends 1 s after it
]


def counted(table: pd.DataFrame) -> dict[str, int]:
    return dict(zip(table["path"], table["users"], strict=True))


def test_paths_to_a_first_purchase_collapse_repeats_and_order_ties_by_the_export(tiny_store):
    engine = tiny_store(USERS, EVENTS)
    result = paths(engine, "BUY", "to", steps=3, days=10)
    assert (result.users, result.left_out_users) == (4, 1)  # e left out; d never bought
    assert result.paths["path"].tolist() == [
        "(start) → PLAY → BUY",  # c (its exposure log is no step) and g
        "(start) → PLAY → LIKE → BUY",  # b: the LIKE listed before the purchase
        "PLAY → LIKE → PLAY → BUY",  # a: PLAY, PLAY is one step; day -6 outside
    ]
    assert result.paths["users"].tolist() == [2, 1, 1]
    assert result.paths["share"].tolist() == [0.5, 0.25, 0.25]
    assert result.paths.loc[0, ["step_1", "step_2", "step_3", "step_4"]].tolist() == [
        START,
        START,
        "PLAY",
        "BUY",
    ]
    positions = result.positions.set_index("step")
    assert positions.columns.tolist() == ["-3", "-2", "-1"]
    assert positions.index.tolist() == ["PLAY", "LIKE", START]
    assert positions.loc["PLAY"].tolist() == [0.25, 0.25, 0.75]
    assert positions.loc["LIKE"].tolist() == [0.0, 0.25, 0.25]
    assert positions.loc[START].tolist() == [0.75, 0.5, 0.0]
    kept = paths(engine, "BUY", "to", 3, 10, keep_repeats=True)
    assert "LIKE → PLAY → PLAY → BUY" in counted(kept.paths)


def test_paths_from_a_purchase_end_where_the_window_does(tiny_store):
    engine = tiny_store(USERS, EVENTS)
    result = paths(engine, "BUY", "from", steps=2, days=10)
    assert (result.users, result.left_out_users) == (4, 1)  # g's 10 days pass day 20
    assert counted(result.paths) == {
        "BUY → BUY → (end)": 1,  # c's second purchase
        "BUY → LOGIN → (end)": 1,  # e
        "BUY → PLAY → (end)": 1,  # a
        "BUY → SKIP → (end)": 1,  # b: listed after the purchase at the same time
    }
    assert result.positions.columns.tolist() == ["step", "+1", "+2"]
    assert result.positions.set_index("step").loc[END].tolist() == [0.0, 1.0]
    # a's PLAY and e's LOGIN are exactly a day later: outside a 1-day window.
    ads = Filters(segment="channel = 'ads'")
    day = paths(engine, "BUY", "from", steps=2, days=1, filters=ads)
    assert counted(day.paths) == {"BUY → (end)": 2, "BUY → SKIP → (end)": 1}


def test_steps_by_area_leave_out_events_without_one(tiny_store):
    engine = tiny_store(USERS, EVENTS)
    result = paths(engine, "BUY", "to", 3, 10, by="area")
    assert counted(result.paths) == {
        "(start) → home → BUY": 2,
        "(start) → home → social → BUY": 1,
        "social → home → radio → BUY": 1,
    }
    after = paths(engine, "BUY", "from", 1, 10, by="area")
    assert counted(after.paths)["BUY → (end)"] == 1  # e's LOGIN has no area


def test_the_anchor_is_the_first_in_the_time_range_and_earlier_steps_still_count(tiny_store):
    result = paths(tiny_store(USERS, EVENTS), "BUY", "to", 3, 10, Filters(start=at(7)))
    # c's first purchase in the range is its second (day 8): its first is a step before it.
    assert counted(result.paths) == {"(start) → PLAY → BUY": 1, "(start) → PLAY → BUY → BUY": 1}


def test_paths_table_of_no_user_has_the_columns():
    empty = pd.DataFrame(
        {"user_id": [], "anchor_time": [], "position": [], "step": [], "left_out": []}
    ).astype({"left_out": bool})
    result = paths_table(empty, "BUY", "to", 2)
    assert result.paths.columns.tolist() == [
        "path",
        "users",
        "share",
        "step_1",
        "step_2",
        "step_3",
    ]
    assert result.positions.columns.tolist() == ["step", "-2", "-1"]
    assert (result.users, result.left_out_users) == (0, 0)


def test_paths_by_a_user_attribute_are_counted_within_each_value(tiny_store):
    engine = tiny_store(USERS, EVENTS)
    result = paths(engine, "BUY", "to", steps=3, days=10, breakdown="channel")
    assert (result.users, result.left_out_users) == (4, 1)
    assert result.paths[["channel", "path", "users", "share"]].values.tolist() == [
        ["ads", "(start) → PLAY → LIKE → BUY", 1, 0.5],  # b
        ["ads", "PLAY → LIKE → PLAY → BUY", 1, 0.5],  # a
        ["seo", "(start) → PLAY → BUY", 2, 1.0],  # c and g
    ]
    whole = paths(engine, "BUY", "to", steps=3, days=10)
    assert result.paths.groupby("path")["users"].sum().to_dict() == counted(whole.paths)
    seo = result.positions[result.positions["channel"] == "seo"].set_index("step")
    assert seo.columns.tolist() == ["channel", "-3", "-2", "-1"]
    assert seo.loc["PLAY", ["-3", "-2", "-1"]].tolist() == [0.0, 0.0, 1.0]
    with pytest.raises(UsagecastError, match="paths breakdown 'plan' is not a user attribute"):
        paths(engine, "BUY", "to", 3, 10, breakdown="plan")


def test_paths_table_of_no_user_by_a_breakdown_has_its_column_first():
    empty = pd.DataFrame(
        {"user_id": [], "anchor_time": [], "position": [], "step": [], "left_out": []}
    ).astype({"left_out": bool})
    result = paths_table(empty.assign(breakdown=[]), "BUY", "to", 1, breakdown="channel")
    assert result.paths.columns.tolist()[:2] == ["channel", "path"]
    assert result.positions.columns.tolist() == ["channel", "step", "-1"]


@pytest.mark.parametrize(
    ("steps", "days", "by", "filters", "words"),
    [
        (0, 30, "event_type", Filters(), "give 1 to 10"),
        (11, 30, "event_type", Filters(), "give 1 to 10"),
        (3, 0, "event_type", Filters(), "at least 1"),
        (3, 30, "item:genre", Filters(), "one of event_type, area"),
        (3, 30, "area", Filters(area_prefix="home"), "an area filter does not apply"),
    ],
)
def test_what_cannot_make_paths_is_refused(tiny_store, steps, days, by, filters, words):
    with pytest.raises(UsagecastError, match=words):
        path_rows(tiny_store(USERS, EVENTS), "BUY", "to", steps, days, filters, by=by)


def reference_paths(
    events: list[tuple], direction: str, steps: int, days: int, by: str, keep_repeats: bool
) -> tuple[Counter, int]:
    """Each user's path in plain Python (event ids are positions in `events`), counted, and
    the users left out."""
    start = min(moment for _, moment, *_ in events)
    end = max(moment for _, moment, *_ in events) + timedelta(seconds=1)
    window = timedelta(days=days)
    column = 2 if by == "event_type" else 3
    found: Counter = Counter()
    left_out = 0
    for user in sorted({row[0] for row in events}):
        mine = sorted((row[1], index, row) for index, row in enumerate(events) if row[0] == user)
        anchors = [(moment, index) for moment, index, row in mine if row[2] == "BUY"]
        if not anchors:
            continue
        anchor = anchors[0]
        if (direction == "to" and anchor[0] - window < start) or (
            direction == "from" and anchor[0] + window > end
        ):
            left_out += 1
            continue
        if direction == "to":
            side = [row for m, i, row in mine if (m, i) < anchor and m >= anchor[0] - window]
        else:
            side = [row for m, i, row in mine if (m, i) > anchor and m < anchor[0] + window]
        names = [row[column] for row in side if row[column] is not None]
        if not keep_repeats:
            names = [name for i, name in enumerate(names) if i == 0 or names[i - 1] != name]
        if direction == "to":
            taken = names[-steps:]
            path = (*[START] * (steps - len(taken)), *taken, "BUY")
        else:
            taken = names[:steps]
            path = ("BUY", *taken, *[END] * (steps - len(taken)))
        found[path] += 1
    return found, left_out


TYPES = ("PLAY", "LIKE", "BUY")
EVENT = st.tuples(
    st.sampled_from("uvw"),
    st.integers(0, 12 * 4).map(lambda quarter: at(0) + timedelta(hours=6 * quarter)),
    st.sampled_from(TYPES),
    st.sampled_from(("home", "shop", None)),
)
STORES = itertools.count()


@pytest.mark.slow  # a store per example
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    drawn=st.lists(EVENT, min_size=1, max_size=30),
    direction=st.sampled_from(("to", "from")),
    steps=st.integers(1, 3),
    days=st.integers(1, 6),
    by=st.sampled_from(("event_type", "area")),
    keep_repeats=st.booleans(),
)
def test_paths_are_the_reference_walk_over_any_store(
    tiny_store, drawn, direction, steps, days, by, keep_repeats
):
    # Quarter days give ties; the last event is off midnight, so the data ends 1 s after it.
    events = [(*row, None) for row in drawn] + [("u", at(13, 5), "PLAY", "home", None)]
    users = [(user, DAY0, "ads") for user in "uvw"]
    engine = tiny_store(users, events, name=f"store-{next(STORES)}.duckdb")
    result = paths(engine, "BUY", direction, steps, days, by=by, keep_repeats=keep_repeats)
    expected, left_out = reference_paths(events, direction, steps, days, by, keep_repeats)
    columns = [f"step_{k}" for k in range(1, steps + 2)]
    got = {tuple(row[columns]): row["users"] for _, row in result.paths.iterrows()}
    assert got == dict(expected)
    assert (result.users, result.left_out_users) == (sum(expected.values()), left_out)


@pytest.mark.spark
def test_spark_walks_the_same_paths(duck_and_spark):
    duck, spark = duck_and_spark(USERS, EVENTS)
    cases = [
        ("to", {}, Filters()),
        ("from", {"by": "area"}, Filters(segment="channel = 'ads'")),
        ("to", {"keep_repeats": True}, Filters(start=at(7), end=at(16))),
    ]
    for direction, options, filters in cases:
        walked = [
            path_rows(engine, "BUY", direction, 3, 10, filters, **options)
            .sort_values(["user_id", "position"])
            .reset_index(drop=True)
            for engine in (duck, spark)
        ]
        pd.testing.assert_frame_equal(*walked, check_dtype=False)
    by_channel = [paths(e, "BUY", "to", 3, 10, breakdown="channel") for e in (duck, spark)]
    for table in ("paths", "positions"):
        pd.testing.assert_frame_equal(*(getattr(r, table) for r in by_channel), check_dtype=False)


# An event log as users bring it: a BOM, dates without times, ids written as floats by a
# spreadsheet, a blank id (quarantined), a duplicated row and no users table.
EXPORT_EVENTS = """\ufeffAccount ID,Date,Event
7.0,2024-03-01,login
7.0,2024-03-02,report
7.0,2024-03-02,report
7.0,2024-03-04,upgrade
8.0,2024-03-02,login
,2024-03-03,upgrade
8.0,2024-03-05,invite
8.0,2024-03-06,upgrade
9.0,2024-03-05,login
9.0,2024-03-05,upgrade
10.0,2024-03-12,login
8.0,2024-03-20,login
"""


def test_cli_paths_on_a_date_only_export(tmp_path, capsys):
    ingest_export(tmp_path, {"events.csv": EXPORT_EVENTS}, EVENTS_CSV_CONFIG)
    capsys.readouterr()
    args = ["analytics", "paths", "--to", "upgrade", "--steps", "2", "--window-days", "3"]
    assert main([*args, "--log"]) == 0
    out = capsys.readouterr().out
    # 7: the repeated report is one step; 8: its login lies 4 days back; 9: the login of
    # the same date is listed before the upgrade.
    assert [line.split() for line in out.splitlines()[1:5]] == [
        ["path", "users", "share"],
        ["(start)", "→", "invite", "→", "upgrade", "1", "0.3333"],
        ["(start)", "→", "login", "→", "upgrade", "1", "0.3333"],
        ["login", "→", "report", "→", "upgrade", "1", "0.3333"],
    ]
    assert "users with a first upgrade in the time range: 3; left out" in out
    (run,) = mlflow.search_runs(experiment_names=["analytics"], output_format="list")
    assert run.data.params["anchor"] == "upgrade" and run.data.params["direction"] == "to"
    artifacts = {item.path for item in mlflow.MlflowClient().list_artifacts(run.info.run_id)}
    assert {"paths.csv", "path_positions.csv", "paths.png"} <= artifacts
    # By signup week (no users table: a user signs up at their first event): 7 and 8 in the
    # week of Feb 26, 9 in the week of Mar 4.
    assert main([*args, "--breakdown", "signup_week", "--limit", "1", "--log"]) == 0
    out = capsys.readouterr().out
    assert [line.split() for line in out.splitlines()[1:4]] == [
        ["signup_week", "path", "users", "share"],
        ["2024-02-26", "(start)", "→", "invite", "→", "upgrade", "1", "0.5"],
        ["2024-03-04", "(start)", "→", "login", "→", "upgrade", "1", "1"],
    ]
    by_week = mlflow.search_runs(experiment_names=["analytics"], output_format="list")[0]
    assert by_week.data.params["breakdown"] == "signup_week"
    artifacts = {item.path for item in mlflow.MlflowClient().list_artifacts(by_week.info.run_id)}
    assert "paths.png" in artifacts
    # A week back reaches before March 1 for every upgrader.
    assert main([*args[:-1], "7"]) == 0
    assert "each of the 3 users with a first upgrade" in capsys.readouterr().out
    # 10 logged in on Mar 12 and did nothing in the 7 days to the end of Mar 20.
    assert (
        main(["analytics", "paths", "--from", "login", "--steps", "1", "--window-days", "7"]) == 0
    )
    out = capsys.readouterr().out
    assert [line.split()[:4] for line in out.splitlines()[2:6]] == [
        ["login", "→", "(end)", "1"],
        ["login", "→", "invite", "1"],
        ["login", "→", "report", "1"],
        ["login", "→", "upgrade", "1"],
    ]
    for wrong, words in (
        (["--to", "upgrade", "--from", "login"], "not allowed with argument"),
        (["--steps", "0", "--to", "upgrade"], "give 1 to 10"),
        (["--to", "upgrade", "--area", "app"], "an area filter does not apply"),
        (["--to", "purchase"], "'purchase' is not in the event store"),
        ([], "no --to given and the event store holds no 'BUY_PREMIUM'"),
    ):
        try:
            code = main(["analytics", "paths", *wrong])
        except SystemExit as stop:  # argparse refuses a malformed option itself
            code = stop.code
        assert code == 2
        assert words in capsys.readouterr().err
