"""Config validation: bad values are user errors naming the field."""

from __future__ import annotations

import datetime as dt

import pytest

from contracts.errors import UsagecastError
from simulator import Levers, SimulationConfig


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("n_users", 0),
        ("months", 0),
        ("fault_rate", 0.9),
        ("chunk_size", 0),
        ("seed", -1),
        ("ad_load_spread", -0.1),
        ("ad_load_spread", 2.5),
        ("ad_load_spread", float("nan")),
    ],
)
def test_bad_config_values_name_the_field(field, value):
    with pytest.raises(UsagecastError, match=field):
        SimulationConfig(**{field: value})


def test_bad_levers_name_the_lever():
    with pytest.raises(UsagecastError, match="ads_per_hour"):
        Levers(ads_per_hour=-1)
    with pytest.raises(UsagecastError, match="premium_price"):
        Levers(premium_price=0)


def test_calendar_months():
    config = SimulationConfig(months=6, start_date=dt.date(2024, 1, 1))
    assert config.end_date == dt.date(2024, 7, 1)
    assert config.n_days == 182
    assert SimulationConfig(n_users=10_001, chunk_size=5000).n_chunks == 3
