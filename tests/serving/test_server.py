"""The pyfunc behind a real `mlflow models serve` process: predictions, explanations, and
every malformed request answered with a 4xx that names the problem and carries no trace."""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

import mlflow
import numpy as np
import pandas as pd
import pytest

from serving import encode_features, log_serving_model
from serving.local_server import running_server

pytestmark = pytest.mark.serve


def _post(base: str, body: object, content_type: str | None = "application/json"):
    """(status, parsed JSON or text) of POST /invocations."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(f"{base}/invocations", data=data, method="POST")
    if content_type:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, text = response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read().decode()
    try:
        return status, json.loads(text)
    except json.JSONDecodeError:
        return status, text


@dataclass(frozen=True)
class Served:
    """A running server and the logged model it serves."""

    base: str
    model_uri: str
    tracking_uri: str


@pytest.fixture(scope="session")
def served(tiny_model, tmp_path_factory) -> Iterator[Served]:
    """A served tiny model on a free localhost port, pickle loading disabled."""
    root = tmp_path_factory.mktemp("serve")
    env = {
        "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
        "USAGECAST_HOME": str(root / "home"),
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", env["MLFLOW_TRACKING_URI"])
        patch.chdir(root)
        with mlflow.start_run():
            info = log_serving_model(tiny_model.model, tiny_model.metadata, tiny_model.rows)
    with running_server(info.model_uri, root / "server.log", env) as base:
        yield Served(base, info.model_uri, env["MLFLOW_TRACKING_URI"])


@pytest.fixture(scope="session")
def server(served) -> str:
    return served.base


def _records(frame) -> list[dict]:
    return json.loads(frame.to_json(orient="records"))


def test_predict_returns_probabilities_and_labels(server, tiny_model):
    rows = tiny_model.rows.head(4)
    status, body = _post(server, {"dataframe_records": _records(rows)})
    assert status == 200, body
    expected = tiny_model.probabilities(rows)
    got = [p["probability"] for p in body["predictions"]]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    assert [p["label"] for p in body["predictions"]] == [int(p >= 0.4) for p in expected]


def test_dataframe_split_is_accepted(server, tiny_model):
    split = json.loads(tiny_model.rows.head(2).to_json(orient="split", index=False))
    status, body = _post(server, {"dataframe_split": split})
    assert status == 200, body
    assert len(body["predictions"]) == 2


def test_explain_contributions_add_up_to_the_raw_score(server, tiny_model):
    rows = tiny_model.rows.head(3)
    status, body = _post(
        server, {"dataframe_records": _records(rows), "params": {"mode": "explain", "k": 2}}
    )
    assert status == 200, body
    raw = tiny_model.booster.predict(encode_features(rows, tiny_model.metadata), raw_score=True)
    for row, expected_raw in zip(body["predictions"], raw, strict=True):
        assert len(row["contributions"]) == 2
        assert {c["feature"] for c in row["contributions"]} <= set(rows.columns)
        total = (
            row["base_value"]
            + sum(c["contribution"] for c in row["contributions"])
            + row["other_contribution"]
        )
        assert abs(total - row["raw_score"]) < 1e-6
        assert abs(row["raw_score"] - expected_raw) < 1e-6
        calibrated = tiny_model.metadata.calibration.apply(np.array([row["raw_score"]]))[0]
        assert abs(row["probability"] - calibrated) < 1e-9
        assert abs(row["probability"] - 1 / (1 + math.exp(-row["raw_score"]))) > 1e-3


def test_served_probability_is_the_calibrated_batch_score(served, tiny_model, monkeypatch):
    """One row over HTTP and the same row in a large batch through the same logged model (what
    `usagecast score` does) get the same calibrated probability."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", served.tracking_uri)
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")
    batch = pd.concat([tiny_model.rows] * 3, ignore_index=True)  # the large-batch code paths
    scored = mlflow.pyfunc.load_model(served.model_uri).predict(batch)["probability"]
    np.testing.assert_allclose(scored, tiny_model.probabilities(batch), rtol=0, atol=1e-12)
    for index in (0, 7, 123):
        status, body = _post(
            served.base, {"dataframe_records": _records(tiny_model.rows.iloc[[index]])}
        )
        assert status == 200, body
        assert body["predictions"][0]["probability"] == pytest.approx(scored[index], abs=1e-12)


def test_unknown_level_and_nulls_are_scored_as_missing(server):
    rows = [
        {"plays_30d": None, "ads_30d": 3, "city": "tokyo"},
        {"plays_30d": 1, "ads_30d": 2, "city": None},
    ]
    status, body = _post(server, {"dataframe_records": rows})
    assert status == 200, body
    assert all(0.0 < p["probability"] < 1.0 for p in body["predictions"])


GOOD = {"plays_30d": 20.0, "ads_30d": 3.0, "city": "lima"}

MALFORMED = {
    "missing column": (
        {"dataframe_records": [{"plays_30d": 1.0, "city": "lima"}]},
        ["missing feature columns", "ads_30d"],
    ),
    "unknown column": (
        {"dataframe_records": [{**GOOD, "plan": "free"}]},
        ["unknown columns", "plan"],
    ),
    "string in numeric": (
        {"dataframe_records": [{**GOOD, "ads_30d": "5"}]},
        ["column 'ads_30d'", "numeric feature got '5'"],
    ),
    "number in categorical": (
        {"dataframe_records": [{**GOOD, "city": 3}]},
        ["column 'city'", "categorical feature got 3"],
    ),
    "infinity": (
        b'{"dataframe_records": [{"plays_30d": Infinity, "ads_30d": 1, "city": "lima"}]}',
        ["column 'plays_30d'", "infinite"],
    ),
    "empty batch": ({"dataframe_records": []}, ["empty batch"]),
    "user_id not a string": (
        {"dataframe_records": [{**GOOD, "user_id": 7}]},
        ["column 'user_id'", "must be a string"],
    ),
    "cutoff not a date": (
        {"dataframe_records": [{**GOOD, "cutoff": "March"}]},
        ["column 'cutoff'", "ISO date"],
    ),
    "cutoff with a time zone": (
        {"dataframe_records": [{**GOOD, "cutoff": "2024-03-01T00:00:00+00:00"}]},
        ["column 'cutoff'", "without a time zone"],
    ),
    "bad mode": (
        {"dataframe_records": [GOOD], "params": {"mode": "guess"}},
        ["param 'mode'", "must be one of"],
    ),
    "k below one": (
        {"dataframe_records": [GOOD], "params": {"mode": "explain", "k": 0}},
        ["param 'k'", "within [1"],
    ),
    "k not a number": ({"dataframe_records": [GOOD], "params": {"k": "many"}}, ["'k'"]),
    "k fractional": (
        {"dataframe_records": [GOOD], "params": {"k": 2.5}},
        ["'k'", "Can not safely convert"],
    ),
    "bool in numeric": (
        {"dataframe_records": [{**GOOD, "ads_30d": True}]},
        ["column 'ads_30d'", "booleans"],
    ),
    "target out of range": (
        {"dataframe_records": [GOOD], "params": {"target": 2}},
        ["param 'target'", "within (0, 1)"],
    ),
    "whatif k above the search's cap": (
        {"dataframe_records": [GOOD], "params": {"mode": "whatif", "k": 50}},
        ["param 'k'", "[1, 20]"],
    ),
    "huge integer": (
        b'{"dataframe_records": [{"plays_30d": 1'
        + b"0" * 400
        + b', "ads_30d": 1, "city": "lima"}]}',
        ["column 'plays_30d', row 0", "outside the float range"],
    ),
    "duplicate columns": (
        {
            "dataframe_split": {
                "columns": ["plays_30d", "ads_30d", "ads_30d", "city"],
                "data": [[1.0, 2.0, 3.0, "lima"]],
            },
            "params": {"mode": "explain"},
        },
        ["columns ['ads_30d'] are sent more than once"],
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_request_is_a_4xx_without_trace(server, case):
    body, fragments = MALFORMED[case]
    status, answer = _post(server, body)
    assert 400 <= status < 500, (status, answer)
    assert isinstance(answer, dict), answer
    for fragment in fragments:
        assert fragment in answer["message"], answer["message"]
    assert "stack_trace" not in answer
    assert "Traceback" not in json.dumps(answer)
    status, _ = _post(server, {"dataframe_records": [GOOD]})
    assert status == 200


def test_whatif_suggestions_respect_the_spec_and_rescore(server, tiny_model):
    rows = tiny_model.rows.head(2)
    params = {"mode": "whatif", "target": 0.7, "k": 2, "max_changes": 1, "budget_ms": 200}
    status, body = _post(server, {"dataframe_records": _records(rows), "params": params})
    assert status == 200, body
    answered = []
    for (_, row), answer in zip(rows.iterrows(), body["predictions"], strict=True):
        assert "observational data" in answer["whatif"]["note"]
        # Suggested iff some fewer ads score higher (the second row's 3 ads score as 0-2 do).
        fewer = pd.DataFrame([row] * int(row["ads_30d"])).assign(
            ads_30d=np.arange(row["ads_30d"], dtype=float)
        )
        fewer = fewer.astype({"plays_30d": float, "ads_30d": float})
        base = tiny_model.probabilities(row.to_frame().T.astype(fewer.dtypes.to_dict()))[0]
        raises = bool((tiny_model.probabilities(fewer) > base).any())
        assert bool(answer["whatif"]["suggestions"]) == raises
        answered.append(raises)
        for suggestion in answer["whatif"]["suggestions"]:
            assert suggestion["gain"] > 0
            changed = row.copy()
            for change in suggestion["changes"]:
                assert change["feature"] == "ads_30d"  # the only actionable feature
                assert change["to"] <= change["from"]  # declared decrease-only
                assert float(change["to"]).is_integer()
                changed[change["feature"]] = change["to"]
            frame = changed.to_frame().T.astype({"plays_30d": float, "ads_30d": float})
            rescored = tiny_model.probabilities(frame)  # the target is on the served scale
            assert abs(rescored[0] - suggestion["probability"]) < 1e-9
    assert answered == [True, False]  # both cases seen
