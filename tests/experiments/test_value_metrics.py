"""Value metrics on tiny hand-computed cases, and the invariants of a ranking measure."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from experiments.value_metrics import decile_calibration, evaluate_value, mae, rmse
from registry.policy import normalised_gini

REALISED = np.array([0.0, 0.0, 10.0, 30.0])


@pytest.mark.parametrize(
    ("predicted", "expected"),
    [
        # Taken in predicted order the cumulative shares are .75, 1, 1, 1: (3.75 / 4 - 5 / 8)
        # = 0.3125, the perfect order's own Gini.
        ([0.1, 0.2, 0.3, 0.4], 1.0),
        # Reversed: shares 0, 0, .25, 1: 1.25 / 4 - 5 / 8 = -0.3125.
        ([0.4, 0.3, 0.2, 0.1], -1.0),
        # Order 0, 2, 3, 1: shares 0, .25, 1, 1: 2.25 / 4 - 5 / 8 = -0.0625, / 0.3125.
        ([0.4, 0.1, 0.3, 0.2], -0.2),
        # All tied: taken in row order, which here is the reversed order.
        ([1.0, 1.0, 1.0, 1.0], -1.0),
    ],
)
def test_normalised_gini_by_hand(predicted, expected):
    assert normalised_gini(REALISED, np.array(predicted)) == pytest.approx(expected)


def test_normalised_gini_is_undefined_without_value():
    assert math.isnan(normalised_gini(np.zeros(4), np.arange(4.0)))


@given(st.lists(st.floats(0, 1e3, allow_nan=False), min_size=2, max_size=40), st.data())
def test_gini_depends_on_the_order_only(values, data):
    realised = np.array(values)
    ranks = np.array(data.draw(st.permutations(range(len(values)))), dtype="float64")
    gini = normalised_gini(realised, ranks)
    if math.isnan(gini):
        assert realised.sum() == 0 or len(set(values)) == 1
        return
    assert -1 - 1e-9 <= gini <= 1 + 1e-9
    # A strictly increasing transform keeps the order, hence the Gini.
    assert normalised_gini(realised, ranks**2 * 3 + 1) == pytest.approx(gini)
    assert normalised_gini(realised, realised) == pytest.approx(1.0)


def test_decile_calibration_by_hand():
    predicted = np.arange(20.0)
    table = decile_calibration(2 * predicted, predicted)
    assert table["rows"].tolist() == [2] * 10
    assert table["predicted_mean"].tolist() == [2 * k + 0.5 for k in range(10)]
    assert table["realised_mean"].tolist() == [4 * k + 1.0 for k in range(10)]


def test_decile_calibration_splits_uneven_rows_first_groups_larger():
    predicted = np.array([5.0, 1, 3, 0, 2, 4, 6, 7, 8, 9, 10, 11])
    table = decile_calibration(np.ones(12), predicted)
    assert table["rows"].tolist() == [2, 2, 1, 1, 1, 1, 1, 1, 1, 1]
    assert table["predicted_mean"].tolist()[:3] == [0.5, 2.5, 4.0]


def test_error_and_totals_by_hand():
    realised, predicted = np.array([0.0, 3.0]), np.array([4.0, 0.0])
    assert rmse(realised, predicted) == pytest.approx(math.sqrt(12.5))
    assert mae(realised, predicted) == pytest.approx(3.5)
    metrics = evaluate_value(realised, predicted)
    assert metrics["total_ratio"] == pytest.approx(4 / 3)
    assert metrics["normalised_gini"] == pytest.approx(-1.0)
