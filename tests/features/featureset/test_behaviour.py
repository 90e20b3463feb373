"""The behaviour kinds' edge semantics on a hand-made log (the property test compares them
with the pandas reference on random ones)."""

from __future__ import annotations

import math

import pandas as pd
from featureset_testlib import LAST_FEATURES, PLAN_HISTORY, duckdb_rows, spec_from, ts

FEATURES = [
    {"kind": "gaps", "event_types": ["BUY"]},
    {"kind": "trend", "event_types": ["BUY"], "windows": [10]},
    {"kind": "distinct_items", "windows": [10]},
    {"kind": "value_mean", "event_types": ["BUY"], "windows": [10]},
]
LABEL = {"kind": "event_within", "event_type": "BUY", "horizon_days": 3}
# A later event of a user without a row, so the data reach past every label horizon.
DATA_END = ("nobody", ts("2024-02-10 00:00"), "VIEW")


def test_gaps_trend_items_and_value_mean_at_a_cutoff():
    # Cutoff 2024-02-01. BUY dates: Jan 10, Jan 20 (twice: one date), Jan 26; then one BUY
    # at the cutoff (label side only).
    events = [
        ("u1", ts("2024-01-10 09:00"), "BUY", None, "i1", 10.0),
        ("u1", ts("2024-01-20 08:00"), "BUY", None, "i2", 4.0),
        ("u1", ts("2024-01-20 23:00"), "BUY", None, "i2", None),
        ("u1", ts("2024-01-26 12:00"), "BUY", None, None, 8.0),
        ("u1", ts("2024-02-01 00:00"), "BUY", None, "i3", 100.0),
        ("u2", ts("2024-01-30 10:00"), "BUY", None, "i1", 5.0),
        ("u2", ts("2024-02-02 10:00"), "VIEW"),
        DATA_END,
    ]
    users = [(u, ts("2024-01-01 00:00"), {}) for u in ("u1", "u2", "u3")]
    rows, _ = duckdb_rows(spec_from(LABEL, FEATURES), events, users)
    u1, u2, u3 = (rows[rows["user_id"] == u].iloc[0] for u in ("u1", "u2", "u3"))
    # Dates Jan 10, 20, 26: gaps 10 and 6; 6 days since Jan 26 at the cutoff's date.
    assert (u1["mean_gap_days_BUY"], u1["last_gap_days_BUY"]) == (8.0, 6.0)
    assert u1["days_since_last_per_mean_gap_BUY"] == 6 / 8
    # Window [Jan 22, Feb 1): one BUY; the window before it [Jan 12, Jan 22): two.
    assert u1["trend_BUY_10d"] == (1 + 1) / (2 + 1)
    assert u1["distinct_items_10d"] == 0  # the Jan 26 BUY has no item
    assert u1["value_mean_BUY_10d"] == 8.0
    # One BUY date: no gap yet; no BUY before the other window: a trend of 1.
    assert all(math.isnan(u2[c]) for c in ("mean_gap_days_BUY", "last_gap_days_BUY"))
    assert math.isnan(u2["days_since_last_per_mean_gap_BUY"])
    assert (u2["trend_BUY_10d"], u2["distinct_items_10d"], u2["value_mean_BUY_10d"]) == (
        2.0,
        1,
        5.0,
    )
    # No event at all.
    assert (u3["trend_BUY_10d"], u3["distinct_items_10d"]) == (1.0, 0)
    assert math.isnan(u3["value_mean_BUY_10d"]) and math.isnan(u3["mean_gap_days_BUY"])


def test_value_mean_counts_a_missing_value_as_zero_like_the_sum():
    events = [
        ("u1", ts("2024-01-30 09:00"), "BUY", None, None, 6.0),
        ("u1", ts("2024-01-31 09:00"), "BUY", None, None, None),
        ("u1", ts("2024-02-03 09:00"), "BUY"),
        DATA_END,
    ]
    features = [
        {"kind": "value_mean", "event_types": ["BUY"], "windows": [10]},
        {"kind": "value_sum", "event_types": ["BUY"], "windows": [10]},
    ]
    rows, _ = duckdb_rows(spec_from(LABEL, features), events, [("u1", ts("2024-01-01"), {})])
    assert rows.loc[0, "value_mean_BUY_10d"] == 3.0 and rows.loc[0, "value_sum_BUY_10d"] == 6.0


def test_last_reads_the_latest_non_empty_field_before_the_cutoff():
    users = [(u, ts("2023-01-01 00:00"), {}) for u in ("u1", "u2", "u3")]
    rows, _ = duckdb_rows(spec_from(LABEL, LAST_FEATURES), PLAN_HISTORY, users)
    u1, u2, u3 = (rows[rows["user_id"] == u].iloc[0] for u in ("u1", "u2", "u3"))
    # The Jan 20 change has no plan; the Feb 1 one is at the cutoff, on the label side.
    assert (u1["last_area_PLAN"], u1["last_value"]) == ("pro", 9.0)
    # Two changes at one instant: the greatest field of each, in both engines.
    assert (u2["last_area_PLAN"], u2["last_value"]) == ("basic", 5.0)
    assert pd.isna(u3["last_area_PLAN"]) and math.isnan(u3["last_value"])
