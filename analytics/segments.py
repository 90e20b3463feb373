"""Behavioural segments: k-means on the standardised numeric features of a feature set.

Features are z-scored with the rows' own mean and standard deviation (a constant feature
scores 0; a missing value is placed at the mean, i.e. 0). Segments are numbered by size,
largest first, so the same data and seed always give the same table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.filters import NO_FILTERS, Filters
from analytics.scope import render, segment_condition
from contracts.errors import UsagecastError
from contracts.manifest import FeatureSetManifest
from features.engines import Engine

_SEGMENT_USERS = """
SELECT u.user_id FROM users AS u WHERE :segment
"""


def numeric_features(manifest: FeatureSetManifest) -> list[str]:
    """Names of the numeric features a feature-set manifest declares."""
    return [f.name for f in manifest.features if f.dtype == "numeric"]


def cluster_profiles(frame: pd.DataFrame, features: list[str], k: int, seed: int) -> pd.DataFrame:
    """Profile per segment: size, share, conversion_rate (label mean), then per feature its
    mean (`mean_<f>`) and distance from the overall mean in standard deviations (`z_<f>`).
    """
    from sklearn.cluster import KMeans  # heavy; only this model needs it

    if not features:
        raise UsagecastError("segments: the feature set has no numeric features to cluster")
    if k < 2 or k > len(frame):
        raise UsagecastError(f"segments: k must be between 2 and the row count ({len(frame)})")
    values = frame[features].to_numpy(dtype="float64")
    mean = np.nanmean(values, axis=0)
    spread = np.nanstd(values, axis=0)
    spread[~(spread > 0)] = 1.0
    scores = np.nan_to_num((values - mean) / spread, nan=0.0)
    labels = KMeans(n_clusters=k, random_state=seed, n_init=10).fit_predict(scores)
    order = (
        pd.Series(labels).value_counts().sort_index().sort_values(ascending=False, kind="stable")
    )
    renumber = {old: new for new, old in enumerate(order.index)}
    segment = np.vectorize(renumber.get)(labels)
    rows = []
    for number in range(k):
        members = segment == number
        row: dict[str, object] = {
            "segment": number,
            "size": int(members.sum()),
            "share": float(members.mean()),
        }
        if "label" in frame.columns:
            row["conversion_rate"] = float(
                frame["label"].to_numpy(dtype="float64")[members].mean()
            )
        segment_mean = np.nanmean(values[members], axis=0)
        for index, name in enumerate(features):
            row[f"mean_{name}"] = segment_mean[index]
            row[f"z_{name}"] = (segment_mean[index] - mean[index]) / spread[index]
        rows.append(row)
    return pd.DataFrame(rows)


def segments(
    engine: Engine,
    feature_set: str,
    k: int,
    filters: Filters = NO_FILTERS,
    *,
    seed: int = 0,
) -> pd.DataFrame:
    """Segments of a built feature set `name@vN` (rows with cutoff in the time range, users
    in the segment filter); see cluster_profiles for the columns."""
    from features.featureset import load_feature_set

    if filters.area_prefix is not None:
        raise UsagecastError("segments: an area filter does not apply to a built feature set")
    frame, manifest = load_feature_set(feature_set)
    keep = pd.Series(True, index=frame.index)
    if filters.start is not None:
        keep &= frame["cutoff"] >= pd.Timestamp(filters.start)
    if filters.end is not None:
        keep &= frame["cutoff"] < pd.Timestamp(filters.end)
    if filters.segment is not None:
        users = engine.query(render(_SEGMENT_USERS, segment=segment_condition(engine, filters)))
        keep &= frame["user_id"].astype(str).isin(set(users["user_id"].astype(str)))
    return cluster_profiles(
        frame[keep].reset_index(drop=True), numeric_features(manifest), k, seed
    )
