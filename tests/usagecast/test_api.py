"""The Python API (usagecast/): its argument handling, that it returns what the CLI's library
calls compute, and the notebook walkthrough run end to end in a fresh workspace."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient
from pandas.testing import assert_frame_equal

import analytics
import usagecast
from analytics.conversion_time import Adoption
from analytics.runs import ab_result
from contracts.errors import UsagecastError
from contracts.workspace import mlflow_tracking_uri
from experiments import TuneConfig
from simulator import LeverExperiment, SimulationConfig, simulate_to_dir
from usagecast.api import config_of

ROOT = Path(__file__).resolve().parents[2]
WALKTHROUGH = ROOT / "examples" / "notebook_walkthrough.py"


def test_every_exported_name_exists_and_says_what_it_does() -> None:
    for name in usagecast.__all__:
        exported = getattr(usagecast, name)
        assert exported.__doc__, name
    for name in usagecast.analytics.__all__:
        assert getattr(usagecast.analytics, name).__doc__, name


def test_importing_the_api_loads_no_heavy_library() -> None:
    code = (
        "import sys, usagecast; print(sorted({'mlflow', 'pandas', 'lightgbm'} & set(sys.modules)))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert completed.stdout.strip() == "[]"


def test_an_unknown_option_is_refused_with_the_known_ones() -> None:
    with pytest.raises(UsagecastError, match=r"tune: unknown option\(s\) trails; known: .*trials"):
        usagecast.tune("premium_30d@v1", trails=3)
    with pytest.raises(UsagecastError, match=r"simulate: unknown option\(s\) users; .*n_users"):
        usagecast.simulate("unused", seed=1, users=5)


def test_config_values_are_checked_by_the_config_itself() -> None:
    with pytest.raises(UsagecastError, match="trials must be at least 1"):
        usagecast.tune("premium_30d@v1", trials=0)
    with pytest.raises(UsagecastError, match="metric 'auc' is not known"):
        config_of(TuneConfig, {"feature_set": "a@v1"}, {"metric": "auc"}, "t")


def test_an_option_that_repeats_an_argument_is_refused() -> None:
    with pytest.raises(UsagecastError, match="tune: feature_set is given by the call's own"):
        usagecast.tune("premium_30d@v1", feature_set="other@v1")


@pytest.mark.parametrize(("run_id", "feature_set"), [(None, None), ("0123abcd", "premium_30d@v1")])
def test_promote_needs_exactly_one_of_run_id_and_feature_set(run_id, feature_set) -> None:
    with pytest.raises(UsagecastError, match="either run_id or feature_set"):
        usagecast.promote(run_id, feature_set=feature_set)


def test_a_feature_set_that_does_not_exist_is_a_usagecast_error() -> None:
    with pytest.raises(UsagecastError, match="nope@v1"):
        usagecast.load("nope@v1")


def _files(root: Path) -> dict[Path, bytes]:
    return {
        path.relative_to(root): path.read_bytes() for path in root.rglob("*") if path.is_file()
    }


def test_simulate_forwards_the_seed_to_the_same_writer_as_the_cli(tmp_path: Path) -> None:
    usagecast.simulate(tmp_path / "api", seed=3, n_users=8, months=1)
    simulate_to_dir(
        tmp_path / "lib", SimulationConfig(n_users=8, seed=3, months=1), progress=False
    )
    usagecast.simulate(tmp_path / "other", seed=4, n_users=8, months=1)
    assert _files(tmp_path / "api") == _files(tmp_path / "lib")
    assert _files(tmp_path / "api") != _files(tmp_path / "other")


def test_analytics_tables_are_the_analytics_models_tables(tmp_path: Path) -> None:
    usagecast.simulate(tmp_path / "data", seed=2, n_users=40, months=2)
    usagecast.ingest(tmp_path / "data" / "dataset.yaml")
    with usagecast.analytics.store() as engine:
        expected = analytics.top_features(engine)
        before = analytics.before_conversion(engine, "BUY_PREMIUM", lookback_days=14)
        types = analytics.top_features(engine, by="event_type")
        types_before = analytics.before_conversion(
            engine, "BUY_PREMIUM", lookback_days=14, by="event_type"
        )
        monthly = analytics.active_users(engine, period="month", activity_events=("PLAY",))
        timing = analytics.time_to_convert(engine, "BUY_PREMIUM", days=30, breakdown="channel")
        trend = analytics.feature_trend(engine, period="month", by="event_type")
        worth = analytics.value_curve(engine, ["BUY_PREMIUM"], days=60, breakdown="channel")
        adopting = analytics.time_to_convert(engine, Adoption(3, 7), activity_events=("PLAY",))
        after_login = analytics.paths(engine, "LOGIN", "from", 2, 7, by="area")
        from_login = analytics.time_to_convert(engine, "BUY_PREMIUM", days=30, start_event="LOGIN")
        after_buying = analytics.value_curve(
            engine, ["BUY_PREMIUM"], days=30, start_event="BUY_PREMIUM"
        )
    # DuckDB's parallel sums may differ in the last bits between two runs of one query.
    assert_frame_equal(usagecast.analytics.top_features(), expected, rtol=1e-12)
    assert_frame_equal(
        usagecast.analytics.before_conversion("BUY_PREMIUM", lookback_days=14), before, rtol=1e-12
    )
    assert_frame_equal(usagecast.analytics.top_features(by="event_type"), types, rtol=1e-12)
    assert_frame_equal(
        usagecast.analytics.before_conversion("BUY_PREMIUM", lookback_days=14, by="event_type"),
        types_before,
        rtol=1e-12,
    )
    assert types.columns[0] == "event_type" and "PLAY" in set(types["event_type"])
    assert len(types_before) > 0 and "BUY_PREMIUM" not in set(types_before["event_type"])
    assert not usagecast.analytics.retention(period="month").empty
    assert_frame_equal(
        usagecast.analytics.active_users(period="month", activity_events=["PLAY"]), monthly
    )
    assert monthly["active_users"].iloc[0] > 0
    by_channel = usagecast.analytics.time_to_convert(days=30, breakdown="channel")
    assert_frame_equal(by_channel.curve, timing.curve)
    assert_frame_equal(by_channel.summary, timing.summary)
    assert timing.summary["converted"].sum() > 0
    assert_frame_equal(usagecast.analytics.feature_trend(period="month", by="event_type"), trend)
    assert trend["rank"].min() == 1
    assert_frame_equal(usagecast.analytics.value_curve(days=60, breakdown="channel"), worth)
    assert worth["value_per_user"].max() > 0
    adopted = usagecast.analytics.time_to_convert(adoption="3/7", activity_events=["PLAY"])
    assert_frame_equal(adopted.curve, adopting.curve)
    assert adopting.summary["converted"].iloc[0] > 0
    bought = usagecast.analytics.value_curve(days=30, from_event="BUY_PREMIUM")
    assert_frame_equal(bought, after_buying)
    assert bought["buyers_share"].iloc[0] == 1.0  # everyone bought on their day 0
    logged_in = usagecast.analytics.time_to_convert(days=30, from_event="LOGIN")
    assert_frame_equal(logged_in.summary, from_login.summary)
    assert 0 < from_login.summary["users"].iloc[0] != timing.summary["users"].sum()
    walked = usagecast.analytics.paths(from_event="LOGIN", steps=2, window_days=7, by="area")
    assert_frame_equal(walked.paths, after_login.paths)
    assert_frame_equal(walked.positions, after_login.positions)
    assert walked.users == after_login.users > 0
    assert usagecast.analytics.paths().paths["step_4"].eq("BUY_PREMIUM").all()
    with pytest.raises(UsagecastError, match=r"NOT_AN_EVENT.*known event types: .*PLAY"):
        usagecast.analytics.active_users(activity_events=["NOT_AN_EVENT"])
    with pytest.raises(UsagecastError, match=r"NOT_AN_EVENT.*known event types: .*PLAY"):
        usagecast.analytics.before_conversion("NOT_AN_EVENT")
    with pytest.raises(UsagecastError, match="cannot go with --by event_type"):
        usagecast.analytics.top_features(per_event_type=True, by="event_type")


def test_ab_analyze_is_the_clis_analysis_of_a_logged_experiment(tmp_path: Path) -> None:
    usagecast.simulate(
        tmp_path / "data",
        seed=3,
        n_users=200,
        months=3,
        experiment=LeverExperiment(ads=0.0, share=0.5, from_date=date(2024, 2, 1)),
    )
    usagecast.ingest(tmp_path / "data" / "dataset.yaml")
    metric = "value_within BUY_PREMIUM 30d"
    with usagecast.analytics.store() as engine:
        expected = ab_result(engine, "ads_x0", metric, split="50/50")
    found = usagecast.analytics.ab_analyze("ads_x0", metric, split="50/50")
    assert found.source == expected.source
    assert_frame_equal(found.result.comparison, expected.result.comparison)
    plan = usagecast.analytics.ab_plan("event_within BUY_PREMIUM 30d", 0.5, relative=True)
    assert plan.groups == ("control", "treatment") and plan.users[0] == plan.users[1] > 0
    assert plan.effect == pytest.approx(0.5 * plan.baseline.mean)
    assert plan.measured is not None and plan.entry_days >= 1
    assert list(found.result.comparison.columns[:4]) == [
        "control",
        "treatment",
        "control_users",
        "control_mean",
    ]


@pytest.mark.slow
def test_the_notebook_walkthrough_runs_in_a_fresh_workspace(
    tmp_path: Path, isolated_workspace: Path
) -> None:
    completed = subprocess.run(
        [sys.executable, str(WALKTHROUGH)],
        env={**os.environ, "PYTHONPATH": str(ROOT), "WALKTHROUGH_TRIALS": "2"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.startswith(f"workspace: {isolated_workspace}\n")
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["promoted"] is True and result["model"] == "premium_30d v1"
    assert result["scored_users"] > 0
    # Today's users: the day after the last simulated event (6 months from 2024-01-01).
    assert result["scored_at"] == "2024-07-01"
    assert result["contributions"] == 3
    assert 0 <= result["whatif_suggestions"] <= 3
    assert result["channels_timed"] > 1  # the simulator's signup channels
    champion = MlflowClient(mlflow_tracking_uri()).get_model_version_by_alias(
        "premium_30d", "champion"
    )
    assert str(champion.version) == "1"
    assert (isolated_workspace / "walkthrough_data" / "dataset.yaml").is_file()
    # The CLI's quiet defaults apply to API calls too: no MLflow INFO lines.
    assert "Creating initial MLflow database tables" not in completed.stderr


def test_dataset_new_writes_the_clis_starter_for_an_export(tmp_path: Path) -> None:
    export = tmp_path / "export"
    export.mkdir()
    (export / "logins.csv").write_text("uid,login_at\n1,2024-01-05 10:00\n2,2024-01-06 11:00\n")
    path, starter = usagecast.dataset_new(export, name="trial_app")
    assert path == export / "dataset.yaml"
    assert path.read_text(encoding="utf-8") == starter.text
    assert starter.mapped and starter.checks
    with pytest.raises(UsagecastError, match="exists"):
        usagecast.dataset_new(export)
    summary = usagecast.ingest(path)
    assert summary.tables["events"].accepted == 2
    spec = usagecast.spec_new("trial")  # filled in from the ingest's report
    assert spec.path == tmp_path / "specs" / "trial" / "v1.yaml"
    assert spec.counted == ("LOGIN",) and 'dataset: "trial_app"' in spec.path.read_text()
    churn = usagecast.spec_new("leavers", label="churn")
    assert churn.label_kind == "churn" and "kind: churn" in churn.path.read_text()
