"""Time-ordered train / validation / test split of feature-set rows by cutoff time, embargoed.

Rule (docs/architecture.md, "Time-ordered split"). Two boundaries `validation_from` <
`test_from` split the rows by cutoff time; a row's label window is [cutoff, cutoff + horizon):
- test: cutoff >= test_from;
- validation: cutoff >= validation_from and its label window ends no later than test_from;
- train: its label window ends no later than validation_from;
- embargoed: every other row (its labels would reach into the next part); counted, unused.
A row's part depends on its cutoff only, so rows sharing a cutoff never straddle a boundary,
and a model trained on the training rows only saw labels known at validation_from (at test_from
for validation), what a model deployed on that date could have known.

Automatic boundaries (either may be given instead: `--validation-from`, `--test-from`):
- test_from: the latest distinct cutoff with at least TEST_PERCENT % of all rows at or after it;
- validation_from: among the rows whose label window ends by test_from, the latest distinct
  cutoff with at least VALIDATION_PERCENT % of all rows at or after it (the earliest of those
  cutoffs when they hold fewer).
So per-user (signup-relative) cutoffs split by time like any others, and a few calendar cutoffs
of similar size give the last cutoff to test and the one before to validation.

Each of train, validation and test must hold at least MIN_ROWS rows and MIN_CLASS_ROWS rows
of each class; otherwise the split is refused with the sizes found and the option to change
(metrics on a smaller or one-class part would be noise or undefined).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import numpy as np
import pandas as pd

from features.errors import UsagecastError

VALIDATION_PERCENT = 20
TEST_PERCENT = 20
MIN_ROWS = 20
MIN_CLASS_ROWS = 5

Part = Literal["train", "validation", "test", "embargoed"]
PARTS: tuple[Part, ...] = ("train", "validation", "test", "embargoed")
# Metric-name prefix of each part, as the run's metrics spell them (val_roc_auc, test_rows).
METRIC_PREFIX: dict[Part, str] = {
    "train": "train",
    "validation": "val",
    "test": "test",
    "embargoed": "embargoed",
}


@dataclass(frozen=True)
class PartSize:
    """Rows and positive labels of one part."""

    rows: int
    positives: int

    @property
    def negatives(self) -> int:
        return self.rows - self.positives

    def describe(self) -> str:
        return f"{self.rows} rows ({self.positives} positive, {self.negatives} negative)"


@dataclass(frozen=True)
class SplitPlan:
    """The two boundaries, which of them were chosen by the rule, and each part's size."""

    validation_from: pd.Timestamp
    test_from: pd.Timestamp
    horizon_days: int
    automatic: tuple[str, ...]  # names of the boundaries the rule chose (not given)
    sizes: tuple[tuple[Part, PartSize], ...]

    def size(self, part: Part) -> PartSize:
        return dict(self.sizes)[part]

    def params(self) -> dict[str, str]:
        """Run params: the boundaries and how they were set."""
        given = [b for b in ("validation_from", "test_from") if b not in self.automatic]
        return {
            "split_validation_from": self.validation_from.isoformat(),
            "split_test_from": self.test_from.isoformat(),
            "split_boundaries_given": ",".join(given) or "none",
        }

    def metrics(self) -> dict[str, float]:
        """Run metrics: `<part>_rows` and `<part>_positives` (val_ and test_ as elsewhere)."""
        result: dict[str, float] = {}
        for part, size in self.sizes:
            result[f"{METRIC_PREFIX[part]}_rows"] = float(size.rows)
            result[f"{METRIC_PREFIX[part]}_positives"] = float(size.positives)
        return result


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


def assign_parts(
    cutoffs: pd.Series, validation_from: pd.Timestamp, test_from: pd.Timestamp, horizon_days: int
) -> np.ndarray:
    """The part (see PARTS) of each row, from its cutoff alone (the module's rule)."""
    times = pd.to_datetime(cutoffs).to_numpy()
    label_end = (pd.to_datetime(cutoffs) + pd.Timedelta(days=horizon_days)).to_numpy()
    validation_from64, test_from64 = validation_from.to_datetime64(), test_from.to_datetime64()
    return np.select(
        [
            times >= test_from64,
            (times >= validation_from64) & (label_end <= test_from64),
            label_end <= validation_from64,
        ],
        ["test", "validation", "train"],
        default="embargoed",
    )


def _share(percent: int, rows: int) -> int:
    """ceil(percent % of rows), in integers."""
    return -(-percent * rows // 100)


def _latest_holding(rows_by_cutoff: pd.Series, needed: int) -> pd.Timestamp:
    """The latest cutoff with at least `needed` rows at or after it, else the earliest one."""
    from_latest = rows_by_cutoff.iloc[::-1].cumsum()
    enough = from_latest[from_latest >= needed]
    return pd.Timestamp(rows_by_cutoff.index[0] if enough.empty else enough.index[0])


def _automatic_validation_from(
    rows_by_cutoff: pd.Series, horizon_days: int, test_from: pd.Timestamp, rows: int
) -> pd.Timestamp:
    """The validation boundary of the module's rule, among cutoffs whose labels end in time."""
    in_time = rows_by_cutoff[rows_by_cutoff.index + pd.Timedelta(days=horizon_days) <= test_from]
    if in_time.empty:
        raise UsagecastError(
            f"no row has its {horizon_days}-day label window ending by the test start "
            f"{test_from} (cutoffs {rows_by_cutoff.index[0]} .. {rows_by_cutoff.index[-1]}, "
            f"{rows} rows): the cutoffs span too little time for train, validation and test "
            "with an embargo; give --test-from later, or build the feature set with more "
            "cutoffs or more data"
        )
    return _latest_holding(in_time, _share(VALIDATION_PERCENT, rows))


def _boundary(value: datetime | pd.Timestamp | None, option: str) -> pd.Timestamp | None:
    if value is None:
        return None
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        raise UsagecastError(
            f"{option} {value} has a time zone; cutoffs are naive timestamps, give a plain date "
            "or date and time"
        )
    return stamp


def _check_sizes(plan: SplitPlan) -> None:
    """Refuse a part below MIN_ROWS or MIN_CLASS_ROWS of a class, naming what to change."""
    remedy: dict[Part, str] = {
        "train": "move --validation-from later",
        "validation": "move --validation-from earlier or --test-from later",
        "test": "move --test-from earlier",
    }
    for part in ("train", "validation", "test"):
        size = plan.size(part)
        if size.rows >= MIN_ROWS and min(size.positives, size.negatives) >= MIN_CLASS_ROWS:
            continue
        summary = ", ".join(f"{name} {s.describe()}" for name, s in plan.sizes)
        raise UsagecastError(
            f"the {part} part is too small to score: {summary} (validation from "
            f"{plan.validation_from}, test from {plan.test_from}, {plan.horizon_days}-day "
            f"label embargo); each of train, validation and test needs >= {MIN_ROWS} rows and "
            f">= {MIN_CLASS_ROWS} of each class: {remedy[part]}, or build the feature set "
            "with more cutoffs or more data"
        )


def plan_split(
    frame: pd.DataFrame,
    horizon_days: int,
    *,
    validation_from: datetime | pd.Timestamp | None = None,
    test_from: datetime | pd.Timestamp | None = None,
) -> SplitPlan:
    """Choose (or take) the boundaries for `frame`'s `cutoff`/`label` rows and check the parts."""
    if frame.empty:
        raise UsagecastError("the feature set has no rows to split")
    given_validation = _boundary(validation_from, "--validation-from")
    given_test = _boundary(test_from, "--test-from")
    rows_by_cutoff = pd.to_datetime(frame["cutoff"]).value_counts().sort_index()
    span = rows_by_cutoff.index[-1] - rows_by_cutoff.index[0]
    if span < pd.Timedelta(days=2 * horizon_days):
        raise UsagecastError(
            f"the cutoffs span {span} ({rows_by_cutoff.index[0]} .. "
            f"{rows_by_cutoff.index[-1]}), less than the two {horizon_days}-day label embargoes "
            "between train, validation and test: no split can be honest; build the feature "
            "set over a longer period (more data) or with a shorter label horizon"
        )
    chosen_test = (
        _latest_holding(rows_by_cutoff, _share(TEST_PERCENT, len(frame)))
        if given_test is None
        else given_test
    )
    chosen_validation = (
        _automatic_validation_from(rows_by_cutoff, horizon_days, chosen_test, len(frame))
        if given_validation is None
        else given_validation
    )
    if chosen_validation >= chosen_test:
        automatic = " (automatic)" if given_test is None else ""
        raise UsagecastError(
            f"validation must start before test: validation from {chosen_validation}, test "
            f"from {chosen_test}{automatic}; give --validation-from earlier or --test-from later"
        )
    parts = assign_parts(frame["cutoff"], chosen_validation, chosen_test, horizon_days)
    labels = frame["label"].to_numpy()
    plan = SplitPlan(
        validation_from=chosen_validation,
        test_from=chosen_test,
        horizon_days=horizon_days,
        automatic=tuple(
            name
            for name, given in (("validation_from", given_validation), ("test_from", given_test))
            if given is None
        ),
        sizes=tuple(
            (part, PartSize(int((parts == part).sum()), int(labels[parts == part].sum())))
            for part in PARTS
        ),
    )
    _check_sizes(plan)
    return plan


def apply_split(frame: pd.DataFrame, plan: SplitPlan) -> SplitFrames:
    """Select each part's rows by cutoff (new frames; the input is not modified)."""
    parts = assign_parts(frame["cutoff"], plan.validation_from, plan.test_from, plan.horizon_days)

    def rows(part: Part) -> pd.DataFrame:
        return frame.loc[parts == part].reset_index(drop=True)

    return SplitFrames(train=rows("train"), validation=rows("validation"), test=rows("test"))
