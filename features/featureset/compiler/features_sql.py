"""One SQL expression per feature kind, written against a candidate (`r.cutoff`) and its
events (`e.*`), plus the features read beside each row from the users table.
"""

from __future__ import annotations

import sqlglot.expressions as exp

from features.featureset.compiler.sqlbits import (
    _EVENT,
    _ITEM,
    _PAST,
    _USER,
    MAX_BITMASK_DAYS,
    _col,
    _count_distinct_if,
    _count_if,
    _cutoff,
    _day_diff,
    _event_date,
    _in_window,
    _in_window_before,
    _num,
    _of_type,
    _product_use,
    _str,
    _when,
)
from features.featureset.derived import compile_expression
from features.featureset.spec import (
    DISTINCT_COLUMNS,
    DerivedAttribute,
    FeatureDef,
)


def _count_feature(feature: FeatureDef) -> exp.Expression:
    return _count_if(exp.and_(_in_window(feature.window_days), _of_type(feature.event_type)))


def _active_days_feature(feature: FeatureDef) -> exp.Expression:
    """Distinct event dates in the window, as a bitmask of day offsets when it fits.

    COUNT(DISTINCT date) dominates the query's cost; OR-ing 1 << (cutoff date - event date)
    and counting the set bits gives the same number (offsets lie in 0..w) much faster.
    """
    if feature.window_days > MAX_BITMASK_DAYS:
        return _count_distinct_if(_in_window(feature.window_days), _event_date())
    offset = exp.cast(_day_diff(_event_date(), _cutoff()), "INT")
    bit = exp.BitwiseLeftShift(this=exp.cast(_num(1), "BIGINT"), expression=offset)
    days = exp.BitwiseOrAgg(this=_when(_in_window(feature.window_days), bit))
    return exp.Coalesce(
        this=exp.Anonymous(this="BIT_COUNT", expressions=[days]), expressions=[_num(0)]
    )


def _sessions_feature(feature: FeatureDef) -> exp.Expression:
    return _count_distinct_if(_in_window(feature.window_days), _col("session_id", _EVENT))


def _last_day_before_cutoff(event_type: str | None, *, slots: bool) -> exp.Expression:
    """The last date with an event (of one type, or of any) before the candidate's cutoff.

    From `past_slots` every joined row lies before the cutoff; from `past_days` a date counts
    when its first event (of that type) does.
    """
    if slots:
        name = "last_event_day" if event_type is None else f"last_day_{event_type}"
        return exp.Max(this=_col(name, _PAST))
    first = "first_time" if event_type is None else f"first_{event_type}"
    before = _col(first, _PAST) < _cutoff()
    return exp.Max(this=_when(before, _col("event_day", _PAST)))


def _recency_feature(feature: FeatureDef, *, slots: bool) -> exp.Expression:
    """Days from the last active date before the cutoff (read from the history rollup)."""
    return _day_diff(_last_day_before_cutoff(feature.event_type, slots=slots), _cutoff())


def _value_sum_feature(feature: FeatureDef) -> exp.Expression:
    condition = exp.and_(_in_window(feature.window_days), _of_type(feature.event_type))
    total = exp.Sum(this=_when(condition, _col("value", _EVENT)))
    return exp.Coalesce(this=total, expressions=[exp.cast(_num(0), "DOUBLE")])


def _ratio_feature(feature: FeatureDef) -> exp.Expression:
    window = _in_window(feature.window_days)
    numerator = _count_if(exp.and_(window, _of_type(feature.numerator)))
    denominator = _count_if(exp.and_(window, _of_type(feature.denominator)))
    return exp.Div(
        this=exp.cast(numerator, "DOUBLE"),
        expression=exp.Nullif(this=exp.cast(denominator, "DOUBLE"), expression=_num(0)),
    )


def _area_count_feature(feature: FeatureDef) -> exp.Expression:
    area = _col("area", _EVENT).eq(_str(feature.area))
    return _count_if(exp.and_(_in_window(feature.window_days), area))


def _item_mean_feature(feature: FeatureDef) -> exp.Expression:
    condition = _in_window(feature.window_days)
    if feature.event_type is not None:
        condition = exp.and_(condition, _of_type(feature.event_type))
    value = exp.cast(_col(feature.attribute, _ITEM), "DOUBLE")
    return exp.Avg(this=_when(condition, value))


def _item_count_feature(feature: FeatureDef) -> exp.Expression:
    """Events in the window (of the type) whose item's attribute has the counted value."""
    condition = exp.and_(
        _in_window(feature.window_days),
        _col(feature.attribute, _ITEM).eq(_str(feature.item_value)),
    )
    if feature.event_type is not None:
        condition = exp.and_(condition, _of_type(feature.event_type))
    return _count_if(condition)


def _trend_feature(feature: FeatureDef) -> exp.Expression:
    """(count in the window + 1) / (count in the window before it + 1): 1 for a steady or
    empty past, defined when the earlier window is empty."""
    of_type = _of_type(feature.event_type)
    current = _count_if(exp.and_(_in_window(feature.window_days), of_type))
    earlier = _count_if(exp.and_(_in_window_before(feature.window_days), of_type.copy()))
    return exp.Div(
        this=exp.cast(exp.Add(this=current, expression=_num(1)), "DOUBLE"),
        expression=exp.cast(exp.Add(this=earlier, expression=_num(1)), "DOUBLE"),
    )


def _distinct_feature(feature: FeatureDef) -> exp.Expression:
    """Distinct item ids or product areas (DISTINCT_COLUMNS) over the window's events of the
    type, else of product use (_product_use)."""
    of_type = _product_use() if feature.event_type is None else _of_type(feature.event_type)
    condition = exp.and_(_in_window(feature.window_days), of_type)
    return _count_distinct_if(condition, _col(DISTINCT_COLUMNS[feature.kind], _EVENT))


def _value_mean_feature(feature: FeatureDef) -> exp.Expression:
    """value_sum / count over the window's events of the type (NULL without one): a missing
    value counts as 0, as it does in the sum."""
    condition = exp.and_(_in_window(feature.window_days), _of_type(feature.event_type))
    value = exp.Coalesce(this=_col("value", _EVENT), expressions=[exp.cast(_num(0), "DOUBLE")])
    return exp.Avg(this=_when(condition, value))


AGGREGATE_FEATURES = {
    "count": _count_feature,
    "active_days": _active_days_feature,
    "sessions": _sessions_feature,
    "value_sum": _value_sum_feature,
    "ratio": _ratio_feature,
    "area_count": _area_count_feature,
    "item_mean": _item_mean_feature,
    "item_count": _item_count_feature,
    "trend": _trend_feature,
    "distinct_items": _distinct_feature,
    "distinct_areas": _distinct_feature,
    "value_mean": _value_mean_feature,
}


# Aggregate kinds that calendar-only specs compute in CTEs of their own beside `aggregates`
# (per-session flags), joined in `combined`.
ROLLED_UP_KINDS = ("sessions",)


# What a windowed aggregate is for a candidate with no event in the span (None: NULL).
EMPTY_AGGREGATES: dict[str, int | float | None] = {
    "count": 0,
    "active_days": 0,
    "value_sum": 0.0,
    "ratio": None,
    "area_count": 0,
    "item_count": 0,
    "trend": 1.0,
    "distinct_items": 0,
    "distinct_areas": 0,
}


def _row_feature(feature: FeatureDef, derived: dict[str, DerivedAttribute]) -> exp.Expression:
    """Features read from the users table beside each row, not aggregated over events: tenure,
    a stored attribute, or a derived attribute's expression over the user's columns."""
    if feature.kind == "tenure":
        return _day_diff(_col("signup_time", _USER), _col("cutoff", "s"))
    if feature.attribute in derived:
        attribute = derived[feature.attribute]
        return compile_expression(attribute.expression, attribute.dtype, _USER)
    return _col(feature.attribute, _USER)
