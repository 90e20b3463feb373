"""Cohort retention: users grouped by signup week or month, active share per period since.

Cohorts are signup weeks (Monday start) or calendar months; the time range selects cohorts by
signup time and ends the activity observed. Period 0 is the signup period itself; a user is
retained in period p when they have any event (in the area filter) in that calendar period.
Cells whose period had not started by the end of the data are left empty (NaN), not 0.
Activity before signup is not counted.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
import sqlglot
import sqlglot.expressions as exp

from analytics.filters import NO_FILTERS, Filters, combine, time_range_condition
from analytics.scope import SCOPED_USERS, data_end_seconds, render, scope_params
from features.engines import Engine
from features.errors import UsagecastError

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
    WHERE e.event_time >= cu.signup_time AND :event_end AND :event_area
),
sizes AS (SELECT cohort, COUNT(*) AS users FROM cohort_users GROUP BY cohort)
SELECT s.cohort, s.users, a.period, COUNT(a.user_id) AS active
FROM sizes AS s LEFT JOIN activity AS a ON s.cohort = a.cohort
GROUP BY s.cohort, s.users, a.period
"""


def retention(
    engine: Engine, filters: Filters = NO_FILTERS, *, period: Period = "week"
) -> pd.DataFrame:
    """Cohort x period retention: columns cohort, users, then "0", "1", ... (active shares)."""
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
            event_area=params["event_area"],
        )
    )
    return _matrix(long, period, data_end_seconds(engine, filters))


def _matrix(long: pd.DataFrame, period: Period, end_s: int) -> pd.DataFrame:
    """Pivot (cohort, period, active) to shares; unobserved periods become NaN."""
    sizes = long.groupby("cohort")["users"].first().sort_index()
    active = long.dropna(subset=["period"]).astype({"period": "int64"})
    periods = int(active["period"].max()) + 1 if not active.empty else 1
    counts = (
        active.pivot_table(index="cohort", columns="period", values="active", aggfunc="sum")
        .reindex(index=sizes.index, columns=range(periods))
        .fillna(0)
    )
    shares = counts.div(sizes, axis=0)
    end = pd.Timestamp(end_s, unit="s")
    step = pd.DateOffset(weeks=1) if period == "week" else pd.DateOffset(months=1)
    for cohort in shares.index:
        starts = [pd.Timestamp(cohort) + step * offset for offset in range(periods)]
        shares.loc[cohort, np.asarray(starts) >= end] = np.nan
    shares.columns = [str(column) for column in shares.columns]
    table = shares.reset_index()
    table.insert(1, "users", sizes.to_numpy(dtype="int64"))
    return table
