"""What people use: top product features, and what converters used before converting.

A feature is a value of one grouping column of the events, chosen by `by`: a product area
(`area`, the default; events without an area are not a feature use and are left out of these
two tables, though they still count towards active users), an event type (`event_type`,
for stores whose events carry no area, such as a Segment-style export of page_viewed,
product_added, ...) or a categorical attribute of the event's item (`item:type`, a shop's
product types; the item's version valid at the event's time, as feature sets read it). Every
grouping shares the SQL templates below: the grouping column is a placeholder, named
`feature` in the results and renamed to `feature_name(by)` in the tables (a placeholder never
opens a SELECT list: sqlglot reads `SELECT :x` as DuckDB's `alias: expression`). An item
attribute is joined onto the events where the templates read them (`_with_item_attribute`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import sqlglot.expressions as exp

from analytics.activity import Period, period_number_sql, period_start
from analytics.filters import NO_FILTERS, Filters, combine, time_range_condition
from analytics.scope import (
    SCOPED_EVENTS,
    SCOPED_USERS,
    data_end_seconds,
    days_interval,
    epoch_seconds,
    render,
    scope_params,
)
from contracts.errors import UsagecastError
from contracts.names import is_spec_name
from events.store import ITEM_ATTRIBUTES, item_version_at
from features.engines import Engine

# What a feature is: "area", "event_type", or "item:ATTR" (ITEM_PREFIX).
Feature = str
FEATURES: tuple[str, ...] = ("area", "event_type")
ITEM_PREFIX = "item:"
# The events with their item's attribute (placeholder :attribute) as of the event's time.
_EVENTS_WITH_ITEM = f"""
SELECT ev.*, :attribute AS item_feature
FROM events AS ev LEFT JOIN items AS it ON ev.item_id = it.item_id
  AND {item_version_at("it", "ev.event_time")}
"""


def item_attribute(by: str) -> str | None:
    """The item attribute `by` groups by (`item:type` -> type), None for an event column."""
    return by.removeprefix(ITEM_PREFIX) if by.startswith(ITEM_PREFIX) else None


def feature_name(by: str) -> str:
    """The column a feature table names its features in: the event column, or item_ATTR."""
    attribute = item_attribute(by)
    return by if attribute is None else f"item_{attribute}"


def _feature_column(by: str, table: str | None = None) -> exp.Column:
    """The grouping column of `by` (FEATURES or item:ATTR), qualified with `table` when given."""
    if by not in FEATURES and not is_spec_name(item_attribute(by) or ""):
        raise UsagecastError(
            f"by: must be one of {', '.join(FEATURES)} or item:ATTR (a categorical item "
            f"attribute), got {by!r}"
        )
    return exp.column("item_feature" if item_attribute(by) else by, table=table)


def check_item_attribute(engine: Engine, by: str) -> None:
    """`item:ATTR` names a categorical attribute of the store's items (else a UsagecastError
    naming those it has)."""
    attribute = item_attribute(by)
    if attribute is None:
        return
    try:
        catalog = engine.query(f"SELECT name, dtype FROM {ITEM_ATTRIBUTES}")
    except Exception:  # a store without items has no catalog; each engine says so its own way
        catalog = pd.DataFrame({"name": [], "dtype": []})
    categorical = sorted(catalog.loc[catalog["dtype"] == "categorical", "name"].map(str))
    if attribute not in categorical:
        raise UsagecastError(
            f"by: item:{attribute} is not a categorical attribute of the store's items "
            f"(categorical item attributes: {', '.join(categorical) or 'none'})"
        )


def _query(engine: Engine, template: str, by: str, **params: object) -> pd.DataFrame:
    """Run a template, the events carrying their item's attribute when `by` is item:ATTR."""
    tree = render(template, **params)
    attribute = item_attribute(by)
    if attribute is not None:
        tree = _with_item_attribute(tree, attribute)
    return engine.query(tree)


def _with_item_attribute(tree: exp.Expression, attribute: str) -> exp.Expression:
    """`tree` reading `events` joined to its items (item_feature: `attribute` as of each
    event's time), the scoped events carrying it on."""
    joined = render(_EVENTS_WITH_ITEM, attribute=exp.column(attribute, table="it", quoted=True))
    for cte in tree.find_all(exp.CTE):
        if cte.alias == "scoped_events":
            cte.this.select(exp.column("item_feature", table="e"), copy=False)
    for table in [t for t in tree.find_all(exp.Table) if t.name == "events"]:
        select = table.find_ancestor(exp.Select)
        if not any(c.name == "item_feature" for c in select.find_all(exp.Column)):
            continue  # a select that never reads the item (the first conversions)
        alias = table.alias or "events"
        table.replace(
            exp.Subquery(this=joined.copy(), alias=exp.TableAlias(this=exp.to_identifier(alias)))
        )
    return tree


_TOP_FEATURES = f"""
WITH {SCOPED_USERS}, {SCOPED_EVENTS}
SELECT COUNT(DISTINCT user_id) AS users, COUNT(*) AS events,
       :feature AS feature, :event_group AS event_group
FROM scoped_events
WHERE :feature IS NOT NULL
GROUP BY 3, 4
"""

_ACTIVE_USERS = f"""
WITH {SCOPED_USERS}, {SCOPED_EVENTS}
SELECT COUNT(DISTINCT user_id) AS active_users FROM scoped_events
"""


def top_features(
    engine: Engine,
    filters: Filters = NO_FILTERS,
    *,
    per_event_type: bool = False,
    by: Feature = "area",
) -> pd.DataFrame:
    """Features ranked by unique users, then events: product areas (`by="area"`, optionally
    per event type) or event types (`by="event_type"`).

    Columns: [event_type,] <by>, users, events, user_share (users / active users in scope),
    rank (1 = most users; within each event type when per_event_type). per_event_type ranks
    areas within each event type, so it is refused with by="event_type".
    """
    feature = _feature_column(by)
    check_item_attribute(engine, by)
    if per_event_type and by == "event_type":
        raise UsagecastError(
            "top-features: --per-event-type ranks product areas within each event type and "
            "cannot go with --by event_type, which ranks the event types themselves"
        )
    params = scope_params(engine, filters)
    name = feature_name(by)
    keys = ["event_type", name] if per_event_type else [name]
    # One template for both shapes: overall, the event type is one constant group.
    event_group = exp.column("event_type") if per_event_type else exp.Literal.string("*")
    table = _query(engine, _TOP_FEATURES, by, feature=feature, event_group=event_group, **params)
    names = {"feature": name, "event_group": "event_type"} if per_event_type else {"feature": name}
    table = table.rename(columns=names)
    active = int(engine.query(render(_ACTIVE_USERS, **params))["active_users"].iloc[0])
    table = table.astype({"users": "int64", "events": "int64"})
    table["user_share"] = table["users"] / active if active else np.nan
    table = table.sort_values(
        [*keys[:-1], "users", "events", name],
        ascending=[True] * (len(keys) - 1) + [False, False, True],
        ignore_index=True,
    )
    ranks = table.groupby(keys[:-1]).cumcount() + 1 if per_event_type else table.index + 1
    table["rank"] = np.asarray(ranks, dtype="int64")
    return table[[*keys, "users", "events", "user_share", "rank"]]


# Per period (:period_number over the event's date) the users of each feature and the
# period's active users in scope (every scoped event, with a feature or not).
_FEATURE_TREND = f"""
WITH {SCOPED_USERS}, {SCOPED_EVENTS},
periods AS (
    SELECT user_id, :feature AS feature, :period_number AS period FROM scoped_events
),
active AS (SELECT period, COUNT(DISTINCT user_id) AS active_users FROM periods GROUP BY period),
used AS (
    SELECT period, feature, COUNT(DISTINCT user_id) AS users, COUNT(*) AS events
    FROM periods WHERE feature IS NOT NULL GROUP BY period, feature
)
SELECT u.period, u.feature, u.users, u.events, a.active_users
FROM used AS u JOIN active AS a ON u.period = a.period
"""
TREND_COLUMNS = ("period", "users", "events", "active_users", "user_share", "rank", "partial")


def feature_trend(
    engine: Engine, filters: Filters = NO_FILTERS, *, period: Period = "week", by: Feature = "area"
) -> pd.DataFrame:
    """Features per calendar period (a day; a week from Monday; a month): period (its first
    day), <by>, users, events, active_users (the period's, in scope), user_share (users /
    active_users), rank (1 = most users in the period) and partial (the period is cut short
    by the time range's start or the end of the data: its counts are lower bounds)."""
    feature = _feature_column(by)
    check_item_attribute(engine, by)
    number = period_number_sql(period, "CAST(event_time AS DATE)")
    params = scope_params(engine, filters)
    table = _query(engine, _FEATURE_TREND, by, feature=feature, period_number=number, **params)
    name = feature_name(by)
    if table.empty:
        return pd.DataFrame(columns=[TREND_COLUMNS[0], name, *TREND_COLUMNS[1:]])
    counts = ["period", "users", "events", "active_users"]
    table = table.astype(dict.fromkeys(counts, "int64"))
    table["user_share"] = table["users"] / table["active_users"]
    table = table.sort_values(
        ["period", "users", "events", "feature"],
        ascending=[True, False, False, True],
        ignore_index=True,
    )
    table["rank"] = (table.groupby("period").cumcount() + 1).astype("int64")
    end = pd.Timestamp(data_end_seconds(engine, filters), unit="s")
    begin = pd.Timestamp(filters.start) if filters.start is not None else None
    # Each period's first day and partial flag once, not once per feature row.
    numbers = np.unique(table["period"].to_numpy())
    starts = {number: period_start(number, period) for number in numbers}
    cut = {
        number: period_start(number + 1, period) > end
        or (begin is not None and starts[number] < begin)
        for number in numbers
    }
    table["partial"] = table["period"].map(cut).astype(bool)
    table["period"] = table["period"].map(starts)
    return table.rename(columns={"feature": name})[[TREND_COLUMNS[0], name, *TREND_COLUMNS[1:]]]


def trend_shares(trend: pd.DataFrame, by: Feature, top: int) -> pd.DataFrame:
    """The trend for reading: a row per period (its first day, starred when partial), the
    user_share of the `top` features with the most users over all periods as columns (0
    where a period's active users did not use one), most used first (pure)."""
    name = feature_name(by)
    leaders = (
        trend.groupby(name)["users"].sum().sort_values(ascending=False, kind="stable").head(top)
    )
    shares = trend.pivot_table(index="period", columns=name, values="user_share", aggfunc="sum")
    shares = shares.reindex(columns=leaders.index).fillna(0.0)
    partial = trend.groupby("period")["partial"].any().reindex(shares.index)
    labels = [
        f"{pd.Timestamp(start).date()}{'*' if cut else ''}"
        for start, cut in zip(shares.index, partial, strict=True)
    ]
    wide = shares.reset_index(drop=True)
    wide.columns = [str(column) for column in wide.columns]
    wide.insert(0, "period", labels)
    return wide


_FEATURE_PRESENCE = f"""
WITH {SCOPED_USERS}, {SCOPED_EVENTS}
SELECT COUNT(*) AS events, COUNT(:feature) AS with_feature FROM scoped_events
"""


@dataclass(frozen=True)
class FeaturePresence:
    """Events of segment users (in the time range, unless counted over all time; whatever
    their area) and how many of them hold a value in the grouping column."""

    events: int
    with_feature: int


def feature_presence(
    engine: Engine, filters: Filters = NO_FILTERS, by: Feature = "area", *, all_time: bool = False
) -> FeaturePresence:
    """What tells the reasons for an empty feature table apart: no event in scope, no event
    with a value of `by` (a store without areas), or else the area prefix (not applied here)."""
    times = {"start": None, "end": None} if all_time else {}
    scope = replace(filters, area_prefix=None, **times)
    feature = _feature_column(by)
    row = _query(engine, _FEATURE_PRESENCE, by, feature=feature, **scope_params(engine, scope))
    row = row.iloc[0]
    return FeaturePresence(events=int(row["events"]), with_feature=int(row["with_feature"]))


# First conversion of each segment user (over all history: a user converts once), kept when
# it falls in the time range. Its tenure day, the comparison's anchor, is the first whole day
# since signup at or after the conversion (CEIL, on whole seconds): a comparison window
# [signup + d - lookback, signup + d) then ends at or after the converter's own, less than a
# day later. (FLOOR would end it up to a day earlier: for a conversion hours after signup, at
# signup, before any use.) A conversion at a whole day after signup has that day.
_CONVERTERS = """
first_conversion AS (
    SELECT e.user_id, MIN(e.event_time) AS converted_at
    FROM events AS e JOIN scoped_users AS su ON e.user_id = su.user_id
    WHERE e.event_type = :event
    GROUP BY e.user_id
),
converters AS (
    SELECT fc.user_id, fc.converted_at,
           CAST(CEIL((FLOOR(epoch(fc.converted_at)) - su.signup_s) / 86400) AS BIGINT)
               AS tenure_day
    FROM first_conversion AS fc JOIN scoped_users AS su ON fc.user_id = su.user_id
    WHERE :conversion_range
)"""

# The window ends strictly before the first conversion, so with by=event_type the conversion
# event's own type is never a use (nor in the comparison windows, which end at the latest at
# the user's first conversion: see _AT_RISK).
_CONVERTER_USE = f"""
WITH {SCOPED_USERS}, {_CONVERTERS}
SELECT COUNT(DISTINCT c.user_id) AS converters_using, :feature AS feature
FROM converters AS c JOIN events AS e ON e.user_id = c.user_id
WHERE e.event_time >= c.converted_at - :lookback
  AND e.event_time < c.converted_at
  AND :feature IS NOT NULL AND :product_use
GROUP BY 2
"""

_CONVERTER_TENURES = f"""
WITH {SCOPED_USERS}, {_CONVERTERS}
SELECT tenure_day, COUNT(*) AS converters FROM converters GROUP BY tenure_day
"""

# For every segment user, the tenure days d at which they are a comparable non-converter:
# the anchor signup + d days lies in the range and is not after their first conversion
# (d <= FLOOR of their conversion's tenure, so a converter at a whole day is in the group of
# that day, one converting hours into a day is not in the group of the next).
_AT_RISK = """
at_risk AS (
    SELECT su.user_id, su.signup_s,
           GREATEST(:min_day, COALESCE(CAST(CEIL((:start_s - su.signup_s) / 86400) AS BIGINT),
                                      :min_day)) AS d_lo,
           LEAST(:max_day,
                 CAST(CEIL((:end_s - su.signup_s) / 86400) AS BIGINT) - 1,
                 COALESCE(CAST(FLOOR((FLOOR(epoch(fc.converted_at)) - su.signup_s) / 86400)
                               AS BIGINT), :max_day)) AS d_hi
    FROM scoped_users AS su LEFT JOIN first_conversion AS fc ON su.user_id = fc.user_id
)"""

_AT_RISK_COUNTS = f"""
WITH {SCOPED_USERS}, {_CONVERTERS}, {_AT_RISK}
SELECT d_lo, d_hi, COUNT(*) AS users FROM at_risk WHERE d_lo <= d_hi GROUP BY d_lo, d_hi
"""

# Feature use of at-risk users by tenure day t; an event on day t lies in the lookback window
# of anchors t+1 .. t+L. Merging each user's days into islands (gaps <= L) turns the
# windows into disjoint anchor spans [first+1, last+L], clipped to the user's at-risk days.
# The events kept (t in [d_lo - L, d_hi - 1]) make every clipped span non-empty, so a span
# is fully described by its two edges: an island's first day opens it at
# max(first+1, d_lo), its last day closes it at min(last+L, d_hi). Counting edges per
# (feature, day) needs one window pass and returns at most features x days x 2 rows. Several
# events on one day need no DISTINCT: only the first of them opens and the last closes.
_COMPARISON_EDGES = f"""
WITH {SCOPED_USERS}, {_CONVERTERS}, {_AT_RISK},
usage AS (
    SELECT e.user_id, :feature AS feature, r.d_lo, r.d_hi,
           CAST(FLOOR((FLOOR(epoch(e.event_time)) - r.signup_s) / 86400) AS BIGINT) AS t
    FROM events AS e JOIN at_risk AS r ON e.user_id = r.user_id
    WHERE r.d_lo <= r.d_hi AND :feature IS NOT NULL AND :product_use
      AND FLOOR(epoch(e.event_time)) >= r.signup_s + (r.d_lo - :lookback_days) * 86400
      AND FLOOR(epoch(e.event_time)) < r.signup_s + r.d_hi * 86400
),
neighbours AS (
    SELECT feature, t, d_lo, d_hi,
           LAG(t) OVER (PARTITION BY user_id, feature ORDER BY t) AS previous_t,
           LEAD(t) OVER (PARTITION BY user_id, feature ORDER BY t) AS next_t
    FROM usage
)
SELECT feature, GREATEST(t + 1, d_lo) AS day, 'open' AS edge, COUNT(*) AS users
FROM neighbours
WHERE previous_t IS NULL OR t - previous_t > :lookback_days
GROUP BY 1, 2, 3
UNION ALL
SELECT feature, LEAST(t + :lookback_days, d_hi) AS day, 'close' AS edge, COUNT(*) AS users
FROM neighbours
WHERE next_t IS NULL OR next_t - t > :lookback_days
GROUP BY 1, 2, 3
"""


def _conversion_params(engine: Engine, event: str, filters: Filters) -> dict[str, exp.Expression]:
    """Placeholder values for the scope, the converters and the area prefix of `e`."""
    converted_at = exp.column("converted_at", table="fc")
    return {
        **scope_params(engine, filters),
        "conversion_range": combine(time_range_condition(converted_at, filters)),
        "event": exp.Literal.string(event),
    }


def _converter_tenures(engine: Engine, params: dict[str, exp.Expression]) -> pd.DataFrame:
    """tenure_day, converters: the converters counted per tenure day of first conversion."""
    return engine.query(render(_CONVERTER_TENURES, **params)).astype("int64")


def converter_count(engine: Engine, event: str, filters: Filters = NO_FILTERS) -> int:
    """before_conversion's converters: segment users whose first-ever `event` falls in the
    time range."""
    tenures = _converter_tenures(engine, _conversion_params(engine, event, filters))
    return int(tenures["converters"].sum())


def before_conversion(
    engine: Engine,
    event: str,
    filters: Filters = NO_FILTERS,
    *,
    lookback_days: int = 30,
    by: Feature = "area",
) -> pd.DataFrame:
    """Features (product areas, or event types with `by="event_type"`) converters used in
    the `lookback_days` before their first `event`, with lift.

    Converters: segment users whose first-ever `event` falls in the time range. Their use of
    a feature counts when an event with that feature lies in [first conversion - lookback,
    first conversion). Comparable non-converters, defined per tenure: a converter's tenure
    day d is the first whole day since signup at or after the first conversion, d = ceil of
    (conversion - signup) in days, on whole epoch seconds (a conversion hours after signup
    has d = 1; one exactly k days after signup, as in date-only data, d = k). The comparison
    group at d is every segment user who had not converted before signup + d days, with that
    anchor inside the time range; their use counts in the window [signup + d - lookback days,
    signup + d days), which ends at the end of the converter's own window or less than a day
    after it. The comparison share is the average over converters of the share within their
    tenure day's group (tenure days with nobody to compare with are left out of that
    average). By event type, `event` itself never appears: every window ends before the
    first conversion.

    Columns: <by>, converters_using (unique users, the ranking), converter_share,
    comparison_share, lift (converter_share / comparison_share).
    """
    if lookback_days < 1:
        raise UsagecastError(f"lookback: must be at least 1 day, got {lookback_days}")
    params = _conversion_params(engine, event, filters)
    params["feature"] = _feature_column(by, table="e")
    check_item_attribute(engine, by)
    name = feature_name(by)
    params["lookback"] = days_interval(lookback_days)
    params["lookback_days"] = exp.Literal.number(lookback_days)
    used = _query(engine, _CONVERTER_USE, by, **params)
    tenures = _converter_tenures(engine, params)
    if tenures.empty:
        return pd.DataFrame(columns=[name, *BEFORE_CONVERSION_MEASURES])
    params["min_day"] = exp.Literal.number(int(tenures["tenure_day"].min()))
    params["max_day"] = exp.Literal.number(int(tenures["tenure_day"].max()))
    start_s = epoch_seconds(filters.start) if filters.start is not None else None
    params["start_s"] = exp.Literal.number(start_s) if start_s is not None else exp.null()
    params["end_s"] = exp.Literal.number(data_end_seconds(engine, filters))
    at_risk = engine.query(render(_AT_RISK_COUNTS, **params))
    edges = _query(engine, _COMPARISON_EDGES, by, **params)
    named = {"feature": name}
    return assemble_before_conversion(
        used.rename(columns=named), tenures, at_risk, edges.rename(columns=named), by=name
    )


BEFORE_CONVERSION_MEASURES = ["converters_using", "converter_share", "comparison_share", "lift"]


def assemble_before_conversion(
    used: pd.DataFrame,
    tenures: pd.DataFrame,
    at_risk: pd.DataFrame,
    edges: pd.DataFrame,
    *,
    by: str = "area",
) -> pd.DataFrame:
    """The before-conversion table from its four aggregates (see before_conversion).

    used: <by>, converters_using; tenures: tenure_day, converters; at_risk: d_lo, d_hi,
    users; edges: <by>, day, edge ('open' | 'close'), users.
    """
    columns = [by, *BEFORE_CONVERSION_MEASURES]
    if tenures.empty:
        return pd.DataFrame(columns=columns)
    comparison = _comparison_shares(tenures, at_risk, edges, by)
    table = used.merge(comparison, on=by, how="outer")
    table["converters_using"] = table["converters_using"].fillna(0).astype("int64")
    table["comparison_share"] = table["comparison_share"].fillna(0.0)
    table["converter_share"] = table["converters_using"] / int(tenures["converters"].sum())
    table["lift"] = table["converter_share"] / table["comparison_share"].where(
        table["comparison_share"] > 0
    )
    # Ordered on the lift rounded to 12 digits: DuckDB's parallel sums can differ in the last
    # bits between two runs, which must not swap features whose lifts are equal.
    order = (
        table.assign(lift_order=table["lift"].round(12))
        .sort_values(["converters_using", "lift_order", by], ascending=[False, False, True])
        .index
    )
    return table.loc[order, columns].reset_index(drop=True)


def _comparison_shares(
    tenures: pd.DataFrame, at_risk: pd.DataFrame, edges: pd.DataFrame, by: str
) -> pd.DataFrame:
    """Converter-weighted mean, over tenure days, of each feature's share among at-risk users.

    `at_risk` holds (d_lo, d_hi, users): users at risk on days d_lo..d_hi; `edges` holds
    (<by>, day, edge, users): spans of days whose window contains the feature open on day
    (edge 'open') and close after day (edge 'close'), counted per user.
    """
    first = int(tenures["tenure_day"].min())
    size = int(tenures["tenure_day"].max()) - first + 1
    weights = np.zeros(size)
    np.add.at(weights, tenures["tenure_day"].to_numpy() - first, tenures["converters"])
    at_risk_by_day = _interval_counts(
        at_risk["d_lo"], at_risk["d_hi"], at_risk["users"], first, size
    )
    matched = (weights > 0) & (at_risk_by_day > 0)
    per_user_weight = np.where(matched, weights / np.where(matched, at_risk_by_day, 1), 0.0)
    total_weight = weights[matched].sum()
    cumulative = np.concatenate([[0.0], np.cumsum(per_user_weight)])
    # A span lo..hi adds cumulative[hi + 1] - cumulative[lo]: + at its close, - at its open.
    closes = (edges["edge"] == "close").to_numpy()
    day = edges["day"].to_numpy(dtype="int64") - first + closes
    sign = np.where(closes, 1.0, -1.0)
    contribution = sign * edges["users"].to_numpy(dtype="float64") * cumulative[day]
    shares = (
        pd.Series(contribution, index=edges[by].to_numpy()).groupby(level=0).sum() / total_weight
        if total_weight > 0
        else pd.Series(dtype="float64")
    )
    return shares.rename("comparison_share").rename_axis(by).reset_index()


def _interval_counts(
    lows: pd.Series, highs: pd.Series, counts: pd.Series, first: int, size: int
) -> np.ndarray:
    """Per day (first .. first+size-1), the summed counts of intervals covering it."""
    delta = np.zeros(size + 1)
    np.add.at(delta, lows.to_numpy(dtype="int64") - first, counts.to_numpy(dtype="float64"))
    np.add.at(delta, highs.to_numpy(dtype="int64") - first + 1, -counts.to_numpy(dtype="float64"))
    return np.cumsum(delta)[:size]
