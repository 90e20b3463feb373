"""Registration: every attempt is a tagged version; @champion moves only when promoted, and
the champion it replaces becomes @previous."""

from __future__ import annotations

import mlflow
import numpy as np
from mlflow.tracking import MlflowClient
from scipy.sparse import csr_matrix

from experiments.recommend.register import register_recommender
from serving.recommend import Recommender, RecommenderMetadata, log_recommender_model


def _logged() -> tuple[str, str]:
    metadata = RecommenderMetadata(
        user_ids=("u1",),
        item_ids=("a", "b"),
        popularity=(1, 0),
        cutoff="2024-03-01T00:00:00",
        array_sha256={},
    )
    recommender = Recommender(
        np.ones((1, 2), np.float32),
        np.eye(2, dtype=np.float32),
        csr_matrix((1, 2), dtype=np.float32),
        metadata,
    )
    with mlflow.start_run() as run:
        return log_recommender_model(recommender).model_uri, run.info.run_id


def test_only_a_promoted_version_moves_the_champion():
    client = MlflowClient()
    refused = register_recommender(*_logged(), "tracks", False, "below popularity")
    assert (refused.version, refused.promoted) == ("1", False)
    assert client.get_registered_model("tracks").aliases == {}
    tags = client.get_model_version("tracks", "1").tags
    assert tags["usagecast.decision"] == "refused"
    assert tags["usagecast.reason"] == "below popularity"

    register_recommender(*_logged(), "tracks", True, "beats popularity")
    assert client.get_registered_model("tracks").aliases == {"champion": 2}
    register_recommender(*_logged(), "tracks", True, "beats popularity")
    assert client.get_registered_model("tracks").aliases == {"champion": 3, "previous": 2}
