"""The export's purchase rows: what a BUY_PREMIUM is worth."""

from __future__ import annotations

import calendar

import numpy as np

from simulator import Levers, SimulationConfig, streams
from simulator.config import CHANNEL_PLAN_VALUE, CHANNELS
from simulator.events import expand_chunk
from simulator.layout import PURCHASE_COLUMNS
from simulator.process import LeverSchedule, chunk_key, record_days
from simulator.tables import purchases_frame
from simulator.traits import draw_catalog, draw_user_traits


def test_a_purchase_is_worth_the_price_times_the_buyers_channel_plan():
    config = SimulationConfig(n_users=400, seed=3, months=3, n_tracks=50, n_artists=10)
    levers = Levers(premium_price=12.5)
    traits = draw_user_traits(config, 0)
    counts = record_days(
        traits, config.n_days, LeverSchedule.constant(levers), chunk_key(config.seed, 0)
    )
    start = calendar.timegm(config.start_date.timetuple())
    log = expand_chunk(
        counts, traits, draw_catalog(config), start, streams.stream(config.seed, streams.EVENTS, 0)
    )

    rows = purchases_frame(log, traits, levers.premium_price)

    buyer_channel = traits.channel[rows[PURCHASE_COLUMNS["user_id"]].astype(int) - 1]
    assert set(buyer_channel) == set(range(len(CHANNELS)))  # every channel has a buyer
    expected = [round(12.5 * CHANNEL_PLAN_VALUE[channel], 2) for channel in buyer_channel]
    np.testing.assert_array_equal(rows[PURCHASE_COLUMNS["value"]], expected)
