"""Whatif searches in worker processes, over a real registry and real processes: the answer,
the error and the prediction-log rows are the in-process model's, the worker runs below the
server's priority, and a worker killed at its deadline is replaced for the next search."""

from __future__ import annotations

import asyncio
import os
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
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from front_door import Limits, RequestRefused
from front_door.app import FrontDoor, ServeConfig, Variant, load_variant
from front_door.whatif_worker import (
    WHATIF_NICE_STEP,
    Search,
    SearchLate,
    SearchWorkers,
    WorkerModel,
    WorkerUnavailable,
)
from serving import log_serving_model
from serving.prediction_log import read_prediction_log
from tests.serving.conftest import make_tiny_model

NAME = "tiny"
WHATIF = {"mode": "whatif", "target": 0.9, "k": 2, "budget_ms": 60_000}
START_SECONDS = 120.0


@dataclass(frozen=True)
class Registry:
    tracking_uri: str
    rows: pd.DataFrame


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> Registry:
    """NAME v1 @champion (the tiny LightGBM model) in a SQLite registry."""
    root = tmp_path_factory.mktemp("whatif_worker")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    model = make_tiny_model()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        patch.chdir(root)
        client = MlflowClient(uri)
        client.create_registered_model(NAME)
        with mlflow.start_run():
            info = log_serving_model(model.model, model.metadata, model.rows)
        version = client.create_model_version(NAME, info.model_uri, run_id=info.run_id)
        client.set_registered_model_alias(NAME, "champion", version.version)
    return Registry(uri, model.rows)


@pytest.fixture
def champion(registry, monkeypatch, tmp_path) -> Iterator[Variant]:
    """The champion loaded as `usagecast serve` loads it, logging to tmp_path/log."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry.tracking_uri)
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")
    variant = load_variant(MlflowClient(), NAME, "champion", tmp_path / "log")
    yield variant
    assert variant.log is not None
    variant.log.close()


@contextmanager
def started(door: FrontDoor) -> Iterator[FrontDoor]:
    door.searches.start(START_SECONDS)
    try:
        yield door
    finally:
        door.searches.close()
        door.whatif_pool.shutdown()


def search(rows: pd.DataFrame, params: dict) -> Search:
    return Search(rows, dict(params), np.zeros(len(rows), dtype="int64"))


def whatif(door: FrontDoor, request: Search, request_id: str = "request-1") -> pd.DataFrame:
    return asyncio.run(door._whatif(door._search(request, request_id)))


def test_a_whatif_is_the_models_answer_from_a_worker_below_the_servers_priority(
    champion, registry, tmp_path
):
    rows = registry.rows.head(3)
    door = FrontDoor(ServeConfig(name=NAME, prediction_log=tmp_path / "log"), [champion])
    with started(door):
        answer = whatif(door, search(rows, WHATIF))
        worker = door.searches.workers[0].process
        assert worker is not None and worker.pid != os.getpid()
        if sys.platform.startswith("linux"):
            mine = os.getpriority(os.PRIO_PROCESS, 0)
            assert os.getpriority(os.PRIO_PROCESS, worker.pid) == min(19, mine + WHATIF_NICE_STEP)
    expected = champion.model.predict(rows, params=dict(WHATIF))
    pd.testing.assert_frame_equal(answer, expected)
    assert any(len(row["suggestions"]) >= 1 for row in answer["whatif"])  # a search ran
    assert champion.log is not None
    champion.log.close()
    logged = read_prediction_log(tmp_path / "log")
    mine = logged[logged["request_id"] == "request-1"]
    assert len(mine) == 3
    assert mine["mode"].unique().tolist() == ["whatif"]
    assert mine["variant"].unique().tolist() == ["champion"]
    assert mine["model_version"].unique().tolist() == ["1"]
    np.testing.assert_allclose(mine["probability"], answer["probability"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(mine["plays_30d"], rows["plays_30d"])


def test_a_refused_whatif_raises_the_error_the_model_raises_in_process(champion, registry):
    rows = registry.rows.head(2)
    params = {**WHATIF, "target": 2.0}
    with pytest.raises(MlflowException) as here:
        champion.model.predict(rows, params=dict(params))
    door = FrontDoor(ServeConfig(name=NAME), [champion])
    with started(door), pytest.raises(MlflowException) as there:
        whatif(door, search(rows, params))
    assert there.value.message == here.value.message
    assert there.value.error_code == here.value.error_code
    assert there.value.get_http_status_code() == here.value.get_http_status_code() == 400


def test_a_search_past_its_deadline_kills_its_worker_and_the_next_search_gets_a_new_one(
    champion, registry
):
    rows = registry.rows.head(3)
    workers = SearchWorkers((WorkerModel("champion", champion.path, logged=False),), 1)
    workers.start(START_SECONDS)
    try:
        worker = workers.workers[0]
        assert worker.process is not None
        killed = worker.process.pid
        with pytest.raises(SearchLate):
            workers.run(search(rows, WHATIF), time.monotonic() + 0.001)
        with pytest.raises(ProcessLookupError):
            os.kill(killed, 0)
        assert worker.process is not None and worker.process.pid != killed
        outcome = workers.run(search(rows, WHATIF), time.monotonic() + START_SECONDS)
        pd.testing.assert_frame_equal(
            outcome.result(), champion.model.predict(rows, params=dict(WHATIF))
        )
        assert outcome.log_calls == ()
    finally:
        workers.close()


def test_the_door_answers_504_at_the_deadline_and_frees_the_slot_once_the_worker_is_killed(
    champion, registry
):
    rows = registry.rows.head(3)
    door = FrontDoor(ServeConfig(name=NAME, limits=Limits(whatif_deadline_ms=1)), [champion])
    with started(door):
        worker = door.searches.workers[0]
        assert worker.process is not None
        killed = worker.process.pid
        with pytest.raises(RequestRefused) as late:
            whatif(door, search(rows, WHATIF))
        assert late.value.status == 504
        deadline = time.monotonic() + 30
        while not door.whatif_slots.acquire(blocking=False):
            assert time.monotonic() < deadline, "the whatif slot was never released"
            time.sleep(0.02)
        door.whatif_slots.release()
        assert worker.process is not None and worker.process.pid != killed
        with pytest.raises(ProcessLookupError):
            os.kill(killed, 0)
        worker.wait_ready(time.monotonic() + START_SECONDS)


def test_workers_that_cannot_load_the_model_fail_at_start(tmp_path):
    missing = WorkerModel("champion", str(Path(tmp_path) / "no_model_here"), logged=False)
    workers = SearchWorkers((missing,), 1)
    try:
        with pytest.raises(WorkerUnavailable, match="could not load the models"):
            workers.start(START_SECONDS)
    finally:
        workers.close()
