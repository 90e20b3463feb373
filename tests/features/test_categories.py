"""Rare categorical levels grouped as __other__: the rule training, serving and the scan share."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from features.categories import OTHER_LEVEL, group_values, grouped_levels


def _values(counts: dict[str, int]) -> pd.Series:
    return pd.Series([level for level, n in counts.items() for _ in range(n)] + [None])


@pytest.mark.parametrize(
    ("counts", "min_rows", "max_levels", "levels"),
    [
        ({"web": 30, "app": 25}, 20, 100, ("app", "web")),  # nothing left out: unchanged
        ({"web": 30, "app": 5}, 20, 100, ("web", OTHER_LEVEL)),  # rare level grouped
        ({"a": 50, "b": 40, "c": 40, "d": 30}, 20, 2, ("a", "b", OTHER_LEVEL)),  # ties by text
        ({"x": 3, "y": 2}, 20, 100, (OTHER_LEVEL,)),  # every level rare
        ({}, 20, 100, ()),  # only missing values
    ],
)
def test_grouped_levels(counts, min_rows, max_levels, levels):
    assert grouped_levels(_values(counts), min_rows, max_levels) == levels


def test_values_outside_the_levels_become_other_and_missing_stays_missing():
    values = pd.Series(["web", "app", None, "new"])
    grouped = group_values(values, ("web", OTHER_LEVEL))
    assert grouped.tolist()[:2] == ["web", OTHER_LEVEL] and pd.isna(grouped[2])
    assert grouped[3] == OTHER_LEVEL
    assert group_values(values, ("app", "web")) is values  # no __other__: nothing grouped


def test_the_reserved_level_in_the_data_is_an_error():
    with pytest.raises(ValueError, match="reserved"):
        grouped_levels(pd.Series([OTHER_LEVEL] * 30))


@given(
    st.lists(st.sampled_from([f"org{k}" for k in range(40)]), max_size=300),
    st.integers(1, 30),
    st.integers(1, 50),
)
def test_grouping_keeps_at_most_max_levels_each_with_min_rows(values, min_rows, max_levels):
    series = pd.Series(values, dtype="object")
    levels = grouped_levels(series, min_rows, max_levels)
    kept = [level for level in levels if level != OTHER_LEVEL]
    assert len(kept) <= max_levels
    assert all((series == level).sum() >= min_rows for level in kept)
    grouped = group_values(series, levels)
    assert set(grouped.dropna()) <= set(levels)
    assert (OTHER_LEVEL in levels) == (set(series) != set(kept))
