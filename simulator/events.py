"""Turn a chunk's daily counts into timestamped event rows (pure, vectorised, no Python loop
per event).

The counts (process.py) decide behaviour; this module only dresses them up as an app's log:
sessions laid out one after another during the day, tracks drawn from the catalog (favourite
genres more often for users whose taste matches), ads before random tracks, likes right after
the liked play, an occasional Help page view, a login at the start of each session and the
purchase at the end of the day it happens. Within a user, event timestamps are strictly
increasing, so the clean data holds no duplicate events.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.config import GENRES, LISTENING_AREA_SHARES
from simulator.process import MAX_TRACKS, DailyCounts
from simulator.traits import Catalog, UserTraits

# Event kind codes of EventRows.kind.
PLAY, SKIP, LIKE, ADVERTISEMENT, HELP = range(5)
NO_VALUE = -1  # marks "no value" / "no item" in integer columns

AD_SECONDS = 30
LIKE_SECONDS = 1
HELP_SECONDS = 20
HELP_PER_SESSION = 0.03
DAY_SECONDS = 86_400
EARLIEST_SESSION = 6 * 3600  # after every signup time (signups happen before 06:00)
LATEST_FIRST_SESSION = 14 * 3600


@dataclass(frozen=True)
class EventRows:
    """Events of the main events file (PLAY, SKIP, LIKE, ADVERTISEMENT, Help)."""

    user_id: np.ndarray  # int64
    time: np.ndarray  # int64 epoch seconds
    kind: np.ndarray  # int8 code
    session_id: np.ndarray  # int64
    track: np.ndarray  # int64 catalog index or NO_VALUE
    value: np.ndarray  # int64 seconds played or NO_VALUE
    area: np.ndarray  # int8 index into LISTENING_AREAS, or -1 for settings


@dataclass(frozen=True)
class ChunkLog:
    """Everything a chunk writes: events, one login per session, purchases."""

    events: EventRows
    login_user: np.ndarray
    login_time: np.ndarray
    purchase_user: np.ndarray
    purchase_time: np.ndarray
    purchase_session: np.ndarray


def session_ids(user_id: np.ndarray, day: np.ndarray, number: np.ndarray) -> np.ndarray:
    """Globally unique session id from (user, day, session number of the day)."""
    return user_id * 100_000 + day * 8 + number


def expand_chunk(
    counts: DailyCounts,
    traits: UserTraits,
    catalog: Catalog,
    start_epoch: int,
    rng: np.random.Generator,
) -> ChunkLog:
    """Lay out every active (day, user) cell's counts as timestamped rows."""
    day, user = np.nonzero(counts.sessions)
    sessions = counts.sessions[day, user]
    plays, skips = counts.plays[day, user], counts.skips[day, user]
    tracks = plays + skips
    helps = rng.binomial(sessions, HELP_PER_SESSION)
    cell_of_session = np.repeat(np.arange(len(day)), sessions)
    session_area = rng.choice(
        len(LISTENING_AREA_SHARES), size=len(cell_of_session), p=np.array(LISTENING_AREA_SHARES)
    )
    first_session = np.cumsum(sessions) - sessions

    # Tracks: which are skipped and which plays are liked is a random pick within the cell.
    cell_of_track = np.repeat(np.arange(len(day)), tracks)
    slot = _rank_within(cell_of_track)
    is_skip = _random_rank_within(cell_of_track, rng.random(len(slot))) < skips[cell_of_track]
    like_key = np.where(is_skip, 2.0, rng.random(len(slot)))
    is_liked = ~is_skip & (
        _random_rank_within(cell_of_track, like_key) < counts.likes[day, user][cell_of_track]
    )
    track_session = slot * sessions[cell_of_track] // tracks[cell_of_track]
    item = _draw_tracks(catalog, traits, user[cell_of_track], rng)
    full_play = rng.random(len(slot)) < 0.8
    played = np.where(
        full_play,
        catalog.duration_s[item],
        (catalog.duration_s[item] * rng.uniform(0.3, 1.0, len(slot))).astype(np.int64),
    )
    seconds = np.where(is_skip, rng.integers(3, 30, len(slot)), played)

    # Ads before a random track of the cell, Help after one.
    cell_of_ad = np.repeat(np.arange(len(day)), counts.ads[day, user])
    ad_slot = (rng.random(len(cell_of_ad)) * tracks[cell_of_ad]).astype(np.int64)
    cell_of_help = np.repeat(np.arange(len(day)), helps)
    help_slot = (rng.random(len(cell_of_help)) * tracks[cell_of_help]).astype(np.int64)
    liked = np.flatnonzero(is_liked)
    track_start = np.cumsum(tracks) - tracks

    def session_at(cell: np.ndarray, at_slot: np.ndarray) -> np.ndarray:
        return track_session[track_start[cell] + at_slot]

    parts = [  # (cell, slot, order within slot, kind, session number, item, value, duration)
        (cell_of_ad, ad_slot, 0, ADVERTISEMENT, session_at(cell_of_ad, ad_slot), None, None),
        (cell_of_track, slot, 1, np.where(is_skip, SKIP, PLAY), track_session, item, seconds),
        (cell_of_track[liked], slot[liked], 2, LIKE, track_session[liked], item[liked], None),
        (cell_of_help, help_slot, 3, HELP, session_at(cell_of_help, help_slot), None, None),
    ]
    cell = np.concatenate([p[0] for p in parts])
    # Sort by (cell, slot, order within slot) through one int64 key (slot < MAX_TRACKS).
    sort_key = (cell * (MAX_TRACKS + 1) + np.concatenate([p[1] for p in parts])) * 4
    sort_key += np.concatenate([np.full(len(p[0]), p[2]) for p in parts])
    order = np.argsort(sort_key, kind="stable")
    cell = cell[order]
    kind = np.concatenate([np.broadcast_to(p[3], len(p[0])) for p in parts])[order]
    number = np.concatenate([p[4] for p in parts])[order]
    item_all = np.concatenate([_or_none(p[5], len(p[0])) for p in parts])[order]
    value = np.concatenate([_or_none(p[6], len(p[0])) for p in parts])[order]
    duration = np.select(
        [kind == ADVERTISEMENT, kind == LIKE, kind == HELP],
        [AD_SECONDS, LIKE_SECONDS, HELP_SECONDS],
    )
    duration = np.where((kind == PLAY) | (kind == SKIP), value, duration)

    # Time offsets inside the day: durations back to back, a gap before each new session.
    new_session = np.ones(len(cell), bool)
    new_session[1:] = (cell[1:] != cell[:-1]) | (number[1:] != number[:-1])
    first_of_cell = np.ones(len(cell), bool)
    first_of_cell[1:] = cell[1:] != cell[:-1]
    gap = np.where(new_session & ~first_of_cell, rng.integers(1200, 10_800, len(cell)), 0)
    step = duration + gap
    cumulative = np.cumsum(step)
    cell_base = np.repeat(
        np.concatenate([[0], cumulative])[np.flatnonzero(first_of_cell)],
        np.diff(np.append(np.flatnonzero(first_of_cell), len(cell))),
    )
    offset = cumulative - step + gap - cell_base  # 0 for the first event of each cell
    last_of_cell = np.flatnonzero(np.append(cell[1:] != cell[:-1], True))[: len(day)]
    events_in_cell = np.bincount(cell, minlength=len(day))
    bought = counts.bought[day, user]
    purchase_pause = np.where(bought, rng.integers(5, 120, len(day)), 0)
    end = offset[last_of_cell] + duration[last_of_cell] + purchase_pause
    # A day too long for the hours left is compressed; adding the rank keeps times strictly
    # increasing after flooring.
    room = DAY_SECONDS - 1 - EARLIEST_SESSION
    factor = np.minimum(1.0, (room - events_in_cell - 1) / np.maximum(end, 1))
    squeezed = factor < 1.0
    offset = np.where(
        squeezed[cell], (offset * factor[cell]).astype(np.int64) + _rank_within(cell), offset
    )
    end = np.where(squeezed, (end * factor).astype(np.int64) + events_in_cell + 1, end)
    first_start = np.minimum(
        rng.integers(EARLIEST_SESSION, LATEST_FIRST_SESSION, len(day)), DAY_SECONDS - 1 - end
    )
    day_start = start_epoch + day * DAY_SECONDS + first_start
    time = day_start[cell] + offset

    user_of_event = traits.user_id[user][cell]
    events = EventRows(
        user_id=user_of_event,
        time=time,
        kind=kind.astype(np.int8),
        session_id=session_ids(user_of_event, day[cell], number),
        track=item_all,
        value=np.where((kind == PLAY) | (kind == SKIP), value, NO_VALUE),
        area=np.where(kind == HELP, -1, session_area[first_session[cell] + number]).astype(
            np.int8
        ),
    )
    login_cells = cell[new_session]
    paying = np.flatnonzero(bought)
    return ChunkLog(
        events=events,
        login_user=traits.user_id[user][login_cells],
        login_time=time[new_session],
        purchase_user=traits.user_id[user][paying],
        purchase_time=day_start[paying] + end[paying],
        purchase_session=session_ids(
            traits.user_id[user][paying], day[paying], sessions[paying] - 1
        ),
    )


def _draw_tracks(
    catalog: Catalog, traits: UserTraits, user: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """A track per play: a favourite genre more often when taste matches, by popularity."""
    favourite = rng.random(len(user)) < 0.35 + 0.5 * traits.taste_match[user]
    first_choice = rng.random(len(user)) < 0.6
    genre = np.where(
        favourite,
        np.where(first_choice, traits.genre_a[user], traits.genre_b[user]),
        rng.integers(0, len(GENRES), len(user)),
    )
    position = np.searchsorted(catalog.genre_cumulative, genre + rng.random(len(user)), "right")
    return np.minimum(position, len(catalog.genre_cumulative) - 1).astype(np.int64)


def _rank_within(group: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within runs of equal values of a sorted group array."""
    if len(group) == 0:
        return np.zeros(0, np.int64)
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    lengths = np.diff(np.append(starts, len(group)))
    return np.arange(len(group)) - np.repeat(starts, lengths)


def _random_rank_within(group: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Rank of each element's key (in [0, 2]) within its group (group sorted, integer).

    One argsort of group * 4 + key instead of a two-key lexsort: same order, less work.
    """
    order = np.argsort(group * 4.0 + key)
    rank = np.empty(len(group), np.int64)
    rank[order] = _rank_within(group[order])
    return rank


def _or_none(values: np.ndarray | None, n: int) -> np.ndarray:
    return np.full(n, NO_VALUE, np.int64) if values is None else values.astype(np.int64)
