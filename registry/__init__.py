"""Model registry: model names, the pure promotion policy, and MLflow registry IO."""

from registry.names import CHAMPION, PREVIOUS, champion_uri, model_name
from registry.policy import Candidate, Champion, Decision, PolicyConfig, decide
from registry.promote import (
    PromotionResult,
    VersionSummary,
    latest_run_id,
    list_models,
    promote_run,
    rollback,
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
    "model_name",
    "promote_run",
    "rollback",
]
