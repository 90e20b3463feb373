"""The windowed pass: one grouped pass over each candidate's events from cutoff - lookback
to horizon end (windowed features, the active flag, aggregate labels).

Calendar-only specs pair each event with the few cutoffs whose span holds it
(`cutoff_days`, `windowed_events`) and group those pairs; other specs join candidates to
their events.
"""

from __future__ import annotations

import sqlglot.expressions as exp

from events.store import EVENTS, ITEMS, item_version_at
from features.featureset.compiler.features_sql import (
    AGGREGATE_FEATURES,
    EMPTY_AGGREGATES,
    ROLLED_UP_KINDS,
)
from features.featureset.compiler.labels import AGGREGATE_LABELS, EMPTY_LABELS
from features.featureset.compiler.plan import QueryPlan
from features.featureset.compiler.sqlbits import (
    _EVENT,
    _ITEM,
    _ROW,
    _col,
    _count_if,
    _cutoff,
    _date,
    _empty_value,
    _event_date,
    _event_time,
    _flag,
    _in_window,
    _num,
    _of_type,
    _shift,
)

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


def _in_span(plan: QueryPlan) -> exp.Expression:
    """cutoff - longest window <= event_time < cutoff + horizon: all the windowed pass reads."""
    condition = _event_time() >= _shift(_cutoff(), plan.lookback_days, back=True)
    horizon = plan.spec.label.horizon_days
    if horizon is not None:
        condition = exp.and_(condition, _event_time() < _shift(_cutoff(), horizon))
    return condition


def _label_side_days(plan: QueryPlan) -> int:
    """Days after a cutoff the windowed pass reads: the horizon when it computes the label."""
    horizon = plan.spec.label.horizon_days
    assert horizon is not None  # bounded spans only (see _windowed_events)
    return horizon if plan.aggregate_label else 0


def _cutoff_days_select(plan: QueryPlan) -> exp.Select:
    """(cutoff, event_day, day_offset) for every calendar day of each cutoff's span.

    Calendar cutoffs are midnights and windows whole days, so an event lies in a cutoff's
    span [cutoff - lookback, cutoff + label days) exactly when its date is one of these days;
    day_offset < 0 is the feature side, >= 0 the label side.
    """
    offsets = exp.values(
        [(_num(day),) for day in range(-plan.lookback_days, _label_side_days(plan))],
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


def _windowed_events_select(plan: QueryPlan) -> exp.Select:
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
    if not plan.bounded:
        return select.join(exp.to_table("cutoffs").as_(_ROW), on=_in_span(plan))
    select = select.select(_col("day_offset", _ROW))
    on = _event_date().eq(_col("event_day", _ROW))
    label_type = plan.spec.label.event_type if plan.aggregate_label else None
    if label_type is not None and _label_side_days(plan) > 0:
        feature_side = _col("day_offset", _ROW) < _num(0)
        on = exp.and_(on, exp.paren(exp.or_(feature_side, _of_type(label_type)), copy=False))
    return select.join(exp.to_table("cutoff_days").as_(_ROW), on=on)


# (name, aggregate, value without events) of a column the windowed pass computes.
SpanAggregate = tuple[str, exp.Expression, int | float | None]


def _span_aggregates(plan: QueryPlan) -> list[SpanAggregate]:
    """(name, aggregate, value without events) of each column the windowed pass computes."""
    columns = [
        (f.name, AGGREGATE_FEATURES[f.kind](f), EMPTY_AGGREGATES.get(f.kind))
        for f in plan.features
        if f.kind in AGGREGATE_FEATURES and not (f.kind in ROLLED_UP_KINDS and plan.session_rollup)
    ]
    spec = plan.spec
    if plan.aggregate_label:
        label = AGGREGATE_LABELS[spec.label.kind](spec.label)
        columns.append(("label", label, EMPTY_LABELS[spec.label.kind]))
    if spec.eligibility.active_within_days is not None:
        active = _count_if(_in_window(spec.eligibility.active_within_days)) > _num(0)
        columns.append(("is_active", _flag(active), 0))
    return columns


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


def _on_paired_events(plan: QueryPlan, expression: exp.Expression) -> exp.Expression:
    """An aggregate written against (r.cutoff, e.*) read over `windowed_events` instead.

    The candidate's cutoff becomes the paired event's; with a bounded horizon (events paired
    through `cutoff_days`) window tests become day-offset tests (`_on_day_offsets`).
    """

    def on_events(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Column) and node.table == _ROW and node.name == "cutoff":
            return _col("cutoff", _EVENT)
        return node

    paired = expression.transform(on_events)
    if not plan.bounded:
        return paired
    return paired.transform(_on_day_offsets, copy=False)


def _event_aggregates_select(plan: QueryPlan, aggregates: list[SpanAggregate]) -> exp.Select:
    """Calendar-only specs: the windowed aggregates per (user, cutoff) of the paired events.

    Grouping the paired events first and attaching the few result rows to the candidates
    afterwards avoids a hash table over every paired event (the candidate join it replaces).
    Item attributes are looked up here, in the same pass: `items` is the hash join's build
    side once the events' dates carry statistics of their own (event_date); a separate pass
    would build its hash table on the paired events.
    """
    columns = [
        _on_paired_events(plan, expression).as_(name, copy=False)
        for name, expression, _ in aggregates
    ]
    select = (
        exp.select(_col("user_id", _EVENT), _col("cutoff", _EVENT), *columns)
        .from_(exp.to_table("windowed_events").as_(_EVENT))
        .group_by(_col("user_id", _EVENT), _col("cutoff", _EVENT))
    )
    if plan.uses_items:
        select = _join_items(select)
    return select


def _join_items(select: exp.Select) -> exp.Select:
    """Each event's item, in the version valid at the event's time ([valid_from, valid_to),
    NULL open): a past event reads the attributes its item had then, never later ones."""
    on = exp.and_(
        _col("item_id", _ITEM).eq(_col("item_id", _EVENT)),
        *exp.condition(item_version_at(_ITEM, _event_time().sql())).flatten(),
    )
    return select.join(exp.to_table(ITEMS).as_(_ITEM), on=on, join_type="left")


def _aggregates_select(plan: QueryPlan, aggregates: list[SpanAggregate]) -> exp.Select:
    """One grouped pass over each candidate's events from cutoff - lookback to horizon end."""
    keys: list[exp.Expression] = [_col("user_id", _ROW), _col("cutoff", _ROW)]
    candidates = exp.select(*keys).from_(exp.to_table("candidates").as_(_ROW))
    if not aggregates:  # nothing to aggregate (e.g. a label-only spec): skip the events
        return candidates
    if plan.pairs_events:
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
    on = exp.and_(_col("user_id", _EVENT).eq(_col("user_id", _ROW)), _in_span(plan))
    select = candidates.select(*(expression.as_(name) for name, expression, _ in aggregates))
    select = select.join(exp.to_table(EVENTS).as_(_EVENT), on=on, join_type="left")
    if plan.uses_items:
        select = _join_items(select)
    return select.group_by(*keys)


def _session_ctes(plan: QueryPlan) -> list[tuple[str, exp.Select]]:
    """Distinct sessions per window for calendar-only specs, as two plain GROUP BYs.

    A session counts in a window when any of its events does: flag each (user, cutoff,
    session) per window with MAX, then add the flags up. Same numbers as COUNT(DISTINCT
    session_id), without the per-group distinct sets that dominate the query's cost.
    """
    windows = [f for f in plan.features if f.kind == "sessions"]
    flags = (
        exp.select(
            "user_id",
            "cutoff",
            "session_id",
            *(
                _on_paired_events(plan, exp.Max(this=_flag(_in_window(f.window_days)))).as_(f.name)
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
