"""Time-ordered train / validation / test split over cutoffs, with an embargo.

Rule (docs/architecture.md, "Time-ordered split"): the latest `test_cutoffs` cutoffs are the
test set. Validation takes the latest `validation_cutoffs` cutoffs whose label window
[cutoff, cutoff + horizon) ends no later than the first test cutoff. Training takes every
cutoff whose label window ends no later than the first validation cutoff. Cutoffs that fall
in neither (their labels would overlap the next period) are embargoed and counted. A model
trained this way only saw what a model deployed at the first validation (test) cutoff could
have known.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from features.errors import UsagecastError


@dataclass(frozen=True)
class SplitPlan:
    """Which cutoffs go where; `embargoed` cutoffs are used by no part."""

    train: tuple[pd.Timestamp, ...]
    validation: tuple[pd.Timestamp, ...]
    test: tuple[pd.Timestamp, ...]
    embargoed: tuple[pd.Timestamp, ...]
    horizon_days: int


@dataclass(frozen=True)
class SplitFrames:
    """The rows of each part, in the feature set's column layout."""

    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame


def require_horizon(horizon: object) -> int:
    """The manifest's label horizon_days as a positive int; refuses open-ended labels."""
    if not isinstance(horizon, int) or isinstance(horizon, bool) or horizon <= 0:
        raise UsagecastError(
            f"manifest label.horizon_days is {horizon!r}: a time-ordered split needs a finite "
            "label horizon in whole days (labels that look 'ever' forward cannot be embargoed)"
        )
    return horizon


def plan_split(
    cutoffs: list[pd.Timestamp] | pd.Series,
    horizon_days: int,
    *,
    validation_cutoffs: int = 1,
    test_cutoffs: int = 1,
) -> SplitPlan:
    """Assign each distinct cutoff to train, validation, test or the embargo (see module doc)."""
    if validation_cutoffs < 1 or test_cutoffs < 1:
        raise UsagecastError("validation_cutoffs and test_cutoffs must be at least 1")
    ordered = sorted({pd.Timestamp(c) for c in cutoffs})
    horizon = pd.Timedelta(days=horizon_days)
    if len(ordered) <= test_cutoffs:
        raise UsagecastError(
            f"the feature set has {len(ordered)} cutoff(s); need more than the {test_cutoffs} "
            "test cutoff(s) to train and validate"
        )
    test = ordered[-test_cutoffs:]
    before_test = [c for c in ordered[:-test_cutoffs] if c + horizon <= test[0]]
    validation = before_test[-validation_cutoffs:]
    train = [c for c in before_test if c + horizon <= validation[0]] if validation else []
    if len(validation) < validation_cutoffs or not train:
        raise UsagecastError(
            f"cannot split {len(ordered)} cutoffs ({ordered[0].date()} .. {ordered[-1].date()}) "
            f"with a {horizon_days}-day label horizon into train, {validation_cutoffs} "
            f"validation and {test_cutoffs} test cutoff(s) with an embargo: build the feature "
            "set with more cutoffs (spaced at least the horizon apart)"
        )
    used = set(train) | set(validation) | set(test)
    return SplitPlan(
        train=tuple(train),
        validation=tuple(validation),
        test=tuple(test),
        embargoed=tuple(c for c in ordered if c not in used),
        horizon_days=horizon_days,
    )


def apply_split(frame: pd.DataFrame, plan: SplitPlan) -> SplitFrames:
    """Select each part's rows by cutoff (new frames; the input is not modified)."""
    cutoffs = pd.to_datetime(frame["cutoff"])

    def rows(part: tuple[pd.Timestamp, ...]) -> pd.DataFrame:
        return frame.loc[cutoffs.isin(part)].reset_index(drop=True)

    return SplitFrames(
        train=rows(plan.train), validation=rows(plan.validation), test=rows(plan.test)
    )
