"""The oracle: how well anyone could rank the test rows, from the simulator's ground truth.

For a feature set built from simulated data, the simulator knows each user's true probability
of buying premium within the label horizon at each cutoff. Ranking the test rows by that
probability gives the oracle AUC, the ceiling for any model; the tuned model's share of the
oracle's lift over random is oracle_lift_ratio = (AUC - 0.5) / (oracle AUC - 0.5).

Only for data whose simulation config can be found (the feature set's data digest -> the
ingest record -> the dataset folder the simulator wrote) and a BUY_PREMIUM label; otherwise
the run records why it was skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

ORACLE_REPLICAS = 256
PURCHASE_EVENT = "BUY_PREMIUM"


@dataclass(frozen=True)
class OracleResult:
    """`oracle_auc` and `oracle_lift_ratio` when computed, and a note saying what happened."""

    note: str
    metrics: dict[str, float] = field(default_factory=dict)


def lift_ratio(model_auc: float, oracle_auc: float) -> float:
    """Share of the oracle's lift over random that the model achieves."""
    return (model_auc - 0.5) / (oracle_auc - 0.5)


def oracle_from_truth(
    labels: np.ndarray, true_probabilities: np.ndarray, model_auc: float
) -> OracleResult:
    """Oracle AUC of the true probabilities on the test labels, and the model's lift ratio."""
    oracle_auc = float(roc_auc_score(labels, true_probabilities))
    if oracle_auc <= 0.5:
        return OracleResult(note=f"oracle AUC {oracle_auc:.4f} is not above random; no ratio")
    return OracleResult(
        note="computed from the simulator's true purchase probabilities on the test cutoffs",
        metrics={"oracle_auc": oracle_auc, "oracle_lift_ratio": lift_ratio(model_auc, oracle_auc)},
    )


def oracle_metrics(manifest: dict, test_rows: pd.DataFrame, model_auc: float) -> OracleResult:
    """The oracle for the test rows, or a note explaining why it does not apply."""
    label = manifest.get("label", {})
    if label.get("kind") != "event_within" or label.get("event_type") != PURCHASE_EVENT:
        return OracleResult(
            note=f"skipped: the simulator's truth covers {PURCHASE_EVENT} labels, "
            f"this label is {label.get('kind')}/{label.get('event_type')}"
        )
    return OracleResult(note="skipped: simulation config lookup not available yet")
