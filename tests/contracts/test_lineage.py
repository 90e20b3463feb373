"""Run lineage: written as tags and read back unchanged; what a reader cannot use is refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.lineage import (
    FEATURE_SET_TAG,
    FINGERPRINT_TAG,
    LEAKAGE_FLAGGED_TAG,
    MODEL_OUTPUT_TAG,
    LineageError,
    RunLineage,
    feature_set_of,
)
from contracts.refs import REF_PATTERN, FeatureSetRef, InvalidRefError

REF = FeatureSetRef("premium_30d", 1)
FEATURE_NAMES = st.text(alphabet="abcxyz_0123456789", min_size=1, max_size=8)


def test_a_tuning_run_s_tags_are_the_ones_it_always_wrote():
    lineage = RunLineage(
        REF,
        "3f2a9c",
        config_hash="abc",
        git_commit="deadbeef-dirty",
        seed=7,
        leakage_scan="passed",
        leakage_flagged=(),
        leakage_warned=("n_paywall_7d",),
    )
    assert lineage.to_tags() == {
        "feature_set": "premium_30d@v1",
        "feature_set_fingerprint": "3f2a9c",
        "config_hash": "abc",
        "git_commit": "deadbeef-dirty",
        "seed": "7",
        "leakage_scan": "passed",
        "leakage_flagged": "",
        "leakage_warned": "n_paywall_7d",
    }
    assert RunLineage(REF, "fp", value_model=True).to_tags()[MODEL_OUTPUT_TAG] == "value"


@given(
    ref=st.from_regex(REF_PATTERN, fullmatch=True),
    fingerprint=st.none() | st.text(alphabet="0123456789abcdef", min_size=1, max_size=16),
    seed=st.none() | st.integers(-(2**31), 2**31),
    flagged=st.none() | st.lists(FEATURE_NAMES, max_size=3).map(tuple),
    warned=st.none() | st.lists(FEATURE_NAMES, max_size=3).map(tuple),
    value_model=st.booleans(),
)
def test_tags_read_back_as_the_lineage_written(
    ref, fingerprint, seed, flagged, warned, value_model
):
    lineage = RunLineage(
        FeatureSetRef.parse(ref),
        fingerprint,
        config_hash="h",
        seed=seed,
        leakage_flagged=flagged,
        leakage_warned=warned,
        value_model=value_model,
    )
    assert RunLineage.from_tags(lineage.to_tags(), "run r") == lineage


def test_an_old_run_without_leakage_tags_reads_as_unknown_not_as_clean():
    lineage = RunLineage.from_tags({FEATURE_SET_TAG: "premium_30d@v1"}, "run r")
    assert (lineage.fingerprint, lineage.leakage_flagged, lineage.leakage_warned) == (
        None,
        None,
        None,
    )
    assert lineage.identity_tags() == {FEATURE_SET_TAG: "premium_30d@v1", FINGERPRINT_TAG: ""}
    spaced = {FEATURE_SET_TAG: "premium_30d@v1", LEAKAGE_FLAGGED_TAG: "a, b,"}
    assert RunLineage.from_tags(spaced, "run r").leakage_flagged == ("a", "b")


@pytest.mark.parametrize(
    ("tags", "error", "message"),
    [
        ({}, LineageError, "run 1a2b has no 'feature_set' tag"),
        ({FEATURE_SET_TAG: ""}, LineageError, "run 1a2b has no 'feature_set' tag"),
        ({FEATURE_SET_TAG: "premium"}, InvalidRefError, "'premium' is not a feature-set"),
        (
            {FEATURE_SET_TAG: "premium_30d@v1", "seed": "x"},
            LineageError,
            "run 1a2b: tag 'seed' is 'x', not an integer",
        ),
    ],
)
def test_tags_a_reader_cannot_use_are_refused_naming_the_run(tags, error, message):
    with pytest.raises(error, match=message):
        RunLineage.from_tags(tags, "run 1a2b")


def test_the_feature_set_a_model_version_names():
    assert feature_set_of({FEATURE_SET_TAG: "premium_30d@v1"}) == REF
    assert feature_set_of({}) is None
    assert feature_set_of({FEATURE_SET_TAG: ""}) is None
