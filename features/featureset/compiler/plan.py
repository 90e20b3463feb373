"""What a spec's query needs, decided once from the spec."""

from __future__ import annotations

from features.featureset.compiler.features_sql import AGGREGATE_FEATURES
from features.featureset.compiler.labels import AGGREGATE_LABELS
from features.featureset.spec import (
    GAP_KINDS,
    RELATED_KINDS,
    FeatureDef,
    FeatureSetSpec,
)


def _uses_items(features: tuple[FeatureDef, ...]) -> bool:
    return any(feature.kind == "item_mean" for feature in features)


def _lookback_days(spec: FeatureSetSpec, features: tuple[FeatureDef, ...]) -> int:
    """How far before a cutoff the windowed pass must read (longest window; a trend reads
    the window before its own too)."""
    windows = [
        f.window_days * (2 if f.kind == "trend" else 1)
        for f in features
        if f.window_days is not None and f.kind not in RELATED_KINDS
    ]
    if spec.eligibility.active_within_days is not None:
        windows.append(spec.eligibility.active_within_days)
    return max(windows, default=0)


def _calendar_only(spec: FeatureSetSpec) -> bool:
    return spec.cutoffs.calendar is not None and spec.cutoffs.after_signup is None


def _reads_events_in_span(spec: FeatureSetSpec, features: tuple[FeatureDef, ...]) -> bool:
    """Whether any windowed feature, the label or the activity rule reads the span's events."""
    return (
        any(f.kind in AGGREGATE_FEATURES for f in features)
        or spec.label.kind in AGGREGATE_LABELS
        or spec.eligibility.active_within_days is not None
    )


def _needs_history(spec: FeatureSetSpec, features: tuple[FeatureDef, ...]) -> bool:
    return spec.eligibility.not_converted is not None or any(f.kind == "recency" for f in features)


def _uses_session_rollup(spec: FeatureSetSpec, features: tuple[FeatureDef, ...]) -> bool:
    return _calendar_only(spec) and any(f.kind == "sessions" for f in features)


def _uses_gaps(features: tuple[FeatureDef, ...]) -> bool:
    return any(f.kind in GAP_KINDS for f in features)


def _needs_combined(spec: FeatureSetSpec, features: tuple[FeatureDef, ...]) -> bool:
    return (
        _needs_history(spec, features)
        or _uses_session_rollup(spec, features)
        or _uses_gaps(features)
    )
