"""Unbounded look-backs (recency, "converted before the cutoff"): a history rollup of the
events (`past_slots` per calendar period, else `past_days` per date) and `history`, read
from it per candidate.
"""

from __future__ import annotations

import sqlglot.expressions as exp

from events.store import EVENTS
from features.featureset.compiler.cutoffs import (
    calendar_cutoff_dates,
    cutoff_period,
    next_cutoff_day,
)
from features.featureset.compiler.features_sql import _last_day_before_cutoff, _recency_feature
from features.featureset.compiler.plan import HistoryRollup, QueryPlan
from features.featureset.compiler.sqlbits import (
    _PAST,
    _ROW,
    _col,
    _cutoff,
    _date_literal,
    _flag,
    _str,
    _when,
)
from features.featureset.spec import (
    CalendarCutoffs,
)


def _past_days_select(event_types: tuple[str, ...]) -> exp.Select:
    """Events rolled up to one row per (user, date) with that date's first event time, overall
    and per needed type: all the unbounded look-backs (recency, "converted before the
    cutoff") need, in far fewer rows than the events (signup-relative cutoffs).

    An event before the cutoff exists on a date iff that date's first event is before it, and
    the last such date is what date-based recency needs.
    """
    day = exp.column("event_date")
    firsts = [
        exp.Min(this=_when(exp.column("event_type").eq(_str(t)), exp.column("event_time"))).as_(
            f"first_{t}"
        )
        for t in event_types
    ]
    return (
        exp.select(
            "user_id",
            day.as_("event_day"),
            exp.Min(this=exp.column("event_time")).as_("first_time"),
            *firsts,
        )
        .from_(EVENTS)
        .group_by("user_id", day)
    )


def _past_slots_select(calendar: CalendarCutoffs, event_types: tuple[str, ...]) -> exp.Select:
    """Calendar-only specs: events rolled up per (user, first cutoff after the event).

    A few rows per user (one per cutoff period) instead of one per active date: each holds
    the period's last event date, overall and per needed type; a candidate reads the periods
    up to its cutoff. Events are grouped by an integer period (`cutoff_period`) and the slot
    is derived from each group's last date, so the date arithmetic runs per group, not per
    event (docs/decisions/point-in-time-engine.md).
    """
    day = exp.column("event_date")
    lasts = [f"last_day_{t}" for t in event_types]
    last_cutoff = calendar_cutoff_dates(calendar)[-1]
    periods = (
        exp.select(
            "user_id",
            cutoff_period(calendar, day).as_("period"),
            exp.Max(this=day.copy()).as_("last_event_day"),
            *(
                exp.Max(this=_when(exp.column("event_type").eq(_str(t)), day.copy())).as_(name)
                for t, name in zip(event_types, lasts, strict=True)
            ),
        )
        .from_(EVENTS)
        .where(day.copy() < _date_literal(last_cutoff))
        .group_by("user_id", "period")  # the alias: DuckDB and Spark group by select aliases
    )
    slot = exp.cast(next_cutoff_day(calendar, exp.column("last_event_day")), "TIMESTAMP")
    return exp.select("user_id", slot.as_("slot"), "last_event_day", *lasts).from_(
        exp.Subquery(this=periods, alias="periods")
    )


def _history_select(plan: QueryPlan, rollup: HistoryRollup) -> exp.Select:
    """Per candidate: recency features and the not-converted flag, from the history rollup."""
    slots = rollup == "past_slots"
    columns: list[exp.Expression] = [_col("user_id", _ROW), _col("cutoff", _ROW)]
    columns += [
        _recency_feature(f, slots=slots).as_(f.name) for f in plan.features if f.kind == "recency"
    ]
    not_converted = plan.spec.eligibility.not_converted
    if not_converted is not None:
        last = _last_day_before_cutoff(not_converted, slots=slots)
        columns.append(_flag(exp.Not(this=last.is_(exp.null()))).as_("has_converted"))
    before = _col("slot", _PAST) <= _cutoff() if slots else _col("first_time", _PAST) < _cutoff()
    return (
        exp.select(*columns)
        .from_(exp.to_table("candidates").as_(_ROW))
        .join(
            exp.to_table(rollup).as_(_PAST),
            on=exp.and_(_col("user_id", _PAST).eq(_col("user_id", _ROW)), before),
            join_type="left",
        )
        .group_by(_col("user_id", _ROW), _col("cutoff", _ROW))
    )


def _history_ctes(plan: QueryPlan, rollup: HistoryRollup) -> list[tuple[str, exp.Select]]:
    """The history rollup (`past_slots` for calendar-only specs, else `past_days`) and
    `history`, the per-candidate look-back read from it."""
    if plan.calendar_only is not None:
        table = _past_slots_select(plan.calendar_only, plan.history_types)
    else:
        table = _past_days_select(plan.history_types)
    return [(rollup, table), ("history", _history_select(plan, rollup))]
