"""PSI: hand-checked cases and the invariants of experiments/monitor/psi.py's docstring."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from experiments.monitor.psi import (
    EPSILON,
    categorical_shares,
    numeric_edges,
    numeric_shares,
    population_stability,
    psi_from_shares,
)

shares = st.lists(st.floats(0.0, 1.0), min_size=2, max_size=12).filter(lambda v: sum(v) > 0)


def _normalised(values: list[float]) -> np.ndarray:
    return np.asarray(values) / sum(values)


def test_two_bins_by_hand():
    expected = 0.4 * math.log(0.9 / 0.5) + (-0.4) * math.log(0.1 / 0.5)
    assert math.isclose(psi_from_shares([0.5, 0.5], [0.9, 0.1]), expected)
    assert math.isclose(expected, 0.878890, abs_tol=1e-6)


def test_deciles_of_the_reference_and_values_on_an_edge_fall_below():
    reference = np.arange(1.0, 11.0)  # 1..10
    edges = numeric_edges(reference)
    assert len(edges) == 9
    assert np.allclose(numeric_shares(reference, edges)[:-1], 0.1)
    assert numeric_shares(np.array([edges[0]]), edges)[0] == 1.0


def test_few_distinct_values_get_few_bins_and_missing_its_own():
    edges = numeric_edges(np.array([0.0] * 8 + [1.0] * 2))
    assert len(edges) == 2  # deciles 0.0 and 1.0, one bin per side and one between
    got = numeric_shares(np.array([0.0, np.nan, np.nan, 5.0]), edges)
    assert got.tolist() == [0.25, 0.0, 0.25, 0.5]


def test_categories_with_an_unseen_and_a_missing_bucket_by_hand():
    reference = pd.Series(["a", "a", "b", "b"])
    current = pd.Series(["a", "a", "a", "c"])
    assert categorical_shares(current, ("a", "b")).tolist() == [0.75, 0.0, 0.25, 0.0]
    expected = (
        0.25 * math.log(0.75 / 0.5)
        + (EPSILON - 0.5) * math.log(EPSILON / 0.5)
        + (0.25 - EPSILON) * math.log(0.25 / EPSILON)
    )
    assert math.isclose(population_stability(reference, current), expected)


def test_an_emptied_column_is_drift():
    reference = pd.Series(np.arange(100.0))
    assert population_stability(reference, pd.Series([np.nan] * 50)) > 1.0


@given(shares, st.data())
def test_non_negative_symmetric_and_bounded(expected, data):
    actual = data.draw(
        st.lists(st.floats(0.0, 1.0), min_size=len(expected), max_size=len(expected)).filter(
            lambda v: sum(v) > 0
        )
    )
    e, a = _normalised(expected), _normalised(actual)
    value = psi_from_shares(e, a)
    assert value >= 0.0
    assert math.isclose(value, psi_from_shares(a, e), rel_tol=1e-9, abs_tol=1e-12)
    assert value <= 2 * math.log(1 / EPSILON) + 1e-9


@given(st.lists(st.floats(-1e6, 1e6) | st.just(float("nan")), min_size=1, max_size=200))
def test_identical_samples_have_zero_psi(values):
    column = pd.Series(values, dtype="float64")
    assert population_stability(column, column.copy()) == 0.0
    labels = column.round().astype("string")
    assert population_stability(labels, labels.copy()) == 0.0
