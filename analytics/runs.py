"""Run a model end to end for the CLI and the demo: open the store, compute, print, log.

Each `run_*` function is what one CLI subcommand calls. It returns the text to print; with
`log=True` it also records the tables and a plot as an MLflow run (through analytics.io).
`opened_engine` and the `checked_*` tables are shared with the Python API (usagecast.analytics).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analytics import ab, io, plots
from analytics.activity import Period as ActivityPeriod
from analytics.activity import active_users, marked_activity
from analytics.channels import MISSING_CHANNEL, channel_ranking, channels, ltv, ltv_backtest
from analytics.conversion_time import (
    Adoption,
    TimeToConvert,
    time_to_convert,
    within_days,
)
from analytics.event_types import DEMO_CONVERSION, resolve_event_types, store_event_types
from analytics.filters import NO_FILTERS, Filters
from analytics.funnel import FunnelResult, funnel
from analytics.paths import Direction, PathsResult, paths
from analytics.retention import (
    Period,
    cohort_labels,
    marked_retention,
    partial_mask,
    period_columns,
    retention,
)
from analytics.scope import check_breakdown, user_attribute_values
from analytics.segments import segments
from analytics.usage import (
    Feature,
    before_conversion,
    converter_count,
    feature_name,
    feature_presence,
    feature_trend,
    item_attribute,
    top_features,
    trend_shares,
)
from analytics.value_curve import value_curve
from contracts.errors import UsagecastError
from events.store import EXPERIMENT_ASSIGNED
from features.engines import Engine
from features.mlflow_links import describe_run_artifacts

FigureMaker = Callable[[], Mapping[str, Figure]]
# The paths a paths plot shows: the most taken.
PLOTTED_PATHS = 15


def format_table(title: str, table: pd.DataFrame, limit: int | None) -> str:
    """A titled plain-text table; says how many rows were left out when limited."""
    shown = table if limit is None or len(table) <= limit else table.head(limit)
    text = shown.to_string(index=False, float_format=lambda value: f"{value:.4g}")
    footer = (
        f"\n({len(table) - len(shown)} more rows; --limit 0 shows all)"
        if len(shown) < len(table)
        else ""
    )
    return f"{title}\n{text}{footer}"


def _finish(
    model: str,
    tables: Mapping[str, pd.DataFrame],
    figures: FigureMaker,
    params: Mapping[str, object],
    *,
    log: bool,
    limit: int | None,
    shown: Mapping[str, pd.DataFrame] | None = None,
    note: str = "",
) -> str:
    """Print every table (as its `shown` form where one is given: marked for reading) and a
    note; log the run when asked and say where it went."""
    printed = {**tables, **(shown or {})}
    text = "\n\n".join(format_table(name, table, limit) for name, table in printed.items())
    text += f"\n{note}" if note else ""
    if log:
        logged = io.log_run(model, tables, figures(), params)
        text += f"\n\nlogged MLflow run {logged.run_id} (experiment {logged.experiment!r})"
        text += "\n" + describe_run_artifacts("tables and plots", logged.run_id)
    return text


@contextmanager
def opened_engine(engine_name: str = "duckdb") -> Iterator[Engine]:
    """The workspace's store on the chosen engine, closed when the block ends."""
    engine = io.open_engine(engine_name)
    try:
        yield engine
    finally:
        engine.close()


def _with_engine(engine_name: str, compute: Callable[[Engine], str]) -> str:
    """Open the workspace's store on the chosen engine, compute, close."""
    with opened_engine(engine_name) as engine:
        return compute(engine)


def _filter_params(filters: Filters) -> dict[str, object]:
    """The filters as run parameters."""
    return asdict(filters)


def _limit(limit: int) -> int | None:
    """CLI --limit: 0 means no limit."""
    return None if limit == 0 else limit


def checked_before_conversion(
    engine: Engine,
    event: str,
    filters: Filters = NO_FILTERS,
    *,
    lookback_days: int = 30,
    by: Feature = "area",
) -> pd.DataFrame:
    """`before_conversion` once the store is known to hold `event` (else a UsagecastError
    naming the event types it holds)."""
    resolve_event_types(
        store_event_types(engine),
        (event,),
        command="analytics before-conversion",
        flag="--event",
    )
    return before_conversion(engine, event, filters, lookback_days=lookback_days, by=by)


FEATURE_LABELS: dict[Feature, str] = {"area": "product area", "event_type": "event type"}

# Below this share of the events in scope carrying an area, a ranking of areas is noted as
# speaking for few events (_area_coverage_note).
MIN_AREA_SHARE = 0.5
NO_AREA = (
    "no event in scope has a product area (the dataset config maps no area column, or every "
    "area is empty); rank event types with --by event_type"
)


def feature_label(by: Feature) -> str:
    """How a plot's axis names the features: a product area, an event type, an item's ATTR."""
    attribute = item_attribute(by)
    return FEATURE_LABELS[by] if attribute is None else f"item {attribute}"


def _no_feature(by: Feature) -> str:
    """Why no event in scope has a feature of `by`."""
    attribute = item_attribute(by)
    if attribute is None:
        return NO_AREA
    return f"no event in scope names an item with a {attribute} (events without an item id)"


def _area_prefix_words(filters: Filters) -> str:
    """' with an area starting with 'x'' when an area prefix is set, else ''."""
    prefix = filters.area_prefix
    return "" if prefix is None else f" with an area starting with {prefix!r}"


def _chosen_feature(
    engine: Engine, filters: Filters, by: Feature | None, all_time: bool
) -> tuple[Feature, str]:
    """`by` when given; else product areas, unless no event in scope carries one (a tracker's
    export without areas): then event types, with a note saying so."""
    if by is not None:
        return by, ""
    presence = feature_presence(engine, filters, "area", all_time=all_time)
    if presence.events and not presence.with_feature:
        return "event_type", (
            "note: no event in scope has a product area, so event types are ranked "
            "(--by event_type says so; --by area asks for areas)"
        )
    return "area", ""


def _notes(*notes: str) -> str:
    """The non-empty notes, a line each."""
    return "\n".join(note for note in notes if note)


def _area_coverage_note(engine: Engine, filters: Filters, by: Feature, all_time: bool) -> str:
    """A note when product areas are set on fewer than MIN_AREA_SHARE of the events in scope
    (a store whose only areas are a payment's plan): a ranking of areas then speaks for
    those events only; empty otherwise, and for any other `by`."""
    if by != "area":
        return ""
    presence = feature_presence(engine, filters, by, all_time=all_time)
    if not presence.events or presence.with_feature >= MIN_AREA_SHARE * presence.events:
        return ""
    return (
        f"note: product areas are set on {presence.with_feature:,} of the {presence.events:,} "
        f"events in scope ({presence.with_feature / presence.events:.1%}): the ranking speaks "
        "for those events only; --by event_type ranks the types of every event"
    )


def _empty_top_features_reason(engine: Engine, filters: Filters, by: Feature) -> str:
    """One line saying why top-features found no feature in scope."""
    command = "analytics top-features"
    presence = feature_presence(engine, filters, by)
    if presence.events == 0:
        return f"{command}: no event in scope (the time range and segment leave none)"
    if presence.with_feature == 0:
        return f"{command}: {_no_feature(by)}"
    return f"{command}: no event in scope{_area_prefix_words(filters)}"


def _empty_before_conversion_reason(
    engine: Engine, event: str, filters: Filters, by: Feature, lookback_days: int
) -> str:
    """One line saying why before-conversion found no feature used."""
    command = "analytics before-conversion"
    presence = feature_presence(engine, filters, by, all_time=True)
    if presence.events > 0 and presence.with_feature == 0:
        return f"{command}: {_no_feature(by)}"
    if converter_count(engine, event, filters) == 0:
        return (
            f"{command}: no segment user's first {event} falls in the time range; "
            "no converter to describe"
        )
    which = _area_prefix_words(filters) or (" with a product area" if by == "area" else "")
    return (
        f"{command}: no event{which} lies in the {lookback_days} days before a converter's "
        f"first {event}, nor in a comparable non-converter's window"
    )


def _empty(reason: str, *, log: bool) -> str:
    """What an empty feature table prints: its reason (and that no run was logged)."""
    return f"{reason}; no MLflow run logged" if log else reason


def checked_retention(
    engine: Engine,
    filters: Filters = NO_FILTERS,
    *,
    period: Period = "week",
    activity_events: Sequence[str] = (),
) -> pd.DataFrame:
    """`retention` once the store is known to hold each named activity event type."""
    _check_activity_events(engine, activity_events, "analytics retention")
    return retention(engine, filters, period=period, activity_events=activity_events)


def checked_active_users(
    engine: Engine,
    filters: Filters = NO_FILTERS,
    *,
    period: ActivityPeriod = "week",
    activity_events: Sequence[str] = (),
    breakdown: str | None = None,
) -> pd.DataFrame:
    """`active_users` once the store is known to hold each named activity event type."""
    _check_activity_events(engine, activity_events, "analytics active-users")
    return active_users(
        engine, filters, period=period, activity_events=activity_events, breakdown=breakdown
    )


def _check_activity_events(engine: Engine, activity_events: Sequence[str], command: str) -> None:
    """Refuse a named activity event type the store does not hold (none named: every type)."""
    if activity_events:
        resolve_event_types(
            store_event_types(engine), activity_events, command=command, flag="--activity-event"
        )


# The features a trend prints and plots: the most used over all periods.
TREND_FEATURES = 6


def run_top_features(
    filters: Filters = NO_FILTERS,
    *,
    per_event_type: bool = False,
    by: Feature | None = None,
    period: ActivityPeriod | None = None,
    engine_name: str = "duckdb",
    log: bool = False,
    limit: int = 20,
) -> str:
    """`usagecast analytics top-features`; an empty table prints why it is empty instead.
    With `period`, the features' user shares per period (run_feature_trend). `by` None:
    product areas, or event types when no event in scope has an area (_chosen_feature)."""
    if period is not None:
        if per_event_type:
            raise UsagecastError(
                "top-features: --period cannot go with --per-event-type; it follows each "
                "feature's share of the period's active users"
            )
        return run_feature_trend(
            filters, period=period, by=by, engine_name=engine_name, log=log, limit=limit
        )

    def compute(engine: Engine) -> str:
        feature, chosen = _chosen_feature(engine, filters, by, all_time=False)
        table = top_features(engine, filters, per_event_type=per_event_type, by=feature)
        if table.empty:
            return _empty(_empty_top_features_reason(engine, filters, feature), log=log)
        features = table[feature_name(feature)]
        return _finish(
            "top-features",
            {"top_features": table},
            lambda: {
                "top_features": plots.bar_chart(
                    features if not per_event_type else table["event_type"] + " " + features,
                    table["users"],
                    f"Top {feature_label(feature)}s"
                    if feature != "area"
                    else "Top product features",
                    "unique users",
                    ylabel=feature_label(feature),
                )
            },
            {
                **_filter_params(filters),
                "per_event_type": per_event_type,
                "by": feature,
                "engine": engine_name,
            },
            log=log,
            limit=_limit(limit),
            note=_notes(chosen, _area_coverage_note(engine, filters, feature, all_time=False)),
        )

    return _with_engine(engine_name, compute)


def run_feature_trend(
    filters: Filters = NO_FILTERS,
    *,
    period: ActivityPeriod = "week",
    by: Feature | None = None,
    engine_name: str = "duckdb",
    log: bool = False,
    limit: int = 20,
) -> str:
    """`usagecast analytics top-features --period P`: the most used features' shares of each
    period's active users, the latest `limit` periods printed, every period logged."""

    def compute(engine: Engine) -> str:
        feature, chosen = _chosen_feature(engine, filters, by, all_time=False)
        trend = feature_trend(engine, filters, period=period, by=feature)
        if trend.empty:
            return _empty(_empty_top_features_reason(engine, filters, feature), log=log)
        shares = trend_shares(trend, feature, TREND_FEATURES)
        name = feature_name(feature)
        leaders = trend[trend[name].isin(shares.columns[1:])]
        earlier = 0 if limit == 0 else max(0, len(shares) - limit)
        notes = [
            f"user share: of the {period}'s active users in scope; the {TREND_FEATURES} most "
            f"used {feature_label(feature)}s overall",
            f"* partial {period}: cut short by the time range or the end of the data"
            if trend["partial"].any()
            else "",
            f"({earlier} earlier {period}s not shown; --limit 0 shows all)" if earlier else "",
            _area_coverage_note(engine, filters, feature, all_time=False),
            chosen,
        ]
        return _finish(
            "top-features",
            {"feature_trend": trend},
            lambda: {
                "feature_trend": plots.lines(
                    leaders,
                    "period",
                    "user_share",
                    name,
                    f"Share of each {period}'s active users using each {feature_label(feature)}",
                    partial="partial",
                )
            },
            {**_filter_params(filters), "period": period, "by": feature, "engine": engine_name},
            log=log,
            limit=None,
            shown={"feature_trend": shares.tail(len(shares) - earlier)},
            note="\n".join(note for note in notes if note),
        )

    return _with_engine(engine_name, compute)


def checked_funnel(
    engine: Engine,
    steps: Sequence[str],
    days: int,
    filters: Filters = NO_FILTERS,
    breakdown: str | None = None,
) -> FunnelResult:
    """`funnel` once the store is known to hold every step's event type."""
    resolve_event_types(
        store_event_types(engine), steps, command="analytics funnel", flag="--steps"
    )
    return funnel(engine, steps, days, filters, breakdown)


def _empty_funnel_reason(result: FunnelResult, steps: Sequence[str], days: int) -> str:
    """Why a funnel has nobody in its first step."""
    if result.censored_users:
        return (
            f"funnel: each of the {result.censored_users:,} users who entered has their "
            f"{days} days run past the end of the data; shorten --window-days"
        )
    return f"funnel: no user in the segment did {steps[0]} in the time range"


def run_funnel(
    steps: Sequence[str],
    filters: Filters = NO_FILTERS,
    *,
    window_days: int = 30,
    breakdown: str | None = None,
    engine_name: str = "duckdb",
    log: bool = False,
    limit: int = 20,
) -> str:
    """`usagecast analytics funnel`: users per step, shares, median hours between steps
    (per value of a user attribute with `breakdown`)."""

    def compute(engine: Engine) -> str:
        result = checked_funnel(engine, steps, window_days, filters, breakdown)
        table = result.table
        if not table["users"].any():
            return _empty(_empty_funnel_reason(result, steps, window_days), log=log)
        title = f"Funnel, {window_days} days from the first step"
        return _finish(
            "funnel",
            {"funnel": table},
            lambda: {
                "funnel": plots.bar_chart(
                    table["step"].astype(str) + ". " + table["event_type"],
                    table["users"],
                    title,
                    "users",
                    ylabel="step",
                )
                if breakdown is None
                else plots.lines(
                    table, "step", "from_first", breakdown, f"{title}, by {breakdown}"
                )
            },
            {
                **_filter_params(filters),
                "steps": ",".join(steps),
                "window_days": window_days,
                "breakdown": breakdown or "",
                "engine": engine_name,
            },
            log=log,
            limit=_limit(limit),
            note=(
                f"users who entered but whose {window_days} days run past the end of the data "
                f"(left out): {result.censored_users}"
            ),
        )

    return _with_engine(engine_name, compute)


def path_anchor(engine: Engine, to: str | None, from_event: str | None) -> tuple[str, Direction]:
    """The anchor event type and the side of the paths: `to`, else `from_event`, else paths
    to BUY_PREMIUM when the store holds it; refused when the store lacks the type."""
    command = "analytics paths"
    if to and from_event:
        raise UsagecastError(f"{command}: give --to or --from, not both")
    given = to or from_event
    (anchor,) = resolve_event_types(
        store_event_types(engine),
        (given,) if given else (),
        command=command,
        flag="--from" if from_event else "--to",
        default=DEMO_CONVERSION,
    )
    return anchor, "from" if from_event else "to"


def checked_paths(
    engine: Engine,
    to: str | None = None,
    from_event: str | None = None,
    filters: Filters = NO_FILTERS,
    *,
    steps: int = 3,
    window_days: int = 30,
    by: str = "event_type",
    keep_repeats: bool = False,
    breakdown: str | None = None,
) -> PathsResult:
    """`paths` to `to` or from `from_event` (path_anchor)."""
    anchor, direction = path_anchor(engine, to, from_event)
    return paths(
        engine,
        anchor,
        direction,
        steps,
        window_days,
        filters,
        by=by,
        keep_repeats=keep_repeats,
        breakdown=breakdown,
    )


def _empty_paths_reason(result: PathsResult, days: int) -> str:
    """Why no path was counted."""
    if result.left_out_users:
        return (
            f"paths: each of the {result.left_out_users:,} users with a first {result.anchor} "
            f"has their {days} days reach {_outside(result.direction)}; shorten --window-days"
        )
    return f"paths: no user in the segment did {result.anchor} in the time range"


def _outside(direction: Direction) -> str:
    """Where a path's window that is left out reaches."""
    return "before the data begins" if direction == "to" else "past the end of the data"


def run_paths(
    to: str | None = None,
    from_event: str | None = None,
    filters: Filters = NO_FILTERS,
    *,
    steps: int = 3,
    window_days: int = 30,
    by: str = "event_type",
    keep_repeats: bool = False,
    breakdown: str | None = None,
    engine_name: str = "duckdb",
    log: bool = False,
    limit: int = 20,
) -> str:
    """`usagecast analytics paths`: the most taken paths to (or from) an event type and each
    step position's shares, printed (the first `limit` rows of each breakdown value); both
    tables logged with a plot of the top paths (their share within each value, by value)."""

    def compute(engine: Engine) -> str:
        result = checked_paths(
            engine,
            to,
            from_event,
            filters,
            steps=steps,
            window_days=window_days,
            by=by,
            keep_repeats=keep_repeats,
            breakdown=breakdown,
        )
        anchor, direction = result.anchor, result.direction
        if not result.users:
            return _empty(_empty_paths_reason(result, window_days), log=log)
        side = "before" if direction == "to" else "after"
        reach = _outside(direction)
        title = f"Most taken paths {direction} {anchor}: {steps} steps within {window_days} days"
        shown = {
            "paths": result.paths[[*([breakdown] if breakdown else []), "path", "users", "share"]],
            "path_positions": result.positions,
        }
        if breakdown and limit:
            shown = {name: table.groupby(breakdown).head(limit) for name, table in shown.items()}
        notes = [
            f"users with a first {anchor} in the time range: "
            f"{result.users + result.left_out_users:,}; left out, their {window_days} days "
            f"{side} it reaching {reach}: {result.left_out_users:,}",
            "a step is an event's "
            + ("product area" if by == "area" else "type")
            + ("" if keep_repeats else "; a step repeated in a row is one step (--keep-repeats)"),
        ]
        return _finish(
            "paths",
            {"paths": result.paths, "path_positions": result.positions},
            lambda: {
                "paths": _paths_figure(
                    result.paths,
                    f"{title} {side}" if breakdown is None else f"Paths {direction} {anchor}",
                    breakdown,
                )
            },
            {
                **_filter_params(filters),
                "anchor": anchor,
                "direction": direction,
                "steps": steps,
                "window_days": window_days,
                "by": by,
                "keep_repeats": keep_repeats,
                "breakdown": breakdown or "",
                "engine": engine_name,
            },
            log=log,
            limit=None if breakdown else _limit(limit),
            shown=shown,
            note="\n".join(notes),
        )

    return _with_engine(engine_name, compute)


def _paths_figure(table: pd.DataFrame, title: str, breakdown: str | None) -> Figure:
    """The most taken paths' users as bars; with a breakdown, the paths most taken over all
    values against each value, as the share of its users taking them."""
    if breakdown is None:
        top = table.head(PLOTTED_PATHS)
        return plots.bar_chart(top["path"], top["users"], title, "users")
    totals = table.groupby("path")["users"].sum().sort_values(ascending=False, kind="stable")
    top = totals.head(PLOTTED_PATHS).index
    shares = table.pivot_table(index="path", columns=breakdown, values="share", fill_value=0.0)
    shown = shares.reindex(top)
    return plots.heatmap(
        shown,
        f"{title} by {breakdown}:\nshare of each {breakdown}'s users",
        breakdown,
        "path",
        top=float(shown.to_numpy().max()),
    )


def run_before_conversion(
    event: str,
    filters: Filters = NO_FILTERS,
    *,
    lookback_days: int = 30,
    by: Feature | None = None,
    engine_name: str = "duckdb",
    log: bool = False,
    limit: int = 20,
) -> str:
    """`usagecast analytics before-conversion`; an empty table prints why it is empty
    instead. `by` None: product areas, or event types when no event has one."""

    def compute(engine: Engine) -> str:
        feature, chosen = _chosen_feature(engine, filters, by, all_time=True)
        table = checked_before_conversion(
            engine, event, filters, lookback_days=lookback_days, by=feature
        )
        if table.empty:
            return _empty(
                _empty_before_conversion_reason(engine, event, filters, feature, lookback_days),
                log=log,
            )
        return _finish(
            "before-conversion",
            {"before_conversion": table},
            lambda: {
                "before_conversion": plots.bar_chart(
                    table[feature_name(feature)],
                    table["lift"].fillna(0),
                    f"Lift before {event}"
                    if feature == "area"
                    else f"{feature_label(feature).capitalize()}s' lift before {event}",
                    "lift",
                    ylabel=feature_label(feature),
                )
            },
            {
                **_filter_params(filters),
                "event": event,
                "lookback_days": lookback_days,
                "by": feature,
                "engine": engine_name,
            },
            log=log,
            limit=_limit(limit),
            note=_notes(chosen, _area_coverage_note(engine, filters, feature, all_time=True)),
        )

    return _with_engine(engine_name, compute)


def run_retention(
    filters: Filters = NO_FILTERS,
    *,
    period: Period = "week",
    activity_events: Sequence[str] = (),
    engine_name: str = "duckdb",
    log: bool = False,
    limit: int = 20,
) -> str:
    """`usagecast analytics retention`; activity is every event type unless named."""

    def compute(engine: Engine) -> str:
        table = checked_retention(engine, filters, period=period, activity_events=activity_events)
        cohorts = cohort_labels(table)
        matrix = table[period_columns(table)].set_axis(cohorts)
        partial = partial_mask(table).set_axis(cohorts)
        return _finish(
            "retention",
            {"retention": table},
            lambda: {
                "retention": plots.heatmap(
                    matrix,
                    "Cohort retention",
                    f"{period}s since signup",
                    "signup cohort",
                    partial=partial,
                )
            },
            {
                **_filter_params(filters),
                "period": period,
                "activity_events": ",".join(activity_events),
                "engine": engine_name,
            },
            log=log,
            limit=_limit(limit),
            shown={"retention": marked_retention(table)},
            note=(
                f"* partial {period}: still running at the end of the data; its share is a "
                "lower bound, not a drop"
                if partial.to_numpy().any()
                else ""
            ),
        )

    return _with_engine(engine_name, compute)


def run_active_users(
    filters: Filters = NO_FILTERS,
    *,
    period: ActivityPeriod = "week",
    activity_events: Sequence[str] = (),
    breakdown: str | None = None,
    engine_name: str = "duckdb",
    log: bool = False,
    limit: int = 20,
) -> str:
    """`usagecast analytics active-users`: the latest `limit` periods printed (of each value
    of the breakdown), every period logged; activity is every event type unless named."""

    def compute(engine: Engine) -> str:
        table = checked_active_users(
            engine, filters, period=period, activity_events=activity_events, breakdown=breakdown
        )
        if table.empty:
            return _empty("active users: no activity of a user in the segment in scope", log=log)
        periods = table["period"].nunique()
        shown = marked_activity(table)
        earlier = 0 if limit == 0 else max(0, periods - limit)
        if earlier:
            shown = shown.groupby(breakdown).tail(limit) if breakdown else shown.tail(limit)
        notes = [
            f"* partial {period}: still running at the end of the data; its active users are "
            "a lower bound, its churned users an upper bound"
            if table["partial"].any()
            else "",
            f"({earlier} earlier {period}s not shown; --limit 0 shows all)" if earlier else "",
        ]
        title = f"Active users by {period}"
        return _finish(
            "active-users",
            {"active_users": table},
            lambda: {
                "active_users": plots.lines(
                    table,
                    "period",
                    "active_users",
                    breakdown,
                    f"{title}, by {breakdown}",
                    partial="partial",
                )
                if breakdown
                else plots.growth_accounting(
                    table,
                    [str(pd.Timestamp(start).date()) for start in table["period"]],
                    f"{title}: growth accounting",
                )
            },
            {
                **_filter_params(filters),
                "period": period,
                "activity_events": ",".join(activity_events),
                "breakdown": breakdown or "",
                "engine": engine_name,
            },
            log=log,
            limit=None,
            shown={"active_users": shown},
            note="\n".join(note for note in notes if note),
        )

    return _with_engine(engine_name, compute)


def checked_time_to_convert(
    engine: Engine,
    event: str | None = None,
    filters: Filters = NO_FILTERS,
    *,
    days: int = 90,
    breakdown: str | None = None,
    adoption: Adoption | None = None,
    activity_events: Sequence[str] = (),
    start_event: str | None = None,
) -> TimeToConvert:
    """`time_to_convert` to `adoption` (of the activity events, each one the store holds),
    else to `event`, else to BUY_PREMIUM when the store holds it (else a UsagecastError
    naming the event types it holds); from signup, or from `start_event` (one it holds)."""
    command = "analytics time-to-convert"
    if adoption is not None and event:
        raise UsagecastError(f"{command}: give --event or --adoption, not both")
    if adoption is not None:
        _check_activity_events(engine, activity_events, command)
    _check_start_event(engine, start_event, command)
    conversion = adoption or conversion_event(engine, event)
    return time_to_convert(
        engine,
        conversion,
        filters,
        days=days,
        breakdown=breakdown,
        activity_events=activity_events,
        start_event=start_event,
    )


def _check_start_event(engine: Engine, start_event: str | None, command: str) -> None:
    """A --from-event the store holds (or none given); else a UsagecastError naming those it
    holds."""
    if start_event is not None:
        resolve_event_types(
            store_event_types(engine), (start_event,), command=command, flag="--from-event"
        )


def conversion_event(engine: Engine, event: str | None) -> str:
    """`event`, else BUY_PREMIUM when the store holds it; refused when the store lacks it."""
    (conversion,) = resolve_event_types(
        store_event_types(engine),
        (event,) if event else (),
        command="analytics time-to-convert",
        flag="--event",
        default=DEMO_CONVERSION,
    )
    return conversion


def run_time_to_convert(
    event: str | None = None,
    filters: Filters = NO_FILTERS,
    *,
    days: int = 90,
    breakdown: str | None = None,
    adoption: Adoption | None = None,
    activity_events: Sequence[str] = (),
    start_event: str | None = None,
    engine_name: str = "duckdb",
    log: bool = False,
    limit: int = 20,
) -> str:
    """`usagecast analytics time-to-convert`: the summary and the shares converted (or
    adopted) within 1, 7, 30, ... days of signup (or of `start_event`) printed, the daily
    curve logged with its plot."""

    def compute(engine: Engine) -> str:
        result = checked_time_to_convert(
            engine,
            event,
            filters,
            days=days,
            breakdown=breakdown,
            adoption=adoption,
            activity_events=activity_events,
            start_event=start_event,
        )
        if not result.summary["users"].sum():
            return _empty(
                f"time to convert: no user in the segment did {start_event} in the time range"
                if start_event
                else "time to convert: no user in the segment signed up in the time range "
                "before the end of the data",
                log=log,
            )
        conversion = f"adoption {adoption}" if adoption else event or DEMO_CONVERSION
        curves = result.curve if breakdown else result.curve.assign(conversion=conversion)
        within = within_days(result.curve, "converted_share", days, breakdown)
        notes = [
            "(Kaplan-Meier estimates: a user who has not converted is followed to the end of "
            "the data and no further)",
            "NaN: nobody not yet converted was followed that long"
            if within.isna().to_numpy().any()
            else "",
        ]
        return _finish(
            "time-to-convert",
            {"time_to_convert_summary": result.summary, "time_to_convert": result.curve},
            lambda: {
                "time_to_convert": plots.lines(
                    curves.assign(within_days=curves["day"] + 1),
                    "within_days",
                    "converted_share",
                    breakdown or "conversion",
                    f"Share converted ({conversion}) within N days of {start_event or 'signup'}",
                )
            },
            {
                **_filter_params(filters),
                "event": "" if adoption else conversion,
                "adoption": str(adoption or ""),
                "activity_events": ",".join(activity_events),
                "from_event": start_event or "",
                "days": days,
                "breakdown": breakdown or "",
                "engine": engine_name,
            },
            log=log,
            limit=_limit(limit),
            shown={"time_to_convert": within},
            note="\n".join(note for note in notes if note),
        )

    return _with_engine(engine_name, compute)


def checked_value_curve(
    engine: Engine,
    purchase_events: Sequence[str] = (),
    filters: Filters = NO_FILTERS,
    *,
    days: int = 180,
    breakdown: str | None = None,
    start_event: str | None = None,
) -> pd.DataFrame:
    """`value_curve` of `purchase_events`, else of BUY_PREMIUM when the store holds it, once
    the store is known to hold each (else a UsagecastError naming the event types it holds);
    from signup, or from `start_event` (one it holds)."""
    command = "analytics value-curve"
    purchases = resolve_event_types(
        store_event_types(engine),
        purchase_events,
        command=command,
        flag="--purchase-event",
        default=DEMO_CONVERSION,
    )
    _check_start_event(engine, start_event, command)
    return value_curve(
        engine, purchases, filters, days=days, breakdown=breakdown, start_event=start_event
    )


def run_value_curve(
    purchase_events: Sequence[str] = (),
    filters: Filters = NO_FILTERS,
    *,
    days: int = 180,
    breakdown: str | None = None,
    start_event: str | None = None,
    engine_name: str = "duckdb",
    log: bool = False,
    limit: int = 20,
) -> str:
    """`usagecast analytics value-curve`: the value per user, the share who bought and the
    users followed within 1, 7, 30, ... days of signup (or of `start_event`) printed; the
    daily curve logged with its plot."""

    def compute(engine: Engine) -> str:
        curve = checked_value_curve(
            engine,
            purchase_events,
            filters,
            days=days,
            breakdown=breakdown,
            start_event=start_event,
        )
        start = start_event or "signup"
        if curve.empty or not curve["users"].max():
            did = f"did {start_event}" if start_event else "signed up"
            return _empty(
                f"value curve: no user in the segment {did} in the time range and was "
                "followed a whole day before the end of the data",
                log=log,
            )
        purchases = ",".join(purchase_events) or DEMO_CONVERSION
        curves = curve if breakdown else curve.assign(purchases=purchases)
        shown = {
            name: within_days(curve, column, days, breakdown)
            for name, column in (
                ("value_curve", "value_per_user"),
                ("buyers_share", "buyers_share"),
                ("users_followed", "users"),
            )
        }
        return _finish(
            "value-curve",
            {"value_curve": curve},
            lambda: {
                "value_curve": plots.lines(
                    curves.assign(within_days=curves["day"] + 1),
                    "within_days",
                    "value_per_user",
                    breakdown or "purchases",
                    f"Value per user ({purchases}) within N days of {start}",
                )
            },
            {
                **_filter_params(filters),
                "purchase_events": purchases,
                "from_event": start_event or "",
                "days": days,
                "breakdown": breakdown or "",
                "engine": engine_name,
            },
            log=log,
            limit=_limit(limit),
            shown=shown,
            note=f"value_curve: the mean value per user within N days of {start}, over the "
            "users followed that long (users_followed); NaN: nobody was",
        )

    return _with_engine(engine_name, compute)


def run_channels(
    outcome: str | None = None,
    filters: Filters = NO_FILTERS,
    *,
    channel: str = "channel",
    purchase_events: Sequence[str] = (),
    engine_name: str = "duckdb",
    log: bool = False,
    limit: int = 20,
) -> str:
    """`usagecast analytics channels`; the outcome defaults to BUY_PREMIUM when the store
    holds it, the purchase events to the outcome (analytics.event_types)."""

    def compute(engine: Engine) -> str:
        known = store_event_types(engine)
        command = "analytics channels"
        (conversion,) = resolve_event_types(
            known,
            (outcome,) if outcome else (),
            command=command,
            flag="--outcome",
            default=DEMO_CONVERSION,
        )
        purchases = resolve_event_types(
            known, purchase_events, command=command, flag="--purchase-event", default=conversion
        )
        table = channels(engine, conversion, filters, channel=channel, purchase_events=purchases)
        gains = pd.concat(
            [pd.DataFrame({"cum_users_share": [0.0], "cum_conversions_share": [0.0]}), table]
        ).assign(curve="channels")
        return _finish(
            "channels",
            {"channels": table},
            lambda: {
                "cumulative_gains": plots.lines(
                    gains,
                    "cum_users_share",
                    "cum_conversions_share",
                    "curve",
                    f"Cumulative gains for {conversion} across channels",
                )
            },
            {
                **_filter_params(filters),
                "outcome": conversion,
                "channel": channel,
                "purchase_events": ",".join(purchases),
                "engine": engine_name,
            },
            log=log,
            limit=_limit(limit),
        )

    return _with_engine(engine_name, compute)


def run_ltv(
    purchase_events: Sequence[str] = (),
    filters: Filters = NO_FILTERS,
    *,
    channel: str = "channel",
    feature_set: str | None = None,
    model: str | None = None,
    cutoff_from: datetime | None = None,
    engine_name: str = "duckdb",
    log: bool = False,
    limit: int = 20,
) -> str:
    """`usagecast analytics ltv`; with a value_within feature set `name@vN`, also the
    formula's backtest (mean predicted vs realised value per channel, `ltv_backtest`), on
    the rows at cutoffs from `cutoff_from` when given, and with `model` (a value model's
    URI) that model's mean prediction per channel beside them; then how the formula and the
    model order the channels by value per row against the realised order (`channel_ranking`).
    The purchase events default to BUY_PREMIUM when the store holds it."""
    if feature_set is None and (model is not None or cutoff_from is not None):
        raise UsagecastError("analytics ltv: --model and --cutoff-from need --feature-set")

    def compute(engine: Engine) -> str:
        purchases = resolve_event_types(
            store_event_types(engine),
            purchase_events,
            command="analytics ltv",
            flag="--purchase-event",
            default=DEMO_CONVERSION,
        )
        per_channel, per_user = ltv(engine, purchases, filters, channel=channel)
        tables = {"ltv_per_channel": per_channel, "ltv_per_user": per_user}
        if feature_set is not None:
            from features.featureset import load_feature_set

            frame, manifest = load_feature_set(feature_set)
            frame = rows_from_cutoff(frame, cutoff_from, feature_set)
            tables["ltv_predicted_vs_realised"] = ltv_backtest(
                engine,
                frame,
                manifest,
                purchases,
                filters,
                channel=channel,
                model_values=None if model is None else model_values(model, frame),
            )
            tables["ltv_channel_ranking"] = channel_ranking(tables["ltv_predicted_vs_realised"])

        def figures() -> dict:
            shown = {
                "ltv_per_channel": plots.bar_chart(
                    per_channel["channel"], per_channel["ltv"].fillna(0), "LTV per channel", "LTV"
                )
            }
            if feature_set is not None:
                shown["ltv_predicted_vs_realised"] = plots.paired_bars(
                    tables["ltv_predicted_vs_realised"],
                    "channel",
                    "model_mean" if model is not None else "predicted_mean",
                    "realised_mean",
                    f"Predicted ({model or 'LTV formula'}) vs realised value per channel "
                    f"({feature_set})",
                )
            return shown

        return _finish(
            "ltv",
            tables,
            figures,
            {
                **_filter_params(filters),
                "purchase_events": ",".join(purchases),
                "channel": channel,
                "feature_set": feature_set or "",
                "model": model or "",
                "cutoff_from": "" if cutoff_from is None else cutoff_from.isoformat(),
                "engine": engine_name,
            },
            log=log,
            limit=_limit(limit),
        )

    return _with_engine(engine_name, compute)


MODEL_METADATA = "artifacts/metadata.json"  # inside a served model's folder


def rows_from_cutoff(
    frame: pd.DataFrame, cutoff_from: datetime | None, feature_set: str
) -> pd.DataFrame:
    """The feature set's rows at cutoffs from `cutoff_from` (all rows when None)."""
    if cutoff_from is None:
        return frame
    kept = frame[pd.to_datetime(frame["cutoff"]) >= pd.Timestamp(cutoff_from)]
    if kept.empty:
        raise UsagecastError(
            f"analytics ltv: {feature_set} has no rows at cutoffs from {cutoff_from} (its "
            f"last cutoff is {pd.to_datetime(frame['cutoff']).max()})"
        )
    return kept


def model_values(model_uri: str, frame: pd.DataFrame) -> pd.Series:
    """A value model's prediction per feature-set row (same index), loaded through MLflow
    like any served model; a model that answers no `value` is refused."""
    import json
    import tempfile
    from pathlib import Path

    import mlflow

    from features.workspace import activate_mlflow_tracking

    activate_mlflow_tracking()
    with tempfile.TemporaryDirectory(prefix="usagecast-ltv-") as folder:
        try:
            local = Path(mlflow.artifacts.download_artifacts(model_uri, dst_path=folder))
            loaded = mlflow.pyfunc.load_model(str(local))
            metadata = json.loads((local / MODEL_METADATA).read_text(encoding="utf-8"))
        except Exception as error:  # any failure to find or load is the user's model URI
            raise UsagecastError(
                f"analytics ltv --model {model_uri}: cannot load it ({error})"
            ) from error
    names = metadata["feature_names"]
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise UsagecastError(
            f"analytics ltv --model {model_uri}: the feature set lacks its columns {missing}"
        )
    answer = loaded.predict(frame[names])
    if "value" not in answer.columns:
        raise UsagecastError(
            f"analytics ltv --model {model_uri}: not a value model (it answers "
            f"{sorted(answer.columns)}); tune a value_within feature set for one"
        )
    return pd.Series(answer["value"].to_numpy(dtype=float), index=frame.index)


def run_segments(
    feature_set: str,
    k: int,
    filters: Filters = NO_FILTERS,
    *,
    seed: int = 0,
    engine_name: str = "duckdb",
    log: bool = False,
    limit: int = 20,
) -> str:
    """`usagecast analytics segments`."""

    def compute(engine: Engine) -> str:
        table = segments(engine, feature_set, k, filters, seed=seed)
        return _finish(
            "segments",
            {"segments": table},
            lambda: {
                "segments": plots.bar_chart(
                    table["segment"], table["size"], "Segment sizes", "rows"
                )
            },
            {
                **_filter_params(filters),
                "feature_set": feature_set,
                "k": k,
                "seed": seed,
                "engine": engine_name,
            },
            log=log,
            limit=_limit(limit),
        )

    return _with_engine(engine_name, compute)


def run_ab_assign(
    name: str,
    split: str,
    start: datetime,
    *,
    salt: str | None = None,
    groups: Sequence[str] = (),
    engine_name: str = "duckdb",
) -> str:
    """`usagecast ab assign`: assign every user in the store and save the experiment."""

    def compute(engine: Engine) -> str:
        experiment = ab.make_experiment(
            name, split, start, salt=salt, groups=tuple(groups) or None
        )
        user_ids = engine.query("SELECT user_id FROM users ORDER BY user_id")["user_id"]
        assignment = ab.assign(user_ids.astype(str), experiment)
        path = io.save_experiment(experiment, assignment)
        counts = assignment["group"].value_counts().reindex(list(experiment.groups), fill_value=0)
        summary = pd.DataFrame(
            {"group": counts.index, "users": counts.to_numpy(), "percent": experiment.percents}
        )
        return format_table(
            f"experiment {name} (salt {experiment.salt!r}) saved to {path}", summary, None
        )

    return _with_engine(engine_name, compute)


def _experiment_and_groups(
    engine: Engine, name: str, split: str | None
) -> tuple[ab.Experiment, pd.DataFrame | None, str]:
    """(experiment, logged assignment or None for a hashed one, where it came from).

    An experiment saved by `ab assign` wins; otherwise the store's logged assignments."""
    if io.experiment_file(name, ".json").exists():
        if split is not None:
            raise UsagecastError("--split applies to logged experiments; a saved one has its own")
        return io.load_experiment(name), None, "assigned by `usagecast ab assign` (sticky hash)"
    logged = ab.logged_assignment(engine, name)
    if logged.groups.empty and logged.in_two_arms:
        raise UsagecastError(
            f"experiment {name!r}: each of its {logged.in_two_arms:,} logged users is logged in "
            "two arms; fix the assignment export before analysing it"
        )
    if logged.groups.empty:
        raise UsagecastError(
            f"no experiment {name!r}: none saved by `usagecast ab assign` and no "
            f"{EXPERIMENT_ASSIGNED} events with item_id {name!r} in the event store"
        )
    planned = f"planned split {split}" if split else "no --split: sample ratio not tested"
    notes = "; ".join(
        filter(None, [f"{len(logged.groups):,} assignments", planned, logged.left_out()])
    )
    source = f"logged in the event store ({notes})"
    return ab.logged_experiment(name, logged.groups, split), logged.groups, source


def experiment_groups(engine: Engine, name: str, user_ids: pd.Series) -> pd.DataFrame:
    """user_id, group of the users of experiment `name` (saved: hashed; logged: as logged)
    among `user_ids`."""
    experiment, logged, _ = _experiment_and_groups(engine, name, None)
    if logged is None:
        return ab.assign(user_ids.astype(str), experiment)[["user_id", "group"]]
    return logged[logged["user_id"].isin(user_ids.astype(str))][["user_id", "group"]]


@dataclass(frozen=True)
class ABAnalysis:
    """An experiment's analysis on its metric, where its groups came from and whether its
    sample ratio was tested against a planned split."""

    result: ab.ABResult
    experiment: ab.Experiment
    metric: ab.Metric
    source: str
    ratio_tested: bool
    segments: ab.SegmentComparison | None = None


def ab_result(
    engine: Engine,
    name: str,
    metric: str,
    filters: Filters = NO_FILTERS,
    *,
    alpha: float = 0.05,
    split: str | None = None,
    cuped: bool = False,
    breakdown: str | None = None,
    sequential: float | None = None,
) -> ABAnalysis:
    """The analysis of experiment `name` (saved or logged) on `metric`; `cuped`: its tests on
    the outcomes adjusted by pre-entry covariates (ab.cuped_adjusted); `breakdown`: also
    the comparison within each value of that user attribute; `sequential`: always-valid
    tests most sensitive to an effect of that size (ab.sequential_test)."""
    experiment, logged, source = _experiment_and_groups(engine, name, split)
    parsed = ab.parse_metric(metric)
    resolve_event_types(
        store_event_types(engine), (parsed.event,), command="ab analyze", flag="--metric"
    )
    outcomes = ab.user_outcomes(engine, experiment, parsed, filters, logged=logged is not None)
    if logged is None:
        assignment = ab.assign(outcomes["user_id"], experiment)
    else:  # users logged in two arms entered too, and are left out
        assignment = logged
        outcomes = outcomes[outcomes["user_id"].isin(logged["user_id"])]
    result = ab.analyze(
        outcomes, assignment, experiment, alpha, parsed.kind, cuped=cuped, mixing_sd=sequential
    )
    segments = None
    if breakdown is not None:
        check_breakdown(engine, breakdown, "ab analyze breakdown")
        values = user_attribute_values(engine, breakdown, MISSING_CHANNEL)
        segments = ab.by_segment(
            outcomes,
            assignment,
            experiment,
            values,
            breakdown,
            alpha,
            parsed.kind,
            cuped=cuped,
            mixing_sd=sequential,
        )
    return ABAnalysis(
        result,
        experiment,
        parsed,
        source,
        ratio_tested=logged is None or split is not None,
        segments=segments,
    )


# What a metric's own outcome before entry is, in words.
_OWN_OUTCOME = {"event_within": "conversion", "value_within": "value", "count_within": "events"}


def cuped_words(analysis: ABAnalysis) -> str:
    """What CUPED adjusted by, in words ('' without CUPED)."""
    theta, metric = analysis.result.cuped_theta, analysis.metric
    if theta is None:
        return ""
    shown = "means" if metric.averaged else "rates"
    return (
        f"CUPED: outcomes adjusted by the {metric.days} days before each user entered: their "
        f"{metric.event} {_OWN_OUTCOME[metric.kind]} (slope {theta[0]:.4g}) and events of "
        f"product use (slope {theta[1]:.4g}); the tests are on the adjusted outcomes, the "
        f"{shown} shown raw"
    )


@dataclass(frozen=True)
class ABPlan:
    """What `ab plan` found: the arms' users (`users`, in the split's order) that detect the
    absolute `effect` on the `baseline`; `measured` when the baseline came from the store;
    `cuped` when the users are those of a CUPED analysis (its measured variance reduction);
    `sequential` when they are those of an always-valid analysis with mixing sd `effect`."""

    metric: ab.Metric
    groups: tuple[str, ...]
    percents: tuple[float, ...]
    alpha: float
    power: float
    baseline: ab.Baseline
    effect: float
    users: tuple[int, ...]
    measured: ab.MeasuredBaseline | None
    cuped: bool = False
    sequential: bool = False

    @property
    def entry_days(self) -> int | None:
        """Days of entry the test's users take at the baseline's users per day."""
        if self.measured is None:
            return None
        return int(np.ceil(sum(self.users) / self.measured.users_per_day))


def ab_plan(
    metric: str,
    effect: float,
    filters: Filters = NO_FILTERS,
    *,
    relative: bool = False,
    alpha: float = 0.05,
    power: float = 0.8,
    split: str = "50/50",
    baseline: float | None = None,
    baseline_sd: float | None = None,
    baseline_days: int = 56,
    cuped: bool = False,
    sequential: bool = False,
    engine_name: str = "duckdb",
) -> ABPlan:
    """The users each arm needs to detect `effect` (absolute, or a share of the baseline
    when `relative`) on `metric`; the baseline is measured in the store unless given (then
    no store is read)."""
    parsed = ab.parse_metric(metric)
    percents = ab.parse_split(split)
    value = parsed.averaged
    if baseline is not None and value and baseline_sd is None:
        raise UsagecastError("an amount metric's --baseline needs --baseline-sd beside it")
    if baseline is not None and cuped:
        raise UsagecastError(
            "--cuped plans on the variance that users' behaviour before entry explains, "
            "measured in the store: leave out --baseline"
        )
    measured = None
    if baseline is None:
        with opened_engine(engine_name) as engine:
            resolve_event_types(
                store_event_types(engine), (parsed.event,), command="ab plan", flag="--metric"
            )
            measured = ab.measured_baseline(engine, parsed, filters, baseline_days)
        chosen = measured.baseline
    else:
        chosen = ab.Baseline(baseline, baseline_sd if value else None)
    absolute = effect * chosen.mean if relative else effect
    reduction = measured.cuped_reduction if cuped and measured else 0.0
    users = ab.required_users(
        chosen, absolute, percents, alpha, power, reduction, sequential=sequential
    )
    groups = ab.default_groups(len(percents))
    return ABPlan(
        metric=parsed,
        groups=groups,
        percents=percents,
        alpha=alpha,
        power=power,
        baseline=chosen,
        effect=absolute,
        users=users,
        measured=measured,
        cuped=cuped,
        sequential=sequential,
    )


def format_ab_plan(plan: ABPlan) -> str:
    """What `usagecast ab plan` prints."""
    metric, chosen, measured = plan.metric, plan.baseline, plan.measured
    shares = "/".join(f"{p:g}" for p in plan.percents)
    spread = f", sd {chosen.sd:.4g}" if chosen.sd is not None else ""
    source = (
        f"the {measured.users:,} users who entered from {measured.start:%Y-%m-%d} to "
        f"{measured.end:%Y-%m-%d}, their {metric.days} days observed"
        if measured
        else "given"
    )
    relative = f" ({plan.effect / chosen.mean:+.1%} of the baseline)" if chosen.mean else ""
    needed = ", ".join(
        f"{group} ({share:g}%) {users:,}"
        for group, share, users in zip(plan.groups, plan.percents, plan.users, strict=True)
    )
    text = f"{metric.kind} {metric.event} {metric.days}d"
    lines = [
        f"plan for {text!r}, split {shares}, alpha {plan.alpha:g} (two-sided), power "
        f"{plan.power:g}",
        f"baseline: {'rate' if chosen.sd is None else 'mean'} {chosen.mean:.4g}{spread} "
        f"({source})",
        f"minimum detectable effect: {plan.effect:+.4g}{relative}",
        f"users needed: {needed}; total {sum(plan.users):,}",
    ]
    if plan.sequential:
        lines.insert(
            -1,
            f"sequential (`ab analyze --sequential {plan.effect:g}`): users for the always-valid "
            "test to find the effect with that power at the last look; it may stop earlier",
        )
    if plan.cuped and measured is not None:
        lines.insert(
            -1,
            f"with CUPED (`ab analyze --cuped`): the baseline users' behaviour in the "
            f"{metric.days} days before entering explains {measured.cuped_reduction:.1%} of "
            "their outcome's variance, so as many fewer users",
        )
    if measured is not None:
        lines.append(
            f"the baseline's {(measured.end - measured.start).days} days saw "
            f"{measured.users:,} users enter ({measured.users_per_day:,.1f} a day): the test "
            f"needs {sum(plan.users) / measured.users:.2g} times as many, about "
            f"{plan.entry_days:,} days of entry at that rate (longer where most are returning "
            f"users, who enter once), then {metric.days} days for the last one's window"
        )
    return "\n".join(lines)


def run_ab_analyze(
    name: str,
    metric: str,
    filters: Filters = NO_FILTERS,
    *,
    alpha: float = 0.05,
    split: str | None = None,
    cuped: bool = False,
    breakdown: str | None = None,
    sequential: float | None = None,
    engine_name: str = "duckdb",
    log: bool = False,
    limit: int = 20,
) -> str:
    """`usagecast ab analyze`: rates, tests and SRM for a saved or a logged experiment (and
    the comparison per value of a user attribute with `breakdown`).

    A saved experiment's groups come from its definition (salt + split) through the same
    hash, so users who appeared after `ab assign` get the group they will always have; a
    logged one's from the store's EXPERIMENT_ASSIGNED events.
    """

    def compute(engine: Engine) -> str:
        analysis = ab_result(
            engine,
            name,
            metric,
            filters,
            alpha=alpha,
            split=split,
            cuped=cuped,
            breakdown=breakdown,
            sequential=sequential,
        )
        result, experiment = analysis.result, analysis.experiment
        by_month, statistic = (
            ("means_by_month", "mean") if analysis.metric.averaged else ("rates_by_month", "rate")
        )
        tables = {by_month: result.by_month, "comparison": result.comparison}
        if analysis.ratio_tested:
            tables["sample_ratio"] = result.sample_ratio
        segments = analysis.segments
        if segments is not None:
            tables[f"comparison_by_{segments.attribute}"] = segments.table
        text = _finish(
            "ab-analyze",
            tables,
            lambda: {
                by_month: plots.lines(
                    result.by_month, "month", statistic, "group", f"{metric} by month since start"
                )
            },
            {
                **_filter_params(filters),
                "experiment": name,
                "metric": metric,
                "alpha": alpha,
                "cuped": cuped,
                "breakdown": breakdown or "",
                "sequential_mixing_sd": "" if sequential is None else sequential,
                "salt": experiment.salt,
                "split": "/".join(f"{p:g}" for p in experiment.percents),
                "assignment": analysis.source,
                "start": experiment.start.isoformat(),
                "engine": engine_name,
            },
            log=log,
            limit=_limit(limit),
        )
        return "\n".join(
            filter(
                None,
                [
                    f"experiment {name}: {analysis.source}",
                    cuped_words(analysis),
                    _sequential_words(sequential, alpha),
                    f"{text}\n",
                    f"censored users (window runs past the data): {result.censored_users}",
                    _segment_words(segments),
                ],
            )
        )

    return _with_engine(engine_name, compute)


def _sequential_words(mixing_sd: float | None, alpha: float) -> str:
    """How to read always-valid results ('' without them)."""
    if mixing_sd is None:
        return ""
    return (
        f"sequential: always-valid p-values and {1 - alpha:.0%} intervals (mSPRT, most "
        f"sensitive to effects near {mixing_sd:g}): they hold however often the test is "
        "looked at as users accrue; stop when the interval leaves 0 out"
    )


def _segment_words(segments: ab.SegmentComparison | None) -> str:
    """What the breakdown's table leaves out, and how to read it ('' without one)."""
    if segments is None:
        return ""
    skipped = (
        f"; not compared (an arm without enough observed users): {', '.join(segments.skipped)}"
        if segments.skipped
        else ""
    )
    return (
        f"comparison_by_{segments.attribute}: each interval is for its own segment; with many "
        f"segments some leave out 0 by chance{skipped}"
    )
