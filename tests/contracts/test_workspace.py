"""The workspace's paths: computed from USAGECAST_HOME (or ./.usagecast), never created."""

from __future__ import annotations

from pathlib import Path

import pytest

from contracts import workspace


@pytest.mark.parametrize("home", [None, "ws"])
def test_every_path_lies_in_the_workspace_and_none_is_created(home, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    if home is None:
        monkeypatch.delenv(workspace.WORKSPACE_ENV, raising=False)
    else:
        monkeypatch.setenv(workspace.WORKSPACE_ENV, home)
    root = tmp_path / (home or ".usagecast")
    assert workspace.workspace_dir() == root
    paths = [
        workspace.event_store_path(),
        workspace.reports_dir(),
        workspace.feature_sets_dir(),
        workspace.optuna_dir(),
        workspace.prediction_log_dir("premium_30d"),
    ]
    assert all(path.parent in (root, root / "prediction_log") for path in paths)
    assert workspace.mlflow_tracking_uri() == f"sqlite:///{root / 'mlflow.db'}"
    assert workspace.mlflow_artifact_root() == (root / "mlartifacts").as_uri()
    assert list(tmp_path.iterdir()) == []


def test_a_tracking_uri_set_in_the_environment_wins(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert workspace.mlflow_tracking_uri() == "http://127.0.0.1:5000"
    assert workspace.sqlite_store_path(workspace.mlflow_tracking_uri()) is None
    store = workspace.sqlite_store_path("sqlite:///ws/mlflow.db")
    assert store == Path("ws/mlflow.db")
    assert workspace.schema_marker_path(store) == Path("ws/mlflow.db.schema")
