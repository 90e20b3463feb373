"""`usagecast ab analyze` on a logged experiment: the simulator's randomized ad experiment,
ingested, measured against the simulator's truth."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import duckdb
import mlflow
import pandas as pd
import pytest

from analytics import ab, retention, top_features
from analytics.runs import ab_result, opened_engine
from analytics.scope import user_attribute_values
from contracts.workspace import event_store_path
from features.engines.spark import SparkEngine
from simulator import (
    LeverExperiment,
    SimulationConfig,
    simulate_to_dir,
    true_arm_probabilities,
)
from usagecast_cli.main import main

FROM = dt.date(2024, 2, 1)
METRIC = "event_within BUY_PREMIUM 30d"
# No ads for the treatment arm: a large effect (fewer purchases) on a small dataset.
CONFIG = SimulationConfig(
    n_users=1500,
    seed=3,
    months=3,
    experiment=LeverExperiment(ads=0.0, share=0.5, from_date=FROM),
)


def _ingested(tmp_path: Path, config: SimulationConfig) -> Path:
    data = tmp_path / "data"
    simulate_to_dir(data, config, progress=False)
    assert main(["ingest", str(data / "dataset.yaml")]) == 0
    return data


def test_measured_effect_has_the_true_sign_and_size(tmp_path: Path) -> None:
    _ingested(tmp_path, CONFIG)
    with opened_engine() as engine:
        analysis = ab_result(engine, "ads_x0", METRIC, split="50/50")
        outcomes = engine.query(
            "SELECT user_id, MIN(event_time) AS exposed_at FROM events "
            "WHERE event_type = 'EXPERIMENT_ASSIGNED' GROUP BY user_id"
        )
    row = analysis.result.comparison.iloc[0]
    assert analysis.experiment.groups == ("control", "treatment")
    assert analysis.experiment.start == dt.datetime(2024, 2, 1)
    # Truth: each analysed (uncensored) user's P(buy within 30 days of their exposure day)
    # with the treatment's levers minus with the control's, averaged.
    day = pd.to_datetime(outcomes["exposed_at"]).dt.normalize()
    observed = day + pd.Timedelta(days=30) <= pd.Timestamp(CONFIG.end_date)
    control, treated = true_arm_probabilities(
        CONFIG,
        outcomes["user_id"][observed].astype(int).to_numpy(),
        day[observed].to_numpy().astype("datetime64[s]"),
        replicas=32,
    )
    truth = float((treated - control).mean())
    assert truth < -0.05
    assert row["ci_high"] < 0
    half_width = (row["ci_high"] - row["ci_low"]) / 2
    assert abs(row["difference"] - truth) < 1.5 * half_width  # within 3 standard errors
    assert analysis.result.sample_ratio["p_value"].iloc[0] > 0.001


def test_cli_prints_the_logged_experiment_and_its_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small = dataclasses.replace(CONFIG, n_users=200)
    _ingested(tmp_path, small)
    capsys.readouterr()
    assert main(["ab", "analyze", "--experiment", "ads_x0", "--metric", METRIC]) == 0
    out = capsys.readouterr().out
    assert "logged in the event store" in out
    assert "sample ratio not tested" in out
    assert "sample_ratio" not in out
    assert "control treatment" in out
    assert main(["ab", "analyze", "--experiment", "ads_x9", "--metric", METRIC]) == 2
    assert "no EXPERIMENT_ASSIGNED events with item_id 'ads_x9'" in capsys.readouterr().err
    split = ["--split", "20/30/50"]
    assert main(["ab", "analyze", "--experiment", "ads_x0", "--metric", METRIC, *split]) == 2
    assert "logs 2 arms" in capsys.readouterr().err


def test_users_logged_in_two_arms_are_left_out_and_counted(tmp_path: Path) -> None:
    _ingested(tmp_path, dataclasses.replace(CONFIG, n_users=60))
    with opened_engine() as engine:
        before = ab.logged_assignment(engine, "ads_x0")
    mixed = before.groups["user_id"].min()
    con = duckdb.connect(str(event_store_path()))
    con.execute(
        "INSERT INTO events (event_id, user_id, event_time, event_date, event_type, item_id, "
        "area) SELECT event_id + 10000000, user_id, event_time, event_date, event_type, "
        "item_id, CASE area WHEN 'control' THEN 'treatment' ELSE 'control' END FROM events "
        "WHERE event_type = 'EXPERIMENT_ASSIGNED' AND user_id = ?",
        [mixed],
    )
    con.close()
    with opened_engine() as engine:
        after = ab.logged_assignment(engine, "ads_x0")
        analysis = ab_result(engine, "ads_x0", METRIC)
    assert (before.in_two_arms, after.in_two_arms) == (0, 1)
    assert set(after.groups["user_id"]) == set(before.groups["user_id"]) - {mixed}
    # One user of the few dozen exposed is above 1%: the output warns.
    assert f"{len(after.groups):,} assignments" in analysis.source
    assert "1 user logged in two arms left out (warning: " in analysis.source


@pytest.mark.spark
@pytest.mark.usefixtures("spark_session")
def test_spark_reads_the_same_logged_assignment(tmp_path: Path) -> None:
    _ingested(tmp_path, dataclasses.replace(CONFIG, n_users=60))
    with opened_engine() as duck:
        expected = ab.logged_assignment(duck, "ads_x0").groups
        experiment = ab.logged_experiment("ads_x0", expected, None)
        metric = ab.Metric("BUY_PREMIUM", 30, "value_within")
        outcomes = ab.user_outcomes(duck, experiment, metric, logged=True)
        channels = user_attribute_values(duck, "channel", "(missing)")
    spark = SparkEngine(event_store_path())
    try:
        found = ab.logged_assignment(spark, "ads_x0").groups
        found_outcomes = ab.user_outcomes(spark, experiment, metric, logged=True)
        found_channels = user_attribute_values(spark, "channel", "(missing)")
    finally:
        spark.close()
    assert len(expected) > 20
    assert outcomes["value"].sum() > 0
    assert channels["attribute"].nunique() > 1
    pairs = ((found, expected), (found_outcomes, outcomes), (found_channels, channels))
    for left, right in pairs:
        pd.testing.assert_frame_equal(
            left.sort_values("user_id").reset_index(drop=True),
            right.sort_values("user_id").reset_index(drop=True),
            check_dtype=False,
        )


# An experiment platform's export beside the product's own log, as a user brings them: the
# platform logs only the users it exposed (u3 never was), some of them long after they were
# first active (u2 bought before its exposure), every exposure again (u2 twice), an exposure
# without a use of the product (u6, an email test), its own arm names (`Original`) and
# another experiment's exposure (u1's onboarding, before its checkout_v2 one).
PLATFORM_EVENTS = """user_id,timestamp,event,page,amount
u1,2024-01-05T09:00:00Z,page_view,/home,
u1,2024-02-10T09:00:00Z,PURCHASE,/billing,30
u1,2024-04-10T09:00:00Z,PURCHASE,/billing,5
u2,2024-01-03T09:00:00Z,page_view,/home,
u2,2024-01-20T09:00:00Z,PURCHASE,/billing,50
u3,2024-02-03T09:00:00Z,page_view,/reports,
u3,2024-02-04T09:00:00Z,PURCHASE,/billing,10
u4,2024-02-03T12:00:00Z,page_view,/reports,
u4,2024-02-20T09:00:00Z,PURCHASE,/billing,40
u4,2024-02-21T09:00:00Z,PURCHASE,/billing,20
u5,2024-02-04T09:00:00Z,page_view,/home,
u3,2024-04-30T09:00:00Z,page_view,/home,
"""
PLATFORM_EXPOSURES = """user_id,experiment,variation,exposed_at
u1,onboarding,control,2024-01-20 09:00:00
u1,checkout_v2,Original,2024-02-01 10:00:00
u2,checkout_v2,A,2024-02-02 10:00:00
u2,checkout_v2,A,2024-02-05 10:00:00
u4,checkout_v2,A,2024-02-03 12:00:00
u5,checkout_v2,Original,2024-02-04 09:00:00
u6,checkout_v2,Original,2024-03-01 08:00:00
"""
PLATFORM_CONFIG = """name: platform
events:
- files: events.csv
  columns: {user_id: user_id, timestamp: timestamp, event_type: event, area: page, value: amount}
- files: exposures.csv
  event_type: EXPERIMENT_ASSIGNED
  columns: {user_id: user_id, timestamp: exposed_at, item_id: experiment, area: variation}
users:
  files: users.csv
  columns: {user_id: user_id, signup_time: signup}
"""


@pytest.fixture
def platform_export(tmp_path: Path) -> None:
    """The export above, ingested into the test's workspace."""
    users = "user_id,signup\n" + "".join(f"u{n},2024-01-01\n" for n in range(1, 7))
    files = {
        "users.csv": users,
        "events.csv": PLATFORM_EVENTS,
        "exposures.csv": PLATFORM_EXPOSURES,
        "dataset.yaml": PLATFORM_CONFIG,
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert main(["ingest", str(tmp_path / "dataset.yaml")]) == 0


@pytest.mark.usefixtures("platform_export")
def test_a_logged_experiment_counts_its_exposed_users_from_their_exposure() -> None:
    with opened_engine() as engine:
        analysis = ab_result(engine, "checkout_v2", "event_within PURCHASE 30d")
        outcomes = ab.user_outcomes(
            engine, analysis.experiment, ab.parse_metric("event_within PURCHASE 30d"), logged=True
        )
    assert analysis.experiment.groups == ("Original", "A")
    assert analysis.experiment.start == dt.datetime(2024, 2, 1)
    entered = dict(zip(outcomes["user_id"], outcomes["entered_at"].astype(str), strict=True))
    assert entered == {
        "u1": "2024-02-01 10:00:00",
        "u2": "2024-02-02 10:00:00",
        "u4": "2024-02-03 12:00:00",
        "u5": "2024-02-04 09:00:00",
        "u6": "2024-03-01 08:00:00",
    }
    row = analysis.result.comparison.iloc[0]
    # Original: u1 bought, u5 and u6 did not; A: u4 bought, u2 only before its exposure.
    assert (row["control_users"], row["control_rate"]) == (3, pytest.approx(1 / 3))
    assert (row["treatment_users"], row["treatment_rate"]) == (2, 0.5)
    assert analysis.result.censored_users == 0


@pytest.mark.usefixtures("platform_export")
def test_a_value_metric_sums_each_exposed_users_values_in_their_window() -> None:
    with opened_engine() as engine:
        analysis = ab_result(engine, "checkout_v2", "value_within PURCHASE 30d")
    # Original: u1 30 (its 5 is 69 days after its exposure), u5 0, u6 0; A: u2 0 (its 50
    # was before its exposure), u4 40 + 20.
    means = analysis.result.by_month.groupby("group")["total"].sum()
    assert means.to_dict() == {"A": 60.0, "Original": 30.0}
    row = analysis.result.comparison.iloc[0]
    assert (row["control_users"], row["control_mean"]) == (3, 10.0)
    assert (row["treatment_users"], row["treatment_mean"]) == (2, 30.0)
    assert row["difference"] == 20.0
    assert row["ci_low"] < 20.0 < row["ci_high"]


@pytest.mark.usefixtures("platform_export")
def test_exposures_are_no_product_use_in_the_usage_tables() -> None:
    with opened_engine() as engine:
        areas = top_features(engine)
        event_types = top_features(engine, by="event_type")
        monthly = retention(engine, period="month")
    assert sorted(areas["area"]) == ["/billing", "/home", "/reports"]
    assert ab.EXPERIMENT_ASSIGNED not in set(event_types["event_type"])
    # u6's only event is its exposure in March: it is active in no month, so the cohort's
    # month 2 (March) has nobody in it.
    assert monthly["users"].tolist() == [6]
    assert monthly["2"].tolist() == [0]


@pytest.mark.usefixtures("platform_export")
def test_cuped_covariates_are_each_users_behaviour_in_the_window_before_their_exposure() -> None:
    with opened_engine() as engine:
        experiment = ab_result(engine, "checkout_v2", "event_within PURCHASE 30d").experiment

        def outcomes(metric: str) -> dict[str, tuple[float, ...]]:
            found = ab.user_outcomes(engine, experiment, ab.parse_metric(metric), logged=True)
            columns = ["value", *ab.CUPED_COVARIATES]
            return {row.user_id: tuple(row[columns]) for _, row in found.iterrows()}

        converted, counted = (
            outcomes("event_within PURCHASE 30d"),
            outcomes("count_within PURCHASE 30d"),
        )
        spent = outcomes("value_within PURCHASE 30d")
    # (value, own outcome before, events of product use before) over the 30 days before each
    # user's exposure. u1: its page view on Jan 5 (its onboarding exposure is no use); u2:
    # its Jan 20 purchase of 50 (its Jan 3 09:00 view is an hour too early); u4 and u5: a
    # view at the very time of their exposure, after it; u6: nothing.
    assert spent == {
        "u1": (30.0, 0.0, 1.0),
        "u2": (0.0, 50.0, 1.0),
        "u4": (60.0, 0.0, 0.0),
        "u5": (0.0, 0.0, 0.0),
        "u6": (0.0, 0.0, 0.0),
    }
    assert {user: row[1:] for user, row in converted.items()} == {
        user: (float(row[1] > 0), row[2]) for user, row in spent.items()
    }
    assert {user: row[0] for user, row in counted.items()} == {
        "u1": 1.0,
        "u2": 0.0,
        "u4": 2.0,
        "u5": 0.0,
        "u6": 0.0,
    }


@pytest.mark.usefixtures("platform_export")
def test_cli_analyses_with_cuped_sequentially_and_checks_a_breakdown(
    capsys: pytest.CaptureFixture[str],
) -> None:
    metric = "count_within PURCHASE 30d"
    assert (
        main(["ab", "analyze", "--experiment", "checkout_v2", "--metric", metric, "--cuped"]) == 0
    )
    out = capsys.readouterr().out
    assert (
        "CUPED: outcomes adjusted by the 30 days before each user entered: their PURCHASE " in out
    )
    assert "unadjusted_difference" in out and "variance_reduction" in out
    args = ["ab", "analyze", "--experiment", "checkout_v2", "--metric", metric]
    assert main([*args, "--sequential", "1", "--log"]) == 0
    out = capsys.readouterr().out
    assert "sequential: always-valid p-values and 95% intervals" in out
    runs = mlflow.search_runs(experiment_names=["analytics"], output_format="list")
    assert [run.data.params["sequential_mixing_sd"] for run in runs] == ["1.0"]
    assert main([*args, "--breakdown", "plan"]) == 2
    assert "ab analyze breakdown 'plan' is not a user attribute" in capsys.readouterr().err
