"""Time to convert: how many days after signup users first do the conversion event, or adopt.

The users are those in the segment who signed up in the time range and before the end of the
data; a user's conversion is their first event of the conversion type at or after signup (one
before signup does not count) and before the end of the data, or, for adoption, the first
event of the first date that completes `min_days` distinct active dates within some
`window_days` days (the active_days_in_window label's rule). A user who has not converted is
followed until the end of the data and no further: censored. The share converted by each day
since signup is therefore a Kaplan-Meier estimate over the exact times, not converters over
everyone (which would count users who signed up last week as never converting in their second
month). Day 0 is the first 24 hours after signup; "by day d" means within d + 1 days.

With a start event (a trial's start, a first order), the clock starts at each segment user's
first event of that type in the time range instead of signup, and the users are those who did
it there; the rest is the same, "signup" read as that start (a conversion before it does not
count). The start and the conversion cannot be the same event type.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlglot
import sqlglot.expressions as exp

from analytics.filters import NO_FILTERS, Filters
from analytics.scope import (
    SECONDS_PER_DAY,
    activity_condition,
    check_breakdown,
    check_signup_window,
    cohort_query,
    product_use,
    with_breakdown,
)
from contracts.errors import UsagecastError
from features.engines import Engine

CURVE_COLUMNS = ("day", "at_risk", "converted", "censored", "converted_share")
SUMMARY_COLUMNS = (
    "users",
    "converted",
    "converted_share",
    "median_days_to_convert",
    "observed_whole_window",
)

# A conversion is the first event of a type at or after signup.
_FIRST_EVENTS = """
conversions AS (
    SELECT c.user_id, MIN(FLOOR(epoch(e.event_time))) AS converted_s
    FROM events AS e JOIN cohort AS c ON e.user_id = c.user_id
    WHERE e.event_type = :event AND FLOOR(epoch(e.event_time)) >= c.start_s
      AND FLOOR(epoch(e.event_time)) < :end_s
    GROUP BY c.user_id
)"""

# Adoption: the first event of the first active date (after signup) that has `min_days` - 1
# earlier active dates within `window_days` - 1 days of it, as the active_days_in_window label
# counts days (features.featureset.compiler.labels).
_ADOPTIONS = """
active_days AS (
    SELECT e.user_id, e.event_date, MIN(FLOOR(epoch(e.event_time))) AS first_s
    FROM events AS e JOIN cohort AS c ON e.user_id = c.user_id
    WHERE FLOOR(epoch(e.event_time)) >= c.start_s AND FLOOR(epoch(e.event_time)) < :end_s
      AND :product_use AND :activity
    GROUP BY e.user_id, e.event_date
),
runs AS (SELECT user_id, event_date, first_s, :earlier AS earlier FROM active_days),
conversions AS (
    SELECT user_id, MIN(first_s) AS converted_s FROM runs
    WHERE DATE_DIFF('day', earlier, event_date) < :window_days
    GROUP BY user_id
)"""

# Each user of the cohort: seconds from signup to their first conversion (converted) or to
# the end of the data (not converted, censored there).
_FOLLOWED = """
SELECT c.user_id, COALESCE(v.converted_s, :end_s) - c.start_s AS seconds,
       v.converted_s IS NOT NULL AS converted
FROM cohort AS c LEFT JOIN conversions AS v ON c.user_id = v.user_id
"""


@dataclass(frozen=True)
class Adoption:
    """The conversion "adopted": `min_days` distinct active dates inside some window of
    `window_days` days (the active_days_in_window label's rule), e.g. 3 in 7."""

    min_days: int
    window_days: int

    def __post_init__(self) -> None:
        if not 1 <= self.min_days <= self.window_days:
            raise UsagecastError(
                f"adoption {self}: needs 1 <= min days <= window days (e.g. 3/7: 3 active "
                "days within some 7 days)"
            )

    def __str__(self) -> str:
        return f"{self.min_days}/{self.window_days}"


def parse_adoption(text: str) -> Adoption:
    """`MIN_DAYS/WINDOW_DAYS` (e.g. "3/7") as an Adoption."""
    parts = text.split("/")
    if len(parts) != 2 or not all(part.strip().isdigit() for part in parts):
        raise UsagecastError(
            f"adoption {text!r}: write MIN_DAYS/WINDOW_DAYS, e.g. 3/7 (3 active days within "
            "some 7 days)"
        )
    return Adoption(int(parts[0]), int(parts[1]))


Conversion = str | Adoption


def _conversions(
    conversion: Conversion, filters: Filters, activity_events: Sequence[str]
) -> tuple[str, dict[str, exp.Expression]]:
    """The conversions CTE and its placeholders' values: an event type's first event, or
    adoption's first adopting day (in the area prefix, of the activity events)."""
    if isinstance(conversion, str):
        if filters.area_prefix is not None or activity_events:
            raise UsagecastError(
                "analytics time-to-convert: an area filter and activity events go with "
                "--adoption; a conversion event is an event type"
            )
        return _FIRST_EVENTS, {"event": exp.Literal.string(conversion)}
    day = exp.column("event_date")
    earlier = (
        day
        if conversion.min_days == 1
        else sqlglot.parse_one(
            f"LAG(event_date, {conversion.min_days - 1}) OVER "
            "(PARTITION BY user_id ORDER BY event_date)",
            read="duckdb",
        )
    )
    return _ADOPTIONS, {
        "product_use": product_use(filters),
        "activity": activity_condition(activity_events),
        "earlier": earlier,
        "window_days": exp.Literal.number(conversion.window_days),
    }


@dataclass(frozen=True)
class TimeToConvert:
    """`curve`: per day since signup (and breakdown value) the users at risk at its start,
    those converting and censored in it, and the share converted by its end. `summary`: per
    breakdown value (one row without one) the users, those converting within the window,
    the estimated share converted within it, the converters' median days and the users
    followed through the whole window."""

    curve: pd.DataFrame
    summary: pd.DataFrame


def follow_up(
    engine: Engine,
    conversion: Conversion,
    filters: Filters = NO_FILTERS,
    breakdown: str | None = None,
    activity_events: Sequence[str] = (),
    start_event: str | None = None,
) -> pd.DataFrame:
    """user_id, seconds (signup, or with `start_event` the user's first such event in the
    range, to the first conversion at or after it: an event type's first event, or adoption;
    else to the end of the data) and converted of every user in the cohort; with
    `breakdown`, a user attribute or signup cohort, also its value as text (MISSING_CHANNEL
    where none) in a column `breakdown`. Adoption counts the `activity_events` (every type
    when none)."""
    conversions, params = _conversions(conversion, filters, activity_events)
    if start_event is not None and start_event == conversion:
        raise UsagecastError(
            f"analytics time-to-convert: {start_event!r} is both the start and the "
            "conversion; a user's first one would convert at once"
        )
    if breakdown is not None:
        check_breakdown(engine, breakdown, "time-to-convert breakdown")
    users = engine.query(
        cohort_query(engine, filters, start_event, f"{conversions}{_FOLLOWED}", **params)
    )
    users["user_id"] = users["user_id"].astype(str)
    users = users.astype({"seconds": "int64", "converted": "bool"})
    return with_breakdown(engine, users, breakdown)


def converted_shares(
    seconds: np.ndarray, converted: np.ndarray, limits: Sequence[float]
) -> np.ndarray:
    """Kaplan-Meier share converted before each limit (seconds since signup): at each
    conversion time t, the conversions at t over the users followed to at least t, with
    every user not yet converted followed only to their own seconds (pure). NaN past the
    longest follow-up unless everyone had converted by then: nobody was watched that long."""
    if not len(seconds):
        return np.full(len(limits), np.nan)
    times, events = np.unique(seconds[converted], return_counts=True)
    ordered = np.sort(seconds)
    at_risk = len(ordered) - np.searchsorted(ordered, times, side="left")
    staying = np.concatenate([[1.0], np.cumprod(1.0 - events / at_risk)])
    bounds = np.asarray(limits, dtype="float64")
    shares = 1.0 - staying[np.searchsorted(times, bounds)]
    return np.where((bounds > ordered[-1]) & (staying[-1] > 0), np.nan, shares)


def _curve(group: pd.DataFrame, days: int) -> pd.DataFrame:
    """CURVE_COLUMNS of one group's follow-up rows, days 0 to days - 1."""
    seconds = group["seconds"].to_numpy("int64")
    converted = group["converted"].to_numpy("bool")
    day_of = seconds // SECONDS_PER_DAY
    day = np.arange(days)
    return pd.DataFrame(
        {
            "day": day,
            "at_risk": len(seconds) - np.searchsorted(np.sort(day_of), day, side="left"),
            "converted": np.bincount(day_of[converted], minlength=days)[:days],
            "censored": np.bincount(day_of[~converted], minlength=days)[:days],
            "converted_share": converted_shares(seconds, converted, (day + 1) * SECONDS_PER_DAY),
        }
    )


def _summary(group: pd.DataFrame, days: int) -> dict[str, object]:
    """SUMMARY_COLUMNS of one group's follow-up rows over a window of `days`."""
    window = days * SECONDS_PER_DAY
    seconds = group["seconds"].to_numpy("int64")
    converted = group["converted"].to_numpy("bool")
    within = converted & (seconds < window)
    return {
        "users": len(group),
        "converted": int(within.sum()),
        "converted_share": float(converted_shares(seconds, converted, [window])[0]),
        "median_days_to_convert": float(np.median(seconds[within]) / SECONDS_PER_DAY)
        if within.any()
        else np.nan,
        "observed_whole_window": int((converted | (seconds >= window)).sum()),
    }


def conversion_time_table(
    users: pd.DataFrame, days: int, breakdown: str | None = None
) -> TimeToConvert:
    """The curve and summary of `follow_up`'s rows over a window of `days` (pure); with
    `breakdown`, per value of their `breakdown` column, in a first column of that name."""
    check_signup_window(days)
    if breakdown is None:
        summary = pd.DataFrame([_summary(users, days)], columns=list(SUMMARY_COLUMNS))
        return TimeToConvert(_curve(users, days), summary)
    groups = list(users.groupby("breakdown", sort=True))
    curve = [_curve(part, days).assign(**{breakdown: value}) for value, part in groups]
    rows = [{breakdown: value, **_summary(part, days)} for value, part in groups]
    curve_columns = [breakdown, *CURVE_COLUMNS]
    return TimeToConvert(
        pd.concat(curve, ignore_index=True)[curve_columns]
        if curve
        else pd.DataFrame(columns=curve_columns),
        pd.DataFrame(rows, columns=[breakdown, *SUMMARY_COLUMNS]),
    )


# The "within N days" columns printed: these numbers of days that fit the window, and the
# window itself.
WITHIN_DAYS = (1, 7, 14, 30, 60, 90, 180, 365)


def within_days(
    curve: pd.DataFrame, column: str, days: int, breakdown: str | None
) -> pd.DataFrame:
    """A daily curve for reading: its `column` by the end of day 0, 6, 13, 29, ... (within 1,
    7, 14, 30, ... days of signup, up to the window of `days`), a row per breakdown value
    (pure)."""
    marks = sorted({*(mark for mark in WITHIN_DAYS if mark < days), days})
    columns = [f"{mark}d" for mark in marks]
    groups = curve.groupby(breakdown, sort=True) if breakdown else [(None, curve)]
    rows = []
    for value, part in groups:
        by_day = part.set_index("day")[column]
        row = {breakdown: value} if breakdown else {}
        rows.append(row | dict(zip(columns, by_day.reindex([m - 1 for m in marks]), strict=True)))
    return pd.DataFrame(rows, columns=[*([breakdown] if breakdown else []), *columns])


def time_to_convert(
    engine: Engine,
    conversion: Conversion,
    filters: Filters = NO_FILTERS,
    *,
    days: int = 90,
    breakdown: str | None = None,
    activity_events: Sequence[str] = (),
    start_event: str | None = None,
) -> TimeToConvert:
    """Days from signup (or from the first `start_event` in the range) to the first
    `conversion` (an event type, or an Adoption of the `activity_events`) over a window of
    `days` (per value of `breakdown`, a user attribute or signup cohort, when given)."""
    check_signup_window(days)
    users = follow_up(engine, conversion, filters, breakdown, activity_events, start_event)
    return conversion_time_table(users, days, breakdown)
