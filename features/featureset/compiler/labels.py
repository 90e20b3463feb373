"""One SQL expression per aggregate label kind, and the adoption label's CTEs
(a day bitmask tested with a sliding mask, or LAG over distinct days).
"""

from __future__ import annotations

import sqlglot.expressions as exp

from events.store import EVENTS
from features.featureset.compiler.sqlbits import (
    _EVENT,
    _ROW,
    MAX_BITMASK_DAYS,
    _col,
    _count_if,
    _cutoff,
    _day_diff,
    _event_date,
    _flag,
    _in_label_window,
    _num,
    _of_type,
    _when,
)
from features.featureset.spec import (
    Label,
)


def _event_within_label(label: Label) -> exp.Expression:
    hits = _count_if(exp.and_(_in_label_window(label), _of_type(label.event_type)))
    return _flag(hits > _num(0))


def _churn_label(label: Label) -> exp.Expression:
    return _flag(_count_if(_in_label_window(label)).eq(_num(0)))


def _value_within_label(label: Label) -> exp.Expression:
    condition = _in_label_window(label)
    if label.event_type is not None:
        condition = exp.and_(condition, _of_type(label.event_type))
    total = exp.Sum(this=_when(condition, _col("value", _EVENT)))
    return exp.Coalesce(this=total, expressions=[exp.cast(_num(0), "DOUBLE")])


AGGREGATE_LABELS = {
    "event_within": _event_within_label,
    "churn": _churn_label,
    "value_within": _value_within_label,
}


EMPTY_LABELS: dict[str, int | float] = {"event_within": 0, "churn": 1, "value_within": 0.0}


def _adoption_label_ctes(label: Label) -> list[tuple[str, exp.Select]]:
    """K distinct active days inside some W-day window, from a day bitmask when it fits."""
    if label.horizon_days is not None and label.horizon_days <= MAX_BITMASK_DAYS:
        return _adoption_mask_ctes(label)
    return _adoption_lag_ctes(label)


def _adoption_mask_ctes(label: Label) -> list[tuple[str, exp.Select]]:
    """The adoption rule on a bitmask of the label window's active dates.

    Bit i is set when the row had an event on the cutoff's date + i days (i = 0..horizon:
    a cutoff at a time of day touches horizon + 1 dates). K days lie inside some W-day
    window exactly when some W consecutive bits hold K set ones: sliding a W-bit mask over
    start offsets 0..span - W covers every window (one ending past the last date holds no
    more days than the last full one). One grouped pass and a tiny cross join, instead of
    distinct (user, cutoff, date) rows and a window function.
    """
    offset = exp.cast(_day_diff(_cutoff(), _event_date()), "INT")
    bit = exp.BitwiseLeftShift(this=exp.cast(_num(1), "BIGINT"), expression=offset)
    masks = (
        exp.select(
            _col("user_id", _ROW), _col("cutoff", _ROW), exp.BitwiseOrAgg(this=bit).as_("day_mask")
        )
        .from_(exp.to_table("kept").as_(_ROW))
        .join(
            exp.to_table(EVENTS).as_(_EVENT),
            on=exp.and_(
                _col("user_id", _EVENT).eq(_col("user_id", _ROW)), _in_label_window(label)
            ),
        )
        .group_by(_col("user_id", _ROW), _col("cutoff", _ROW))
    )
    span = label.horizon_days + 1
    width = min(label.window_days, span)
    starts = exp.values(
        [(_num(start),) for start in range(span - width + 1)],
        alias="starts",
        columns=["window_start"],
    )
    window = exp.BitwiseLeftShift(
        this=exp.cast(_num((1 << width) - 1), "BIGINT"), expression=exp.column("window_start", "s")
    )
    in_window = exp.Anonymous(
        this="BIT_COUNT",
        expressions=[exp.BitwiseAnd(this=exp.column("day_mask", "m"), expression=window)],
    )
    hits = (
        exp.select(
            _col("user_id", "m"),
            _col("cutoff", "m"),
            exp.Max(this=_flag(in_window >= _num(label.min_days))).as_("label"),
        )
        .from_(exp.to_table("label_masks").as_("m"))
        .join(exp.Subquery(this=exp.select("*").from_(starts), alias="s"), join_type="cross")
        .group_by(_col("user_id", "m"), _col("cutoff", "m"))
    )
    return [("label_masks", masks), ("label_hits", hits)]


def _adoption_lag_ctes(label: Label) -> list[tuple[str, exp.Select]]:
    """K distinct active days inside some W-day window: LAG(day, K-1) over distinct days.

    With a row's distinct label-window days sorted, such a window exists exactly when some
    day d has its (K-1)-th predecessor d' with d - d' <= W - 1. Fixed weekly bins would miss
    runs that straddle a bin edge.
    """
    days = (
        exp.select(_col("user_id", _ROW), _col("cutoff", _ROW), _event_date().as_("active_day"))
        .distinct()
        .from_(exp.to_table("kept").as_(_ROW))
        .join(
            exp.to_table(EVENTS).as_(_EVENT),
            on=exp.and_(
                _col("user_id", _EVENT).eq(_col("user_id", _ROW)), _in_label_window(label)
            ),
        )
    )
    earlier = exp.Window(
        this=exp.Anonymous(
            this="LAG", expressions=[exp.column("active_day"), _num(label.min_days - 1)]
        ),
        partition_by=[exp.column("user_id"), exp.column("cutoff")],
        order=exp.Order(expressions=[exp.Ordered(this=exp.column("active_day"))]),
    )
    runs = exp.select("user_id", "cutoff", "active_day", earlier.as_("earlier_day")).from_(
        "label_days"
    )
    within = exp.DateDiff(
        this=exp.column("active_day"), expression=exp.column("earlier_day"), unit=exp.var("DAY")
    )
    hits = (
        exp.select(
            "user_id",
            "cutoff",
            exp.Max(this=_flag(within <= _num(label.window_days - 1))).as_("label"),
        )
        .from_("label_runs")
        .group_by("user_id", "cutoff")
    )
    return [("label_days", days), ("label_runs", runs), ("label_hits", hits)]
