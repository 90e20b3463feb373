"""A/B tests: sticky hash assignment and the analysis of a conversion metric.

Assignment: bucket = first 8 bytes of sha256("<salt>:<user_id>") modulo 10,000; a split such
as 10/45/45 maps bucket ranges to groups. The same user, salt and split give the same group in
any process, forever; different salts give independent assignments.

Logged experiments: an experiment run outside usagecast (an experiment platform, the
simulator's `--experiment`) is read from the store's EXPERIMENT_ASSIGNED events (item_id = the
experiment, area = the user's arm); its start is the midnight before the first exposure.

Analysis of "event_within EVENT Nd": a user enters a saved experiment at their first event on
or after the start date, a logged one at their first exposure (a platform logs only the users
it exposed, often long after they were first active); they convert if they do EVENT within N
days of entering ("value_within EVENT Nd": their outcome is the sum of EVENT's values in those
days; "count_within EVENT Nd": the number of EVENTs, compared as a mean like a value). Users
whose N days run past the end of the data are censored (counted, not labelled). Each later
group is compared with the first (the control).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, cast

import numpy as np
import pandas as pd
import sqlglot.expressions as exp
from numpy.typing import ArrayLike
from scipy import optimize, stats

from analytics.channels import MISSING_CHANNEL
from analytics.filters import NO_FILTERS, Filters, combine, time_range_condition, timestamp_literal
from analytics.scope import (
    SCOPED_USERS,
    data_end_seconds,
    days_interval,
    product_use,
    render,
    segment_condition,
)
from contracts.errors import UsagecastError
from events.store import EXPERIMENT_ASSIGNED
from features.engines import Engine

BUCKETS = 10_000
_SPLIT_PATTERN = re.compile(r"^\d+(\.\d{1,2})?(/\d+(\.\d{1,2})?)+$")
_METRIC_PATTERN = re.compile(r"^(event_within|value_within|count_within)\s+(\S+)\s+(\d+)d$")
MetricKind = Literal["event_within", "value_within", "count_within"]
# A logged arm named so (in any case: Statsig's `Control`, Optimizely's `Original`, a
# holdout's or Optimizely's holdback users) is the control, compared with every other; the
# first name here wins where two arms have one.
CONTROL_ARM_NAMES = ("control", "baseline", "original", "holdout", "holdback")


@dataclass(frozen=True)
class Experiment:
    """An A/B experiment: its groups and their shares (percent), hash salt and start."""

    name: str
    groups: tuple[str, ...]
    percents: tuple[float, ...]
    salt: str
    start: datetime


@dataclass(frozen=True)
class Metric:
    """What a user's outcome is: whether they did `event` within `days` of entering
    (event_within, a conversion), the sum of its values in those days (value_within: the
    revenue per user, a user without one counting 0) or the number of times they did it
    (count_within: plays or sessions per user, an engagement metric)."""

    event: str
    days: int
    kind: MetricKind = "event_within"

    @property
    def averaged(self) -> bool:
        """Whether the outcome is an amount per user, compared as a mean (not a rate)."""
        return self.kind != "event_within"


@dataclass(frozen=True)
class ABResult:
    """Tables of an A/B analysis.

    by_month: group, month (30-day periods since the start, by entry), users, conversions,
    rate (an amount metric, value_within or count_within: users, total, mean). comparison:
    each treatment vs control: rates, difference, CI, z, p-value (an amount metric: means,
    difference, CI, Welch's t and its degrees of freedom, p-value).
    sample_ratio: observed vs expected users per group, with the chi-square p-value.
    With two or more treatments, comparison's p_value_holm holds Holm's adjusted p-values.
    cuped_theta: with CUPED, the pooled slope of the outcome on each of CUPED_COVARIATES (the
    comparison then tests the adjusted outcomes: `user_values_columns`).
    """

    by_month: pd.DataFrame
    comparison: pd.DataFrame
    sample_ratio: pd.DataFrame
    censored_users: int
    cuped_theta: tuple[float, ...] | None = None


def parse_split(text: str) -> tuple[float, ...]:
    """'50/50' or '10/45/45' -> percents; they must add up to 100 (two decimals at most)."""
    if not _SPLIT_PATTERN.match(text.strip()):
        raise UsagecastError(f"split {text!r}: write percents like 50/50 or 10/45/45")
    percents = tuple(float(part) for part in text.strip().split("/"))
    if round(sum(percents), 2) != 100 or min(percents) <= 0:
        raise UsagecastError(f"split {text!r}: percents must be positive and add up to 100")
    return percents


def default_groups(count: int) -> tuple[str, ...]:
    """control, treatment (two groups) or control, treatment_1, treatment_2, ..."""
    if count == 2:
        return ("control", "treatment")
    return ("control", *(f"treatment_{index}" for index in range(1, count)))


def make_experiment(
    name: str,
    split: str,
    start: datetime,
    *,
    salt: str | None = None,
    groups: tuple[str, ...] | None = None,
) -> Experiment:
    """An Experiment from CLI-style inputs; the salt defaults to the experiment's name."""
    percents = parse_split(split)
    names = groups or default_groups(len(percents))
    if len(names) != len(percents) or len(set(names)) != len(names):
        raise UsagecastError(
            f"groups {list(names)}: need {len(percents)} distinct names for split {split!r}"
        )
    return Experiment(name, tuple(names), percents, salt if salt is not None else name, start)


def buckets(user_ids: pd.Series | Sequence[object], salt: str) -> np.ndarray:
    """Bucket 0..BUCKETS-1 of each user id under this salt (sha256, stable everywhere)."""
    prefix = f"{salt}:".encode()
    return np.fromiter(
        (
            int.from_bytes(hashlib.sha256(prefix + str(user).encode()).digest()[:8], "big")
            % BUCKETS
            for user in user_ids
        ),
        dtype="int64",
        count=len(user_ids),
    )


def assign(user_ids: pd.Series, experiment: Experiment) -> pd.DataFrame:
    """user_id, bucket and group of each user (pure: no storage)."""
    user_buckets = buckets(user_ids, experiment.salt)
    return pd.DataFrame(
        {
            "user_id": user_ids.astype(str).to_numpy(),
            "bucket": user_buckets,
            "group": np.asarray(experiment.groups, dtype=object)[
                bucket_groups(user_buckets, experiment)
            ],
        }
    )


def bucket_groups(user_buckets: np.ndarray, experiment: Experiment) -> np.ndarray:
    """Index into `experiment.groups` of each bucket: the split's percents cut the buckets."""
    edges = np.cumsum(np.round(np.asarray(experiment.percents) * BUCKETS / 100)).astype("int64")
    return np.searchsorted(edges, user_buckets, side="right")


def parse_metric(text: str) -> Metric:
    """'event_within BUY_PREMIUM 30d' -> Metric('BUY_PREMIUM', 30); 'value_within PURCHASE
    30d' -> Metric('PURCHASE', 30, 'value_within'); likewise 'count_within PLAY 7d'."""
    match = _METRIC_PATTERN.match(text.strip())
    if match is None:
        raise UsagecastError(
            f"metric {text!r}: write it as 'event_within EVENT_TYPE Nd' (a conversion), "
            "'value_within EVENT_TYPE Nd' (the sum of its values per user) or 'count_within "
            "EVENT_TYPE Nd' (its events per user), e.g. 'event_within BUY_PREMIUM 30d'"
        )
    days = int(match.group(3))
    if days < 1:
        raise UsagecastError(f"metric {text!r}: the window must be at least 1 day")
    return Metric(match.group(2), days, cast(MetricKind, match.group(1)))


# :entry picks the events a user enters at: any (a saved experiment) or the experiment's
# EXPERIMENT_ASSIGNED events (a logged one); :amount is what an event of the metric adds to
# `value` (`_amount`).
_OUTCOMES = f"""
WITH {SCOPED_USERS},
entries AS (
    SELECT e.user_id, MIN(e.event_time) AS entered_at
    FROM events AS e JOIN scoped_users AS su ON e.user_id = su.user_id
    WHERE e.event_time >= :start AND :before_end AND :entry
    GROUP BY e.user_id
)
SELECT en.user_id, en.entered_at,
       FLOOR(epoch(en.entered_at)) AS entered_s,
       MAX(CASE WHEN e.event_type = :event AND e.event_time >= en.entered_at
                     AND e.event_time < en.entered_at + :window THEN 1 ELSE 0 END) AS converted,
       SUM(CASE WHEN e.event_type = :event AND e.event_time >= en.entered_at
                     AND e.event_time < en.entered_at + :window
                THEN :amount ELSE 0 END) AS value,
       MAX(CASE WHEN e.event_type = :event AND e.event_time >= en.entered_at - :window
                     AND e.event_time < en.entered_at THEN 1 ELSE 0 END) AS pre_converted,
       SUM(CASE WHEN e.event_type = :event AND e.event_time >= en.entered_at - :window
                     AND e.event_time < en.entered_at
                THEN :amount ELSE 0 END) AS pre_value,
       SUM(CASE WHEN :product_use AND e.event_time >= en.entered_at - :window
                     AND e.event_time < en.entered_at THEN 1 ELSE 0 END) AS pre_events
FROM entries AS en JOIN events AS e ON e.user_id = en.user_id
GROUP BY en.user_id, en.entered_at
"""


_LOGGED = """
SELECT user_id, MIN(area) AS arm, MAX(area) AS other_arm, MIN(event_time) AS exposed_at
FROM events
WHERE event_type = :event AND item_id = :name
GROUP BY user_id
"""


# A user logged in two arms of one experiment (a device id merged into a login, a bucketing
# bug) has no arm to compare: they are left out and counted. From this share of the exposed
# users on, the analysis warns that the assignment itself may be broken.
TWO_ARMS_WARNING_SHARE = 0.01


@dataclass(frozen=True)
class LoggedAssignment:
    """A logged experiment's users of one arm (user_id, group, exposed_at; empty when none
    is in the store) and the users logged in two arms, left out."""

    groups: pd.DataFrame
    in_two_arms: int

    def left_out(self) -> str:
        """The users left out, in words ('' when none), with a warning from
        TWO_ARMS_WARNING_SHARE of the exposed users on."""
        if not self.in_two_arms:
            return ""
        share = self.in_two_arms / (self.in_two_arms + len(self.groups))
        users = "1 user" if self.in_two_arms == 1 else f"{self.in_two_arms:,} users"
        text = f"{users} logged in two arms left out"
        if share >= TWO_ARMS_WARNING_SHARE:
            text += (
                f" (warning: {share:.1%} of the exposed users, so the assignment may be broken: "
                "ids merged across devices, or arms changed mid-experiment?)"
            )
        return text


def logged_assignment(engine: Engine, name: str) -> LoggedAssignment:
    """The users of logged experiment `name` and their arms; a user logged in two arms is
    left out and counted."""
    rows = engine.query(render(_LOGGED, event=EXPERIMENT_ASSIGNED, name=name))
    one_arm = rows[rows["arm"] == rows["other_arm"]]
    groups = pd.DataFrame(
        {
            "user_id": one_arm["user_id"].astype(str),
            "group": one_arm["arm"].astype(str),
            "exposed_at": one_arm["exposed_at"],
        }
    ).reset_index(drop=True)
    return LoggedAssignment(groups, len(rows) - len(one_arm))


def logged_experiment(name: str, assignment: pd.DataFrame, split: str | None) -> Experiment:
    """The Experiment of logged assignments: control first when an arm is called so
    (CONTROL_ARM_NAMES, in its order), the others alphabetical; the planned split from
    `split` (else the observed shares: the sample-ratio check then has nothing to test), no
    salt (nothing is hashed), start at the midnight of the first exposure."""
    ranks = {name: rank for rank, name in enumerate(CONTROL_ARM_NAMES)}
    arms = sorted(
        set(assignment["group"]),
        key=lambda arm: (ranks.get(arm.casefold(), len(ranks)), arm),
    )
    if len(arms) < 2:
        raise UsagecastError(f"experiment {name!r}: the store logs one arm only ({arms})")
    if split is None:
        counts = assignment["group"].value_counts()
        percents = tuple(100 * counts[arm] / len(assignment) for arm in arms)
    else:
        percents = parse_split(split)
        if len(percents) != len(arms):
            raise UsagecastError(
                f"split {split!r}: the store logs {len(arms)} arms ({', '.join(arms)})"
            )
    start = pd.Timestamp(assignment["exposed_at"].min()).normalize().to_pydatetime()
    return Experiment(name, tuple(arms), percents, "", start)


def exposure_condition(name: str) -> exp.Expression:
    """`e` is an exposure to logged experiment `name`."""
    return exp.and_(
        exp.column("event_type", table="e").eq(exp.Literal.string(EXPERIMENT_ASSIGNED)),
        exp.column("item_id", table="e").eq(exp.Literal.string(name)),
    )


def _amount(metric: Metric) -> exp.Expression:
    """What one event of the metric adds to a user's amount: its value, or 1 (count_within)."""
    if metric.kind == "count_within":
        return exp.Literal.number(1)
    return exp.func("COALESCE", exp.column("value", table="e"), exp.Literal.number(0))


def user_outcomes(
    engine: Engine,
    experiment: Experiment,
    metric: Metric,
    filters: Filters = NO_FILTERS,
    *,
    logged: bool = False,
) -> pd.DataFrame:
    """user_id, entered_at, converted (0/1), value (the metric's amount in the window: the sum of
    the event's values, or for count_within its events), censored (bool) and
    CUPED_COVARIATES (the metric's own outcome and the events of product use in the
    window's length before entry) for users who entered: at their first event from the
    start, or, `logged`, at their first exposure to the experiment."""
    if filters.area_prefix is not None:
        raise UsagecastError("ab analyze: an area filter does not apply to an A/B metric")
    end_s = data_end_seconds(engine, filters)
    start = max(experiment.start, filters.start) if filters.start else experiment.start
    end_condition = time_range_condition(
        exp.column("event_time", table="e"), Filters(end=filters.end)
    )
    sql = render(
        _OUTCOMES,
        segment=segment_condition(engine, filters),
        start=timestamp_literal(start),
        before_end=combine(end_condition),
        event=metric.event,
        window=days_interval(metric.days),
        entry=exposure_condition(experiment.name) if logged else exp.true(),
        product_use=product_use(filters),
        amount=_amount(metric),
    )
    outcomes = engine.query(sql)
    outcomes["user_id"] = outcomes["user_id"].astype(str)
    outcomes["converted"] = outcomes["converted"].astype("int64")
    outcomes["value"] = outcomes["value"].astype("float64")
    outcomes["censored"] = outcomes["entered_s"] + metric.days * 86_400 > end_s
    outcomes["pre_outcome"] = (
        outcomes["pre_value"] if metric.averaged else outcomes["pre_converted"]
    ).astype("float64")
    outcomes["pre_events"] = outcomes["pre_events"].astype("float64")
    return outcomes[["user_id", "entered_at", "converted", "value", "censored", *CUPED_COVARIATES]]


def analyze(
    outcomes: pd.DataFrame,
    assignment: pd.DataFrame,
    experiment: Experiment,
    alpha: float = 0.05,
    kind: MetricKind = "event_within",
    *,
    cuped: bool = False,
    mixing_sd: float | None = None,
) -> ABResult:
    """Rates (an amount metric: means) per group and month since start, treatment-vs-control
    tests and the SRM check; `cuped`: the tests on the outcomes adjusted by the users'
    pre-entry covariates (`cuped_adjusted`); `mixing_sd`: always-valid tests
    (`sequential_test`) instead of fixed-sample ones.

    `outcomes` has user_id, entered_at, converted, value, censored (and, for CUPED,
    CUPED_COVARIATES); `assignment` user_id, group.
    """
    merged = outcomes.merge(assignment[["user_id", "group"]], on="user_id", how="left")
    unassigned = merged["group"].isna()
    if unassigned.any():
        example = merged.loc[unassigned, "user_id"].iloc[0]
        raise UsagecastError(
            f"experiment {experiment.name!r}: {int(unassigned.sum())} users entered but have "
            f"no group (e.g. user {example!r}); run `usagecast ab assign` again"
        )
    censored = int(merged["censored"].sum())
    observed = merged[~merged["censored"]].copy()
    empty = [group for group in experiment.groups if not (observed["group"] == group).any()]
    if empty:
        why = (
            f"{censored:,} entered users' metric windows run past the end of the data "
            "(censored): shorten the window or analyse later data"
            if censored
            else "no user of theirs entered the experiment"
        )
        raise UsagecastError(
            f"experiment {experiment.name!r}: nothing to compare, no observed user in "
            f"{', '.join(map(repr, empty))}; {why}"
        )
    elapsed = (observed["entered_at"] - pd.Timestamp(experiment.start)).dt.total_seconds()
    observed["month"] = (elapsed // (30 * 86_400)).astype("int64")
    if kind != "event_within":
        by_month = (
            observed.groupby(["group", "month"])["value"]
            .agg(users="size", total="sum", mean="mean")
            .reset_index()
        )
    else:
        by_month = (
            observed.groupby(["group", "month"])["converted"]
            .agg(users="size", conversions="sum")
            .reset_index()
        )
        by_month["rate"] = by_month["conversions"] / by_month["users"]
    rows, columns, theta = _tests(
        observed, experiment.groups, kind, alpha, cuped=cuped, mixing_sd=mixing_sd
    )
    comparison = pd.DataFrame(
        [
            row | {"control": experiment.groups[0], "treatment": group}
            for row, group in zip(rows, experiment.groups[1:], strict=True)
        ]
    )[["control", "treatment", *columns]]
    if len(comparison) > 1:  # several treatments, each tested against the control
        comparison["p_value_holm"] = holm(comparison["p_value"].to_numpy())
    users = observed.groupby("group").size()
    return ABResult(
        by_month=by_month,
        comparison=comparison,
        sample_ratio=sample_ratio_check(users, experiment),
        censored_users=censored,
        cuped_theta=None if theta is None else tuple(float(slope) for slope in theta),
    )


def _tests(
    observed: pd.DataFrame,
    groups: tuple[str, ...],
    kind: MetricKind,
    alpha: float,
    *,
    cuped: bool,
    mixing_sd: float | None,
) -> tuple[list[dict], tuple[str, ...], np.ndarray | None]:
    """Each treatment's test against the control (the first group), its columns, and CUPED's
    slopes when it adjusted the outcomes; `mixing_sd` asks for the always-valid test."""
    control = observed["group"] == groups[0]
    treatments = [observed["group"] == group for group in groups[1:]]
    if cuped or mixing_sd is not None:
        outcome, statistic = ("value", "mean") if kind != "event_within" else ("converted", "rate")
        values = observed[outcome].to_numpy(dtype="float64")
        adjusted, theta = (
            cuped_adjusted(values, observed[list(CUPED_COVARIATES)].to_numpy(dtype="float64"))
            if cuped
            else (values, None)
        )
        frame = observed.assign(adjusted=adjusted)
        rows = [
            user_values_test(
                frame[control], frame[treatment], outcome, statistic, alpha, cuped, mixing_sd
            )
            for treatment in treatments
        ]
        return rows, user_values_columns(statistic, cuped, mixing_sd is not None), theta
    if kind != "event_within":
        values = observed["value"]
        rows = [welch_test(values[control], values[treatment], alpha) for treatment in treatments]
        return rows, MEAN_TEST_COLUMNS, None
    totals = observed.groupby("group")["converted"].agg(users="size", conversions="sum")
    rows = [
        two_proportion_test(totals.loc[groups[0]], totals.loc[group], alpha)
        for group in groups[1:]
    ]
    return rows, TEST_COLUMNS, None


def holm(p_values: np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment: p-values whose rejections at alpha keep the chance of any
    false rejection among the comparisons at alpha (an experiment with several treatments
    tests each against the control; the smallest is multiplied by their number)."""
    count = len(p_values)
    order = np.argsort(p_values, kind="stable")
    stepped = np.maximum.accumulate(p_values[order] * (count - np.arange(count)))
    adjusted = np.empty(count)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


@dataclass(frozen=True)
class SegmentComparison:
    """An experiment's comparison within each value of a user attribute (`attribute`):
    `table` holds the value, then the comparison's columns; `skipped` the values where an
    arm had too few observed users to compare."""

    attribute: str
    table: pd.DataFrame
    skipped: tuple[str, ...]


def by_segment(
    outcomes: pd.DataFrame,
    assignment: pd.DataFrame,
    experiment: Experiment,
    values: pd.DataFrame,
    attribute: str,
    alpha: float = 0.05,
    kind: MetricKind = "event_within",
    *,
    cuped: bool = False,
    mixing_sd: float | None = None,
) -> SegmentComparison:
    """`analyze`'s comparison within each value of `values` (user_id, attribute: a user
    attribute's value), for effects that differ between segments; the intervals are per
    segment, so with many segments some exclude 0 by chance."""
    merged = outcomes.merge(values, on="user_id", how="left")
    merged["attribute"] = merged["attribute"].fillna(MISSING_CHANNEL)  # a user `values` lacks
    parts, skipped = [], []
    for value, part in merged.groupby("attribute", sort=True):
        try:
            found = analyze(
                part, assignment, experiment, alpha, kind, cuped=cuped, mixing_sd=mixing_sd
            )
        except UsagecastError:  # an arm without (enough) observed users in this segment
            skipped.append(str(value))
            continue
        parts.append(found.comparison.assign(**{attribute: str(value)}))
    if not parts:
        raise UsagecastError(
            f"experiment {experiment.name!r}: no value of {attribute!r} has observed users in "
            "every arm to compare"
        )
    table = pd.concat(parts, ignore_index=True)
    return SegmentComparison(
        attribute,
        table[[attribute, *(column for column in table.columns if column != attribute)]],
        tuple(skipped),
    )


TEST_COLUMNS = (
    "control_users",
    "control_rate",
    "treatment_users",
    "treatment_rate",
    "difference",
    "ci_low",
    "ci_high",
    "z",
    "p_value",
)


MEAN_TEST_COLUMNS = (
    "control_users",
    "control_mean",
    "treatment_users",
    "treatment_mean",
    "difference",
    "ci_low",
    "ci_high",
    "t",
    "degrees_of_freedom",
    "p_value",
)


# CUPED's covariates, each over the metric's window length before the user entered, so
# the treatment cannot have moved them: the metric's own outcome there (converted, or the
# sum of values) and the user's events of product use.
CUPED_COVARIATES = ("pre_outcome", "pre_events")


def cuped_adjusted(outcome: np.ndarray, covariates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """CUPED (Deng et al. 2013, several covariates): the outcomes less the part their
    pre-entry covariates predict, `outcome - (covariates - their means) @ theta`, and theta,
    the least-squares slopes over every group's users together. Assignment is independent
    of anything before entry, so each group's mean moves by the same amount in expectation:
    the differences keep their expectation and lose the variance the covariates explain. A
    covariate without spread gets slope 0 (its centred values are set to exactly 0: the mean
    of equal floats can differ from them in the last bit, and least squares would fit that
    rounding)."""
    centered = np.where(np.ptp(covariates, axis=0) > 0, covariates - covariates.mean(axis=0), 0.0)
    theta = np.linalg.lstsq(centered, outcome - outcome.mean(), rcond=None)[0]
    return outcome - centered @ theta, theta


def user_values_columns(statistic: str, cuped: bool, sequential: bool) -> tuple[str, ...]:
    """The comparison's columns of a test on per-user values: the groups' raw rates (or
    means); with CUPED the raw and the adjusted difference and the share of the difference's
    variance the adjustment removed; the Welch test's t and degrees of freedom unless the
    test is the always-valid one."""
    return (
        "control_users",
        f"control_{statistic}",
        "treatment_users",
        f"treatment_{statistic}",
        *(("unadjusted_difference",) if cuped else ()),
        "difference",
        "ci_low",
        "ci_high",
        *(() if sequential else ("t", "degrees_of_freedom")),
        "p_value",
        *(("variance_reduction",) if cuped else ()),
    )


def user_values_test(
    control: pd.DataFrame,
    treatment: pd.DataFrame,
    outcome: str,
    statistic: str,
    alpha: float,
    cuped: bool,
    mixing_sd: float | None,
) -> dict:
    """The test of the `adjusted` outcomes (treatment - control; the raw ones without CUPED)
    beside the groups' raw `outcome` statistic: Welch's, or with `mixing_sd` the always-valid
    one (`sequential_test`). A conversion's adjusted outcomes are not 0/1, so its test is on
    means too (the normal approximation the z-test also rests on)."""
    values = control["adjusted"], treatment["adjusted"]
    test = (
        welch_test(*values, alpha)
        if mixing_sd is None
        else sequential_test(*values, alpha, mixing_sd)
    )
    row = {
        **test,  # first: Welch's own means are of the adjusted values, the raw ones win
        "control_users": len(control),
        f"control_{statistic}": float(control[outcome].mean()),
        "treatment_users": len(treatment),
        f"treatment_{statistic}": float(treatment[outcome].mean()),
    }
    if cuped:
        raw = _difference_variance(control[outcome], treatment[outcome])
        row["unadjusted_difference"] = float(treatment[outcome].mean() - control[outcome].mean())
        row["variance_reduction"] = 1 - _difference_variance(*values) / raw if raw > 0 else 0.0
    return row


def sequential_test(
    control: pd.Series, treatment: pd.Series, alpha: float, mixing_sd: float
) -> dict:
    """The always-valid test of the difference of means (`always_valid`): its p-value and
    interval hold at alpha however often the analysis is repeated as users accrue, where a
    fixed test's would not."""
    if mixing_sd <= 0:
        raise UsagecastError(f"sequential mixing sd {mixing_sd}: must be positive")
    if len(control) < 2 or len(treatment) < 2:
        raise UsagecastError("ab analyze: a test needs at least 2 observed users in each group")
    difference = float(treatment.mean() - control.mean())
    variance = _difference_variance(control, treatment)
    if variance == 0:  # every user of both groups has one value each
        margin, p_value = 0.0, float(difference == 0)
    else:
        margin, p_value = (float(x) for x in always_valid(difference, variance, alpha, mixing_sd))
    return {
        "difference": difference,
        "ci_low": difference - margin,
        "ci_high": difference + margin,
        "p_value": p_value,
    }


def always_valid(
    difference: ArrayLike, variance: ArrayLike, alpha: float, mixing_sd: float
) -> tuple[np.ndarray, np.ndarray]:
    """mSPRT (Johari et al. 2017) on a difference with a (positive) variance: the margin of
    its always-valid interval at 1 - alpha and its always-valid p-value. The likelihood
    ratio of the difference against 0, averaged over effects drawn from N(0, mixing_sd^2), is
    a martingale under no effect, so by Ville's inequality it passes 1/alpha with chance at
    most alpha over all looks; mixing_sd is the size of effect the test is most sensitive to
    (the plan's minimum detectable effect), fixed before looking."""
    difference, variance = np.asarray(difference, float), np.asarray(variance, float)
    mixing = mixing_sd**2
    widening = np.log((variance + mixing) / variance)
    log_ratio = difference**2 * mixing / (2 * variance * (variance + mixing)) - widening / 2
    p_value = np.minimum(1.0, np.exp(-log_ratio))
    margin = np.sqrt(variance * (variance + mixing) / mixing * (2 * np.log(1 / alpha) + widening))
    return margin, p_value


def _difference_variance(control: pd.Series, treatment: pd.Series) -> float:
    """The variance of the difference of two independent groups' means."""
    return float(control.var(ddof=1)) / len(control) + float(treatment.var(ddof=1)) / len(
        treatment
    )


def welch_test(control: pd.Series, treatment: pd.Series, alpha: float) -> dict:
    """Difference of means (treatment - control) with Welch's t-test (unequal variances) and
    its CI at 1 - alpha: per-user revenue, mostly zeros and a long tail, needs no equal
    spread; the mean's normality rests on the group sizes."""
    n_c, n_t = len(control), len(treatment)
    if n_c < 2 or n_t < 2:
        raise UsagecastError(
            "ab analyze: an amount metric needs at least 2 observed users in each group"
        )
    m_c, m_t = float(control.mean()), float(treatment.mean())
    v_c, v_t = float(control.var(ddof=1)) / n_c, float(treatment.var(ddof=1)) / n_t
    difference = m_t - m_c
    spread = np.sqrt(v_c + v_t)
    if spread == 0:  # every user of both groups has one value each
        t = 0.0 if difference == 0 else float(np.sign(difference) * np.inf)
        dof, p_value, margin = float(n_c + n_t - 2), float(difference == 0), 0.0
    else:
        # Welch-Satterthwaite, on the variances' shares: their squares underflow to 0 for a
        # spread such as 1e-160 (values a few ulps apart), their shares never do.
        share_c, share_t = v_c / (v_c + v_t), v_t / (v_c + v_t)
        dof = 1 / (share_c**2 / (n_c - 1) + share_t**2 / (n_t - 1))
        t = difference / spread
        p_value = float(2 * stats.t.sf(abs(t), dof))
        margin = float(stats.t.ppf(1 - alpha / 2, dof) * spread)
    return {
        "control_users": n_c,
        "control_mean": m_c,
        "treatment_users": n_t,
        "treatment_mean": m_t,
        "difference": difference,
        "ci_low": difference - margin,
        "ci_high": difference + margin,
        "t": float(t),
        "degrees_of_freedom": float(dof),
        "p_value": p_value,
    }


def two_proportion_test(control: pd.Series, treatment: pd.Series, alpha: float) -> dict:
    """Difference of rates (treatment - control), Wald CI at 1 - alpha, pooled z-test p."""
    n_c, n_t = int(control["users"]), int(treatment["users"])  # analyze checks both > 0
    p_c, p_t = control["conversions"] / n_c, treatment["conversions"] / n_t
    difference = p_t - p_c
    spread = np.sqrt(p_c * (1 - p_c) / n_c + p_t * (1 - p_t) / n_t)
    margin = stats.norm.ppf(1 - alpha / 2) * spread
    pooled = (control["conversions"] + treatment["conversions"]) / (n_c + n_t)
    pooled_spread = np.sqrt(pooled * (1 - pooled) * (1 / n_c + 1 / n_t))
    z = difference / pooled_spread if pooled_spread > 0 else 0.0
    return {
        "control_users": n_c,
        "control_rate": p_c,
        "treatment_users": n_t,
        "treatment_rate": p_t,
        "difference": difference,
        "ci_low": difference - margin,
        "ci_high": difference + margin,
        "z": z,
        "p_value": float(2 * stats.norm.sf(abs(z))),
    }


@dataclass(frozen=True)
class Baseline:
    """What the control is expected to do: a conversion rate, or an amount metric's mean and
    standard deviation per user (sd None for a rate)."""

    mean: float
    sd: float | None = None


@dataclass(frozen=True)
class MeasuredBaseline:
    """A metric's baseline in the store: `baseline` over the `users` who entered in
    [start, end), each with their metric window observed; `cuped_reduction`, the share of
    their outcome's variance that CUPED's covariates explain (what CUPED would remove)."""

    baseline: Baseline
    users: int
    start: datetime
    end: datetime
    cuped_reduction: float

    @property
    def users_per_day(self) -> float:
        return self.users / ((self.end - self.start).total_seconds() / 86_400)


def measured_baseline(
    engine: Engine, metric: Metric, filters: Filters = NO_FILTERS, days: int = 56
) -> MeasuredBaseline:
    """The metric's outcome over the users who entered (their first event, as a saved
    experiment's users enter) in the `days` before the last window that the data holds
    whole: the control a test started now would show, at its users per day."""
    if days < 1:
        raise UsagecastError(f"baseline days {days}: must be at least 1")
    end = pd.Timestamp(data_end_seconds(engine, filters), unit="s") - pd.Timedelta(
        days=metric.days
    )
    start = (end - pd.Timedelta(days=days)).to_pydatetime()
    experiment = Experiment("baseline", ("control",), (100.0,), "", start)
    outcomes = user_outcomes(engine, experiment, metric, filters)
    observed = outcomes[~outcomes["censored"]]
    if observed.empty:
        raise UsagecastError(
            f"no user entered between {start:%Y-%m-%d} and {end:%Y-%m-%d} with their "
            f"{metric.days}-day window inside the data: give --baseline instead"
        )
    if metric.averaged:
        values = observed["value"]
        baseline = Baseline(
            float(values.mean()), float(values.std(ddof=1)) if len(values) > 1 else 0.0
        )
    else:
        baseline = Baseline(float(observed["converted"].mean()))
    outcome = observed["value" if metric.averaged else "converted"].to_numpy(dtype="float64")
    adjusted, _ = cuped_adjusted(outcome, observed[list(CUPED_COVARIATES)].to_numpy("float64"))
    spread = float(np.var(outcome))
    reduction = 1 - float(np.var(adjusted)) / spread if spread > 0 else 0.0
    return MeasuredBaseline(baseline, len(observed), start, end.to_pydatetime(), reduction)


def required_users(
    baseline: Baseline,
    effect: float,
    percents: Sequence[float],
    alpha: float,
    power: float,
    variance_reduction: float = 0.0,
    *,
    sequential: bool = False,
) -> tuple[int, ...]:
    """Users each arm needs so that every treatment's two-sided test at `alpha` detects an
    absolute `effect` on the baseline with probability `power` (the normal approximation the
    analysis tests with: pooled variance under no effect for a rate, the two groups'
    variances for a mean), the arms in the split's shares (the first is the control). With
    CUPED removing `variance_reduction` of the outcome's variance, that share fewer users.
    `sequential`: for the always-valid test with mixing sd `effect` (`ab analyze
    --sequential`), detecting it with `power` when the last of the users is in."""
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise UsagecastError(f"alpha {alpha} and power {power}: each must be within (0, 1)")
    if not 0 <= variance_reduction < 1:
        raise UsagecastError(f"variance reduction {variance_reduction}: must be within [0, 1)")
    if effect == 0:
        raise UsagecastError("the minimum detectable effect must not be 0")
    if baseline.sd is not None and baseline.sd <= 0:
        raise UsagecastError("every baseline user has the same value: no spread to plan on")
    z = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(power)
    control, treatments = percents[0], percents[1:]
    needed = 0.0  # the control's users: the most any treatment's comparison needs
    for share in treatments:
        ratio = share / control  # treatment users per control user
        if baseline.sd is None:
            p_c, p_t = baseline.mean, baseline.mean + effect
            if not (0 < p_c < 1 and 0 < p_t < 1):
                raise UsagecastError(
                    f"a rate of {p_c:.4g} moved by {effect:+.4g} leaves (0, 1): nothing to plan"
                )
            spread = p_c * (1 - p_c) + p_t * (1 - p_t) / ratio  # a control user's share
            pooled = (p_c + ratio * p_t) / (1 + ratio)
            null = z[0] * np.sqrt(pooled * (1 - pooled) * (1 + 1 / ratio))
            users = (null + z[1] * np.sqrt(spread)) ** 2 / effect**2
        else:
            spread = baseline.sd**2 * (1 + 1 / ratio)
            users = (z[0] + z[1]) ** 2 * spread / effect**2
        kept = 1 - variance_reduction
        if sequential:
            users = _sequential_users(spread * kept, effect, alpha, z[1])
        else:
            users *= kept
        needed = max(needed, users)
    return tuple(int(np.ceil(needed * share / control)) for share in percents)


def _sequential_users(spread: float, effect: float, alpha: float, z_power: float) -> float:
    """Control users at which the always-valid test (mixing sd |effect|) leaves out 0 with
    the probability that z_power stands for, when the difference is `effect`: where |effect|
    = its margin + z_power standard errors, the difference's variance being spread / users."""
    size = abs(effect)

    def shortfall(users: float) -> float:
        variance = spread / users
        margin = always_valid(0.0, variance, alpha, size)[0]
        return float(size - margin - z_power * np.sqrt(variance))

    return float(optimize.brentq(shortfall, 1e-6, 1e15, xtol=1e-6))


def sample_ratio_check(users: pd.Series, experiment: Experiment) -> pd.DataFrame:
    """Chi-square goodness of fit of users per group against the planned split."""
    observed = users.reindex(list(experiment.groups), fill_value=0).to_numpy(dtype="float64")
    expected = observed.sum() * np.asarray(experiment.percents) / 100
    statistic, p_value = stats.chisquare(observed, expected)
    return pd.DataFrame(
        {
            "group": list(experiment.groups),
            "users": observed.astype("int64"),
            "expected_users": expected,
            "chi_square": float(statistic),
            "p_value": float(p_value),
        }
    )
