"""The oracle ratio, and the honest skips when the truth is not reachable."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest

from contracts.manifest import FeatureSetManifest
from events.ingest import ingest_dataset
from experiments.oracle import ORACLE_REPLICAS, lift_ratio, oracle_from_truth, oracle_metrics
from simulator import SimulationConfig, simulate_to_dir, true_adoption_probability

PURCHASE_LABEL = {"kind": "event_within", "event_type": "BUY_PREMIUM", "horizon_days": 30}
ROWS = pd.DataFrame(
    {"user_id": ["1", "2"], "cutoff": pd.to_datetime(["2024-03-01"] * 2), "label": [0, 1]}
)


def test_lift_ratio_is_the_share_of_the_oracles_lift():
    assert lift_ratio(0.8, 0.9) == pytest.approx(0.75)
    assert lift_ratio(0.9, 0.9) == pytest.approx(1.0)


def test_oracle_from_truth_ranks_by_the_true_probabilities():
    labels = np.array([0, 0, 1, 1])
    result = oracle_from_truth(labels, np.array([0.1, 0.2, 0.3, 0.4]), model_auc=0.75)
    assert result.metrics == {"oracle_auc": 1.0, "oracle_lift_ratio": 0.5}


def test_other_labels_are_skipped_with_a_reason(tmp_path):
    manifest = FeatureSetManifest.from_dict(
        {"label": {"kind": "churn", "horizon_days": 30}, "data_digest": "d"}
    )
    result = oracle_metrics(manifest, ROWS, 0.7, tmp_path / "events.duckdb")
    assert result.metrics == {} and "churn" in result.note


def test_data_without_an_ingest_record_is_skipped_with_a_reason(tmp_path):
    manifest = FeatureSetManifest.from_dict({"label": PURCHASE_LABEL, "data_digest": "d"})
    result = oracle_metrics(manifest, ROWS, 0.7, tmp_path / "events.duckdb")
    assert result.metrics == {} and "no ingest record" in result.note


def test_adoption_labels_get_the_oracle_from_the_simulators_truth(tmp_path):
    """An active_days_in_window label on simulated data: the oracle ranks by the true adoption
    probability at cutoffs anchored at the signup's timestamp (a time of day before 06:00)."""
    config = SimulationConfig(n_users=200, seed=2, months=4)
    simulate_to_dir(tmp_path / "data", config, progress=False)
    store = tmp_path / "events.duckdb"
    summary = ingest_dataset(tmp_path / "data" / "dataset.yaml", store, progress=False)
    con = duckdb.connect(str(store), read_only=True)
    try:
        users = con.execute("SELECT user_id, signup_time FROM users").df()
    finally:
        con.close()
    rows = pd.DataFrame(
        {"user_id": users["user_id"], "cutoff": users["signup_time"] + pd.Timedelta(days=14)}
    )
    label = {"kind": "active_days_in_window", "horizon_days": 30, "min_days": 3, "window_days": 7}
    truth = true_adoption_probability(
        config,
        rows["user_id"].astype(int).to_numpy(),
        rows["cutoff"].to_numpy(dtype="datetime64[s]"),
        horizon_days=30,
        min_days=3,
        window_days=7,
        replicas=ORACLE_REPLICAS,
    )
    rows["label"] = (truth > np.median(truth)).astype(int)  # labels the truth ranks perfectly
    manifest = FeatureSetManifest.from_dict(
        {"label": label, "data_digest": summary.dataset_digest}
    )
    result = oracle_metrics(manifest, rows, 0.75, store)
    assert result.metrics["oracle_auc"] == pytest.approx(1.0)
    assert result.metrics["oracle_lift_ratio"] == pytest.approx(0.5)
    assert "true" in result.note
