"""Suite-wide safety net: no test writes to the developer's real workspace or MLflow store;
and the one PostgreSQL server that the tests marked `postgres` share."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from features.quiet import QUIET_ENV
from scripts.local_postgres import LocalPostgres, running_postgres, server_bin_dir

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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[LocalPostgres]:
    """A real PostgreSQL on 127.0.0.1 in a temporary folder for the whole session;
    `postgres_server.create_database()` gives each test fresh databases."""
    bin_dir = server_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL server programs (initdb, pg_ctl) not found; .ci/run installs them")
    with running_postgres(bin_dir) as server:
        yield server
