"""Value by days since signup: what a signed-up user has brought in within N days.

The users are those of time to convert (analytics.conversion_time): in the segment, signed
up in the time range and before the end of the data. A user's value by day d is the sum of
the `value` of their purchase events from signup to the end of day d (day 0 = the first 24
hours; a purchase without a value counts as a purchase worth 0; a refund's negative value
subtracts). The value per user by day d averages over the users followed through the whole
of day d only: a user who signed up last week is left out of the 30-day value instead of
counting as 0 there, so the curve does not bend down where the cohort runs out of time.

With a start event (a first order, a trial's start), each user's days count from their first
event of that type in the time range instead of signup, and the users are those who did it
there; a purchase at that moment counts on day 0 (a first order is part of the value after
it), one before it does not.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import sqlglot.expressions as exp

from analytics.filters import NO_FILTERS, Filters
from analytics.scope import (
    SECONDS_PER_DAY,
    check_breakdown,
    check_signup_window,
    cohort_query,
    with_breakdown,
)
from contracts.errors import UsagecastError
from features.engines import Engine

CURVE_COLUMNS = ("day", "users", "value_per_user", "buyers_share")

# Per user of the cohort the seconds followed, and per day since their start (signup, or a
# start event) with purchases their value (one row with a NULL day for a user without any),
# after the SCOPED_USERS and cohort CTEs.
_PURCHASE_DAYS = f"""
purchases AS (
    SELECT c.user_id,
           FLOOR((FLOOR(epoch(e.event_time)) - c.start_s) / {SECONDS_PER_DAY}) AS day,
           SUM(COALESCE(e.value, 0)) AS value
    FROM events AS e JOIN cohort AS c ON e.user_id = c.user_id
    WHERE :purchase AND FLOOR(epoch(e.event_time)) >= c.start_s
      AND FLOOR(epoch(e.event_time)) < :end_s
    GROUP BY c.user_id, FLOOR((FLOOR(epoch(e.event_time)) - c.start_s) / {SECONDS_PER_DAY})
)
SELECT c.user_id, :end_s - c.start_s AS followed_s, p.day, p.value
FROM cohort AS c LEFT JOIN purchases AS p ON c.user_id = p.user_id
"""


def purchase_days(
    engine: Engine,
    purchase_events: Sequence[str],
    filters: Filters = NO_FILTERS,
    breakdown: str | None = None,
    start_event: str | None = None,
) -> pd.DataFrame:
    """user_id, followed_days (whole days followed from signup, or from the user's first
    `start_event` in the range, to the end of the data), day (since that start; NaN for a
    user without a purchase) and value (that day's purchases) of every user of the cohort;
    with `breakdown`, a user attribute or signup cohort, also its value as text
    (MISSING_CHANNEL where none) in a column `breakdown`."""
    if not purchase_events:
        raise UsagecastError("value curve: name at least one purchase event type")
    if filters.area_prefix is not None:
        raise UsagecastError(
            "analytics value-curve: an area filter does not apply; purchases are event types"
        )
    if breakdown is not None:
        check_breakdown(engine, breakdown, "value-curve breakdown")
    purchase = exp.column("event_type", table="e").isin(*purchase_events)
    rows = engine.query(
        cohort_query(engine, filters, start_event, _PURCHASE_DAYS, purchase=purchase)
    )
    rows["user_id"] = rows["user_id"].astype(str)
    rows["followed_days"] = (rows.pop("followed_s").astype("int64") // SECONDS_PER_DAY).astype(
        "int64"
    )
    rows = rows.astype({"day": "float64", "value": "float64"})
    return with_breakdown(engine, rows[["user_id", "followed_days", "day", "value"]], breakdown)


def _curve(rows: pd.DataFrame, days: int) -> pd.DataFrame:
    """CURVE_COLUMNS of one group's purchase_days rows, days 0 to days - 1 (pure): each
    purchase counts on its day and every later day its user is followed through."""
    followed = rows.groupby("user_id")["followed_days"].first().to_numpy("int64")
    observed = len(followed) - np.searchsorted(np.sort(followed), np.arange(days) + 1)
    bought = rows.dropna(subset=["day"])
    until = np.minimum(bought["followed_days"].to_numpy("int64"), days)
    start = bought["day"].to_numpy("int64")
    kept = start < until
    # Purchases grouped by the day their user stops being followed: each group's running
    # sum counts on the days before that (sums of the values, never a sum and its undoing).
    ends, group = np.unique(until[kept], return_inverse=True)
    sums = np.zeros((len(ends), days))
    np.add.at(sums, (group, start[kept]), bought["value"].to_numpy("float64")[kept])
    alive = np.arange(days)[None, :] < ends[:, None]
    value = (np.cumsum(sums, axis=1) * alive).sum(axis=0)
    first = bought.groupby("user_id").agg(day=("day", "min"), followed=("followed_days", "first"))
    first_day = first["day"].to_numpy("int64")
    first_until = np.minimum(first["followed"].to_numpy("int64"), days)
    counted = first_day < first_until
    buyers = np.zeros(days + 1, dtype="int64")
    np.add.at(buyers, first_day[counted], 1)
    np.subtract.at(buyers, first_until[counted], 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return pd.DataFrame(
            {
                "day": np.arange(days),
                "users": observed,
                "value_per_user": np.where(observed > 0, value / observed, np.nan),
                "buyers_share": np.where(
                    observed > 0, np.cumsum(buyers)[:days] / observed, np.nan
                ),
            }
        )


def value_curve_table(rows: pd.DataFrame, days: int, breakdown: str | None = None) -> pd.DataFrame:
    """The curve of purchase_days' rows over a window of `days` (pure); with `breakdown`, per
    value of their `breakdown` column, in a first column of that name."""
    check_signup_window(days)
    if breakdown is None:
        return _curve(rows, days)
    parts = [
        _curve(part, days).assign(**{breakdown: value})
        for value, part in rows.groupby("breakdown", sort=True)
    ]
    columns = [breakdown, *CURVE_COLUMNS]
    return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


def value_curve(
    engine: Engine,
    purchase_events: Sequence[str],
    filters: Filters = NO_FILTERS,
    *,
    days: int = 180,
    breakdown: str | None = None,
    start_event: str | None = None,
) -> pd.DataFrame:
    """Per day since signup (or since the first `start_event` in the range; 0 to `days` - 1):
    the users followed through it, their mean value from `purchase_events` by its end and the
    share of them who had bought by then (per value of `breakdown`, a user attribute or
    signup cohort, when given)."""
    check_signup_window(days)
    rows = purchase_days(engine, purchase_events, filters, breakdown, start_event)
    return value_curve_table(rows, days, breakdown)
