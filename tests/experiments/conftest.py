"""Tiny synthetic feature sets written into the test workspace's feature-set store."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from contracts.manifest import FeatureSetManifest
from features.featureset import store

CHANNELS = ("facebook", "reddit", "twitter")
CUTOFFS = tuple(pd.Timestamp(f"2024-{month:02d}-01") for month in range(1, 6))


def _labelled_rows(rng: np.random.Generator, cutoffs: object, users: int) -> pd.DataFrame:
    """`users` rows at `cutoffs` (one or one per row): a strong numeric signal, a noisy one with
    gaps, a categorical channel with its own effect; labels drawn from a known logistic model."""
    activity = rng.gamma(2.0, 2.0, users)
    noise = np.where(rng.random(users) < 0.1, np.nan, rng.normal(size=users))
    channel = rng.choice(CHANNELS, size=users)
    logit = -4.0 + 0.5 * activity + np.where(channel == "reddit", 0.8, 0.0)
    label = (rng.random(users) < 1 / (1 + np.exp(-logit))).astype("int64")
    return pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in range(users)],
            "cutoff": cutoffs,
            "label": label,
            "activity_30d": activity,
            "noise": noise,
            "channel": channel,
        }
    )


def _manifest(name: str, fingerprint: str, horizon_days: int) -> FeatureSetManifest:
    return FeatureSetManifest.from_dict(
        {
            "ref": f"{name}@v1",
            "name": name,
            "version": 1,
            "fingerprint": fingerprint,
            "data_digest": "synthetic-in-test",
            "label": {"kind": "event_within", "event_type": "BUY", "horizon_days": horizon_days},
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
    )


def synthetic_feature_set(
    users: int = 300, seed: int = 7
) -> tuple[pd.DataFrame, FeatureSetManifest]:
    """Rows per (user, monthly cutoff) with a 30-day label (see `_labelled_rows`)."""
    rng = np.random.default_rng(seed)
    frame = pd.concat(
        [_labelled_rows(rng, cutoff, users) for cutoff in CUTOFFS], ignore_index=True
    )
    return frame, _manifest("synthetic", f"fp{seed:04d}{users:06d}", 30)


def signup_relative_feature_set(
    users: int = 400, days: int = 150, seed: int = 7
) -> tuple[pd.DataFrame, FeatureSetManifest]:
    """One row per user at its own minute-level cutoff (like `after_signup`), 14-day label."""
    rng = np.random.default_rng(seed)
    minutes = np.sort(rng.choice(days * 24 * 60, size=users, replace=False))
    cutoffs = pd.Timestamp("2024-01-01") + pd.to_timedelta(minutes, unit="min")
    frame = _labelled_rows(rng, cutoffs.astype("datetime64[us]"), users)
    return frame, _manifest("signup_synthetic", f"su{seed:04d}{users:06d}", 14)


def write_feature_set(frame: pd.DataFrame, manifest: FeatureSetManifest) -> str:
    """Store a build in the (test) workspace and return its `name@vN` ref."""
    ref = manifest.feature_set
    store.write_build(frame, manifest, store.build_dir(ref, manifest.fingerprint))
    store.mark_latest(ref, manifest.fingerprint)
    return str(ref)


@pytest.fixture
def synthetic_ref() -> str:
    """A small synthetic feature set stored in this test's workspace."""
    return write_feature_set(*synthetic_feature_set())


@pytest.fixture
def signup_relative_ref() -> str:
    """A small feature set with one cutoff per user, stored in this test's workspace."""
    return write_feature_set(*signup_relative_feature_set())


# Their runs make the MLflow store on first use, as a user's (or concurrent workers') do.
FIRST_USE = {"test_cli_output.py", "test_workers.py"}


@pytest.fixture(autouse=True)
def store_made_before(request):
    """The tests here start with their MLflow store made (see `mlflow_store`), but FIRST_USE."""
    if request.node.path.name not in FIRST_USE:
        request.getfixturevalue("mlflow_store")
