"""`usagecast serve NAME` as a real process on 127.0.0.1 over a real registry: the stock
contract, variants and sticky routing, every limit, the token, /health, /metrics and the
prediction log."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import re
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from analytics.ab import assign, make_experiment
from serving import log_serving_model
from serving.local_server import free_port, serving_process
from serving.prediction_log import read_prediction_log

from .conftest import make_tiny_model

pytestmark = pytest.mark.serve

NAME = "tiny"
TOKEN = "s3cret-token"
GOOD = {"plays_30d": 20.0, "ads_30d": 3.0, "city": "lima"}
MARKER = "ECHO-ME-IF-YOU-DARE"


@dataclass(frozen=True)
class Registry:
    """A SQLite registry holding NAME v1 @champion and v2 @challenger."""

    root: Path
    tracking_uri: str


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    text: str

    def json(self):
        return json.loads(self.text)


@pytest.fixture(scope="session")
def registry(tiny_model, tmp_path_factory, make_mlflow_store) -> Registry:
    root = tmp_path_factory.mktemp("front_door")
    uri = make_mlflow_store(root)
    challenger = make_tiny_model(seed=1, label_noise=0.2)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        patch.chdir(root)
        client = MlflowClient(uri)
        client.create_registered_model(NAME)
        for alias, model in (("champion", tiny_model), ("challenger", challenger)):
            with mlflow.start_run():
                info = log_serving_model(model.model, model.metadata, model.rows)
            version = client.create_model_version(NAME, info.model_uri, run_id=info.run_id)
            client.set_registered_model_alias(NAME, alias, version.version)
    return Registry(root, uri)


@contextmanager
def front_door(registry: Registry, log_name: str, *flags: str) -> Iterator[str]:
    """A `usagecast serve NAME` process on a free port; yields its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": registry.tracking_uri,
        "USAGECAST_HOME": str(registry.root / "home"),
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    command = [sys.executable, "-m", "usagecast_cli.main", "serve", NAME, "--port", str(port)]
    log_file = registry.root / f"{log_name}.server.log"
    with serving_process([*command, *flags], port, log_file, env) as base:
        yield base


@pytest.fixture(scope="session")
def door(registry) -> Iterator[str]:
    """Champion and challenger (10% of users), default limits, no token."""
    log = registry.root / "door_log"
    with front_door(
        registry, "door", "--challenger", "challenger", "--prediction-log", str(log)
    ) as base:
        yield base


@pytest.fixture(scope="session")
def strict(registry) -> Iterator[str]:
    """Small limits and a token, champion only."""
    token_file = registry.root / "token"
    token_file.write_text(TOKEN + "\n")
    flags = (
        *("--token-file", str(token_file), "--max-body-bytes", "4000", "--max-depth", "8"),
        *("--max-rows", "5", "--max-whatif-rows", "2"),
        "--no-prediction-log",
    )
    with front_door(registry, "strict", *flags) as base:
        yield base


def call(
    base: str,
    path: str = "/invocations",
    body: object = None,
    content_type: str | None = "application/json",
    token: str | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    """One HTTP request with http.client (no retries, no added headers)."""
    host, port = base.removeprefix("http://").split(":")
    data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
    sent = dict(headers or {})
    if content_type:
        sent["Content-Type"] = content_type
    if token:
        sent["Authorization"] = f"Bearer {token}"
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request("GET" if body is None else "POST", path, body=data, headers=sent)
        response = connection.getresponse()
        headers = {key.lower(): value for key, value in response.headers.items()}
        return Answer(response.status, headers, response.read().decode())
    finally:
        connection.close()


def records(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.to_json(orient="records"))


def pyfunc_probabilities(registry: Registry, version: str, rows: pd.DataFrame) -> np.ndarray:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", registry.tracking_uri)
        patch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")
        model = mlflow.pyfunc.load_model(f"models:/{NAME}/{version}")
        return model.predict(rows)["probability"].to_numpy()


def expected_variants(users: list[str]) -> list[str]:
    experiment = make_experiment(
        f"{NAME}-challenger", "90/10", dt.datetime(2024, 1, 1), groups=("champion", "challenger")
    )
    return assign(pd.Series(users), experiment)["group"].tolist()


def test_a_row_gets_the_pyfunc_answer_and_names_its_version_and_variant(
    door, registry, tiny_model
):
    rows = tiny_model.rows.head(3)
    answer = call(door, body={"dataframe_records": records(rows)})
    assert answer.status == 200, answer.text
    body = answer.json()
    expected = pyfunc_probabilities(registry, "1", rows)
    got = [p["probability"] for p in body["predictions"]]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    assert body["variant"] == ["champion"] * 3 and body["model_version"] == ["1"] * 3
    assert answer.headers["x-model-name"] == NAME
    assert answer.headers["x-model-variant"] == "champion"
    assert answer.headers["x-model-version"] == "1"
    assert re.fullmatch(r"[0-9a-f-]{36}", answer.headers["x-request-id"])
    split = json.loads(rows.to_json(orient="split", index=False))
    same = call(door, body={"dataframe_split": split}).json()["predictions"]
    assert [p["probability"] for p in same] == got


def test_users_stick_to_the_variant_the_ab_hash_gives_them(door, registry, tiny_model):
    users = [f"user-{i}" for i in range(1_000)]
    rows = pd.concat([tiny_model.rows.head(1)] * len(users), ignore_index=True)
    batch = records(rows.assign(user_id=users))
    answer = call(door, body={"dataframe_records": batch})
    assert answer.status == 200, answer.text
    variants = answer.json()["variant"]
    assert variants == expected_variants(users)
    assert 0.07 <= variants.count("challenger") / len(users) <= 0.13
    assert answer.headers["x-model-variant"] in ("champion,challenger", "challenger,champion")
    challenger_rows = [i for i, v in enumerate(variants) if v == "challenger"]
    probabilities = [p["probability"] for p in answer.json()["predictions"]]
    challenger_p = pyfunc_probabilities(registry, "2", rows.head(1))[0]
    champion_p = pyfunc_probabilities(registry, "1", rows.head(1))[0]
    assert champion_p != pytest.approx(challenger_p)
    for i, p in enumerate(probabilities):
        assert p == pytest.approx(challenger_p if i in challenger_rows else champion_p, abs=1e-12)
    for user in (users[challenger_rows[0]], users[challenger_rows[1]], users[0]):
        for _ in range(2):
            single = call(door, body={"dataframe_records": [{**GOOD, "user_id": user}]})
            assert single.json()["variant"] == [variants[users.index(user)]]
            assert single.headers["x-model-variant"] == variants[users.index(user)]


def test_explain_and_whatif_keep_the_stock_contract(door, tiny_model):
    rows = records(tiny_model.rows.head(2))
    explain = call(door, body={"dataframe_records": rows, "params": {"mode": "explain", "k": 2}})
    assert explain.status == 200, explain.text
    assert all(len(p["contributions"]) == 2 for p in explain.json()["predictions"])
    started = time.monotonic()
    params = {"mode": "whatif", "target": 0.9, "budget_ms": 60_000}
    whatif = call(door, body={"dataframe_records": rows[:1], "params": params})
    assert whatif.status == 200, whatif.text
    assert time.monotonic() - started < 5.0  # budget capped at half the 5 s deadline
    assert "suggestions" in whatif.json()["predictions"][0]["whatif"]


def _deep(levels: int) -> bytes:
    return b'{"dataframe_records": ' + b"[" * levels + b"]" * levels + b"}"


LIMITS = {
    "body over the cap": (413, {"dataframe_records": [{**GOOD, "city": MARKER * 300}]}, None),
    "no content type": (415, {"dataframe_records": [GOOD]}, ""),
    "text content type": (415, {"dataframe_records": [GOOD]}, "text/plain"),
    "csv content type": (415, b"plays_30d,ads_30d,city\n1,2,lima", "text/csv"),
    "nested too deep": (400, _deep(9), None),
    "nested a thousand deep": (400, _deep(1_000), None),
    "duplicate keys": (
        400,
        b'{"dataframe_records": [{"plays_30d": 1, "plays_30d": 2, "ads_30d": 1, '
        b'"city": "' + MARKER.encode() + b'"}]}',
        None,
    ),
    "missing key in a record": (
        400,
        {"dataframe_records": [{**GOOD, "city": MARKER}, {"plays_30d": 1.0, "ads_30d": 1.0}]},
        None,
    ),
    "duplicate columns in split": (
        400,
        {"dataframe_split": {"columns": ["city", "city"], "data": [[MARKER, "x"]]}},
        None,
    ),
    "too many rows": (413, {"dataframe_records": [{**GOOD, "city": MARKER}] * 6}, None),
    "too many whatif rows": (
        413,
        {"dataframe_records": [{**GOOD, "city": MARKER}] * 3, "params": {"mode": "whatif"}},
        None,
    ),
    "unknown param": (400, {"dataframe_records": [GOOD], "params": {"kk": MARKER}}, None),
    "unknown top-level key": (400, {"dataframe_records": [GOOD], "extra": MARKER}, None),
    "a long unknown key": (400, {"dataframe_records": [GOOD], "x" * 3_000: 1}, None),
    "two formats": (400, {"dataframe_records": [GOOD], "instances": [GOOD]}, None),
    "not JSON": (400, b'{"dataframe_records": [' + MARKER.encode(), None),
}


@pytest.mark.parametrize("case", sorted(LIMITS))
def test_each_limit_is_a_4xx_json_error_that_echoes_nothing(strict, case):
    status, body, content_type = LIMITS[case]
    answer = call(
        strict,
        body=body,
        content_type="application/json" if content_type is None else content_type,
        token=TOKEN,
    )
    assert answer.status == status, answer.text
    error = answer.json()
    assert set(error) == {"error_code", "message"}
    assert MARKER not in answer.text
    assert "Traceback" not in answer.text and ".py" not in answer.text
    assert len(answer.text) < 1_000
    assert call(strict, body={"dataframe_records": [GOOD]}, token=TOKEN).status == 200


def _raw(base: str, request: bytes) -> tuple[bytes, float]:
    """Send raw bytes, read until the server closes or answers; (answer, seconds)."""
    host, port = base.removeprefix("http://").split(":")
    started = time.monotonic()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        answer = sock.recv(65_536)
    return answer, time.monotonic() - started


def test_an_oversized_body_is_refused_before_it_is_read(strict):
    head = (
        "POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {TOKEN}\r\nContent-Length: {10**12}\r\n\r\n"
    )
    answer, seconds = _raw(strict, head.encode() + b'{"dataframe_records": [')
    assert answer.startswith(b"HTTP/1.1 413"), answer
    assert b"connection: close" in answer.lower()
    assert seconds < 5
    chunk = b"x" * 3_000
    chunked = (
        "POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode() + (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * 2
    answer, _ = _raw(strict, chunked)
    assert answer.startswith(b"HTTP/1.1 413"), answer


def test_a_client_sending_a_body_past_the_cap_reads_its_413_and_keeps_the_connection(door):
    """A client that writes its whole body before reading (as http.client does) gets the 413,
    not a reset connection, and the next request on that connection is answered."""
    host, port = door.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    big = json.dumps({"dataframe_records": [GOOD] * 60_000}).encode()
    assert 1_048_576 < len(big) < 16 * 1_048_576
    headers = {"Content-Type": "application/json"}
    try:
        for _ in range(3):
            connection.request("POST", "/invocations", big, headers)
            refused = connection.getresponse()
            assert refused.status == 413 and refused.getheader("connection") != "close"
            refused.read()
            sock = connection.sock
            small = json.dumps({"dataframe_records": [GOOD]})
            connection.request("POST", "/invocations", small, headers)
            answered = connection.getresponse()
            assert answered.status == 200 and connection.sock is sock
            answered.read()
    finally:
        connection.close()
    head = (
        "POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Expect: 100-continue\r\nContent-Length: {len(big)}\r\n\r\n"
    )
    answer, _ = _raw(door, head.encode())  # the body is held back: nothing to drain
    assert answer.startswith(b"HTTP/1.1 413") and b"connection: close" in answer.lower()


def test_the_token_guards_everything_but_ping(strict):
    body = {"dataframe_records": [GOOD]}
    assert call(strict, body=body).status == 401
    wrong = call(strict, body=body, token="nope")
    assert wrong.status == 401 and wrong.headers["www-authenticate"] == "Bearer"
    assert call(strict, body=body, token=TOKEN).status == 200
    for path in ("/health", "/metrics", "/version"):
        assert call(strict, path).status == 401
        assert call(strict, path, token=TOKEN).status == 200
    assert call(strict, "/ping").status == 200


def test_health_names_the_loaded_versions_and_the_log(door):
    health = call(door, "/health").json()
    assert health["model"] == NAME
    assert [(v["variant"], v["version"]) for v in health["variants"]] == [
        ("champion", "1"),
        ("challenger", "2"),
    ]
    assert health["prediction_log"]["status"] == "ok"
    assert health["prediction_log"]["variants"]["champion"] == {
        "dropped_rows": 0,
        "failed_rows": 0,
    }
    assert call(door, "/version").json()["versions"] == {"champion": "1", "challenger": "2"}


SAMPLE = re.compile(r'^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9.e+-]+$|^.*Inf')


def test_metrics_are_prometheus_text(door):
    call(door, body={"dataframe_records": [GOOD]})
    call(door, body={"dataframe_records": []})
    answer = call(door, "/metrics")
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    lines = answer.text.splitlines()
    samples = [line for line in lines if not line.startswith("#")]
    assert all(SAMPLE.match(line) for line in samples), samples
    assert any(
        line.startswith('usagecast_requests_total{status="200",variant="champion"}')
        for line in samples
    )
    assert any(line.startswith('usagecast_requests_total{status="400"') for line in samples)
    count = next(line for line in samples if line.startswith("usagecast_request_seconds_count"))
    infinite = next(line for line in samples if 'le="+Inf"' in line)
    assert count.split()[-1] == infinite.split()[-1]
    assert "# TYPE usagecast_request_seconds histogram" in lines


def test_every_answered_row_is_logged_with_version_and_variant(registry, tiny_model):
    log = registry.root / "own_log"
    users = [f"user-{i}" for i in range(40)]
    rows = tiny_model.rows.head(40).assign(user_id=users)
    with front_door(
        registry, "logged", "--challenger", "challenger", "--prediction-log", str(log)
    ) as base:
        answer = call(base, body={"dataframe_records": records(rows)})
        assert answer.status == 200, answer.text
        refused = call(base, body={"dataframe_records": [{**GOOD, "plays_30d": "x"}]})
        assert refused.status == 400
    logged = read_prediction_log(log).sort_values("user_id", key=lambda s: s.str[5:].astype(int))
    body = answer.json()
    assert len(logged) == 40
    assert set(logged["request_id"]) == {answer.headers["x-request-id"]}
    assert logged["model_name"].unique().tolist() == [NAME]
    assert logged["user_id"].tolist() == users
    assert logged["variant"].tolist() == body["variant"]
    assert logged["model_version"].tolist() == body["model_version"]
    np.testing.assert_allclose(
        logged["probability"], [p["probability"] for p in body["predictions"]], atol=1e-12
    )
    np.testing.assert_allclose(logged["plays_30d"], rows["plays_30d"])
    assert logged["city"].tolist() == rows["city"].tolist()
