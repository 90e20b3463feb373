"""Names shared by promotion, the CLI and the trainer: model names, aliases, version tags."""

from __future__ import annotations

from contracts.refs import FeatureSetRef

CHAMPION = "champion"
PREVIOUS = "previous"

# The tags the trainer puts on its run are contracts.lineage's.
LABEL_COLUMN = "label"

# Tags promotion writes on every model version it registers (the audit trail in MLflow).
TAG_DECISION = "usagecast.decision"  # promoted | refused
TAG_REASON = "usagecast.reason"
TAG_METRIC = "usagecast.test_roc_auc"  # on the version's own run's test set
TAG_CALIBRATION = "usagecast.test_ece"
# A value model version's gate inputs, in place of the two above.
TAG_GINI = "usagecast.test_normalised_gini"  # on the version's own run's test set
TAG_BASELINE_RMSE = "usagecast.baseline_rmse"  # the training mean's test RMSE on those rows
TAG_COMPARED_WITH = "usagecast.compared_with"  # champion version or "none"
TAG_ALLOW_NEW_FEATURES = "usagecast.allow_new_features"
TAG_RUN_ID = "usagecast.run_id"
TAG_ROLLED_BACK = "usagecast.rolled_back"
# Written by `usagecast monitor` on the version it watched: its latest monitor run.
TAG_MONITOR_RUN = "usagecast.monitor_run_id"

PROMOTED = "promoted"
REFUSED = "refused"


def model_name(feature_set_ref: str | FeatureSetRef) -> str:
    """Registered model name for a feature set: `premium_30d@v1` -> `premium_30d`.

    All versions of a feature set share one registered model, so `@champion` can move from a
    model trained on v1 to one trained on v2 (behind --allow-new-features when columns differ).
    """
    return FeatureSetRef.of(feature_set_ref).name


def champion_uri(name: str) -> str:
    """`models:/NAME@champion`, what `mlflow models serve -m` is given."""
    return f"models:/{name}@{CHAMPION}"
