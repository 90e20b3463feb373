"""Creating the workspace and its tracking store; nothing is created at import time.

The paths themselves are computed in contracts.workspace. `ensure_workspace()` and the
tracking store's creation (`ensure_mlflow_store`) are what callers that write call first.
"""

from __future__ import annotations

import os
from pathlib import Path

from contracts.workspace import (
    mlflow_tracking_uri,
    schema_marker_path,
    sqlite_store_path,
    workspace_dir,
)

__all__ = ["activate_mlflow_tracking", "ensure_mlflow_store", "ensure_workspace"]


def ensure_workspace() -> Path:
    """Create the workspace directory if needed and return it."""
    path = workspace_dir()
    path.mkdir(parents=True, exist_ok=True)
    return path


def activate_mlflow_tracking() -> str:
    """Point MLflow's fluent API at the store in effect: MLFLOW_TRACKING_URI when set, else
    the workspace's (USAGECAST_HOME, read on every call). Returns its URI.

    MLflow reads the variable on every call unless its own process-wide URI is set, which
    takes precedence; so with the variable set that URI is cleared (a URI set here earlier
    would shadow a variable a notebook or a test changed since). Without the variable the
    process-wide URI is the workspace's, and the variable MLflow writes beside it (for
    subprocesses) is removed again: left there, it would pin the first workspace's store for
    the whole process, so a notebook that moves to another USAGECAST_HOME would keep logging
    to the first. This process's own subprocesses are given their store, or find it from
    USAGECAST_HOME as this does.
    """
    import mlflow

    uri = mlflow_tracking_uri()
    ensure_mlflow_store(uri)
    given = os.environ.get("MLFLOW_TRACKING_URI")
    if given:
        if mlflow.get_tracking_uri() != given:
            mlflow.set_tracking_uri(None)  # which also removes the variable
            os.environ["MLFLOW_TRACKING_URI"] = given
    else:
        mlflow.set_tracking_uri(uri)
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    return uri


def ensure_mlflow_store(uri: str) -> None:
    """Create a SQLite tracking store, or bring an old one to this MLflow's schema, once, under
    a lock, so that neither concurrent first uses nor an interruption can leave it broken.

    MLflow builds (and migrates) a store's schema in place when a client opens it: processes
    doing that at once race ("table _alembic_tmp_params already exists"), and a process killed
    meanwhile leaves a file every later client fails on. Here the schema is built or migrated
    in a scratch copy that replaces the store in one rename, under a lock that makes concurrent
    first uses wait for one creator; a migrated store's previous file is kept as
    `<store>.<old revision>.bak`. A marker file holding the schema revision makes the check
    after that a file read. Other stores (a server, PostgreSQL) are left to MLflow.
    """
    path = sqlite_store_path(uri)
    if path is None:
        return
    from mlflow.store.db.utils import _get_latest_schema_revision

    head = _get_latest_schema_revision()
    marker = schema_marker_path(path)
    if path.exists() and _read_marker(marker) == head:
        return
    from features.locks import OwnedLock

    path.parent.mkdir(parents=True, exist_ok=True)
    with OwnedLock(path.with_name(f"{path.name}.create.lock")).hold():
        if path.exists() and _read_marker(marker) == head:
            return
        if _bring_to_head(path, head):
            marker.write_text(head + "\n", encoding="utf-8")


def _read_marker(marker: Path) -> str | None:
    try:
        return marker.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None


def _bring_to_head(path: Path, head: str) -> bool:
    """Create the store at `path`, or migrate it to `head`, through a scratch copy (the caller
    holds the lock); whether it is now at `head`. A store at a revision this MLflow does not
    know (a newer MLflow made it) is left as it is: MLflow reports that itself."""
    import sqlalchemy
    from mlflow.store.db.utils import _upgrade_db
    from mlflow.tracking import MlflowClient

    scratch = path.with_name(f".{path.name}.{os.getpid()}.creating")
    scratch.unlink(missing_ok=True)
    if not path.exists():
        MlflowClient(f"sqlite:///{scratch}").search_experiments(max_results=1)
        os.replace(scratch, path)
        return True
    current = _schema_revision(path)
    if current == head:
        return True
    if not _is_older_revision(current, head):
        return False
    _copy_sqlite(path, scratch)
    engine = sqlalchemy.create_engine(f"sqlite:///{scratch}")
    try:
        _upgrade_db(engine)
    finally:
        engine.dispose()
    backup = path.with_name(f"{path.name}.{current}.bak")
    backup.unlink(missing_ok=True)
    os.link(path, backup)
    os.replace(scratch, path)
    return True


def _schema_revision(path: Path) -> str | None:
    """The alembic revision a SQLite store records (None: no MLflow schema in it)."""
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(path)) as connection:
        try:
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.OperationalError:  # no such table
            return None
    return None if row is None else str(row[0])


def _copy_sqlite(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite database (the backup API, not a file copy)."""
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def _is_older_revision(current: str | None, head: str) -> bool:
    """Whether `current` is one of MLflow's revisions below `head`."""
    if current is None:
        return False
    from alembic.script import ScriptDirectory
    from mlflow.store.db.utils import _get_alembic_config

    scripts = ScriptDirectory.from_config(_get_alembic_config(db_url=""))
    return any(rev.revision == current for rev in scripts.walk_revisions("base", head))
