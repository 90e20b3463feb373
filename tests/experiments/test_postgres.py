"""The whole model lifecycle on PostgreSQL: MLflow's tracking and registry store and Optuna's
storage in a real server, artifacts in a folder; tune, promote, rollback, score, and a real
`mlflow models serve` of `models:/NAME@champion` resolved through that registry."""

from __future__ import annotations

import json
import urllib.request

import mlflow
import optuna
import pandas as pd
import pyarrow.parquet as pq
import pytest
from mlflow.tracking import MlflowClient

from serving.local_server import running_server
from usagecast_cli.main import main

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.serve]

CHAMPION = "models:/synthetic@champion"


def _invoke(base: str, rows: pd.DataFrame) -> pd.DataFrame:
    split = json.loads(rows.to_json(orient="split", index=False))
    body = json.dumps({"dataframe_split": split}).encode()
    request = urllib.request.Request(
        f"{base}/invocations", body, {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return pd.DataFrame(json.loads(response.read())["predictions"])


def test_tune_promote_rollback_score_and_serve_on_postgresql(
    synthetic_ref, postgres_server, tmp_path, monkeypatch, capsys
):
    tracking = postgres_server.create_database("mlflow")
    # The test server trusts any password: this one must never be printed or logged.
    storage = postgres_server.create_database("optuna").replace("postgres@", "postgres:s3cret@")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking)
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    tune = ["tune", synthetic_ref, "--trials", "3", "--workers", "2", "--storage", storage]
    # Margin -1: every gated candidate becomes champion (two workers make no two runs alike).
    promote = ["promote", "--latest", "--feature-set", synthetic_ref, "--margin", "-1"]

    assert main(tune) == 0
    assert "s3cret" not in "".join(capsys.readouterr())
    assert main(promote) == 0
    assert main(tune) == 0  # a second study in the same storage
    assert main(promote) == 0
    studies = optuna.get_all_study_summaries(storage, include_best_trial=False)
    first, second = sorted(s.study_name for s in studies)
    assert second == f"{first}-2" and [s.n_trials for s in studies] == [3, 3]

    client = MlflowClient()
    runs = client.search_runs(
        [client.get_experiment_by_name("synthetic").experiment_id],
        filter_string="tags.usagecast.kind = 'tuning'",
    )
    assert len(runs) == 2
    settings = mlflow.artifacts.load_dict(f"{runs[0].info.artifact_uri}/resolved_config.json")
    assert settings["storage"] == storage.replace("s3cret", "***")
    assert "s3cret" not in json.dumps(settings)
    # MLflow's default root for a database store: ./mlruns where the first run was made.
    assert all(str(tmp_path / "mlruns") in run.info.artifact_uri for run in runs)
    assert client.get_registered_model("synthetic").aliases == {"champion": 2, "previous": 1}

    capsys.readouterr()
    assert main(["rollback", "synthetic"]) == 0
    assert "rolled back from v2 to v1" in capsys.readouterr().out
    assert client.get_registered_model("synthetic").aliases == {"champion": 1}

    fingerprint = runs[0].data.tags["feature_set_fingerprint"]
    scores = tmp_path / "scores.parquet"
    score = ["score", f"{synthetic_ref}/{fingerprint}", "--model", CHAMPION]
    assert main([*score, "--out", str(scores), "--cutoff", "2024-05-01"]) == 0
    provenance = json.loads(pq.read_schema(scores).metadata[b"usagecast"])
    assert provenance["model_version"] == "1"
    scored = pd.read_parquet(scores)
    assert len(scored) == 300 and scored["probability"].between(0, 1).all()

    test_rows = pd.read_parquet(
        mlflow.artifacts.download_artifacts(
            run_id=runs[0].info.run_id, artifact_path="test_set.parquet"
        )
    ).head(5)
    test_rows = test_rows.drop(columns=["user_id", "cutoff", "label"])
    expected = mlflow.pyfunc.load_model(CHAMPION).predict(test_rows)
    with running_server(
        CHAMPION, tmp_path / "server.log", {"MLFLOW_TRACKING_URI": tracking}
    ) as base:
        served = _invoke(base, test_rows)
    pd.testing.assert_series_equal(
        served["probability"], expected["probability"], check_dtype=False, check_names=False
    )
