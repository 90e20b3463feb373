"""The time-ordered split with an embargo: no label window crosses into a later part."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from experiments.split import apply_split, plan_split, require_horizon
from features.errors import UsagecastError


def test_monthly_cutoffs_with_a_30_day_horizon():
    cutoffs = pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01"])
    plan = plan_split(list(cutoffs), 30)
    assert plan.test == (pd.Timestamp("2024-04-01"),)
    assert plan.validation == (pd.Timestamp("2024-03-01"),)
    # Feb 1 + 30 days = Mar 2 > Mar 1: February's labels would overlap validation.
    assert plan.train == (pd.Timestamp("2024-01-01"),)
    assert plan.embargoed == (pd.Timestamp("2024-02-01"),)


def test_rows_follow_their_cutoff_and_the_input_is_untouched():
    frame = pd.DataFrame(
        {
            "user_id": ["a", "b", "a", "b", "a"],
            "cutoff": pd.to_datetime(
                ["2024-01-01", "2024-01-01", "2024-02-15", "2024-04-01", "2024-05-15"]
            ),
            "label": [0, 1, 0, 1, 1],
        }
    )
    before = frame.copy()
    parts = apply_split(frame, plan_split(frame["cutoff"], 30))
    assert parts.train["cutoff"].dt.month.tolist() == [1, 1, 2]
    assert parts.validation["cutoff"].dt.month.tolist() == [4]
    assert parts.test["cutoff"].dt.month.tolist() == [5]
    pd.testing.assert_frame_equal(frame, before)


def test_too_few_cutoffs_is_a_clear_error():
    with pytest.raises(UsagecastError, match="cannot split 2 cutoffs"):
        plan_split(pd.to_datetime(["2024-01-01", "2024-01-10"]), 30)


@pytest.mark.parametrize("horizon", ["ever", None, 0, True])
def test_open_or_invalid_horizons_are_refused(horizon):
    with pytest.raises(UsagecastError, match="finite"):
        require_horizon(horizon)


@given(
    gaps=st.lists(st.integers(min_value=1, max_value=60), min_size=3, max_size=14),
    horizon=st.integers(min_value=1, max_value=45),
    validation=st.integers(min_value=1, max_value=3),
    test=st.integers(min_value=1, max_value=3),
)
def test_every_plan_respects_the_embargo(gaps, horizon, validation, test):
    start = pd.Timestamp("2024-01-01")
    cutoffs = [start + pd.Timedelta(days=sum(gaps[:i])) for i in range(len(gaps) + 1)]
    try:
        plan = plan_split(cutoffs, horizon, validation_cutoffs=validation, test_cutoffs=test)
    except UsagecastError:
        return
    window = pd.Timedelta(days=horizon)
    assert plan.test == tuple(sorted(cutoffs)[-test:])
    assert len(plan.validation) == validation and plan.train
    assert all(c + window <= plan.validation[0] for c in plan.train)
    assert all(c + window <= plan.test[0] for c in plan.validation)
    parts = [*plan.train, *plan.validation, *plan.test, *plan.embargoed]
    assert sorted(parts) == sorted(set(cutoffs)) and len(parts) == len(set(parts))
    assert max(plan.train) < min(plan.validation) and max(plan.validation) < min(plan.test)
