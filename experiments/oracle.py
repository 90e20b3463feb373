"""The oracle: how well anyone could rank the test rows, from the simulator's ground truth.

For a feature set built from simulated data, the simulator knows each user's true probability
of the label at each cutoff: buying premium within the horizon (an event_within BUY_PREMIUM
label) or adopting (an active_days_in_window label). Ranking the test rows by that
probability gives the oracle AUC, the ceiling for any model; the tuned model's share of the
oracle's lift over random is oracle_lift_ratio = (AUC - 0.5) / (oracle AUC - 0.5).

Only for data whose simulation config can be found (the feature set's data digest -> the
ingest record -> the dataset folder the simulator wrote) and one of those labels; otherwise
the run records why it was skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from contracts.errors import UsagecastError
from contracts.manifest import FeatureSetManifest
from events.store import INGESTS, open_store
from simulator import (
    SimulationConfig,
    load_simulation_config,
    true_adoption_probability,
    true_purchase_probability,
)

ORACLE_REPLICAS = 256
PURCHASE_EVENT = "BUY_PREMIUM"
ADOPTION_LABEL = "active_days_in_window"


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


def simulation_config(
    manifest: FeatureSetManifest, store_path: Path
) -> tuple[SimulationConfig | None, str]:
    """The config `usagecast simulate` recorded for the feature set's data, or why not (the
    data was not simulated: an export has no simulator truth to speak of)."""
    path = simulation_config_path(str(manifest.data_digest), store_path)
    if path is None:
        return None, "no ingest record for the feature set's data in the event store"
    try:
        return load_simulation_config(path), f"simulated data ({path})"
    except UsagecastError as error:
        return None, f"the data was not simulated ({error})"


def simulation_config_path(data_digest: str, store_path: Path) -> Path | None:
    """The dataset config the event store ingested with this digest, if it is recorded."""
    if not store_path.exists():
        return None
    con = open_store(store_path)
    try:
        row = con.execute(
            f"SELECT config_path FROM {INGESTS} WHERE dataset_digest = ? "
            "ORDER BY finished_at DESC LIMIT 1",
            [data_digest],
        ).fetchone()
    finally:
        con.close()
    return None if row is None else Path(row[0])


def oracle_metrics(
    manifest: FeatureSetManifest, test_rows: pd.DataFrame, model_auc: float, store_path: Path
) -> OracleResult:
    """The oracle for the test rows, or a note explaining why it does not apply."""
    label = manifest.label
    purchase = label.kind == "event_within" and label.event_type == PURCHASE_EVENT
    if not purchase and label.kind != ADOPTION_LABEL:
        return OracleResult(
            note=f"skipped: the simulator's truth covers {PURCHASE_EVENT} and "
            f"{ADOPTION_LABEL} labels, this label is {label.kind}/{label.event_type}"
        )
    config_path = simulation_config_path(str(manifest.data_digest), store_path)
    if config_path is None:
        return OracleResult(
            note="skipped: no ingest record for the feature set's data digest in the event store"
        )
    try:
        config = load_simulation_config(config_path)
    except UsagecastError as error:
        return OracleResult(note=f"skipped: the data was not simulated ({error})")
    user_ids = pd.to_numeric(test_rows["user_id"], errors="coerce")
    if user_ids.isna().any():
        return OracleResult(note="skipped: test user ids are not simulator ids")
    users = user_ids.to_numpy(dtype=np.int64)
    cutoffs = pd.to_datetime(test_rows["cutoff"]).to_numpy(dtype="datetime64[s]")
    horizon = int(label.horizon_days)
    try:
        if purchase:
            truth = true_purchase_probability(
                config, users, cutoffs, horizon_days=horizon, replicas=ORACLE_REPLICAS
            )
        else:
            truth = true_adoption_probability(
                config,
                users,
                cutoffs,
                horizon_days=horizon,
                min_days=int(label.min_days),
                window_days=int(label.window_days),
                replicas=ORACLE_REPLICAS,
            )
    except UsagecastError as error:
        return OracleResult(note=f"skipped: no truth for these cutoffs ({error})")
    return oracle_from_truth(test_rows["label"].to_numpy(), truth, model_auc)
