"""The day-by-day behaviour process, vectorised over users (pure: new state out, inputs kept).

The process is Markov in a small per-user state (UserState) plus the fixed traits, so the
future from any day can be re-simulated from that day's state alone: that is how truth.py
computes the true purchase probability and the effect of an intervention.

One day for each signed-up, not-churned user:
1. Active today with probability 1 - exp(-0.5 * engagement * weekday factor).
2. If active: 1 + Poisson(0.4 * engagement) sessions (at most 6), tracks = sessions +
   Poisson(5 * sessions * (0.6 + 0.4 * engagement)) (at most 120); each track is skipped with
   probability 0.6 - 0.5 * taste_match, else played; each play is liked with probability
   0.02 + 0.2 * taste_match^2.
3. Free users hear Poisson(ads_per_hour * ad_load * listening hours) ads; premium users hear
   none. ad_load is the user's own ad-load multiplier (traits.py, mean 1; exactly 1 for
   everyone unless config.ad_load_spread > 0): the lever sets ads_per_hour, the multiplier
   stays, so "ads_per_hour x 0.5" halves every free user's rate.
4. Recent behaviour decays with a 10-day time constant: recent = decay * recent + today.
5. Purchase (free and active today): daily hazard sigmoid(PURCHASE_BASE
   + PURCHASE_ADS * ad_sensitivity * log1p(recent ads) * enjoyment
   + PURCHASE_LIKES * log1p(recent likes)
   + PURCHASE_PLAYS * log1p(recent plays)
   + PURCHASE_SKIP_LIMIT * sigmoid((recent skips - SKIP_FRUSTRATION) / 2)
   - PURCHASE_PRICE * price_sensitivity * price / 9.99
   + purchase_shift). The skip term is a threshold: heavy skippers keep hitting the free
   tier's skip limit; purchase_shift is the pull of the user's organisation (traits.py).
   enjoyment = clip(recent likes / (recent plays + 5) / LIKES_PER_PLAY_TYPICAL, 0, 2): users
   who like what they hear pay to get rid of the ads (an ads x likes-per-play interaction).
   A buyer is premium from the next day on (no more ads) for the rest of the period.
6. Churn (any live user): daily hazard sigmoid(CHURN_BASE + CHURN_ADS * ad_sensitivity *
   log1p(recent ads) * (2 - enjoyment) - CHURN_PLAYS * log1p(recent plays)
   - CHURN_LIKES * log1p(recent likes) - CHURN_PREMIUM * premium + churn_shift): ads drive
   away the users who do not enjoy the music; churn_shift is the hold of the user's
   organisation (traits.py). A churned user never comes back.
Causal reading of the ad lever: more ads per hour -> more recent ads -> higher purchase hazard
for free users (and higher churn); over 30 days the purchase effect dominates.
A randomized experiment (config.LeverExperiment) gives the treated users (traits.treated) its
ads per hour from its date on (LeverSchedule.arm); an intervention for everyone from a later
date ends it there.
A `lever_effect` drift (config.Drift) is a product change from its date on: the ads term of
the purchase hazard uses DRIFTED_PURCHASE_ADS instead of PURCHASE_ADS, so from then on more
ads mean fewer purchases. It lives in the LeverSchedule, so the truth follows it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields

import numpy as np

from simulator import streams
from simulator.config import Levers, SimulationConfig
from simulator.traits import UserTraits

DECAY = float(np.exp(-1.0 / 10.0))
REFERENCE_PRICE = 9.99
MAX_SESSIONS = 6
MAX_TRACKS = 120
PLAY_SECONDS = 210.0  # mean seconds of a played track, for ad exposure
SKIP_SECONDS = 15.0

LIKES_PER_PLAY_TYPICAL = 0.1
PURCHASE_BASE = -7.4
PURCHASE_ADS = 1.0
DRIFTED_PURCHASE_ADS = -1.0
PURCHASE_LIKES = 0.5
PURCHASE_PLAYS = 0.35
PURCHASE_PRICE = 2.0
# Free users who keep skipping run into the free tier's skip limit: a threshold push.
PURCHASE_SKIP_LIMIT = 1.2
SKIP_FRUSTRATION = 20.0
CHURN_BASE = -4.6
CHURN_ADS = 0.35
CHURN_PLAYS = 0.35
CHURN_LIKES = 0.3
CHURN_PREMIUM = 1.0

# Sub-stream per random quantity: a lever that changes one quantity's parameters leaves the
# other quantities' random numbers untouched (common random numbers across interventions).
_ACTIVE, _SESSIONS, _TRACKS, _SKIPS, _LIKES, _ADS, _PURCHASE, _CHURN = range(8)


@dataclass(frozen=True)
class UserState:
    """What the future depends on besides the traits (one entry per user or replica)."""

    alive: np.ndarray  # bool: not churned
    premium: np.ndarray  # bool
    recent_ads: np.ndarray  # float, exponentially decayed counts
    recent_plays: np.ndarray
    recent_likes: np.ndarray
    recent_skips: np.ndarray

    def take(self, index: np.ndarray) -> UserState:
        """The states at `index` (repeats allowed: Monte Carlo replicas)."""
        return UserState(**{f.name: getattr(self, f.name)[index] for f in fields(self)})


@dataclass(frozen=True)
class DayActivity:
    """What each user did on one day (counts per user)."""

    sessions: np.ndarray  # int64
    plays: np.ndarray
    skips: np.ndarray
    likes: np.ndarray
    ads: np.ndarray
    bought: np.ndarray  # bool
    churned: np.ndarray  # bool


@dataclass(frozen=True)
class DailyCounts:
    """A chunk's recorded activity as (n_days, n_users) matrices."""

    sessions: np.ndarray
    plays: np.ndarray
    skips: np.ndarray
    likes: np.ndarray
    ads: np.ndarray
    bought: np.ndarray


@dataclass(frozen=True)
class ArmLevers:
    """A randomized experiment's treatment: treated users hear ads_per_hour from from_day on
    until until_day (exclusive; None: to the end), when an intervention for everyone starts."""

    ads_per_hour: float
    from_day: int
    until_day: int | None = None


@dataclass(frozen=True)
class LeverSchedule:
    """Levers in force each day: `before` until from_day, `after` from it on; the ads'
    purchase coefficient changes at ads_effect_day (a lever_effect drift; None: never);
    `arm` gives the treated users (UserTraits.treated) of an experiment their ads per hour."""

    before: Levers
    after: Levers
    from_day: int
    ads_effect_day: int | None = None
    arm: ArmLevers | None = None

    @classmethod
    def constant(
        cls, levers: Levers, ads_effect_day: int | None = None, arm: ArmLevers | None = None
    ) -> LeverSchedule:
        """The same levers every day."""
        return cls(levers, levers, 0, ads_effect_day, arm)

    def on(self, day: int) -> Levers:
        """Levers in force on `day`."""
        return self.after if day >= self.from_day else self.before

    def ads_per_hour_on(self, day: int, treated: np.ndarray) -> float | np.ndarray:
        """Ads per hour on `day`: one number, or one per user while the experiment runs."""
        everyone = self.on(day).ads_per_hour
        arm = self.arm
        if (
            arm is None
            or day < arm.from_day
            or (arm.until_day is not None and day >= arm.until_day)
        ):
            return everyone
        return np.where(treated, arm.ads_per_hour, everyone)

    def purchase_ads_on(self, day: int) -> float:
        """Coefficient of the ads term of the purchase hazard on `day`."""
        drifted = self.ads_effect_day is not None and day >= self.ads_effect_day
        return DRIFTED_PURCHASE_ADS if drifted else PURCHASE_ADS


def experiment_arm(config: SimulationConfig, until_day: int | None = None) -> ArmLevers | None:
    """The treatment of the config's experiment (None without one), ending at until_day."""
    start = config.experiment_day()
    if start is None:
        return None
    return ArmLevers(config.treated_ads_per_hour, start, until_day)


def recorded_schedule(config: SimulationConfig) -> LeverSchedule:
    """The levers of the recorded run: the config's, its lever_effect drift and experiment."""
    return LeverSchedule.constant(
        config.levers, config.drift_day("lever_effect"), experiment_arm(config)
    )


def initial_state(n: int) -> UserState:
    """Everyone alive, free, with no history."""
    zeros = np.zeros(n)
    return UserState(np.ones(n, bool), np.zeros(n, bool), zeros, zeros, zeros, zeros)


def step_day(
    traits: UserTraits,
    state: UserState,
    day: int,
    levers: Levers,
    key: tuple[int, ...],
    purchase_ads: float,
    ads_per_hour: float | np.ndarray,
) -> tuple[UserState, DayActivity]:
    """Simulate one day for all users; draws come from stream(*key, day, quantity).

    `levers` give the price; ads_per_hour (per user in an experiment) the ad rate, which
    each user hears times their traits.ad_load."""
    n = len(traits)

    def rng(quantity: int) -> np.random.Generator:
        return np.random.default_rng([*key, day, quantity])

    live = state.alive & (day >= traits.signup_day)
    weekday_factor = 1.15 if day % 7 in (5, 6) else 1.0
    p_active = 1.0 - np.exp(-0.5 * traits.engagement * weekday_factor)
    active = live & (rng(_ACTIVE).random(n) < p_active)
    sessions = np.where(
        active, np.minimum(1 + rng(_SESSIONS).poisson(0.4 * traits.engagement), MAX_SESSIONS), 0
    )
    tracks = np.minimum(
        sessions + rng(_TRACKS).poisson(5.0 * sessions * (0.6 + 0.4 * traits.engagement)),
        MAX_TRACKS,
    )
    skips = rng(_SKIPS).binomial(tracks, 0.6 - 0.5 * traits.taste_match)
    plays = tracks - skips
    likes = rng(_LIKES).binomial(plays, 0.02 + 0.2 * traits.taste_match**2)
    hours = (plays * PLAY_SECONDS + skips * SKIP_SECONDS) / 3600.0
    ads = np.where(state.premium, 0, rng(_ADS).poisson(ads_per_hour * traits.ad_load * hours))

    recent_ads = DECAY * state.recent_ads + ads
    recent_plays = DECAY * state.recent_plays + plays
    recent_likes = DECAY * state.recent_likes + likes
    recent_skips = DECAY * state.recent_skips + skips
    ad_push = traits.ad_sensitivity * np.log1p(recent_ads)
    # Listeners who enjoy the music (many likes per play) pay to get rid of the ads; the
    # others are driven away by them.
    enjoyment = np.clip(recent_likes / (recent_plays + 5.0) / LIKES_PER_PLAY_TYPICAL, 0.0, 2.0)
    purchase_logit = (
        PURCHASE_BASE
        + purchase_ads * ad_push * enjoyment
        + PURCHASE_LIKES * np.log1p(recent_likes)
        + PURCHASE_PLAYS * np.log1p(recent_plays)
        + PURCHASE_SKIP_LIMIT * _sigmoid((recent_skips - SKIP_FRUSTRATION) / 2.0)
        - PURCHASE_PRICE * traits.price_sensitivity * levers.premium_price / REFERENCE_PRICE
        + traits.purchase_shift
    )
    bought = active & ~state.premium & (rng(_PURCHASE).random(n) < _sigmoid(purchase_logit))
    premium = state.premium | bought
    churn_logit = (
        CHURN_BASE
        + CHURN_ADS * ad_push * (2.0 - enjoyment)
        - CHURN_PLAYS * np.log1p(recent_plays)
        - CHURN_LIKES * np.log1p(recent_likes)
        - CHURN_PREMIUM * premium
        + traits.churn_shift
    )
    churned = live & (rng(_CHURN).random(n) < _sigmoid(churn_logit))
    new_state = UserState(
        state.alive & ~churned, premium, recent_ads, recent_plays, recent_likes, recent_skips
    )
    activity = DayActivity(sessions, plays, skips, likes, ads, bought, churned)
    return new_state, activity


def run_days(
    traits: UserTraits,
    state: UserState,
    days: range,
    schedule: LeverSchedule,
    key: tuple[int, ...],
) -> Iterator[tuple[int, UserState, DayActivity]]:
    """Yield (day, state at the end of the day, activity) for each day in order."""
    for day in days:
        state, activity = step_day(
            traits,
            state,
            day,
            schedule.on(day),
            key,
            schedule.purchase_ads_on(day),
            schedule.ads_per_hour_on(day, traits.treated),
        )
        yield day, state, activity


def record_days(
    traits: UserTraits, n_days: int, schedule: LeverSchedule, key: tuple[int, ...]
) -> DailyCounts:
    """Run days 0..n_days-1 from signup and stack what happened into DailyCounts."""
    days = run_days(traits, initial_state(len(traits)), range(n_days), schedule, key)
    activity = [day_activity for _, _, day_activity in days]
    return DailyCounts(
        **{
            name: np.stack([getattr(day, name) for day in activity])
            for name in ("sessions", "plays", "skips", "likes", "ads", "bought")
        }
    )


def chunk_key(seed: int, chunk: int) -> tuple[int, ...]:
    """Stream key of the daily draws of one chunk in the recorded (observed) run."""
    return (seed, streams.DAY, chunk)


def _sigmoid(logit: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logit))
