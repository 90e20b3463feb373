"""What a simulation is: its size, seed, calendar, the platform levers it runs under and the
drift planted from a date.

The dataclasses are frozen: a config names one reproducible dataset, and an intervention is a
new `Levers` value passed next to the same config (same seed), never a mutation.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from contracts.errors import UsagecastError
from events.store import EXPERIMENT_ASSIGNED

CHANNELS: tuple[str, ...] = ("facebook", "twitter", "reddit", "pinterest")
CHANNEL_SHARES: tuple[float, ...] = (0.40, 0.20, 0.25, 0.15)
# Channel effects on the latent traits (same order as CHANNELS): reddit users listen most,
# pinterest users are the most price sensitive.
CHANNEL_ENGAGEMENT: tuple[float, ...] = (0.95, 1.0, 1.2, 0.85)
CHANNEL_PRICE_SHIFT: tuple[float, ...] = (0.0, -0.2, 0.3, 0.5)
# The plan a channel's campaigns sell: a purchase is worth premium_price x this factor (a
# discounted plan on pinterest, the standard one on facebook, duo and family plans on reddit
# and twitter). Behaviour does not depend on it, only the value written: the channels bring
# users of about the same purchase rate but of different value per user, so "LTV by channel"
# has an answer that the noise of a demo-size cohort does not hide.
CHANNEL_PLAN_VALUE: tuple[float, ...] = (1.0, 2.0, 1.5, 0.5)
# Channel mix of the users signing up from a `channel_mix` drift date on: facebook's share is
# halved, pinterest's doubled, reddit takes the rest (so more price-sensitive, more engaged
# users arrive).
DRIFTED_CHANNEL_SHARES: tuple[float, ...] = (0.20, 0.20, 0.30, 0.30)

# Latin-1 encodable on purpose (the users file is written in latin-1), some non-ASCII.
CITIES: tuple[str, ...] = (
    "London",
    "Berlin",
    "Zürich",
    "São Paulo",
    "Malmö",
    "Montréal",
    "Bogotá",
    "Reykjavík",
    "Köln",
    "New York",
    "Paris",
    "Madrid",
)
CITY_SHARES: tuple[float, ...] = (
    0.16,
    0.12,
    0.05,
    0.10,
    0.04,
    0.06,
    0.05,
    0.02,
    0.05,
    0.15,
    0.11,
    0.09,
)
GENRES: tuple[str, ...] = (
    "pop",
    "rock",
    "hip-hop",
    "electronic",
    "jazz",
    "classical",
    "latin",
    "indie",
    "metal",
    "folk",
)
# Where in the app an event happens: listening areas for sessions, `settings` for account work.
LISTENING_AREAS: tuple[str, ...] = ("home", "search", "playlist", "radio", "browse")
LISTENING_AREA_SHARES: tuple[float, ...] = (0.30, 0.15, 0.30, 0.15, 0.10)
SETTINGS_AREA = "settings"

EVENT_TYPES: tuple[str, ...] = ("PLAY", "SKIP", "LIKE", "ADVERTISEMENT", "BUY_PREMIUM", "LOGIN")
# How the app's raw export spells PLAY, renamed on ingest; `Help` page views are dropped on
# purpose by the dataset config (they are not product behaviour we model).
RAW_PLAY_NAME = "NextSong"
DROPPED_EVENT_NAME = "Help"


@dataclass(frozen=True)
class Levers:
    """Platform decisions the product team controls; each has a documented causal effect.

    ads_per_hour: mean ads a free user hears per hour of listening. More ads raise the premium
        purchase hazard of free users (the annoyance they pay to escape) and also raise the
        churn hazard of free users. Over a 30-day horizon the purchase effect dominates: more
        ads -> more purchases (and more churn). Premium users hear no ads.
    premium_price: monthly price of premium; higher prices lower the purchase hazard, more so
        for price-sensitive users. A BUY_PREMIUM event's value is this price times the
        buyer's channel's plan factor (CHANNEL_PLAN_VALUE).
    """

    ads_per_hour: float = 4.0
    premium_price: float = 9.99

    def __post_init__(self) -> None:
        if not 0.0 <= self.ads_per_hour <= 60.0:
            raise UsagecastError(
                f"levers.ads_per_hour must be in [0, 60], got {self.ads_per_hour}"
            )
        if not 0.0 < self.premium_price <= 1000.0:
            raise UsagecastError(
                f"levers.premium_price must be in (0, 1000], got {self.premium_price}"
            )


DRIFT_KINDS: tuple[str, ...] = ("channel_mix", "lever_effect", "tracking_bug")
DEFAULT_LOST_EVENT_TYPE = "LIKE"


@dataclass(frozen=True)
class Drift:
    """A change planted from `from_date` (midnight) to the end of the simulated period.

    channel_mix: users signing up from the date come from DRIFTED_CHANNEL_SHARES.
    lever_effect: a product change turns the ad lever's effect on premium purchases around
        (process.DRIFTED_PURCHASE_ADS replaces PURCHASE_ADS); the truth follows it.
    tracking_bug: `event_type` events (LIKE by default) are no longer recorded; behaviour is
        unchanged, only the export lacks them.
    """

    kind: str
    from_date: dt.date
    event_type: str | None = None  # tracking_bug only

    def __post_init__(self) -> None:
        if self.kind not in DRIFT_KINDS:
            raise UsagecastError(
                f"drift: unknown kind {self.kind!r}; allowed: {', '.join(DRIFT_KINDS)}"
            )
        if self.kind != "tracking_bug":
            if self.event_type is not None:
                raise UsagecastError(
                    f"drift {self.kind}: event_type applies to tracking_bug only, "
                    f"got {self.event_type!r}"
                )
            return
        if self.event_type is None:
            object.__setattr__(self, "event_type", DEFAULT_LOST_EVENT_TYPE)
        if self.event_type not in EVENT_TYPES:
            raise UsagecastError(
                f"drift tracking_bug: unknown event_type {self.event_type!r}; "
                f"allowed: {', '.join(EVENT_TYPES)}"
            )


# Largest sigma of the per-user ad-load multiplier: at 2 the middle 90% of users already span
# a factor of about 700 in ads per hour.
MAX_AD_LOAD_SPREAD = 2.0

EXPERIMENT_LEVERS: tuple[str, ...] = ("ads",)
EXPERIMENT_EVENT = EXPERIMENT_ASSIGNED
EXPERIMENT_ARMS: tuple[str, str] = ("control", "treatment")


@dataclass(frozen=True)
class LeverExperiment:
    """A randomized lever experiment: a seeded random `share` of all users (the treatment
    arm) hear ads_per_hour x `ads` from `from_date` (midnight) on; the others (control) keep
    the config's levers. `--experiment "ads=0.5,share=0.5,from=2024-06-01"` on the CLI.
    """

    ads: float
    share: float
    from_date: dt.date

    def __post_init__(self) -> None:
        if not 0.0 <= self.ads <= 15.0:
            raise UsagecastError(f"experiment: ads must be a factor in [0, 15], got {self.ads}")
        if not 0.0 < self.share < 1.0:
            raise UsagecastError(f"experiment: share must be in (0, 1), got {self.share}")

    @property
    def name(self) -> str:
        """The experiment's id in the export (the item_id of its assignment events)."""
        return f"ads_x{self.ads:g}"

    @classmethod
    def parse(cls, text: str) -> LeverExperiment:
        """'ads=0.5,share=0.5,from=2024-06-01' -> LeverExperiment (every key required)."""
        keys = {"ads", "share", "from"}
        try:
            pairs = dict(part.split("=", 1) for part in text.replace(" ", "").split(","))
        except ValueError:
            pairs = {}
        if set(pairs) != keys:
            raise UsagecastError(
                f"experiment {text!r}: write ads=FACTOR,share=S,from=YYYY-MM-DD "
                "(e.g. ads=0.5,share=0.5,from=2024-06-01); the lever is ads (ads per hour x "
                "FACTOR for the treatment arm)"
            )
        try:
            return cls(
                float(pairs["ads"]), float(pairs["share"]), dt.date.fromisoformat(pairs["from"])
            )
        except ValueError as error:
            raise UsagecastError(f"experiment {text!r}: {error}") from None


@dataclass(frozen=True)
class SimulationConfig:
    """One reproducible simulated dataset: same config -> same bytes on disk.

    chunk_size is part of the dataset's identity (each chunk of users draws from its own
    random streams keyed by (seed, chunk index)); it is fixed so the output never depends on
    how much memory the machine has.

    ad_load_spread: how unevenly the product serves ads (ad inventory by market, frequency
    caps, ad-supported tiers): each user hears ads_per_hour x their own ad-load multiplier,
    log-normal with mean 1 and this sigma (traits.py). 0: everyone hears the same rate.
    """

    n_users: int = 3000
    seed: int = 0
    months: int = 6
    start_date: dt.date = dt.date(2024, 1, 1)
    fault_rate: float = 0.0
    chunk_size: int = 5000
    n_tracks: int = 4000
    n_artists: int = 600
    levers: Levers = field(default_factory=Levers)
    drift: tuple[Drift, ...] = ()
    experiment: LeverExperiment | None = None
    ad_load_spread: float = 0.0

    def __post_init__(self) -> None:
        checks = {
            "n_users": self.n_users >= 1,
            "seed": self.seed >= 0,
            "months": 1 <= self.months <= 60,
            "fault_rate": 0.0 <= self.fault_rate <= 0.5,
            "chunk_size": self.chunk_size >= 1,
            "n_tracks": self.n_tracks >= len(GENRES),
            "n_artists": 1 <= self.n_artists <= self.n_tracks,
            "ad_load_spread": 0.0 <= self.ad_load_spread <= MAX_AD_LOAD_SPREAD,
        }
        rules = {
            "n_users": ">= 1",
            "seed": ">= 0",
            "months": "in [1, 60]",
            "fault_rate": "in [0, 0.5]",
            "chunk_size": ">= 1",
            "n_tracks": f">= {len(GENRES)} (one per genre)",
            "n_artists": "in [1, n_tracks]",
            "ad_load_spread": f"in [0, {MAX_AD_LOAD_SPREAD:g}]",
        }
        for name, ok in checks.items():
            if not ok:
                raise UsagecastError(
                    f"simulation config: {name} must be {rules[name]}, got {getattr(self, name)!r}"
                )
        kinds = [drift.kind for drift in self.drift]
        if len(set(kinds)) != len(kinds):
            raise UsagecastError(f"simulation config: drift kinds must be distinct, got {kinds}")
        for drift in self.drift:
            if not self.start_date < drift.from_date < self.end_date:
                raise UsagecastError(
                    f"simulation config: drift {drift.kind} from {drift.from_date} must fall "
                    f"inside the simulated period ({self.start_date} < date < {self.end_date})"
                )
        if self.experiment is not None:
            if not self.start_date < self.experiment.from_date < self.end_date:
                raise UsagecastError(
                    f"simulation config: experiment from {self.experiment.from_date} must fall "
                    f"inside the simulated period ({self.start_date} < date < {self.end_date})"
                )
            Levers(self.treated_ads_per_hour, self.levers.premium_price)

    @property
    def treated_ads_per_hour(self) -> float:
        """Ads per hour of the experiment's treatment arm (the levers' without one)."""
        factor = 1.0 if self.experiment is None else self.experiment.ads
        return self.levers.ads_per_hour * factor

    def experiment_day(self) -> int | None:
        """Day index from which the experiment runs, or None without one."""
        if self.experiment is None:
            return None
        return (self.experiment.from_date - self.start_date).days

    def drift_of(self, kind: str) -> Drift | None:
        """The planted drift of `kind`, or None."""
        return next((drift for drift in self.drift if drift.kind == kind), None)

    def drift_day(self, kind: str) -> int | None:
        """Day index from which drift `kind` is planted, or None when it is not."""
        drift = self.drift_of(kind)
        return None if drift is None else (drift.from_date - self.start_date).days

    @property
    def end_date(self) -> dt.date:
        """First day after the simulated period (start + months, calendar months)."""
        month_index = self.start_date.month - 1 + self.months
        year = self.start_date.year + month_index // 12
        month = month_index % 12 + 1
        return self.start_date.replace(year=year, month=month, day=1) + dt.timedelta(
            days=self.start_date.day - 1
        )

    @property
    def n_days(self) -> int:
        """Number of simulated days."""
        return (self.end_date - self.start_date).days

    @property
    def n_chunks(self) -> int:
        """Number of user chunks the simulation streams through."""
        return -(-self.n_users // self.chunk_size)
