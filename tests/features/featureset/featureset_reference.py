"""A plain-Python reference for feature sets, written for clarity, not speed (tests only).

It walks each (user, cutoff) candidate and filters that user's events (the rows of the
events frame) with Python comparisons, so it shares no code and no SQL with the compiler it
checks. Python lists, not pandas selections, hold the few events of a test's tiny log: a
property test runs it once per example.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from collections import defaultdict

import numpy as np
import pandas as pd
from featureset_testlib import item_tier

from events.store import EXPERIMENT_ASSIGNED
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


def _of_type(events: list, event_type: str | None) -> list:
    """The events of one type (all of them for None)."""
    return [e for e in events if event_type is None or e.event_type == event_type]


def _of_use(events: list, event_type: str | None) -> list:
    """The events of one type, else those of product use: an experiment's exposure log
    carries an arm as its area and the experiment as its item."""
    if event_type is None:
        return [e for e in events if e.event_type != EXPERIMENT_ASSIGNED]
    return _of_type(events, event_type)


def _since(events: list, start: pd.Timestamp) -> list:
    return [e for e in events if e.event_time >= start]


# An item's popularity: one value, or its versions as (valid from, value), in time order.
ItemPopularity = float | tuple[tuple[dt.datetime, float], ...]


def item_value(items: dict[str, ItemPopularity], item_id, at: dt.datetime) -> float | None:
    """The popularity of `item_id` in its version valid at `at`; None before its first one."""
    popularity = items.get(item_id)
    if not isinstance(popularity, tuple):
        return popularity
    valid = [value for start, value in popularity if start <= at]
    return valid[-1] if valid else None


def _present(values) -> list:
    """The values that are not missing (None or NaN)."""
    return [v for v in values if pd.notna(v)]


def _mean(values: list[float]) -> float:
    return np.nan if not values else float(np.mean(values))


def _feature(feature: FeatureDef, past: list, cutoff, user, items) -> object:
    if feature.window_days is not None:
        start = cutoff - pd.Timedelta(days=feature.window_days)
        window = _since(past, start)
    kind = feature.kind
    if kind == "count":
        return len(_of_type(window, feature.event_type))
    if kind == "active_days":
        return len({e.event_time.date() for e in window})
    if kind == "sessions":
        return len(set(_present(e.session_id for e in window)))
    if kind == "recency":
        chosen = _of_type(past, feature.event_type)
        if not chosen:
            return np.nan
        return float(_days_between(max(e.event_time for e in chosen), cutoff))
    if kind == "tenure":
        return _days_between(pd.Timestamp(user.signup_time), cutoff)
    if kind == "value_sum":
        return float(sum(_present(e.value for e in _of_type(window, feature.event_type))))
    if kind == "ratio":
        numerator = len(_of_type(window, feature.numerator))
        denominator = len(_of_type(window, feature.denominator))
        return np.nan if denominator == 0 else numerator / denominator
    if kind == "area_count":
        return sum(e.area == feature.area for e in window)
    if kind == "item_mean":
        chosen = _of_type(window, feature.event_type)
        values = [item_value(items, e.item_id, e.event_time) for e in chosen]
        return _mean([value for value in values if value is not None])
    if kind == "item_count":
        chosen = _of_type(window, feature.event_type)
        tiers = [item_tier(item_value(items, e.item_id, e.event_time)) for e in chosen]
        return sum(tier == feature.item_value for tier in tiers)
    if kind in ("gap_mean", "gap_last", "gap_ratio"):
        return _gap(kind, _of_type(past, feature.event_type), cutoff)
    if kind == "trend":
        earlier = [
            e
            for e in past
            if start - pd.Timedelta(days=feature.window_days) <= e.event_time < start
        ]
        current = len(_of_type(window, feature.event_type))
        before = len(_of_type(earlier, feature.event_type))
        return (current + 1) / (before + 1)
    if kind == "distinct_items":
        chosen = _of_use(window, feature.event_type)
        return len(set(_present(e.item_id for e in chosen)))
    if kind == "distinct_areas":
        chosen = _of_use(window, feature.event_type)
        return len(set(_present(e.area for e in chosen)))
    if kind == "value_mean":
        chosen = _of_type(window, feature.event_type)
        return _mean([e.value if pd.notna(e.value) else 0.0 for e in chosen])
    if kind == "last":
        field = feature.field
        chosen = [e for e in _of_use(past, feature.event_type) if pd.notna(getattr(e, field))]
        if not chosen:
            return None if field != "value" else np.nan
        return max((e.event_time, getattr(e, field)) for e in chosen)[1]
    return getattr(user, feature.name)


def _gap(kind: str, chosen: list, cutoff: pd.Timestamp) -> float:
    """Gaps in days between the distinct dates of `chosen` (events before the cutoff)."""
    days = sorted({e.event_time.date() for e in chosen})
    if len(days) < 2:
        return np.nan
    gaps = [(later - earlier).days for earlier, later in itertools.pairwise(days)]
    mean = sum(gaps) / len(gaps)
    if kind == "gap_mean":
        return mean
    if kind == "gap_last":
        return float(gaps[-1])
    return (cutoff.date() - days[-1]).days / mean


def _label(spec: FeatureSetSpec, future: list) -> float:
    label = spec.label
    if label.kind == "event_within":
        return int(any(e.event_type == label.event_type for e in future))
    if label.kind == "churn":
        return int(not future)
    if label.kind == "value_within":
        return float(sum(_present(e.value for e in _of_type(future, label.event_type))))
    days = sorted({e.event_time.date() for e in future})
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
    items: dict[str, ItemPopularity] | None = None,
    sample=None,
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Rows (same columns as a build) and status counts, computed the slow obvious way."""
    features = expand_features(spec)
    end_of_data = events["event_time"].max()
    by_user = defaultdict(list)
    for event in events.itertuples(index=False):
        by_user[event.user_id].append(event)
    user_rows = {user.user_id: user for user in users.itertuples()}
    rows, counts = [], {"kept": 0, "inactive": 0, "converted": 0, "censored": 0}
    horizon = spec.label.horizon_days
    for user_id, cutoff in candidates(spec, users, sample):
        mine = by_user[user_id]
        past = [e for e in mine if e.event_time < cutoff]
        future = [e for e in mine if e.event_time >= cutoff]
        if horizon is not None:
            future = [e for e in future if e.event_time < cutoff + pd.Timedelta(days=horizon)]
        eligibility = spec.eligibility
        if eligibility.active_within_days is not None:
            recent = _since(past, cutoff - pd.Timedelta(days=eligibility.active_within_days))
            if not recent:
                counts["inactive"] += 1
                continue
        if eligibility.not_converted is not None and _of_type(past, eligibility.not_converted):
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
    for feature in features:
        if feature.kind.startswith("related_"):
            values = [_related(spec, feature, row, rows, by_user, user_rows) for row in rows]
            for row, value in zip(rows, values, strict=True):
                row[feature.name] = value
    columns = ["user_id", "cutoff", "label", *(f.name for f in features)]
    return pd.DataFrame(rows, columns=columns), counts


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


def _related(spec: FeatureSetSpec, feature: FeatureDef, row: dict, rows, by_user, user_rows):
    """One related feature of one row, from the related users' events, signups and rows."""
    related = _related_users(feature, row["user_id"], user_rows)
    if related is None:
        return np.nan
    cutoff = row["cutoff"]
    aggregate = feature.kind.removeprefix("related_")
    if aggregate == "users":
        return float(sum(user_rows[u].signup_time < cutoff for u in related))
    if aggregate == "label_rate":
        closed = [
            other["label"]
            for other in rows
            if other["user_id"] in related
            and other["cutoff"] + pd.Timedelta(days=spec.label.horizon_days) <= cutoff
        ]
        return _mean(closed)
    start = cutoff - pd.Timedelta(days=feature.window_days)
    window = [e for u in related for e in by_user[u] if start <= e.event_time < cutoff]
    if aggregate == "count":
        return float(len(_of_type(window, feature.event_type)))
    if aggregate == "active_days":
        return float(len({e.event_time.date() for e in window}))
    return float(len({(e.user_id, e.session_id) for e in window if pd.notna(e.session_id)}))
