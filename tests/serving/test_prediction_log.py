"""The prediction log: the writer and reader on their own, the in-process pyfunc, and a real
`mlflow models serve` process whose log is compared with its responses."""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import urllib.request
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from experiments.monitor.skew import training_serving_skew
from serving import ServingInputError, log_serving_model
from serving.local_server import running_server
from serving.model import Scorer
from serving.prediction_log import (
    LOG_COLUMNS,
    PREDICTION_LOG_ENV,
    LoggedModel,
    PredictionLog,
    PredictionLogError,
    read_prediction_log,
    request_columns,
)
from serving.validation import parse_params

MODEL = LoggedModel(feature_set="premium_30d@v1", model_run_id="run-1", model_sha256="abc")
WHEN = dt.datetime(2024, 3, 5, 12, 0, tzinfo=dt.UTC)


def _columns(request_id: str, n: int, start: int = 0) -> dict:
    users = np.array([f"u{start + i}" for i in range(n)], dtype=object)
    cutoffs = np.full(n, np.datetime64("2024-03-01", "us"))
    scores = np.linspace(-1.0, 1.0, n)
    features = {"plays_30d": np.arange(n, dtype="float64"), "city": np.full(n, "lima", object)}
    return request_columns(
        request_id, WHEN, "predict", users, cutoffs, 1 / (1 + np.exp(-scores)), scores, features
    )


def _wait_for_files(directory: Path, count: int, seconds: float = 10.0) -> list[Path]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        files = sorted(directory.glob("part-*.parquet"))
        if len(files) >= count:
            return files
        time.sleep(0.05)
    raise AssertionError(f"{count} log files did not appear in {directory}")


def test_rows_round_trip_with_the_model_and_identity_columns(tmp_path):
    log = PredictionLog(tmp_path / "log", MODEL)
    log.append(_columns("r1", 2), 2)
    log.append(_columns("r2", 1, start=2), 1)
    log.close()
    frame = read_prediction_log(tmp_path / "log")
    assert list(frame.columns) == [*LOG_COLUMNS, "plays_30d", "city"]
    assert frame["request_id"].tolist() == ["r1", "r1", "r2"]
    assert frame["user_id"].tolist() == ["u0", "u1", "u2"]
    assert set(frame["model_run_id"]) == {"run-1"}
    assert set(frame["feature_set"]) == {"premium_30d@v1"}
    assert str(frame["logged_at"].dtype) == "datetime64[us, UTC]"
    assert frame["cutoff"].tolist() == [pd.Timestamp("2024-03-01")] * 3
    assert (log.dropped_rows, log.failed_rows) == (0, 0)
    assert not list((tmp_path / "log").glob(".*"))  # no partial file left behind


def test_files_rotate_after_n_rows(tmp_path):
    log = PredictionLog(tmp_path, MODEL, rotate_rows=3)
    for i in range(7):
        log.append(_columns(f"r{i}", 1, start=i), 1)
    log.close()
    files = sorted(tmp_path.glob("part-*.parquet"))
    assert [len(pd.read_parquet(f)) for f in files] == [3, 3, 1]
    assert read_prediction_log(tmp_path)["user_id"].tolist() == [f"u{i}" for i in range(7)]


def test_files_rotate_after_t_seconds_without_closing(tmp_path):
    log = PredictionLog(tmp_path, MODEL, rotate_rows=1000, rotate_seconds=0.1)
    log.append(_columns("r1", 2), 2)
    assert len(pd.read_parquet(_wait_for_files(tmp_path, 1)[0])) == 2
    log.append(_columns("r2", 1), 1)
    _wait_for_files(tmp_path, 2)
    log.close()
    assert len(read_prediction_log(tmp_path)) == 3


def test_a_failing_directory_counts_rows_and_warns_once(tmp_path, caplog):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the log folder should be")
    log = PredictionLog(blocked, MODEL, rotate_rows=2)
    with caplog.at_level(logging.WARNING, logger="serving.prediction_log"):
        for i in range(3):
            log.append(_columns(f"r{i}", 2), 2)  # does not raise
        log.close()
    assert log.failed_rows == 6
    warnings = [r for r in caplog.records if r.name == "serving.prediction_log"]
    assert len(warnings) == 1
    assert "\n" not in warnings[0].getMessage()


def test_rows_that_cannot_form_a_table_are_counted_and_later_rows_still_written(tmp_path):
    log = PredictionLog(tmp_path, MODEL)
    broken = {**_columns("bad", 2), "plays_30d": np.zeros(3)}  # lengths disagree
    log.append(broken, 2)
    log.append(_columns("good", 1), 1)
    log.close()
    assert log.failed_rows == 2
    assert read_prediction_log(tmp_path)["request_id"].tolist() == ["good"]


def test_rows_after_close_are_dropped_and_counted(tmp_path):
    log = PredictionLog(tmp_path, MODEL)
    log.close()
    log.append(_columns("late", 4), 4)
    assert log.dropped_rows == 4
    assert read_prediction_log(tmp_path).empty


def test_reading_a_missing_log_says_how_to_write_one(tmp_path):
    with pytest.raises(PredictionLogError, match=PREDICTION_LOG_ENV):
        read_prediction_log(tmp_path / "nowhere")


def test_scorer_logs_answered_rows_only(tiny_model, tmp_path):
    log = PredictionLog(tmp_path, MODEL)
    scorer = Scorer(tiny_model.model, tiny_model.metadata, prediction_log=log)
    rows = tiny_model.rows.head(3).assign(user_id=["7.0", "8.0", "9.0"], cutoff="2024-03-01")
    rows.loc[1, "city"] = "tokyo"  # an unknown level is logged as sent
    answered = scorer.respond(rows, parse_params({"mode": "explain", "k": 1}))
    with pytest.raises(ServingInputError, match="user_id"):
        scorer.respond(rows.assign(user_id=7), parse_params(None))
    log.close()
    logged = read_prediction_log(tmp_path)
    assert logged["user_id"].tolist() == ["7.0", "8.0", "9.0"]
    assert logged["city"].tolist() == rows["city"].tolist()
    assert set(logged["mode"]) == {"explain"}
    np.testing.assert_array_equal(logged["probability"], answered["probability"])
    # explain's raw_score is the sum of the SHAP terms: equal up to float rounding.
    np.testing.assert_allclose(logged["raw_score"], answered["raw_score"], rtol=0, atol=1e-12)


def test_a_log_whose_columns_fail_to_form_never_fails_the_answer(
    tiny_model, tmp_path, monkeypatch
):
    def broken_columns(**_):
        raise ValueError("cannot form the log's columns")

    monkeypatch.setattr("serving.model.request_columns", broken_columns)
    log = PredictionLog(tmp_path, MODEL)
    scorer = Scorer(tiny_model.model, tiny_model.metadata, prediction_log=log)
    rows = tiny_model.rows.head(3).assign(user_id=["7", "8", "9"], cutoff="2024-03-01")
    answered = scorer.respond(rows, parse_params(None))
    log.close()
    assert len(answered) == 3
    assert log.failed_rows == 3


def _post(base: str, body: dict) -> list[dict]:
    request = urllib.request.Request(
        f"{base}/invocations", data=json.dumps(body).encode(), method="POST"
    )
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["predictions"]


@pytest.mark.serve
def test_served_model_logs_what_it_answered(tiny_model, tmp_path):
    log_dir = tmp_path / "prediction-log"
    env = {
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "USAGECAST_HOME": str(tmp_path / "home"),
        PREDICTION_LOG_ENV: str(log_dir),
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", env["MLFLOW_TRACKING_URI"])
        with mlflow.start_run() as run:
            info = log_serving_model(tiny_model.model, tiny_model.metadata, tiny_model.rows)
    rows = tiny_model.rows.head(5).assign(
        user_id=[f"{i}.0" for i in range(5)],
        cutoff=["2024-03-01", "2024-03-01", "2024-03-01T00:00:00", "2024-04-01", "2024-04-01"],
    )
    records = json.loads(rows.to_json(orient="records"))
    with running_server(info.model_uri, tmp_path / "server.log", env) as base:
        answers = _post(base, {"dataframe_records": records[:2]})
        answers += _post(base, {"dataframe_records": records[2:], "params": {"mode": "explain"}})
    _wait_for_files(log_dir, 1)  # the server writes its log at exit, after the parent stops
    logged = read_prediction_log(log_dir)
    assert logged["user_id"].tolist() == rows["user_id"].tolist()
    pd.testing.assert_frame_equal(
        logged[list(rows.columns.drop("cutoff"))], rows.drop(columns="cutoff"), check_dtype=False
    )
    assert logged["request_id"].nunique() == 2
    assert set(logged["model_run_id"]) == {run.info.run_id}
    np.testing.assert_array_equal(logged["probability"], [a["probability"] for a in answers])

    feature_rows = rows.assign(
        cutoff=pd.to_datetime(rows["cutoff"], format="ISO8601").astype("datetime64[us]")
    )
    names = list(tiny_model.metadata.feature_names)
    same = training_serving_skew(logged, feature_rows, names)
    assert same["rows_compared"].tolist() == [5] * len(names)
    assert same["rows_differing"].sum() == 0
    assert same["rows_unmatched"].eq(0).all()
    changed = feature_rows.copy()
    changed.loc[3, "ads_30d"] += 2.0
    skew = training_serving_skew(logged, changed, names).set_index("feature")
    assert skew["rows_differing"].to_dict() == {"plays_30d": 0, "ads_30d": 1, "city": 0}
    assert skew.loc["ads_30d", "max_abs_difference"] == pytest.approx(2.0)


def test_requests_with_different_columns_are_written_one_by_one(tmp_path):
    log = PredictionLog(tmp_path, MODEL)
    log.append(_columns("first", 2), 2)
    log.append({**_columns("second", 1, start=2), "sessions_7d": np.ones(1)}, 1)
    log.close()
    frame = read_prediction_log(tmp_path)
    assert frame["request_id"].tolist() == ["first", "first", "second"]
    assert frame["sessions_7d"].isna().tolist() == [True, True, False]
    assert (log.dropped_rows, log.failed_rows) == (0, 0)
