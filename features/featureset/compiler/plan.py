"""What a spec's query needs, decided once from the spec: the compiler's parts read this plan
instead of re-testing the spec's cutoffs, label and features.

Calendar-only specs (calendar cutoffs, no signup-relative ones) have every cutoff at a known
midnight, so events are paired with those cutoffs up front (`windowed_events`, by date
through `cutoff_days` when the horizon is bounded) and the history is rolled up per cutoff
period (`past_slots`); any signup-relative cutoff makes candidates join their events and the
history roll up per date (`past_days`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from features.featureset.compiler.features_sql import AGGREGATE_FEATURES
from features.featureset.compiler.labels import AGGREGATE_LABELS
from features.featureset.spec import (
    GAP_KINDS,
    ITEM_KINDS,
    RELATED_KINDS,
    CalendarCutoffs,
    FeatureDef,
    FeatureSetSpec,
)

HistoryRollup = Literal["past_slots", "past_days"]


@dataclass(frozen=True)
class QueryPlan:
    """The spec, its expanded features and every choice the query's shape depends on."""

    spec: FeatureSetSpec
    features: tuple[FeatureDef, ...]
    # The calendar when every cutoff is a calendar one (events paired with cutoffs), else None.
    calendar_only: CalendarCutoffs | None
    # Every cutoff a midnight: calendar ones, or signup dates (anchor `date`).
    midnight_cutoffs: bool
    # Days before a cutoff the windowed pass reads (longest window; a trend's window before).
    lookback_days: int
    # Whether the windowed pass computes the label (an aggregate label kind).
    aggregate_label: bool
    # Whether the label is the adoption rule, computed over the kept rows (`label_hits`).
    adoption_label: bool
    # Whether any windowed feature, the label or the activity rule reads the span's events.
    reads_span_events: bool
    uses_items: bool
    # The history rollup table (recency, "not converted"), or None when nothing reads history.
    history: HistoryRollup | None
    # Event types whose unbounded history is read: typed recency and "not converted".
    history_types: tuple[str, ...]
    # Sessions counted in CTEs of their own beside `aggregates` (calendar-only specs).
    session_rollup: bool
    gaps: bool
    # Any `last` feature (read from `last_values`, last.py).
    last: bool

    @property
    def pairs_events(self) -> bool:
        """Whether events are paired with calendar cutoffs before grouping (`windowed_events`)."""
        return self.calendar_only is not None and self.reads_span_events

    @property
    def bounded(self) -> bool:
        """Whether the label horizon is finite (an `ever` label has none)."""
        return self.spec.label.horizon_days is not None

    @property
    def combined(self) -> bool:
        """Whether columns from beside `aggregates` are joined to it in `combined`."""
        return self.history is not None or self.session_rollup or self.gaps or self.last


def plan_query(spec: FeatureSetSpec, features: tuple[FeatureDef, ...]) -> QueryPlan:
    """The plan of the query for a spec and its expanded features."""
    cutoffs = spec.cutoffs
    calendar_only = cutoffs.calendar if cutoffs.after_signup is None else None
    aggregate_label = spec.label.kind in AGGREGATE_LABELS
    kinds = {f.kind for f in features}
    history_types = [f.event_type for f in features if f.kind == "recency" and f.event_type]
    if spec.eligibility.not_converted is not None:
        history_types.append(spec.eligibility.not_converted)
    needs_history = spec.eligibility.not_converted is not None or "recency" in kinds
    history: HistoryRollup | None = None
    if needs_history:
        history = "past_slots" if calendar_only is not None else "past_days"
    return QueryPlan(
        spec=spec,
        features=features,
        calendar_only=calendar_only,
        midnight_cutoffs=cutoffs.after_signup is None or cutoffs.after_signup.anchor == "date",
        lookback_days=_lookback_days(spec, features),
        aggregate_label=aggregate_label,
        adoption_label=spec.label.kind == "active_days_in_window",
        reads_span_events=(
            any(kind in AGGREGATE_FEATURES for kind in kinds)
            or aggregate_label
            or spec.eligibility.active_within_days is not None
        ),
        uses_items=bool(kinds & ITEM_KINDS),
        history=history,
        history_types=tuple(dict.fromkeys(history_types)),
        session_rollup=calendar_only is not None and "sessions" in kinds,
        gaps=any(kind in GAP_KINDS for kind in kinds),
        last="last" in kinds,
    )


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
