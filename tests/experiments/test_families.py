"""The trainer's half of every model family, one table: a search space Optuna samples, a
deterministic fit into the served model's fitted model; and the logistic's export, which must
score exactly as the scikit-learn pipeline it was fitted as."""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from contracts.manifest import FeatureSetManifest
from experiments.families import (
    L1LogisticFamily,
    LightGBMFamily,
    LightGBMRegressionFamily,
    ModelFamily,
    TrainingRows,
)
from experiments.families.l1_logistic import _as_model_input, l1_logistic_pipeline
from experiments.families.lightgbm_family import NUM_BOOST_ROUND
from experiments.inputs import read_inputs
from features.categories import OTHER_LEVEL
from serving import FITTED_MODELS, encode_matrix
from serving.families import OUTPUTS
from tests.experiments.conftest import synthetic_feature_set

# family, parameters its fit needs beside the sampled ones
FAMILY_TABLE: list[tuple[ModelFamily, dict[str, object]]] = [
    (LightGBMFamily("roc_auc", threads=1), {NUM_BOOST_ROUND: 40}),
    (L1LogisticFamily(), {}),
    # A 0/1 label is a value too (a non-negative label): the same synthetic signal must rank.
    (LightGBMRegressionFamily(threads=1), {NUM_BOOST_ROUND: 40}),
]


def training_rows(family: str, frame: pd.DataFrame, manifest: FeatureSetManifest) -> TrainingRows:
    """The first three cutoffs train, the fourth validates (the tuning run's split, small)."""
    cutoffs = sorted(frame["cutoff"].unique())
    train = frame[frame["cutoff"].isin(cutoffs[:3])].reset_index(drop=True)
    validation = frame[frame["cutoff"] == cutoffs[3]].reset_index(drop=True)
    inputs = read_inputs(manifest).with_training_levels(train)
    return TrainingRows(
        train,
        train["label"].to_numpy(dtype=float),
        validation,
        validation["label"].to_numpy(dtype=float),
        inputs.model_metadata(threshold=0.5, family=family),
    )


@pytest.fixture(scope="module")
def synthetic():
    return synthetic_feature_set()


@pytest.mark.parametrize(
    ("family", "extra"), FAMILY_TABLE, ids=["lightgbm", "l1_logistic", "lightgbm_regression"]
)
def test_a_family_samples_fits_and_scores_deterministically(family, extra, synthetic):
    assert family.name in FITTED_MODELS and family.output in OUTPUTS
    rows = training_rows(family.name, *synthetic)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    params = family.search_space(study.ask(), rows.train_y)
    assert params
    first = family.fit(rows, {**params, **extra}, seed=3)
    second = family.fit(rows, {**params, **extra}, seed=3)
    assert isinstance(first, FITTED_MODELS[family.name])
    assert first.num_features == len(rows.metadata.feature_names)
    validation = encode_matrix(rows.validation, rows.metadata)
    scores = first.raw_scores(validation)
    np.testing.assert_array_equal(scores, second.raw_scores(validation))
    assert roc_auc_score(rows.validation_y, scores) > 0.75  # the synthetic signal is strong


def test_the_logistic_export_scores_exactly_as_its_pipeline(synthetic):
    """Gaps in a numeric feature, a rare level grouped into __other__, a level never seen and
    a missing level all score as the fitted scikit-learn pipeline scores them."""
    frame, manifest = synthetic
    frame = frame.copy()
    frame.loc[:4, "channel"] = "mastodon"  # rare at training: grouped
    frame.loc[frame.index[-3:], "channel"] = ["myspace", None, "reddit"]  # unseen, missing
    rows = training_rows("l1_logistic", frame, manifest)
    assert OTHER_LEVEL in rows.metadata.categorical_levels["channel"]
    assert rows.train["noise"].isna().any()
    model = L1LogisticFamily().fit(rows, {"C": 0.1}, seed=0)
    levels = rows.metadata.categorical_levels
    numeric = [name for _, name in rows.metadata.numeric_positions]
    pipeline = l1_logistic_pipeline(numeric, levels, 0.1, 0)
    pipeline.fit(_as_model_input(rows.train, levels), rows.train_y)
    scored = pd.concat([rows.validation, frame.tail(3)], ignore_index=True)
    np.testing.assert_allclose(
        model.raw_scores(encode_matrix(scored, rows.metadata)),
        pipeline.decision_function(_as_model_input(scored, levels)),
        rtol=0,
        atol=1e-12,
    )
