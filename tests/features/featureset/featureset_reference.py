"""A plain-pandas reference for feature sets, written for clarity, not speed (tests only).

It walks each (user, cutoff) candidate and filters that user's events with Python
comparisons, so it shares no code and no SQL with the compiler it checks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools

import numpy as np
import pandas as pd

from features.featureset.compiler import calendar_cutoff_dates, sample_threshold
from features.featureset.spec import FeatureDef, FeatureSetSpec, expand_features


def _days_between(start: pd.Timestamp, end: pd.Timestamp) -> int:
    return (end.date() - start.date()).days


def _in_sample(user_id: str, sample: tuple[float, int] | None) -> bool:
    if sample is None:
        return True
    fraction, seed = sample
    prefix = hashlib.md5(f"{seed}:{user_id}".encode()).hexdigest()[:8]
    return prefix < sample_threshold(fraction)


def candidates(spec: FeatureSetSpec, users: pd.DataFrame, sample=None) -> list[tuple]:
    pairs = set()
    for user in users.itertuples():
        if not _in_sample(user.user_id, sample):
            continue
        if spec.cutoffs.calendar is not None:
            for day in calendar_cutoff_dates(spec.cutoffs.calendar):
                cutoff = pd.Timestamp(day)
                if user.signup_time < cutoff:
                    pairs.add((user.user_id, cutoff))
        after_signup = spec.cutoffs.after_signup
        if after_signup is not None:
            signup = pd.Timestamp(user.signup_time)
            anchor = signup.normalize() if after_signup.anchor == "date" else signup
            pairs.add((user.user_id, anchor + dt.timedelta(days=after_signup.offset_days)))
    return sorted(pairs, key=lambda pair: (pair[1], pair[0]))


def _feature(feature: FeatureDef, past: pd.DataFrame, cutoff, user, items) -> object:
    if feature.window_days is not None:
        start = cutoff - pd.Timedelta(days=feature.window_days)
        window = past[past["event_time"] >= start]
    kind = feature.kind
    if kind == "count":
        return int((window["event_type"] == feature.event_type).sum())
    if kind == "active_days":
        return int(window["event_time"].dt.date.nunique())
    if kind == "sessions":
        return int(window["session_id"].dropna().nunique())
    if kind == "recency":
        chosen = (
            past if feature.event_type is None else past[past["event_type"] == feature.event_type]
        )
        return np.nan if chosen.empty else float(_days_between(chosen["event_time"].max(), cutoff))
    if kind == "tenure":
        return _days_between(pd.Timestamp(user.signup_time), cutoff)
    if kind == "value_sum":
        return float(window.loc[window["event_type"] == feature.event_type, "value"].sum())
    if kind == "ratio":
        numerator = (window["event_type"] == feature.numerator).sum()
        denominator = (window["event_type"] == feature.denominator).sum()
        return np.nan if denominator == 0 else float(numerator / denominator)
    if kind == "area_count":
        return int((window["area"] == feature.area).sum())
    if kind == "item_mean":
        chosen = (
            window
            if feature.event_type is None
            else window[window["event_type"] == feature.event_type]
        )
        values = chosen["item_id"].map(items).dropna()
        return np.nan if values.empty else float(values.mean())
    if kind in ("gap_mean", "gap_last", "gap_ratio"):
        return _gap(kind, past[past["event_type"] == feature.event_type], cutoff)
    if kind == "trend":
        earlier = past[
            (past["event_time"] >= start - pd.Timedelta(days=feature.window_days))
            & (past["event_time"] < start)
        ]
        current = (window["event_type"] == feature.event_type).sum()
        before = (earlier["event_type"] == feature.event_type).sum()
        return float((current + 1) / (before + 1))
    if kind == "distinct_items":
        chosen = (
            window
            if feature.event_type is None
            else window[window["event_type"] == feature.event_type]
        )
        return int(chosen["item_id"].dropna().nunique())
    if kind == "value_mean":
        chosen = window[window["event_type"] == feature.event_type]
        return np.nan if chosen.empty else float(chosen["value"].fillna(0.0).mean())
    return getattr(user, feature.name)


def _gap(kind: str, chosen: pd.DataFrame, cutoff: pd.Timestamp) -> float:
    """Gaps in days between the distinct dates of `chosen` (events before the cutoff)."""
    days = sorted(set(chosen["event_time"].dt.date))
    if len(days) < 2:
        return np.nan
    gaps = [(later - earlier).days for earlier, later in itertools.pairwise(days)]
    mean = sum(gaps) / len(gaps)
    if kind == "gap_mean":
        return mean
    if kind == "gap_last":
        return float(gaps[-1])
    return (cutoff.date() - days[-1]).days / mean


def _label(spec: FeatureSetSpec, future: pd.DataFrame) -> float:
    label = spec.label
    if label.kind == "event_within":
        return int((future["event_type"] == label.event_type).any())
    if label.kind == "churn":
        return int(future.empty)
    if label.kind == "value_within":
        chosen = (
            future
            if label.event_type is None
            else future[future["event_type"] == label.event_type]
        )
        return float(chosen["value"].sum())
    days = sorted(set(future["event_time"].dt.date))
    for i in range(len(days)):
        # some window of window_days days starting at days[i] holds min_days active days
        inside = [d for d in days[i:] if (d - days[i]).days <= label.window_days - 1]
        if len(inside) >= label.min_days:
            return 1
    return 0


def reference_feature_set(
    spec: FeatureSetSpec,
    events: pd.DataFrame,
    users: pd.DataFrame,
    items: dict[str, float] | None = None,
    sample=None,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Rows (same columns as a build) and status counts, computed the slow obvious way."""
    features = expand_features(spec)
    end_of_data = events["event_time"].max()
    by_user = {uid: frame for uid, frame in events.groupby("user_id")}
    empty = events.iloc[0:0]
    user_rows = {user.user_id: user for user in users.itertuples()}
    rows, counts = [], {"kept": 0, "inactive": 0, "converted": 0, "censored": 0}
    horizon = spec.label.horizon_days
    for user_id, cutoff in candidates(spec, users, sample):
        mine = by_user.get(user_id, empty)
        past = mine[mine["event_time"] < cutoff]
        future = mine[mine["event_time"] >= cutoff]
        if horizon is not None:
            future = future[future["event_time"] < cutoff + pd.Timedelta(days=horizon)]
        eligibility = spec.eligibility
        if eligibility.active_within_days is not None:
            recent = past[
                past["event_time"] >= cutoff - pd.Timedelta(days=eligibility.active_within_days)
            ]
            if recent.empty:
                counts["inactive"] += 1
                continue
        if (
            eligibility.not_converted is not None
            and (past["event_type"] == eligibility.not_converted).any()
        ):
            counts["converted"] += 1
            continue
        if horizon is not None and cutoff + pd.Timedelta(days=horizon) > end_of_data:
            counts["censored"] += 1
            continue
        counts["kept"] += 1
        user = user_rows[user_id]
        row = {"user_id": user_id, "cutoff": cutoff, "label": _label(spec, future)}
        for feature in features:
            if not feature.kind.startswith("related_"):  # they read other rows: below
                row[feature.name] = _feature(feature, past, cutoff, user, items or {})
        rows.append(row)
    columns = ["user_id", "cutoff", "label", *(f.name for f in features)]
    frame = pd.DataFrame(rows, columns=columns)
    for feature in features:
        if feature.kind.startswith("related_"):
            frame[feature.name] = [
                _related(spec, feature, row, frame, events, user_rows)
                for row in frame.itertuples(index=False)
            ]
    return frame, counts


def _is_blank(value) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value == ""


def _related_users(feature: FeatureDef, user_id: str, user_rows: dict) -> list | None:
    """The users related to `user_id` through the feature's `via` (None: a blank value)."""
    value = getattr(user_rows[user_id], feature.via)
    if _is_blank(value):
        return None
    if feature.relation == "group":
        related = [u for u, row in user_rows.items() if getattr(row, feature.via) == value]
    else:
        related = [u for u in user_rows if u == value]
    return [u for u in related if u != user_id]


def _related(spec: FeatureSetSpec, feature: FeatureDef, row, frame, events, user_rows):
    """One related feature of one row, from the related users' events, signups and rows."""
    related = _related_users(feature, row.user_id, user_rows)
    if related is None:
        return np.nan
    cutoff = row.cutoff
    aggregate = feature.kind.removeprefix("related_")
    if aggregate == "users":
        return float(sum(user_rows[u].signup_time < cutoff for u in related))
    if aggregate == "label_rate":
        closed = frame[
            frame["user_id"].isin(related)
            & (frame["cutoff"] + pd.Timedelta(days=spec.label.horizon_days) <= cutoff)
        ]
        return np.nan if closed.empty else float(closed["label"].mean())
    start = cutoff - pd.Timedelta(days=feature.window_days)
    window = events[
        events["user_id"].isin(related)
        & (events["event_time"] >= start)
        & (events["event_time"] < cutoff)
    ]
    if aggregate == "count":
        return float((window["event_type"] == feature.event_type).sum())
    if aggregate == "active_days":
        return float(window["event_time"].dt.date.nunique())
    sessions = window.dropna(subset=["session_id"])
    return float(len(set(zip(sessions["user_id"], sessions["session_id"], strict=True))))
