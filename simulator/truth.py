"""Ground truth from the simulator: true purchase probabilities and true effects of levers.

- true_purchase_probability(config, user_ids, dates): for each (user, date) the probability
  that the user buys premium in [date, date + horizon_days), given everything up to date
  (the state at the start of that day in the recorded run). Computed by Monte Carlo: the
  user's chunk is re-run up to the date (same streams, so the same history as the files on
  disk), then `replicas` futures are simulated from that state with a stream keyed by
  (seed, chunk, date). Users who are premium or churned at the date get 0. The Monte Carlo
  standard error is at most 0.5 / sqrt(replicas).
- true_adoption_probability(config, user_ids, dates, horizon_days, min_days, window_days):
  the same for the adoption label (feature sets' `active_days_in_window`): the probability
  that the user is active (has any event) on at least min_days distinct days inside some
  window_days-day window of [date, date + horizon). Churned users at the date get 0.
- true_purchase_rate_under(config, user_ids, date, levers): the same expectation with other
  levers in force from the date on, averaged over the cohort: the true effect of a what-if
  is true_purchase_rate_under(..., changed) - true_purchase_rate_under(..., config.levers).
- A randomized experiment (config.LeverExperiment) is part of the recorded history: without
  `levers` each function follows its arms; with `levers` they hold for everyone from the date
  (the experiment ends there), so the experiment's true effect on a cohort at its start is
  true_purchase_rate_under(..., treated levers) - true_purchase_rate_under(..., config.levers);
  true_arm_probabilities(config, user_ids, dates) gives both per user.
- simulate_cohort(config, user_ids, from_date, levers): one realised re-run of the recorded
  history with the levers changed from from_date on (same seed: identical history before the
  date, common random numbers after). With unchanged levers it reproduces the files.
All of them follow the config's planted drift: a channel_mix changes who the users are, a
lever_effect changes the purchase hazard from its date (tracking_bug changes only the files),
and the organisations, teams and inviters of traits.py (they are part of each user's traits).
A date is a day boundary; a time of day before the first session a day can hold (06:00: the
simulated users sign up before it) is the same as that day's midnight, so cutoffs anchored at
a signup's timestamp have a truth too.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from contracts.errors import UsagecastError
from simulator import streams
from simulator.config import Levers, SimulationConfig
from simulator.events import EARLIEST_SESSION
from simulator.process import (
    DayActivity,
    LeverSchedule,
    UserState,
    chunk_key,
    experiment_arm,
    initial_state,
    recorded_schedule,
    run_days,
)
from simulator.traits import UserTraits, draw_user_traits

MAX_REPLICA_ROWS = 1_000_000  # users x replicas simulated at once (bounds memory)

DateLike = dt.date | str | np.datetime64


@dataclass(frozen=True)
class CohortOutcome:
    """What each cohort user did in [from_date, from_date + horizon_days) in one re-run."""

    user_ids: np.ndarray
    bought: np.ndarray  # bool
    churned: np.ndarray  # bool
    ads_heard: np.ndarray  # int64

    @property
    def purchase_rate(self) -> float:
        """Share of the cohort that bought premium in the horizon."""
        return float(self.bought.mean()) if len(self.bought) else 0.0


@dataclass(frozen=True)
class _Purchase:
    """The outcome "bought premium in the horizon": only free, alive users can."""

    def eligible(self, state: UserState) -> np.ndarray:
        return state.alive & ~state.premium

    def happened(self, run: Iterator[tuple[int, UserState, DayActivity]]) -> np.ndarray:
        final = None
        for _, day_end, _ in run:
            final = day_end
        return final.premium


@dataclass(frozen=True)
class _Adoption:
    """The outcome "active on min_days distinct days inside some window_days-day window"."""

    min_days: int
    window_days: int

    def eligible(self, state: UserState) -> np.ndarray:
        return state.alive

    def happened(self, run: Iterator[tuple[int, UserState, DayActivity]]) -> np.ndarray:
        active = np.stack([activity.sessions > 0 for _, _, activity in run]).astype(np.int32)
        width = min(self.window_days, len(active))
        running = np.concatenate([np.zeros((1, active.shape[1]), np.int32), active.cumsum(0)])
        in_window = running[width:] - running[:-width]
        return (in_window >= self.min_days).any(axis=0)


def true_purchase_probability(
    config: SimulationConfig,
    user_ids: Sequence[int] | np.ndarray,
    dates: Sequence[DateLike] | np.ndarray | DateLike,
    *,
    horizon_days: int = 30,
    replicas: int = 256,
    levers: Levers | None = None,
) -> np.ndarray:
    """P(buy premium in [date, date + horizon)) per (user, date); `levers` from date on
    for everyone (None: as recorded, the experiment's arms included)."""
    return _true_probability(config, user_ids, dates, horizon_days, replicas, levers, _Purchase())


def true_adoption_probability(
    config: SimulationConfig,
    user_ids: Sequence[int] | np.ndarray,
    dates: Sequence[DateLike] | np.ndarray | DateLike,
    *,
    horizon_days: int,
    min_days: int,
    window_days: int,
    replicas: int = 256,
) -> np.ndarray:
    """P(active on >= min_days distinct days inside some window_days-day window of
    [date, date + horizon)) per (user, date)."""
    if min_days < 1 or window_days < 1:
        raise UsagecastError("min_days and window_days must be >= 1")
    return _true_probability(
        config,
        user_ids,
        dates,
        horizon_days,
        replicas,
        None,
        _Adoption(min_days, window_days),
    )


def _true_probability(
    config: SimulationConfig,
    user_ids: Sequence[int] | np.ndarray,
    dates: Sequence[DateLike] | np.ndarray | DateLike,
    horizon_days: int,
    replicas: int,
    future: Levers | None,
    outcome: _Purchase | _Adoption,
) -> np.ndarray:
    """P(outcome in [date, date + horizon)) per (user, date), `future` levers from date on
    for everyone (None: the recorded levers and experiment)."""
    index = _user_index(config, user_ids)
    days = np.broadcast_to(_day_indices(config, dates), index.shape)
    if replicas < 1 or horizon_days < 1:
        raise UsagecastError("replicas and horizon_days must be >= 1")
    probability = np.zeros(len(index))
    for chunk in np.unique(index // config.chunk_size):
        in_chunk = np.flatnonzero(index // config.chunk_size == chunk)
        traits = draw_user_traits(config, int(chunk))
        local = index[in_chunk] - int(chunk) * config.chunk_size
        states = _states_at(config, traits, int(chunk), days[in_chunk])
        for day in np.unique(days[in_chunk]):
            rows = np.flatnonzero(days[in_chunk] == day)
            probability[in_chunk[rows]] = _monte_carlo(
                traits.take(local[rows]),
                states[int(day)].take(local[rows]),
                int(day),
                horizon_days,
                _schedule_from(config, int(day), future),
                replicas,
                (config.seed, streams.TRUTH, int(chunk), int(day)),
                outcome,
            )
    return probability


def true_purchase_rate_under(
    config: SimulationConfig,
    user_ids: Sequence[int] | np.ndarray,
    date: DateLike,
    levers: Levers,
    *,
    horizon_days: int = 30,
    replicas: int = 64,
) -> float:
    """Expected share of the cohort buying premium in the horizon if `levers` held from date."""
    probability = true_purchase_probability(
        config, user_ids, date, horizon_days=horizon_days, replicas=replicas, levers=levers
    )
    return float(probability.mean())


def true_arm_probabilities(
    config: SimulationConfig,
    user_ids: Sequence[int] | np.ndarray,
    dates: Sequence[DateLike] | np.ndarray | DateLike,
    *,
    horizon_days: int = 30,
    replicas: int = 64,
) -> tuple[np.ndarray, np.ndarray]:
    """(P(buy) with the control arm's levers, with the treatment arm's) from each date on, for
    everyone: per-user true effects of the config's experiment (same streams: precise)."""
    if config.experiment is None:
        raise UsagecastError("the simulation ran no experiment; there are no arms")
    treated = dataclasses.replace(config.levers, ads_per_hour=config.treated_ads_per_hour)
    return tuple(
        true_purchase_probability(
            config, user_ids, dates, horizon_days=horizon_days, replicas=replicas, levers=levers
        )
        for levers in (config.levers, treated)
    )


def simulate_cohort(
    config: SimulationConfig,
    user_ids: Sequence[int] | np.ndarray,
    *,
    from_date: DateLike,
    levers: Levers | None = None,
    horizon_days: int = 30,
) -> CohortOutcome:
    """Re-run the recorded history with `levers` from from_date on; outcomes in the horizon."""
    index = _user_index(config, user_ids)
    start = int(_day_indices(config, from_date))
    schedule = _schedule_from(config, start, levers)
    bought = np.zeros(len(index), bool)
    churned = np.zeros(len(index), bool)
    ads = np.zeros(len(index), np.int64)
    for chunk in np.unique(index // config.chunk_size):
        in_chunk = np.flatnonzero(index // config.chunk_size == chunk)
        local = index[in_chunk] - int(chunk) * config.chunk_size
        traits = draw_user_traits(config, int(chunk))
        days = range(start + horizon_days)
        for day, _, activity in run_days(
            traits, initial_state(len(traits)), days, schedule, chunk_key(config.seed, int(chunk))
        ):
            if day >= start:
                bought[in_chunk] |= activity.bought[local]
                churned[in_chunk] |= activity.churned[local]
                ads[in_chunk] += activity.ads[local]
    return CohortOutcome(index + 1, bought, churned, ads)


def _schedule_from(config: SimulationConfig, day: int, levers: Levers | None) -> LeverSchedule:
    """The recorded levers until `day`, then `levers` for everyone (None: as recorded)."""
    if levers is None:
        return recorded_schedule(config)
    return LeverSchedule(
        config.levers,
        levers,
        day,
        config.drift_day("lever_effect"),
        experiment_arm(config, until_day=day),
    )


def _monte_carlo(
    traits: UserTraits,
    state: UserState,
    start_day: int,
    horizon_days: int,
    schedule: LeverSchedule,
    replicas: int,
    key: tuple[int, ...],
    outcome: _Purchase | _Adoption,
) -> np.ndarray:
    """Share of replicas in which each eligible user's outcome happens within the horizon.

    Only eligible users are simulated (for the others it cannot happen: 0). Results are
    deterministic for the same request; a user's estimate depends on which users are
    simulated alongside (they share the stream), not on anything else.
    """
    share = np.zeros(len(traits))
    eligible = np.flatnonzero(outcome.eligible(state))
    users_per_batch = max(1, MAX_REPLICA_ROWS // replicas)
    days = range(start_day, start_day + horizon_days)
    for batch_number, first in enumerate(range(0, len(eligible), users_per_batch)):
        users = eligible[first : first + users_per_batch]
        replicated = np.repeat(users, replicas)
        run = run_days(
            traits.take(replicated), state.take(replicated), days, schedule, (*key, batch_number)
        )
        share[users] = outcome.happened(run).reshape(len(users), replicas).mean(axis=1)
    return share


def _states_at(
    config: SimulationConfig, traits: UserTraits, chunk: int, days: np.ndarray
) -> dict[int, UserState]:
    """State of every chunk user at the start of each requested day (recorded history)."""
    wanted = {int(day) for day in np.unique(days)}
    start = initial_state(len(traits))
    states = {0: start} if 0 in wanted else {}
    schedule = recorded_schedule(config)
    for day, day_end, _ in run_days(
        traits, start, range(max(wanted)), schedule, chunk_key(config.seed, chunk)
    ):
        if day + 1 in wanted:
            states[day + 1] = day_end
    return states


def _user_index(config: SimulationConfig, user_ids: Sequence[int] | np.ndarray) -> np.ndarray:
    """0-based global user index of each user id; unknown ids are errors."""
    ids = np.asarray(user_ids).astype(np.int64).reshape(-1)
    bad = ids[(ids < 1) | (ids > config.n_users)]
    if len(bad):
        raise UsagecastError(
            f"user id {int(bad[0])} is not a simulated user (ids run 1..{config.n_users})"
        )
    return ids - 1


def _day_indices(config: SimulationConfig, dates: object) -> np.ndarray:
    """Day numbers (0 = start_date) of dates; a time of day from the day's first possible
    session on (EARLIEST_SESSION) and dates before the start are refused."""
    stamps = np.asarray(dates, dtype="datetime64[s]")
    days = stamps.astype("datetime64[D]")
    if np.any(stamps - days >= np.timedelta64(EARLIEST_SESSION, "s")):
        raise UsagecastError(
            "dates must be day boundaries (midnight, or a time before 06:00, when no "
            "simulated event happens); got a later time of day"
        )
    index = (days - np.datetime64(config.start_date, "D")).astype(np.int64)
    if np.any(index < 0):
        raise UsagecastError(f"dates must be on or after the simulation start {config.start_date}")
    return index
