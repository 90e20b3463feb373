"""Where usagecast keeps its files: one workspace directory, nothing created at import time.

The workspace is `.usagecast/` under the current directory unless USAGECAST_HOME says
otherwise. MLflow uses MLFLOW_TRACKING_URI when it is set, else a SQLite store inside the
workspace with its artifacts beside it. These functions only compute paths, except
`ensure_workspace()` and the tracking store's creation (`ensure_mlflow_store`), which callers
that write call first.
"""

from __future__ import annotations

import os
from pathlib import Path

WORKSPACE_ENV = "USAGECAST_HOME"
DEFAULT_WORKSPACE = ".usagecast"
# The project's feature-set specs (features.featureset.catalog searches it first).
SPECS_ENV = "USAGECAST_SPECS"
DEFAULT_PROJECT_SPECS = "specs"
# The Spark master of `--engine spark` (features.engines.spark; the CLI's --spark-master).
SPARK_MASTER_ENV = "USAGECAST_SPARK_MASTER"


def workspace_dir() -> Path:
    """The workspace directory (absolute), from USAGECAST_HOME or ./.usagecast."""
    return Path(os.environ.get(WORKSPACE_ENV) or DEFAULT_WORKSPACE).resolve()


def ensure_workspace() -> Path:
    """Create the workspace directory if needed and return it."""
    path = workspace_dir()
    path.mkdir(parents=True, exist_ok=True)
    return path


def event_store_path() -> Path:
    """The DuckDB event store that `usagecast ingest` writes."""
    return workspace_dir() / "events.duckdb"


def reports_dir() -> Path:
    """Data-quality reports (JSON, Markdown, HTML), one set per ingest plus `latest`."""
    return workspace_dir() / "reports"


def feature_sets_dir() -> Path:
    """Materialised feature sets: <name>/v<N>/<fingerprint>/{data.parquet, manifest.json}."""
    return workspace_dir() / "feature_sets"


def prediction_log_dir() -> Path:
    """The conventional prediction-log folder: serve with USAGECAST_PREDICTION_LOG pointing here
    and `usagecast monitor` finds the log without `--prediction-log`."""
    return workspace_dir() / "prediction_log"


def optuna_dir() -> Path:
    """Optuna journal files, one per study."""
    return workspace_dir() / "optuna"


def mlflow_tracking_uri() -> str:
    """MLFLOW_TRACKING_URI when set, else the workspace's SQLite store."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{workspace_dir() / 'mlflow.db'}"


def activate_mlflow_tracking() -> str:
    """Point MLflow's fluent API at the workspace's store when MLFLOW_TRACKING_URI is unset.

    MLflow reads the variable on every call by itself; setting the process-wide URI while it
    is set would pin a stale value for callers that change the variable later (notebooks,
    test suites). Returns the URI in effect.
    """
    uri = mlflow_tracking_uri()
    ensure_mlflow_store(uri)
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        import mlflow

        mlflow.set_tracking_uri(uri)
    return uri


def sqlite_store_path(uri: str) -> Path | None:
    """The database file of a `sqlite:///PATH` tracking URI; None for any other store."""
    prefix = "sqlite:///"
    return Path(uri[len(prefix) :]) if uri.startswith(prefix) else None


def ensure_mlflow_store(uri: str) -> None:
    """Create a SQLite tracking store that does not exist yet, so that no interruption can
    leave it half made.

    MLflow builds a new store's schema in place; a process killed meanwhile leaves a file that
    every later client fails on ("table ... already exists"). Here the schema is built in a
    scratch file that replaces the store path in one rename, under a lock that also makes
    concurrent first uses wait for one creator. Other stores (a server, PostgreSQL) and
    existing files are left to MLflow.
    """
    path = sqlite_store_path(uri)
    if path is None or path.exists():
        return
    from features.locks import OwnedLock

    path.parent.mkdir(parents=True, exist_ok=True)
    with OwnedLock(path.with_name(f"{path.name}.create.lock")).hold():
        if path.exists():
            return
        scratch = path.with_name(f".{path.name}.{os.getpid()}.creating")
        scratch.unlink(missing_ok=True)
        from mlflow.tracking import MlflowClient

        MlflowClient(f"sqlite:///{scratch}").search_experiments(max_results=1)
        os.replace(scratch, path)


def mlflow_artifact_root() -> str:
    """Artifact location for experiments created in the workspace's store."""
    return (workspace_dir() / "mlartifacts").as_uri()
