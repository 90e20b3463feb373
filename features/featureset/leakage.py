"""Label-proxy scan: a single feature that almost determines the label is a leak suspect.

A feature whose univariate ROC-AUC against a 0/1 label is >= the threshold (0.95 by default)
usually encodes the future (a field written after the event, a window that touches the label
period). AUC is taken as max(auc, 1 - auc), so a feature that predicts the label inversely is
caught too. Missing values rank below every present value, so "is missing" counts as signal.
The scan needs MIN_PER_CLASS rows of each label class; with fewer it records why it skipped.
Categorical features are scored through their per-level label rate; features with more than
MAX_LEVELS levels are skipped (an id-like column would score 1.0 by memorising, not leaking).
"""

from __future__ import annotations

import pandas as pd

LEAK_THRESHOLD = 0.95
MAX_LEVELS = 50
# Below this many rows in either class an AUC of 1.0 is chance, not evidence of a leak.
MIN_PER_CLASS = 10


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
    """Each row's level replaced by that level's label rate (missing is its own level)."""
    levels = values.astype("object").where(values.notna(), "<missing>")
    return levels.map(label.groupby(levels).mean()).astype("float64")


def scan_label_proxies(
    frame: pd.DataFrame,
    feature_dtypes: dict[str, str],
    threshold: float = LEAK_THRESHOLD,
) -> dict:
    """Score every feature; return {threshold, scores, flagged, skipped} for the manifest."""
    label = frame["label"]
    smallest_class = min(int((label == 1).sum()), int((label == 0).sum()))
    if smallest_class < MIN_PER_CLASS:
        return {
            "threshold": threshold,
            "skipped": f"fewer than {MIN_PER_CLASS} rows in a label class ({smallest_class})",
            "flagged": [],
        }
    scores: dict[str, float | None] = {}
    skipped: dict[str, str] = {}
    for name, dtype in feature_dtypes.items():
        values = frame[name]
        if dtype == "categorical":
            if values.nunique(dropna=True) > MAX_LEVELS:
                skipped[name] = f"more than {MAX_LEVELS} levels"
                continue
            values = _category_score(values, label)
        auc = univariate_auc(values, label)
        scores[name] = None if auc is None else round(auc, 6)
    flagged = sorted(name for name, auc in scores.items() if auc is not None and auc >= threshold)
    return {
        "threshold": threshold,
        "scores": scores,
        "flagged": flagged,
        "skipped": skipped,
    }
