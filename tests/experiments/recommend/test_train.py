"""End to end on a small simulated dataset: `usagecast recommend train --register` logs the
comparison with popularity and the oracle, gives the same result for the same seed, and
registers a champion that serves."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from usagecast_cli.main import main as usagecast

pytestmark = pytest.mark.slow


def test_recommend_train_beats_popularity_and_registers_a_champion(tmp_path, mlflow_store, capsys):
    data = tmp_path / "data"
    assert (
        usagecast(
            ["simulate", "--users", "300", "--months", "4", "--seed", "3", "--out", str(data)]
        )
        == 0
    )
    assert usagecast(["ingest", str(data / "dataset.yaml"), "--no-progress"]) == 0
    capsys.readouterr()
    code = usagecast(
        ["recommend", "train", "--trials", "3", "--seed", "5", "--register", "tracks"]
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "oracle" in printed and "popularity" in printed

    assert usagecast(["recommend", "train", "--trials", "3", "--seed", "5"]) == 0

    client = MlflowClient()
    runs = client.search_runs(
        [client.get_experiment_by_name("recommend").experiment_id],
        filter_string="tags.`usagecast.kind` = 'tuning'",
    )
    assert len(runs) == 2
    again, run = runs  # newest first
    assert again.data.metrics == run.data.metrics  # same seed, same result
    metrics, params = run.data.metrics, run.data.params
    assert metrics["test_ndcg_at_10"] > metrics["popularity_ndcg_at_10"]
    assert metrics["test_recall_at_10"] > metrics["popularity_recall_at_10"]
    assert metrics["oracle_ndcg_at_10"] > metrics["popularity_ndcg_at_10"]
    assert 0 < metrics["test_coverage_at_10"] <= 1
    assert params["seed"] == "5"
    assert pd.Timestamp(params["cutoff"]) < pd.Timestamp("2024-05-01")

    champion = mlflow.pyfunc.load_model("models:/tracks@champion")
    users = ["1", "2", "no-such-user"]
    answer = champion.predict(pd.DataFrame({"user_id": users}), params={"k": 10})
    assert answer["source"].tolist() == ["model", "model", "popularity"]
    assert all(len(items) == 10 for items in answer["items"])
