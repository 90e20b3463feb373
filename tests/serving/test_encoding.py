"""The one encoding (training and serving) and the top-k SHAP reduction: pure, fast tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from serving import FeatureEncodingError, ModelMetadata, encode_features, encode_matrix
from serving.encoding import VECTORISE_FROM_ROWS
from serving.explain import top_k_contributions

METADATA = ModelMetadata(
    feature_names=("visits", "city", "spend"),
    categorical_levels={"city": ("berlin", "lima")},
    threshold=0.5,
    feature_set="premium_30d@v1",
    feature_set_fingerprint="fp",
    label_kind="event_within",
)


def test_values_are_kept_exactly_and_unknown_levels_are_missing():
    frame = pd.DataFrame(
        {"spend": [5.7, None], "city": ["lima", "tokyo"], "visits": [3, 4], "user_id": ["a", "b"]}
    )
    matrix = encode_matrix(frame, METADATA)
    assert matrix[0].tolist() == [3.0, 1.0, 5.7]  # column order = feature_names; no truncation
    assert matrix[1, 0] == 4.0 and np.isnan(matrix[1, 1]) and np.isnan(matrix[1, 2])
    assert list(encode_features(frame, METADATA).columns) == ["visits", "city", "spend"]


@pytest.mark.parametrize(
    ("column", "values", "words"),
    [
        ("visits", pd.Series(["3", 4], dtype=object), ["column 'visits', row 0", "'3'"]),
        ("visits", pd.Series([True, False]), ["column 'visits'", "booleans"]),
        ("visits", pd.Series([1, True], dtype=object), ["column 'visits', row 1", "True"]),
        ("city", pd.Series(["lima", 2], dtype=object), ["column 'city', row 1", "categorical"]),
    ],
)
def test_wrong_kinds_are_refused_not_coerced(column, values, words):
    frame = pd.DataFrame({"visits": [1, 2], "city": ["lima", "berlin"], "spend": [0.0, 1.0]})
    with pytest.raises(FeatureEncodingError) as error:
        encode_matrix(frame.assign(**{column: values}), METADATA)
    for word in words:
        assert word in str(error.value)


def test_small_and_large_paths_agree():
    rng = np.random.default_rng(0)
    rows = VECTORISE_FROM_ROWS + 500
    frame = pd.DataFrame(
        {
            "visits": rng.integers(0, 9, rows),
            "city": pd.Series(rng.choice(["berlin", "lima", "oslo", None], rows), dtype="str"),
            "spend": np.where(rng.random(rows) < 0.1, np.nan, rng.random(rows)),
        }
    )
    large = encode_matrix(frame, METADATA)
    small = np.vstack(
        [encode_matrix(frame.iloc[i : i + 100], METADATA) for i in range(0, rows, 100)]
    )
    np.testing.assert_array_equal(large, small)
    categorical = encode_matrix(frame.astype({"city": "category"}), METADATA)
    np.testing.assert_array_equal(large, categorical)


@settings(max_examples=60, deadline=None)
@given(
    contrib=arrays(
        np.float64,
        st.tuples(st.integers(1, 5), st.integers(2, 9)),
        elements=st.floats(-5, 5, allow_nan=False),
    ),
    k=st.integers(1, 12),
)
def test_top_k_keeps_the_largest_and_still_adds_up(contrib, k):
    names = [f"f{j}" for j in range(contrib.shape[1] - 1)]
    values = np.zeros((contrib.shape[0], len(names)))
    for row, explanation in zip(
        contrib, top_k_contributions(contrib, names, values, k), strict=True
    ):
        kept = [c["contribution"] for c in explanation.contributions]
        assert len(kept) == min(k, len(names))
        total = explanation.base_value + sum(kept) + explanation.other_contribution
        assert total == pytest.approx(row.sum(), abs=1e-9)
        assert explanation.raw_score == pytest.approx(row.sum(), abs=1e-12)
        dropped = sorted(np.abs(row[:-1]))[: len(names) - len(kept)]
        assert all(abs(c) >= max(dropped, default=0.0) for c in kept)


def test_levels_outside_a_grouped_feature_map_to_other_on_both_paths():
    """Rare at training or unseen at serving: the one `__other__` code; missing stays NaN."""
    from features.categories import OTHER_LEVEL

    grouped = ModelMetadata(
        feature_names=("org",),
        categorical_levels={"org": ("acme", "initech", OTHER_LEVEL)},
        threshold=0.5,
        feature_set="t@v1",
        feature_set_fingerprint="fp",
        label_kind="event_within",
    )
    frame = pd.DataFrame({"org": pd.Series(["initech", "globex", None, OTHER_LEVEL] * 400)})
    large = encode_matrix(frame, grouped)[:4, 0]
    small = encode_matrix(frame.head(4), grouped)[:, 0]
    typed = encode_matrix(frame.astype({"org": "str"}), grouped)[:4, 0]
    for codes in (large, small, typed):
        assert codes[0] == 1.0 and codes[1] == 2.0 and np.isnan(codes[2]) and codes[3] == 2.0
