"""Small sqlglot builders the compiler's parts share: columns, literals, day shifts and the
point-in-time window tests over a candidate's cutoff (`r.cutoff`) and its events (`e.*`).
"""

from __future__ import annotations

import datetime as dt

import sqlglot.expressions as exp

from events.store import EXPERIMENT_ASSIGNED
from features.featureset.spec import (
    Label,
)

_ROW = "r"


_PAST = "p"


_EVENT = "e"


_ITEM = "i"


_USER = "u"


def _col(name: str, table: str) -> exp.Column:
    return exp.column(name, table)


def _num(value: int | float) -> exp.Literal:
    return exp.Literal.number(value)


def _str(value: str) -> exp.Literal:
    return exp.Literal.string(value)


def _days(count: int) -> exp.Interval:
    return exp.Interval(this=_str(str(count)), unit=exp.var("DAY"))


def _shift(timestamp: exp.Expression, days: int, *, back: bool = False) -> exp.Expression:
    operator = exp.Sub if back else exp.Add
    return exp.paren(operator(this=timestamp, expression=_days(days)), copy=False)


def _date(value: exp.Expression) -> exp.Expression:
    """value as a date; an event's `event_date` column already is one."""
    if isinstance(value, exp.Column) and value.name == "event_date":
        return value
    return exp.cast(value, "DATE")


def _day_diff(start: exp.Expression, end: exp.Expression) -> exp.Expression:
    """Whole calendar days from start to end, both taken as dates."""
    return exp.DateDiff(this=_date(end), expression=_date(start), unit=exp.var("DAY"))


def _when(condition: exp.Expression, value: exp.Expression) -> exp.Case:
    return exp.Case().when(condition, value)


def _count_if(condition: exp.Expression) -> exp.Expression:
    return exp.Count(this=_when(condition, _num(1)))


def _count_distinct_if(condition: exp.Expression, value: exp.Expression) -> exp.Expression:
    return exp.Count(this=exp.Distinct(expressions=[_when(condition, value)]))


def _flag(condition: exp.Expression) -> exp.Expression:
    """1 when condition holds else 0, as an integer in both dialects."""
    return exp.Case().when(condition, _num(1)).else_(_num(0))


def _event_time() -> exp.Column:
    return _col("event_time", _EVENT)


def _event_date() -> exp.Column:
    """The event's UTC calendar date, stored beside event_time (events/store.py)."""
    return _col("event_date", _EVENT)


def _cutoff() -> exp.Column:
    return _col("cutoff", _ROW)


def _in_window(days: int) -> exp.Expression:
    """[cutoff - days, cutoff): the feature side."""
    return exp.and_(_event_time() >= _shift(_cutoff(), days, back=True), _event_time() < _cutoff())


def _in_window_before(days: int) -> exp.Expression:
    """[cutoff - 2 * days, cutoff - days): the window before the feature window."""
    return exp.and_(
        _event_time() >= _shift(_cutoff(), 2 * days, back=True),
        _event_time() < _shift(_cutoff(), days, back=True),
    )


def _of_type(event_type: str) -> exp.Expression:
    return _col("event_type", _EVENT).eq(_str(event_type))


def _product_use() -> exp.Expression:
    """The event is not an experiment's exposure log, whose area is an arm and item the
    experiment: what a feature of every event type reads areas and items of."""
    return exp.Not(this=_of_type(EXPERIMENT_ASSIGNED))


def _in_label_window(label: Label) -> exp.Expression:
    """[cutoff, cutoff + horizon): the label side (unbounded above for `ever`)."""
    start = _event_time() >= _cutoff()
    if label.horizon_days is None:
        return start
    return exp.and_(start, _event_time() < _shift(_cutoff(), label.horizon_days))


def _date_literal(day: dt.date) -> exp.Expression:
    return exp.cast(_str(day.isoformat()), "DATE")


def _empty_value(value: int | float) -> exp.Expression:
    return exp.cast(_num(value), "DOUBLE") if isinstance(value, float) else _num(value)


# Day offsets 0..w must fit in a BIGINT bitmask.
MAX_BITMASK_DAYS = 62
