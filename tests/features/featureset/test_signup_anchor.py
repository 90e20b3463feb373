"""Signup-relative cutoffs on a real-export-shaped log: date-only events, minute-level signups.

The adoption label (>= 3 distinct active days within some 7-day window) is checked against a
plain pandas computation written here, on DuckDB and on Spark, for both anchors, an `ever`
and two bounded horizons (the compiler's bitmask and LAG paths), at offset 0 and offset > 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from featureset_testlib import duckdb_rows, spec_from, write_store

from events.store import PARQUET_ROOT_ENV
from features.engines.spark import SparkEngine
from features.featureset.build import compute_rows

MIN_DAYS, WINDOW_DAYS = 3, 7
# (user, signup time, days after the signup's date with a login). Events carry dates only
# (00:00), so every login on the signup day lies before a signup with minutes.
CASES = [
    ("adopts_from_signup_day", "2024-01-10 14:37", [0, 2, 4]),
    ("signup_day_only", "2024-01-11 09:05", [0]),
    ("midnight_signup", "2024-01-12 00:00", [0, 1, 6]),  # both anchors are the same instant
    ("eight_day_span", "2024-01-13 23:59", [0, 3, 7]),  # 3 days, but not within 7
    ("straddles_a_week", "2024-01-14 08:00", [1, 4, 7]),
    ("offset_edge", "2024-01-15 12:30", [2, 3, 5, 8]),  # day 3: the offset-3 cutoff's date
    ("horizon_edge", "2024-01-16 10:00", [8, 9, 10]),  # day 10: a date cutoff + 10 days
    ("day_before_signup", "2024-01-17 06:15", [-1, 0, 1]),
    ("never_active", "2024-01-18 17:45", []),
    ("late_logins", "2024-01-01 06:00", [0, 150]),  # runs the data past every horizon
]


def export_like_log(seed: int, n_random: int = 30) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The hand-made cases plus users with random minute-level signups and login dates."""
    rng = np.random.default_rng(seed)
    rows = [(user, pd.Timestamp(signup), days) for user, signup, days in CASES]
    for k in range(n_random):
        signup = pd.Timestamp("2024-01-01") + pd.Timedelta(minutes=int(rng.integers(0, 40 * 1440)))
        days = rng.integers(-2, 40, size=int(rng.integers(0, 8))).tolist()
        rows.append((f"random{k:02d}", signup, days))
    users = pd.DataFrame(
        [(user, signup) for user, signup, _ in rows], columns=["user_id", "signup_time"]
    )
    events = pd.DataFrame(
        [
            (user, signup.normalize() + pd.Timedelta(days=day), "LOGIN")
            for user, signup, days in rows
            for day in days
        ],
        columns=["user_id", "event_time", "event_type"],
    )
    return events, users


def pandas_adoption(
    events: pd.DataFrame, users: pd.DataFrame, anchor: str, offset: int, horizon: int | str
) -> pd.DataFrame:
    """Per user: cutoff, tenure and whether MIN_DAYS distinct login dates in [cutoff, cutoff +
    horizon) (or [cutoff, end of data] for `ever`) lie within WINDOW_DAYS days."""
    signup = users.set_index("user_id")["signup_time"]
    base = signup.dt.normalize() if anchor == "date" else signup
    cutoff = base + pd.Timedelta(days=offset)
    expected = []
    for user, user_cutoff in cutoff.items():
        times = events.loc[events["user_id"] == user, "event_time"]
        inside = times >= user_cutoff
        if horizon != "ever":
            inside &= times < user_cutoff + pd.Timedelta(days=horizon)
        days = sorted(set(times[inside].dt.normalize()))
        adopted = any(
            (days[i + MIN_DAYS - 1] - days[i]).days <= WINDOW_DAYS - 1
            for i in range(len(days) - MIN_DAYS + 1)
        )
        tenure = (user_cutoff.normalize() - signup[user].normalize()).days
        expected.append((user, user_cutoff, int(adopted), tenure))
    frame = pd.DataFrame(expected, columns=["user_id", "cutoff", "label", "tenure_days"])
    return frame.sort_values(["cutoff", "user_id"], ignore_index=True)


def adoption_spec(anchor: str, offset: int, horizon: int | str):
    label = {
        "kind": "active_days_in_window",
        "horizon_days": horizon,
        "min_days": MIN_DAYS,
        "window_days": WINDOW_DAYS,
    }
    cutoffs = {"after_signup": {"offset_days": offset, "anchor": anchor}}
    return spec_from(label, [{"kind": "tenure"}], cutoffs=cutoffs)


def as_store_rows(events: pd.DataFrame, users: pd.DataFrame) -> tuple[list, list]:
    event_rows = [
        (user, when.to_pydatetime(), kind) for user, when, kind in events.itertuples(index=False)
    ]
    user_rows = [
        (user, signup.to_pydatetime(), {}) for user, signup in users.itertuples(index=False)
    ]
    return event_rows, user_rows


@pytest.fixture(scope="module")
def log() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The (events, users) that every engine case reads."""
    return export_like_log(seed=13)


@pytest.fixture(scope="module")
def spark_engine(log, spark_session, tmp_path_factory) -> SparkEngine:
    """A Spark engine over a store of `log`, written once for the module's Spark cases."""
    store = tmp_path_factory.mktemp("export_like") / "events.duckdb"
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.delenv(PARQUET_ROOT_ENV, raising=False)  # the copy goes beside the store
        write_store(store, *as_store_rows(*log))
    return SparkEngine(store, session=spark_session)


@pytest.fixture
def build_rows(request, log):
    """engine name -> a function spec -> (rows over `log`, {status: count})."""

    def on_duckdb(spec):
        return duckdb_rows(spec, *as_store_rows(*log))

    def on_spark(spec):
        engine = request.getfixturevalue("spark_engine")
        rows, statuses = compute_rows(engine, spec, None, {})
        counts = statuses.groupby("status")["rows"].sum().to_dict()
        return rows, {status: int(n) for status, n in counts.items()}

    return {"duckdb": on_duckdb, "spark": on_spark}


@pytest.mark.parametrize("engine", ["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
@pytest.mark.parametrize("anchor", ["date", "timestamp"])
@pytest.mark.parametrize("offset", [0, 3])
@pytest.mark.parametrize("horizon", ["ever", 10, 70])
def test_adoption_label_equals_pandas_on_date_only_events(
    build_rows, log, engine, anchor, offset, horizon
):
    events, users = log
    rows, counts = build_rows[engine](adoption_spec(anchor, offset, horizon))
    expected = pandas_adoption(events, users, anchor, offset, horizon)
    assert counts == {"kept": len(users)}  # every user has a row, none censored
    got = rows[["user_id", "cutoff", "label", "tenure_days"]]
    pd.testing.assert_frame_equal(got, expected.astype(got.dtypes.to_dict()))
    assert (got["tenure_days"] == offset).all()


def label_of(rows: pd.DataFrame, user: str) -> int:
    return int(rows.loc[rows["user_id"] == user, "label"].iloc[0])


def test_date_anchor_counts_the_signup_day_and_the_timestamp_anchor_does_not():
    events, users = export_like_log(seed=13, n_random=0)
    dated, _ = duckdb_rows(adoption_spec("date", 0, "ever"), *as_store_rows(events, users))
    stamped, _ = duckdb_rows(adoption_spec("timestamp", 0, "ever"), *as_store_rows(events, users))
    assert label_of(dated, "adopts_from_signup_day") == 1
    assert label_of(stamped, "adopts_from_signup_day") == 0
    assert label_of(dated, "day_before_signup") == 0  # the day before stays on the feature side
    signup_day_only = dated[dated["user_id"] == "signup_day_only"].iloc[0]
    # The cutoff (00:00) precedes the signup (09:05) on the same day: a row, tenure 0.
    assert signup_day_only["cutoff"] == pd.Timestamp("2024-01-11 00:00")
    assert signup_day_only["tenure_days"] == 0
    assert dated["label"].sum() > stamped["label"].sum()


@pytest.mark.parametrize(("anchor", "label"), [("date", 0), ("timestamp", 1)])
def test_bounded_horizon_ends_before_the_date_cutoff_plus_horizon(anchor, label):
    # A date cutoff at 2024-01-16 00:00 + 10 days ends before the login of 2024-01-26; a
    # timestamp cutoff at 10:00 reaches it.
    events, users = export_like_log(seed=13, n_random=0)
    rows, _ = duckdb_rows(adoption_spec(anchor, 0, 10), *as_store_rows(events, users))
    assert label_of(rows, "horizon_edge") == label
