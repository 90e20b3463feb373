"""Shape a chunk's simulated rows into the export's tables (pure; writer.py writes them).

Event-like tables are Arrow tables of text columns (as they appear in the files), so faults
can put anything into any cell; users and the catalog are small and go through pandas.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from simulator.config import (
    CHANNEL_PLAN_VALUE,
    CHANNELS,
    CITIES,
    DROPPED_EVENT_NAME,
    EXPERIMENT_ARMS,
    GENRES,
    LISTENING_AREAS,
    RAW_PLAY_NAME,
    SETTINGS_AREA,
)
from simulator.events import NO_VALUE, ChunkLog
from simulator.layout import (
    EVENT_COLUMNS,
    EXPERIMENT_COLUMNS,
    LOGIN_COLUMNS,
    PURCHASE_COLUMNS,
    SENTINEL_ID,
    SIGNUP_FORMAT,
    USER_ATTRIBUTES,
    USER_COLUMNS,
)
from simulator.orgs import NONE
from simulator.traits import Catalog, UserTraits

# Raw names by events.PLAY, SKIP, LIKE, ADVERTISEMENT, HELP codes.
RAW_EVENT_NAMES = (RAW_PLAY_NAME, "SKIP", "LIKE", "ADVERTISEMENT", DROPPED_EVENT_NAME)
AREA_NAMES = (SETTINGS_AREA, *LISTENING_AREAS)  # events.area code + 1


def track_ids(n_tracks: int) -> np.ndarray:
    """Text ids of the catalog's tracks (the items), e.g. TR000042."""
    return np.char.add("TR", np.char.zfill(np.arange(n_tracks).astype(str), 6))


def events_table(log: ChunkLog, n_tracks: int) -> pa.Table:
    """The main events file's rows, every column as text (nulls for absent values)."""
    rows = log.events
    track_index = pa.array(rows.track, mask=rows.track == NO_VALUE)
    columns = {
        "user_id": pc.cast(pa.array(rows.user_id), pa.string()),
        "timestamp": _iso_times(rows.time),
        "event_type": pa.array(RAW_EVENT_NAMES).take(pa.array(rows.kind)),
        "session_id": pc.cast(pa.array(rows.session_id), pa.string()),
        "item_id": pa.array(track_ids(n_tracks)).take(track_index),
        "value": pc.cast(pa.array(rows.value, mask=rows.value == NO_VALUE), pa.string()),
        "area": pa.array(AREA_NAMES).take(pa.array(rows.area.astype(np.int64) + 1)),
    }
    return pa.table({EVENT_COLUMNS[name]: column for name, column in columns.items()})


def logins_table(log: ChunkLog) -> pa.Table:
    """One login per session: user id and time only."""
    return pa.table(
        {
            LOGIN_COLUMNS["user_id"]: pa.array(log.login_user),
            LOGIN_COLUMNS["timestamp"]: pc.replace_substring(_iso_times(log.login_time), " ", "T"),
        }
    )


def experiment_frame(
    log: ChunkLog, traits: UserTraits, experiment: str, from_epoch: int
) -> pd.DataFrame:
    """One assignment row per user at their first login from from_epoch on (users never
    active after the start are never exposed, as in a product that assigns on arrival)."""
    after = log.login_time >= from_epoch
    order = np.lexsort((log.login_time[after], log.login_user[after]))
    user, time = log.login_user[after][order], log.login_time[after][order]
    users, first = np.unique(user, return_index=True)
    arm = traits.treated[np.searchsorted(traits.user_id, users)]
    columns = {
        "user_id": users.astype(str),
        "timestamp": _iso_times(time[first]).to_pylist(),
        "item_id": np.full(len(users), experiment),
        "area": np.array(EXPERIMENT_ARMS)[arm.astype(np.int64)],
    }
    return pd.DataFrame({EXPERIMENT_COLUMNS[name]: values for name, values in columns.items()})


def purchases_frame(log: ChunkLog, traits: UserTraits, price: float) -> pd.DataFrame:
    """BUY_PREMIUM rows with epoch-second times and user ids as text (JSON strings); the
    value is `price` times the buyer's channel's plan factor, rounded to cents."""
    n = len(log.purchase_user)
    channel = traits.channel[np.searchsorted(traits.user_id, log.purchase_user)]
    columns = {
        "user_id": log.purchase_user.astype(str),
        "timestamp": log.purchase_time,
        "event_type": np.full(n, "BUY_PREMIUM"),
        "session_id": log.purchase_session,
        "value": np.round(price * np.array(CHANNEL_PLAN_VALUE)[channel], 2),
        "area": np.full(n, SETTINGS_AREA),
    }
    return pd.DataFrame({PURCHASE_COLUMNS[name]: values for name, values in columns.items()})


def users_frame(traits: UserTraits, log: ChunkLog, start_epoch: int, chunk: int) -> pd.DataFrame:
    """Users with day-first signup times, static attributes and two snapshot attributes.

    last login and plan are read at export time (end of the period): they know the future of
    any earlier cutoff, which is why the dataset config declares them `snapshot`.
    Organisation and team ids name the chunk (organisations never span chunks); organisation,
    team and inviter are blank where there is none.
    """
    position = np.searchsorted(traits.user_id, log.login_user)
    last_login = np.full(len(traits), -1, np.int64)
    np.maximum.at(last_login, position, log.login_time)
    premium = np.isin(traits.user_id, log.purchase_user)
    signup = start_epoch + traits.signup_day * 86_400 + traits.signup_second
    genres = np.char.add(
        np.char.add(np.array(GENRES)[traits.genre_a], "|"), np.array(GENRES)[traits.genre_b]
    )
    attributes = {
        "city": np.array(CITIES)[traits.city],
        "channel": np.array(CHANNELS)[traits.channel],
        "age": traits.age,
        "favourite_genres": genres,
        **_memberships(traits, chunk),
        "last_login": _optional_iso_times(last_login),
        "plan": np.where(premium, "premium", "free"),
    }
    frame = pd.DataFrame(
        {
            USER_COLUMNS["user_id"]: traits.user_id.astype(str),
            USER_COLUMNS["signup_time"]: _format_times(signup, SIGNUP_FORMAT).to_pylist(),
        }
    )
    for name, values in attributes.items():
        frame[USER_ATTRIBUTES[name]["column"]] = values
    return frame


def _memberships(traits: UserTraits, chunk: int) -> dict[str, np.ndarray]:
    """org_id, team_id and invited_by as text, blank where there is none."""
    org = np.char.add(f"org-{chunk}-", traits.org.astype(str))
    team = np.char.add(np.char.add(org, "-team-"), traits.team.astype(str))
    return {
        "org_id": np.where(traits.org == NONE, "", org),
        "team_id": np.where(traits.team == NONE, "", team),
        "invited_by": np.where(traits.inviter == 0, "", traits.inviter.astype(str)),
    }


def faulty_user_rows(users: pd.DataFrame, rows: dict[str, np.ndarray]) -> pd.DataFrame:
    """Copies of user rows: with no id (missing_required_field) or exact (duplicate_user)."""
    id_column = USER_COLUMNS["user_id"]
    missing = users.iloc[rows["missing_required_field"]].assign(**{id_column: ""})
    duplicates = users.iloc[rows["duplicate_user"]]
    return pd.concat([missing, duplicates])


def sentinel_user_row(users: pd.DataFrame) -> pd.DataFrame:
    """A user row whose id is the sentinel -1 (sentinel_id)."""
    return users.iloc[:1].assign(**{USER_COLUMNS["user_id"]: SENTINEL_ID})


def catalog_frames(catalog: Catalog) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(tracks, artists) tables of the catalog."""
    n_artists = len(catalog.artist_name)
    artist_ids = np.char.add("AR", np.char.zfill(np.arange(n_artists).astype(str), 5))
    tracks = pd.DataFrame(
        {
            "track_id": track_ids(len(catalog.track_genre)),
            "artist_id": artist_ids[catalog.track_artist],
            "genre": np.array(GENRES)[catalog.track_genre],
            "popularity": np.round(catalog.popularity, 1),
            "duration_s": catalog.duration_s,
            "explicit": catalog.explicit.astype(np.int64),
            "danceability": catalog.danceability,
            "energy": catalog.energy,
            "valence": catalog.valence,
            "tempo": catalog.tempo,
        }
    )
    artists = pd.DataFrame(
        {
            "artist_id": artist_ids,
            "name": catalog.artist_name,
            "genre": np.array(GENRES)[catalog.artist_genre],
        }
    )
    return tracks, artists


def _iso_times(epoch_seconds: np.ndarray) -> pa.Array:
    """Times as EVENT_TIME_FORMAT text; Arrow's cast writes exactly that, without a
    per-value strftime."""
    return pc.cast(pa.array(epoch_seconds.astype("datetime64[s]")), pa.string())


def _format_times(epoch_seconds: np.ndarray, fmt: str) -> pa.Array:
    return pc.strftime(pa.array(epoch_seconds.astype("datetime64[s]")), format=fmt)


def _optional_iso_times(epoch_seconds: np.ndarray) -> np.ndarray:
    """ISO times, empty text where the value is -1 (never happened)."""
    text = _iso_times(np.maximum(epoch_seconds, 0)).to_numpy(zero_copy_only=False)
    return np.where(epoch_seconds < 0, "", text)
