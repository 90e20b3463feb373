"""Tiny synthetic feature sets written into the test workspace's feature-set store."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.featureset import store
from features.featureset.catalog import parse_ref

CHANNELS = ("facebook", "reddit", "twitter")
CUTOFFS = tuple(pd.Timestamp(f"2024-{month:02d}-01") for month in range(1, 6))


def synthetic_feature_set(users: int = 300, seed: int = 7) -> tuple[pd.DataFrame, dict]:
    """Rows per (user, monthly cutoff): a strong numeric signal, a noisy one with gaps, a
    categorical channel with its own effect; labels drawn from a known logistic model."""
    rng = np.random.default_rng(seed)
    rows = []
    for cutoff in CUTOFFS:
        activity = rng.gamma(2.0, 2.0, users)
        noise = np.where(rng.random(users) < 0.1, np.nan, rng.normal(size=users))
        channel = rng.choice(CHANNELS, size=users)
        logit = -4.0 + 0.5 * activity + np.where(channel == "reddit", 0.8, 0.0)
        label = (rng.random(users) < 1 / (1 + np.exp(-logit))).astype("int64")
        rows.append(
            pd.DataFrame(
                {
                    "user_id": [f"u{i}" for i in range(users)],
                    "cutoff": cutoff,
                    "label": label,
                    "activity_30d": activity,
                    "noise": noise,
                    "channel": channel,
                }
            )
        )
    frame = pd.concat(rows, ignore_index=True)
    manifest = {
        "ref": "synthetic@v1",
        "name": "synthetic",
        "version": 1,
        "fingerprint": f"fp{seed:04d}{users:06d}",
        "data_digest": "synthetic-in-test",
        "label": {"kind": "event_within", "event_type": "BUY", "horizon_days": 30},
        "features": [
            {"name": "activity_30d", "dtype": "numeric"},
            {"name": "noise", "dtype": "numeric"},
            {"name": "channel", "dtype": "categorical", "levels": list(CHANNELS)},
        ],
        "actionable": [
            {
                "feature": "activity_30d",
                "direction": "increase",
                "lower": 0,
                "upper": 100,
                "integer": False,
                "cost": 1.0,
            }
        ],
        "couplings": [],
        "leakage": {"flagged": []},
    }
    return frame, manifest


def write_feature_set(frame: pd.DataFrame, manifest: dict) -> str:
    """Store a build in the (test) workspace and return its `name@vN` ref."""
    ref = parse_ref(manifest["ref"])
    store.write_build(frame, manifest, store.build_dir(ref, manifest["fingerprint"]))
    store.mark_latest(ref, manifest["fingerprint"])
    return manifest["ref"]


@pytest.fixture
def synthetic_ref() -> str:
    """A small synthetic feature set stored in this test's workspace."""
    return write_feature_set(*synthetic_feature_set())
