"""Spec -> SQL syntax tree (sqlglot, DuckDB dialect); Spark gets the same tree transpiled.

Point-in-time rules, enforced here (and in gaps.py, which builds CTEs for this query) and
nowhere else:
- a feature over w days sees events with cutoff - w days <= event_time < cutoff (a trend
  also the window before, cutoff - 2w days <= event_time < cutoff - w days);
- the label sees events with cutoff <= event_time < cutoff + horizon (no upper bound for
  `ever`), so an event exactly at the cutoff is on the label side only;
- day-based quantities (active days, recency, tenure, the adoption rule) use calendar dates
  (CAST(ts AS DATE), UTC) and DATE_DIFF on dates, which DuckDB and Spark agree on; on
  timestamps they do not (DuckDB counts day boundaries, Spark whole 24 h periods);
- end of data = MAX(events.event_time); a row whose horizon end (cutoff + horizon) lies after
  it is censored: dropped and counted, never labelled negative. `ever` is never censored.

The query has these steps (CTEs): cutoffs -> candidates (user x cutoff, signed up before it,
optionally a deterministic user sample) -> aggregates (one grouped pass over each candidate's
events from cutoff - longest window to horizon end: windowed features, the active flag,
simple labels) -> past_days + history (unbounded look-backs: recency and "converted before
the cutoff", read from a per (user, type, date) rollup instead of every past event) ->
type_days + gaps (gap features, gaps.py) -> statuses (kept | inactive | converted |
censored) -> the final rows. The adoption label adds a step over each kept row's
label-window days: a date bitmask tested with a sliding W-bit mask when the horizon fits 62
days, LAG over distinct days beyond that.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import sqlglot.expressions as exp

from events.store import EVENTS, ITEMS, USERS
from features.engines.spark import to_spark_sql
from features.featureset.derived import compile_expression
from features.featureset.gaps import gap_ctes
from features.featureset.related import (
    related_ctes,
    related_entries,
    user_rollup_ctes,
    values_table,
)
from features.featureset.spec import (
    GAP_KINDS,
    RELATED_KINDS,
    CalendarCutoffs,
    DerivedAttribute,
    FeatureDef,
    FeatureSetSpec,
    Label,
    SignupCutoffs,
    expand_features,
)

Dialect = Literal["duckdb", "spark"]
DIALECTS: tuple[Dialect, ...] = ("duckdb", "spark")
STATUSES: tuple[str, ...] = ("kept", "inactive", "converted", "censored")
# Sampling compares the first 8 hex digits of md5(seed:user_id), identical in both engines.
SAMPLE_HEX_DIGITS = 8
# The event columns features and labels read (not source_file, properties, ...).
WINDOWED_COLUMNS = (
    "user_id",
    "event_time",
    "event_date",
    "event_type",
    "session_id",
    "item_id",
    "value",
    "area",
)
# Day offsets 0..w must fit in a BIGINT bitmask.
MAX_BITMASK_DAYS = 62

_ROW = "r"
_PAST = "p"
_EVENT = "e"
_ITEM = "i"
_USER = "u"


def calendar_cutoff_dates(calendar: CalendarCutoffs) -> tuple[dt.date, ...]:
    """The calendar cutoffs: start, start + n, ... (or each month's first day) up to end."""
    if calendar.every_month:
        year, month = calendar.start.year, calendar.start.month
        if calendar.start.day != 1:
            month += 1
        dates = []
        while True:
            year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
            day = dt.date(year, month, 1)
            if day > calendar.end:
                return tuple(dates)
            dates.append(day)
            month += 1
    step = dt.timedelta(days=calendar.every_days or 1)
    count = (calendar.end - calendar.start) // step + 1
    return tuple(calendar.start + i * step for i in range(count))


def sample_threshold(fraction: float) -> str:
    """Hex prefix bound: users whose md5(seed:id) prefix sorts below it form the sample."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"sample fraction must be in (0, 1), got {fraction}")
    return format(int(fraction * 16**SAMPLE_HEX_DIGITS), f"0{SAMPLE_HEX_DIGITS}x")


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


def _in_label_window(label: Label) -> exp.Expression:
    """[cutoff, cutoff + horizon): the label side (unbounded above for `ever`)."""
    start = _event_time() >= _cutoff()
    if label.horizon_days is None:
        return start
    return exp.and_(start, _event_time() < _shift(_cutoff(), label.horizon_days))


# One function per feature kind ------------------------------------------------------------


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


def _distinct_items_feature(feature: FeatureDef) -> exp.Expression:
    condition = _in_window(feature.window_days)
    if feature.event_type is not None:
        condition = exp.and_(condition, _of_type(feature.event_type))
    return _count_distinct_if(condition, _col("item_id", _EVENT))


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
    "trend": _trend_feature,
    "distinct_items": _distinct_items_feature,
    "value_mean": _value_mean_feature,
}
# Aggregate kinds that calendar-only specs compute in CTEs of their own beside `aggregates`
# (per-session flags), joined in `combined`.
ROLLED_UP_KINDS = ("sessions",)


def _row_feature(feature: FeatureDef, derived: dict[str, DerivedAttribute]) -> exp.Expression:
    """Features read from the users table beside each row, not aggregated over events: tenure,
    a stored attribute, or a derived attribute's expression over the user's columns."""
    if feature.kind == "tenure":
        return _day_diff(_col("signup_time", _USER), _col("cutoff", "s"))
    if feature.attribute in derived:
        attribute = derived[feature.attribute]
        return compile_expression(attribute.expression, attribute.dtype, _USER)
    return _col(feature.attribute, _USER)


# One function per label kind --------------------------------------------------------------


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


# The query ---------------------------------------------------------------------------------


def _cutoffs_select(dates: tuple[dt.date, ...]) -> exp.Select:
    values = exp.values(
        [(_str(day.isoformat()),) for day in dates], alias="calendar", columns=["cutoff_day"]
    )
    return exp.select(exp.cast(exp.column("cutoff_day"), "TIMESTAMP").as_("cutoff")).from_(values)


def _sample_condition(fraction: float, seed: int) -> exp.Expression:
    key = exp.Concat(expressions=[_str(f"{seed}:"), _col("user_id", _USER)])
    prefix = exp.Substring(this=exp.MD5(this=key), start=_num(1), length=_num(SAMPLE_HEX_DIGITS))
    return prefix < _str(sample_threshold(fraction))


def _signup_cutoff(after_signup: SignupCutoffs) -> exp.Expression:
    """A user's signup-relative cutoff: offset days after the signup's date at 00:00 UTC
    (anchor `date`) or after the signup timestamp (anchor `timestamp`).

    A date-anchored cutoff at offset 0 lies at or before the signup instant, on the same
    day: the user still gets the row (signup-relative candidates are never filtered on
    signup_time), with tenure 0.
    """
    signup = _col("signup_time", _USER)
    if after_signup.anchor == "date":
        signup = exp.cast(_date(signup), "TIMESTAMP")
    return _shift(signup, after_signup.offset_days)


def _candidates_select(spec: FeatureSetSpec, sample: tuple[float, int] | None) -> exp.Expression:
    """(user_id, cutoff) pairs before eligibility: users who signed up before a calendar
    cutoff, and every user at their signup-relative cutoff."""
    parts: list[exp.Select] = []
    users = exp.to_table(USERS).as_(_USER)
    if spec.cutoffs.calendar is not None:
        calendar = (
            exp.select(_col("user_id", _USER), _col("cutoff", "c"))
            .from_(users)
            .join(exp.to_table("cutoffs").as_("c"), join_type="cross")
            .where(_col("signup_time", _USER) < _col("cutoff", "c"))
        )
        parts.append(calendar)
    if spec.cutoffs.after_signup is not None:
        after = exp.select(
            _col("user_id", _USER), _signup_cutoff(spec.cutoffs.after_signup).as_("cutoff")
        ).from_(users)
        parts.append(after)
    if sample is not None:
        parts = [part.where(_sample_condition(*sample)) for part in parts]
    union: exp.Expression = parts[0]
    for part in parts[1:]:
        union = exp.union(union, part, distinct=True)
    return union


def _uses_items(features: tuple[FeatureDef, ...]) -> bool:
    return any(feature.kind == "item_mean" for feature in features)


def _lookback_days(spec: FeatureSetSpec, features: tuple[FeatureDef, ...]) -> int:
    """How far before a cutoff the windowed pass must read (longest window; a trend reads
    the window before its own too)."""
    windows = [
        f.window_days * (2 if f.kind == "trend" else 1)
        for f in features
        if f.window_days is not None and f.kind not in RELATED_KINDS
    ]
    if spec.eligibility.active_within_days is not None:
        windows.append(spec.eligibility.active_within_days)
    return max(windows, default=0)


def _calendar_only(spec: FeatureSetSpec) -> bool:
    return spec.cutoffs.calendar is not None and spec.cutoffs.after_signup is None


def _reads_events_in_span(spec: FeatureSetSpec, features: tuple[FeatureDef, ...]) -> bool:
    """Whether any windowed feature, the label or the activity rule reads the span's events."""
    return (
        any(f.kind in AGGREGATE_FEATURES for f in features)
        or spec.label.kind in AGGREGATE_LABELS
        or spec.eligibility.active_within_days is not None
    )


def _in_span(spec: FeatureSetSpec, features: tuple[FeatureDef, ...]) -> exp.Expression:
    """cutoff - longest window <= event_time < cutoff + horizon: all the windowed pass reads."""
    condition = _event_time() >= _shift(_cutoff(), _lookback_days(spec, features), back=True)
    if spec.label.horizon_days is not None:
        condition = exp.and_(condition, _event_time() < _shift(_cutoff(), spec.label.horizon_days))
    return condition


def _label_side_days(spec: FeatureSetSpec) -> int:
    """Days after a cutoff the windowed pass reads: the horizon when it computes the label."""
    assert spec.label.horizon_days is not None  # bounded spans only (see _windowed_events)
    return spec.label.horizon_days if spec.label.kind in AGGREGATE_LABELS else 0


def _cutoff_days_select(spec: FeatureSetSpec, features: tuple[FeatureDef, ...]) -> exp.Select:
    """(cutoff, event_day, day_offset) for every calendar day of each cutoff's span.

    Calendar cutoffs are midnights and windows whole days, so an event lies in a cutoff's
    span [cutoff - lookback, cutoff + label days) exactly when its date is one of these days;
    day_offset < 0 is the feature side, >= 0 the label side.
    """
    offsets = exp.values(
        [(_num(day),) for day in range(-_lookback_days(spec, features), _label_side_days(spec))],
        alias="span",
        columns=["day_offset"],
    )
    day = exp.DateAdd(
        this=_date(_cutoff()), expression=exp.column("day_offset", "o"), unit=exp.var("DAY")
    )
    return (
        exp.select(_cutoff(), _date(day).as_("event_day"), exp.column("day_offset", "o"))
        .from_(exp.to_table("cutoffs").as_(_ROW))
        .join(exp.Subquery(this=exp.select("*").from_(offsets), alias="o"), join_type="cross")
    )


def _windowed_events_select(spec: FeatureSetSpec, features: tuple[FeatureDef, ...]) -> exp.Select:
    """Each event with every calendar cutoff whose span contains it.

    With a bounded label horizon, an equi-join on the event's date against `cutoff_days` (a
    hash join with a build side of a few hundred rows); when the label counts one event type
    (event_within, value_within of a type), only events of that type are paired on the label
    side, which about halves the rows every later step reads. An open (`ever`) horizon has no
    finite day list and keeps the range join, which DuckDB answers by sorting every event.
    """
    select = exp.select(*(_col(name, _EVENT) for name in WINDOWED_COLUMNS), _cutoff()).from_(
        exp.to_table(EVENTS).as_(_EVENT)
    )
    if spec.label.horizon_days is None:
        return select.join(exp.to_table("cutoffs").as_(_ROW), on=_in_span(spec, features))
    select = select.select(_col("day_offset", _ROW))
    on = _event_date().eq(_col("event_day", _ROW))
    label_type = spec.label.event_type if spec.label.kind in AGGREGATE_LABELS else None
    if label_type is not None and _label_side_days(spec) > 0:
        feature_side = _col("day_offset", _ROW) < _num(0)
        on = exp.and_(on, exp.paren(exp.or_(feature_side, _of_type(label_type)), copy=False))
    return select.join(exp.to_table("cutoff_days").as_(_ROW), on=on)


# What a windowed aggregate is for a candidate with no event in the span (None: NULL).
EMPTY_AGGREGATES: dict[str, int | float | None] = {
    "count": 0,
    "active_days": 0,
    "value_sum": 0.0,
    "ratio": None,
    "area_count": 0,
    "trend": 1.0,
    "distinct_items": 0,
}
EMPTY_LABELS: dict[str, int | float] = {"event_within": 0, "churn": 1, "value_within": 0.0}


# (name, aggregate, value without events) of a column the windowed pass computes.
SpanAggregate = tuple[str, exp.Expression, int | float | None]


def _span_aggregates(
    spec: FeatureSetSpec, features: tuple[FeatureDef, ...]
) -> list[SpanAggregate]:
    """(name, aggregate, value without events) of each column the windowed pass computes."""
    columns = [
        (f.name, AGGREGATE_FEATURES[f.kind](f), EMPTY_AGGREGATES.get(f.kind))
        for f in features
        if f.kind in AGGREGATE_FEATURES
        and not (f.kind in ROLLED_UP_KINDS and _calendar_only(spec))
    ]
    if spec.label.kind in AGGREGATE_LABELS:
        label = AGGREGATE_LABELS[spec.label.kind](spec.label)
        columns.append(("label", label, EMPTY_LABELS[spec.label.kind]))
    if spec.eligibility.active_within_days is not None:
        active = _count_if(_in_window(spec.eligibility.active_within_days)) > _num(0)
        columns.append(("is_active", _flag(active), 0))
    return columns


def _empty_value(value: int | float) -> exp.Expression:
    return exp.cast(_num(value), "DOUBLE") if isinstance(value, float) else _num(value)


def _cutoff_shift_days(node: exp.Expression) -> int | None:
    """n for `e.cutoff`, `(e.cutoff + INTERVAL n DAY)` or -n for `(e.cutoff - ...)`; else None."""
    if isinstance(node, exp.Paren):
        node = node.this
    if _is_paired_column(node, "cutoff"):
        return 0
    if isinstance(node, exp.Add | exp.Sub) and _is_paired_column(node.this, "cutoff"):
        interval = node.expression
        if isinstance(interval, exp.Interval) and interval.unit and interval.unit.name == "DAY":
            days = int(interval.this.name)
            return days if isinstance(node, exp.Add) else -days
    return None


def _is_paired_column(node: exp.Expression, name: str) -> bool:
    return isinstance(node, exp.Column) and node.table == _EVENT and node.name == name


def _on_day_offsets(node: exp.Expression) -> exp.Expression:
    """Comparisons of a paired event's time with its cutoff, as comparisons of its day_offset.

    Calendar cutoffs are midnights and windows whole days, so `event_time >= cutoff - n days`
    is `day_offset >= -n`, `event_time < cutoff + n days` is `day_offset < n`, and the day
    difference to the cutoff is `-day_offset`: integer tests on a joined column instead of
    timestamp arithmetic per event and aggregate (docs/decisions/point-in-time-engine.md).
    """
    offset = _col("day_offset", _EVENT)
    if isinstance(node, exp.GTE | exp.LT) and _is_paired_column(node.this, "event_time"):
        days = _cutoff_shift_days(node.expression)
        if days is not None:
            return type(node)(this=offset, expression=_num(days))
    if _is_days_to_cutoff(node):
        return exp.Neg(this=offset)
    return node


def _is_days_to_cutoff(node: exp.Expression) -> bool:
    """Whether node is DATE_DIFF('DAY', e.event_date, CAST(e.cutoff AS DATE))."""
    return (
        isinstance(node, exp.DateDiff)
        and node.unit is not None
        and node.unit.name == "DAY"
        and isinstance(node.this, exp.Cast)
        and _is_paired_column(node.this.this, "cutoff")
        and _is_paired_column(node.expression, "event_date")
    )


def _on_paired_events(spec: FeatureSetSpec, expression: exp.Expression) -> exp.Expression:
    """An aggregate written against (r.cutoff, e.*) read over `windowed_events` instead.

    The candidate's cutoff becomes the paired event's; with a bounded horizon (events paired
    through `cutoff_days`) window tests become day-offset tests (`_on_day_offsets`).
    """

    def on_events(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column) and node.table == _ROW and node.name == "cutoff":
            return _col("cutoff", _EVENT)
        return node

    paired = expression.transform(on_events)
    if spec.label.horizon_days is None:
        return paired
    return paired.transform(_on_day_offsets, copy=False)


def _event_aggregates_select(
    spec: FeatureSetSpec, features: tuple[FeatureDef, ...], aggregates: list[SpanAggregate]
) -> exp.Select:
    """Calendar-only specs: the windowed aggregates per (user, cutoff) of the paired events.

    Grouping the paired events first and attaching the few result rows to the candidates
    afterwards avoids a hash table over every paired event (the candidate join it replaces).
    Item attributes are looked up here, in the same pass: `items` is the hash join's build
    side once the events' dates carry statistics of their own (event_date); a separate pass
    would build its hash table on the paired events.
    """
    columns = [
        _on_paired_events(spec, expression).as_(name, copy=False)
        for name, expression, _ in aggregates
    ]
    select = (
        exp.select(_col("user_id", _EVENT), _col("cutoff", _EVENT), *columns)
        .from_(exp.to_table("windowed_events").as_(_EVENT))
        .group_by(_col("user_id", _EVENT), _col("cutoff", _EVENT))
    )
    if _uses_items(features):
        select = select.join(
            exp.to_table(ITEMS).as_(_ITEM),
            on=_col("item_id", _ITEM).eq(_col("item_id", _EVENT)),
            join_type="left",
        )
    return select


def _aggregates_select(
    spec: FeatureSetSpec, features: tuple[FeatureDef, ...], aggregates: list[SpanAggregate]
) -> exp.Select:
    """One grouped pass over each candidate's events from cutoff - lookback to horizon end."""
    keys: list[exp.Expression] = [_col("user_id", _ROW), _col("cutoff", _ROW)]
    candidates = exp.select(*keys).from_(exp.to_table("candidates").as_(_ROW))
    if not aggregates:  # nothing to aggregate (e.g. a label-only spec): skip the events
        return candidates
    if _calendar_only(spec):
        # Events were paired with the few calendar cutoffs whose span they fall in and
        # grouped per (user, cutoff): attach those rows, filling candidates without events.
        for name, _, empty in aggregates:
            value: exp.Expression = _col(name, "a")
            if empty is not None:
                value = exp.Coalesce(this=value, expressions=[_empty_value(empty)])
            candidates = candidates.select(value.as_(name))
        return candidates.join(
            exp.to_table("event_aggregates").as_("a"),
            on=exp.and_(
                _col("user_id", "a").eq(_col("user_id", _ROW)),
                _col("cutoff", "a").eq(_cutoff()),
            ),
            join_type="left",
        )
    on = exp.and_(_col("user_id", _EVENT).eq(_col("user_id", _ROW)), _in_span(spec, features))
    select = candidates.select(*(expression.as_(name) for name, expression, _ in aggregates))
    select = select.join(exp.to_table(EVENTS).as_(_EVENT), on=on, join_type="left")
    if _uses_items(features):
        select = select.join(
            exp.to_table(ITEMS).as_(_ITEM),
            on=_col("item_id", _ITEM).eq(_col("item_id", _EVENT)),
            join_type="left",
        )
    return select.group_by(*keys)


def _needs_history(spec: FeatureSetSpec, features: tuple[FeatureDef, ...]) -> bool:
    return spec.eligibility.not_converted is not None or any(f.kind == "recency" for f in features)


def _history_types(spec: FeatureSetSpec, features: tuple[FeatureDef, ...]) -> tuple[str, ...]:
    """Event types whose unbounded history is read: typed recency and "not converted"."""
    types = [f.event_type for f in features if f.kind == "recency" and f.event_type]
    if spec.eligibility.not_converted is not None:
        types.append(spec.eligibility.not_converted)
    return tuple(dict.fromkeys(types))


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


def _date_literal(day: dt.date) -> exp.Expression:
    return exp.cast(_str(day.isoformat()), "DATE")


def _first_cutoff(calendar: CalendarCutoffs) -> exp.Expression:
    return _date_literal(calendar_cutoff_dates(calendar)[0])


def _whole_steps_since_first(calendar: CalendarCutoffs, day: exp.Expression) -> exp.Expression:
    """(day - first cutoff) DIV step, in days, for every-N-days calendars."""
    elapsed = exp.DateDiff(
        this=day.copy(), expression=_first_cutoff(calendar), unit=exp.var("DAY")
    )
    return exp.IntDiv(this=elapsed, expression=_num(calendar.every_days or 1))


def next_cutoff_day(calendar: CalendarCutoffs, day: exp.Expression) -> exp.Expression:
    """The first calendar cutoff after `day` (a date), for days before the last cutoff.

    Calendar cutoffs are midnights, so an event is before a cutoff exactly when its date is
    before the cutoff's date: the first cutoff after the date is the first the event precedes.
    """
    if calendar.every_month:  # month starts: the start of the month after the day's
        month = exp.DateTrunc(this=day, unit=exp.var("MONTH"))
        later = exp.DateAdd(this=month, expression=_num(1), unit=exp.var("MONTH"))
    else:
        steps = exp.Add(this=_whole_steps_since_first(calendar, day), expression=_num(1))
        # INT: Spark's DATE_ADD refuses the BIGINT that DATE_DIFF arithmetic gives.
        shift = exp.cast(
            exp.Mul(this=exp.paren(steps, copy=False), expression=_num(calendar.every_days or 1)),
            "INT",
        )
        later = exp.DateAdd(this=_first_cutoff(calendar), expression=shift, unit=exp.var("DAY"))
    first = _first_cutoff(calendar)
    return exp.Case().when(day.copy() < first, first.copy()).else_(_date(later))


def cutoff_period(calendar: CalendarCutoffs, day: exp.Expression) -> exp.Expression:
    """An integer per date, equal for dates that share their first cutoff after them.

    The month (year * 12 + month) for month-start cutoffs; else the number of whole steps
    since the first cutoff, with every earlier date in one period (-1): DuckDB's `//` floors
    and Spark's DIV truncates, which agree on the non-negative counts only. Cheaper per event
    than next_cutoff_day's date arithmetic, which then runs once per (user, period).
    """
    if calendar.every_month:
        year = exp.Mul(this=exp.Year(this=day), expression=_num(12))
        return exp.Add(this=year, expression=exp.Month(this=day.copy()))
    steps = _whole_steps_since_first(calendar, day)
    return exp.Case().when(day.copy() < _first_cutoff(calendar), _num(-1)).else_(steps)


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


def _history_select(spec: FeatureSetSpec, features: tuple[FeatureDef, ...]) -> exp.Select:
    """Per candidate: recency features and the not-converted flag, from the history rollup."""
    slots = _calendar_only(spec)
    columns: list[exp.Expression] = [_col("user_id", _ROW), _col("cutoff", _ROW)]
    columns += [
        _recency_feature(f, slots=slots).as_(f.name) for f in features if f.kind == "recency"
    ]
    if spec.eligibility.not_converted is not None:
        last = _last_day_before_cutoff(spec.eligibility.not_converted, slots=slots)
        columns.append(_flag(exp.Not(this=last.is_(exp.null()))).as_("has_converted"))
    before = _col("slot", _PAST) <= _cutoff() if slots else _col("first_time", _PAST) < _cutoff()
    return (
        exp.select(*columns)
        .from_(exp.to_table("candidates").as_(_ROW))
        .join(
            exp.to_table(_history_rollup(spec)).as_(_PAST),
            on=exp.and_(_col("user_id", _PAST).eq(_col("user_id", _ROW)), before),
            join_type="left",
        )
        .group_by(_col("user_id", _ROW), _col("cutoff", _ROW))
    )


def _history_rollup(spec: FeatureSetSpec) -> str:
    return "past_slots" if _calendar_only(spec) else "past_days"


def _history_ctes(
    spec: FeatureSetSpec, features: tuple[FeatureDef, ...]
) -> list[tuple[str, exp.Select]]:
    """The history rollup (`past_slots` for calendar-only specs, else `past_days`) and
    `history`, the per-candidate look-back read from it."""
    types = _history_types(spec, features)
    calendar = spec.cutoffs.calendar
    if _calendar_only(spec) and calendar is not None:
        rollup = _past_slots_select(calendar, types)
    else:
        rollup = _past_days_select(types)
    return [(_history_rollup(spec), rollup), ("history", _history_select(spec, features))]


def _session_ctes(
    spec: FeatureSetSpec, features: tuple[FeatureDef, ...]
) -> list[tuple[str, exp.Select]]:
    """Distinct sessions per window for calendar-only specs, as two plain GROUP BYs.

    A session counts in a window when any of its events does: flag each (user, cutoff,
    session) per window with MAX, then add the flags up. Same numbers as COUNT(DISTINCT
    session_id), without the per-group distinct sets that dominate the query's cost.
    """
    windows = [f for f in features if f.kind == "sessions"]
    flags = (
        exp.select(
            "user_id",
            "cutoff",
            "session_id",
            *(
                _on_paired_events(spec, exp.Max(this=_flag(_in_window(f.window_days)))).as_(f.name)
                for f in windows
            ),
        )
        .from_(exp.to_table("windowed_events").as_(_EVENT))
        .where(exp.column("session_id").is_(exp.null()).not_())
        .group_by("user_id", "cutoff", "session_id")
    )
    counts = (
        exp.select(
            "user_id", "cutoff", *(exp.Sum(this=exp.column(f.name)).as_(f.name) for f in windows)
        )
        .from_("session_flags")
        .group_by("user_id", "cutoff")
    )
    return [("session_flags", flags), ("session_counts", counts)]


def _uses_session_rollup(spec: FeatureSetSpec, features: tuple[FeatureDef, ...]) -> bool:
    return _calendar_only(spec) and any(f.kind == "sessions" for f in features)


def _uses_gaps(features: tuple[FeatureDef, ...]) -> bool:
    return any(f.kind in GAP_KINDS for f in features)


def _needs_combined(spec: FeatureSetSpec, features: tuple[FeatureDef, ...]) -> bool:
    return (
        _needs_history(spec, features)
        or _uses_session_rollup(spec, features)
        or _uses_gaps(features)
    )


def _combined_select(spec: FeatureSetSpec, features: tuple[FeatureDef, ...]) -> exp.Select:
    """Windowed aggregates beside the history and session columns, one row per candidate."""
    select = exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier("w"))).from_(
        exp.to_table("aggregates").as_("w")
    )
    sides: list[tuple[str, str, list[str]]] = []
    if _needs_history(spec, features):
        history = [f.name for f in features if f.kind == "recency"]
        if spec.eligibility.not_converted is not None:
            history.append("has_converted")
        sides.append(("history", "h", history))
    if _uses_session_rollup(spec, features):
        sides.append(("session_counts", "sc", [f.name for f in features if f.kind == "sessions"]))
    if _uses_gaps(features):
        sides.append(("gaps", "gp", [f.name for f in features if f.kind in GAP_KINDS]))
    for table, alias, names in sides:
        for name in names:
            value: exp.Expression = _col(name, alias)
            if table == "session_counts":  # no session in any window: no row, 0 sessions
                value = exp.cast(exp.Coalesce(this=value, expressions=[_num(0)]), "BIGINT")
            select = select.select(value.as_(name))
        select = select.join(
            exp.to_table(table).as_(alias),
            on=exp.and_(
                _col("user_id", alias).eq(_col("user_id", "w")),
                _col("cutoff", alias).eq(_col("cutoff", "w")),
            ),
            join_type="left",
        )
    return select


def _statuses_select(spec: FeatureSetSpec, source: str) -> exp.Select:
    """Each candidate's fate; the first failing rule wins, in the order of STATUSES."""
    status = exp.Case()
    if spec.eligibility.active_within_days is not None:
        status = status.when(exp.column("is_active").eq(_num(0)), _str("inactive"))
    if spec.eligibility.not_converted is not None:
        status = status.when(exp.column("has_converted").eq(_num(1)), _str("converted"))
    if spec.label.horizon_days is not None:
        horizon_end = _shift(_col("cutoff", "a"), spec.label.horizon_days)
        status = status.when(horizon_end > _col("end_time", "d"), _str("censored"))
    final_status = status.else_(_str("kept")) if status.args.get("ifs") else _str("kept")
    return (
        exp.select(exp.Star(), final_status.as_("status"))
        .from_(exp.to_table(source).as_("a"))
        .join(exp.to_table("data_end").as_("d"), join_type="cross")
    )


# CTEs read twice that DuckDB should inline rather than materialise (materialising the
# event/cutoff pairs costs memory and time).
INLINED_CTES = ("windowed_events",)


def _with_ctes(final: exp.Select, ctes: list[tuple[str, exp.Expression]]) -> exp.Select:
    for name, query in ctes:
        materialized = False if name in INLINED_CTES else None
        final = final.with_(name, as_=query, copy=False, materialized=materialized)
    return final


def _data_end_select(granularity: str) -> exp.Select:
    """End of data: the last event time; for date-only data (every event time at midnight,
    events/store.py) the midnight after the last date, so the last day is complete."""
    if granularity == "date":
        end = _shift(exp.cast(exp.Max(this=exp.column("event_date")), "TIMESTAMP"), 1)
    else:
        end = exp.Max(this=exp.column("event_time"))
    return exp.select(end.as_("end_time")).from_(EVENTS)


def _base_ctes(
    spec: FeatureSetSpec,
    sample: tuple[float, int] | None,
    features: tuple[FeatureDef, ...],
    granularity: str,
) -> list[tuple[str, exp.Expression]]:
    ctes: list[tuple[str, exp.Expression]] = []
    aggregates = _span_aggregates(spec, features)
    if spec.cutoffs.calendar is not None:
        ctes.append(("cutoffs", _cutoffs_select(calendar_cutoff_dates(spec.cutoffs.calendar))))
    ctes += [
        ("candidates", _candidates_select(spec, sample)),
        ("data_end", _data_end_select(granularity)),
    ]
    if _calendar_only(spec) and _reads_events_in_span(spec, features):
        if spec.label.horizon_days is not None:
            ctes.append(("cutoff_days", _cutoff_days_select(spec, features)))
        ctes.append(("windowed_events", _windowed_events_select(spec, features)))
        if aggregates:
            ctes.append(("event_aggregates", _event_aggregates_select(spec, features, aggregates)))
    ctes.append(("aggregates", _aggregates_select(spec, features, aggregates)))
    if _needs_history(spec, features):
        ctes += _history_ctes(spec, features)
    if _uses_session_rollup(spec, features):
        ctes += _session_ctes(spec, features)
    if _uses_gaps(features):
        ctes += gap_ctes(features)
    if _needs_combined(spec, features):
        ctes += [
            ("combined", _combined_select(spec, features)),
            ("statuses", _statuses_select(spec, "combined")),
        ]
    else:
        ctes.append(("statuses", _statuses_select(spec, "aggregates")))
    return ctes


def compile_feature_query(
    spec: FeatureSetSpec, sample: tuple[float, int] | None = None, granularity: str = "timestamp"
) -> exp.Select:
    """The query that builds the feature set, one row per candidate (user, cutoff).

    `granularity` is the store's event time granularity (timestamp | date): it sets the end
    of data that censors rows.

    Columns: user_id, cutoff, label, the features, then `status` (kept | inactive | converted
    | censored) and `end_of_data`. The feature set is the rows with status = 'kept'; the
    others are returned (not filtered in SQL) so one pass also yields the manifest's
    eligibility and censoring counts.
    """
    features = expand_features(spec)
    ctes = _base_ctes(spec, sample, features, granularity)
    if spec.label.kind == "active_days_in_window":
        kept = exp.select("*").from_("statuses").where(exp.column("status").eq(_str("kept")))
        ctes.append(("kept", kept))
        ctes += _adoption_label_ctes(spec.label)
        label = exp.Coalesce(this=_col("label", "h"), expressions=[_num(0)])
    else:
        label = _col("label", "s")
    columns: list[exp.Expression] = [
        _col("user_id", "s"),
        _col("cutoff", "s"),
        label.as_("label"),
    ]
    derived = {attribute.name: attribute for attribute in spec.derived_attributes}
    for feature in features:
        if feature.kind in RELATED_KINDS:
            continue  # read from the rows below (features/featureset/related.py)
        if feature.kind in AGGREGATE_FEATURES or feature.kind in ("recency", *GAP_KINDS):
            columns.append(_col(feature.name, "s").as_(feature.name))
        else:
            columns.append(_row_feature(feature, derived).as_(feature.name))
    columns += [_col("status", "s").as_("status"), _col("end_time", "s").as_("end_of_data")]
    final = (
        exp.select(*columns)
        .from_(exp.to_table("statuses").as_("s"))
        .join(
            exp.to_table(USERS).as_(_USER),
            on=_col("user_id", _USER).eq(_col("user_id", "s")),
        )
    )
    if spec.label.kind == "active_days_in_window":
        final = final.join(
            exp.to_table("label_hits").as_("h"),
            on=exp.and_(
                _col("user_id", "h").eq(_col("user_id", "s")),
                _col("cutoff", "h").eq(_col("cutoff", "s")),
            ),
            join_type="left",
        )
    entries = related_entries(features)
    if entries:
        ctes.append((ROWS_BEFORE_RELATED, final))
        after_signup = spec.cutoffs.after_signup
        midnight = after_signup is None or after_signup.anchor == "date"
        if midnight:
            ctes += user_rollup_ctes(features)
        for prefix, defs in entries.items():
            ctes += related_ctes(spec, prefix, defs, ROWS_BEFORE_RELATED, midnight)
        final = _with_related_select(features, tuple(entries))
    final = final.order_by(_col("cutoff", "s"), _col("user_id", "s"))
    return _with_ctes(final, ctes)


# The query's rows with every column but the related features, which read its labels.
ROWS_BEFORE_RELATED = "feature_rows"


def _with_related_select(
    features: tuple[FeatureDef, ...], prefixes: tuple[str, ...]
) -> exp.Select:
    """The rows with the related features put in their spec places (NULL without a key)."""
    columns = [_col(name, "s") for name in ("user_id", "cutoff", "label")]
    columns += [
        _col(f.name, values_table(f.prefix) if f.kind in RELATED_KINDS and f.prefix else "s")
        for f in features
    ]
    columns += [_col(name, "s") for name in ("status", "end_of_data")]
    select = exp.select(*columns).from_(exp.to_table(ROWS_BEFORE_RELATED).as_("s"))
    for prefix in prefixes:
        table = values_table(prefix)
        select = select.join(
            exp.to_table(table),
            on=exp.and_(
                _col("user_id", table).eq(_col("user_id", "s")),
                _col("cutoff", table).eq(_col("cutoff", "s")),
            ),
            join_type="left",
        )
    return select


def render(query: exp.Expression, dialect: Dialect) -> str:
    """SQL text of a tree in one dialect, pretty-printed (the golden-file form)."""
    if dialect not in DIALECTS:
        raise ValueError(f"dialect {dialect!r} is not known; use one of: {', '.join(DIALECTS)}")
    if dialect == "spark":
        return to_spark_sql(query, pretty=True) + "\n"
    return query.sql(dialect=dialect, pretty=True) + "\n"
