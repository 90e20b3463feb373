"""The pipeline as a user launches it: `mlflow run . -e ENTRY_POINT` on simulated data; SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from contracts.workspace import event_store_path, mlflow_tracking_uri
from features import launch
from features.featureset.store import list_builds
from simulator import SimulationConfig, simulate_to_dir

ROOT = Path(__file__).resolve().parents[2]


def _environment() -> dict[str, str]:
    """The test's workspace/store, with this venv first on PATH (mlflow run calls `python`)."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def _mlflow_run(entry_point: str, **parameters: object) -> subprocess.CompletedProcess:
    """`mlflow run . -e ENTRY_POINT --env-manager local -P ...` as a user types it; must pass."""
    command = [str(Path(sys.executable).parent / "mlflow"), "run", str(ROOT), "-e", entry_point]
    command += ["--env-manager", "local"]
    for key, value in parameters.items():
        command += ["-P", f"{key}={value}"]
    completed = subprocess.run(
        command, env=_environment(), capture_output=True, text=True, timeout=600, check=False
    )
    assert completed.returncode == 0, (entry_point, completed.stderr[-3000:])
    return completed


@pytest.mark.slow
def test_the_pipeline_through_mlflow_run_entry_points(tmp_path):
    # 500 users: on 300 the 3-trial model is no better than chance and the gate refuses it.
    simulate_to_dir(tmp_path / "data", SimulationConfig(n_users=500, seed=1))
    _mlflow_run("ingest", dataset=tmp_path / "data" / "dataset.yaml", no_progress="true")
    assert event_store_path().is_file()
    _mlflow_run("build", feature_set="premium_30d@v1")
    assert [build["ref"] for build in list_builds()] == ["premium_30d@v1"]

    completed = _mlflow_run("tune", feature_set="premium_30d@v1", trials=3, seed=4)
    assert "parent run:" in completed.stdout
    client = MlflowClient(mlflow_tracking_uri())
    # No --experiment-name: `mlflow run` opened its run in Default; tuning went where
    # `usagecast tune` puts it, the feature set's experiment, and the two runs name each other.
    experiment = client.get_experiment_by_name("premium_30d")
    runs = client.search_runs(
        [experiment.experiment_id], filter_string="tags.`usagecast.kind` = 'tuning'"
    )
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED"
    assert run.data.tags["feature_set"] == "premium_30d@v1"
    assert run.data.tags["seed"] == "4"
    assert run.data.tags["mlflow.project.entryPoint"] == "tune"
    launched = client.get_run(run.data.tags[launch.LAUNCHED_BY_TAG])
    assert launched.info.experiment_id == launch.DEFAULT_EXPERIMENT_ID
    assert launched.info.status == "FINISHED"
    assert launched.data.tags[launch.LINKED_RUN_TAG] == run.info.run_id
    assert launched.data.tags[launch.LINKED_EXPERIMENT_TAG] == "premium_30d"
    # Simulated data: the oracle is computed from the simulator's truth.
    assert 0.5 < run.data.metrics["oracle_auc"] <= 1.0
    assert "oracle_lift_ratio" in run.data.metrics
    model = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    assert model.metadata.run_id == run.info.run_id

    _mlflow_run("promote", feature_set="premium_30d@v1")
    champion = client.get_model_version_by_alias("premium_30d", "champion")
    assert champion.run_id == run.info.run_id
    out = tmp_path / "scores.parquet"
    _mlflow_run(
        "score", feature_set="premium_30d@v1", model="models:/premium_30d@champion", out=out
    )
    scores = pd.read_parquet(out)
    assert len(scores) > 0 and scores["probability"].between(0, 1).all()

    # An analytics model: a segment's predicate with spaces and quotes stays one argument, and
    # its run in "analytics" and mlflow run's name each other.
    _mlflow_run("funnel", steps="PLAY,BUY_PREMIUM", segment="channel = 'reddit'")
    (funnel,) = mlflow.search_runs(experiment_names=["analytics"], output_format="list")
    assert funnel.info.run_name == "funnel" and funnel.info.status == "FINISHED"
    assert funnel.data.params["segment"] == "channel = 'reddit'"
    assert funnel.data.tags["mlflow.project.entryPoint"] == "funnel"
    launched = client.get_run(funnel.data.tags[launch.LAUNCHED_BY_TAG])
    assert launched.info.status == "FINISHED"
    assert launched.data.tags[launch.LINKED_RUN_TAG] == funnel.info.run_id


def _tune_then_sigterm(client: MlflowClient, ref: str):
    """Start `usagecast tune`, SIGTERM it once its first trial run is logged; (parent, stderr,
    exit code)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "usagecast_cli.main", "tune", ref, "--trials", "500"],
        env=_environment(),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    trial_runs = []
    while not trial_runs and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.5)
        experiment = client.get_experiment_by_name("synthetic")
        if experiment is not None:
            trial_runs = client.search_runs(
                [experiment.experiment_id], filter_string="tags.optuna_trial = '0'"
            )
    assert trial_runs, "the tuning process never logged a trial"
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=60)
    parent = client.get_run(trial_runs[0].data.tags["mlflow.parentRunId"])
    return parent, process.stderr.read().decode(), code


@pytest.mark.slow
def test_sigterm_ends_the_run_as_killed(synthetic_ref):
    client = MlflowClient(mlflow_tracking_uri())
    client.search_experiments()  # the store exists before the tuning process opens it
    parent, stderr, code = _tune_then_sigterm(client, synthetic_ref)
    assert parent.info.status == "KILLED", (parent.data.tags.get("ended_by"), stderr[-3000:])
    assert "interrupted" in parent.data.tags["ended_by"]
    assert "stopping at the next safe point" in stderr
    assert code == 143 and "Traceback" not in stderr, stderr[-3000:]
    assert stderr.rstrip().endswith("stopped: received SIGTERM")
