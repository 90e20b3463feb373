"""Who the users are and what they can listen to: latent traits, static attributes, catalog.

Latent traits (never written to disk; they drive behaviour in process.py):
- engagement: how often and how long a user listens (log-normal around a channel effect).
- taste_match: how well the catalog fits the user's taste, in (0, 1): fewer skips, more likes,
  more plays from their favourite genres.
- ad_sensitivity: how much each ad heard annoys the user (mean 1): scales the ads' push
  towards premium and towards churn.
- price_sensitivity: in (0, 1), higher for younger users and some channels: lowers the
  purchase hazard, in proportion to the price.
- ad_load: the user's ad-load multiplier (ad inventory of their market, frequency caps, an
  ad-supported tier): a free user hears ads_per_hour x ad_load ads per hour of listening.
  exp(spread * z - spread^2 / 2), z standard normal, spread = config.ad_load_spread (mean 1),
  drawn once from its own stream (no other draw moves); exactly 1 with spread 0. Never written.
- treated: in the treatment arm of the config's randomized experiment (config.LeverExperiment),
  drawn independently of everything else with probability `share`; never written as an
  attribute (the export logs it as an assignment event, writer.py).
Static attributes (written, known at signup): signup time, city, channel, age, two favourite
genres, organisation, team and inviter (orgs.py draws who belongs with whom).

Organisations, teams and invitations act through the traits (effect sizes below):
- engagement = channel effect * exp(log-noise), log-noise ~ N(0, ENGAGEMENT_SD) for every
  user. A member's log-noise is ORG_ENGAGEMENT * organisation latent + TEAM_ENGAGEMENT * team
  latent + a personal part whose sd makes up the rest, so the spread of engagement over all
  users is the same with or without organisations; members of one organisation (more so of
  one team) are alike. An invitee's personal part is INHERITANCE * the inviter's personal
  part (standardised; the inviter's own before any inheritance) + sqrt(1 - INHERITANCE^2) *
  their own.
- purchase_shift: ORG_PURCHASE * organisation latent - ORG_PURCHASE^2 / 2 added to a
  member's daily purchase logit (process.py), and churn_shift: -ORG_RETENTION * organisation
  latent - ORG_RETENTION^2 / 2 added to their daily churn logit: members of an organisation
  that uses the product buy more and stay longer. An invitee's churn logit also gets
  -INVITER_RETENTION * the inviter's personal part (standardised) - INVITER_RETENTION^2 / 2:
  users brought in by an engaged user stay longer. The squared terms keep the average hazard
  about the same. Each is 0 without an organisation / an inviter.
So the latents are a real cause of the members' activity and purchases, and what an
organisation's members or an inviter did before a cutoff tells something about a user that
their own first days do not (an organisation's latent is shared, not observed: its members'
activity is evidence of it).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from simulator import orgs, streams
from simulator.config import (
    CHANNEL_ENGAGEMENT,
    CHANNEL_PRICE_SHIFT,
    CHANNEL_SHARES,
    CITY_SHARES,
    DRIFTED_CHANNEL_SHARES,
    GENRES,
    SimulationConfig,
)

SIGNUP_SHARE_OF_PERIOD = 0.8  # users sign up during the first 80% of the period
ENGAGEMENT_SD = 0.45  # sd of log engagement around the channel effect
ORG_ENGAGEMENT = 0.25  # sd of the organisation's part of a member's log engagement
TEAM_ENGAGEMENT = 0.1  # sd of the team's part
INHERITANCE = 0.5  # weight of the inviter's personal engagement in the invitee's
ORG_PURCHASE = 0.4  # organisation latent -> purchase logit
ORG_RETENTION = 0.5  # organisation latent -> minus churn logit
INVITER_RETENTION = 0.3  # inviter's personal engagement (standardised) -> minus churn logit


@dataclass(frozen=True)
class UserTraits:
    """Per-user arrays (one entry per user of a chunk, or per replica in Monte Carlo)."""

    user_id: np.ndarray  # int64, 1-based, global
    signup_day: np.ndarray  # int64 day index
    signup_second: np.ndarray  # int64 seconds after midnight (00:00-06:00)
    channel: np.ndarray  # int index into CHANNELS
    city: np.ndarray  # int index into CITIES
    age: np.ndarray  # int64
    genre_a: np.ndarray  # favourite genre indices
    genre_b: np.ndarray
    org: np.ndarray  # int64 organisation index within the chunk, orgs.NONE without one
    team: np.ndarray  # int64 team number within the organisation, orgs.NONE without one
    inviter: np.ndarray  # int64 global user id of the inviter, 0 for an organic signup
    engagement: np.ndarray
    taste_match: np.ndarray
    ad_sensitivity: np.ndarray
    price_sensitivity: np.ndarray
    purchase_shift: np.ndarray  # added to the daily purchase logit (the organisation's pull)
    churn_shift: np.ndarray  # added to the daily churn logit
    treated: np.ndarray  # bool: in the treatment arm of the config's experiment
    ad_load: np.ndarray  # float: multiplier of the ads per hour this user hears (mean 1)

    def take(self, index: np.ndarray) -> UserTraits:
        """The traits of the users at `index` (repeats allowed: Monte Carlo replicas)."""
        return UserTraits(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def __len__(self) -> int:
        return len(self.user_id)


@dataclass(frozen=True)
class Catalog:
    """Artists and tracks. Tracks are grouped by genre so a genre's tracks are contiguous."""

    artist_name: np.ndarray  # str
    artist_genre: np.ndarray  # int
    track_artist: np.ndarray  # int index into artists
    track_genre: np.ndarray  # int, non-decreasing
    popularity: np.ndarray  # float in (0, 100]
    duration_s: np.ndarray  # int64 seconds
    explicit: np.ndarray  # bool
    danceability: np.ndarray  # float in [0, 1]
    energy: np.ndarray
    valence: np.ndarray
    tempo: np.ndarray  # beats per minute
    genre_cumulative: np.ndarray  # genre + within-genre cumulative popularity share, for draws


def chunk_bounds(config: SimulationConfig, chunk: int) -> tuple[int, int]:
    """[first, last) global user index of one chunk."""
    first = chunk * config.chunk_size
    return first, min(first + config.chunk_size, config.n_users)


def draw_user_traits(config: SimulationConfig, chunk: int) -> UserTraits:
    """The users of one chunk, drawn from the chunk's own stream.

    Under a channel_mix drift, users signing up from its date take their channel from the
    chunk's drift stream instead (DRIFTED_CHANNEL_SHARES); the channel's effects on
    engagement, price sensitivity and plan (tables.purchases_frame) follow, every other draw
    is the same.
    """
    first, last = chunk_bounds(config, chunk)
    n = last - first
    rng = streams.stream(config.seed, streams.TRAITS, chunk)
    signup_window = max(1, int(config.n_days * SIGNUP_SHARE_OF_PERIOD))
    channel = rng.choice(len(CHANNEL_SHARES), size=n, p=np.array(CHANNEL_SHARES))
    city = rng.choice(len(CITY_SHARES), size=n, p=np.array(CITY_SHARES) / sum(CITY_SHARES))
    age = np.clip(np.rint(rng.normal(31.0, 9.0, n)), 16, 70).astype(np.int64)
    genre_a = rng.integers(0, len(GENRES), n)
    genre_b = (genre_a + rng.integers(1, len(GENRES), n)) % len(GENRES)
    engagement_noise = rng.normal(0.0, ENGAGEMENT_SD, n)
    taste_match = rng.beta(4.0, 2.5, n)
    ad_sensitivity = rng.gamma(20.0, 1.0 / 20.0, n)
    price_noise = rng.normal(0.0, 0.35, n)
    signup_day = rng.integers(0, signup_window, n)
    signup_second = rng.integers(0, 6 * 3600, n)
    drift_day = config.drift_day("channel_mix")
    if drift_day is not None:
        drifted = streams.stream(config.seed, streams.DRIFT, chunk).choice(
            len(DRIFTED_CHANNEL_SHARES), size=n, p=np.array(DRIFTED_CHANNEL_SHARES)
        )
        channel = np.where(signup_day >= drift_day, drifted, channel)
    price_logit = price_noise + 0.06 * (30.0 - age) + np.array(CHANNEL_PRICE_SHIFT)[channel]
    groups = orgs.draw_memberships(config, chunk, signup_day * 86_400 + signup_second)
    personal = engagement_noise / ENGAGEMENT_SD  # standard normal
    invited = groups.inviter != orgs.NONE
    inviters = np.where(invited, personal[np.maximum(groups.inviter, 0)], 0.0)
    return UserTraits(
        user_id=np.arange(first + 1, last + 1, dtype=np.int64),
        signup_day=signup_day,
        signup_second=signup_second,
        channel=channel,
        city=city,
        age=age,
        genre_a=genre_a,
        genre_b=genre_b,
        org=groups.org,
        team=groups.team_number,
        inviter=np.where(groups.inviter == orgs.NONE, 0, first + 1 + groups.inviter),
        engagement=np.exp(_log_engagement(personal, inviters, groups))
        * np.array(CHANNEL_ENGAGEMENT)[channel],
        taste_match=taste_match,
        ad_sensitivity=ad_sensitivity,
        price_sensitivity=1.0 / (1.0 + np.exp(-price_logit)),
        purchase_shift=_shift(groups.org_latent, groups.org != orgs.NONE, ORG_PURCHASE),
        churn_shift=_shift(groups.org_latent, groups.org != orgs.NONE, -ORG_RETENTION)
        + _shift(inviters, invited, -INVITER_RETENTION),
        treated=_experiment_arm(config, chunk, n),
        ad_load=_ad_load(config, chunk, n),
    )


def _experiment_arm(config: SimulationConfig, chunk: int, n: int) -> np.ndarray:
    """Treatment arm membership (seeded, its own stream: no other draw moves)."""
    if config.experiment is None:
        return np.zeros(n, bool)
    return (
        streams.stream(config.seed, streams.EXPERIMENT, chunk).random(n) < config.experiment.share
    )


def _ad_load(config: SimulationConfig, chunk: int, n: int) -> np.ndarray:
    """Per-user ad-load multiplier, log-normal with mean 1 (seeded, its own stream: no other
    draw moves); exactly 1 for everyone with spread 0."""
    spread = config.ad_load_spread
    if spread == 0.0:
        return np.ones(n)
    z = streams.stream(config.seed, streams.AD_LOAD, chunk).standard_normal(n)
    return np.exp(spread * z - spread**2 / 2.0)


def _shift(latent: np.ndarray, present: np.ndarray, effect: float) -> np.ndarray:
    """A logit shift `effect` * latent (standard normal), centred (- effect^2 / 2) so the
    average hazard stays about the same; 0 where the latent is not `present`."""
    return np.where(present, effect * latent - effect**2 / 2, 0.0)


def _log_engagement(
    personal: np.ndarray, inviters: np.ndarray, groups: orgs.Memberships
) -> np.ndarray:
    """Log engagement around the channel effect: organisation, team and personal parts, the
    personal one partly inherited from the inviter (see the module docstring)."""
    invited = groups.inviter != orgs.NONE
    inherited = INHERITANCE * inviters + np.sqrt(1.0 - INHERITANCE**2) * personal
    personal = np.where(invited, inherited, personal)
    shared_variance = np.where(groups.org != orgs.NONE, ORG_ENGAGEMENT**2, 0.0) + np.where(
        groups.team != orgs.NONE, TEAM_ENGAGEMENT**2, 0.0
    )
    personal_sd = np.sqrt(ENGAGEMENT_SD**2 - shared_variance)
    return (
        personal_sd * personal
        + ORG_ENGAGEMENT * groups.org_latent
        + TEAM_ENGAGEMENT * groups.team_latent
    )


def draw_catalog(config: SimulationConfig) -> Catalog:
    """Artists and tracks with Zipf-like popularity and a few audio attributes."""
    rng = streams.stream(config.seed, streams.CATALOG)
    n_genres = len(GENRES)
    artist_genre = rng.integers(0, n_genres, config.n_artists)
    # Every genre gets at least one track; the rest are spread by the artists' genres.
    extra_artist = rng.integers(0, config.n_artists, config.n_tracks - n_genres)
    track_genre_unsorted = np.concatenate([np.arange(n_genres), artist_genre[extra_artist]])
    order = np.argsort(track_genre_unsorted, kind="stable")
    track_genre = track_genre_unsorted[order]
    track_artist = _artists_for_tracks(rng, artist_genre, track_genre)
    popularity = 1.0 + 99.0 * rng.beta(0.6, 3.0, config.n_tracks)  # few hits, a long tail
    return Catalog(
        artist_name=_artist_names(rng, config.n_artists),
        artist_genre=artist_genre,
        track_artist=track_artist,
        track_genre=track_genre,
        popularity=np.round(popularity, 1),
        duration_s=rng.integers(120, 400, config.n_tracks),
        explicit=rng.random(config.n_tracks) < 0.2,
        danceability=np.round(rng.beta(5, 3, config.n_tracks), 3),
        energy=np.round(rng.beta(4, 3, config.n_tracks), 3),
        valence=np.round(rng.beta(3, 3, config.n_tracks), 3),
        tempo=np.round(rng.normal(118, 22, config.n_tracks).clip(50, 220), 1),
        genre_cumulative=_genre_cumulative(track_genre, popularity),
    )


def _artists_for_tracks(
    rng: np.random.Generator, artist_genre: np.ndarray, track_genre: np.ndarray
) -> np.ndarray:
    """An artist of the track's genre (any artist when the genre has none)."""
    by_genre = np.argsort(artist_genre, kind="stable")
    starts = np.searchsorted(artist_genre[by_genre], track_genre, side="left")
    stops = np.searchsorted(artist_genre[by_genre], track_genre, side="right")
    counts = stops - starts
    pick = starts + (rng.random(len(track_genre)) * np.maximum(counts, 1)).astype(np.int64)
    anyone = rng.integers(0, len(artist_genre), len(track_genre))
    return np.where(counts > 0, by_genre[np.minimum(pick, len(by_genre) - 1)], anyone)


def _genre_cumulative(track_genre: np.ndarray, popularity: np.ndarray) -> np.ndarray:
    """genre index + cumulative popularity share within the genre (monotone overall).

    Drawing a track of genre g is then searchsorted(genre_cumulative, g + u), u in [0, 1).
    """
    totals = np.bincount(track_genre, weights=popularity)
    cumulative = np.cumsum(popularity)
    genre_start_total = np.concatenate([[0.0], np.cumsum(totals)[:-1]])[track_genre]
    return track_genre + (cumulative - genre_start_total) / totals[track_genre]


def _artist_names(rng: np.random.Generator, n_artists: int) -> np.ndarray:
    """Plausible band names, some non-ASCII, unique by a numeric suffix."""
    first = np.array(["The", "Los", "Die", "Les", "Club", "Café", "Nova", "Søren", "Ana", "DJ"])
    second = np.array(
        ["Owls", "Mäntylä", "Lights", "Corazón", "Waves", "Echoes", "Brûlée", "Static", "Kids"]
    )
    names = np.char.add(
        np.char.add(first[rng.integers(0, len(first), n_artists)], " "),
        second[rng.integers(0, len(second), n_artists)],
    )
    return np.char.add(np.char.add(names, " "), np.arange(1, n_artists + 1).astype(str))
