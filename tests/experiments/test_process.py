"""Tuning as a user launches it: `mlflow run . -e tune` on simulated data, and SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from features import workspace
from features.featureset import build_feature_set
from features.ingest import ingest_dataset
from features.simulate import SimulationConfig, simulate_to_dir

ROOT = Path(__file__).resolve().parents[2]


def _environment() -> dict[str, str]:
    """The test's workspace/store, with this venv first on PATH (mlflow run calls `python`)."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


@pytest.mark.slow
def test_mlflow_run_tune_entry_point_on_simulated_data(tmp_path):
    simulate_to_dir(tmp_path / "data", SimulationConfig(n_users=300, seed=1))
    ingest_dataset(tmp_path / "data" / "dataset.yaml", progress=False)
    build_feature_set("premium_30d@v1")
    completed = subprocess.run(
        [
            Path(sys.executable).parent / "mlflow",
            "run",
            str(ROOT),
            "-e",
            "tune",
            "--env-manager",
            "local",
            "--experiment-name",
            "premium_30d",
            "-P",
            "feature_set=premium_30d@v1",
            "-P",
            "trials=3",
            "-P",
            "seed=4",
        ],
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "parent run:" in completed.stdout
    client = MlflowClient(workspace.mlflow_tracking_uri())
    experiment = client.get_experiment_by_name("premium_30d")
    runs = client.search_runs(
        [experiment.experiment_id], filter_string="tags.`usagecast.kind` = 'tuning'"
    )
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED"
    assert run.data.tags["feature_set"] == "premium_30d@v1"
    assert run.data.tags["seed"] == "4"
    # Simulated data: the oracle is computed from the simulator's truth.
    assert 0.5 < run.data.metrics["oracle_auc"] <= 1.0
    assert "oracle_lift_ratio" in run.data.metrics
    model = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    assert model.metadata.run_id == run.info.run_id


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
    client = MlflowClient(workspace.mlflow_tracking_uri())
    client.search_experiments()  # the store exists before the tuning process opens it
    parent, stderr, code = _tune_then_sigterm(client, synthetic_ref)
    assert parent.info.status == "KILLED", (parent.data.tags.get("ended_by"), stderr[-3000:])
    assert "interrupted" in parent.data.tags["ended_by"]
    assert "stopping at the next safe point" in stderr
    assert code == 143 and "Traceback" not in stderr, stderr[-3000:]
    assert stderr.rstrip().endswith("stopped: received SIGTERM")
