"""The point-in-time split of interactions: training strictly before the cutoff, relevance
only for new items taken up in the window, nothing read at or after the window's end."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from experiments.recommend.interactions import (
    default_cutoff,
    read_interactions,
    split_interactions,
)

CUTOFF = dt.datetime(2024, 3, 1)


def _events(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "event_time"])
    return frame.assign(event_time=pd.to_datetime(frame["event_time"]))


def _pairs(matrix, split) -> dict[tuple[str, str], float]:
    coo = matrix.tocoo()
    return {
        (split.user_ids[u], split.item_ids[i]): float(v)
        for u, i, v in zip(coo.row, coo.col, coo.data, strict=True)
    }


def test_an_event_at_the_cutoff_is_evaluated_not_trained_on():
    events = _events(
        [
            ("u1", "a", "2024-02-29 23:59:59"),
            ("u1", "b", "2024-03-01 00:00:00"),  # exactly at the cutoff
            ("u1", "c", "2024-03-30 23:59:59"),
            ("u1", "d", "2024-03-31 00:00:00"),  # the window's end: outside
        ]
    )
    split = split_interactions(events, CUTOFF, 30)
    assert _pairs(split.train, split) == {("u1", "a"): 1.0}
    assert _pairs(split.relevant, split) == {("u1", "b"): 1.0, ("u1", "c"): 1.0}
    assert "d" not in split.item_ids


def test_items_consumed_before_the_cutoff_are_not_relevant():
    events = _events(
        [
            ("u1", "a", "2024-02-01"),
            ("u1", "a", "2024-02-02"),
            ("u1", "a", "2024-03-02"),  # consumed again: not a recommendation's success
            ("u1", "b", "2024-03-03"),
            ("u2", "a", "2024-03-04"),  # new for u2
        ]
    )
    split = split_interactions(events, CUTOFF, 30)
    assert _pairs(split.train, split) == {("u1", "a"): 2.0}
    assert _pairs(split.relevant, split) == {("u1", "b"): 1.0, ("u2", "a"): 1.0}
    assert [split.user_ids[i] for i in split.evaluated_users] == ["u1", "u2"]


def test_popularity_counts_distinct_users_before_the_cutoff():
    events = _events(
        [
            ("u1", "a", "2024-02-01"),
            ("u1", "a", "2024-02-02"),
            ("u2", "a", "2024-02-03"),
            ("u2", "b", "2024-02-04"),
            ("u3", "b", "2024-03-05"),  # after the cutoff: not counted
        ]
    )
    split = split_interactions(events, CUTOFF, 30, catalogue=["z"])
    assert split.item_ids == ("a", "b", "z")
    assert split.popularity().tolist() == [2, 1, 0]


timestamps = st.datetimes(dt.datetime(2024, 1, 1), dt.datetime(2024, 5, 1))


@given(
    st.lists(
        st.tuples(st.sampled_from(["u1", "u2", "u3"]), st.sampled_from("abcd"), timestamps),
        min_size=1,
        max_size=40,
    ),
    st.integers(1, 60),
)
def test_split_matches_a_direct_reading_of_the_events(rows, window_days):
    events = pd.DataFrame(rows, columns=["user_id", "item_id", "event_time"])
    end = CUTOFF + dt.timedelta(days=window_days)
    train: dict[tuple[str, str], float] = {}
    for user, item, when in rows:
        if when < CUTOFF:
            train[(user, item)] = train.get((user, item), 0.0) + 1.0
    relevant = {
        (user, item): 1.0
        for user, item, when in rows
        if CUTOFF <= when < end and (user, item) not in train
    }
    split = split_interactions(events, CUTOFF, window_days)
    assert _pairs(split.train, split) == train
    assert _pairs(split.relevant, split) == relevant


def test_read_interactions_reads_nothing_at_or_after_until(tmp_path):
    store = tmp_path / "events.duckdb"
    con = duckdb.connect(str(store))
    con.execute(
        "CREATE TABLE events (user_id VARCHAR, item_id VARCHAR, event_time TIMESTAMP, "
        "event_type VARCHAR)"
    )
    con.execute(
        "INSERT INTO events VALUES ('u1', 'a', '2024-02-01', 'PLAY'), "
        "('u1', 'b', '2024-02-02', 'SKIP'), ('u1', NULL, '2024-02-03', 'PLAY'), "
        "('u1', 'c', '2024-02-04', 'LIKE'), ('u1', 'd', '2024-03-01', 'PLAY')"
    )
    con.execute("CREATE TABLE items (item_id VARCHAR)")
    con.execute("INSERT INTO items VALUES ('a'), ('z')")
    con.close()
    events, catalogue = read_interactions(store, CUTOFF)
    assert sorted(events["item_id"]) == ["a", "c"]
    assert catalogue == ("a", "z")


@pytest.mark.parametrize(
    ("last", "expected"),
    [("2024-10-31 23:54:29", "2024-10-02"), ("2024-10-31 00:00:00", "2024-10-02")],
)
def test_default_cutoff_leaves_a_whole_window_inside_the_data(last, expected):
    cutoff = default_cutoff(dt.datetime.fromisoformat(last), 30)
    assert cutoff == dt.datetime.fromisoformat(expected)
