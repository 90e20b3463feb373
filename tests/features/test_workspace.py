"""The tracking store is created whole or not at all, whatever kills its creator."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from contracts.workspace import sqlite_store_path
from features.workspace import activate_mlflow_tracking, ensure_mlflow_store

CREATE = "import sys; from features.workspace import ensure_mlflow_store as e; e(sys.argv[1])"


def test_only_sqlite_uris_have_a_store_path(tmp_path: Path) -> None:
    assert sqlite_store_path(f"sqlite:///{tmp_path}/m.db") == tmp_path / "m.db"
    assert sqlite_store_path("sqlite:///.usagecast/mlflow.db") == Path(".usagecast/mlflow.db")
    assert sqlite_store_path("postgresql://u@h/db") is None
    assert sqlite_store_path("http://127.0.0.1:5000") is None


@pytest.mark.slow
def test_a_new_store_is_created_and_usable(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'nested' / 'mlflow.db'}"
    ensure_mlflow_store(uri)
    ensure_mlflow_store(uri)  # an existing store is left alone
    client = MlflowClient(uri)
    experiment = client.create_experiment("e")
    assert client.get_experiment(experiment).name == "e"
    assert [p.name for p in (tmp_path / "nested").iterdir() if "creating" in p.name] == []


@pytest.mark.slow
def test_a_creator_killed_at_any_moment_never_leaves_a_broken_store(tmp_path: Path) -> None:
    """SIGKILL the creating process after random delays: afterwards the store path is either
    absent or a working store, and the next creation succeeds (seeded delays)."""
    rng = random.Random(3)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for attempt in range(6):
        uri = f"sqlite:///{tmp_path / f'store{attempt}.db'}"
        creator = subprocess.Popen([sys.executable, "-c", CREATE, uri], env=env)
        time.sleep(rng.uniform(0.5, 4.0))
        creator.send_signal(signal.SIGKILL)
        creator.wait()
        path = sqlite_store_path(uri)
        if path.exists():
            MlflowClient(uri).search_experiments()
        ensure_mlflow_store(uri)
        MlflowClient(uri).create_experiment(f"after-kill-{attempt}")


def _store_at_revision(path: Path, revision: str) -> None:
    """A SQLite store as an older MLflow left it: initial tables migrated up to `revision`."""
    import sqlalchemy
    from alembic import command
    from mlflow.store.db.utils import _get_alembic_config
    from mlflow.store.tracking.dbmodels.initial_models import Base as InitialBase

    engine = sqlalchemy.create_engine(f"sqlite:///{path}")
    InitialBase.metadata.create_all(engine)
    config = _get_alembic_config(str(engine.url))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    engine.dispose()


@pytest.mark.slow
def test_an_old_store_is_migrated_once_and_its_previous_file_kept(tmp_path: Path) -> None:
    from alembic.script import ScriptDirectory
    from mlflow.store.db.utils import _get_alembic_config, _get_latest_schema_revision

    scripts = ScriptDirectory.from_config(_get_alembic_config(db_url=""))
    head = _get_latest_schema_revision()
    older = scripts.get_revision(head).down_revision
    path = tmp_path / "mlflow.db"
    _store_at_revision(path, older)
    uri = f"sqlite:///{path}"

    ensure_mlflow_store(uri)

    assert (tmp_path / "mlflow.db.schema").read_text().strip() == head
    assert (tmp_path / f"mlflow.db.{older}.bak").exists()
    MlflowClient(uri).create_experiment("after-upgrade")
    modified = path.stat().st_mtime_ns
    ensure_mlflow_store(uri)  # current: the marker says so, nothing is rewritten
    assert path.stat().st_mtime_ns == modified


@pytest.mark.slow
def test_a_store_from_a_newer_mlflow_is_left_alone(tmp_path: Path) -> None:
    import sqlite3
    from contextlib import closing

    path = tmp_path / "mlflow.db"
    ensure_mlflow_store(f"sqlite:///{path}")
    (tmp_path / "mlflow.db.schema").unlink()
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.execute("UPDATE alembic_version SET version_num = 'f00dfeedbeef'")
    ensure_mlflow_store(f"sqlite:///{path}")
    assert not (tmp_path / "mlflow.db.schema").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".bak")] == []


@pytest.fixture
def mlflow_follows_the_environment():
    """MLflow's process-wide URI cleared after the test, as the other tests expect it."""
    yield
    mlflow.set_tracking_uri(None)


def _experiments_in(store: Path) -> list[str]:
    return [e.name for e in MlflowClient(f"sqlite:///{store}").search_experiments()]


def test_a_notebook_that_moves_to_another_workspace_logs_there(
    tmp_path, monkeypatch, make_mlflow_store, mlflow_follows_the_environment
):
    """Without MLFLOW_TRACKING_URI each workspace's store is used in turn: MLflow writes the
    variable when given a URI, which would pin the first workspace's store."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    for project in ("first", "second"):
        (tmp_path / project).mkdir()
        make_mlflow_store(tmp_path / project)
        monkeypatch.setenv("USAGECAST_HOME", str(tmp_path / project))
        activate_mlflow_tracking()
        MlflowClient().create_experiment(f"{project}-experiment")  # the process-wide store
    assert "MLFLOW_TRACKING_URI" not in os.environ
    assert "second-experiment" not in _experiments_in(tmp_path / "first" / "mlflow.db")
    assert "second-experiment" in _experiments_in(tmp_path / "second" / "mlflow.db")


def test_a_tracking_uri_set_after_a_workspace_was_activated_is_followed(
    tmp_path, monkeypatch, make_mlflow_store, mlflow_follows_the_environment
):
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    home = Path(os.environ["USAGECAST_HOME"])
    home.mkdir()
    make_mlflow_store(home)
    activate_mlflow_tracking()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", make_mlflow_store(tmp_path))
    assert activate_mlflow_tracking() == mlflow.get_tracking_uri()
    assert os.environ["MLFLOW_TRACKING_URI"] == f"sqlite:///{tmp_path / 'mlflow.db'}"
