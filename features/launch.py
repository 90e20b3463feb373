"""Where a command that `mlflow run` started logs its MLflow run.

`mlflow run` opens a run for the entry point and passes its id in MLFLOW_RUN_ID. When the
user chose that run's experiment (`--experiment-name/--experiment-id`,
MLFLOW_EXPERIMENT_NAME), the command logs into that run. When it sits in the Default
experiment, the command opens its own run in its usual experiment (the feature set's for
tuning, "analytics" for the analytics models), carrying the launched run's lineage, and the
two runs name each other. Tuning (`experiments.tracking`) and the analytics runs
(`analytics.io`) follow the same plan.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

MLFLOW_RUN_ID_ENV = "MLFLOW_RUN_ID"
# MLflow's "Default" experiment: where `mlflow run` puts its run unless the user names one.
DEFAULT_EXPERIMENT_ID = "0"
LINKED_RUN_TAG = "usagecast.run_id"
LINKED_EXPERIMENT_TAG = "usagecast.experiment"
LAUNCHED_BY_TAG = "usagecast.launched_by"
# Tags of the launched run copied onto usagecast's own run: source, git, project, user.
LINEAGE_TAG_PREFIXES = ("mlflow.source.", "mlflow.project.", "mlflow.user")


@dataclass(frozen=True)
class Launch:
    """The run `mlflow run` opened for this process (MLFLOW_RUN_ID): id, experiment, tags."""

    run_id: str
    experiment_id: str
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LaunchPlan:
    """Where the command's run goes: `reuse` the launched run, or a new run with `own_tags`,
    whose id and experiment are then written on the launched run `link` (None: nothing to
    link)."""

    reuse: Launch | None = None
    link: str | None = None
    own_tags: Mapping[str, str] = field(default_factory=dict)


def plan_launch(launch: Launch | None) -> LaunchPlan:
    """Log into the launched run when the user chose its experiment; when it sits in the
    Default experiment, open our own run, carrying the launched run's lineage."""
    if launch is None:
        return LaunchPlan()
    if launch.experiment_id != DEFAULT_EXPERIMENT_ID:
        return LaunchPlan(reuse=launch)
    lineage = {k: v for k, v in launch.tags.items() if k.startswith(LINEAGE_TAG_PREFIXES)}
    return LaunchPlan(link=launch.run_id, own_tags={**lineage, LAUNCHED_BY_TAG: launch.run_id})


def launched_run(client: MlflowClient) -> Launch | None:
    """The run `mlflow run` launched this process in (MLFLOW_RUN_ID), if any."""
    run_id = os.environ.get(MLFLOW_RUN_ID_ENV)
    if not run_id:
        return None
    run = client.get_run(run_id)
    return Launch(run_id, run.info.experiment_id, dict(run.data.tags))


def link_launched_run(
    client: MlflowClient, plan: LaunchPlan, run_id: str, experiment_id: str
) -> None:
    """Name our own run and its experiment on the launched run the plan links (if any)."""
    if plan.link is None:
        return
    client.set_tag(plan.link, LINKED_RUN_TAG, run_id)
    client.set_tag(plan.link, LINKED_EXPERIMENT_TAG, client.get_experiment(experiment_id).name)
