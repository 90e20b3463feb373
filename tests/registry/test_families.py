"""Either model family is promoted through the same gate and served by a real server: the L1
logistic's run is registered, compared with a LightGBM champion on the same test rows (and
the other way round), and `mlflow models serve` / `usagecast serve` answer predict, explain
and whatif for it."""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request

import numpy as np
import pytest

from registry import PolicyConfig, names, promote_run
from serving.local_server import free_port, running_server, serving_process

NAME = "premium_30d"


def _post(base: str, rows: list[dict], params: dict | None = None) -> tuple[int, object]:
    body = {"dataframe_records": rows, **({"params": params} if params else {})}
    request = urllib.request.Request(
        f"{base}/invocations",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.mark.slow
def test_either_family_is_promoted_and_gated_against_the_other(log_run):
    logistic = promote_run(log_run(family="l1_logistic", seed=1))
    assert logistic.promoted and logistic.champion == "1", logistic.reason
    # The LightGBM candidate is compared with the logistic champion re-scored on its rows.
    gbm = promote_run(log_run(seed=2), PolicyConfig(margin=0.5))
    assert not gbm.promoted and "same test rows" in gbm.reason and "< margin" in gbm.reason
    assert (gbm.champion, gbm.version) == ("1", "2")
    # And a second logistic is gated against the champion like any candidate.
    again = promote_run(log_run(family="l1_logistic", seed=3), PolicyConfig(margin=0.5))
    assert not again.promoted and "same test rows" in again.reason


@pytest.mark.slow
@pytest.mark.serve
def test_a_promoted_logistic_is_served_by_both_servers(log_run, held_out, tmp_path):
    result = promote_run(log_run(family="l1_logistic"))
    assert result.promoted, result.reason
    rows = held_out().drop(columns=["label"]).head(3)
    records = json.loads(rows.to_json(orient="records"))
    env = {
        "MLFLOW_TRACKING_URI": os.environ["MLFLOW_TRACKING_URI"],
        "USAGECAST_HOME": os.environ["USAGECAST_HOME"],
    }
    port = free_port()
    front = [sys.executable, "-m", "usagecast_cli.main", "serve", NAME, "--port", str(port)]
    front_env = {
        **os.environ,
        **env,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "MLFLOW_ALLOW_PICKLE_DESERIALIZATION": "false",
    }
    with (
        running_server(names.champion_uri(NAME), tmp_path / "stock.log", env) as stock,
        serving_process(front, port, tmp_path / "front.log", front_env) as door,
    ):
        for base in (stock, door):
            status, predicted = _post(base, records)
            assert status == 200, predicted
            probabilities = np.array([r["probability"] for r in predicted["predictions"]])
            assert ((probabilities > 0) & (probabilities < 1)).all()
            status, explained = _post(base, records, {"mode": "explain", "k": 2})
            assert status == 200, explained
            for row, p in zip(explained["predictions"], probabilities, strict=True):
                assert row["probability"] == pytest.approx(p)
                terms = sum(c["contribution"] for c in row["contributions"])
                total = row["base_value"] + terms + row["other_contribution"]
                assert total == pytest.approx(row["raw_score"], abs=1e-9)
                assert 1 / (1 + np.exp(-row["raw_score"])) == pytest.approx(p)
            status, whatif = _post(base, records, {"mode": "whatif", "k": 1, "budget_ms": 50})
            assert status == 200, whatif
            assert len(whatif["predictions"]) == 3
