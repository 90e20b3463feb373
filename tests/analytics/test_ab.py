"""A/B assignment is sticky and splits as asked; the analysis finds real effects only."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import stats

from analytics import analyze, assign, make_experiment, parse_metric, parse_split, user_outcomes
from analytics.ab import (
    CUPED_COVARIATES,
    Baseline,
    LoggedAssignment,
    Metric,
    always_valid,
    by_segment,
    cuped_adjusted,
    holm,
    logged_experiment,
    measured_baseline,
    required_users,
    sequential_test,
    two_proportion_test,
    welch_test,
)
from contracts.errors import UsagecastError

from .conftest import at

START = datetime(2024, 1, 1)


def ids(count: int) -> pd.Series:
    return pd.Series([f"user-{number}" for number in range(count)])


def test_split_parsing():
    assert parse_split("10/45/45") == (10.0, 45.0, 45.0)
    assert parse_split("33.34/33.33/33.33") == (33.34, 33.33, 33.33)
    for bad in ("50/40", "100", "a/b", "0/100"):
        with pytest.raises(UsagecastError, match="split"):
            parse_split(bad)


@pytest.mark.slow
def test_assignment_is_stable_across_processes():
    experiment = make_experiment("checkout", "50/50", START)
    here = assign(ids(500), experiment)["group"].tolist()
    code = (
        "import pandas as pd; from datetime import datetime; "
        "from analytics import assign, make_experiment; "
        "e = make_experiment('checkout', '50/50', datetime(2024, 1, 1)); "
        "print(','.join(assign(pd.Series([f'user-{i}' for i in range(500)]), e)['group']))"
    )
    there = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert there.split(",") == here


@pytest.mark.parametrize("split", ["50/50", "10/45/45", "1/99"])
def test_split_matches_the_requested_shares_on_100k_users(split):
    experiment = make_experiment("shares", split, START)
    groups = assign(ids(100_000), experiment)["group"]
    counts = groups.value_counts().reindex(list(experiment.groups)).to_numpy()
    expected = np.asarray(experiment.percents) / 100 * 100_000
    # 5 standard deviations of a binomial count: fails by chance about once in 3.5 million.
    tolerance = 5 * np.sqrt(expected * (1 - np.asarray(experiment.percents) / 100))
    assert np.all(np.abs(counts - expected) <= tolerance)


def test_different_salts_assign_independently():
    users = ids(100_000)
    first = assign(users, make_experiment("one", "50/50", START))["group"] == "treatment"
    second = assign(users, make_experiment("two", "50/50", START))["group"] == "treatment"
    table = pd.crosstab(first, second).to_numpy()
    # Under independence each cell holds about 25,000 users.
    assert np.all(np.abs(table - 25_000) < 5 * np.sqrt(25_000 * 0.75))
    same_salt = assign(users, make_experiment("two", "50/50", START, salt="one"))["group"]
    assert (same_salt == "treatment").equals(first)


def simulated(rng: np.random.Generator, assignment: pd.DataFrame, base: float, effect: float):
    """Random user-level outcomes of an experiment whose treatment adds `effect` to the rate."""
    experiment = make_experiment("simulated", "50/50", START)
    users = len(assignment)
    rate = np.where(assignment["group"] == "treatment", base + effect, base)
    outcomes = pd.DataFrame(
        {
            "user_id": assignment["user_id"],
            "entered_at": pd.Timestamp(START) + pd.to_timedelta(rng.integers(0, 90, users), "D"),
            "converted": (rng.random(users) < rate).astype("int64"),
            "censored": False,
        }
    )
    return analyze(outcomes, assignment, experiment)


def test_a_planted_effect_is_detected():
    assignment = assign(ids(20_000), make_experiment("simulated", "50/50", START))
    result = simulated(np.random.default_rng(7), assignment, 0.10, 0.03)
    row = result.comparison.iloc[0]
    assert row["p_value"] < 0.001
    assert row["ci_low"] < 0.03 < row["ci_high"]
    assert result.sample_ratio["p_value"].iloc[0] > 0.001


@pytest.mark.slow
def test_a_a_tests_reject_at_about_alpha():
    # The hash split is fixed; each of the 300 A/A runs draws fresh outcomes (seeded).
    assignment = assign(ids(2_000), make_experiment("simulated", "50/50", START))
    p_values = [
        simulated(np.random.default_rng(seed), assignment, 0.10, 0.0).comparison["p_value"].iloc[0]
        for seed in range(300)
    ]
    rejections = np.mean(np.asarray(p_values) < 0.05)
    # 300 tests at alpha 0.05: the rejection share has standard deviation 0.0126.
    assert 0.05 - 4 * 0.0126 < rejections < 0.05 + 4 * 0.0126


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=8))
def test_holm_adjusts_step_down(p_values):
    values = np.asarray(p_values)
    adjusted = holm(values)
    count = len(values)
    # By definition: the k-th smallest times (count - k + 1), made non-decreasing, capped at 1.
    ranked = np.sort(values)
    expected = np.minimum(np.maximum.accumulate(ranked * (count - np.arange(count))), 1)
    assert np.allclose(np.sort(adjusted), expected)
    assert (adjusted >= values - 1e-12).all()
    # Rejecting where adjusted < alpha is Holm's procedure: walk up while p_(k) < alpha/(m-k+1).
    for alpha in (0.01, 0.05):
        rejected = 0
        for k, p in enumerate(ranked):
            if p >= alpha / (count - k):
                break
            rejected += 1
        assert int((adjusted < alpha).sum()) == rejected


def test_three_arms_get_holm_p_values_and_two_do_not():
    experiment = make_experiment("arms", "34/33/33", START)
    assignment = assign(ids(6_000), experiment)
    rng = np.random.default_rng(5)
    lift = assignment["group"].map({"control": 0.0, "treatment_1": 0.0, "treatment_2": 0.04})
    outcomes = pd.DataFrame(
        {
            "user_id": assignment["user_id"],
            "entered_at": pd.Timestamp(START),
            "converted": (rng.random(len(assignment)) < 0.1 + lift).astype("int64"),
            "censored": False,
        }
    )
    table = analyze(outcomes, assignment, experiment).comparison
    assert table["p_value_holm"].tolist() == pytest.approx(holm(table["p_value"].to_numpy()))
    assert (table["p_value_holm"] >= table["p_value"]).all()
    assert table["p_value_holm"].iloc[1] < 0.01 < table["p_value_holm"].iloc[0]  # the lift
    two = make_experiment("two", "50/50", START)
    assert "p_value_holm" not in analyze(outcomes, assign(ids(6_000), two), two).comparison


def test_a_breakdown_compares_within_each_value_and_names_what_it_cannot():
    experiment = make_experiment("seg", "50/50", START)
    assignment = assign(ids(6_000), experiment)
    treated = (assignment["group"] == "treatment").to_numpy()
    segment = np.where(np.arange(6_000) < 3_000, "web", "ios").astype(object)
    segment[np.flatnonzero(~treated)[:3]] = "tv"  # three control users only: nothing to compare
    rng = np.random.default_rng(2)
    lift = np.where((segment == "ios") & treated, 0.06, 0.0)  # the change helps on iOS only
    outcomes = pd.DataFrame(
        {
            "user_id": assignment["user_id"],
            "entered_at": pd.Timestamp(START),
            "converted": (rng.random(6_000) < 0.1 + lift).astype("int64"),
            "censored": False,
        }
    )
    values = pd.DataFrame({"user_id": assignment["user_id"], "attribute": segment})
    found = by_segment(outcomes, assignment, experiment, values.iloc[1:], "platform")
    table = found.table.set_index("platform")
    assert list(found.table.columns[:3]) == ["platform", "control", "treatment"]
    # user-0 is not in `values`: it is compared under (missing), alone, so not at all.
    assert sorted(table.index) == ["ios", "web"] and found.skipped == ("(missing)", "tv")
    assert (
        table.loc["ios", "ci_low"] > 0
        and table.loc["web", "ci_low"] < 0 < table.loc["web", "ci_high"]
    )
    web = outcomes.iloc[1:][segment[1:] == "web"]
    alone = analyze(web, assignment, experiment).comparison.iloc[0]
    assert table.loc["web", "difference"] == pytest.approx(alone["difference"])


def test_peeking_at_the_sequential_test_keeps_alpha_where_the_fixed_test_does_not():
    """1,000 A/A tests of a conversion, each looked at 20 times as its users accrue (100 to
    2,000 a group): a fixed test rejected at any look far more often than alpha; the
    always-valid one at most alpha (the share's sd over 1,000 is 0.007)."""
    rng = np.random.default_rng(4)
    replicas, users, looks = 1_000, 2_000, np.arange(100, 2_001, 100)
    control = (rng.random((replicas, users)) < 0.1).cumsum(axis=1)[:, looks - 1]
    treated = (rng.random((replicas, users)) < 0.1).cumsum(axis=1)[:, looks - 1]
    p_c, p_t = control / looks, treated / looks
    variance = (p_c * (1 - p_c) + p_t * (1 - p_t)) / looks
    difference = p_t - p_c
    fixed = 2 * stats.norm.sf(np.abs(difference) / np.sqrt(variance))
    _, sequential = always_valid(difference, variance, 0.05, mixing_sd=0.02)
    assert (fixed < 0.05).any(axis=1).mean() > 0.15  # peeking at a fixed test
    assert (sequential < 0.05).any(axis=1).mean() <= 0.05
    # The price of looking: a real +0.04 is found at the last look less often than by a
    # fixed test looked at once (about 0.80 against 0.97), but most of the time.
    p_t = (rng.random((replicas, users)) < 0.14).mean(axis=1)
    effect, spread = p_t - p_c[:, -1], (p_c[:, -1] * (1 - p_c[:, -1]) + p_t * (1 - p_t)) / users
    found = always_valid(effect, spread, 0.05, mixing_sd=0.02)[1] < 0.05
    fixed_found = np.abs(effect) / np.sqrt(spread) > stats.norm.ppf(0.975)
    assert 0.7 < found.mean() < fixed_found.mean()


@settings(max_examples=200, deadline=None)
@given(
    difference=st.floats(-5, 5, allow_nan=False),
    variance=st.floats(1e-6, 10),
    mixing_sd=st.floats(1e-3, 10),
    alpha=st.sampled_from([0.01, 0.05, 0.2]),
)
def test_the_always_valid_interval_leaves_0_out_exactly_when_p_is_below_alpha(
    difference, variance, mixing_sd, alpha
):
    margin, p_value = always_valid(difference, variance, alpha, mixing_sd)
    if abs(abs(difference) - margin) > 1e-9 * (1 + margin):  # not on the boundary itself
        assert (abs(difference) > margin) == (p_value < alpha)
    # Always wider than the fixed-sample normal interval at the same alpha.
    assert margin >= stats.norm.ppf(1 - alpha / 2) * np.sqrt(variance) * (1 - 1e-9)


def test_the_sequential_comparison_is_the_always_valid_test_of_the_users_values():
    experiment = make_experiment("seq", "50/50", START)
    assignment = assign(ids(4_000), experiment)
    outcomes = cuped_outcomes(np.random.default_rng(8), assignment, 0.5, "count_within")
    found = analyze(outcomes, assignment, experiment, kind="count_within", mixing_sd=0.5)
    row = found.comparison.iloc[0]
    assert "t" not in found.comparison and "degrees_of_freedom" not in found.comparison
    treated = (assignment["group"] == "treatment").to_numpy()
    values = outcomes["value"]
    assert row.to_dict() | {"control": 0, "treatment": 0} == pytest.approx(
        {
            "control": 0,
            "treatment": 0,
            "control_users": int((~treated).sum()),
            "control_mean": values[~treated].mean(),
            "treatment_users": int(treated.sum()),
            "treatment_mean": values[treated].mean(),
        }
        | sequential_test(values[~treated], values[treated], 0.05, 0.5)
    )
    fixed = analyze(outcomes, assignment, experiment, kind="count_within").comparison.iloc[0]
    assert row["ci_high"] - row["ci_low"] > fixed["ci_high"] - fixed["ci_low"]
    with pytest.raises(UsagecastError, match="must be positive"):
        analyze(outcomes, assignment, experiment, kind="count_within", mixing_sd=0.0)


@pytest.mark.parametrize(
    ("arms", "groups"),
    [
        (["B", "holdout", "Control"], ("Control", "holdout", "B")),  # control before holdout
        (["4002", "holdback", "4001"], ("holdback", "4001", "4002")),  # Optimizely's holdback
        (["B", "A"], ("A", "B")),  # no control named: alphabetical
    ],
)
def test_the_logged_control_is_the_first_control_name_present(arms, groups):
    assignment = pd.DataFrame(
        {"user_id": ids(len(arms)), "group": arms, "exposed_at": pd.Timestamp(START)}
    )
    assert logged_experiment("x", assignment, None).groups == groups


def test_sample_ratio_mismatch_is_flagged():
    experiment = make_experiment("srm", "50/50", START)
    assignment = pd.DataFrame(
        {"user_id": ids(3_000), "group": ["control"] * 1_700 + ["treatment"] * 1_300}
    )
    outcomes = pd.DataFrame(
        {
            "user_id": ids(3_000),
            "entered_at": pd.Timestamp(START),
            "converted": 0,
            "censored": False,
        }
    )
    result = analyze(outcomes, assignment, experiment)
    assert result.sample_ratio["p_value"].iloc[0] < 1e-10
    assert result.sample_ratio["expected_users"].tolist() == [1_500.0, 1_500.0]


def test_an_experiment_whose_users_are_all_censored_says_so():
    experiment = make_experiment("late", "50/50", START)
    assignment = assign(ids(40), experiment)
    outcomes = pd.DataFrame(
        {
            "user_id": ids(40),
            "entered_at": pd.Timestamp(START),
            "converted": 0,
            "value": 0.0,
            "censored": True,
        }
    )
    with pytest.raises(UsagecastError, match="40 entered users' metric windows run past the end"):
        analyze(outcomes, assignment, experiment)


def test_metric_parsing():
    assert parse_metric("event_within BUY_PREMIUM 30d") == Metric("BUY_PREMIUM", 30)
    assert parse_metric("value_within PURCHASE 7d") == Metric("PURCHASE", 7, "value_within")
    assert parse_metric("count_within PLAY 7d") == Metric("PLAY", 7, "count_within")
    assert parse_metric("count_within PLAY 7d").averaged
    assert not parse_metric("event_within PLAY 7d").averaged
    with pytest.raises(UsagecastError, match="event_within EVENT_TYPE Nd"):
        parse_metric("BUY_PREMIUM within 30 days")
    with pytest.raises(UsagecastError, match="value_within EVENT_TYPE Nd"):
        parse_metric("value_within 30d")


@pytest.mark.filterwarnings("ignore:Precision loss:RuntimeWarning")  # scipy, a constant group
@settings(max_examples=200, deadline=None)
@given(
    control=st.lists(st.sampled_from([0.0, 0.0, 0.0, 9.99, 49.0, 120.5]), min_size=2, max_size=40),
    treatment=st.lists(st.floats(0, 500, allow_nan=False), min_size=2, max_size=40),
    alpha=st.sampled_from([0.01, 0.05, 0.2]),
)
@example(control=[0.0, 0.0], treatment=[0.0, 2.030399689446614e-122], alpha=0.01)  # underflow
def test_the_welch_test_is_scipys_and_its_interval_agrees_with_its_p_value(
    control, treatment, alpha
):
    found = welch_test(pd.Series(control), pd.Series(treatment), alpha)
    assert found["difference"] == pytest.approx(np.mean(treatment) - np.mean(control))
    if np.var(control) + np.var(treatment) > 1e-6:  # else scipy warns of lost precision
        expected = stats.ttest_ind(treatment, control, equal_var=False)
        assert found["t"] == pytest.approx(expected.statistic, rel=1e-6)
        assert found["p_value"] == pytest.approx(expected.pvalue, rel=1e-6, abs=1e-12)
        # The interval leaves 0 out exactly when the test rejects at alpha.
        outside = found["ci_low"] > 0 or found["ci_high"] < 0
        if abs(found["p_value"] - alpha) > 1e-9:
            assert outside == (found["p_value"] < alpha)


def test_a_planted_revenue_effect_is_detected_and_an_aa_test_is_not():
    rng = np.random.default_rng(3)
    assignment = assign(ids(20_000), make_experiment("simulated", "50/50", START))
    treated = (assignment["group"] == "treatment").to_numpy()
    buys = rng.random(len(assignment)) < 0.1
    spend = rng.lognormal(3.5, 1.0, len(assignment))  # a long tail of spend
    experiment = make_experiment("simulated", "50/50", START)

    def result(lift: float) -> pd.Series:
        outcomes = pd.DataFrame(
            {
                "user_id": assignment["user_id"],
                "entered_at": pd.Timestamp(START),
                "converted": buys.astype("int64"),
                "value": np.where(buys, spend * np.where(treated, lift, 1.0), 0.0),
                "censored": False,
            }
        )
        found = analyze(outcomes, assignment, experiment, kind="value_within")
        assert found.by_month["mean"].notna().all()
        return found.comparison.iloc[0]

    planted = result(1.5)
    assert planted["p_value"] < 0.001 and planted["ci_low"] > 0
    assert planted["treatment_mean"] > planted["control_mean"]
    assert result(1.0)["p_value"] > 0.01


def cuped_outcomes(
    rng: np.random.Generator, assignment: pd.DataFrame, effect: float, kind: str
) -> pd.DataFrame:
    """Outcomes of users whose pre-entry behaviour predicts their outcome: an amount
    (count_within, its own count before entry `pre_outcome`) or a conversion whose rate rises
    with their events (`pre_events`); the treatment adds `effect` to the amount (the rate)."""
    users = len(assignment)
    treated = (assignment["group"] == "treatment").to_numpy()
    habit = rng.gamma(2.0, 5.0, users)  # each user's usual events of the metric per window
    pre_own = rng.poisson(habit).astype("float64")
    pre_events = pre_own + rng.poisson(5.0, users)  # with other events of product use
    if kind == "count_within":
        value = rng.poisson(habit).astype("float64") + np.where(treated, effect, 0.0)
        converted = (value > 0).astype("int64")
    else:
        rate = np.clip(habit / 40 + np.where(treated, effect, 0.0), 0, 1)
        converted = (rng.random(users) < rate).astype("int64")
        value = converted.astype("float64")
    return pd.DataFrame(
        {
            "user_id": assignment["user_id"],
            "entered_at": pd.Timestamp(START),
            "converted": converted,
            "value": value,
            "censored": False,
            "pre_outcome": pre_own if kind == "count_within" else 0.0,
            "pre_events": pre_events,
        }
    )


@pytest.mark.parametrize(("kind", "effect"), [("count_within", 0.5), ("event_within", 0.02)])
def test_cuped_keeps_a_planted_effect_and_narrows_its_interval(kind, effect):
    experiment = make_experiment("simulated", "50/50", START)
    assignment = assign(ids(8_000), experiment)
    outcomes = cuped_outcomes(np.random.default_rng(11), assignment, effect, kind)
    # 99.9% intervals: the planted effect is inside unless the seed is a 1-in-1,000 one.
    raw = analyze(outcomes, assignment, experiment, 0.001, kind).comparison.iloc[0]
    found = analyze(outcomes, assignment, experiment, 0.001, kind, cuped=True)
    row = found.comparison.iloc[0]
    statistic = "control_mean" if kind == "count_within" else "control_rate"
    assert row[statistic] == raw[statistic]  # the raw rate or mean, beside the adjusted test
    assert row["unadjusted_difference"] == pytest.approx(raw["difference"])
    assert row["ci_low"] < effect < row["ci_high"]
    width, raw_width = row["ci_high"] - row["ci_low"], raw["ci_high"] - raw["ci_low"]
    # The interval narrows by the share of the difference's variance the covariates explain.
    assert width == pytest.approx(raw_width * np.sqrt(1 - row["variance_reduction"]), rel=0.01)
    assert row["variance_reduction"] > (0.3 if kind == "count_within" else 0.02)
    assert found.cuped_theta is not None
    assert found.cuped_theta[0 if kind == "count_within" else 1] > 0


@pytest.mark.slow
def test_cuped_a_a_tests_reject_at_about_alpha():
    # The adjustment's slope is fitted on the same users: its tests must still hold alpha.
    experiment = make_experiment("simulated", "50/50", START)
    assignment = assign(ids(1_000), experiment)
    p_values = [
        analyze(
            cuped_outcomes(np.random.default_rng(seed), assignment, 0.0, "count_within"),
            assignment,
            experiment,
            kind="count_within",
            cuped=True,
        )
        .comparison["p_value"]
        .iloc[0]
        for seed in range(300)
    ]
    rejections = np.mean(np.asarray(p_values) < 0.05)
    assert 0.05 - 4 * 0.0126 < rejections < 0.05 + 4 * 0.0126


@settings(max_examples=100, deadline=None)
@given(
    outcome=st.lists(st.floats(-100, 100, allow_nan=False), min_size=3, max_size=30),
    data=st.data(),
)
def test_cuped_is_least_squares_and_a_covariate_without_spread_changes_nothing(outcome, data):
    count = len(outcome)
    covariate = data.draw(st.lists(st.integers(0, 20), min_size=count, max_size=count))
    constant = data.draw(st.floats(-5, 5, allow_nan=False))
    covariates = np.column_stack([np.asarray(covariate, float), np.full(count, constant)])
    adjusted, theta = cuped_adjusted(np.asarray(outcome), covariates)
    assert theta[1] == 0.0
    if np.ptp(covariate) > 0:
        slope = np.polyfit(covariate, outcome, 1)[0]
        assert theta[0] == pytest.approx(slope, rel=1e-6, abs=1e-9)
    # Adjusting keeps the mean and leaves residuals uncorrelated with the covariate.
    assert np.mean(adjusted) == pytest.approx(np.mean(outcome), abs=1e-9)
    assert np.dot(adjusted - adjusted.mean(), covariate - np.mean(covariate)) == pytest.approx(
        0.0, abs=1e-6 * (1 + np.abs(outcome).sum() * 20 * count)
    )


@pytest.mark.parametrize("constant", [1.9, 0.1, -3.3])
def test_a_covariate_of_equal_floats_gets_no_slope_from_rounding(constant):
    """The mean of three 1.9s is not 1.9 in floating point: centred, the column is rounding
    noise that least squares would otherwise fit."""
    covariates = np.column_stack([np.zeros(3), np.full(3, constant)])
    outcome = np.array([0.0, 0.0, 1.0])
    adjusted, theta = cuped_adjusted(outcome, covariates)
    assert theta.tolist() == [0.0, 0.0]
    assert adjusted.tolist() == outcome.tolist()


@pytest.mark.parametrize(
    ("one_arm", "two_arms", "said"),
    [
        (10, 0, ""),
        (199, 1, "1 user logged in two arms left out"),
        (99, 1, "1 user logged in two arms left out (warning: 1.0% of the exposed users"),
        (1_990, 10, "10 users logged in two arms left out"),
    ],
)
def test_users_in_two_arms_are_named_and_warned_of_from_one_percent(one_arm, two_arms, said):
    groups = pd.DataFrame({"user_id": ids(one_arm), "group": "control"})
    text = LoggedAssignment(groups, two_arms).left_out()
    assert text.startswith(said) and (said or not text)
    assert ("warning" in text) == (two_arms / (one_arm + two_arms) >= 0.01)


def test_outcomes_from_the_store_by_hand(tiny_store):
    users = [(name, at(-30), "ads") for name in "abcd"]
    events = [
        ("a", at(-5), "PLAY", "search", None),  # before the start: not an entry
        ("a", at(2), "PLAY", "search", None),  # enters day 2
        ("a", at(20), "BUY_PREMIUM", "premium", 5.0),  # within 30 days: converted
        ("b", at(1), "PLAY", "search", None),  # enters day 1
        ("b", at(40), "BUY_PREMIUM", "premium", 5.0),  # after 30 days: not converted
        ("c", at(50), "PLAY", "radio", None),  # enters day 50; window ends day 80 > end
        ("d", at(-2), "BUY_PREMIUM", "premium", 5.0),  # never active after the start
        ("d", at(70), "PLAY", "radio", None),  # enters day 70: censored too
    ]
    engine = tiny_store(users, events)
    experiment = make_experiment("store", "50/50", at(0))
    outcomes = user_outcomes(engine, experiment, parse_metric("event_within BUY_PREMIUM 30d"))
    outcomes = outcomes.sort_values("user_id", ignore_index=True)
    assert outcomes["user_id"].tolist() == ["a", "b", "c", "d"]
    assert outcomes["entered_at"].tolist() == [at(2), at(1), at(50), at(70)]
    assert outcomes["converted"].tolist() == [1, 0, 0, 0]
    assert outcomes["censored"].tolist() == [False, False, True, True]
    result = analyze(outcomes, assign(outcomes["user_id"], experiment), experiment)
    assert result.censored_users == 2
    assert int(result.by_month["users"].sum()) == 2
    assert result.by_month["month"].tolist() == [0] * len(result.by_month)


def test_the_users_a_test_needs_are_the_textbooks():
    # 10% -> 12%, two-sided 5%, power 80%, equal arms: 3,841 a group (pooled normal test).
    assert required_users(Baseline(0.10), 0.02, (50, 50), 0.05, 0.8) == (3_841, 3_841)
    # An unequal split keeps the shares, each treatment compared with the smaller control.
    control, first, second = required_users(Baseline(0.10), 0.02, (20, 40, 40), 0.05, 0.8)
    assert first == second and abs(first / control - 2) < 0.01
    with pytest.raises(UsagecastError, match="leaves"):
        required_users(Baseline(0.99), 0.02, (50, 50), 0.05, 0.8)
    with pytest.raises(UsagecastError, match="no spread"):
        required_users(Baseline(3.0, 0.0), 1.0, (50, 50), 0.05, 0.8)
    # CUPED removing half the variance: half the users (3,840.5 unrounded).
    assert required_users(Baseline(0.10), 0.02, (50, 50), 0.05, 0.8, 0.5) == (1_921, 1_921)
    with pytest.raises(UsagecastError, match="within"):
        required_users(Baseline(0.10), 0.02, (50, 50), 0.05, 0.8, 1.0)


@pytest.mark.parametrize(
    "metric", ["event_within", "value_within", "count_within cuped", "event_within sequential"]
)
def test_tests_of_the_planned_size_detect_the_effect_at_the_planned_power(metric):
    """400 simulated tests of the planned size, analysed as `ab analyze` analyses them:
    the share that rejects at 5% is the power asked for (80%; its sd over 400 is 0.02).
    With CUPED, planned on the variance reduction measured on a baseline draw."""
    rng = np.random.default_rng(11)
    if metric == "event_within sequential":
        # The always-valid test at the planned size: it finds the effect at the last look
        # with the planned power (the test it plans for looks only once here).
        users = required_users(Baseline(0.2), 0.05, (50, 50), 0.05, 0.8, sequential=True)
        assert users[0] > required_users(Baseline(0.2), 0.05, (50, 50), 0.05, 0.8)[0]
        control = rng.binomial(users[0], 0.2, 4_000) / users[0]
        treated = rng.binomial(users[1], 0.25, 4_000) / users[1]
        spread = (control * (1 - control) + treated * (1 - treated)) / users[0]
        found = always_valid(treated - control, spread, 0.05, mixing_sd=0.05)[1] < 0.05
        assert abs(found.mean() - 0.8) < 4 * 0.0063  # sd of a share over 4,000
        return
    if metric == "count_within cuped":
        experiment = make_experiment("simulated", "50/50", START)
        baseline_draw = cuped_outcomes(rng, assign(ids(20_000), experiment), 0.0, "count_within")
        values = baseline_draw["value"].to_numpy()
        covariates = baseline_draw[list(CUPED_COVARIATES)].to_numpy()
        reduction = 1 - np.var(cuped_adjusted(values, covariates)[0]) / np.var(values)
        baseline = Baseline(float(values.mean()), float(values.std()))
        users = required_users(baseline, 0.5, (50, 50), 0.05, 0.8, reduction)
        assignment = assign(ids(sum(users)), experiment)
        treated = (assignment["group"] == "treatment").to_numpy()
        rejected = 0
        for _ in range(400):
            outcomes = cuped_outcomes(rng, assignment, 0.5, "count_within")
            adjusted = pd.Series(
                cuped_adjusted(
                    outcomes["value"].to_numpy(), outcomes[list(CUPED_COVARIATES)].to_numpy()
                )[0]
            )
            rejected += welch_test(adjusted[~treated], adjusted[treated], 0.05)["p_value"] < 0.05
        assert abs(rejected / 400 - 0.8) < 4 * 0.02
        return
    if metric == "event_within":
        baseline, effect = Baseline(0.2), 0.05
        draw = lambda n, lift: (rng.random(n) < 0.2 + lift).astype(float)  # noqa: E731
    else:
        # Revenue per user: 1 in 5 buys, spend log-normal; its sd from a large draw.
        spend = lambda n: (rng.random(n) < 0.2) * rng.lognormal(3.0, 0.6, n)  # noqa: E731
        sample = spend(400_000)
        baseline, effect = Baseline(float(sample.mean()), float(sample.std())), 1.0
        draw = lambda n, lift: spend(n) + lift  # noqa: E731
    control_users, treatment_users = required_users(baseline, effect, (50, 50), 0.05, 0.8)
    rejected = 0
    for _ in range(400):
        control, treated = draw(control_users, 0.0), draw(treatment_users, effect)
        if metric == "event_within":
            counts = [
                pd.Series({"users": len(x), "conversions": x.sum()}) for x in (control, treated)
            ]
            p_value = two_proportion_test(*counts, 0.05)["p_value"]
        else:
            p_value = welch_test(pd.Series(control), pd.Series(treated), 0.05)["p_value"]
        rejected += p_value < 0.05
    assert abs(rejected / 400 - 0.8) < 4 * 0.02


def test_the_baseline_is_measured_on_users_whose_window_the_data_holds(tiny_store):
    users = [(name, at(-60), "ads") for name in "abcdef"]
    events = [
        ("a", at(-3), "BUY", "shop", 1.0),  # before the baseline's days: in a's pre-window
        ("a", at(5), "PLAY", "home", None),  # enters day 5, buys day 9 (4.0): converted
        ("a", at(9), "BUY", "shop", 4.0),
        ("b", at(12), "PLAY", "home", None),  # enters day 12, buys day 40: too late
        ("b", at(40), "BUY", "shop", 6.0),
        ("c", at(-20), "PLAY", "home", None),  # before the baseline's days: enters day 14
        ("c", at(14), "PLAY", "home", None),
        ("d", at(35), "PLAY", "home", None),  # its 10 days pass the data's end: censored
        ("e", at(1), "BUY", "shop", 2.0),  # enters at its purchase: converted
        ("f", at(40), "PLAY", "home", None),  # the last event: the data ends on day 40
    ]
    engine = tiny_store(users, events)
    rate = measured_baseline(engine, parse_metric("event_within BUY 10d"), days=30)
    # Date-only data ends after its last day (41): windows of 10 days are whole for users
    # entering up to day 31, and the baseline's 30 days start on day 1.
    assert (rate.start, rate.end) == (at(1), at(31))
    assert rate.users == 4 and rate.baseline == Baseline(0.5)  # a, b, c, e; a and e bought
    value = measured_baseline(engine, parse_metric("value_within BUY 10d"), days=30).baseline
    assert value.mean == pytest.approx(1.5)
    assert value.sd == pytest.approx(np.std([4, 0, 0, 2], ddof=1))
    # CUPED: a's purchase 8 days before entering predicts its conversion exactly; the
    # others (converted 0, 0, 1) have no pre-entry events: the variance falls from 1/4 to 1/6.
    assert rate.cuped_reduction == pytest.approx(1 / 3)
