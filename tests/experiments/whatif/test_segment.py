"""Segment predicates select exactly the rows pandas would (no event store: feature columns)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from experiments.whatif import select_segment

ROWS = pd.DataFrame(
    {
        "user_id": [f"u{i}" for i in range(40)],
        "cutoff": pd.Timestamp("2026-02-01"),
        "label": np.arange(40) % 2,
        "plays_30d": np.arange(40, dtype=float) % 17,
        "city": np.array(["berlin", "lagos", "lima", None], dtype=object)[np.arange(40) % 4],
    }
)


@settings(max_examples=40, deadline=None)
@given(
    threshold=st.integers(min_value=-1, max_value=18),
    cities=st.lists(st.sampled_from(["berlin", "lagos", "lima"]), min_size=1, unique=True),
)
def test_segment_keeps_exactly_the_matching_rows_in_order(threshold, cities):
    listed = ", ".join(f"'{city}'" for city in cities)
    kept = select_segment(ROWS, f"plays_30d >= {threshold} AND city IN ({listed})")
    expected = ROWS[(ROWS["plays_30d"] >= threshold) & ROWS["city"].isin(cities)]
    assert kept["user_id"].tolist() == expected["user_id"].tolist()


def test_no_segment_keeps_every_row():
    assert select_segment(ROWS, None) is ROWS
