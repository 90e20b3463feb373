"""Log a built feature set to the active MLflow run (lineage for every model trained on it)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

from contracts.errors import UsagecastError
from contracts.lineage import RunLineage
from contracts.refs import BuildRef, FeatureSetRef
from features.featureset.build import BuildResult, load_feature_set


def log_feature_set_to_mlflow(
    ref_or_result: str | BuildRef | BuildResult, context: str = "training"
) -> None:
    """Add the feature set as an mlflow.data input (digest = fingerprint) and tag the run."""
    import mlflow
    from mlflow.data.dataset_source_registry import get_dataset_source_from_json

    if mlflow.active_run() is None:
        raise UsagecastError("log_feature_set_to_mlflow needs an active MLflow run")
    if isinstance(ref_or_result, BuildResult):
        ref = BuildRef(FeatureSetRef.parse(ref_or_result.ref), ref_or_result.fingerprint)
    else:
        ref = ref_or_result
    frame, manifest = load_feature_set(ref)
    # A path string matches MLflow's two local source types (file: and no scheme) and warns
    # that it is ambiguous: name the type.
    source = get_dataset_source_from_json(
        json.dumps({"uri": Path(str(manifest.path)).as_uri()}), source_type="local"
    )
    dataset = mlflow.data.from_pandas(
        frame,
        source=source,
        targets="label",
        name=str(manifest.feature_set),
        digest=manifest.fingerprint,
    )
    with warnings.catch_warnings():
        # The schema recorded here describes the build; it is no model signature. The served
        # model declares no column schema and reads a missing number as NaN, so MLflow's hint
        # about integer columns that cannot hold missing values does not apply.
        warnings.filterwarnings(
            "ignore", message="Hint: Inferred schema contains integer column", category=UserWarning
        )
        mlflow.log_input(dataset, context=context)
    lineage = RunLineage(manifest.feature_set, manifest.fingerprint)
    mlflow.set_tags(lineage.identity_tags())
