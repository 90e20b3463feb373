"""Business metrics on hand-checked rows, and their invariants as properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.errors import UsagecastError
from experiments.business import (
    BusinessOptions,
    Capacity,
    Economics,
    business_metrics,
    business_options,
    capacity_stats,
    expected_business,
    parse_capacity,
    profit_at,
    profit_at_threshold,
    profit_curve,
)
from experiments.plots import business_figures

# Ranked by probability: rows 0, 3, 1, 4, 2 (rows 1 and 4 tie at 0.5; row order keeps 1 first).
LABELS = np.array([1, 0, 0, 1, 1])
PROBABILITIES = np.array([0.9, 0.5, 0.1, 0.7, 0.5])


def test_capacity_counts_the_top_rows_with_ties_in_row_order():
    two = capacity_stats(LABELS, PROBABILITIES, 2)  # rows 0, 3: both positive
    assert (two.contacted, two.precision, two.probability_cutoff) == (2, 1.0, 0.7)
    assert two.recall == pytest.approx(2 / 3)
    assert two.lift == pytest.approx(1.0 / 0.6)
    three = capacity_stats(LABELS, PROBABILITIES, 3)  # the tie at 0.5 takes row 1 (negative)
    assert three.precision == pytest.approx(2 / 3) and three.probability_cutoff == 0.5
    everyone = capacity_stats(LABELS, PROBABILITIES, 50)
    assert (everyone.contacted, everyone.recall, everyone.lift) == (5, 1.0, 1.0)
    assert math.isnan(capacity_stats(np.zeros(3), np.array([0.1, 0.2, 0.3]), 1).recall)


def test_capacity_as_a_count_or_a_fraction_of_the_rows():
    assert Capacity(count=500).rows(300) == 300
    assert Capacity(count=2).rows(300) == 2
    assert Capacity(fraction=0.05).rows(300) == 15
    assert Capacity(fraction=0.07).rows(100) == 7  # not 8: 0.07 * 100 > 7 in floats
    assert Capacity(fraction=0.05).rows(301) == 16
    assert Capacity(fraction=0.001).rows(300) == 1  # ceil: at least one user
    assert parse_capacity("500") == Capacity(count=500)
    assert parse_capacity("0.05") == Capacity(fraction=0.05)
    for text in ("0", "-3", "1.5", "1.0", "five", "nan"):
        with pytest.raises(UsagecastError, match="capacity must be"):
            parse_capacity(text)


def test_profit_curve_steps_at_each_distinct_probability():
    curve = profit_curve(LABELS, PROBABILITIES, Economics(contact_cost=1.0, conversion_value=3.0))
    # nobody; 0.9 (row 0); 0.7 (row 3); 0.5 (rows 1 and 4 together); 0.1 (row 2)
    assert list(curve.contacted) == [0, 1, 2, 4, 5]
    assert list(curve.conversions) == [0, 1, 2, 3, 3]
    assert list(curve.profit) == [0, 2, 4, 5, 4]
    assert curve.thresholds[0] > 0.9 and list(curve.thresholds[1:]) == [0.9, 0.7, 0.5, 0.1]
    assert curve.best == 3
    economics = Economics(contact_cost=1.0, conversion_value=3.0)
    assert profit_at_threshold(LABELS, PROBABILITIES, 0.6, economics) == 4.0  # rows 0 and 3
    assert profit_at_threshold(LABELS, PROBABILITIES, 0.95, economics) == 0.0


def test_profit_contacts_nobody_when_no_contact_pays():
    curve = profit_curve(LABELS, PROBABILITIES, Economics(contact_cost=5.0, conversion_value=1.0))
    assert curve.best == 0 and curve.profit[0] == 0.0
    metrics = business_metrics(
        LABELS, PROBABILITIES, BusinessOptions(economics=Economics(5.0, 1.0))
    )
    assert metrics["contacted_at_optimum"] == 0 and metrics["precision_at_optimum"] == 0.0
    assert metrics["profit_optimal_threshold"] > 0.9


def test_business_metrics_name_every_number():
    options = BusinessOptions(Capacity(count=2), Economics(contact_cost=1.0, conversion_value=3.0))
    metrics = business_metrics(LABELS, PROBABILITIES, options)
    assert metrics == pytest.approx(
        {
            "capacity_rows": 2,
            "precision_at_capacity": 1.0,
            "recall_at_capacity": 2 / 3,
            "lift_at_capacity": 1 / 0.6,
            "probability_cutoff_at_capacity": 0.7,
            "profit_optimal_threshold": 0.5,
            "profit_at_optimum": 5.0,
            "contacted_at_optimum": 4,
            "precision_at_optimum": 0.75,
            "recall_at_optimum": 1.0,
            "profit_at_capacity": 4.0,
        }
    )
    assert business_metrics(LABELS, PROBABILITIES, BusinessOptions()) == {}
    assert options.params() == {"capacity": "2", "contact_cost": "1", "conversion_value": "3"}


def test_expected_business_counts_probabilities_as_conversions():
    p = np.array([0.9, 0.4, 0.2, 0.05])
    options = BusinessOptions(
        Capacity(fraction=0.5), Economics(contact_cost=1.0, conversion_value=4.0)
    )
    summary = expected_business(p, options)
    # Contact while 4 p > 1, i.e. p > 0.25: the top 2; expected profit 4 * 1.3 - 2.
    assert summary == pytest.approx(
        {
            "users": 4,
            "capacity_users": 2,
            "probability_cutoff_at_capacity": 0.4,
            "expected_conversions_at_capacity": 1.3,
            "profit_optimal_threshold": 0.4,
            "best_k": 2,
            "expected_profit_at_optimum": 3.2,
            "expected_profit_at_capacity": 3.2,
        }
    )


def test_cost_and_value_come_together_and_are_checked():
    with pytest.raises(UsagecastError, match="--conversion-value needs --contact-cost"):
        business_options(None, None, 10.0)
    with pytest.raises(UsagecastError, match="--contact-cost needs --conversion-value"):
        business_options(None, 1.0, None)
    with pytest.raises(UsagecastError, match="contact cost must be >= 0"):
        Economics(contact_cost=-1.0, conversion_value=1.0)
    with pytest.raises(UsagecastError, match="conversion value must be > 0"):
        Economics(contact_cost=1.0, conversion_value=0.0)
    assert not business_options(None, None, None).requested


def test_the_profit_plot_exists_only_with_a_cost_and_value():
    assert business_figures(LABELS, PROBABILITIES, BusinessOptions(Capacity(count=2))) == {}
    options = BusinessOptions(Capacity(count=2), Economics(1.0, 3.0))
    figure = business_figures(LABELS, PROBABILITIES, options)["profit_curve"]
    labels = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert any(t.startswith("optimum: 4 users") for t in labels)
    assert "capacity: 2 users" in labels


rows = st.integers(min_value=1, max_value=40).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 1), min_size=n, max_size=n),
        # Few distinct values, so ties are common.
        st.lists(st.sampled_from([0.0, 0.1, 0.25, 0.5, 0.75, 1.0]), min_size=n, max_size=n),
    )
)
money = st.floats(min_value=0.0, max_value=100.0, allow_nan=False)


@given(rows, money, money.filter(lambda v: v > 0))
def test_no_threshold_beats_the_profit_optimum(data, cost, value):
    labels, probabilities = np.array(data[0]), np.array(data[1])
    economics = Economics(cost, value)
    curve = profit_curve(labels, probabilities, economics)
    best = curve.profit[curve.best]
    for threshold in [*np.linspace(-0.1, 1.1, 25), *probabilities]:
        contacted = probabilities >= threshold
        profit = value * labels[contacted].sum() - cost * contacted.sum()
        assert best >= profit - 1e-9 * max(1.0, abs(profit))
    # The optimum's own threshold contacts exactly the rows it counts.
    at_best = probabilities >= curve.thresholds[curve.best]
    assert at_best.sum() == curve.contacted[curve.best]


@given(rows, st.integers(min_value=1, max_value=60))
def test_capacity_rates_are_rates_and_full_capacity_finds_everyone(data, count):
    labels, probabilities = np.array(data[0]), np.array(data[1])
    stats = capacity_stats(labels, probabilities, count)
    assert 0.0 <= stats.precision <= 1.0
    if labels.any():
        assert 0.0 <= stats.recall <= 1.0
        if count >= len(labels):
            assert stats.recall == 1.0
    economics = Economics(1.0, 2.0)
    assert profit_at(labels, probabilities, count, economics) == pytest.approx(
        2.0 * stats.precision * stats.contacted - stats.contacted
    )
