"""Product analytics as DataFrames, for notebooks: the tables `usagecast analytics ...`
prints, computed by the same analytics functions on the workspace's event store.

`filters` is an analytics.Filters (time range, user segment, area prefix); None keeps every
event. `store()` opens the store on an engine for any other model of the `analytics` package, e.g.
`with usagecast.analytics.store() as engine: analytics.channels(engine, "BUY_PREMIUM")`.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from analytics.activity import Period as ActivityPeriod
    from analytics.conversion_time import TimeToConvert
    from analytics.filters import Filters
    from analytics.funnel import FunnelResult
    from analytics.paths import PathsResult
    from analytics.retention import Period
    from analytics.runs import ABAnalysis, ABPlan
    from analytics.usage import Feature
    from features.engines import Engine

__all__ = [
    "ab_analyze",
    "ab_plan",
    "active_users",
    "before_conversion",
    "feature_trend",
    "funnel",
    "paths",
    "retention",
    "segments",
    "store",
    "time_to_convert",
    "top_features",
    "value_curve",
]


def _filters(filters: Filters | None) -> Filters:
    from analytics.filters import NO_FILTERS

    return NO_FILTERS if filters is None else filters


def store(engine: str = "duckdb") -> AbstractContextManager[Engine]:
    """The workspace's event store on `engine` (duckdb or spark), closed when the block ends."""
    from analytics.runs import opened_engine

    return opened_engine(engine)


def top_features(
    filters: Filters | None = None,
    *,
    per_event_type: bool = False,
    by: Feature = "area",
    engine: str = "duckdb",
) -> pd.DataFrame:
    """`usagecast analytics top-features`: the most used product areas (`by="event_type"`:
    event types; `by="item:type"`: the types of the events' items), ranked by users; empty
    when no event in scope has one."""
    from analytics import top_features as compute

    with store(engine) as opened:
        return compute(opened, _filters(filters), per_event_type=per_event_type, by=by)


def feature_trend(
    filters: Filters | None = None,
    *,
    period: ActivityPeriod = "week",
    by: Feature = "area",
    engine: str = "duckdb",
) -> pd.DataFrame:
    """`usagecast analytics top-features --period P`: per day, week or month each feature's
    users, events, the period's active users, their user_share and rank; `partial` marks a
    period cut short by the time range or the end of the data."""
    from analytics.usage import feature_trend as compute

    with store(engine) as opened:
        return compute(opened, _filters(filters), period=period, by=by)


def funnel(
    steps: Sequence[str],
    filters: Filters | None = None,
    *,
    window_days: int = 30,
    breakdown: str | None = None,
    engine: str = "duckdb",
) -> FunnelResult:
    """`usagecast analytics funnel`: users per step of an ordered funnel over event types
    `steps`, each within `window_days` of the first; `.table` (step, event_type, users,
    from_previous, from_first, median_hours_from_previous; per value of the user attribute
    `breakdown` in a first column), `.censored_users` left out."""
    from analytics.runs import checked_funnel

    with store(engine) as opened:
        return checked_funnel(opened, tuple(steps), window_days, _filters(filters), breakdown)


def paths(
    to: str | None = None,
    from_event: str | None = None,
    filters: Filters | None = None,
    *,
    steps: int = 3,
    window_days: int = 30,
    by: str = "event_type",
    keep_repeats: bool = False,
    breakdown: str | None = None,
    engine: str = "duckdb",
) -> PathsResult:
    """`usagecast analytics paths`: the last `steps` steps within `window_days` before each
    user's first `to` (default BUY_PREMIUM when the store holds it), or the next ones after
    their first `from_event`; `.anchor`, `.direction`, `.paths` (path, users, share,
    step_1..), `.positions` (each position's shares), `.users` and `.left_out_users` (windows
    reaching outside the data); both tables counted within each value of the user attribute
    `breakdown`, in a first column, when given."""
    from analytics.runs import checked_paths

    with store(engine) as opened:
        return checked_paths(
            opened,
            to,
            from_event,
            _filters(filters),
            steps=steps,
            window_days=window_days,
            by=by,
            keep_repeats=keep_repeats,
            breakdown=breakdown,
        )


def before_conversion(
    event: str,
    filters: Filters | None = None,
    *,
    lookback_days: int = 30,
    by: Feature = "area",
    engine: str = "duckdb",
) -> pd.DataFrame:
    """`usagecast analytics before-conversion`: areas (`by="event_type"`: event types) used
    in the `lookback_days` before a user's first `event`, with their lift over
    non-converters."""
    from analytics.runs import checked_before_conversion

    with store(engine) as opened:
        return checked_before_conversion(
            opened, event, _filters(filters), lookback_days=lookback_days, by=by
        )


def retention(
    filters: Filters | None = None,
    *,
    period: Period = "week",
    activity_events: Sequence[str] = (),
    engine: str = "duckdb",
) -> pd.DataFrame:
    """`usagecast analytics retention`: the cohort retention matrix (a period still running at
    the end of the data is partial: its share is a lower bound)."""
    from analytics.runs import checked_retention

    with store(engine) as opened:
        return checked_retention(
            opened, _filters(filters), period=period, activity_events=tuple(activity_events)
        )


def active_users(
    filters: Filters | None = None,
    *,
    period: ActivityPeriod = "week",
    activity_events: Sequence[str] = (),
    breakdown: str | None = None,
    engine: str = "duckdb",
) -> pd.DataFrame:
    """`usagecast analytics active-users`: per day, week or month the active users, split into
    new, retained and resurrected, the churned, the quick ratio, and for weeks and months the
    mean daily active users and stickiness; `partial` marks a period still running at the end
    of the data; per value of the user attribute `breakdown` in a first column when given."""
    from analytics.runs import checked_active_users

    with store(engine) as opened:
        return checked_active_users(
            opened,
            _filters(filters),
            period=period,
            activity_events=tuple(activity_events),
            breakdown=breakdown,
        )


def time_to_convert(
    event: str | None = None,
    filters: Filters | None = None,
    *,
    days: int = 90,
    breakdown: str | None = None,
    adoption: str | None = None,
    activity_events: Sequence[str] = (),
    from_event: str | None = None,
    engine: str = "duckdb",
) -> TimeToConvert:
    """`usagecast analytics time-to-convert`: `.curve`, per day since signup the users at
    risk, converting and censored and the Kaplan-Meier share converted by its end; `.summary`,
    the users, converters within `days`, their median days and the estimated share. `event`
    defaults to BUY_PREMIUM when the store holds it; `adoption="3/7"` converts at 3 active
    days within some 7 (of `activity_events`, every type when none) instead; from each
    user's first `from_event` in the range instead of signup; per value of `breakdown` when
    given."""
    from analytics.conversion_time import parse_adoption
    from analytics.runs import checked_time_to_convert

    with store(engine) as opened:
        return checked_time_to_convert(
            opened,
            event,
            _filters(filters),
            days=days,
            breakdown=breakdown,
            adoption=None if adoption is None else parse_adoption(adoption),
            activity_events=tuple(activity_events),
            start_event=from_event,
        )


def value_curve(
    purchase_events: Sequence[str] = (),
    filters: Filters | None = None,
    *,
    days: int = 180,
    breakdown: str | None = None,
    from_event: str | None = None,
    engine: str = "duckdb",
) -> pd.DataFrame:
    """`usagecast analytics value-curve`: per day since signup (or since each user's first
    `from_event` in the range) the users followed through it, their mean value from
    `purchase_events` (default BUY_PREMIUM when the store holds it) by its end and the share
    who had bought; per value of `breakdown` when given."""
    from analytics.runs import checked_value_curve

    with store(engine) as opened:
        return checked_value_curve(
            opened,
            tuple(purchase_events),
            _filters(filters),
            days=days,
            breakdown=breakdown,
            start_event=from_event,
        )


def segments(
    feature_set: str,
    k: int,
    filters: Filters | None = None,
    *,
    seed: int = 0,
    engine: str = "duckdb",
) -> pd.DataFrame:
    """`usagecast analytics segments`: k-means segments of a built feature set's rows."""
    from analytics import segments as compute

    with store(engine) as opened:
        return compute(opened, feature_set, k, _filters(filters), seed=seed)


def ab_analyze(
    experiment: str,
    metric: str,
    filters: Filters | None = None,
    *,
    alpha: float = 0.05,
    split: str | None = None,
    cuped: bool = False,
    breakdown: str | None = None,
    sequential: float | None = None,
    engine: str = "duckdb",
) -> ABAnalysis:
    """`usagecast ab analyze`: an experiment saved by `ab assign` or logged in the store
    (`EXPERIMENT_ASSIGNED` events, e.g. a platform's exposure log) on `metric`, 'event_within
    EVENT Nd' (conversion), 'value_within EVENT Nd' (revenue per user) or 'count_within
    EVENT Nd' (events per user); `.result` holds
    the tables (by_month, comparison, sample_ratio), `.source` where the groups came from;
    `cuped`: the tests on outcomes adjusted by each user's pre-entry behaviour; `breakdown`:
    `.segments`, the comparison within each value of that user attribute; `sequential`
    (an absolute effect, the plan's MDE): always-valid p-values and intervals."""
    from analytics.runs import ab_result

    with store(engine) as opened:
        return ab_result(
            opened,
            experiment,
            metric,
            _filters(filters),
            alpha=alpha,
            split=split,
            cuped=cuped,
            breakdown=breakdown,
            sequential=sequential,
        )


def ab_plan(
    metric: str,
    effect: float,
    filters: Filters | None = None,
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
    engine: str = "duckdb",
) -> ABPlan:
    """`usagecast ab plan`: the users each arm needs (`.users`, in `.groups`' order) to
    detect `effect` on `metric`, from the store's baseline (`.measured`) unless `baseline`
    (and, for an amount metric, `baseline_sd`) is given; `.entry_days` at the baseline's users
    per day; `cuped`: the users of an analysis with CUPED; `sequential`: of an always-valid
    one (`ab_analyze(..., sequential=EFFECT)`)."""
    from analytics.runs import ab_plan as plan

    return plan(
        metric,
        effect,
        _filters(filters),
        relative=relative,
        alpha=alpha,
        power=power,
        split=split,
        baseline=baseline,
        baseline_sd=baseline_sd,
        baseline_days=baseline_days,
        cuped=cuped,
        sequential=sequential,
        engine_name=engine,
    )
