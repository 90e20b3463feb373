"""Model registry: model names, the pure promotion policy, MLflow registry IO, and batch
scoring through a registered model."""

from registry.names import CHAMPION, PREVIOUS, champion_uri, model_name
from registry.policy import (
    Candidate,
    Champion,
    Decision,
    PolicyConfig,
    ValueCandidate,
    ValueChampion,
    decide,
    decide_value,
)
from registry.promote import (
    PromotionResult,
    VersionSummary,
    latest_run_id,
    list_models,
    load_registered,
    promote_run,
    rollback,
    tuned_feature_sets,
)
from registry.scoring import (
    ScoreSummary,
    checked_scores_path,
    model_version,
    read_scores,
    rows_at_cutoff,
    score_feature_set,
)

__all__ = [
    "CHAMPION",
    "PREVIOUS",
    "Candidate",
    "Champion",
    "Decision",
    "PolicyConfig",
    "PromotionResult",
    "ScoreSummary",
    "ValueCandidate",
    "ValueChampion",
    "VersionSummary",
    "champion_uri",
    "checked_scores_path",
    "decide",
    "decide_value",
    "latest_run_id",
    "list_models",
    "load_registered",
    "model_name",
    "model_version",
    "promote_run",
    "read_scores",
    "rollback",
    "rows_at_cutoff",
    "score_feature_set",
    "tuned_feature_sets",
]
