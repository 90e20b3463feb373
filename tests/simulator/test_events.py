"""Properties of the event log a chunk expands into (Hypothesis over small configs)."""

from __future__ import annotations

import calendar

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import Levers, SimulationConfig, streams
from simulator.events import ADVERTISEMENT, LIKE, PLAY, SKIP, expand_chunk
from simulator.process import LeverSchedule, chunk_key, record_days
from simulator.traits import draw_catalog, draw_user_traits


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_users=st.integers(1, 40),
    ads_per_hour=st.sampled_from([0.0, 4.0, 60.0]),
)
def test_events_match_counts_and_time_runs_forward(seed, n_users, ads_per_hour):
    config = SimulationConfig(n_users=n_users, seed=seed, months=1, n_tracks=50, n_artists=10)
    levers = LeverSchedule.constant(Levers(ads_per_hour=ads_per_hour))
    traits = draw_user_traits(config, 0)
    counts = record_days(traits, config.n_days, levers, chunk_key(seed, 0))
    start = calendar.timegm(config.start_date.timetuple())
    log = expand_chunk(
        counts, traits, draw_catalog(config), start, streams.stream(seed, streams.EVENTS, 0)
    )
    events = log.events
    for kind, name in [(PLAY, "plays"), (SKIP, "skips"), (LIKE, "likes"), (ADVERTISEMENT, "ads")]:
        assert np.sum(events.kind == kind) == getattr(counts, name).sum()
    assert len(log.login_time) == counts.sessions.sum()
    assert len(log.purchase_user) == counts.bought.sum() <= n_users

    # Per user, every timestamp (events and purchases) is unique and inside the signup..end.
    users = np.concatenate([events.user_id, log.purchase_user])
    times = np.concatenate([events.time, log.purchase_time])
    order = np.lexsort((times, users))
    same_user = users[order][1:] == users[order][:-1]
    assert np.all(np.diff(times[order])[same_user] > 0)
    signup = start + traits.signup_day * 86_400 + traits.signup_second
    assert np.all(times > signup[users - 1])
    assert np.all(times < start + config.n_days * 86_400)
    # Premium users hear no ads: no ad after a user's purchase.
    bought_at = dict(zip(log.purchase_user.tolist(), log.purchase_time.tolist(), strict=True))
    ad = events.kind == ADVERTISEMENT
    ad_users, ad_times = events.user_id[ad], events.time[ad]
    limit = np.array([bought_at.get(user, np.iinfo(np.int64).max) for user in ad_users.tolist()])
    assert np.all(ad_times < limit)
    # Within one user's day the log is in time order.
    day = (events.time - start) // 86_400
    same_cell = (events.user_id[1:] == events.user_id[:-1]) & (day[1:] == day[:-1])
    assert np.all(np.diff(events.time)[same_cell] > 0)
