"""Hand-computed tiny cases for every label kind, the window edges, censoring and eligibility."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest
from featureset_testlib import duckdb_rows, spec_from, ts

from features.featureset.compiler import sample_threshold

BUY = {"kind": "event_within", "event_type": "BUY", "horizon_days": 30}
COUNTS = [{"kind": "count", "event_types": ["PLAY", "BUY"], "windows": [7]}]
# Cutoff 2024-02-01 00:00; this event keeps the data running past every 30-day horizon.
LATE = ("zz", ts("2024-06-01 00:00"), "PLAY")
USERS = [("u1", ts("2024-01-01"), {"channel": "web"}), ("zz", ts("2024-01-01"), {})]


def row(frame: pd.DataFrame, user: str = "u1") -> pd.Series:
    chosen = frame[frame["user_id"] == user]
    assert len(chosen) == 1, frame
    return chosen.iloc[0]


def test_event_at_cutoff_is_label_side_only_and_window_start_is_inclusive():
    events = [
        ("u1", ts("2024-02-01 00:00"), "BUY"),  # at the cutoff: label, not a feature
        ("u1", ts("2024-01-31 23:59"), "PLAY"),  # last minute before: feature
        ("u1", ts("2024-01-25 00:00"), "PLAY"),  # exactly cutoff - 7 days: inside the window
        ("u1", ts("2024-01-24 23:59"), "PLAY"),  # one minute earlier: outside
        LATE,
    ]
    frame, _ = duckdb_rows(spec_from(BUY, COUNTS), events, USERS)
    assert row(frame)[["label", "count_PLAY_7d", "count_BUY_7d"]].tolist() == [1, 2, 0]


@pytest.mark.parametrize(("when", "label"), [("2024-03-01 23:59", 1), ("2024-03-02 00:00", 0)])
def test_label_horizon_end_is_exclusive(when, label):
    # 2024-02-01 + 30 days = 2024-03-02 00:00 (2024 is a leap year).
    frame, _ = duckdb_rows(spec_from(BUY, COUNTS), [("u1", ts(when), "BUY"), LATE], USERS)
    assert row(frame)["label"] == label


def test_churn_label():
    spec = spec_from({"kind": "churn", "horizon_days": 30}, COUNTS)
    events = [("u1", ts("2024-01-20"), "PLAY"), ("zz", ts("2024-02-10"), "PLAY"), LATE]
    frame, _ = duckdb_rows(spec, events, USERS)
    assert row(frame)["label"] == 1
    assert row(frame, "zz")["label"] == 0


def test_value_within_label_sums_values_of_the_type():
    spec = spec_from({"kind": "value_within", "horizon_days": 30, "event_type": "BUY"}, COUNTS)
    events = [
        ("u1", ts("2024-02-02"), "BUY", None, None, 9.99),
        ("u1", ts("2024-02-20"), "BUY", None, None, 4.5),
        ("u1", ts("2024-02-21"), "PLAY", None, None, 200.0),
        ("u1", ts("2024-01-20"), "BUY", None, None, 100.0),  # before the cutoff
        LATE,
    ]
    frame, _ = duckdb_rows(spec, events, USERS)
    assert row(frame)["label"] == pytest.approx(14.49)
    assert frame["label"].dtype == "float64"
    assert row(frame, "zz")["label"] == 0.0


ADOPTION = {"kind": "active_days_in_window", "horizon_days": 60, "min_days": 3, "window_days": 7}


def weekly_bins_label(days: list[int]) -> int:
    """How notebooks often do it: fixed 7-day bins from the cutoff, 3 active days in one bin."""
    bins = pd.Series(sorted(set(days))) // 7
    return int(bins.value_counts().max() >= 3)


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        ([5, 6, 7], 1),  # straddles the first bin edge: sliding window yes, weekly bins no
        ([12, 13, 15, 15], 1),  # repeated day counts once; span 3 days
        ([0, 3, 7], 0),  # span of 8 calendar days: too wide
        ([0, 6, 40], 0),  # only two days within any 7
        ([1, 2], 0),
        ([52, 55, 58], 1),  # late in the 60-day horizon
        ([0, 6, 60], 0),  # day 60 is past the horizon
    ],
)
def test_adoption_uses_sliding_windows_over_distinct_days(days, expected):
    cutoff = pd.Timestamp("2024-02-01")
    events = [("u1", cutoff + pd.Timedelta(days=d, hours=10), "PLAY") for d in days] + [LATE]
    frame, _ = duckdb_rows(spec_from(ADOPTION, COUNTS), events, USERS)
    assert row(frame)["label"] == expected
    if days == [5, 6, 7]:
        assert weekly_bins_label(days) == 0  # the case where fixed bins get it wrong


def test_censoring_drops_and_counts_rows_whose_horizon_passes_the_end_of_data():
    spec = spec_from(
        BUY,
        COUNTS,
        cutoffs={"calendar": {"start": "2024-02-01", "end": "2024-03-01", "every": "month"}},
    )
    # End of data = 2024-03-02 00:00 exactly: the Feb cutoff's horizon ends there (kept),
    # the March cutoff's horizon runs to 2024-03-31 (censored, not labelled negative).
    events = [("u1", ts("2024-01-20"), "PLAY"), ("zz", ts("2024-03-02 00:00"), "PLAY")]
    frame, counts = duckdb_rows(spec, events, USERS)
    assert frame["cutoff"].unique().tolist() == [pd.Timestamp("2024-02-01")]
    assert counts == {"kept": 2, "censored": 2}


def test_ever_horizon_is_not_censored():
    spec = spec_from({"kind": "event_within", "event_type": "BUY", "horizon_days": "ever"}, COUNTS)
    events = [("u1", ts("2024-01-20"), "PLAY"), ("u1", ts("2024-05-01"), "BUY")]
    frame, counts = duckdb_rows(spec, events, USERS)
    assert row(frame)["label"] == 1
    assert counts == {"kept": 2}


def test_eligibility_active_and_not_converted():
    spec = spec_from(
        BUY,
        COUNTS,
        eligibility={"active_within_days": 30, "not_converted": "BUY"},
    )
    users = [(u, ts("2024-01-01"), {}) for u in ("edge", "stale", "buyer", "at_cutoff", "zz")]
    events = [
        ("edge", ts("2024-01-02 00:00"), "PLAY"),  # exactly cutoff - 30 days: active
        ("stale", ts("2024-01-01 23:59"), "PLAY"),  # one minute too early: inactive
        ("buyer", ts("2024-01-20"), "PLAY"),
        ("buyer", ts("2024-01-21"), "BUY"),  # already converted
        ("at_cutoff", ts("2024-01-20"), "PLAY"),
        ("at_cutoff", ts("2024-02-01 00:00"), "BUY"),  # converts at the cutoff: a positive
        LATE,  # zz has no event before the cutoff: inactive
    ]
    frame, counts = duckdb_rows(spec, events, users)
    assert frame["user_id"].tolist() == ["at_cutoff", "edge"]
    assert frame["label"].tolist() == [1, 0]
    assert counts == {"kept": 2, "inactive": 2, "converted": 1}


@pytest.mark.parametrize(
    ("anchor", "early_cutoff", "late_cutoff"),
    [
        ("timestamp", "2024-01-24 15:30", "2024-02-19 08:00"),
        ("date", "2024-01-24 00:00", "2024-02-19 00:00"),
    ],
)
def test_signup_cutoffs_and_users_signed_up_after_a_calendar_cutoff(
    anchor, early_cutoff, late_cutoff
):
    spec = spec_from(
        BUY,
        [{"kind": "tenure"}, {"kind": "recency"}, {"kind": "active_days", "windows": [14]}],
        cutoffs={
            "calendar": {"start": "2024-02-01", "end": "2024-02-01", "every": 1},
            "after_signup": {"offset_days": 14, "anchor": anchor},
        },
    )
    users = [
        ("early", ts("2024-01-10 15:30"), {}),
        ("late", ts("2024-02-05 08:00"), {}),  # no calendar row: signed up after it
    ]
    events = [
        ("early", ts("2024-01-23 23:59"), "PLAY"),
        ("early", ts("2024-01-23 08:00"), "PLAY"),
        ("late", ts("2024-02-10 09:00"), "PLAY"),
        ("late", ts("2024-06-01"), "PLAY"),
    ]
    frame, _ = duckdb_rows(spec, events, users)
    got = frame[["user_id", "cutoff", "tenure_days", "days_since_last_event", "active_days_14d"]]
    expected = pd.DataFrame(
        [
            ("early", ts(early_cutoff), 14, 1.0, 1),  # recency counts calendar days
            ("early", ts("2024-02-01 00:00"), 22, 9.0, 1),
            ("late", ts(late_cutoff), 14, 9.0, 1),
        ],
        columns=got.columns,
    ).astype(got.dtypes.to_dict())
    pd.testing.assert_frame_equal(got, expected)


def test_user_sample_is_a_deterministic_hash_of_seed_and_id():
    users = [(f"user{i}", ts("2024-01-01"), {}) for i in range(200)]
    events = [(f"user{i}", ts("2024-01-15"), "PLAY") for i in range(200)] + [
        ("user0", ts("2024-06-01"), "PLAY")
    ]
    spec = spec_from(BUY, COUNTS)
    first, _ = duckdb_rows(spec, events, users, sample=(0.25, 7))
    again, _ = duckdb_rows(spec, events, users, sample=(0.25, 7))
    other, _ = duckdb_rows(spec, events, users, sample=(0.25, 8))
    threshold = sample_threshold(0.25)
    expected = sorted(
        u for u, _, _ in users if hashlib.md5(f"7:{u}".encode()).hexdigest()[:8] < threshold
    )
    assert first["user_id"].tolist() == expected == again["user_id"].tolist()
    assert 25 <= len(expected) <= 75
    assert set(other["user_id"]) != set(first["user_id"])
