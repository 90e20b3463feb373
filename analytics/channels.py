"""Acquisition channels: who each channel brings, how they act, convert and pay; and LTV.

The channel is a user attribute (default `channel`). Users without one form "(missing)".
Revenue is the sum of `value` over purchase events in the time range (a purchase event
without a value adds no revenue).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import sqlglot.expressions as exp

from analytics.filters import NO_FILTERS, Filters
from analytics.scope import (
    MISSING_CHANNEL,
    SCOPED_EVENTS,
    SCOPED_USERS,
    check_user_attribute,
    data_end_seconds,
    render,
    scope_params,
)
from contracts.errors import UsagecastError
from contracts.manifest import FeatureSetManifest
from features.engines import Engine

_PER_USER = f"""
WITH {SCOPED_USERS}, {SCOPED_EVENTS}
SELECT su.user_id, :channel AS channel, su.signup_s,
       COUNT(se.user_id) AS events,
       MAX(CASE WHEN se.event_type = :outcome THEN 1 ELSE 0 END) AS converted,
       SUM(CASE WHEN :is_purchase THEN 1 ELSE 0 END) AS orders,
       COALESCE(SUM(CASE WHEN :is_purchase THEN se.value END), 0) AS revenue
FROM scoped_users AS su LEFT JOIN scoped_events AS se ON su.user_id = se.user_id
GROUP BY su.user_id, :channel, su.signup_s
"""

_ACTIONS = f"""
WITH {SCOPED_USERS}, {SCOPED_EVENTS}
SELECT se.event_type, :channel AS channel, COUNT(*) AS events
FROM scoped_events AS se JOIN scoped_users AS su ON se.user_id = su.user_id
GROUP BY :channel, se.event_type
"""


def channel_params(
    engine: Engine, filters: Filters, channel: str, purchase_events: Sequence[str]
) -> dict[str, exp.Expression]:
    """Placeholders shared by the channel queries (channel column checked to exist)."""
    check_user_attribute(engine, channel, "channel attribute")
    if not purchase_events:
        raise UsagecastError("channels: name at least one purchase event type")
    params: dict[str, exp.Expression] = dict(scope_params(engine, filters))
    params["channel"] = exp.column(channel, table="su")
    params["is_purchase"] = exp.column("event_type", table="se").isin(*purchase_events)
    return params


def per_user_activity(
    engine: Engine,
    filters: Filters,
    channel: str,
    outcome: str,
    purchase_events: Sequence[str],
) -> pd.DataFrame:
    """One row per segment user: channel, signup_s, events, converted, orders, revenue."""
    params = channel_params(engine, filters, channel, purchase_events)
    table = engine.query(render(_PER_USER, outcome=exp.Literal.string(outcome), **params))
    table["channel"] = (
        table["channel"].astype(object).where(table["channel"].notna(), MISSING_CHANNEL)
    )
    table["channel"] = table["channel"].astype(str)
    return table.astype(
        {"events": "int64", "converted": "int64", "orders": "int64", "revenue": "float64"}
    )


def channels(
    engine: Engine,
    outcome: str,
    filters: Filters = NO_FILTERS,
    *,
    channel: str = "channel",
    purchase_events: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Per channel: users, active_users, actions per user by event type, conversion rate,
    revenue per user; then lift (rate / overall rate) and cumulative gains, channels taken
    in order of conversion rate (cum_users_share, cum_conversions_share).
    """
    purchases = tuple(purchase_events or (outcome,))
    users = per_user_activity(engine, filters, channel, outcome, purchases)
    if users.empty:
        raise UsagecastError("channels: no users in this segment")
    grouped = users.groupby("channel")
    table = pd.DataFrame(
        {
            "users": grouped.size(),
            "active_users": grouped["events"].apply(lambda events: int((events > 0).sum())),
            "conversions": grouped["converted"].sum(),
            "revenue": grouped["revenue"].sum(),
        }
    )
    actions = engine.query(render(_ACTIONS, **channel_params(engine, filters, channel, purchases)))
    actions["channel"] = (
        actions["channel"].astype(object).where(actions["channel"].notna(), MISSING_CHANNEL)
    )
    per_type = actions.pivot_table(
        index="channel", columns="event_type", values="events", aggfunc="sum", fill_value=0
    ).reindex(table.index, fill_value=0)
    for event_type in sorted(per_type.columns):
        table[f"actions_per_user_{event_type}"] = per_type[event_type] / table["users"]
    table["conversion_rate"] = table["conversions"] / table["users"]
    table["revenue_per_user"] = table["revenue"] / table["users"]
    overall_rate = table["conversions"].sum() / table["users"].sum()
    table["lift"] = table["conversion_rate"] / overall_rate if overall_rate > 0 else np.nan
    table = table.sort_values(["conversion_rate", "users"], ascending=[False, False])
    table["cum_users_share"] = table["users"].cumsum() / table["users"].sum()
    conversions = table["conversions"].sum()
    table["cum_conversions_share"] = (
        table["conversions"].cumsum() / conversions if conversions > 0 else np.nan
    )
    return table.rename_axis("channel").reset_index()


PERIOD_DAYS = 30

_RETAINED = f"""
WITH {SCOPED_USERS}, {SCOPED_EVENTS},
activity AS (
    SELECT DISTINCT se.user_id,
           CAST(FLOOR((se.event_s - su.signup_s) / :period_s) AS BIGINT) AS period
    FROM scoped_events AS se JOIN scoped_users AS su ON se.user_id = su.user_id
    WHERE se.event_s >= su.signup_s
),
steps AS (
    SELECT user_id, period,
           LEAD(period) OVER (PARTITION BY user_id ORDER BY period) AS next_period
    FROM activity
)
SELECT s.user_id, COUNT(*) AS active_periods,
       SUM(CASE WHEN su.signup_s + (s.period + 2) * :period_s <= :end_s THEN 1 ELSE 0 END)
           AS at_risk,
       SUM(CASE WHEN su.signup_s + (s.period + 2) * :period_s <= :end_s
                     AND s.next_period = s.period + 1 THEN 1 ELSE 0 END) AS retained
FROM steps AS s JOIN scoped_users AS su ON s.user_id = su.user_id
GROUP BY s.user_id
"""


def ltv(
    engine: Engine,
    purchase_events: Sequence[str],
    filters: Filters = NO_FILTERS,
    *,
    channel: str = "channel",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Lifetime value per channel and per user (ranked), in 30-day periods.

    Per channel c:  LTV_c = AOV_c x F_c x L_c, where
      AOV_c = revenue / orders (average order value),
      F_c   = orders / active periods (purchases per 30-day period a user is active),
      L_c   = 1 / (1 - r_c) expected active periods, a geometric lifetime from the
              period-over-period retention r_c = P(active in period p+1 | active in p),
              counted only where period p+1 has fully elapsed; r_c = 1 gives L_c = inf.
    Per user u of channel c: LTV_u = revenue_u / active_periods_u x L_c (their own AOV x
    frequency, the channel's lifetime); users with no activity have LTV 0.
    Returns (per_channel, per_user).
    """
    users = per_user_activity(engine, filters, channel, purchase_events[0], purchase_events)
    params = channel_params(engine, filters, channel, purchase_events)
    retained = engine.query(
        render(
            _RETAINED,
            period_s=exp.Literal.number(PERIOD_DAYS * 86_400),
            end_s=exp.Literal.number(data_end_seconds(engine, filters)),
            **params,
        )
    )
    users = users.merge(retained, on="user_id", how="left").fillna(
        {"active_periods": 0, "at_risk": 0, "retained": 0}
    )
    grouped = users.groupby("channel")
    per_channel = grouped[["orders", "revenue", "active_periods", "at_risk", "retained"]].sum()
    per_channel.insert(0, "users", grouped.size())
    per_channel["aov"] = per_channel["revenue"] / per_channel["orders"].where(
        per_channel["orders"] > 0
    )
    per_channel["purchase_frequency"] = per_channel["orders"] / per_channel[
        "active_periods"
    ].where(per_channel["active_periods"] > 0)
    per_channel["retention"] = per_channel["retained"] / per_channel["at_risk"].where(
        per_channel["at_risk"] > 0
    )
    with np.errstate(divide="ignore"):
        per_channel["expected_lifetime"] = 1 / (1 - per_channel["retention"])
    per_channel["ltv"] = (
        per_channel["aov"] * per_channel["purchase_frequency"] * per_channel["expected_lifetime"]
    )
    per_channel = per_channel.sort_values("ltv", ascending=False).rename_axis("channel")
    lifetime = per_channel["expected_lifetime"]
    per_user = users[["user_id", "channel", "orders", "revenue", "active_periods"]].copy()
    revenue_per_period = per_user["revenue"] / per_user["active_periods"].where(
        per_user["active_periods"] > 0
    )
    per_user["ltv"] = (revenue_per_period * per_user["channel"].map(lifetime)).fillna(0.0)
    per_user = per_user.sort_values(["ltv", "user_id"], ascending=[False, True], ignore_index=True)
    per_user.insert(0, "rank", np.arange(1, len(per_user) + 1))
    return per_channel.reset_index(), per_user


def expected_active_periods(retention: pd.Series, periods: float) -> pd.Series:
    """Expected active periods among the next `periods` for a user active now: the geometric
    lifetime's sum r + r^2 + ... + r^n = r (1 - r^n) / (1 - r) (n where r = 1)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        partial = retention * (1 - retention**periods) / (1 - retention)
    return partial.where(retention < 1, float(periods))


def ltv_formula_rows(
    engine: Engine,
    frame: pd.DataFrame,
    manifest: FeatureSetManifest,
    purchase_events: Sequence[str],
    filters: Filters = NO_FILTERS,
    *,
    channel: str = "channel",
) -> pd.DataFrame:
    """The LTV formula backtested point in time, one row per feature-set row (same index):
    user_id, cutoff, label, channel, predicted.

    At each cutoff t, the channel's AOV x purchase frequency from events before t (see `ltv`),
    times the expected active periods within the label horizon H (H / 30 periods,
    `expected_active_periods` with the channel's retention before t). A channel without
    retention history before t gets no prediction (NaN), a user outside the segment filter no
    channel (NaN). It needs the event store: the channel's rates come from every user's events
    before t, not from the feature set's rows.
    """
    label = manifest.label
    if label.kind != "value_within" or label.long_horizon:
        raise UsagecastError(
            f"ltv --feature-set {manifest.feature_set}: needs a value_within label with a "
            f"horizon, not {label.kind}"
        )
    events = [label.event_type] if label.event_type else list(purchase_events)
    periods = label.horizon_days / PERIOD_DAYS
    parts = []
    for cutoff, rows in frame.groupby("cutoff", sort=True):
        before = Filters(end=pd.Timestamp(cutoff).to_pydatetime(), segment=filters.segment)
        per_channel, per_user = ltv(engine, events, before, channel=channel)
        per_channel = per_channel.set_index("channel")
        value_per_period = per_channel["aov"].fillna(0.0) * per_channel[
            "purchase_frequency"
        ].fillna(0.0)
        predicted = value_per_period * expected_active_periods(per_channel["retention"], periods)
        channels_of = per_user.set_index("user_id")["channel"]
        part = rows[["user_id", "cutoff", "label"]].copy()
        part["channel"] = part["user_id"].astype(str).map(channels_of)
        part["predicted"] = part["channel"].map(predicted)
        parts.append(part)
    return pd.concat(parts).reindex(frame.index)


def ltv_backtest(
    engine: Engine,
    frame: pd.DataFrame,
    manifest: FeatureSetManifest,
    purchase_events: Sequence[str],
    filters: Filters = NO_FILTERS,
    *,
    channel: str = "channel",
    model_values: pd.Series | None = None,
) -> pd.DataFrame:
    """Mean predicted vs realised value per channel over a built value_within feature set.

    "Predicted" is the LTV formula backtested point in time (`ltv_formula_rows`); "realised"
    is the row's value_within label (value of the label's event type, or of
    `purchase_events`, in (t, t + H]). Rows of a channel without retention history before t
    are counted in `rows` but not in `rows_predicted`. `model_values` (a value model's
    prediction per row, indexed like `frame`) adds `model_mean` and `model_over_realised`.
    """
    rows = ltv_formula_rows(engine, frame, manifest, purchase_events, filters, channel=channel)
    if model_values is not None:
        rows["model"] = model_values.reindex(rows.index)
    rows = rows.dropna(subset=["channel"])  # users outside the segment filter
    grouped = rows.groupby("channel")
    table = pd.DataFrame(
        {
            "rows": grouped.size(),
            "rows_predicted": grouped["predicted"].count(),
            "predicted_mean": grouped["predicted"].mean(),
            "realised_mean": grouped["label"].mean(),
        }
    )
    realised = table["realised_mean"].where(table["realised_mean"] > 0)
    table["predicted_over_realised"] = table["predicted_mean"] / realised
    if model_values is not None:
        table["model_mean"] = grouped["model"].mean()
        table["model_over_realised"] = table["model_mean"] / realised
    return table.rename_axis("channel").reset_index()


RANKED_PREDICTORS: dict[str, str] = {"formula": "predicted_mean", "model": "model_mean"}


def channel_ranking(backtest: pd.DataFrame) -> pd.DataFrame:
    """How each predictor of an `ltv_backtest` table orders the channels by mean value per
    row, beside the realised order: one row per predictor (the formula; the model when the
    table has one) with both orders ("a > b > ...", ties by name), whether they are the same,
    and the Spearman correlation of the two means over the channels both have (NaN with
    fewer than two, or when either side ties every channel).

    Per row, not per channel total: totals mostly order the channels by their size.
    """
    rows = []
    for predictor, column in RANKED_PREDICTORS.items():
        if column not in backtest.columns:
            continue
        both = backtest.dropna(subset=[column, "realised_mean"]).set_index("channel")
        realised, predicted = both["realised_mean"], both[column]
        realised_order, predicted_order = _order(realised), _order(predicted)
        rows.append(
            {
                "predictor": predictor,
                "channels": len(both),
                "realised_order": realised_order,
                "predicted_order": predicted_order,
                "same_order": realised_order == predicted_order,
                "spearman": realised.rank().corr(predicted.rank()) if len(both) >= 2 else np.nan,
            }
        )
    return pd.DataFrame(rows)


def _order(values: pd.Series) -> str:
    """Channels from the highest value down ("a > b > c"), ties by name."""
    frame = values.rename("value").rename_axis("channel").reset_index()
    ordered = frame.sort_values(["value", "channel"], ascending=[False, True])
    return " > ".join(ordered["channel"])
