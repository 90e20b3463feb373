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
type_days + gaps (gap features, gaps.py) -> last_values (`last` features, last.py) ->
statuses (kept | inactive | converted | censored) -> the final rows. The adoption label
adds a step over each kept row's label-window days: a date bitmask tested with a sliding
W-bit mask when the horizon fits 62 days, LAG over distinct days beyond that.
"""

from __future__ import annotations

from typing import Literal

import sqlglot.expressions as exp

from events.store import EVENTS, USERS
from features.engines.spark import to_spark_sql
from features.featureset.compiler.cutoffs import (
    _candidates_select,
    _cutoffs_select,
    calendar_cutoff_dates,
    cutoff_period,
    next_cutoff_day,
    sample_threshold,
)
from features.featureset.compiler.features_sql import AGGREGATE_FEATURES, _row_feature
from features.featureset.compiler.history import _history_ctes
from features.featureset.compiler.labels import _adoption_label_ctes
from features.featureset.compiler.last import LAST_VALUES, last_values_select
from features.featureset.compiler.plan import QueryPlan, plan_query
from features.featureset.compiler.sqlbits import _USER, _col, _num, _shift, _str
from features.featureset.compiler.windowed import (
    _aggregates_select,
    _cutoff_days_select,
    _event_aggregates_select,
    _session_ctes,
    _span_aggregates,
    _windowed_events_select,
)
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
    FeatureDef,
    FeatureSetSpec,
    expand_features,
)

__all__ = [
    "DIALECTS",
    "STATUSES",
    "Dialect",
    "calendar_cutoff_dates",
    "compile_feature_query",
    "cutoff_period",
    "next_cutoff_day",
    "render",
    "sample_threshold",
]

Dialect = Literal["duckdb", "spark"]


DIALECTS: tuple[Dialect, ...] = ("duckdb", "spark")


STATUSES: tuple[str, ...] = ("kept", "inactive", "converted", "censored")


def _combined_select(plan: QueryPlan) -> exp.Select:
    """Windowed aggregates beside the history and session columns, one row per candidate."""
    select = exp.select(exp.Column(this=exp.Star(), table=exp.to_identifier("w"))).from_(
        exp.to_table("aggregates").as_("w")
    )
    sides: list[tuple[str, str, list[str]]] = []
    features = plan.features
    if plan.history is not None:
        history = [f.name for f in features if f.kind == "recency"]
        if plan.spec.eligibility.not_converted is not None:
            history.append("has_converted")
        sides.append(("history", "h", history))
    if plan.session_rollup:
        sides.append(("session_counts", "sc", [f.name for f in features if f.kind == "sessions"]))
    if plan.gaps:
        sides.append(("gaps", "gp", [f.name for f in features if f.kind in GAP_KINDS]))
    if plan.last:
        sides.append((LAST_VALUES, "lv", [f.name for f in features if f.kind == "last"]))
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
    plan: QueryPlan, sample: tuple[float, int] | None, granularity: str
) -> list[tuple[str, exp.Expression]]:
    spec = plan.spec
    ctes: list[tuple[str, exp.Expression]] = []
    aggregates = _span_aggregates(plan)
    if spec.cutoffs.calendar is not None:
        ctes.append(("cutoffs", _cutoffs_select(calendar_cutoff_dates(spec.cutoffs.calendar))))
    ctes += [
        ("candidates", _candidates_select(spec, sample)),
        ("data_end", _data_end_select(granularity)),
    ]
    if plan.pairs_events:
        if plan.bounded:
            ctes.append(("cutoff_days", _cutoff_days_select(plan)))
        ctes.append(("windowed_events", _windowed_events_select(plan)))
        if aggregates:
            ctes.append(("event_aggregates", _event_aggregates_select(plan, aggregates)))
    ctes.append(("aggregates", _aggregates_select(plan, aggregates)))
    if plan.history is not None:
        ctes += _history_ctes(plan, plan.history)
    if plan.session_rollup:
        ctes += _session_ctes(plan)
    if plan.gaps:
        ctes += gap_ctes(plan.features)
    if plan.last:
        ctes.append((LAST_VALUES, last_values_select(plan.features)))
    if plan.combined:
        ctes += [
            ("combined", _combined_select(plan)),
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
    plan = plan_query(spec, features)
    ctes = _base_ctes(plan, sample, granularity)
    if plan.adoption_label:
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
        if feature.kind in AGGREGATE_FEATURES or feature.kind in ("recency", "last", *GAP_KINDS):
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
    if plan.adoption_label:
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
        if plan.midnight_cutoffs:
            ctes += user_rollup_ctes(features)
        for prefix, defs in entries.items():
            ctes += related_ctes(spec, prefix, defs, ROWS_BEFORE_RELATED, plan.midnight_cutoffs)
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
