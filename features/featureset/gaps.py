"""Gap features (`kind: gaps`): the rhythm of a user's events of a type, at each cutoff.

Gaps are measured between distinct calendar dates (UTC) with an event of the type, over all
history strictly before the cutoff, so date-only and timed exports agree and several events
on one day are one visit. With d_1 < ... < d_n those dates:

    mean_gap_days_<T>                   (d_n - d_1) / (n - 1), the mean of the n - 1 gaps
    last_gap_days_<T>                   d_n - d_(n-1)
    days_since_last_per_mean_gap_<T>    (cutoff date - d_n) / mean gap; > 1: overdue

All three are NULL when n < 2 (the model reads NaN as missing). Two steps (CTEs):
`type_days` rolls events up to one row per (user, type, date) and attaches, by window
functions over each user's dates of the type, everything a cutoff just after that date needs;
`gaps` joins each candidate to the one row per type whose date is the last before its cutoff
(its first event is before the cutoff and the next date's first event is not), so no
candidate reads more than one row per type.
"""

from __future__ import annotations

import sqlglot.expressions as exp

from events.store import EVENTS
from features.featureset.spec import GAP_KINDS, FeatureDef

_CANDIDATE = "r"
_DAY = "g"


def gap_types(features: tuple[FeatureDef, ...]) -> tuple[str, ...]:
    """The event types of the gap features, in spec order."""
    return tuple(dict.fromkeys(f.event_type for f in features if f.kind in GAP_KINDS))


def _days(start: exp.Expression, end: exp.Expression) -> exp.Expression:
    """Whole days from start to end, two dates (DATE_DIFF on dates: both engines agree)."""
    return exp.DateDiff(this=end, expression=start, unit=exp.var("DAY"))


def _type_days_select(event_types: tuple[str, ...]) -> exp.Select:
    """Per (user, type, date): the date's first event time, the next date's (next_time),
    the days since the previous date (last_gap), since the first date (span_days), and the
    number of earlier dates (gap_count)."""
    per_day = (
        exp.select(
            "user_id",
            "event_type",
            exp.column("event_date").as_("event_day"),
            exp.Min(this=exp.column("event_time")).as_("first_time"),
        )
        .from_(EVENTS)
        .where(exp.column("event_type").isin(*(exp.Literal.string(t) for t in event_types)))
        .group_by("user_id", "event_type", "event_date")
    )
    partition = [exp.column("user_id"), exp.column("event_type")]
    order = exp.Order(expressions=[exp.Ordered(this=exp.column("event_day"))])

    def ordered(function: exp.Expression) -> exp.Window:
        return exp.Window(this=function, partition_by=[p.copy() for p in partition], order=order)

    day = exp.column("event_day")
    previous = ordered(exp.Anonymous(this="LAG", expressions=[day.copy()]))
    first = exp.Window(this=exp.Min(this=day.copy()), partition_by=partition)
    earlier = exp.Sub(this=ordered(exp.RowNumber()), expression=exp.Literal.number(1))
    return exp.select(
        "user_id",
        "event_type",
        "event_day",
        "first_time",
        ordered(exp.Anonymous(this="LEAD", expressions=[exp.column("first_time")])).as_(
            "next_time"
        ),
        _days(previous, day.copy()).as_("last_gap"),
        _days(first, day.copy()).as_("span_days"),
        earlier.as_("gap_count"),
    ).from_(exp.Subquery(this=per_day, alias="per_day"))


def _ratio(numerator: exp.Expression, denominator: exp.Expression) -> exp.Expression:
    """numerator / denominator as a double, NULL when the denominator is 0."""
    return exp.Div(
        this=exp.cast(numerator, "DOUBLE"),
        expression=exp.Nullif(this=denominator, expression=exp.Literal.number(0)),
    )


def _gap_value(feature: FeatureDef) -> exp.Expression:
    """One gap feature from its type's last row before the cutoff (NULL below two dates)."""
    span, count = exp.column("span_days", _DAY), exp.column("gap_count", _DAY)
    if feature.kind == "gap_mean":
        value = _ratio(span, count)
    elif feature.kind == "gap_last":
        value = exp.column("last_gap", _DAY)
    else:
        cutoff_day = exp.cast(exp.column("cutoff", _CANDIDATE), "DATE")
        since = _days(exp.column("event_day", _DAY), cutoff_day)
        value = _ratio(exp.Mul(this=since, expression=count), span.copy())
    of_type = exp.column("event_type", _DAY).eq(exp.Literal.string(feature.event_type))
    return exp.Max(this=exp.Case().when(of_type, value))


def _gaps_select(features: tuple[FeatureDef, ...]) -> exp.Select:
    """Per candidate, its gap features, from the last `type_days` row per type before it."""
    cutoff = exp.column("cutoff", _CANDIDATE)
    next_time = exp.column("next_time", _DAY)
    last_before = exp.and_(
        exp.column("user_id", _DAY).eq(exp.column("user_id", _CANDIDATE)),
        exp.column("first_time", _DAY) < cutoff,
        exp.paren(exp.or_(next_time.is_(exp.null()), next_time.copy() >= cutoff.copy())),
    )
    keys = [exp.column("user_id", _CANDIDATE), exp.column("cutoff", _CANDIDATE)]
    return (
        exp.select(*keys, *(_gap_value(f).as_(f.name) for f in features if f.kind in GAP_KINDS))
        .from_(exp.to_table("candidates").as_(_CANDIDATE))
        .join(exp.to_table("type_days").as_(_DAY), on=last_before, join_type="left")
        .group_by(*(key.copy() for key in keys))
    )


def gap_ctes(features: tuple[FeatureDef, ...]) -> list[tuple[str, exp.Select]]:
    """`type_days` and `gaps` (one row per candidate), for specs with gap features."""
    return [
        ("type_days", _type_days_select(gap_types(features))),
        ("gaps", _gaps_select(features)),
    ]
