"""The time-ordered split by cutoff time: shares, embargo, overrides and minimum part sizes."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from contracts.errors import UsagecastError
from experiments.split import (
    MIN_CLASS_ROWS,
    MIN_ROWS,
    PARTS,
    apply_split,
    assign_parts,
    fold_frames,
    labelled_by,
    plan_folds,
    plan_split,
    require_horizon,
    scorable,
)

MONTHS = [f"2024-{m:02d}-01" for m in range(1, 6)]


def rows_at(counts: dict[str, int], every: int = 3) -> pd.DataFrame:
    """`counts[cutoff]` rows per cutoff; every `every`-th row (in time order) is positive."""
    cutoffs = [pd.Timestamp(c) for c, n in counts.items() for _ in range(n)]
    return pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(len(cutoffs))],
            "cutoff": pd.to_datetime(cutoffs).astype("datetime64[us]"),
            "label": [int(i % every == 0) for i in range(len(cutoffs))],
        }
    )


def per_user(users: int, days: int, seed: int = 1) -> pd.DataFrame:
    """One row per user at its own minute-level cutoff (signup-relative), labels 1 in 3."""
    rng = np.random.default_rng(seed)
    minutes = np.sort(rng.choice(days * 24 * 60, size=users, replace=False))
    cutoffs = pd.Timestamp("2024-01-01 00:00") + pd.to_timedelta(minutes, unit="min")
    return pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(users)],
            "cutoff": cutoffs.astype("datetime64[us]"),
            "label": (rng.random(users) < 1 / 3).astype("int64"),
        }
    )


def parts_by_cutoff(frame: pd.DataFrame, plan) -> dict[str, list[str]]:
    split = apply_split(frame, plan)
    return {
        part: sorted({str(c.date()) for c in getattr(split, part)["cutoff"]})
        for part in ("train", "validation", "test")
    }


@pytest.mark.parametrize(
    ("counts", "horizon", "given", "expected"),
    [
        pytest.param(
            dict.fromkeys(MONTHS, 40),
            30,
            {},
            {
                "train": MONTHS[:3],
                "validation": ["2024-04-01"],
                "test": ["2024-05-01"],
            },
            id="calendar-equal-months",
        ),
        pytest.param(
            # premium_30d@v1 on the demo's data: Feb..May, growing, horizon 30.
            dict(zip(MONTHS[1:], (368, 631, 799, 930), strict=True)),
            30,
            {},
            {
                "train": ["2024-02-01", "2024-03-01"],
                "validation": ["2024-04-01"],
                "test": ["2024-05-01"],
            },
            id="calendar-demo-premium",
        ),
        pytest.param(
            dict.fromkeys(MONTHS, 40),
            45,
            {},
            # Apr 1 + 45 days > May 1, Feb 1 + 45 days > Mar 1: both embargoed.
            {"train": ["2024-01-01"], "validation": ["2024-03-01"], "test": ["2024-05-01"]},
            id="calendar-horizon-longer-than-a-month",
        ),
        pytest.param(
            dict(zip(MONTHS, (40, 40, 40, 40, 10), strict=True)),
            30,
            {},
            # The last month alone is under 20 % of the rows: test takes two.
            {"train": ["2024-01-01"], "validation": ["2024-03-01"], "test": MONTHS[3:]},
            id="calendar-small-last-month",
        ),
        pytest.param(
            dict.fromkeys(MONTHS, 40),
            30,
            {"validation_from": datetime(2024, 3, 1), "test_from": datetime(2024, 4, 1)},
            # Feb 1 + 30 days = Mar 2, after validation starts: February is embargoed.
            {"train": MONTHS[:1], "validation": ["2024-03-01"], "test": MONTHS[3:]},
            id="calendar-overrides",
        ),
        pytest.param(
            dict.fromkeys(MONTHS, 40),
            30,
            {"test_from": datetime(2024, 4, 1)},
            {"train": MONTHS[:1], "validation": ["2024-03-01"], "test": MONTHS[3:]},
            id="calendar-test-override-validation-automatic",
        ),
    ],
)
def test_the_rule_on_calendar_cutoffs(counts, horizon, given, expected):
    frame = rows_at(counts)
    plan = plan_split(frame, horizon, **given)
    assert parts_by_cutoff(frame, plan) == expected
    assert plan.automatic == tuple(b for b in ("validation_from", "test_from") if b not in given)


def test_per_user_cutoffs_split_by_time_with_the_documented_shares():
    frame = per_user(users=400, days=200)
    plan = plan_split(frame, 14)
    # Distinct cutoffs: exactly ceil(20 %) of the rows in validation and in test.
    assert plan.size("test").rows == 80
    assert plan.size("validation").rows == 80
    # About 14 of 200 days of rows before each boundary are embargoed.
    assert 30 <= plan.size("embargoed").rows <= 80
    assert sum(size.rows for _, size in plan.sizes) == 400
    metrics = plan.metrics()
    assert metrics["val_rows"] == 80 and metrics["test_rows"] == 80
    assert metrics["train_rows"] == plan.size("train").rows
    assert plan.params()["split_boundaries_given"] == "none"


def test_the_embargo_is_exact_at_both_boundaries():
    validation_from, test_from = pd.Timestamp("2024-03-01"), pd.Timestamp("2024-04-01")
    cutoffs = pd.Series(
        pd.to_datetime(
            [
                "2024-02-16 00:00",  # + 14 days = Mar 1 00:00: train
                "2024-02-16 00:01",  # window ends a minute after validation_from: embargoed
                "2024-03-01 00:00",  # validation
                "2024-03-18 00:00",  # + 14 days = Apr 1: validation
                "2024-03-18 00:01",  # embargoed
                "2024-04-01 00:00",  # test
            ]
        )
    )
    parts = assign_parts(cutoffs, validation_from, test_from, 14)
    assert parts.tolist() == [
        "train",
        "embargoed",
        "validation",
        "validation",
        "embargoed",
        "test",
    ]


@pytest.mark.parametrize(
    ("given", "labels_every", "match"),
    [
        pytest.param(
            {"test_from": datetime(2024, 5, 1, 12)}, 3, "test part.*--test-from", id="empty-test"
        ),
        pytest.param(
            {"validation_from": datetime(2024, 4, 1, 0, 1)},
            3,
            "validation part.*--validation-from earlier",
            id="empty-validation",
        ),
        pytest.param(
            {"validation_from": datetime(2024, 1, 1)},
            3,
            "train part.*--validation-from later",
            id="empty-train",
        ),
        pytest.param(
            {"validation_from": datetime(2024, 4, 1), "test_from": datetime(2024, 3, 1)},
            3,
            "--validation-from earlier or --test-from later",
            id="boundaries-in-the-wrong-order",
        ),
        pytest.param(
            {"test_from": datetime(2024, 1, 15)},
            3,
            "no row has its 30-day label window ending by the test start.*--test-from later",
            id="no-validation-candidate",
        ),
        pytest.param({}, 10_000, "positive", id="one-class-parts"),
    ],
)
def test_a_part_too_small_or_one_class_is_refused_naming_the_option(given, labels_every, match):
    frame = rows_at(dict.fromkeys(MONTHS, 40), every=labels_every)
    with pytest.raises(UsagecastError, match=match):
        plan_split(frame, 30, **given)


FORTNIGHTS = [str(d.date()) for d in pd.date_range("2024-02-01", "2024-05-09", freq="14D")]


def test_a_short_history_splits_where_the_smallest_part_is_largest():
    # Eight fortnightly cutoffs under a 30-day horizon: the shares rule (test from 04-25,
    # validation from 02-29) leaves no row for training.
    frame = rows_at(dict.fromkeys(FORTNIGHTS, 30))
    with pytest.raises(UsagecastError, match="train part is too small"):
        plan_split(
            frame, 30, validation_from=datetime(2024, 2, 29), test_from=datetime(2024, 4, 25)
        )
    plan = plan_split(frame, 30)
    assert (plan.validation_from, plan.test_from) == (
        pd.Timestamp("2024-03-28"),
        pd.Timestamp("2024-05-09"),
    )
    assert parts_by_cutoff(frame, plan) == {
        "train": ["2024-02-01", "2024-02-15"],
        "validation": ["2024-03-28"],
        "test": ["2024-05-09"],
    }
    assert plan.note.startswith("the default shares (20% validation, 20% test) leave a part")
    assert "(rows: train 60, validation 30, test 30)" in plan.note
    assert plan.params()["split_rule"] == "balanced"


def test_the_shares_rule_stands_when_it_can_split_and_a_given_boundary_is_kept():
    plan = plan_split(rows_at(dict.fromkeys(MONTHS, 40)), 30)
    assert plan.note is None and plan.params()["split_rule"] == "shares"
    frame = rows_at(dict.fromkeys(FORTNIGHTS, 30))
    with pytest.raises(UsagecastError, match="train part is too small"):
        plan_split(frame, 30, test_from=datetime(2024, 4, 25))


def _smallest_part(frame: pd.DataFrame, validation_from, test_from, horizon: int) -> int | None:
    """The smallest part's rows when all three are scorable, else None (by assign_parts)."""
    if validation_from >= test_from:
        return None
    parts = assign_parts(frame["cutoff"], validation_from, test_from, horizon)
    labels = frame["label"].to_numpy()
    sizes = []
    for part in PARTS[:3]:
        rows, positives = int((parts == part).sum()), int(labels[parts == part].sum())
        if rows < MIN_ROWS or min(positives, rows - positives) < MIN_CLASS_ROWS:
            return None
        sizes.append(rows)
    return min(sizes)


@pytest.mark.slow
@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(st.integers(min_value=0, max_value=40), min_size=4, max_size=24),
    every=st.integers(min_value=2, max_value=6),
    step=st.integers(min_value=3, max_value=20),
    horizon=st.integers(min_value=7, max_value=40),
)
def test_the_balanced_split_is_the_best_pair_of_cutoffs(rows, every, step, horizon):
    days = pd.date_range("2024-01-01", periods=len(rows), freq=f"{step}D")
    frame = rows_at({str(d.date()): n for d, n in zip(days, rows, strict=True) if n}, every)
    assume(len(frame) > 0)
    try:
        plan = plan_split(frame, horizon)
    except UsagecastError:
        plan = None
    cutoffs = sorted(set(frame["cutoff"]))
    best = max(
        (_smallest_part(frame, v, t, horizon) or -1 for v in cutoffs for t in cutoffs),
        default=-1,
    )
    if plan is None or plan.note is None:
        # Refused: only when no pair of cutoffs could split (or the span is too short).
        assert plan is not None or best == -1 or (cutoffs[-1] - cutoffs[0]).days < 2 * horizon
        return
    assert all(scorable(plan.size(part)) for part in PARTS[:3])
    assert _smallest_part(frame, plan.validation_from, plan.test_from, horizon) == best


def test_the_refusal_says_the_sizes_found():
    frame = rows_at(dict.fromkeys(MONTHS, 40))
    with pytest.raises(UsagecastError) as refused:
        plan_split(frame, 30, test_from=datetime(2024, 5, 1, 12))
    message = str(refused.value)
    assert "test 0 rows (0 positive, 0 negative)" in message
    assert f">= {MIN_ROWS} rows" in message


def test_cutoffs_spanning_less_than_two_embargoes_are_refused():
    # adoption_14d@v1 on the demo's 6 months: cutoffs over ~107 days, 60-day horizon.
    with pytest.raises(UsagecastError, match="two 60-day label embargoes"):
        plan_split(per_user(users=300, days=107), 60)


def test_a_time_zone_in_a_boundary_is_refused():
    frame = rows_at(dict.fromkeys(MONTHS, 40))
    with pytest.raises(UsagecastError, match="time zone"):
        plan_split(frame, 30, test_from=pd.Timestamp("2024-05-01", tz="UTC"))


@pytest.mark.parametrize("horizon", ["ever", None, 0, True])
def test_open_or_invalid_horizons_are_refused(horizon):
    with pytest.raises(UsagecastError, match="finite"):
        require_horizon(horizon)


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(
    days=st.lists(st.integers(min_value=0, max_value=365), min_size=60, max_size=300),
    minutes=st.integers(min_value=0, max_value=24 * 60 - 1),
    positives=st.lists(st.booleans(), min_size=300, max_size=300),
    horizon=st.integers(min_value=1, max_value=45),
    shift_test=st.sampled_from([None, -20, 10]),
)
def test_every_plan_keeps_parts_apart_in_time_and_accounts_for_every_row(
    days, minutes, positives, horizon, shift_test
):
    """Rows may share cutoffs (the same day) or not (a per-row minute offset)."""
    cutoffs = [
        pd.Timestamp("2024-01-01") + pd.Timedelta(days=d, minutes=(minutes * i) % 1440)
        for i, d in enumerate(days)
    ]
    frame = pd.DataFrame(
        {"cutoff": pd.to_datetime(cutoffs), "label": [int(p) for p in positives[: len(days)]]}
    )
    test_from = (
        None if shift_test is None else pd.Timestamp("2024-10-01") + pd.Timedelta(days=shift_test)
    )
    try:
        plan = plan_split(frame, horizon, test_from=test_from)
    except UsagecastError:
        assume(False)
    window = pd.Timedelta(days=horizon)
    split = apply_split(frame, plan)
    train, validation, test = (split.train["cutoff"], split.validation["cutoff"], split.test)
    assert (train + window <= plan.validation_from).all()
    assert (validation + window <= plan.test_from).all()
    assert (validation >= plan.validation_from).all()
    assert (test["cutoff"] >= plan.test_from).all()
    assert train.max() < validation.min() and validation.max() < test["cutoff"].min()
    sizes = dict(plan.sizes)
    assert [len(train), len(validation), len(test)] == [
        sizes[p].rows for p in ("train", "validation", "test")
    ]
    assert sum(size.rows for size in sizes.values()) == len(frame)
    assert sum(size.positives for size in sizes.values()) == frame["label"].sum()
    # No row in two parts: the parts' row sets are disjoint and together with the embargo
    # cover the frame (each row gets exactly one part).
    parts = assign_parts(frame["cutoff"], plan.validation_from, plan.test_from, horizon)
    assert (parts == "embargoed").sum() == sizes["embargoed"].rows
    for cutoff, group in pd.Series(parts).groupby(frame["cutoff"].to_numpy()):
        assert group.nunique() == 1, f"rows at {cutoff} straddle a boundary"


TEN_MONTHS = [f"2024-{m:02d}-01" for m in range(1, 11)]


def fold_cutoffs(frame: pd.DataFrame, folds) -> list[dict[str, list[str]]]:
    result = []
    for fold in folds.folds:
        train, validation = fold_frames(frame, fold, folds.horizon_days)
        result.append(
            {
                part: sorted({str(c.date()) for c in rows["cutoff"]})
                for part, rows in (("train", train), ("validation", validation))
            }
        )
    return result


def test_one_fold_is_exactly_the_split():
    frame = rows_at(dict.fromkeys(TEN_MONTHS, 40))
    plan = plan_split(frame, 20)
    folds = plan_folds(frame, plan, 1)
    assert len(folds.folds) == 1 and folds.note() is None
    train, validation = fold_frames(frame, folds.folds[0], 20)
    split = apply_split(frame, plan)
    pd.testing.assert_frame_equal(train, split.train)
    pd.testing.assert_frame_equal(validation, split.validation)
    assert folds.boundaries() == [plan.validation_from.isoformat(), plan.test_from.isoformat()]
    assert (folds.folds[0].train, folds.folds[0].validation) == (
        plan.size("train"),
        plan.size("validation"),
    )


def test_folds_roll_back_by_the_validation_share_with_an_expanding_window():
    # 400 rows: blocks of 20 % = two months; test Sep-Oct, validation Jul-Aug.
    frame = rows_at(dict.fromkeys(TEN_MONTHS, 40))
    folds = plan_folds(frame, plan_split(frame, 20), 3)
    assert fold_cutoffs(frame, folds) == [
        {"train": TEN_MONTHS[:2], "validation": TEN_MONTHS[2:4]},
        {"train": TEN_MONTHS[:4], "validation": TEN_MONTHS[4:6]},
        {"train": TEN_MONTHS[:6], "validation": TEN_MONTHS[6:8]},
    ]
    assert folds.note() is None
    params = folds.params()
    assert params["split_folds"] == "3" and params["split_folds_requested"] == "3"
    assert params["split_fold_1_validation"] == "2024-03-01T00:00:00..2024-04-01T00:00:00"
    assert folds.metrics()["fold_1_train_rows"] == 80.0


def test_fewer_folds_than_asked_when_the_data_allow_fewer_with_a_note():
    frame = rows_at(dict.fromkeys(TEN_MONTHS, 40))
    folds = plan_folds(frame, plan_split(frame, 20), 5)
    assert len(folds.folds) == 3  # a fourth would train on nothing
    assert folds.note().startswith("--folds 5: the data allow 3 rolling-origin fold(s)")


def test_a_fold_with_a_one_class_validation_block_is_dropped_earlier_ones_kept():
    frame = rows_at(dict.fromkeys(TEN_MONTHS, 40))
    frame.loc[frame["cutoff"].isin(pd.to_datetime(TEN_MONTHS[4:6])), "label"] = 0
    folds = plan_folds(frame, plan_split(frame, 20), 3)
    assert [f["validation"] for f in fold_cutoffs(frame, folds)] == [
        TEN_MONTHS[2:4],
        TEN_MONTHS[6:8],
    ]


def test_zero_folds_are_refused():
    frame = rows_at(dict.fromkeys(TEN_MONTHS, 40))
    with pytest.raises(UsagecastError, match="--folds must be at least 1"):
        plan_folds(frame, plan_split(frame, 20), 0)


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(
    days=st.lists(st.integers(min_value=0, max_value=365), min_size=60, max_size=300),
    minutes=st.integers(min_value=0, max_value=24 * 60 - 1),
    positives=st.lists(st.booleans(), min_size=300, max_size=300),
    horizon=st.integers(min_value=1, max_value=45),
    requested=st.integers(min_value=1, max_value=6),
)
def test_every_fold_trains_before_its_embargo_and_never_touches_test(
    days, minutes, positives, horizon, requested
):
    cutoffs = [
        pd.Timestamp("2024-01-01") + pd.Timedelta(days=d, minutes=(minutes * i) % 1440)
        for i, d in enumerate(days)
    ]
    frame = pd.DataFrame(
        {"cutoff": pd.to_datetime(cutoffs), "label": [int(p) for p in positives[: len(days)]]}
    )
    try:
        plan = plan_split(frame, horizon)
    except UsagecastError:
        assume(False)
    folds = plan_folds(frame, plan, requested)
    window = pd.Timedelta(days=horizon)
    assert 1 <= len(folds.folds) <= requested
    assert (folds.folds[-1].start, folds.folds[-1].end) == (plan.validation_from, plan.test_from)
    previous_validation_end = None
    for fold in folds.folds:
        train, validation = fold_frames(frame, fold, horizon)
        assert (train["cutoff"] + window <= fold.start).all()  # embargo before validation
        assert (validation["cutoff"] >= fold.start).all()
        assert (validation["cutoff"] + window <= fold.end).all()
        assert (validation["cutoff"] + window <= plan.test_from).all()  # test untouched
        assert (train["cutoff"] < plan.test_from).all()
        assert (fold.train.rows, fold.validation.rows) == (len(train), len(validation))
        assert min(fold.validation.positives, fold.validation.negatives) >= MIN_CLASS_ROWS
        assert min(fold.train.positives, fold.train.negatives) >= MIN_CLASS_ROWS
        if previous_validation_end is not None:  # ordered, disjoint blocks
            assert validation["cutoff"].min() > previous_validation_end
        previous_validation_end = validation["cutoff"].max()


@given(
    days=st.lists(st.integers(min_value=0, max_value=365), min_size=60, max_size=300),
    minutes=st.integers(min_value=0, max_value=24 * 60 - 1),
    positives=st.lists(st.booleans(), min_size=300, max_size=300),
    horizon=st.integers(min_value=1, max_value=45),
)
def test_rows_labelled_by_test_from_are_train_embargoed_and_validation_never_test(
    days, minutes, positives, horizon
):
    """The rows a refit at test_from learns from: every row whose label is known by then (train,
    validation and the embargo between them, not the one before test), in the frame's order."""
    cutoffs = [
        pd.Timestamp("2024-01-01") + pd.Timedelta(days=d, minutes=(minutes * i) % 1440)
        for i, d in enumerate(days)
    ]
    frame = pd.DataFrame(
        {
            "row": range(len(days)),
            "cutoff": pd.to_datetime(cutoffs),
            "label": [int(p) for p in positives[: len(days)]],
        }
    )
    try:
        plan = plan_split(frame, horizon)
    except UsagecastError:
        assume(False)
    known = labelled_by(frame, plan.test_from, horizon)
    parts = assign_parts(frame["cutoff"], plan.validation_from, plan.test_from, horizon)
    in_time = frame["cutoff"] + pd.Timedelta(days=horizon) <= plan.test_from
    assert known["row"].tolist() == frame["row"][in_time].tolist()
    assert set(parts[in_time]) <= {"train", "embargoed", "validation"}
    split = apply_split(frame, plan)
    assert set(split.train["row"]) | set(split.validation["row"]) <= set(known["row"])
    assert not set(split.test["row"]) & set(known["row"])
