"""The one analytics module that writes: MLflow runs and A/B experiments in the workspace.

An A/B experiment is stored as `<workspace>/ab/<name>.json` (groups, split, salt, start date)
plus `<name>.parquet` with each assigned user's bucket and group.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from analytics.ab import Experiment
from contracts.errors import UsagecastError
from contracts.names import check_name
from contracts.workspace import (
    event_store_path,
    mlflow_artifact_root,
    mlflow_tracking_uri,
    workspace_dir,
)
from events.store import StoreMissingError
from features import engines
from features.engines import Engine
from features.launch import launched_run, link_launched_run, plan_launch
from features.workspace import ensure_mlflow_store, ensure_workspace

MLFLOW_EXPERIMENT = "analytics"


def open_engine(engine_name: str = "duckdb") -> Engine:
    """An engine over the workspace's event store (DuckDB, or Spark over its Parquet copy)."""
    try:
        return engines.open_engine(engine_name, event_store_path())
    except StoreMissingError as error:
        raise UsagecastError(str(error)) from error


@dataclass(frozen=True)
class LoggedRun:
    """Where `log_run` recorded: the run's id and its experiment's name."""

    run_id: str
    experiment: str


def log_run(
    model: str,
    tables: Mapping[str, pd.DataFrame],
    figures: Mapping[str, Figure],
    params: Mapping[str, object],
    metrics: Mapping[str, float] | None = None,
    experiment: str = MLFLOW_EXPERIMENT,
) -> LoggedRun:
    """Record one MLflow run (experiment "analytics" unless told): params, metrics, tables as
    CSV + Parquet, PNGs. The what-if policy runs (experiments/whatif) log through it too.

    Started by `mlflow run`, it logs where `features.launch.plan_launch` says: into the
    launched run when the user chose its experiment (which `mlflow run` then ends), else into
    a run of its own in `experiment`, linked both ways with the launched one.
    """
    from mlflow.tracking import MlflowClient

    ensure_workspace()
    uri = mlflow_tracking_uri()
    ensure_mlflow_store(uri)
    client = MlflowClient(uri)
    plan = plan_launch(launched_run(client))
    tags = {"usagecast.model": model, **plan.own_tags}
    if plan.reuse is not None:
        run_id = plan.reuse.run_id
        experiment = client.get_experiment(plan.reuse.experiment_id).name
        for key, value in tags.items():
            client.set_tag(run_id, key, value)
    else:
        existing = client.get_experiment_by_name(experiment)
        experiment_id = (
            existing.experiment_id
            if existing is not None
            else client.create_experiment(experiment, artifact_location=mlflow_artifact_root())
        )
        run_id = client.create_run(experiment_id, run_name=model, tags=tags).info.run_id
        link_launched_run(client, plan, run_id, experiment_id)
    try:
        for key, value in params.items():
            client.log_param(run_id, key, "" if value is None else str(value))
        for key, value in (metrics or {}).items():
            client.log_metric(run_id, key, float(value))
        with tempfile.TemporaryDirectory() as folder:
            for name, table in tables.items():
                table.to_csv(Path(folder) / f"{name}.csv", index=False)
                table.to_parquet(Path(folder) / f"{name}.parquet", index=False)
            for name, figure in figures.items():
                figure.savefig(Path(folder) / f"{name}.png", dpi=110)
            client.log_artifacts(run_id, folder)
    except BaseException:
        if plan.reuse is None:
            client.set_terminated(run_id, "FAILED")
        raise
    if plan.reuse is None:
        client.set_terminated(run_id, "FINISHED")
    return LoggedRun(run_id, experiment)


def ab_dir() -> Path:
    """Where A/B experiments live in the workspace."""
    return workspace_dir() / "ab"


def experiment_file(name: str, suffix: str) -> Path:
    """`<workspace>/ab/<name><suffix>`; a name that is not one plain file name is refused."""
    return ab_dir() / f"{check_name(name, 'experiment name')}{suffix}"


def save_experiment(experiment: Experiment, assignment: pd.DataFrame) -> Path:
    """Store the experiment's definition and its users' groups; refuses to overwrite one.

    Sticky means the definition of a running experiment never changes: assigning again with
    the same split and salt only adds the users who appeared since.
    """
    definition = experiment_file(experiment.name, ".json")
    ensure_workspace()
    definition.parent.mkdir(exist_ok=True)
    if definition.exists():
        stored = load_experiment(experiment.name)
        if (stored.groups, stored.percents, stored.salt) != (
            experiment.groups,
            experiment.percents,
            experiment.salt,
        ):
            raise UsagecastError(
                f"{definition}: experiment {experiment.name!r} exists with a different split, "
                "groups or salt; a running experiment cannot change (use a new name)"
            )
        experiment = stored
    definition.write_text(
        json.dumps(
            {
                "name": experiment.name,
                "groups": list(experiment.groups),
                "percents": list(experiment.percents),
                "salt": experiment.salt,
                "start": experiment.start.isoformat(),
            },
            indent=2,
        )
    )
    assignment.to_parquet(experiment_file(experiment.name, ".parquet"), index=False)
    return definition


def load_experiment(name: str) -> Experiment:
    """The stored definition of an A/B experiment."""
    path = experiment_file(name, ".json")
    if not path.exists():
        raise UsagecastError(
            f"{path}: no experiment {name!r}; run `usagecast ab assign --experiment {name}`"
        )
    data = json.loads(path.read_text())
    return Experiment(
        name=data["name"],
        groups=tuple(data["groups"]),
        percents=tuple(float(p) for p in data["percents"]),
        salt=data["salt"],
        start=datetime.fromisoformat(data["start"]),
    )


def load_assignment(name: str) -> pd.DataFrame:
    """user_id, bucket, group of the users stored for an experiment."""
    path = experiment_file(name, ".parquet")
    if not path.exists():
        raise UsagecastError(f"{path}: no stored assignment for experiment {name!r}")
    return pd.read_parquet(path)
