"""Suite-wide safety net: no test writes to the developer's real workspace or MLflow store."""

from __future__ import annotations

import os

import pytest

from usagecast_cli.quiet import QUIET_ENV

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def isolated_workspace(tmp_path, monkeypatch):
    """Point USAGECAST_HOME, MLflow, specs and the working directory at a fresh folder per test.

    The working directory matters too: MLflow puts a SQLite store's default artifacts in
    ./mlruns under it.
    """
    monkeypatch.chdir(tmp_path)
    home = tmp_path / "usagecast_home"
    monkeypatch.setenv("USAGECAST_HOME", str(home))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    # Set (to its default) so that monkeypatch also undoes what `--specs` sets in main().
    monkeypatch.setenv("USAGECAST_SPECS", str(tmp_path / "specs"))
    # `--spark-master` sets the engine's master for the process; a test starts without one.
    for name in ("USAGECAST_SPARK_MASTER", "USAGECAST_PARQUET_ROOT", "SPARK_REMOTE"):
        monkeypatch.delenv(name, raising=False)
    # main() sets quiet defaults with os.environ.setdefault; undo them after each test.
    for name in QUIET_ENV:
        monkeypatch.delenv(name, raising=False)
    return home
