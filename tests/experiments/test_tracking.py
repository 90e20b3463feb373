"""What the MLflow writer refuses to record, and where a tuning run launched by `mlflow run`
logs (the plan itself: tests/features/test_launch.py)."""

from __future__ import annotations

import math

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from experiments import tracking
from experiments.interrupts import StopRequest
from features import launch, workspace


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_a_non_finite_metric_is_never_recorded(bad):
    uri = workspace.activate_mlflow_tracking()
    experiment = tracking.prepare_experiment(uri, "finite-only")
    with pytest.raises(ValueError, match=r"val_roc_auc=.*not finite"):
        tracking.log_child_run(
            uri,
            experiment,
            "parent",
            "trial-0",
            params={},
            metrics={"val_roc_auc": bad, "val_rows": 80},
            tags={},
        )
    assert MlflowClient(uri).search_runs([experiment]) == []
    with (
        mlflow.start_run(experiment_id=experiment) as run,
        pytest.raises(ValueError, match="test_roc_auc"),
    ):
        tracking.log_params_and_metrics({"threshold": 0.5}, {"test_roc_auc": bad})
    recorded = MlflowClient(uri).get_run(run.info.run_id).data
    assert recorded.metrics == {} and recorded.params == {}


LINEAGE = {
    "mlflow.source.name": "file:///project",
    "mlflow.source.type": "PROJECT",
    "mlflow.source.git.commit": "abc123",
    "mlflow.project.entryPoint": "tune",
    "mlflow.user": "ana",
}


def _open_tuning_run(uri: str, name: str) -> tuple[str, str]:
    """prepare_experiment + parent_run as `tune` calls them; (experiment id, run id)."""
    experiment = tracking.prepare_experiment(uri, name)
    with tracking.parent_run(experiment, "study-1", {"feature_set": f"{name}@v1"}, StopRequest()):
        run_id = mlflow.active_run().info.run_id
    return experiment, run_id


def test_a_run_launched_in_default_is_linked_to_a_run_in_the_cli_experiment(monkeypatch):
    uri = workspace.activate_mlflow_tracking()
    client = MlflowClient(uri)
    launched = client.create_run(launch.DEFAULT_EXPERIMENT_ID, tags=LINEAGE).info.run_id
    monkeypatch.setenv(launch.MLFLOW_RUN_ID_ENV, launched)
    experiment, own = _open_tuning_run(uri, "premium_30d")
    assert client.get_experiment(experiment).name == "premium_30d"
    assert own != launched
    run = client.get_run(own)
    assert run.info.experiment_id == experiment and run.info.status == "FINISHED"
    assert run.info.run_name == "study-1"
    assert run.data.tags[launch.LAUNCHED_BY_TAG] == launched
    assert {k: run.data.tags[k] for k in LINEAGE} == LINEAGE
    assert run.data.tags["feature_set"] == "premium_30d@v1"
    tags = client.get_run(launched).data.tags
    assert tags[launch.LINKED_RUN_TAG] == own
    assert tags[launch.LINKED_EXPERIMENT_TAG] == "premium_30d"


def test_a_run_launched_in_a_chosen_experiment_is_the_tuning_run(monkeypatch):
    uri = workspace.activate_mlflow_tracking()
    client = MlflowClient(uri)
    chosen = client.create_experiment("my-experiment")
    launched = client.create_run(chosen, tags=LINEAGE).info.run_id
    monkeypatch.setenv(launch.MLFLOW_RUN_ID_ENV, launched)
    experiment, own = _open_tuning_run(uri, "premium_30d")
    assert (experiment, own) == (chosen, launched)
    assert client.get_experiment_by_name("premium_30d") is None
    tags = client.get_run(launched).data.tags
    assert tags["feature_set"] == "premium_30d@v1"
    assert launch.LAUNCHED_BY_TAG not in tags and launch.LINKED_RUN_TAG not in tags


def test_an_experiment_created_by_another_process_between_lookup_and_insert_is_used(monkeypatch):
    """Concurrent first `tune` commands race to create the experiment: the loser uses it."""
    uri = workspace.activate_mlflow_tracking()
    theirs = MlflowClient(uri).create_experiment("raced")
    lookups = []
    real_lookup = MlflowClient.get_experiment_by_name

    def first_lookup_misses(self, name):
        lookups.append(name)
        return None if len(lookups) == 1 else real_lookup(self, name)

    monkeypatch.setattr(MlflowClient, "get_experiment_by_name", first_lookup_misses)
    assert tracking.prepare_experiment(uri, "raced") == theirs
