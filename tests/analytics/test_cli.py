"""`usagecast analytics ...` and `usagecast ab ...` end to end on a store in the workspace."""

from __future__ import annotations

import json
import re
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from contracts.workspace import event_store_path, workspace_dir
from features import launch
from usagecast_cli.main import main

from .conftest import at, write_store
from .test_cohorts_channels import VALUE_EVENTS, VALUE_USERS


@pytest.fixture
def workspace_store():
    event_store_path().parent.mkdir(parents=True, exist_ok=True)
    events = [
        (*row[:2], "BUY_PREMIUM" if row[2] == "BUY" else row[2], *row[3:]) for row in VALUE_EVENTS
    ]
    write_store(event_store_path(), VALUE_USERS, events)


@pytest.mark.slow
def test_models_print_tables_and_log_runs(workspace_store, capsys):
    assert main(["analytics", "top-features", "--log"]) == 0
    assert main(["analytics", "before-conversion", "--event", "BUY_PREMIUM", "--log"]) == 0
    assert main(["analytics", "retention", "--period", "month", "--log"]) == 0
    assert main(["analytics", "channels", "--log"]) == 0
    assert main(["analytics", "ltv", "--segment", "channel = 'ads'", "--log"]) == 0
    printed = capsys.readouterr().out
    assert "* partial month: still running at the end of the data" in printed
    assert "search" in printed and "conversion_rate" in printed and "ltv_per_user" in printed
    runs = mlflow.search_runs(experiment_names=["analytics"], output_format="list")
    assert sorted(run.info.run_name for run in runs) == [
        "before-conversion",
        "channels",
        "ltv",
        "retention",
        "top-features",
    ]
    top = next(run for run in runs if run.info.run_name == "top-features")
    artifacts = {item.path for item in mlflow.MlflowClient().list_artifacts(top.info.run_id)}
    assert artifacts == {"top_features.csv", "top_features.parquet", "top_features.png"}
    folders = [
        Path(line.removeprefix("tables and plots: "))
        for line in printed.splitlines()
        if line.startswith("tables and plots: ")
    ]
    assert len(folders) == 5 and all(any(folder.glob("*.png")) for folder in folders)


def test_active_users_by_channel_print_the_latest_weeks_of_each_and_log_them_all(
    workspace_store, mlflow_store, capsys
):
    assert (
        main(["analytics", "active-users", "--breakdown", "channel", "--limit", "2", "--log"]) == 0
    )
    out = capsys.readouterr().out
    (run,) = mlflow.search_runs(experiment_names=["analytics"], output_format="list")
    assert run.data.params["breakdown"] == "channel"
    folder = Path(mlflow.artifacts.download_artifacts(run_id=run.info.run_id))
    logged = pd.read_parquet(folder / "active_users.parquet")
    assert (folder / "active_users.png").is_file() and logged.columns[0] == "channel"
    weeks = logged["period"].nunique()
    assert weeks > 2 and f"({weeks - 2} earlier weeks not shown; --limit 0 shows all)" in out
    channels = set(logged["channel"])
    printed = [line.split() for line in out.splitlines() if set(line.split()[:1]) & channels]
    last_two = {str(day.date()) for day in sorted(logged["period"].unique())[-2:]}
    assert len(printed) == 2 * len(channels)
    assert {row[1].rstrip("*") for row in printed} == last_two


LINEAGE = {"mlflow.source.name": "file:///project", "mlflow.project.entryPoint": "funnel"}


def test_a_run_launched_in_default_gets_a_linked_analytics_run(
    workspace_store, mlflow_store, monkeypatch, capsys
):
    """`mlflow run . -e funnel` without --experiment-name: the analytics run is where
    `usagecast analytics --log` puts it, and it and the launched run name each other."""
    client = mlflow.MlflowClient()
    launched = client.create_run(launch.DEFAULT_EXPERIMENT_ID, tags=LINEAGE).info.run_id
    monkeypatch.setenv(launch.MLFLOW_RUN_ID_ENV, launched)
    assert main(["analytics", "top-features", "--log"]) == 0
    (own,) = mlflow.search_runs(experiment_names=["analytics"], output_format="list")
    assert own.info.run_id != launched and own.info.status == "FINISHED"
    assert own.data.tags[launch.LAUNCHED_BY_TAG] == launched
    assert {key: own.data.tags[key] for key in LINEAGE} == LINEAGE
    assert "top_features.png" in {item.path for item in client.list_artifacts(own.info.run_id)}
    launched_run = client.get_run(launched)
    assert launched_run.data.tags[launch.LINKED_RUN_TAG] == own.info.run_id
    assert launched_run.data.tags[launch.LINKED_EXPERIMENT_TAG] == "analytics"
    assert launched_run.info.status == "RUNNING"  # `mlflow run` ends its own run
    assert f"logged MLflow run {own.info.run_id} (experiment 'analytics')" in (
        capsys.readouterr().out
    )


def test_a_run_launched_in_a_chosen_experiment_is_the_analytics_run(
    workspace_store, mlflow_store, monkeypatch, capsys
):
    client = mlflow.MlflowClient()
    chosen = client.create_experiment("growth-analyses")
    launched = client.create_run(chosen, tags=LINEAGE).info.run_id
    monkeypatch.setenv(launch.MLFLOW_RUN_ID_ENV, launched)
    assert main(["analytics", "retention", "--period", "month", "--log"]) == 0
    assert client.get_experiment_by_name("analytics") is None
    run = client.get_run(launched)
    assert run.info.status == "RUNNING" and run.data.params["period"] == "month"
    assert run.data.tags["usagecast.model"] == "retention"
    assert launch.LAUNCHED_BY_TAG not in run.data.tags
    assert "retention.png" in {item.path for item in client.list_artifacts(launched)}
    assert f"logged MLflow run {launched} (experiment 'growth-analyses')" in (
        capsys.readouterr().out
    )


def test_a_bad_segment_is_one_line_and_exit_2(workspace_store, capsys):
    assert main(["analytics", "top-features", "--segment", "plan = 'pro'"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: segment") and "'plan' is not a user attribute" in error


@pytest.mark.slow
def test_ab_assign_then_analyze(workspace_store, capsys):
    start = at(0).isoformat()
    assert (
        main(
            ["ab", "assign", "--experiment", "paywall", "--split", "50/50", "--start-date", start]
        )
        == 0
    )
    stored = json.loads((workspace_dir() / "ab" / "paywall.json").read_text())
    assert stored["salt"] == "paywall" and stored["start"] == "2024-01-01T00:00:00"
    # Same definition again is fine (sticky); a different split for the name is refused.
    assert main(["ab", "assign", "--experiment", "paywall", "--split", "50/50"]) == 0
    assert main(["ab", "assign", "--experiment", "paywall", "--split", "10/90"]) == 2
    code = main(
        [
            "ab",
            "analyze",
            "--experiment",
            "paywall",
            "--metric",
            "event_within BUY_PREMIUM 30d",
            "--log",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "sample_ratio" in out and "censored users" in out


def _files_under(folder) -> set:
    return {path for path in folder.rglob("*") if path.is_file()}


@pytest.mark.parametrize("action", ["assign", "analyze"])
@pytest.mark.parametrize("name", ["../../x", "ABSOLUTE", "a/b", ""])
def test_an_experiment_name_that_is_not_one_file_name_is_refused(
    workspace_store, tmp_path, capsys, action, name
):
    if name == "ABSOLUTE":
        name = str(tmp_path / "elsewhere" / "x")
    extra = ["--split", "50/50"] if action == "assign" else ["--metric", "event_within PLAY 7d"]
    before = _files_under(tmp_path)
    assert main(["ab", action, "--experiment", name, *extra]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith(f"error: experiment name {name!r}")
    assert _files_under(tmp_path) == before  # nothing written, inside or outside the workspace
    assert not (tmp_path / "x.json").exists() and not (tmp_path / "elsewhere").exists()


def test_ab_plan_measures_its_baseline_in_the_store(workspace_store, capsys):
    args = ["ab", "plan", "--metric", "value_within BUY_PREMIUM 7d", "--mde", "0.5"]
    assert main([*args, "--relative", "--baseline-days", "90"]) == 0
    out = capsys.readouterr().out
    assert "baseline: mean " in out and "their 7 days observed" in out
    assert "(+50.0% of the baseline)" in out and "days of entry at that rate" in out
    assert main(["ab", "plan", "--metric", "event_within NOT_A_TYPE 7d", "--mde", "0.1"]) == 2
    assert "known event types" in capsys.readouterr().err


def test_ab_plan_with_cuped_needs_fewer_users_by_the_measured_reduction(capsys):
    # 40 users enter on day 25; the plays each made in the week before (0-4) predict most
    # of their plays in the 7 days from entering (the entry's play, as many again, 0-1 more).
    users = [(f"u{n}", at(-30), "ads") for n in range(40)]
    events = [
        (f"u{n}", at(20, hour), "PLAY", "home", None) for n in range(40) for hour in range(n % 5)
    ]
    events += [(f"u{n}", at(25), "PLAY", "home", None) for n in range(40)]
    events += [
        (f"u{n}", at(26, hour), "PLAY", "home", None)
        for n in range(40)
        for hour in range(n % 5 + n % 2)
    ]
    events.append(("u0", at(60), "PLAY", "home", None))  # the data ends on day 61
    event_store_path().parent.mkdir(parents=True, exist_ok=True)
    write_store(event_store_path(), users, events)
    args = ["ab", "plan", "--metric", "count_within PLAY 7d", "--mde", "0.1", "--relative"]
    assert main([*args, "--baseline-days", "30"]) == 0
    plain = capsys.readouterr().out
    assert main([*args, "--baseline-days", "30", "--cuped"]) == 0
    cuped = capsys.readouterr().out
    assert "the 40 users who entered" in plain
    reduction = float(re.search(r"explains ([\d.]+)% of their outcome's variance", cuped)[1])
    # Plays after = 1 + plays before + (n odd): all but the odd users' extra play is explained.
    assert reduction > 80
    control = [
        int(re.search(r"control \(50%\) ([\d,]+)", out)[1].replace(",", ""))
        for out in (plain, cuped)
    ]
    assert control[1] == pytest.approx(control[0] * (1 - reduction / 100), abs=1)
    assert main([*args, "--cuped", "--baseline", "20", "--baseline-sd", "5"]) == 2
    assert "leave out --baseline" in capsys.readouterr().err


def test_ab_plan_with_a_given_baseline_reads_no_store(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("USAGECAST_HOME", str(tmp_path / "nowhere"))
    args = ["ab", "plan", "--metric", "event_within BUY 30d", "--mde", "0.02"]
    assert main([*args, "--baseline", "0.1"]) == 0
    out = capsys.readouterr().out
    assert "users needed: control (50%) 3,841, treatment (50%) 3,841; total 7,682" in out
    assert main([*args, "--baseline", "0.1", "--sequential"]) == 0
    out = capsys.readouterr().out
    assert "sequential (`ab analyze --sequential 0.02`)" in out
    assert "users needed: control (50%) 7,438, treatment (50%) 7,438" in out
    assert not (tmp_path / "nowhere").exists()
    value = ["ab", "plan", "--metric", "value_within BUY 30d", "--mde", "1", "--baseline", "5"]
    assert main(value) == 2
    assert "needs --baseline-sd" in capsys.readouterr().err
    assert main([*value, "--baseline-sd", "20"]) == 0
    assert "users needed: control (50%) 6,280" in capsys.readouterr().out
