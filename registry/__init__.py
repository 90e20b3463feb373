"""Model registry: model names, the pure promotion policy, and MLflow registry IO."""

from registry.names import CHAMPION, PREVIOUS, champion_uri, model_name
from registry.policy import Candidate, Champion, Decision, PolicyConfig, decide
from registry.promote import (
    PromotionResult,
    VersionSummary,
    latest_run_id,
    list_models,
    load_registered,
    model_version,
    promote_run,
    rollback,
    rows_at_cutoff,
)

__all__ = [
    "CHAMPION",
    "PREVIOUS",
    "Candidate",
    "Champion",
    "Decision",
    "PolicyConfig",
    "PromotionResult",
    "VersionSummary",
    "champion_uri",
    "decide",
    "latest_run_id",
    "list_models",
    "load_registered",
    "model_name",
    "model_version",
    "promote_run",
    "rollback",
    "rows_at_cutoff",
]
