"""Ordered funnels: how many users go on from one event type to the next, within a window.

A user enters the funnel at their first event of the first step (inside the time range);
step k is their first event of type k at or after step k-1's event and before the entry plus
the window. Events at the same time count as in order (a date-only export stamps a whole
day's events at midnight), but one event is never two steps: a step of the type of an earlier
one needs another event (PLAY, PLAY is "a second play"); among equal times the earlier event
id wins. Users whose window runs past the end of the data are censored: counted, not in the
shares, whose denominators would otherwise hold users who had no time to go on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlglot.expressions as exp

from analytics.filters import NO_FILTERS, Filters, combine, time_range_condition
from analytics.scope import (
    SCOPED_USERS,
    check_breakdown,
    data_end_seconds,
    days_interval,
    render,
    segment_condition,
    with_breakdown,
)
from contracts.errors import UsagecastError
from features.engines import Engine

MAX_STEPS = 10
TABLE_COLUMNS = (
    "step",
    "event_type",
    "users",
    "from_previous",
    "from_first",
    "median_hours_from_previous",
)


@dataclass(frozen=True)
class FunnelResult:
    """A funnel's table (one row per step: TABLE_COLUMNS; with a breakdown, per value of it,
    named in a first column) and the users left out of it because their window runs past
    the end of the data."""

    table: pd.DataFrame
    censored_users: int


def parse_steps(text: str) -> tuple[str, ...]:
    """'SIGNUP,PLAY,BUY_PREMIUM' -> the event types of the steps, in order (2 to MAX_STEPS)."""
    steps = tuple(part.strip() for part in text.split(","))
    if len(steps) < 2 or len(steps) > MAX_STEPS or not all(steps):
        raise UsagecastError(
            f"steps {text!r}: give 2 to {MAX_STEPS} event types separated by commas, e.g. "
            "'PLAY,LIKE,BUY_PREMIUM'"
        )
    return steps


def _step_sql(step: int, steps: Sequence[str]) -> str:
    """The CTE of step `step` (1-based): each user's chosen event of that step, with the
    previous steps' times (at_j) and event ids (id_j)."""
    kept = [name for j in range(1, step) for name in (f"at_{j}", f"id_{j}")]
    if step == 1:
        source, condition = "step_events AS e", ":entry_range"
    else:
        source = f"step_{step - 1} AS p JOIN step_events AS e ON e.user_id = p.user_id"
        distinct = "".join(
            f" AND e.event_id <> p.id_{j}"
            for j in range(1, step)
            if steps[j - 1] == steps[step - 1]
        )
        condition = (
            f"e.event_time >= p.at_{step - 1} AND e.event_time < p.at_1 + :window "
            f"AND :before_end{distinct}"
        )
    columns = ", ".join(["user_id", *kept, f"at_{step}", f"id_{step}"])
    previous = "".join(f"p.{name}, " for name in kept)
    return f"""step_{step} AS (
    SELECT {columns} FROM (
        SELECT e.user_id, {previous}e.event_time AS at_{step}, e.event_id AS id_{step},
               ROW_NUMBER() OVER (PARTITION BY e.user_id
                                  ORDER BY e.event_time, e.event_id) AS pick
        FROM {source}
        WHERE e.event_type = :type_{step} AND {condition}
    ) AS c
    WHERE pick = 1
)"""


def funnel_sql(steps: Sequence[str]) -> str:
    """The template of a funnel over `steps`: user_id and at_1..at_N (NULL past the last
    step reached) of every entered user."""
    ctes = ",\n".join(_step_sql(step, steps) for step in range(1, len(steps) + 1))
    joins = "".join(
        f"\nLEFT JOIN step_{step} AS s{step} ON s{step}.user_id = s1.user_id"
        for step in range(2, len(steps) + 1)
    )
    times = ", ".join(f"s{step}.at_{step}" for step in range(1, len(steps) + 1))
    return f"""
WITH {SCOPED_USERS},
step_events AS (
    SELECT e.user_id, e.event_time, e.event_id, e.event_type
    FROM events AS e JOIN scoped_users AS su ON e.user_id = su.user_id
    WHERE :step_types
),
{ctes}
SELECT s1.user_id, {times}
FROM step_1 AS s1{joins}
"""


def funnel_reached(
    engine: Engine,
    steps: Sequence[str],
    days: int,
    filters: Filters = NO_FILTERS,
    breakdown: str | None = None,
) -> pd.DataFrame:
    """user_id, at_1..at_N (the time of each step reached, NaT past the last) and censored
    (the window runs past the end of the data) of every user who entered the funnel; with
    `breakdown`, a user attribute, also its value as text (MISSING_CHANNEL where none)."""
    if filters.area_prefix is not None:
        raise UsagecastError(
            "analytics funnel: an area filter does not apply; its steps are event types"
        )
    if days < 1:
        raise UsagecastError(f"funnel window {days} days: must be at least 1")
    if breakdown is not None:
        check_breakdown(engine, breakdown, "funnel breakdown")
    event_time = exp.column("event_time", table="e")
    params: dict[str, object] = {
        "segment": segment_condition(engine, filters),
        "step_types": exp.column("event_type", table="e").isin(*dict.fromkeys(steps)),
        "entry_range": combine(time_range_condition(event_time, filters)),
        "before_end": combine(time_range_condition(event_time, Filters(end=filters.end))),
        "window": days_interval(days),
        **{f"type_{step}": name for step, name in enumerate(steps, start=1)},
    }
    reached = engine.query(render(funnel_sql(steps), **params))
    reached["user_id"] = reached["user_id"].astype(str)
    times = [f"at_{step}" for step in range(1, len(steps) + 1)]
    reached[times] = reached[times].apply(pd.to_datetime)
    end = pd.Timestamp(data_end_seconds(engine, filters), unit="s")
    reached["censored"] = reached["at_1"] + pd.Timedelta(days=days) > end
    return with_breakdown(engine, reached[["user_id", *times, "censored"]], breakdown)


def funnel_table(
    reached: pd.DataFrame, steps: Sequence[str], breakdown: str | None = None
) -> FunnelResult:
    """Users per step among the uncensored entrants, their share of the previous step and of
    the first, and the median hours from the previous step (pure); with `breakdown`, per
    value of reached's `breakdown` column, in a first column of that name."""
    observed = reached[~reached["censored"]]
    censored = int(reached["censored"].sum())
    if breakdown is None:
        return FunnelResult(_step_table(observed, steps), censored)
    parts = [
        _step_table(part, steps).assign(**{breakdown: value})
        for value, part in observed.groupby("breakdown", sort=True)
    ]
    columns = [breakdown, *TABLE_COLUMNS]
    table = (
        pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)
    )
    return FunnelResult(table, censored)


def _step_table(observed: pd.DataFrame, steps: Sequence[str]) -> pd.DataFrame:
    """TABLE_COLUMNS of one group of uncensored entrants."""
    rows: list[dict] = []
    for step, name in enumerate(steps, start=1):
        at = observed[f"at_{step}"]
        users = int(at.notna().sum())
        previous = rows[-1]["users"] if rows else users
        first = rows[0]["users"] if rows else users
        hours = (
            (at - observed[f"at_{step - 1}"]).dt.total_seconds().dropna() / 3600
            if step > 1
            else pd.Series(dtype="float64")
        )
        rows.append(
            {
                "step": step,
                "event_type": name,
                "users": users,
                "from_previous": users / previous if previous else np.nan,
                "from_first": users / first if first else np.nan,
                "median_hours_from_previous": float(hours.median()) if len(hours) else np.nan,
            }
        )
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def funnel(
    engine: Engine,
    steps: Sequence[str],
    days: int,
    filters: Filters = NO_FILTERS,
    breakdown: str | None = None,
) -> FunnelResult:
    """The funnel over `steps` with a window of `days` from entry (per value of the user
    attribute `breakdown` when given)."""
    return funnel_table(funnel_reached(engine, steps, days, filters, breakdown), steps, breakdown)
