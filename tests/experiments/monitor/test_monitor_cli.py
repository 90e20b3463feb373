"""`usagecast monitor` end to end on a simulated workspace with a promoted champion."""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from sklearn.metrics import roc_auc_score

from usagecast_cli.main import main

TESTS = Path(__file__).parents[2]
MONTHS = (1, 2, 3, 4, 5)  # activity months of 2024; premium_30d@v1 cuts at month starts
USERS = 600


def _module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


registry_conftest = _module(
    "usagecast_tests_registry_conftest", TESTS / "registry" / "conftest.py"
)
testlib = _module(
    "usagecast_tests_featureset_testlib",
    TESTS / "features" / "featureset" / "featureset_testlib.py",
)


def _events(seed: int = 3) -> tuple[list, list]:
    """Users who play and hear ads on days 2..28 of each month (inside every month-start
    cutoff's 30-day window) and buy premium in the month after a cutoff with the champion's
    own probability of their previous month's counts: a model that stays right."""
    rng = np.random.default_rng(seed)
    tiny = registry_conftest.make_tiny_model(seed=0, names=registry_conftest.SPEC_NAMES)
    cities = registry_conftest._load_serving_conftest().CITIES
    months = pd.DataFrame(
        {
            "user": np.repeat([f"user{k:03d}" for k in range(USERS)], len(MONTHS)),
            "month": np.tile(MONTHS, USERS),
            "count_PLAY_30d": rng.poisson(20, USERS * len(MONTHS)).astype("float64"),
            "count_ADVERTISEMENT_30d": rng.poisson(5, USERS * len(MONTHS)).astype("float64"),
            "city": np.repeat([cities[k % 3] for k in range(USERS)], len(MONTHS)),
        }
    )
    months["buys"] = rng.random(len(months)) < tiny.probabilities(months)
    events, users = [], []
    for user, rows in months.groupby("user", sort=True):
        signup = pd.Timestamp("2023-12-10 08:13") + pd.Timedelta(minutes=len(users))
        attributes = {"channel": "web", "city": rows["city"].iloc[0], "age": 30.0}
        users.append((user, signup.to_pydatetime(), attributes))
        for row in rows.itertuples():
            for kind, count in (
                ("PLAY", int(row.count_PLAY_30d)),
                ("ADVERTISEMENT", int(row.count_ADVERTISEMENT_30d)),
            ):
                for day in rng.integers(2, 29, count):
                    when = dt.datetime(2024, row.month, int(day), int(rng.integers(0, 24)))
                    events.append((user, when, kind))
            if row.month < MONTHS[-1] and row.buys:
                when = dt.datetime(2024, row.month + 1, int(rng.integers(2, 27)), 12)
                events.append((user, when, "BUY_PREMIUM"))
                break
    return events, users


def _write_store(events: list, users: list, before: dt.datetime) -> None:
    from contracts.workspace import event_store_path
    from features.featureset import load_spec

    vocabulary, filler = testlib.spec_vocabulary(
        load_spec("premium_30d@v1"), dt.datetime(2023, 10, 1)
    )
    path = event_store_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    testlib.write_store(
        path,
        [e for e in events if e[1] < before] + vocabulary,
        [*users, filler],
        attributes={
            "channel": ("static", "categorical"),
            "city": ("static", "categorical"),
            "age": ("static", "numeric"),
        },
        dataset="music_demo",
    )


def _promote_monitored() -> str:
    from features.featureset import build_feature_set, load_feature_set
    from registry import promote_run

    events, users = _events()
    _write_store(events, users, dt.datetime(2024, 4, 1))
    fingerprint = build_feature_set("premium_30d@v1").fingerprint
    built, _ = load_feature_set(f"premium_30d@v1/{fingerprint}")
    tiny = registry_conftest.make_tiny_model(seed=0, names=registry_conftest.SPEC_NAMES)
    test_auc = roc_auc_score(built["label"], tiny.probabilities(built))
    _write_store(events, users, dt.datetime(2024, 6, 1))
    run_id = registry_conftest.log_tuning_run(spec_model=True)
    client = MlflowClient()
    client.set_tag(run_id, "feature_set_fingerprint", fingerprint)
    client.log_param(run_id, "split_validation_from", "2024-03-02T00:00:00")
    client.log_param(run_id, "split_test_from", "2024-03-02T00:00:00")
    client.log_metric(run_id, "test_roc_auc", test_auc)  # its AUC on the built rows
    assert promote_run(run_id).promoted
    return "premium_30d"


@pytest.fixture
def monitored(built_once, monkeypatch) -> str:
    """premium_30d@v1 built on data to March, a champion trained on its February rows, then
    data to May: the champion's model name."""
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    return built_once("monitored_champion", _promote_monitored)


@pytest.mark.slow
def test_monitor_reports_logs_links_and_exits_by_threshold(monitored, tmp_path, capsys):
    assert main(["monitor", monitored, "--cutoff", "2024-02-01"]) == 0
    out = capsys.readouterr().out
    client = MlflowClient()
    version = client.get_model_version_by_alias(monitored, "champion")
    run_id = version.tags["usagecast.monitor_run_id"]
    run = client.get_run(run_id)
    assert run.data.tags["usagecast.model_name"] == monitored
    assert run.data.tags["usagecast.model_version"] == str(version.version)
    assert run.data.metrics["psi.prediction"] == 0.0  # the training rows themselves
    assert {"roc_auc.2024-03-01", "roc_auc.2024-04-01"} <= set(run.data.metrics)
    experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name == "monitor"
    artifacts = {a.path for a in client.list_artifacts(run_id)}
    assert {"psi.png", "predictions.png", "performance.png", "report"} <= artifacts
    markdown = next(
        Path(line.split(": ", 1)[1]) for line in out.splitlines() if line.startswith("report: ")
    )
    html = markdown.with_suffix(".html")
    assert markdown.exists() and html.exists()
    text = markdown.read_text()
    assert "2024-03-01" in text and "2024-04-01" in text and "no threshold crossed" in text
    assert "prediction log: none at" in out  # no log by default: PSI on the scoring rows
    assert "Training/serving skew" not in text
    assert "data:image/png;base64," in html.read_text()

    strict = tmp_path / "strict.yaml"
    strict.write_text("feature_psi_alert: 0\nprediction_psi_alert: 0\npsi_noise_multiple: 0\n")
    assert main(["monitor", monitored, "--config", str(strict)]) == 1
    out = capsys.readouterr().out
    assert "ALERT: prediction PSI since previous check" in out
    latest = client.get_model_version_by_alias(monitored, "champion")
    assert latest.tags["usagecast.monitor_run_id"] != run_id


def test_an_unknown_threshold_key_is_named(tmp_path, capsys):
    config = tmp_path / "thresholds.yaml"
    config.write_text("feature_psi_alert: 0.3\nece_limit: 0.2\n")
    assert main(["monitor", "premium_30d", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "unknown key 'ece_limit'" in err and "ece_alert" in err


def _serve(name: str, rows: pd.DataFrame, folder: Path, monkeypatch) -> None:
    """Answer `rows` (with their user_id and cutoff) with the champion as `mlflow models serve`
    runs it, with the prediction log switched on in `folder`."""
    import mlflow

    monkeypatch.setenv("USAGECAST_PREDICTION_LOG", str(folder))
    model = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    scorer = model.unwrap_python_model().scorer
    request = rows[["user_id", "cutoff", *scorer.metadata.feature_names]].assign(
        user_id=rows["user_id"].astype(str),
        cutoff=pd.to_datetime(rows["cutoff"]).dt.strftime("%Y-%m-%d"),
    )
    for name_, dtype in request.dtypes.items():
        if isinstance(dtype, pd.CategoricalDtype):
            request[name_] = request[name_].astype(object)
    model.predict(request)
    scorer.prediction_log.close()


@pytest.mark.slow
def test_the_prediction_log_gives_skew_psi_population_and_business_metrics(
    monitored, tmp_path, monkeypatch, capsys
):
    from features.featureset import load_scoring_rows
    from serving.prediction_log import read_prediction_log

    missing, empty = tmp_path / "nowhere", tmp_path / "empty"
    empty.mkdir()
    assert main(["monitor", monitored, "--prediction-log", str(missing)]) == 2
    assert f"no prediction log at {missing}" in capsys.readouterr().err
    assert main(["monitor", monitored, "--prediction-log", str(empty)]) == 2
    assert f"--prediction-log {empty}: no logged row" in capsys.readouterr().err

    scoring, _ = load_scoring_rows("premium_30d@v1", "2024-05-01")
    # The heavier players were served: a population apart from the scoring rows.
    rows = scoring[scoring["count_PLAY_30d"] >= scoring["count_PLAY_30d"].median()]
    faithful = tmp_path / "served"
    _serve(monitored, rows, faithful, monkeypatch)  # leaves USAGECAST_PREDICTION_LOG set
    business = ["--capacity", "0.1", "--contact-cost", "1", "--conversion-value", "20"]
    assert main(["monitor", monitored, "--cutoff", "2024-05-01", *business]) == 0
    out = capsys.readouterr().out
    assert f"prediction log: {faithful}: {len(rows)} rows served by {monitored}" in out
    client = MlflowClient()
    version = client.get_model_version_by_alias(monitored, "champion")
    run = client.get_run(version.tags["usagecast.monitor_run_id"])
    metrics = run.data.metrics
    assert metrics["skew_rows_compared"] == len(rows)
    assert metrics["skew_share.count_PLAY_30d"] == 0.0
    assert {"business.precision_at_capacity", "business.lift_at_capacity"} <= set(metrics)
    assert {"business.profit_optimal_threshold", "business.profit_at_optimum"} <= set(metrics)
    assert run.data.params["capacity"] == "0.1"
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"skew.png", "profit_curve.png"} <= artifacts
    text = next(
        Path(line.split(": ", 1)[1]) for line in out.splitlines() if line.startswith("report: ")
    ).read_text()
    assert "prediction log's rows of this model" in text
    served_mean = read_prediction_log(faithful)["probability"].mean()
    assert f"current {served_mean:.4f}" in text  # PSI and means are of the served rows
    assert "No served value differs" in text
    assert "## Business metrics" in text and "latest matured cutoff 2024-04-01" in text

    # A tracking bug: the server read a stale play count, one play short for every user.
    stale = tmp_path / "stale"
    _serve(monitored, rows.assign(count_PLAY_30d=rows["count_PLAY_30d"] - 1), stale, monkeypatch)
    assert (
        main(["monitor", monitored, "--cutoff", "2024-05-01", "--prediction-log", str(stale)]) == 1
    )
    out = capsys.readouterr().out
    skew_alerts = [line for line in out.splitlines() if "training/serving skew" in line]
    assert len(skew_alerts) == 1 and "ALERT: count_PLAY_30d" in skew_alerts[0]
