"""The served recommender: ranking with consumed items removed, popularity for unknown users,
the request checks, the files round trip, and the pyfunc in process and behind a real
`mlflow models serve` and `usagecast serve`."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import mlflow
import numpy as np
import pandas as pd
import pytest
from scipy.sparse import csr_matrix

from serving.local_server import SERVER_KINDS, running
from serving.recommend import (
    ARRAY_FILES,
    METADATA_FILE,
    Recommender,
    RecommenderMetadata,
    ServingInputError,
    check_users,
    log_recommender_model,
    parse_recommend_params,
    top_k,
)

ITEMS = ("a", "b", "c", "d")


def _tiny() -> Recommender:
    """Two known users; u1 consumed b, u2 consumed a and c. Scores are user x item dots."""
    users = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    items = np.array([[0.9, 0.1], [0.8, 0.0], [0.1, 0.9], [0.5, 0.5]], dtype=np.float32)
    consumed = csr_matrix(np.array([[0, 1, 0, 0], [1, 0, 1, 0]], dtype=np.float32))
    metadata = RecommenderMetadata(
        user_ids=("u1", "u2"),
        item_ids=ITEMS,
        popularity=(1, 1, 1, 0),
        cutoff="2024-03-01T00:00:00",
        array_sha256={},
    )
    return Recommender(users, items, consumed, metadata)


def test_top_k_skips_consumed_items_breaks_ties_by_position_and_pads():
    scores = np.array([[0.5, 0.9, 0.5, 0.1], [1.0, 1.0, 1.0, 1.0]])
    consumed = csr_matrix(np.array([[0, 1, 0, 0], [1, 1, 1, 0]], dtype=np.float32))
    assert top_k(scores, consumed, 3).tolist() == [[0, 2, 3], [3, -1, -1]]


def test_known_users_get_their_ranking_unknown_users_get_popularity():
    answer = _tiny().recommend(["u2", "stranger", "u1"], 2)
    assert answer["items"].tolist() == [["d", "b"], ["a", "b"], ["a", "d"]]
    assert answer["source"].tolist() == ["model", "popularity", "model"]
    assert answer["scores"][0] == pytest.approx([0.5, 0.0])
    assert answer["user_id"].tolist() == ["u2", "stranger", "u1"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"mode": "predict"}, "answers only 'recommend'"),
        ({"k": 0}, "param 'k'"),
        ({"k": 2.5}, "param 'k'"),
        ({"k": 101}, "param 'k'"),
        ({"target": 0.5}, "unknown params"),
    ],
)
def test_bad_params_are_refused(params, message):
    with pytest.raises(ServingInputError, match=message):
        parse_recommend_params(params)


def test_params_default_to_recommend_ten():
    assert parse_recommend_params(None) == 10
    assert parse_recommend_params({"mode": "recommend", "k": 3}) == 3


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"user_id": []}), "empty batch"),
        (pd.DataFrame({"user_id": ["u1"], "extra": [1]}), "exactly one column"),
        (pd.DataFrame({"user": ["u1"]}), "exactly one column"),
        (pd.DataFrame({"user_id": [7]}), "row 0: must be a string"),
        ("u1", "rows must be a table"),
    ],
)
def test_bad_rows_are_refused(frame, message):
    with pytest.raises(ServingInputError, match=message):
        check_users(frame)


def _saved(tmp_path) -> dict[str, str]:
    folder = _tiny().save(tmp_path / "model")
    files = {name: str(folder / f"{name}.npy") for name in ARRAY_FILES}
    return files | {"metadata": str(folder / METADATA_FILE)}


def test_files_round_trip(tmp_path):
    loaded = Recommender.load(_saved(tmp_path))
    assert loaded.recommend(["u1", "u2"], 4).equals(_tiny().recommend(["u1", "u2"], 4))


def test_a_damaged_array_is_refused(tmp_path):
    files = _saved(tmp_path)
    np.save(files["item_factors"], np.zeros((4, 2), dtype=np.float32), allow_pickle=False)
    with pytest.raises(ValueError, match=r"item_factors\.npy is damaged"):
        Recommender.load(files)


def test_logged_model_loads_without_pickle_and_recommends(mlflow_store, monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")
    with mlflow.start_run():
        info = log_recommender_model(_tiny())
    loaded = mlflow.pyfunc.load_model(info.model_uri)
    answer = loaded.predict(pd.DataFrame({"user_id": ["u1"]}), params={"k": 2})
    assert answer["items"].tolist() == [["a", "d"]]


def _post(base: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{base}/invocations", data=json.dumps(body).encode(), method="POST"
    )
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.serve
@pytest.mark.parametrize("kind", SERVER_KINDS)
def test_served_recommender_answers_mode_recommend(mlflow_store, tmp_path, kind):
    with mlflow.start_run():
        info = log_recommender_model(_tiny())
    env = {
        "MLFLOW_TRACKING_URI": mlflow.get_tracking_uri(),
        "USAGECAST_HOME": str(tmp_path / "usagecast_home"),
    }
    with running(kind, info.model_uri, "tracks", tmp_path / "server.log", env) as base:
        status, body = _post(
            base,
            {
                "dataframe_records": [{"user_id": "u2"}, {"user_id": "new"}],
                "params": {"mode": "recommend", "k": 2},
            },
        )
        assert status == 200
        assert [row["items"] for row in body["predictions"]] == [["d", "b"], ["a", "b"]]
        assert [row["source"] for row in body["predictions"]] == ["model", "popularity"]
        status, body = _post(
            base, {"dataframe_records": [{"user_id": "u1"}], "params": {"mode": "predict"}}
        )
        assert status == 400
        assert body["error_code"] == "INVALID_PARAMETER_VALUE"
        assert "answers only 'recommend'" in body["message"]
        assert "Traceback" not in body["message"]
        status, body = _post(base, {"dataframe_records": [{"user_id": 5}]})
        assert status == 400
        assert "must be a string" in body["message"]
