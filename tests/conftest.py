"""Suite-wide safety net: no test writes to the developer's real workspace or MLflow store."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def isolated_workspace(tmp_path, monkeypatch):
    """Point USAGECAST_HOME and MLflow at a fresh folder for each test."""
    home = tmp_path / "usagecast_home"
    monkeypatch.setenv("USAGECAST_HOME", str(home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    return home
