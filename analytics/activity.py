"""Active users per day, week or month, and where they came from (growth accounting).

A user is active in a calendar period (a day; a week from Monday; a month) when they have an
activity event in it (any event type unless a list is given; in the area filter; never an
experiment's exposure log). Each period's active users are split by what they did in the
period before:
- new: their first active period in the data;
- retained: active in the period before too;
- resurrected: active earlier, but not in the period before;
and churned counts the users active in the period before who are not active in this one.
quick_ratio = (new + resurrected) / churned: above 1 the active base grows. For weeks and
months, avg_daily_active is the mean number of users active on each day of the period that
the data covers, and stickiness = avg_daily_active / active_users (DAU / MAU for months).

The time range's end ends the data; its start only drops earlier periods from the table (a
user's history before it still decides new, retained or resurrected). A period still running
at the end of the data is `partial`: its active users are a lower bound and its churned users
an upper bound (some may still come back in it). Periods in between with nobody active are
rows of zeros. A breakdown by a user attribute gives the table per value of it, every value
over the same periods.
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
    MISSING_CHANNEL,
    SCOPED_USERS,
    activity_condition,
    breakdown_column,
    check_breakdown,
    data_end_seconds,
    render,
    scope_params,
)
from contracts.errors import UsagecastError
from features.engines import Engine

Period = Literal["day", "week", "month"]

PERIODS: tuple[Period, ...] = ("day", "week", "month")
_DAY_NUMBER = "DATE_DIFF('day', DATE '1970-01-01', {date})"
# Each period as a whole number: consecutive periods differ by 1. 1970-01-01 was a Thursday,
# so shifting by 3 days makes weeks start on Monday; a month is year * 12 + month - 1.
_PERIOD_NUMBER: dict[str, str] = {
    "day": _DAY_NUMBER,
    "week": f"CAST(FLOOR(({_DAY_NUMBER} + 3) / 7) AS BIGINT)",
    "month": "YEAR({date}) * 12 + MONTH({date}) - 1",
}


def period_number_sql(period: Period, date: str = "e.event_date") -> exp.Expression:
    """The number of the period holding the DATE expression `date` (see `period_start`)."""
    if period not in _PERIOD_NUMBER:
        raise UsagecastError(f"period {period!r}: use {', '.join(PERIODS)}")
    return sqlglot.parse_one(_PERIOD_NUMBER[period].format(date=date), read="duckdb")


_FIRST_MONDAY = pd.Timestamp("1969-12-29")

COUNT_COLUMNS = (
    "active_users",
    "new_users",
    "retained_users",
    "resurrected_users",
    "churned_users",
)

# One row per (user, active period) marked by the user's active periods before and after it,
# one per (user, active day) for the daily counts; summed per period.
_ACTIVITY = f"""
WITH {SCOPED_USERS},
in_scope AS (
    SELECT e.user_id, :group_value AS group_value, e.event_date, :period_number AS period
    FROM events AS e JOIN scoped_users AS su ON e.user_id = su.user_id
    WHERE :event_end AND :product_use AND :activity
),
active AS (SELECT DISTINCT user_id, group_value, period FROM in_scope),
marked AS (
    SELECT group_value, period,
           LAG(period) OVER (PARTITION BY user_id ORDER BY period) AS previous,
           LEAD(period) OVER (PARTITION BY user_id ORDER BY period) AS following
    FROM active
),
user_days AS (SELECT DISTINCT user_id, group_value, event_date, period FROM in_scope),
parts AS (
    SELECT group_value, period, 1 AS active_users,
           CASE WHEN previous IS NULL THEN 1 ELSE 0 END AS new_users,
           CASE WHEN previous = period - 1 THEN 1 ELSE 0 END AS retained_users,
           CASE WHEN previous < period - 1 THEN 1 ELSE 0 END AS resurrected_users,
           0 AS churned_users, 0 AS user_days
    FROM marked
    UNION ALL
    SELECT group_value, period + 1, 0, 0, 0, 0, 1, 0
    FROM marked WHERE following IS NULL OR following > period + 1
    UNION ALL
    SELECT group_value, period, 0, 0, 0, 0, 0, 1 FROM user_days
)
SELECT group_value, period, SUM(active_users) AS active_users, SUM(new_users) AS new_users,
       SUM(retained_users) AS retained_users, SUM(resurrected_users) AS resurrected_users,
       SUM(churned_users) AS churned_users, SUM(user_days) AS user_days
FROM parts
GROUP BY group_value, period
"""


def active_users(
    engine: Engine,
    filters: Filters = NO_FILTERS,
    *,
    period: Period = "week",
    activity_events: Sequence[str] = (),
    breakdown: str | None = None,
) -> pd.DataFrame:
    """Per period: period (its first day), active_users, new_users, retained_users,
    resurrected_users, churned_users, quick_ratio, avg_daily_active and stickiness (weeks and
    months only), partial. Only `activity_events` count as activity when given. With
    `breakdown`, a user attribute, the same per value of it (MISSING_CHANNEL where a user has
    none) in a first column of that name, every value over the same periods."""
    number_sql = period_number_sql(period)
    if breakdown is not None:
        check_breakdown(engine, breakdown, "active users breakdown")
    params = scope_params(engine, filters)
    event_end = time_range_condition(exp.column("event_time", table="e"), Filters(end=filters.end))
    group_value = (
        exp.Literal.string("")
        if breakdown is None
        else exp.func(
            "COALESCE",
            exp.cast(breakdown_column(breakdown, "su"), "VARCHAR"),
            exp.Literal.string(MISSING_CHANNEL),
        )
    )
    counts = engine.query(
        render(
            _ACTIVITY,
            group_value=group_value,
            period_number=number_sql,
            event_end=combine(event_end),
            segment=params["segment"],
            product_use=params["product_use"],
            activity=activity_condition(activity_events),
        )
    )
    end = pd.Timestamp(data_end_seconds(engine, filters), unit="s")
    active = counts.loc[counts["active_users"] > 0, "period"]
    if active.empty:
        return _empty_table(period, breakdown)
    first = int(active.min())
    if filters.start is not None:
        first = max(first, period_number(pd.Timestamp(filters.start), period))
    if breakdown is None:
        return growth_table(counts, period, end, first)
    tables = [
        growth_table(part, period, end, first).assign(**{breakdown: value})
        for value, part in counts.groupby("group_value", sort=True)
    ]
    table = pd.concat(tables, ignore_index=True)
    return table[[breakdown, *(column for column in table.columns if column != breakdown)]]


def period_start(number: int, period: Period) -> pd.Timestamp:
    """The first day of the period numbered as in the SQL (`_PERIOD_NUMBER`)."""
    if period == "day":
        return pd.Timestamp("1970-01-01") + pd.Timedelta(days=number)
    if period == "week":
        return _FIRST_MONDAY + pd.Timedelta(weeks=number)
    return pd.Timestamp(year=number // 12, month=number % 12 + 1, day=1)


def period_number(moment: pd.Timestamp, period: Period) -> int:
    """The number of the period holding `moment` (the inverse of `period_start`)."""
    day = (moment.normalize() - pd.Timestamp("1970-01-01")).days
    if period == "day":
        return day
    if period == "week":
        return (day + 3) // 7
    return moment.year * 12 + moment.month - 1


def growth_table(
    counts: pd.DataFrame, period: Period, end: pd.Timestamp, first: int
) -> pd.DataFrame:
    """The table from the per-period sums (`period` numbers, the count columns, user_days):
    every period from the one numbered `first` to the one holding the end of the data, with
    ratios and the partial flag."""
    last = period_number(end - pd.Timedelta(microseconds=1), period)
    numbers = range(first, last + 1)
    sums = (
        counts[["period", *COUNT_COLUMNS, "user_days"]]
        .astype({"period": "int64"})
        .set_index("period")
        .reindex(numbers, fill_value=0)
        .astype("int64")
    )
    starts = [period_start(number, period) for number in numbers]
    ends = [period_start(number + 1, period) for number in numbers]
    table = pd.DataFrame({"period": starts})
    for column in COUNT_COLUMNS:
        table[column] = sums[column].to_numpy()
    churned = table["churned_users"].to_numpy("float64")
    gained = (table["new_users"] + table["resurrected_users"]).to_numpy("float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        table["quick_ratio"] = np.where(churned > 0, gained / churned, np.nan)
    if period != "day":
        observed_days = [
            max(1, -(-(min(stop, end) - begin) // pd.Timedelta(days=1)))
            for begin, stop in zip(starts, ends, strict=True)
        ]
        daily = sums["user_days"].to_numpy("float64") / np.array(observed_days, dtype="float64")
        table["avg_daily_active"] = daily
        active_count = table["active_users"].to_numpy("float64")
        with np.errstate(divide="ignore", invalid="ignore"):
            table["stickiness"] = np.where(active_count > 0, daily / active_count, np.nan)
    table["partial"] = [stop > end for stop in ends]
    return table


def _empty_table(period: Period, breakdown: str | None) -> pd.DataFrame:
    """No activity in scope: the table's columns, no rows."""
    columns = [*([breakdown] if breakdown else []), "period", *COUNT_COLUMNS, "quick_ratio"]
    if period != "day":
        columns += ["avg_daily_active", "stickiness"]
    return pd.DataFrame(columns=[*columns, "partial"])


def marked_activity(table: pd.DataFrame) -> pd.DataFrame:
    """The table for reading: each period as its first day, starred when partial, without the
    partial column."""
    shown = table.drop(columns="partial")
    shown["period"] = [
        f"{pd.Timestamp(start).date()}{'*' if partial else ''}"
        for start, partial in zip(table["period"], table["partial"], strict=True)
    ]
    return shown
