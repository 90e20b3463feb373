"""Log a built feature set to the active MLflow run (lineage for every model trained on it)."""

from __future__ import annotations

from features.errors import UsagecastError
from features.featureset.build import BuildResult, load_feature_set

FEATURE_SET_TAG = "feature_set"
FINGERPRINT_TAG = "feature_set_fingerprint"


def log_feature_set_to_mlflow(ref_or_result: str | BuildResult, context: str = "training") -> None:
    """Add the feature set as an mlflow.data input (digest = fingerprint) and tag the run."""
    import mlflow

    if mlflow.active_run() is None:
        raise UsagecastError("log_feature_set_to_mlflow needs an active MLflow run")
    if isinstance(ref_or_result, BuildResult):
        ref = f"{ref_or_result.ref}/{ref_or_result.fingerprint}"
    else:
        ref = ref_or_result
    frame, manifest = load_feature_set(ref)
    dataset = mlflow.data.from_pandas(
        frame,
        source=manifest.get("path", manifest["ref"]),
        targets="label",
        name=manifest["ref"],
        digest=manifest["fingerprint"],
    )
    mlflow.log_input(dataset, context=context)
    mlflow.set_tags({FEATURE_SET_TAG: manifest["ref"], FINGERPRINT_TAG: manifest["fingerprint"]})
