"""Ground truth: oracle purchase probabilities and the true effect of the ad lever."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pytest

from contracts.errors import UsagecastError
from simulator import (
    Levers,
    SimulationConfig,
    simulate_cohort,
    true_purchase_probability,
    true_purchase_rate_under,
)

COHORT = SimulationConfig(n_users=400, seed=11, months=4, chunk_size=150)
DATE = dt.date(2024, 3, 1)
USERS = np.arange(1, COHORT.n_users + 1)


@pytest.fixture(scope="module")
def oracle() -> np.ndarray:
    return true_purchase_probability(COHORT, USERS, DATE, replicas=64)


def test_probabilities_are_probabilities_and_reproducible(oracle):
    assert oracle.shape == (COHORT.n_users,)
    assert np.all((oracle >= 0) & (oracle <= 1))
    assert 0 < oracle.mean() < 0.5
    again = true_purchase_probability(COHORT, USERS[:50], DATE, replicas=64)
    np.testing.assert_array_equal(again, oracle[:50])


def test_users_who_then_buy_had_higher_probabilities(oracle):
    bought = simulate_cohort(COHORT, USERS, from_date=DATE).bought
    assert 5 <= bought.sum() <= COHORT.n_users - 5
    assert oracle[bought].mean() > 2 * oracle[~bought].mean()


def test_premium_and_churned_users_score_zero():
    before = simulate_cohort(
        COHORT, USERS, from_date=COHORT.start_date, horizon_days=(DATE - COHORT.start_date).days
    )
    late = true_purchase_probability(COHORT, USERS, DATE, replicas=16)
    assert np.all(late[before.bought | before.churned] == 0)


def test_more_ads_cause_more_purchases_and_more_churn():
    rates = [
        true_purchase_rate_under(COHORT, USERS, DATE, Levers(ads_per_hour=ads), replicas=32)
        for ads in (0.0, COHORT.levers.ads_per_hour, 12.0)
    ]
    assert rates[0] < rates[1] < rates[2]
    quiet = simulate_cohort(COHORT, USERS, from_date=DATE, levers=Levers(ads_per_hour=0.0))
    loud = simulate_cohort(COHORT, USERS, from_date=DATE, levers=Levers(ads_per_hour=20.0))
    assert loud.ads_heard.sum() > quiet.ads_heard.sum() == 0
    assert loud.churned.sum() > quiet.churned.sum()


def test_a_higher_price_causes_fewer_purchases():
    cheap = true_purchase_rate_under(COHORT, USERS, DATE, Levers(premium_price=4.99), replicas=32)
    dear = true_purchase_rate_under(COHORT, USERS, DATE, Levers(premium_price=19.99), replicas=32)
    assert cheap > dear


def test_unchanged_levers_reproduce_the_written_purchases(tiny_export, tiny_config):
    folder, _ = tiny_export
    start = tiny_config.start_date + dt.timedelta(days=20)
    outcome = simulate_cohort(
        tiny_config, np.arange(1, tiny_config.n_users + 1), from_date=start, horizon_days=30
    )
    low = int(dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC).timestamp())
    lines = (folder / "purchases.jsonl").read_text(encoding="utf-8").splitlines()
    buyers = {
        int(row["uid"]) for row in map(json.loads, lines) if low <= row["ts"] < low + 30 * 86_400
    }
    assert set(outcome.user_ids[outcome.bought].tolist()) == buyers


@pytest.mark.parametrize(
    ("users", "dates"),
    [([0], DATE), ([COHORT.n_users + 1], DATE), ([1], "2023-12-31"), ([1], "2024-03-01T10:00")],
)
def test_bad_users_and_dates_are_refused(users, dates):
    with pytest.raises(UsagecastError):
        true_purchase_probability(COHORT, users, dates, replicas=2)
