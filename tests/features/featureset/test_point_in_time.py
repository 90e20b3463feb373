"""Property tests: the compiled SQL equals the pandas reference, and never sees the future."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from featureset_cases import (
    CUTOFF_MODES,
    EVENT_TYPES,
    ITEMS,
    LABELS,
    SIGNUP_ANCHORS,
    SIGNUP_OFFSETS,
    events_strategy,
    make_spec,
    signups,
    to_events,
    to_users,
)
from featureset_reference import reference_feature_set
from featureset_testlib import duckdb_rows
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def reference_rows(spec, events, users):
    frame = pd.DataFrame(
        events,
        columns=["user_id", "event_time", "event_type", "session_id", "item_id", "value", "area"],
    )
    frame["event_time"] = pd.to_datetime(frame["event_time"])
    user_frame = pd.DataFrame(
        [(u, pd.Timestamp(s), a["channel"]) for u, s, a in users],
        columns=["user_id", "signup_time", "channel"],
    )
    return reference_feature_set(spec, frame, user_frame, ITEMS)


def assert_same_rows(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    expected = expected.astype(actual.dtypes.to_dict())
    pd.testing.assert_frame_equal(
        actual.reset_index(drop=True), expected.reset_index(drop=True), rtol=1e-12
    )


@pytest.mark.slow
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    label=st.sampled_from(sorted(LABELS)),
    cutoffs=st.sampled_from(CUTOFF_MODES),
    anchor=st.sampled_from(SIGNUP_ANCHORS),
    offset_days=st.sampled_from(SIGNUP_OFFSETS),
    date_only=st.booleans(),
    raw_events=events_strategy,
    raw_signups=signups,
)
def test_duckdb_equals_pandas_reference(
    label, cutoffs, anchor, offset_days, date_only, raw_events, raw_signups
):
    eligibility = {"active_within_days": 6, "not_converted": "C"} if label == "churn" else None
    spec = make_spec(LABELS[label], eligibility, cutoffs, anchor=anchor, offset_days=offset_days)
    events, users = to_events(raw_events, date_only=date_only), to_users(raw_signups)
    actual, actual_counts = duckdb_rows(spec, events, users, items=ITEMS)
    expected, expected_counts = reference_rows(spec, events, users)
    assert_same_rows(actual, expected)
    assert {k: v for k, v in expected_counts.items() if v} == actual_counts


@pytest.mark.slow
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    raw_events=events_strategy,
    raw_signups=signups,
    shift=st.integers(0, 3 * 24 * 60),
    new_type=st.sampled_from(EVENT_TYPES),
)
def test_changing_events_at_or_after_cutoff_leaves_features_unchanged(
    raw_events, raw_signups, shift, new_type
):
    spec = make_spec(LABELS["event_within"], cutoffs="calendar")
    events, users = to_events(raw_events), to_users(raw_signups)
    before, _ = duckdb_rows(spec, events, users, items=ITEMS)
    feature_columns = [c for c in before.columns if c != "label"]
    for cutoff in before["cutoff"].unique():
        # Move every event at or after this cutoff later and change its type and value.
        perturbed = [
            (u, t + dt.timedelta(minutes=shift), new_type, s, i, 9.0, "home")
            if t >= cutoff
            else (u, t, e, s, i, v, a)
            for u, t, e, s, i, v, a in events
        ]
        after, _ = duckdb_rows(spec, perturbed, users, items=ITEMS)
        # Censoring depends on the end of the data, which the perturbation may move: compare
        # the rows present in both builds.
        keys = ["user_id", "cutoff"]
        old = before.loc[before["cutoff"] == cutoff, feature_columns]
        new = after.loc[after["cutoff"] == cutoff, feature_columns]
        common = old.merge(new[keys], on=keys)
        assert_same_rows(new.merge(common[keys], on=keys), common)


@pytest.mark.parametrize("cutoffs", ["calendar", "after_signup"])
def test_an_event_reads_its_items_version_valid_at_its_time(cutoffs):
    """Item i3 is unknown before day 3, 2.0 until day 9, then 8.0: each window's mean reads
    the versions of its events' times, whatever the item's later versions."""
    day = 24 * 60
    raw = [("u1", m, "A", "s1", "i3", None, None) for m in (1 * day, 5 * day, 10 * day)]
    raw.append(("u2", 34 * day, "A", "s1", None, None, None))  # the data's end
    spec = make_spec(LABELS["event_within"], cutoffs=cutoffs, offset_days=14)
    rows, _ = duckdb_rows(spec, to_events(raw), to_users([0, 0, 0]), items=ITEMS)
    means = rows[rows["user_id"] == "u1"].set_index("cutoff")["mean_item_popularity_10d"]
    expected = {
        "calendar": {
            "2024-01-05": None,
            "2024-01-10": 2.0,
            "2024-01-15": 5.0,
            "2024-01-20": 8.0,
            "2024-01-25": None,
        },
        "after_signup": {"2024-01-15": 5.0},
    }[cutoffs]
    assert {str(c.date()): (None if pd.isna(v) else v) for c, v in means.items()} == expected
