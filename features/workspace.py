"""Where usagecast keeps its files: one workspace directory, nothing created at import time.

The workspace is `.usagecast/` under the current directory unless USAGECAST_HOME says
otherwise. MLflow uses MLFLOW_TRACKING_URI when it is set, else a SQLite store inside the
workspace with its artifacts beside it. These functions only compute paths; callers that
write call `ensure_workspace()` first.
"""

from __future__ import annotations

import os
from pathlib import Path

WORKSPACE_ENV = "USAGECAST_HOME"
DEFAULT_WORKSPACE = ".usagecast"
# The project's feature-set specs (features.featureset.catalog searches it first).
SPECS_ENV = "USAGECAST_SPECS"
DEFAULT_PROJECT_SPECS = "specs"


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
    """Data-quality reports (JSON + Markdown), one pair per ingest plus `latest`."""
    return workspace_dir() / "reports"


def feature_sets_dir() -> Path:
    """Materialised feature sets: <name>/v<N>/<fingerprint>/{data.parquet, manifest.json}."""
    return workspace_dir() / "feature_sets"


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
    if not os.environ.get("MLFLOW_TRACKING_URI"):
        import mlflow

        mlflow.set_tracking_uri(uri)
    return uri


def mlflow_artifact_root() -> str:
    """Artifact location for experiments created in the workspace's store."""
    return (workspace_dir() / "mlartifacts").as_uri()
