"""What the MLflow writer refuses to record."""

from __future__ import annotations

import math

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from experiments import tracking
from features import workspace


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
