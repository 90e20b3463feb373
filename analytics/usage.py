"""What people use: top product features, and what converters used before converting.

Features are product areas (the events' `area` column); events without an area are not a
feature use and are left out of these two tables (they still count towards active users).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import sqlglot.expressions as exp

from analytics.filters import NO_FILTERS, Filters, area_condition, combine, time_range_condition
from analytics.scope import (
    SCOPED_EVENTS,
    SCOPED_USERS,
    data_end_seconds,
    days_interval,
    epoch_seconds,
    render,
    scope_params,
)
from contracts.errors import UsagecastError
from features.engines import Engine

_TOP_FEATURES = f"""
WITH {SCOPED_USERS}, {SCOPED_EVENTS}
SELECT area, :event_type_key AS event_type,
       COUNT(DISTINCT user_id) AS users, COUNT(*) AS events
FROM scoped_events
WHERE area IS NOT NULL
GROUP BY 1, 2
"""

_ACTIVE_USERS = f"""
WITH {SCOPED_USERS}, {SCOPED_EVENTS}
SELECT COUNT(DISTINCT user_id) AS active_users FROM scoped_events
"""


def top_features(
    engine: Engine, filters: Filters = NO_FILTERS, *, per_event_type: bool = False
) -> pd.DataFrame:
    """Product areas ranked by unique users, then events (optionally per event type).

    Columns: [event_type,] area, users, events, user_share (users / active users in scope),
    rank (1 = most users; within each event type when per_event_type).
    """
    params = scope_params(engine, filters)
    keys = ["event_type", "area"] if per_event_type else ["area"]
    # One template for both shapes: overall, the event type is one constant group.
    event_type_key = exp.column("event_type") if per_event_type else exp.Literal.string("*")
    table = engine.query(render(_TOP_FEATURES, event_type_key=event_type_key, **params))
    active = int(engine.query(render(_ACTIVE_USERS, **params))["active_users"].iloc[0])
    table = table.astype({"users": "int64", "events": "int64"})
    table["user_share"] = table["users"] / active if active else np.nan
    table = table.sort_values(
        [*keys[:-1], "users", "events", "area"],
        ascending=[True] * (len(keys) - 1) + [False, False, True],
        ignore_index=True,
    )
    ranks = table.groupby(keys[:-1]).cumcount() + 1 if per_event_type else table.index + 1
    table["rank"] = np.asarray(ranks, dtype="int64")
    return table[[*keys, "users", "events", "user_share", "rank"]]


# First conversion of each segment user (over all history: a user converts once), kept when
# it falls in the time range; tenure counted in whole days since signup.
_CONVERTERS = """
first_conversion AS (
    SELECT e.user_id, MIN(e.event_time) AS converted_at
    FROM events AS e JOIN scoped_users AS su ON e.user_id = su.user_id
    WHERE e.event_type = :event
    GROUP BY e.user_id
),
converters AS (
    SELECT fc.user_id, fc.converted_at,
           CAST(FLOOR((FLOOR(epoch(fc.converted_at)) - su.signup_s) / 86400) AS BIGINT)
               AS tenure_day
    FROM first_conversion AS fc JOIN scoped_users AS su ON fc.user_id = su.user_id
    WHERE :conversion_range
)"""

_CONVERTER_USE = f"""
WITH {SCOPED_USERS}, {_CONVERTERS}
SELECT e.area, COUNT(DISTINCT c.user_id) AS converters_using
FROM converters AS c JOIN events AS e ON e.user_id = c.user_id
WHERE e.event_time >= c.converted_at - :lookback
  AND e.event_time < c.converted_at
  AND e.area IS NOT NULL AND :event_area
GROUP BY e.area
"""

_CONVERTER_TENURES = f"""
WITH {SCOPED_USERS}, {_CONVERTERS}
SELECT tenure_day, COUNT(*) AS converters FROM converters GROUP BY tenure_day
"""

# For every segment user, the tenure days d at which they are a comparable non-converter:
# the anchor signup + d days lies in the range and is not after their first conversion.
_AT_RISK = """
at_risk AS (
    SELECT su.user_id, su.signup_s,
           GREATEST(:min_day, COALESCE(CAST(CEIL((:start_s - su.signup_s) / 86400) AS BIGINT),
                                      :min_day)) AS d_lo,
           LEAST(:max_day,
                 CAST(CEIL((:end_s - su.signup_s) / 86400) AS BIGINT) - 1,
                 COALESCE(CAST(FLOOR((FLOOR(epoch(fc.converted_at)) - su.signup_s) / 86400)
                               AS BIGINT), :max_day)) AS d_hi
    FROM scoped_users AS su LEFT JOIN first_conversion AS fc ON su.user_id = fc.user_id
)"""

_AT_RISK_COUNTS = f"""
WITH {SCOPED_USERS}, {_CONVERTERS}, {_AT_RISK}
SELECT d_lo, d_hi, COUNT(*) AS users FROM at_risk WHERE d_lo <= d_hi GROUP BY d_lo, d_hi
"""

# Area use of at-risk users by tenure day t; an event on day t lies in the lookback window
# of anchors t+1 .. t+L. Merging each user's days into islands (gaps <= L) turns the
# windows into disjoint anchor spans [first+1, last+L], clipped to the user's at-risk days.
# The events kept (t in [d_lo - L, d_hi - 1]) make every clipped span non-empty, so a span
# is fully described by its two edges: an island's first day opens it at
# max(first+1, d_lo), its last day closes it at min(last+L, d_hi). Counting edges per
# (area, day) needs one window pass and returns at most areas x days x 2 rows. Several
# events on one day need no DISTINCT: only the first of them opens and the last closes.
_COMPARISON_EDGES = f"""
WITH {SCOPED_USERS}, {_CONVERTERS}, {_AT_RISK},
usage AS (
    SELECT e.user_id, e.area, r.d_lo, r.d_hi,
           CAST(FLOOR((FLOOR(epoch(e.event_time)) - r.signup_s) / 86400) AS BIGINT) AS t
    FROM events AS e JOIN at_risk AS r ON e.user_id = r.user_id
    WHERE r.d_lo <= r.d_hi AND e.area IS NOT NULL AND :event_area
      AND FLOOR(epoch(e.event_time)) >= r.signup_s + (r.d_lo - :lookback_days) * 86400
      AND FLOOR(epoch(e.event_time)) < r.signup_s + r.d_hi * 86400
),
neighbours AS (
    SELECT area, t, d_lo, d_hi,
           LAG(t) OVER (PARTITION BY user_id, area ORDER BY t) AS previous_t,
           LEAD(t) OVER (PARTITION BY user_id, area ORDER BY t) AS next_t
    FROM usage
)
SELECT area, GREATEST(t + 1, d_lo) AS day, 'open' AS edge, COUNT(*) AS users
FROM neighbours
WHERE previous_t IS NULL OR t - previous_t > :lookback_days
GROUP BY 1, 2, 3
UNION ALL
SELECT area, LEAST(t + :lookback_days, d_hi) AS day, 'close' AS edge, COUNT(*) AS users
FROM neighbours
WHERE next_t IS NULL OR next_t - t > :lookback_days
GROUP BY 1, 2, 3
"""


def before_conversion(
    engine: Engine,
    event: str,
    filters: Filters = NO_FILTERS,
    *,
    lookback_days: int = 30,
) -> pd.DataFrame:
    """Areas converters used in the `lookback_days` before their first `event`, with lift.

    Converters: segment users whose first-ever `event` falls in the time range. Their use of
    an area counts when an event in that area lies in [first conversion - lookback, first
    conversion). Comparable non-converters, defined per tenure: for a converter who converted
    on tenure day d (whole days since signup), the comparison group is every segment user
    who had not converted by signup + d days, with that anchor inside the time range; their
    use counts in the window [signup + d - lookback days, signup + d days). The comparison
    share is the average over converters of the share within their tenure day's group
    (tenure days with nobody to compare with are left out of that average).

    Columns: area, converters_using (unique users, the ranking), converter_share,
    comparison_share, lift (converter_share / comparison_share).
    """
    if lookback_days < 1:
        raise UsagecastError(f"lookback: must be at least 1 day, got {lookback_days}")
    params = scope_params(engine, filters)
    converted_at = exp.column("converted_at", table="fc")
    params["conversion_range"] = combine(time_range_condition(converted_at, filters))
    params["event"] = exp.Literal.string(event)
    params["lookback"] = days_interval(lookback_days)
    params["lookback_days"] = exp.Literal.number(lookback_days)
    params["event_area"] = combine(area_condition(exp.column("area", table="e"), filters))
    used = engine.query(render(_CONVERTER_USE, **params))
    tenures = engine.query(render(_CONVERTER_TENURES, **params)).astype("int64")
    if tenures.empty:
        return pd.DataFrame(columns=BEFORE_CONVERSION_COLUMNS)
    params["min_day"] = exp.Literal.number(int(tenures["tenure_day"].min()))
    params["max_day"] = exp.Literal.number(int(tenures["tenure_day"].max()))
    start_s = epoch_seconds(filters.start) if filters.start is not None else None
    params["start_s"] = exp.Literal.number(start_s) if start_s is not None else exp.null()
    params["end_s"] = exp.Literal.number(data_end_seconds(engine, filters))
    at_risk = engine.query(render(_AT_RISK_COUNTS, **params))
    edges = engine.query(render(_COMPARISON_EDGES, **params))
    return assemble_before_conversion(used, tenures, at_risk, edges)


BEFORE_CONVERSION_COLUMNS = [
    "area",
    "converters_using",
    "converter_share",
    "comparison_share",
    "lift",
]


def assemble_before_conversion(
    used: pd.DataFrame, tenures: pd.DataFrame, at_risk: pd.DataFrame, edges: pd.DataFrame
) -> pd.DataFrame:
    """The before-conversion table from its four aggregates (see before_conversion).

    used: area, converters_using; tenures: tenure_day, converters; at_risk: d_lo, d_hi,
    users; edges: area, day, edge ('open' | 'close'), users.
    """
    if tenures.empty:
        return pd.DataFrame(columns=BEFORE_CONVERSION_COLUMNS)
    comparison = _comparison_shares(tenures, at_risk, edges)
    table = used.merge(comparison, on="area", how="outer")
    table["converters_using"] = table["converters_using"].fillna(0).astype("int64")
    table["comparison_share"] = table["comparison_share"].fillna(0.0)
    table["converter_share"] = table["converters_using"] / int(tenures["converters"].sum())
    table["lift"] = table["converter_share"] / table["comparison_share"].where(
        table["comparison_share"] > 0
    )
    # Ordered on the lift rounded to 12 digits: DuckDB's parallel sums can differ in the last
    # bits between two runs, which must not swap areas whose lifts are equal.
    order = (
        table.assign(lift_order=table["lift"].round(12))
        .sort_values(["converters_using", "lift_order", "area"], ascending=[False, False, True])
        .index
    )
    return table.loc[order, BEFORE_CONVERSION_COLUMNS].reset_index(drop=True)


def _comparison_shares(
    tenures: pd.DataFrame, at_risk: pd.DataFrame, edges: pd.DataFrame
) -> pd.DataFrame:
    """Converter-weighted mean, over tenure days, of each area's share among at-risk users.

    `at_risk` holds (d_lo, d_hi, users): users at risk on days d_lo..d_hi; `edges` holds
    (area, day, edge, users): spans of days whose window contains the area open on day
    (edge 'open') and close after day (edge 'close'), counted per user.
    """
    first = int(tenures["tenure_day"].min())
    size = int(tenures["tenure_day"].max()) - first + 1
    weights = np.zeros(size)
    np.add.at(weights, tenures["tenure_day"].to_numpy() - first, tenures["converters"])
    at_risk_by_day = _interval_counts(
        at_risk["d_lo"], at_risk["d_hi"], at_risk["users"], first, size
    )
    matched = (weights > 0) & (at_risk_by_day > 0)
    per_user_weight = np.where(matched, weights / np.where(matched, at_risk_by_day, 1), 0.0)
    total_weight = weights[matched].sum()
    cumulative = np.concatenate([[0.0], np.cumsum(per_user_weight)])
    # A span lo..hi adds cumulative[hi + 1] - cumulative[lo]: + at its close, - at its open.
    closes = (edges["edge"] == "close").to_numpy()
    day = edges["day"].to_numpy(dtype="int64") - first + closes
    sign = np.where(closes, 1.0, -1.0)
    contribution = sign * edges["users"].to_numpy(dtype="float64") * cumulative[day]
    shares = (
        pd.Series(contribution, index=edges["area"].to_numpy()).groupby(level=0).sum()
        / total_weight
        if total_weight > 0
        else pd.Series(dtype="float64")
    )
    return shares.rename("comparison_share").rename_axis("area").reset_index()


def _interval_counts(
    lows: pd.Series, highs: pd.Series, counts: pd.Series, first: int, size: int
) -> np.ndarray:
    """Per day (first .. first+size-1), the summed counts of intervals covering it."""
    delta = np.zeros(size + 1)
    np.add.at(delta, lows.to_numpy(dtype="int64") - first, counts.to_numpy(dtype="float64"))
    np.add.at(delta, highs.to_numpy(dtype="int64") - first + 1, -counts.to_numpy(dtype="float64"))
    return np.cumsum(delta)[:size]
