"""Where usagecast keeps its files: the workspace's paths, computed, never created.

The workspace is `.usagecast/` under the current directory unless USAGECAST_HOME says
otherwise. MLflow uses MLFLOW_TRACKING_URI when it is set, else a SQLite store inside the
workspace with its artifacts beside it. Creating the workspace and the tracking store is
features.workspace's (the I/O side).
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


def event_store_path() -> Path:
    """The DuckDB event store that `usagecast ingest` writes."""
    return workspace_dir() / "events.duckdb"


def reports_dir() -> Path:
    """Data-quality reports (JSON, Markdown, HTML), one set per ingest plus `latest`."""
    return workspace_dir() / "reports"


def feature_sets_dir() -> Path:
    """Materialised feature sets: <name>/v<N>/<fingerprint>/{data.parquet, manifest.json}."""
    return workspace_dir() / "feature_sets"


def prediction_log_dir(model_name: str) -> Path:
    """The prediction log of model `model_name`: `usagecast serve NAME` writes it here by
    default and `usagecast monitor NAME` reads it from here without `--prediction-log`."""
    return workspace_dir() / "prediction_log" / model_name


def optuna_dir() -> Path:
    """Optuna journal files, one per study."""
    return workspace_dir() / "optuna"


def mlflow_tracking_uri() -> str:
    """MLFLOW_TRACKING_URI when set, else the workspace's SQLite store."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{workspace_dir() / 'mlflow.db'}"


def sqlite_store_path(uri: str) -> Path | None:
    """The database file of a `sqlite:///PATH` tracking URI; None for any other store."""
    prefix = "sqlite:///"
    return Path(uri[len(prefix) :]) if uri.startswith(prefix) else None


def schema_marker_path(store: Path) -> Path:
    """The file beside a SQLite store naming the schema revision it was last brought to."""
    return store.with_name(f"{store.name}.schema")


def mlflow_artifact_root() -> str:
    """Artifact location for experiments created in the workspace's store."""
    return (workspace_dir() / "mlartifacts").as_uri()
