"""Time-ordered train / validation / test split of feature-set rows by cutoff time, embargoed.

Rule (docs/reference/tuning.md, "Time-ordered split"). Two boundaries `validation_from` <
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
of each class (metrics on a smaller or one-class part would be noise or undefined). When both
boundaries are automatic and these shares leave a part below that (a short history: a few
calendar cutoffs under a long label horizon), the boundaries become the pair of distinct
cutoffs (at most BALANCED_CANDIDATES of them, spread evenly) whose smallest part is largest,
the later test start and then the later validation start on ties, and the plan says so. A
split no pair can make scorable, or one with a boundary given, is refused with the sizes
found and the option to change.

Rolling-origin folds (`plan_folds`), for selection on several validation blocks: fold k of K
(oldest first) is the same rule with boundaries (start_k, start_k+1), start_K+1 = test_from:
it validates on cutoffs >= start_k whose label window ends by start_k+1 and trains on the
rows whose label window ends by start_k (an expanding window, embargoed like the split). The
last fold is the split's own train/validation; each earlier start is chosen below the next one
as validation_from is below test_from (a block of VALIDATION_PERCENT % of all rows). Test rows
are in no fold. A fold below the minimum sizes is dropped; the search stops at the first fold
whose training rows are too few (earlier ones only have fewer).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import numpy as np
import pandas as pd

from contracts.errors import UsagecastError

VALIDATION_PERCENT = 20
TEST_PERCENT = 20
DEFAULT_FOLDS = 3
MIN_ROWS = 20
MIN_CLASS_ROWS = 5
BALANCED_CANDIDATES = 256

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
    note: str | None = None  # why the boundaries are not the shares rule's, when they are not

    def size(self, part: Part) -> PartSize:
        return dict(self.sizes)[part]

    def params(self) -> dict[str, str]:
        """Run params: the boundaries and how they were set."""
        given = [b for b in ("validation_from", "test_from") if b not in self.automatic]
        return {
            "split_validation_from": self.validation_from.isoformat(),
            "split_test_from": self.test_from.isoformat(),
            "split_boundaries_given": ",".join(given) or "none",
            "split_rule": "balanced" if self.note else "shares",
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


def _part_size(parts: np.ndarray, labels: np.ndarray, part: Part) -> PartSize:
    return PartSize(int((parts == part).sum()), int((labels[parts == part] > 0).sum()))


def _share(percent: int, rows: int) -> int:
    """ceil(percent % of rows), in integers."""
    return -(-percent * rows // 100)


def _latest_holding(rows_by_cutoff: pd.Series, needed: int) -> pd.Timestamp:
    """The latest cutoff with at least `needed` rows at or after it, else the earliest one."""
    from_latest = rows_by_cutoff.iloc[::-1].cumsum()
    enough = from_latest[from_latest >= needed]
    return pd.Timestamp(rows_by_cutoff.index[0] if enough.empty else enough.index[0])


def _labels_end_by(rows_by_cutoff: pd.Series, horizon_days: int, end: pd.Timestamp) -> pd.Series:
    """The rows per cutoff whose label window ends no later than `end`."""
    return rows_by_cutoff[rows_by_cutoff.index + pd.Timedelta(days=horizon_days) <= end]


def _automatic_validation_from(
    rows_by_cutoff: pd.Series, horizon_days: int, test_from: pd.Timestamp, rows: int
) -> pd.Timestamp:
    """The validation boundary of the module's rule, among cutoffs whose labels end in time."""
    in_time = _labels_end_by(rows_by_cutoff, horizon_days, test_from)
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


def scorable(size: PartSize) -> bool:
    """At least MIN_ROWS rows and MIN_CLASS_ROWS of each class."""
    return size.rows >= MIN_ROWS and min(size.positives, size.negatives) >= MIN_CLASS_ROWS


def _check_sizes(plan: SplitPlan) -> None:
    """Refuse a part below MIN_ROWS or MIN_CLASS_ROWS of a class, naming what to change."""
    remedy: dict[Part, str] = {
        "train": "move --validation-from later",
        "validation": "move --validation-from earlier or --test-from later",
        "test": "move --test-from earlier",
    }
    for part in ("train", "validation", "test"):
        if scorable(plan.size(part)):
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
    automatic = tuple(
        name
        for name, given in (("validation_from", given_validation), ("test_from", given_test))
        if given is None
    )
    try:
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
            chosen = " (automatic)" if given_test is None else ""
            raise UsagecastError(
                f"validation must start before test: validation from {chosen_validation}, "
                f"test from {chosen_test}{chosen}; give --validation-from earlier or "
                "--test-from later"
            )
        plan = _plan(frame, chosen_validation, chosen_test, horizon_days, automatic)
        _check_sizes(plan)
        return plan
    except UsagecastError:
        balanced = _balanced_boundaries(frame, horizon_days) if len(automatic) == 2 else None
        if balanced is None:
            raise
        plan = _plan(frame, *balanced, horizon_days, automatic)
        sizes = ", ".join(f"{part} {plan.size(part).rows}" for part in PARTS[:3])
        note = (
            f"the default shares ({VALIDATION_PERCENT}% validation, {TEST_PERCENT}% test) leave "
            f"a part too small to score; split at validation from {balanced[0]}, test from "
            f"{balanced[1]} instead, where the smallest part is largest (rows: {sizes})"
        )
        return dataclasses.replace(plan, note=note)


def _plan(
    frame: pd.DataFrame,
    validation_from: pd.Timestamp,
    test_from: pd.Timestamp,
    horizon_days: int,
    automatic: tuple[str, ...],
) -> SplitPlan:
    parts = assign_parts(frame["cutoff"], validation_from, test_from, horizon_days)
    labels = frame["label"].to_numpy()
    return SplitPlan(
        validation_from=validation_from,
        test_from=test_from,
        horizon_days=horizon_days,
        automatic=automatic,
        sizes=tuple((part, _part_size(parts, labels, part)) for part in PARTS),
    )


def _balanced_boundaries(
    frame: pd.DataFrame, horizon_days: int
) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """(validation_from, test_from) among the distinct cutoffs (BALANCED_CANDIDATES of them at
    most, spread evenly) whose three parts are scorable and whose smallest part is largest;
    ties go to the later test start, then the later validation start. None when no pair is.
    """
    by_cutoff = (
        pd.DataFrame(
            {"rows": 1, "positives": (frame["label"].to_numpy() > 0).astype("int64")},
            index=pd.to_datetime(frame["cutoff"]).to_numpy(),
        )
        .groupby(level=0)
        .sum()
    )
    times = by_cutoff.index.to_numpy()
    rows = np.concatenate([[0], np.cumsum(by_cutoff["rows"].to_numpy())])
    positives = np.concatenate([[0], np.cumsum(by_cutoff["positives"].to_numpy())])
    picks = np.unique(np.linspace(0, len(times) - 1, BALANCED_CANDIDATES).round().astype(int))
    candidates = times[picks]
    horizon = np.timedelta64(horizon_days, "D")
    # Row-count prefix indexes of each part for validation_from v (rows) x test_from t (cols).
    v, t = candidates[:, None], candidates[None, :]
    train_end = np.searchsorted(times, candidates - horizon, side="right")[:, None]
    validation_start = np.searchsorted(times, candidates, side="left")[:, None]
    validation_end = np.searchsorted(times, candidates - horizon, side="right")[None, :]
    validation_end = np.maximum(validation_end, validation_start)
    test_start = np.searchsorted(times, candidates, side="left")[None, :]
    spans = {
        "train": (np.zeros_like(train_end), train_end),
        "validation": (validation_start, validation_end),
        "test": (test_start, np.full_like(test_start, len(times))),
    }
    smallest = np.full((len(candidates), len(candidates)), np.iinfo(np.int64).max)
    usable = np.broadcast_to(v < t, smallest.shape).copy()
    for start, end in spans.values():
        part_rows = rows[end] - rows[start]
        part_positives = positives[end] - positives[start]
        usable &= (part_rows >= MIN_ROWS) & (part_positives >= MIN_CLASS_ROWS)
        usable &= part_rows - part_positives >= MIN_CLASS_ROWS
        smallest = np.minimum(smallest, part_rows)
    if not usable.any():
        return None
    score = np.where(usable, smallest, -1)
    best_v, best_t = np.nonzero(score == score.max())
    choice = np.lexsort((best_v, best_t))[-1]
    return pd.Timestamp(candidates[best_v[choice]]), pd.Timestamp(candidates[best_t[choice]])


def apply_split(frame: pd.DataFrame, plan: SplitPlan) -> SplitFrames:
    """Select each part's rows by cutoff (new frames; the input is not modified)."""
    parts = assign_parts(frame["cutoff"], plan.validation_from, plan.test_from, plan.horizon_days)
    return SplitFrames(
        train=_rows(frame, parts, "train"),
        validation=_rows(frame, parts, "validation"),
        test=_rows(frame, parts, "test"),
    )


def labelled_by(frame: pd.DataFrame, end: pd.Timestamp, horizon_days: int) -> pd.DataFrame:
    """Every row whose label window ends by `end` (new frame): at `end` = test_from, the
    train, embargoed and validation rows, all a model deployed at test_from could learn from."""
    return _rows(frame, assign_parts(frame["cutoff"], end, end, horizon_days), "train")


def _rows(frame: pd.DataFrame, parts: np.ndarray, part: Part) -> pd.DataFrame:
    return frame.loc[parts == part].reset_index(drop=True)


@dataclass(frozen=True)
class Fold:
    """One rolling-origin fold: the split's rule with boundaries (start, end)."""

    start: pd.Timestamp  # first validation cutoff time; training labels end by it
    end: pd.Timestamp  # validation labels end by it (the next fold's start, or test_from)
    train: PartSize
    validation: PartSize
    # Earliest and latest cutoff of each part, for the run's record.
    train_cutoffs: tuple[pd.Timestamp, pd.Timestamp]
    validation_cutoffs: tuple[pd.Timestamp, pd.Timestamp]


@dataclass(frozen=True)
class FoldPlan:
    """The folds used for selection, oldest first; the last is the split's train/validation."""

    folds: tuple[Fold, ...]
    requested: int
    horizon_days: int
    test_from: pd.Timestamp

    def boundaries(self) -> list[str]:
        """Every fold start and test_from (ISO): with one fold, the split's two boundaries."""
        return [fold.start.isoformat() for fold in self.folds] + [self.test_from.isoformat()]

    def note(self) -> str | None:
        """Why fewer folds than requested are used, or None."""
        if len(self.folds) == self.requested:
            return None
        return (
            f"--folds {self.requested}: the data allow {len(self.folds)} rolling-origin "
            f"fold(s) (each needs >= {MIN_ROWS} rows and >= {MIN_CLASS_ROWS} of each class in "
            f"train and validation, with a {self.horizon_days}-day embargo); selecting on "
            f"{len(self.folds)}"
        )

    def params(self) -> dict[str, str]:
        """Run params: folds used and requested, each fold's cutoff ranges (1 = oldest)."""
        result = {
            "split_folds": str(len(self.folds)),
            "split_folds_requested": str(self.requested),
        }
        for number, fold in enumerate(self.folds, start=1):
            for part, (first, last) in (
                ("train", fold.train_cutoffs),
                ("validation", fold.validation_cutoffs),
            ):
                result[f"split_fold_{number}_{part}"] = f"{first.isoformat()}..{last.isoformat()}"
        return result

    def metrics(self) -> dict[str, float]:
        """Run metrics: each fold's `fold_<n>_train_rows` and `fold_<n>_val_rows`."""
        result: dict[str, float] = {}
        for number, fold in enumerate(self.folds, start=1):
            for part, size in (("train", fold.train), ("validation", fold.validation)):
                result[f"fold_{number}_{METRIC_PREFIX[part]}_rows"] = float(size.rows)
        return result


def _fold(frame: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp, horizon: int) -> Fold:
    parts = assign_parts(frame["cutoff"], start, end, horizon)
    labels = frame["label"].to_numpy()
    cutoffs = pd.to_datetime(frame["cutoff"])

    def cutoff_range(part: Part) -> tuple[pd.Timestamp, pd.Timestamp]:
        chosen = cutoffs[parts == part]
        return (chosen.min(), chosen.max()) if len(chosen) else (pd.NaT, pd.NaT)

    return Fold(
        start=start,
        end=end,
        train=_part_size(parts, labels, "train"),
        validation=_part_size(parts, labels, "validation"),
        train_cutoffs=cutoff_range("train"),
        validation_cutoffs=cutoff_range("validation"),
    )


def plan_folds(frame: pd.DataFrame, plan: SplitPlan, folds: int) -> FoldPlan:
    """Up to `folds` rolling-origin folds ending with the split's own (see the module's rule)."""
    if folds < 1:
        raise UsagecastError(f"--folds must be at least 1, got {folds}")
    horizon = plan.horizon_days
    rows_by_cutoff = pd.to_datetime(frame["cutoff"]).value_counts().sort_index()
    found = [_fold(frame, plan.validation_from, plan.test_from, horizon)]
    end = plan.validation_from
    while len(found) < folds:
        in_time = _labels_end_by(rows_by_cutoff, horizon, end)
        if in_time.empty:
            break
        start = _latest_holding(in_time, _share(VALIDATION_PERCENT, len(frame)))
        fold = _fold(frame, start, end, horizon)
        if not scorable(fold.train):
            break
        if scorable(fold.validation):
            found.insert(0, fold)
        end = start
    return FoldPlan(tuple(found), folds, horizon, plan.test_from)


def fold_frames(
    frame: pd.DataFrame, fold: Fold, horizon_days: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A fold's training and validation rows (new frames)."""
    parts = assign_parts(frame["cutoff"], fold.start, fold.end, horizon_days)
    return _rows(frame, parts, "train"), _rows(frame, parts, "validation")
