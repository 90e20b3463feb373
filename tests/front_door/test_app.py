"""The front door's routing, loopback rule and health report, in-process."""

from __future__ import annotations

import asyncio
import io
import threading
import time

import numpy as np
import pandas as pd
import pytest
from mlflow.pyfunc.scoring_server import predictions_to_json

from analytics.ab import assign
from front_door import Limits, RequestRefused
from front_door.app import (
    FrontDoor,
    ServeConfig,
    Variant,
    experiment_for,
    is_loopback,
    predictions_json,
    route,
)
from serving.prediction_log import LoggedModel, PredictionLog

CONFIG = ServeConfig(name="tiny", challenger="challenger", share=0.25)


def test_rows_route_by_the_ab_hash_and_rows_without_a_user_to_the_champion():
    experiment = experiment_for(CONFIG)
    assert experiment.name == "tiny-challenger"
    assert experiment.percents == (75.0, 25.0)
    users = [f"u{i}" for i in range(200)]
    frame = pd.DataFrame({"user_id": [*users, None]}, dtype=object)
    plan = route(frame, experiment, len(frame))
    groups = assign(pd.Series(users), experiment)["group"]
    assert plan[:-1].tolist() == (groups == "challenger").astype(int).tolist()
    assert plan[-1] == 0
    assert 0 < plan.sum() < 200
    assert route(frame, None, len(frame)).tolist() == [0] * len(frame)
    assert route(pd.DataFrame({"x": [1, 2]}), experiment, 2).tolist() == [0, 0]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("10.0.0.5", False),
        ("example.com", False),
    ],
)
def test_loopback_hosts(host, loopback):
    assert is_loopback(host) is loopback


def test_health_reports_rows_a_failing_log_lost(tmp_path):
    blocked = tmp_path / "not_a_folder"
    blocked.write_text("a file where the log folder should be")
    model = LoggedModel("premium_30d@v1", "run", "sha", "tiny", "1", "champion")
    log = PredictionLog(blocked, model, rotate_rows=1)
    door = FrontDoor(
        ServeConfig(name="tiny", prediction_log=blocked),
        [Variant("champion", "1", "run", None, (), log)],
    )
    assert door.health_report()["prediction_log"]["status"] == "ok"
    columns = {
        "request_id": "r",
        "logged_at": pd.Timestamp("2024-01-01"),
        "mode": "predict",
        "user_id": np.array([None], dtype=object),
        "cutoff": np.array([None]),
        "probability": np.array([0.5]),
        "raw_score": np.array([0.0]),
    }
    log.append(columns, 1)
    deadline = time.monotonic() + 10
    while log.failed_rows == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    report = door.health_report()["prediction_log"]
    assert report["status"] == "losing rows"
    assert report["variants"]["champion"] == {"dropped_rows": 0, "failed_rows": 1}
    log.close()


def test_whatif_past_its_deadline_is_a_504_and_holds_its_slot_until_it_ends():
    door = FrontDoor(ServeConfig(name="tiny", limits=Limits(whatif_deadline_ms=50)), [])
    release = threading.Event()
    with pytest.raises(RequestRefused) as late:
        asyncio.run(door._whatif(lambda: release.wait(10)))
    assert late.value.status == 504
    with pytest.raises(RequestRefused) as busy:  # the abandoned search still runs
        asyncio.run(door._whatif(lambda: "second"))
    assert busy.value.status == 503
    release.set()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            assert asyncio.run(door._whatif(lambda: "third")) == "third"
            break
        except RequestRefused:
            time.sleep(0.02)
    else:
        raise AssertionError("the whatif slot was never released")


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["serve", "nosuch", "--no-prediction-log"], "models:/nosuch@champion does not exist"),
        (["serve", "tiny", "--challenger", "b", "--share", "1.5"], "--share 1.5"),
        (["serve", "tiny", "--host", "0.0.0.0"], "--token-file"),
        (["serve", "tiny", "--max-rows", "0"], "max_rows"),
    ],
)
def test_serve_refuses_bad_starts_in_one_line(argv, fragment, capsys):
    from usagecast_cli.main import main

    assert main(argv) == 2
    error = capsys.readouterr().err
    assert fragment in error and "Traceback" not in error


EXPLAINED = [{"feature": "ads_30d", "value": np.float64(3.0), "contribution": np.float32(-0.25)}]


@pytest.mark.parametrize(
    "predictions",
    [
        pd.DataFrame({"probability": [0.125, np.nan, 1e-300], "label": [0, 1, 0]}),
        pd.DataFrame(
            {
                "probability": [0.5],
                "label": np.array([1], dtype="int64"),
                "raw_score": [np.float64(-0.0)],
                "contributions": [EXPLAINED],
                "whatif": [[{"changes": {"ads_30d": np.int64(1)}, "note": None, "ok": True}]],
            }
        ),
        pd.DataFrame({"probability": [], "label": []}),
        pd.DataFrame([[0.1, 0.2]], columns=["probability", "probability"]),
        pd.Series([0.1, 0.2], name="probability"),
        np.array([0.1, 0.2]),
    ],
)
def test_the_answer_body_is_the_bytes_mlflow_writes(predictions):
    metadata = {"variant": ["champion"] * len(predictions), "model_version": ["3"] * 2}
    stock = io.StringIO()
    predictions_to_json(predictions, stock, metadata=metadata)
    assert predictions_json(predictions, metadata) == stock.getvalue().encode()
