"""The stored calibration: a monotone map into [0, 1] that survives metadata.json exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from serving import UNCALIBRATED, Calibration, CalibrationError, ModelMetadata

finite = st.floats(-1e6, 1e6, allow_nan=False)
calibrations = st.builds(
    Calibration, slope=st.floats(0, 50, allow_nan=False), intercept=st.floats(-50, 50)
)


@given(calibrations, st.lists(finite, min_size=2, max_size=50))
def test_calibrated_probabilities_are_monotone_and_within_0_1(calibration, raw):
    ordered = np.sort(np.array(raw))
    probabilities = calibration.apply(ordered)
    assert np.all((probabilities >= 0) & (probabilities <= 1))
    assert np.all(np.diff(probabilities) >= 0)


@given(calibrations)
def test_metadata_json_round_trip_keeps_the_calibration_exactly(calibration):
    metadata = ModelMetadata(
        feature_names=("x",),
        categorical_levels={},
        threshold=0.5,
        feature_set="s@v1",
        feature_set_fingerprint="fp",
        label_kind="event_within",
        calibration=calibration,
    )
    again = ModelMetadata.from_json(metadata.to_json())
    assert again.calibration == calibration
    raw = np.linspace(-8, 8, 9)
    assert np.array_equal(again.calibration.apply(raw), calibration.apply(raw))


def test_metadata_without_a_calibration_serves_the_boosters_probability():
    payload = {
        "feature_names": ["x"],
        "categorical_levels": {},
        "threshold": 0.5,
        "feature_set": "s@v1",
        "feature_set_fingerprint": "fp",
        "label_kind": "event_within",
    }
    metadata = ModelMetadata.from_json(json.dumps(payload))
    assert metadata.calibration == UNCALIBRATED
    raw = np.array([-3.0, 0.0, 2.5])
    np.testing.assert_allclose(metadata.calibration.apply(raw), 1 / (1 + np.exp(-raw)))


def test_extreme_scores_saturate_without_overflow():
    with np.errstate(over="raise"):
        assert list(Calibration(slope=3.0).apply(np.array([-1e6, 1e6]))) == [0.0, 1.0]


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ({"method": "isotonic"}, "'isotonic' is not known"),
        ({"slope": -0.5}, "slope >= 0"),
        ({"intercept": float("nan")}, "finite intercept"),
        ({"scale": 2.0}, "unknown keys ['scale']"),
    ],
)
def test_invalid_calibration_is_refused_naming_the_field(payload, words):
    with pytest.raises(CalibrationError, match="calibration") as error:
        Calibration.from_dict(payload)
    assert words in str(error.value)
