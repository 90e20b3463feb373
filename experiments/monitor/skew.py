"""Training/serving skew: the feature values a served model was sent vs the feature set's values
for the same user and cutoff.

Logged predictions (serving/prediction_log.py, rows sent with `user_id` and `cutoff`) are
joined to feature-set rows on (user_id, cutoff). Per feature, a joined row differs when:
- numeric (both columns numeric): |a - b| > RELATIVE_TOLERANCE * max(|a|, |b|), or exactly one
  of the two is missing (a float64 round trip of an int64 count stays equal);
- categorical (otherwise): the values, as strings, are not equal, or exactly one is missing.
Missing on both sides (NaN/None vs NaN/None) is equal. Logged rows without a feature-set row
(no identity sent, or a (user_id, cutoff) the feature set does not hold) are not compared;
they are counted in `rows_unmatched`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from contracts.errors import UsagecastError

RELATIVE_TOLERANCE = 1e-9
KEYS = ("user_id", "cutoff")
SKEW_COLUMNS = (
    "feature",
    "kind",
    "rows_compared",
    "rows_differing",
    "share_differing",
    "max_abs_difference",
    "rows_unmatched",
)


class SkewInputError(UsagecastError):
    """Frames that cannot be compared; the message names the frame and column."""


def _keys(frame: pd.DataFrame, what: str) -> pd.DataFrame:
    """(user_id, cutoff) with one type on both sides: str ids, datetime64[us] cutoffs."""
    missing = [key for key in KEYS if key not in frame.columns]
    if missing:
        raise SkewInputError(f"{what}: no column(s) {missing} to join on")
    return pd.DataFrame(
        {
            "user_id": frame["user_id"].astype("str"),
            "cutoff": pd.to_datetime(frame["cutoff"], format="ISO8601").astype("datetime64[us]"),
        },
        index=frame.index,
    )


def _differs(served: pd.Series, offline: pd.Series, numeric: bool) -> tuple[np.ndarray, float]:
    """Per row whether the two values differ, and the largest |difference| (numeric only)."""
    both_missing = (served.isna() & offline.isna()).to_numpy()
    if not numeric:
        equal = served.astype("str").to_numpy() == offline.astype("str").to_numpy()
        one_missing = (served.isna() ^ offline.isna()).to_numpy()
        return ~both_missing & (one_missing | ~equal), float("nan")
    a = served.to_numpy(dtype="float64")
    b = offline.to_numpy(dtype="float64")
    with np.errstate(invalid="ignore"):
        gap = np.abs(a - b)
        close = (a == b) | (gap <= RELATIVE_TOLERANCE * np.maximum(np.abs(a), np.abs(b)))
    finite_gap = gap[~np.isnan(gap)]
    return ~(close | both_missing), float(finite_gap.max()) if finite_gap.size else float("nan")


def training_serving_skew(
    log: pd.DataFrame, rows: pd.DataFrame, feature_names: Sequence[str]
) -> pd.DataFrame:
    """One row per feature (columns SKEW_COLUMNS): logged rows compared with the feature set's
    row for their (user_id, cutoff), how many differ, their share, the largest absolute
    difference (numeric features; NaN otherwise), and the logged rows that found no row."""
    names = list(feature_names)
    for what, frame in (("prediction log", log), ("feature-set rows", rows)):
        absent = [name for name in names if name not in frame.columns]
        if absent:
            raise SkewInputError(f"{what}: no feature column(s) {absent}")
    offline_keys = _keys(rows, "feature-set rows")
    if offline_keys.duplicated().any():
        raise SkewInputError(
            "feature-set rows: (user_id, cutoff) repeats; pass one row per user and cutoff"
        )
    served_keys = _keys(log, "prediction log")
    identified = served_keys.notna().all(axis=1)  # pandas would join a missing key to one
    served = pd.concat([served_keys, log[names]], axis=1)[identified]
    offline = pd.concat([offline_keys, rows[names]], axis=1)
    matched = served.merge(offline, on=list(KEYS), how="inner", suffixes=("", "@offline"))
    unmatched = len(log) - len(matched)
    result = []
    for name in names:
        numeric = pd.api.types.is_numeric_dtype(log[name]) and pd.api.types.is_numeric_dtype(
            rows[name]
        )
        differs, max_gap = _differs(matched[name], matched[f"{name}@offline"], numeric)
        compared = len(matched)
        result.append(
            {
                "feature": name,
                "kind": "numeric" if numeric else "categorical",
                "rows_compared": compared,
                "rows_differing": int(differs.sum()),
                "share_differing": float(differs.sum()) / compared if compared else float("nan"),
                "max_abs_difference": max_gap,
                "rows_unmatched": unmatched,
            }
        )
    return pd.DataFrame(result, columns=list(SKEW_COLUMNS))
