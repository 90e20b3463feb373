"""The history rollup's period rule: each date maps to the first calendar cutoff after it."""

from __future__ import annotations

import datetime as dt

import duckdb
from featureset_testlib import next_cutoffs_query
from hypothesis import given
from hypothesis import strategies as st

from features.featureset.compiler import calendar_cutoff_dates
from features.featureset.spec import CalendarCutoffs

calendars = st.one_of(
    st.builds(
        CalendarCutoffs,
        start=st.dates(dt.date(2023, 1, 1), dt.date(2024, 12, 31)),
        end=st.dates(dt.date(2025, 1, 1), dt.date(2025, 12, 31)),
        every_month=st.just(True),
    ),
    st.builds(
        CalendarCutoffs,
        start=st.dates(dt.date(2023, 1, 1), dt.date(2024, 12, 31)),
        end=st.dates(dt.date(2025, 1, 1), dt.date(2025, 12, 31)),
        every_days=st.integers(1, 45),
    ),
)


def expected_next_cutoff(calendar: CalendarCutoffs, day: dt.date) -> dt.date:
    return min(c for c in calendar_cutoff_dates(calendar) if c > day)


@given(calendar=calendars, days=st.lists(st.dates(dt.date(2022, 6, 1), dt.date(2025, 12, 31))))
def test_each_day_maps_to_the_first_cutoff_after_it(calendar, days):
    last = calendar_cutoff_dates(calendar)[-1]
    days = [d for d in days if d < last]  # later events precede no cutoff: filtered in SQL
    if not days:
        return
    rows = duckdb.sql(next_cutoffs_query(calendar, days).sql(dialect="duckdb")).fetchall()
    assert [slot for _, slot, _ in rows] == [expected_next_cutoff(calendar, d) for d in days]


@given(calendar=calendars, days=st.lists(st.dates(dt.date(2022, 6, 1), dt.date(2025, 12, 31))))
def test_days_of_one_period_share_their_next_cutoff(calendar, days):
    """past_slots groups events by cutoff_period and takes the slot of each group's last day."""
    last = calendar_cutoff_dates(calendar)[-1]
    days = [d for d in days if d < last]
    if not days:
        return
    rows = duckdb.sql(next_cutoffs_query(calendar, days).sql(dialect="duckdb")).fetchall()
    slots_by_period: dict[int, set[dt.date]] = {}
    for _, slot, period in rows:
        slots_by_period.setdefault(period, set()).add(slot)
    assert all(len(slots) == 1 for slots in slots_by_period.values())
