"""The suite's own fixtures keep tests inside their folders (tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path


def test_the_copied_store_keeps_default_experiment_artifacts_in_the_test_folder(
    mlflow_store, tmp_path
):
    import mlflow

    artifact_root = Path(mlflow.MlflowClient().get_experiment("0").artifact_location)
    assert artifact_root == tmp_path / "mlruns" / "0"
