"""Registering a trained recommender: a pure gate, then one version and the aliases.

The gate (`decide`) promotes a recommender only when it beats the popularity baseline on the
evaluation window's NDCG@k; recall@k is recorded beside it. `usagecast promote` does not apply:
its gate re-scores ROC-AUC on a classifier's test rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import mlflow
from mlflow.tracking import MlflowClient

from features.workspace import activate_mlflow_tracking
from registry.names import (
    CHAMPION,
    PREVIOUS,
    PROMOTED,
    REFUSED,
    TAG_DECISION,
    TAG_REASON,
    TAG_RUN_ID,
)
from registry.promote import promotion_lock


@dataclass(frozen=True)
class Registration:
    """The version a run became and whether it is now @champion, with the reason."""

    name: str
    version: str
    promoted: bool
    reason: str


def decide(
    model: Mapping[str, float], popularity: Mapping[str, float], k: int
) -> tuple[bool, str]:
    """(promote?, reason): the model must beat popularity's NDCG@k on the evaluation window."""
    ndcg, recall = f"ndcg_at_{k}", f"recall_at_{k}"
    numbers = (
        f"NDCG@{k} {model[ndcg]:.4f} vs popularity {popularity[ndcg]:.4f}, "
        f"recall@{k} {model[recall]:.4f} vs {popularity[recall]:.4f}"
    )
    if model[ndcg] > popularity[ndcg]:
        return True, f"beats the popularity baseline: {numbers}"
    return False, f"does not beat the popularity baseline: {numbers}"


def register_recommender(
    model_uri: str, run_id: str, name: str, promote: bool, reason: str
) -> Registration:
    """Register the run's logged model as a version of `name`, tagged with the decision; when
    promoted, @champion moves to it and the old champion becomes @previous."""
    uri = activate_mlflow_tracking()
    client = MlflowClient()
    with promotion_lock(name, uri):
        version = str(mlflow.register_model(model_uri, name).version)
        for key, value in {
            TAG_DECISION: PROMOTED if promote else REFUSED,
            TAG_REASON: reason,
            TAG_RUN_ID: run_id,
        }.items():
            client.set_model_version_tag(name, version, key, value)
        if promote:
            champion = client.get_registered_model(name).aliases.get(CHAMPION)
            if champion is not None:
                client.set_registered_model_alias(name, PREVIOUS, champion)
            client.set_registered_model_alias(name, CHAMPION, version)
    return Registration(name, version, promote, reason)
