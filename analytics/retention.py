"""Cohort retention: users grouped by signup week or month, active share per period since.

Cohorts are signup weeks (Monday start) or calendar months; the time range selects cohorts by
signup time and ends the activity observed. Period 0 is the signup period itself; a user is
retained in period p when they have an activity event (any event type unless a list is given;
in the area filter) in that calendar period.
Cells whose period had not started by the end of the data are left empty (NaN), not 0; the
columns run to the last period started for the oldest cohort, so a period nobody came back in
shows 0. A period that had started but not ended by the end of the data is partial: its share
is a lower bound, not a drop, and the column `partial_period` names it for each cohort.
Activity before signup is not counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
import sqlglot
import sqlglot.expressions as exp

from analytics.filters import NO_FILTERS, Filters, combine, time_range_condition
from analytics.scope import (
    SCOPED_USERS,
    activity_condition,
    data_end_seconds,
    render,
    scope_params,
)
from contracts.errors import UsagecastError
from features.engines import Engine

Period = Literal["week", "month"]

_PERIOD_INDEX: dict[str, str] = {
    "week": "CAST(ROUND((epoch(DATE_TRUNC('week', e.event_time)) - epoch(cu.cohort)) / 604800)"
    " AS BIGINT)",
    "month": "(YEAR(e.event_time) * 12 + MONTH(e.event_time))"
    " - (YEAR(cu.cohort) * 12 + MONTH(cu.cohort))",
}

_RETENTION = f"""
WITH {SCOPED_USERS},
cohort_users AS (
    SELECT su.user_id, su.signup_time, DATE_TRUNC(:unit, su.signup_time) AS cohort
    FROM scoped_users AS su
    WHERE :signup_range
),
activity AS (
    SELECT DISTINCT cu.cohort, cu.user_id, :period_index AS period
    FROM events AS e JOIN cohort_users AS cu ON e.user_id = cu.user_id
    WHERE e.event_time >= cu.signup_time AND :event_end AND :product_use AND :activity
),
sizes AS (SELECT cohort, COUNT(*) AS users FROM cohort_users GROUP BY cohort)
SELECT s.cohort, s.users, a.period, COUNT(a.user_id) AS active
FROM sizes AS s LEFT JOIN activity AS a ON s.cohort = a.cohort
GROUP BY s.cohort, s.users, a.period
"""


def retention(
    engine: Engine,
    filters: Filters = NO_FILTERS,
    *,
    period: Period = "week",
    activity_events: Sequence[str] = (),
) -> pd.DataFrame:
    """Cohort x period retention: columns cohort, users, "0", "1", ... (active shares), then
    partial_period (the period cut short by the end of the data; <NA> when none). Only
    `activity_events` count as activity when given (e.g. purchases, not cancellations)."""
    if period not in _PERIOD_INDEX:
        raise UsagecastError(f"retention period {period!r}: use week or month")
    params = scope_params(engine, filters)
    signup = exp.column("signup_time", table="su")
    event_end = time_range_condition(exp.column("event_time", table="e"), Filters(end=filters.end))
    long = engine.query(
        render(
            _RETENTION,
            unit=exp.Literal.string(period),
            signup_range=combine(time_range_condition(signup, filters)),
            event_end=combine(event_end),
            period_index=sqlglot.parse_one(_PERIOD_INDEX[period], read="duckdb"),
            segment=params["segment"],
            product_use=params["product_use"],
            activity=activity_condition(activity_events),
        )
    )
    return _matrix(long, period, data_end_seconds(engine, filters))


def _matrix(long: pd.DataFrame, period: Period, end_s: int) -> pd.DataFrame:
    """Pivot (cohort, period, active) to shares; unstarted periods become NaN and the period
    running at the end of the data is named in `partial_period`."""
    sizes = long.groupby("cohort")["users"].first().sort_index()
    active = long.dropna(subset=["period"]).astype({"period": "int64"})
    end = pd.Timestamp(end_s, unit="s")
    step = pd.DateOffset(weeks=1) if period == "week" else pd.DateOffset(months=1)
    started = [_periods_started(pd.Timestamp(cohort), period, end) for cohort in sizes.index]
    periods = max(started, default=1)
    counts = (
        active.pivot_table(index="cohort", columns="period", values="active", aggfunc="sum")
        .reindex(index=sizes.index, columns=range(periods))
        .fillna(0)
    )
    shares = counts.div(sizes, axis=0)
    partial: list[object] = []
    for cohort, count in zip(shares.index, started, strict=True):
        shares.loc[cohort, np.arange(periods) >= count] = np.nan
        last_end = pd.Timestamp(cohort) + step * count
        partial.append(count - 1 if last_end > end else pd.NA)
    shares.columns = [str(column) for column in shares.columns]
    table = shares.reset_index()
    table.insert(1, "users", sizes.to_numpy(dtype="int64"))
    table["partial_period"] = pd.array(partial, dtype="Int64")
    return table


def _periods_started(cohort: pd.Timestamp, period: Period, end: pd.Timestamp) -> int:
    """How many periods of a cohort (a week or month start before `end`) had started before
    the end of the data: periods k with cohort + k periods < end."""
    if period == "week":
        return -(-(end - cohort) // pd.Timedelta(weeks=1))
    months = (end.year - cohort.year) * 12 + end.month - cohort.month
    return months + int(end > cohort + pd.DateOffset(months=months))


def cohort_labels(table: pd.DataFrame) -> list[str]:
    """Each cohort's start date as text (the rows of the printed table and the plot)."""
    return [str(pd.Timestamp(cohort).date()) for cohort in table["cohort"]]


def period_columns(table: pd.DataFrame) -> list[str]:
    """The period columns "0", "1", ... of a retention table."""
    return [column for column in table.columns if column.isdigit()]


def partial_mask(table: pd.DataFrame) -> pd.DataFrame:
    """Per cohort and period column: True where the cell is the cohort's partial period."""
    columns = period_columns(table)
    partial = table["partial_period"].astype("float64").to_numpy()[:, None]
    mask = np.arange(len(columns))[None, :] == partial
    return pd.DataFrame(mask, index=table.index, columns=columns)


def marked_retention(table: pd.DataFrame) -> pd.DataFrame:
    """The table for reading: shares as text, a partial period's share starred, unstarted
    periods blank, without the partial_period column."""
    columns = period_columns(table)
    mask = partial_mask(table)
    shown = table.drop(columns="partial_period")
    shown["cohort"] = cohort_labels(table)
    for column in columns:
        shown[column] = [
            "" if np.isnan(value) else f"{value:.4g}{'*' if partial else ''}"
            for value, partial in zip(table[column], mask[column], strict=True)
        ]
    return shown
