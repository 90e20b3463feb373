"""Tiny synthetic models for the serving tests: trained in code in well under a second."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import lightgbm
import numpy as np
import pandas as pd
import pytest

from experiments.families import L1LogisticFamily, TrainingRows
from serving import (
    UNCALIBRATED,
    Calibration,
    FittedModel,
    LightGBMModel,
    ModelMetadata,
    encode_features,
    encode_matrix,
)

# --import-mode=importlib does not put test folders on sys.path; fuzz_requests is a unique name.
sys.path.insert(0, str(Path(__file__).parent))

CITIES = ("berlin", "lagos", "lima")
# Not the identity, so a probability that skipped the calibration shows in every test.
TINY_CALIBRATION = Calibration(slope=0.8, intercept=-0.3, rows=400, positives=180)


@dataclass(frozen=True)
class TinyModel:
    """A fitted model, its metadata, and the raw feature rows and labels it was trained on."""

    model: FittedModel
    metadata: ModelMetadata
    rows: pd.DataFrame
    labels: np.ndarray

    @property
    def booster(self) -> lightgbm.Booster:
        """The LightGBM family's booster."""
        assert isinstance(self.model, LightGBMModel), self.metadata.family
        return self.model.booster

    def probabilities(self, rows: pd.DataFrame) -> np.ndarray:
        """The served (calibrated) probability of raw feature rows."""
        raw = self.model.raw_scores(encode_matrix(rows, self.metadata))
        return self.metadata.calibration.apply(raw)


def make_tiny_model(
    seed: int = 0,
    n_rows: int = 400,
    label_noise: float = 0.0,
    with_likes: bool = False,
    names: Mapping[str, str] | None = None,
    family: str = "lightgbm",
) -> TinyModel:
    """A binary model on two numeric features and one categorical: LightGBM, or with
    `family="l1_logistic"` the L1 logistic (served as the trainer serves it: uncalibrated).

    `label_noise` flips that share of the training labels: a worse model on the same task.
    `with_likes` adds a fourth (numeric) feature: a model with different feature columns.
    `names` renames features (e.g. to a shipped spec's columns, for models scored on built
    feature sets).
    """
    names = {name: name for name in ("plays_30d", "ads_30d", "city")} | dict(names or {})
    rng = np.random.default_rng(seed)
    rows = pd.DataFrame(
        {
            "plays_30d": rng.poisson(20, n_rows).astype("float64"),
            "ads_30d": rng.poisson(5, n_rows).astype("float64"),
            "city": rng.choice(CITIES, n_rows),
        }
    )
    logit = 0.15 * (rows["plays_30d"] - 20) - 0.3 * (rows["ads_30d"] - 5)
    logit = logit + np.where(rows["city"] == "lagos", 1.0, 0.0)
    if with_likes:
        rows["likes_30d"] = rng.poisson(3, n_rows).astype("float64")
        logit = logit + 0.2 * (rows["likes_30d"] - 3)
    label = (rng.random(n_rows) < 1 / (1 + np.exp(-logit))).astype(int)
    noisy = np.where(rng.random(n_rows) < label_noise, 1 - label, label)
    rows = rows.rename(columns=names)
    metadata = ModelMetadata(
        feature_names=tuple(rows.columns),
        categorical_levels={names["city"]: CITIES},
        threshold=0.4,
        feature_set="premium_30d@v1",
        feature_set_fingerprint="fp-test",
        label_kind="event_within",
        calibration=TINY_CALIBRATION,
        actionable=(
            {
                "name": names["ads_30d"],
                "direction": "decrease",
                "lower": 0,
                "upper": 50,
                "integer": True,
                "cost": 1.0,
            },
        ),
    )
    if family == "l1_logistic":
        metadata = replace(metadata, family=family, calibration=UNCALIBRATED)
        training = TrainingRows(rows, noisy, rows, noisy, metadata)
        logistic = L1LogisticFamily().fit(training, {"C": 1.0}, seed)
        return TinyModel(model=logistic, metadata=metadata, rows=rows, labels=label)
    dataset = lightgbm.Dataset(
        encode_features(rows, metadata),
        label=noisy,
        categorical_feature=list(metadata.categorical_features),
    )
    # One thread: OpenMP threads that wait for each other on a busy machine (or beside another
    # test process) can stretch this 400-row training from milliseconds to seconds.
    params = {
        "objective": "binary",
        "num_leaves": 7,
        "verbose": -1,
        "seed": seed,
        "num_threads": 1,
    }
    booster = lightgbm.train(params, dataset, num_boost_round=15)
    return TinyModel(model=LightGBMModel(booster), metadata=metadata, rows=rows, labels=label)


@pytest.fixture(scope="session")
def tiny_model() -> TinyModel:
    return make_tiny_model()


@pytest.fixture(scope="session")
def tiny_logistic() -> TinyModel:
    return make_tiny_model(family="l1_logistic")


@pytest.fixture(autouse=True)
def artifacts_in_tmp(tmp_path, monkeypatch):
    """The SQLite store's default artifact root is ./mlruns: keep it inside tmp_path."""
    monkeypatch.chdir(tmp_path)
