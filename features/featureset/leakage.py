"""Leak checks on built rows: the label-proxy scan and the snapshot-like attribute rule (pure).

Label proxies. A feature whose univariate ROC-AUC against a 0/1 label is >= LEAK_THRESHOLD
(0.95) usually encodes the future (a field written after the event, a window that touches the
label period): it is flagged, and the build refuses it unless allowed by name. From
WARN_THRESHOLD (0.90) below that it is warned: printed, recorded in the manifest and on the
tuning run, and named by the promotion gate. AUC is taken as max(auc, 1 - auc), so a feature
that predicts the label inversely is caught too. Missing values rank below every present
value, so "is missing" counts as signal. The scan needs MIN_PER_CLASS rows of each label
class; with fewer it records why it skipped. Categorical features are scored through their
per-level label rate after grouping rare levels as training does (features/categories.py):
an id-like column is scored on its frequent levels, not skipped and not memorised row by row.

Snapshot-like attributes (`snapshot_like_unit`). A numeric "static" attribute that is really
a timestamp read at export time (a last session as epoch seconds) leaks like a snapshot. Its
values, read as epoch seconds or as epoch milliseconds, lie inside the data's time range
(first event .. last event + EPOCH_SLACK_DAYS, exports come after the last event) and after
the row's cutoff. The rule: refused when, in one of the two units, more than
SNAPSHOT_LIKE_SHARE of a column's non-missing values (one per built row) are inside that range
and later than their row's cutoff. Ages, prices and counts are never inside the range; epoch
dates before the cutoffs (a birth or account-creation date) are not after them.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from features.categories import group_values, grouped_levels

LEAK_THRESHOLD = 0.95
WARN_THRESHOLD = 0.90
# Below this many rows in either class an AUC of 1.0 is chance, not evidence of a leak.
MIN_PER_CLASS = 10
EPOCH_UNITS: tuple[tuple[str, float], ...] = (("seconds", 1.0), ("milliseconds", 1000.0))
EPOCH_SLACK_DAYS = 31
SNAPSHOT_LIKE_SHARE = 0.5


def univariate_auc(values: pd.Series, label: pd.Series) -> float | None:
    """max(AUC, 1 - AUC) of a numeric score against a 0/1 label; None when one class only."""
    positives = int((label == 1).sum())
    negatives = int(len(label) - positives)
    if positives == 0 or negatives == 0:
        return None
    score = values.astype("float64")
    floor = score.min() if score.notna().any() else 0.0
    ranks = score.fillna(floor - 1.0).rank(method="average").to_numpy()
    rank_sum = ranks[label.to_numpy() == 1].sum()
    auc = (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)
    return float(max(auc, 1.0 - auc))


def _category_score(values: pd.Series, label: pd.Series) -> pd.Series:
    """Each row's level (rare ones grouped) replaced by that level's label rate (missing is its
    own level)."""
    grouped = group_values(values, grouped_levels(values)).astype("object")
    levels = grouped.where(grouped.notna(), "<missing>")
    return levels.map(label.groupby(levels).mean()).astype("float64")


def scan_label_proxies(
    frame: pd.DataFrame,
    feature_dtypes: dict[str, str],
    threshold: float = LEAK_THRESHOLD,
    warn_threshold: float = WARN_THRESHOLD,
) -> dict:
    """Score every feature; return {threshold, warn_threshold, scores, flagged, warned}."""
    label = frame["label"]
    smallest_class = min(int((label == 1).sum()), int((label == 0).sum()))
    if smallest_class < MIN_PER_CLASS:
        return {
            "threshold": threshold,
            "warn_threshold": warn_threshold,
            "skipped": f"fewer than {MIN_PER_CLASS} rows in a label class ({smallest_class})",
            "flagged": [],
            "warned": [],
        }
    scores: dict[str, float | None] = {}
    for name, dtype in feature_dtypes.items():
        values = frame[name]
        if dtype == "categorical":
            values = _category_score(values, label)
        auc = univariate_auc(values, label)
        scores[name] = None if auc is None else round(auc, 6)
    scored = {name: auc for name, auc in scores.items() if auc is not None}
    return {
        "threshold": threshold,
        "warn_threshold": warn_threshold,
        "scores": scores,
        "flagged": sorted(name for name, auc in scored.items() if auc >= threshold),
        "warned": sorted(
            name for name, auc in scored.items() if warn_threshold <= auc < threshold
        ),
    }


def _epoch_seconds(times: pd.Series | pd.Timestamp | dt.datetime):
    """Naive UTC timestamps as seconds since 1970-01-01."""
    return (pd.to_datetime(times) - pd.Timestamp(0)) / pd.Timedelta(seconds=1)


def snapshot_like_unit(
    values: pd.Series, cutoffs: pd.Series, data_start: dt.datetime, data_end: dt.datetime
) -> str | None:
    """`seconds` or `milliseconds` when a numeric column reads as epoch times after its rows'
    cutoffs (the module docstring's rule), else None. values[i] belongs to cutoffs[i]."""
    present = values.notna().to_numpy()
    numbers = values.astype("float64").to_numpy()[present]
    if len(numbers) == 0:
        return None
    row_cutoffs = _epoch_seconds(cutoffs).to_numpy()[present]
    start = _epoch_seconds(data_start)
    end = _epoch_seconds(pd.Timestamp(data_end) + pd.Timedelta(days=EPOCH_SLACK_DAYS))
    for unit, per_second in EPOCH_UNITS:
        seconds = numbers / per_second
        later = (seconds >= start) & (seconds <= end) & (seconds > row_cutoffs)
        if later.mean() > SNAPSHOT_LIKE_SHARE:
            return unit
    return None
