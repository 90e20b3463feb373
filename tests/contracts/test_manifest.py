"""The manifest: read by fields, written back byte for byte, unknown keys and versions refused."""

from __future__ import annotations

import dataclasses
import json
import pickle

import pytest

from contracts.manifest import (
    SCORING_KEYS,
    TRAINING_KEYS,
    FeatureSetManifest,
    ManifestError,
    manifest_fields,
    plain_json,
)
from contracts.refs import FeatureSetRef

# The shape features.featureset.build writes (schema version 1: no schema_version key).
TRAINING = {
    "kind": "training",
    "ref": "premium_30d@v1",
    "name": "premium_30d",
    "version": 1,
    "fingerprint": "3f2a9c01",
    "spec": {"name": "premium_30d", "version": 1, "features": [{"kind": "count"}]},
    "spec_hash": "ab" * 32,
    "data_digest": "d1",
    "sample": {"fraction": 0.5, "seed": 3},
    "engine": "duckdb",
    "built_at": "2026-12-04T23:00:00+00:00",
    "build_seconds": 0.412,
    "rows": 40,
    "users": 20,
    "label": {
        "kind": "event_within",
        "horizon_days": 30,
        "long_horizon": False,
        "event_type": "BUY_PREMIUM",
        "min_days": None,
        "window_days": None,
        "dtype": "binary",
    },
    "label_rate": 0.25,
    "positives": 10,
    "cutoffs": {
        "min": "2024-02-01T00:00:00",
        "max": "2024-03-01T00:00:00",
        "distinct": 2,
        "calendar": ["2024-02-01", "2024-03-01"],
        "after_signup_days": None,
        "after_signup_anchor": None,
    },
    "end_of_data": "2024-04-15T00:00:00",
    "data_granularity": "timestamp",
    "censored": {"rows": 0, "rule": "dropped when cutoff + horizon > end_of_data (...)"},
    "eligibility": {"candidates": 50, "kept": 40, "inactive": 6, "converted": 4, "censored": 0},
    "leakage": {"threshold": 0.95, "scores": {"ads_30d": 0.61}, "flagged": [], "warned": []},
    "columns": ["user_id", "cutoff", "label", "ads_30d", "channel"],
    "features": [
        {"name": "ads_30d", "dtype": "numeric", "kind": "count", "window_days": 30},
        {"name": "channel", "dtype": "categorical", "kind": "attribute", "levels": ["a", "b"]},
    ],
    "actionable": [
        {"name": "ads_30d", "direction": "decrease", "lower": 0, "upper": 9, "cost": 1.0}
    ],
    "couplings": [],
}
SCORING = {
    "kind": "scoring",
    "ref": "premium_30d@v1",
    "fingerprint": "77aa",
    "rows": 3,
    "cutoff": "2024-04-16T00:00:00",
    "population": "users without the label event before the cutoff",
    "label_rate": None,
    "feature_cutoffs": {"min": "2024-04-16T00:00:00", "max": "2024-04-16T00:00:00"},
    "end_of_data": "2024-04-15T00:00:00",
    "eligibility": {"candidates": 5, "scored": 3, "inactive": 1, "converted": 1},
    "features": [{"name": "ads_30d", "dtype": "numeric"}],
}


@pytest.mark.parametrize("data", [TRAINING, SCORING])
def test_a_manifest_round_trips_byte_for_byte(data):
    text = json.dumps(data, indent=2, sort_keys=False)
    assert FeatureSetManifest.from_json(text).to_json() == text


def test_stages_read_typed_values():
    manifest = FeatureSetManifest.from_dict(TRAINING)
    assert manifest.feature_set == FeatureSetRef("premium_30d", 1)
    assert (manifest.rows, manifest.label_rate, manifest.positives) == (40, 0.25, 10)
    assert manifest.label.kind == "event_within" and manifest.label.horizon_days == 30
    assert manifest.feature_names == ("ads_30d", "channel")
    assert manifest.features[1].levels == ("a", "b")
    assert (manifest.sample_fraction, manifest.sample_seed) == (0.5, 3)
    assert manifest.count("inactive") == 6
    assert (manifest.first_cutoff, manifest.last_cutoff) == (
        "2024-02-01T00:00:00",
        "2024-03-01T00:00:00",
    )
    assert manifest.leakage_scores == {"ads_30d": 0.61} and manifest.leakage_flagged == ()
    scoring = FeatureSetManifest.from_dict(SCORING)
    assert scoring.scoring_cutoff == "2024-04-16T00:00:00" and not scoring.has_label
    assert scoring.last_cutoff == "2024-04-16T00:00:00" and scoring.count("scored") == 3


def test_an_ever_label_has_no_horizon():
    label = {**TRAINING["label"], "horizon_days": "ever", "long_horizon": True}
    manifest = FeatureSetManifest.from_dict({**TRAINING, "label": label})
    assert manifest.label.long_horizon and manifest.label.horizon_days is None


def test_a_manifest_cannot_change():
    manifest = FeatureSetManifest.from_dict(TRAINING)
    with pytest.raises(dataclasses.FrozenInstanceError):
        manifest.rows = 1  # type: ignore[misc]
    with pytest.raises(TypeError):
        manifest.eligibility["kept"] = 0  # type: ignore[index]
    copied = plain_json(manifest.actionable)
    copied[0]["upper"] = 99
    assert manifest.actionable[0]["upper"] == 9


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({**TRAINING, "cost_per_unit": 1}, r"unknown key\(s\) 'cost_per_unit' in a training"),
        ({**SCORING, "leakage": {}}, r"unknown key\(s\) 'leakage' in a scoring manifest"),
        ({**TRAINING, "schema_version": 2}, "schema_version 2 is not one this usagecast reads"),
        ({**TRAINING, "kind": "draft"}, "kind 'draft' is neither training nor scoring"),
        ([1, 2], "a manifest is a JSON object, not list"),
    ],
)
def test_what_this_code_cannot_read_is_refused_naming_the_file_and_key(data, message):
    with pytest.raises(ManifestError, match=message) as raised:
        FeatureSetManifest.from_dict(data, where="fs/v1/fp/manifest.json")
    assert str(raised.value).startswith("fs/v1/fp/manifest.json: ")


def test_an_explicit_first_schema_version_reads_as_the_implicit_one():
    explicit = FeatureSetManifest.from_dict({**TRAINING, "schema_version": 1})
    assert explicit == FeatureSetManifest.from_dict(TRAINING)


def test_a_key_a_reader_needs_but_the_manifest_lacks_is_named():
    partial = FeatureSetManifest.from_dict({"ref": "premium_30d@v1", "fingerprint": "fp"})
    with pytest.raises(ManifestError, match="its manifest has no 'label'; rebuild it"):
        _ = partial.label
    with pytest.raises(ManifestError, match="has no 'features'"):
        _ = partial.feature_names
    with pytest.raises(ManifestError, match="has no 'cutoff'"):
        _ = partial.scoring_cutoff
    assert partial.to_dict() == {"ref": "premium_30d@v1", "fingerprint": "fp"}


def test_where_a_build_lies_is_known_but_never_written():
    manifest = FeatureSetManifest.from_dict(SCORING).located("/ws/fs").with_reused(True)
    assert (manifest.path, manifest.reused) == ("/ws/fs", True)
    assert manifest.to_dict() == SCORING
    assert manifest == FeatureSetManifest.from_dict(SCORING)


def test_a_manifest_pickles_with_where_it_lies():
    manifest = FeatureSetManifest.from_dict(TRAINING).located("/ws/fs")
    copied = pickle.loads(pickle.dumps(manifest))
    assert copied == manifest and copied.path == "/ws/fs"


def test_every_key_of_either_kind_has_a_field():
    assert len(manifest_fields()) == len(TRAINING_KEYS | SCORING_KEYS)
    assert set(TRAINING) == TRAINING_KEYS and set(SCORING) <= SCORING_KEYS
