"""The oracle ratio, and the honest skips when the truth is not reachable."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from experiments.oracle import lift_ratio, oracle_from_truth, oracle_metrics

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
    manifest = {"label": {"kind": "churn", "horizon_days": 30}, "data_digest": "d"}
    result = oracle_metrics(manifest, ROWS, 0.7, tmp_path / "events.duckdb")
    assert result.metrics == {} and "churn" in result.note


def test_data_without_an_ingest_record_is_skipped_with_a_reason(tmp_path):
    manifest = {"label": PURCHASE_LABEL, "data_digest": "d"}
    result = oracle_metrics(manifest, ROWS, 0.7, tmp_path / "events.duckdb")
    assert result.metrics == {} and "no ingest record" in result.note
