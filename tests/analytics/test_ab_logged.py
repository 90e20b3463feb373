"""`usagecast ab analyze` on a logged experiment: the simulator's randomized ad experiment,
ingested, measured against the simulator's truth."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from analytics import ab
from analytics.runs import ab_result, opened_engine
from contracts.errors import UsagecastError
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


def test_a_user_logged_in_two_arms_is_refused(tmp_path: Path) -> None:
    _ingested(tmp_path, dataclasses.replace(CONFIG, n_users=60))
    con = duckdb.connect(str(event_store_path()))
    con.execute(
        "INSERT INTO events (event_id, user_id, event_time, event_date, event_type, item_id, "
        "area) SELECT event_id + 10000000, user_id, event_time, event_date, event_type, "
        "item_id, CASE area WHEN 'control' THEN 'treatment' ELSE 'control' END FROM events "
        "WHERE event_type = 'EXPERIMENT_ASSIGNED' LIMIT 1"
    )
    con.close()
    with opened_engine() as engine, pytest.raises(UsagecastError, match="two arms"):
        ab.logged_assignment(engine, "ads_x0")


@pytest.mark.spark
@pytest.mark.usefixtures("spark_session")
def test_spark_reads_the_same_logged_assignment(tmp_path: Path) -> None:
    _ingested(tmp_path, dataclasses.replace(CONFIG, n_users=60))
    with opened_engine() as duck:
        expected = ab.logged_assignment(duck, "ads_x0")
    spark = SparkEngine(event_store_path())
    try:
        found = ab.logged_assignment(spark, "ads_x0")
    finally:
        spark.close()
    assert len(expected) > 20
    pd.testing.assert_frame_equal(
        found.sort_values("user_id").reset_index(drop=True),
        expected.sort_values("user_id").reset_index(drop=True),
        check_dtype=False,
    )
