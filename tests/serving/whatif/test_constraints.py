"""Building the action space from manifest lists: every mistake names its entry and key."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from contracts.manifest import FeatureSetManifest
from serving.whatif import (
    ActionSpaceError,
    Goal,
    action_space_from_manifest,
    build_action_space,
    counterfactuals,
    violations,
)
from serving.whatif.constraints import as_matrix, row_bounds

NAMES = ["a7", "a30", "events", "share", "age"]
GOOD = {"name": "a30", "direction": "both", "lower": 0, "upper": 10}


@pytest.mark.parametrize(
    ("actionable", "couplings", "message"),
    [
        ([{**GOOD, "colour": 1}], [], r"actionable\[0\]: unknown key\(s\) \['colour'\]"),
        ([{"name": "a30", "direction": "both"}], [], r"actionable\[0\]: missing key"),
        ([{**GOOD, "name": "nope"}], [], r"actionable\[0\].name: 'nope' is not one"),
        ([{**GOOD, "direction": "up"}], [], r"actionable\[0\].direction: 'up'"),
        ([{**GOOD, "lower": 5, "upper": 1}], [], r"actionable\[0\]: lower 5 > upper 1"),
        ([{**GOOD, "lower": 0.2, "upper": 0.8, "integer": True}], [], "no whole number"),
        ([{**GOOD, "integer": "yes"}], [], r"actionable\[0\].integer"),
        ([{**GOOD, "cost": -1}], [], r"actionable\[0\].cost: must be >= 0"),
        ([{**GOOD, "upper": float("inf")}], [], r"actionable\[0\].upper: expected a finite"),
        ([GOOD, GOOD], [], r"actionable\[1\].name: 'a30' is listed twice"),
        ([GOOD], [{"kind": "sum"}], r"couplings\[0\].kind: 'sum'"),
        ([GOOD], [{"kind": "order", "smaller": "a7"}], r"couplings\[0\]: missing key"),
        ([GOOD], [{"kind": "order", "smaller": "a7", "larger": "zz"}], r"\.larger: 'zz'"),
        (
            [{**GOOD, "name": "share"}],
            [{"kind": "ratio", "feature": "share", "numerator": "a30", "denominator": "events"}],
            "derived from its parts",
        ),
    ],
)
def test_invalid_specs_name_the_entry(actionable, couplings, message):
    with pytest.raises(ActionSpaceError, match=message):
        build_action_space(NAMES, actionable, couplings)


def test_manifest_categorical_cannot_be_actionable():
    manifest = {
        "features": [
            {"name": "a30", "dtype": "numeric"},
            {"name": "plan", "dtype": "categorical"},
        ],
        "actionable": [{**GOOD, "name": "plan"}],
    }
    with pytest.raises(ActionSpaceError, match="'plan' is categorical"):
        action_space_from_manifest(FeatureSetManifest.from_dict(manifest))


def test_manifest_builds_genes_in_model_order():
    manifest = {
        "features": [{"name": n, "dtype": "numeric"} for n in NAMES],
        "actionable": [GOOD, {"name": "a7", "direction": "increase", "lower": 0, "upper": 5}],
        "couplings": [{"kind": "order", "smaller": "a7", "larger": "a30"}],
    }
    space = action_space_from_manifest(FeatureSetManifest.from_dict(manifest))
    assert space.gene_names == ("a30", "a7")
    assert list(space.gene_columns) == [1, 0]
    assert space.gene_pairs() == ((1, 0),)


def test_rows_breaking_a_coupling_or_missing_columns_are_refused():
    space = build_action_space(
        NAMES, [GOOD], [{"kind": "order", "smaller": "a7", "larger": "a30"}]
    )
    with pytest.raises(ActionSpaceError, match=r"row 1: a7=5.0 > a30=2.0"):
        as_matrix(np.array([[1, 2, 3, 0.5, 9], [5, 2, 3, 0.5, 9]], dtype=float), space)
    with pytest.raises(ActionSpaceError, match=r"missing feature column\(s\) \['age'\]"):
        as_matrix(pd.DataFrame({n: [1.0] for n in NAMES[:-1]}), space)
    with pytest.raises(ActionSpaceError, match=r"non-numeric feature column\(s\) \['age'\]"):
        as_matrix(pd.DataFrame({**{n: [1.0] for n in NAMES[:-1]}, "age": ["old"]}), space)


def test_row_bounds_freeze_odd_values_and_respect_immutable_partners():
    actionable = [
        {"name": "a7", "direction": "increase", "lower": 0, "upper": 20, "integer": True},
        {"name": "events", "direction": "decrease", "lower": 0, "upper": 100},
    ]
    couplings = [
        {"kind": "order", "smaller": "a7", "larger": "a30"},  # a30 is immutable here
        {"kind": "order", "smaller": "age", "larger": "events"},  # so is age
    ]
    space = build_action_space(NAMES, actionable, couplings)
    rows = np.array(
        [
            [2, 6.5, 50, 0.1, 10],  # a7 may rise to floor(6.5); events may fall to age
            [np.nan, 6, 150, 0.1, 10],  # a7 missing, events above its upper bound: frozen
            [2.5, 6, 50, 0.1, 10],  # fractional value of an integer gene: frozen
        ]
    )
    lo, hi = row_bounds(space, rows)
    assert lo[0].tolist() == [2, 10] and hi[0].tolist() == [6, 50]
    assert np.isnan(lo[1, 0]) and lo[1, 1] == hi[1, 1] == 150
    assert lo[2, 0] == hi[2, 0] == 2.5


def test_violations_judge_rows_from_elsewhere(product_space):
    before = np.array([2.0, 8.0, 40.0, 0.2, 100.0])
    fine = np.array([2.0, 6.0, 40.0, 0.15, 100.0])
    assert violations(before, fine, product_space) == []
    cases = {
        "tenure_days: immutable but changed": [2, 8, 40, 0.2, 101],
        "count_events_30d: 40.0 -> 30.0 leaves": [2, 8, 30, 8 / 30, 100],
        "count_ad_30d: integer feature set to 6.5": [2, 6.5, 40, 6.5 / 40, 100],
        "coupling count_ad_7d <= count_ad_30d broken": [2, 1, 40, 1 / 40, 100],
        "share_ad_30d: 0.2 does not follow its parts": [2, 6, 40, 0.2, 100],
    }
    for message, after in cases.items():
        found = violations(before, np.array(after, dtype=float), product_space)
        assert any(p.startswith(message) for p in found), (message, found)


def test_no_actionable_features_means_no_suggestions():
    space = build_action_space(NAMES, [])
    suggestions = counterfactuals(
        np.ones((2, 5)), space, lambda m: np.full(len(m), 0.1), Goal(target=0.5)
    )
    assert suggestions == [[], []]
