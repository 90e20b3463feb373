"""Shared SQL pieces: the users and events a model looks at, and template rendering.

Models write their SQL once as DuckDB-dialect templates with `:name` placeholders; the
placeholders are replaced by sqlglot trees (filters, literals), never by pasted text, and the
result runs on any engine in features.engines.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pandas as pd
import sqlglot
import sqlglot.expressions as exp

from analytics.filters import Filters, area_condition, combine, parse_segment, time_range_condition
from contracts.errors import UsagecastError
from events.store import EXPERIMENT_ASSIGNED, USER_ATTRIBUTES
from features.engines import Engine

SECONDS_PER_DAY = 86_400
# A breakdown's value for a user without one (a channel, a plan, ...).
MISSING_CHANNEL = "(missing)"

# Users in the segment, with signup time as whole epoch seconds (both engines agree on
# whole seconds; DuckDB keeps microseconds where Spark's unix_timestamp drops them).
SCOPED_USERS = """
scoped_users AS (
    SELECT u.*, FLOOR(epoch(u.signup_time)) AS signup_s
    FROM users AS u
    WHERE :segment
)"""

# The segment users who signed up in the range (:signup_range over `su`) before the end of
# the data (:end_s, whole epoch seconds): the cohort followed from signup (start_s).
SIGNUP_COHORT = """
cohort AS (
    SELECT su.user_id, su.signup_s AS start_s FROM scoped_users AS su
    WHERE :signup_range AND su.signup_s < :end_s
)"""

# The segment users who did :start_event in the range (:start_range over `e`): the cohort
# followed from the first of those events (start_s) instead of signup.
START_EVENT_COHORT = """
cohort AS (
    SELECT e.user_id, MIN(FLOOR(epoch(e.event_time))) AS start_s
    FROM events AS e JOIN scoped_users AS su ON e.user_id = su.user_id
    WHERE e.event_type = :start_event AND :start_range
    GROUP BY e.user_id
)"""

# Events of product use (PRODUCT_USE) of segment users inside the time range.
SCOPED_EVENTS = """
scoped_events AS (
    SELECT e.user_id, e.event_time, e.event_type, e.area, e.value,
           FLOOR(epoch(e.event_time)) AS event_s
    FROM events AS e
    JOIN scoped_users AS su ON e.user_id = su.user_id
    WHERE :event_range AND :product_use
)"""


def user_attribute_columns(engine: Engine) -> frozenset[str]:
    """Columns a segment may use: the declared user attributes and signup_time."""
    names = engine.query(f"SELECT name FROM {USER_ATTRIBUTES}")["name"]
    return frozenset([*map(str, names), "signup_time"])


def check_user_attribute(engine: Engine, name: str, what: str) -> None:
    """Refuse `name` unless it is a user attribute (or signup_time), naming the known ones;
    `what` says what it was given as (e.g. 'funnel breakdown')."""
    known = user_attribute_columns(engine)
    if name not in known:
        raise UsagecastError(
            f"{what} {name!r} is not a user attribute; known: {', '.join(sorted(known))}"
        )


# Breakdowns besides the user attributes: each user's signup cohort, the first day of the
# week (from Monday) or month they signed up in.
SIGNUP_COHORTS: dict[str, str] = {"signup_week": "week", "signup_month": "month"}


def check_breakdown(engine: Engine, name: str, what: str) -> None:
    """Refuse a breakdown `name` unless it is a user attribute (or signup_time) or a signup
    cohort (SIGNUP_COHORTS), naming the known ones; `what` says what it was given as."""
    if name in SIGNUP_COHORTS:
        return
    known = user_attribute_columns(engine)
    if name not in known:
        raise UsagecastError(
            f"{what} {name!r} is not a user attribute; known: {', '.join(sorted(known))} (or "
            f"a signup cohort: {', '.join(SIGNUP_COHORTS)})"
        )


def breakdown_column(name: str, table: str) -> exp.Expression:
    """A breakdown of the users `table`: the user attribute's column, or a signup cohort's
    first day as text (2024-01-01)."""
    unit = SIGNUP_COHORTS.get(name)
    if unit is None:
        return exp.column(name, table=table)
    start = exp.func(
        "DATE_TRUNC", exp.Literal.string(unit), exp.column("signup_time", table=table)
    )
    return exp.cast(exp.cast(start, "DATE"), "VARCHAR")


def user_attribute_values(engine: Engine, name: str, missing: str) -> pd.DataFrame:
    """user_id and `attribute`, the breakdown `name` (a user attribute or a signup cohort) of
    every user as text (`missing` where the user has none); `name` must have passed
    check_breakdown."""
    column = breakdown_column(name, "u")
    query = exp.select(exp.column("user_id", table="u"), column.as_("attribute"))
    values = engine.query(query.from_("users AS u"))
    values["user_id"] = values["user_id"].astype(str)
    known = values["attribute"].astype(object)
    values["attribute"] = known.where(known.notna(), missing).astype(str)
    return values


def with_breakdown(engine: Engine, users: pd.DataFrame, breakdown: str | None) -> pd.DataFrame:
    """`users` (with a text user_id) and, with a `breakdown` that passed check_breakdown, its
    value of each user as text in a column `breakdown` (MISSING_CHANNEL where none)."""
    if breakdown is None:
        return users
    values = user_attribute_values(engine, breakdown, MISSING_CHANNEL)
    return users.merge(values, on="user_id").rename(columns={"attribute": "breakdown"})


def signup_cohort_params(engine: Engine, filters: Filters) -> dict[str, exp.Expression]:
    """Placeholder values for SCOPED_USERS and SIGNUP_COHORT: the segment, the signup range
    and the end of the data."""
    signup = exp.column("signup_time", table="su")
    return {
        "segment": segment_condition(engine, filters),
        "signup_range": combine(time_range_condition(signup, filters)),
        "end_s": exp.Literal.number(data_end_seconds(engine, filters)),
    }


def cohort_query(
    engine: Engine, filters: Filters, start_event: str | None, body: str, **params: object
) -> exp.Expression:
    """`body` (more CTEs after a comma, then the final SELECT) rendered after SCOPED_USERS
    and the `cohort` CTE (user_id, start_s), with `params` and the cohort's own placeholders,
    the end of the data (:end_s) included: the users who signed up in the range, followed
    from signup, or with `start_event` those who did it in the range, followed from their
    first such event there."""
    if start_event is None:
        cohort, cohort_params = SIGNUP_COHORT, signup_cohort_params(engine, filters)
    else:
        event_time = exp.column("event_time", table="e")
        cohort, cohort_params = (
            START_EVENT_COHORT,
            {
                "segment": segment_condition(engine, filters),
                "start_event": exp.Literal.string(start_event),
                "start_range": combine(time_range_condition(event_time, filters)),
                "end_s": exp.Literal.number(data_end_seconds(engine, filters)),
            },
        )
    return render(f"WITH {SCOPED_USERS}, {cohort},{body}", **cohort_params, **params)


def segment_condition(engine: Engine, filters: Filters) -> exp.Expression:
    """The checked segment predicate over `u` (TRUE when there is no segment)."""
    if filters.segment is None:
        return exp.true()
    return parse_segment(filters.segment, user_attribute_columns(engine), table="u")


def product_use(filters: Filters) -> exp.Expression:
    """`e` is an event of product use: in the area prefix, and not a log of an experiment's
    exposure (its `area` holds an arm, and the platform, not the user, made it)."""
    return combine(
        area_condition(exp.column("area", table="e"), filters),
        exp.column("event_type", table="e").neq(exp.Literal.string(EXPERIMENT_ASSIGNED)),
    )


def activity_condition(activity_events: Sequence[str]) -> exp.Expression:
    """`e` is an activity event: one of `activity_events`, or any event when none are named."""
    if not activity_events:
        return exp.true()
    return exp.column("event_type", table="e").isin(*activity_events)


def scope_params(engine: Engine, filters: Filters) -> dict[str, exp.Expression]:
    """Placeholder values for SCOPED_USERS and SCOPED_EVENTS (and `product_use`)."""
    event_time = exp.column("event_time", table="e")
    return {
        "segment": segment_condition(engine, filters),
        "event_range": combine(time_range_condition(event_time, filters)),
        "product_use": product_use(filters),
    }


def check_signup_window(days: int) -> None:
    """Refuse a window after signup shorter than a day (before any query runs)."""
    if days < 1:
        raise UsagecastError(f"a window of {days} days after signup: must be at least 1")


def render(template: str, **params: object) -> exp.Expression:
    """Parse a DuckDB-dialect template and replace its `:name` placeholders by trees/values."""
    tree = sqlglot.parse_one(template, read="duckdb")
    missing = {node.name for node in tree.find_all(exp.Placeholder) if node.name not in params}
    if missing:
        raise ValueError(f"template placeholders without a value: {sorted(missing)}")
    return exp.replace_placeholders(tree, **params)


def days_interval(days: int) -> exp.Interval:
    """`INTERVAL 'n' DAY`, spelled the same in DuckDB and Spark."""
    return exp.Interval(this=exp.Literal.string(str(days)), unit=exp.Var(this="DAY"))


def epoch_seconds(value: datetime) -> int:
    """Whole epoch seconds of a naive-UTC timestamp."""
    return int(pd.Timestamp(value).as_unit("s").value // 1_000_000_000)


def data_end_seconds(engine: Engine, filters: Filters) -> int:
    """The end of what was observed: the range end, else one second after the last event;
    for date-only data (every event at 00:00, the ingest's `date` granularity) the end of the
    last date, so that day counts as observed."""
    if filters.end is not None:
        return epoch_seconds(filters.end)
    row = engine.query(
        "SELECT MAX(event_time) AS last, "
        "BOOL_AND(event_time = CAST(event_date AS TIMESTAMP)) AS dates_only FROM events"
    ).iloc[0]
    if pd.isna(row["last"]):
        raise UsagecastError("the event store holds no events; nothing to analyse")
    return epoch_seconds(row["last"]) + (SECONDS_PER_DAY if row["dates_only"] else 1)
