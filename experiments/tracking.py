"""The one module in experiments/ that writes to MLflow.

- `prepare_experiment` creates the store and the experiment once, serially, before any
  worker starts (fresh SQLite stores break when many processes create them at once).
- A process that `mlflow run` started logs as `features.launch.plan_launch` says: into the
  run it launched when the user chose that run's experiment, else into its own run in the
  feature set's experiment, linked both ways with the launched run (Default experiment).
- `end_stale_runs` ends RUNNING runs whose process is gone (killed by SIGKILL/SIGTERM, power
  loss) as KILLED, so nothing in the UI looks alive that is not.
- `parent_run` opens the tuning run and always closes it: FINISHED, FAILED on an error, KILLED
  on Ctrl-C or SIGTERM (recorded by `experiments.interrupts.deferred_stop`).
- `TrialRunLogger` is an Optuna callback that records each finished trial as a nested run
  (the small replacement for optuna-integration's MLflowCallback).
- No metric is written unless it is finite: a NaN or infinite value raises before anything of
  the batch is written, so the run ends FAILED instead of FINISHED with a NaN result.
"""

from __future__ import annotations

import json
import math
import os
import socket
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import mlflow
import optuna
import pandas as pd
import psutil
from matplotlib.figure import Figure
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, ErrorCode
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME

from contracts.lineage import TEST_SET_ARTIFACT
from experiments.interrupts import StopRequest
from experiments.objective import FOLD_SCORES_ATTR, fold_metrics
from experiments.study import SURPLUS_ATTR
from features.launch import launched_run, link_launched_run, plan_launch

PID_TAG = "usagecast.pid"
HOST_TAG = "usagecast.host"
KIND_TAG = "usagecast.kind"
TRIAL_TAG = "optuna_trial"
STATE_TAG = "optuna_state"
PRUNED_TAG = "pruned"
# Kinds of run a tuning process writes: the tuning run and its nested (trial, baseline) runs.
OWNED_KINDS = ("tuning", "nested")

PLOTS_FOLDER = "plots"  # the tuning run's figures, one PNG each


def artifact_location(tracking_uri: str) -> str | None:
    """Artifacts beside a SQLite store (`<db folder>/mlartifacts`), never in the current folder.

    MLflow's default for a database store is ./mlruns under whatever directory the command
    ran in; a server or another database decides for itself (None).
    """
    prefix = "sqlite:///"
    if not tracking_uri.startswith(prefix):
        return None
    return (Path(tracking_uri.removeprefix(prefix)).resolve().parent / "mlartifacts").as_uri()


def prepare_experiment(tracking_uri: str, name: str) -> str:
    """Create (or find) the store and the experiment; returns the experiment id.

    When `mlflow run` launched us into an experiment the user chose, that one is used instead
    (`plan_launch`).
    """
    client = MlflowClient(tracking_uri)
    reuse = plan_launch(launched_run(client)).reuse
    if reuse is not None:
        return reuse.experiment_id
    existing = client.get_experiment_by_name(name)
    if existing is not None:
        return existing.experiment_id
    try:
        return client.create_experiment(name, artifact_location=artifact_location(tracking_uri))
    except MlflowException as error:
        # Another process created it between our lookup and our insert: use theirs.
        created = client.get_experiment_by_name(name)
        if error.error_code != ErrorCode.Name(RESOURCE_ALREADY_EXISTS) or created is None:
            raise
        return created.experiment_id


def require_finite(metrics: Mapping[str, float], where: str) -> dict[str, float]:
    """The metrics as floats; raises if any is NaN or infinite (never logged as a result)."""
    values = {key: float(value) for key, value in metrics.items()}
    bad = sorted(key for key, value in values.items() if not math.isfinite(value))
    if bad:
        raise ValueError(
            f"{where}: metric(s) {', '.join(f'{k}={values[k]}' for k in bad)} are not finite; "
            "refusing to record them as a result"
        )
    return values


def _process_alive(tags: Mapping[str, str]) -> bool:
    """Whether the process that owns a run is still running on this host."""
    if tags.get(HOST_TAG) != socket.gethostname():
        return False
    pid = int(tags.get(PID_TAG, "0") or 0)
    return pid > 0 and psutil.pid_exists(pid) and pid != os.getpid()


def owner_tags(kind: str) -> dict[str, str]:
    """Tags that say which process writes a run; set when the run is created, so a process
    killed at any point leaves a run that stale-run cleanup can recognise."""
    return {KIND_TAG: kind, PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def end_stale_runs(tracking_uri: str, experiment_id: str) -> list[str]:
    """Mark RUNNING tuning runs and their nested runs whose writing process is gone as KILLED;
    returns their ids."""
    client = MlflowClient(tracking_uri)
    running = client.search_runs([experiment_id], filter_string="attributes.status = 'RUNNING'")
    stale = [
        run
        for run in running
        if run.data.tags.get(KIND_TAG) in OWNED_KINDS and not _process_alive(run.data.tags)
    ]
    for run in stale:
        client.set_tag(run.info.run_id, "ended_by", "stale-run cleanup: its process was gone")
        client.set_terminated(run.info.run_id, status="KILLED")
    return [run.info.run_id for run in stale]


@contextmanager
def parent_run(
    experiment_id: str, run_name: str, tags: Mapping[str, str], stop: StopRequest
) -> Iterator[str]:
    """Open the tuning run (or the one `mlflow run` launched, see `plan_launch`) and always end
    it honestly.

    KILLED when `stop` saw SIGTERM/Ctrl-C (whatever exception then ended the block), FAILED on
    any other error, FINISHED otherwise.
    """
    client = MlflowClient()
    plan = plan_launch(launched_run(client))
    all_tags = {**tags, **plan.own_tags, **owner_tags("tuning")}
    if plan.reuse is not None:
        run = mlflow.start_run(run_id=plan.reuse.run_id)
        mlflow.set_tags(all_tags)
    elif plan.link is not None:
        # Created by the client: the fluent API would take MLFLOW_RUN_ID and reuse that run.
        created = client.create_run(experiment_id, run_name=run_name, tags=all_tags)
        run = mlflow.start_run(run_id=created.info.run_id)
        link_launched_run(client, plan, run.info.run_id, experiment_id)
    else:
        run = mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=all_tags)
    try:
        yield run.info.run_id
    except BaseException as error:
        if stop.requested or isinstance(error, KeyboardInterrupt):
            mlflow.set_tag("ended_by", "interrupted (Ctrl-C or SIGTERM)")
            mlflow.end_run(status="KILLED")
        else:
            mlflow.set_tag("ended_by", f"error: {type(error).__name__}: {error}"[:4000])
            mlflow.end_run(status="FAILED")
        raise
    mlflow.end_run(status="FINISHED")


def log_child_run(
    tracking_uri: str,
    experiment_id: str,
    parent_run_id: str,
    name: str,
    *,
    params: Mapping[str, object],
    metrics: Mapping[str, float],
    tags: Mapping[str, str],
    status: str = "FINISHED",
    log_artifacts: Callable[[], None] | None = None,
) -> str:
    """One finished nested run holding params, metrics and tags; returns its id.

    `log_artifacts` logs into the run (made the active run while it runs) before it ends.
    """
    values = require_finite(metrics, f"run {name}")
    client = MlflowClient(tracking_uri)
    run = client.create_run(
        experiment_id,
        run_name=name,
        tags={
            MLFLOW_PARENT_RUN_ID: parent_run_id,
            MLFLOW_RUN_NAME: name,
            **tags,
            **owner_tags("nested"),
        },
    )
    client.log_batch(
        run.info.run_id,
        metrics=[Metric(key, value, 0, 0) for key, value in values.items()],
        params=[Param(key, str(value)) for key, value in params.items()],
        tags=[RunTag(key, str(value)) for key, value in tags.items()],
    )
    if log_artifacts is not None:
        with mlflow.start_run(run_id=run.info.run_id, nested=True):
            log_artifacts()
    client.set_terminated(run.info.run_id, status=status)
    return run.info.run_id


class TrialRunLogger:
    """Optuna callback: each finished trial becomes a nested run of the tuning run."""

    def __init__(
        self, tracking_uri: str, experiment_id: str, parent_run_id: str, metric: str
    ) -> None:
        self.tracking_uri = tracking_uri
        self.experiment_id = experiment_id
        self.parent_run_id = parent_run_id
        self.metric = metric

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        """Log params, the validation metric (last reported one when pruned), the state, and
        for a completed trial its folds (param and metric `folds`, each fold's score, std)."""
        if trial.user_attrs.get(SURPLUS_ATTR):
            return  # never run: a worker found the budget taken (experiments/study.py)
        value = trial.value
        if value is None and trial.intermediate_values:
            value = trial.intermediate_values[max(trial.intermediate_values)]
        pruned = trial.state == optuna.trial.TrialState.PRUNED
        scores = trial.user_attrs.get(FOLD_SCORES_ATTR, [])
        metrics = {} if value is None else {f"val_{self.metric}": value}
        if scores:
            metrics |= fold_metrics(self.metric, scores)
        log_child_run(
            self.tracking_uri,
            self.experiment_id,
            self.parent_run_id,
            f"trial-{trial.number}",
            params={**trial.params, **({"folds": len(scores)} if scores else {})},
            metrics=metrics,
            tags={
                TRIAL_TAG: str(trial.number),
                STATE_TAG: trial.state.name,
                PRUNED_TAG: str(pruned).lower(),
                "optuna_study": study.study_name,
                **{k: str(v) for k, v in trial.user_attrs.items()},
            },
            status="FINISHED" if trial.state.is_finished() else "FAILED",
        )


def log_parent_results(
    *,
    params: Mapping[str, object],
    metrics: Mapping[str, float],
    tags: Mapping[str, str],
    figures: Mapping[str, Figure],
    json_artifacts: Mapping[str, object],
    test_set: pd.DataFrame,
) -> str:
    """Everything the tuning run holds besides the model: params, metrics, plots, files.
    Returns the artifact URI of the plots' folder."""
    log_params_and_metrics(params, metrics)
    mlflow.set_tags(dict(tags))
    for name, figure in figures.items():
        mlflow.log_figure(figure, f"{PLOTS_FOLDER}/{name}.png")
    for name, payload in json_artifacts.items():
        mlflow.log_text(json.dumps(payload, indent=2, sort_keys=True, default=str), name)
    log_test_set(test_set)
    return mlflow.get_artifact_uri(PLOTS_FOLDER)


def log_test_set(test_set: pd.DataFrame) -> None:
    """The run's held-out rows as `test_set.parquet`: promotion scores the model on them."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / TEST_SET_ARTIFACT
        test_set.to_parquet(path, index=False)
        mlflow.log_artifact(str(path))


def log_params_and_metrics(params: Mapping[str, object], metrics: Mapping[str, float]) -> None:
    """Params and (finite) metrics on the active run."""
    values = require_finite(metrics, "tuning run")
    mlflow.log_params({key: str(value) for key, value in params.items()})
    mlflow.log_metrics(values)


def log_feature_set_input(ref: str, fingerprint: str) -> None:
    """The exact feature-set build as the run's mlflow.data input (digest = fingerprint).

    MLflow looks the dataset up, then inserts it: two runs logging the same new build at once
    can both miss it, and the second insert fails on the store's unique constraint (its
    transaction rolled back). That run logs again once and finds the first run's dataset.
    """
    from features.featureset import log_feature_set_to_mlflow

    try:
        log_feature_set_to_mlflow(f"{ref}/{fingerprint}")
    except MlflowException as error:
        if "unique constraint" not in str(error).lower():
            raise
        log_feature_set_to_mlflow(f"{ref}/{fingerprint}")
