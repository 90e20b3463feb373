"""How the simulated export looks on disk: file names, column names, formats, dataset.yaml.

The files imitate real exports on purpose, to exercise every ingest feature:
- events/part-NNNNN.csv (UTF-8): the app log, ISO timestamps (with faults, some day-first),
  PLAY spelled `NextSong` (renamed on ingest), `Help` page views (dropped on purpose);
- purchases.jsonl: BUY_PREMIUM with epoch-second timestamps and user ids as JSON strings;
- logins.csv: only user id + time, the event type is the constant LOGIN;
- users.csv (latin-1): day-first signup dates, static attributes (organisation, team and
  inviter blank where there is none) and two snapshot ones read at export time (last login,
  plan) that would leak the future if used as features;
- tracks.csv / artists.csv: the catalog (tracks are the items).
"""

from __future__ import annotations

import datetime as dt

from simulator.config import (
    DROPPED_EVENT_NAME,
    EVENT_TYPES,
    EXPERIMENT_EVENT,
    RAW_PLAY_NAME,
    SimulationConfig,
)

EVENTS_GLOB = "events/*.csv"
PURCHASES_FILE = "purchases.jsonl"
LOGINS_FILE = "logins.csv"
USERS_FILE = "users.csv"
EXPERIMENT_FILE = "experiment_assignments.csv"  # written only when an experiment runs
TRACKS_FILE = "tracks.csv"
ARTISTS_FILE = "artists.csv"
DATASET_FILE = "dataset.yaml"
FAULTS_FILE = "faults.json"
SIMULATION_FILE = "simulation.json"  # the SimulationConfig, to find the ground truth again
USERS_ENCODING = "latin-1"

EVENT_COLUMNS = {
    "user_id": "userId",
    "timestamp": "ts",
    "event_type": "event",
    "session_id": "sessionId",
    "item_id": "trackId",
    "value": "seconds",
    "area": "area",
}
PURCHASE_COLUMNS = {
    "user_id": "uid",
    "timestamp": "ts",
    "event_type": "kind",
    "session_id": "session",
    "value": "price",
    "area": "area",
}
LOGIN_COLUMNS = {"user_id": "uid", "timestamp": "login_at"}
# An experiment platform's export: one row per user at exposure (their first session from
# the experiment's start), the experiment's id as the item and the arm as the area.
EXPERIMENT_COLUMNS = {
    "user_id": "user",
    "timestamp": "exposed_at",
    "item_id": "experiment",
    "area": "arm",
}
USER_COLUMNS = {"user_id": "id", "signup_time": "registration"}
USER_ATTRIBUTES = {
    "city": {"column": "location", "kind": "static", "dtype": "categorical"},
    "channel": {"column": "channel", "kind": "static", "dtype": "categorical"},
    "age": {"column": "age", "kind": "static", "dtype": "numeric"},
    "favourite_genres": {"column": "genres", "kind": "static", "dtype": "categorical"},
    "org_id": {"column": "organisation", "kind": "static", "dtype": "categorical"},
    "team_id": {"column": "team", "kind": "static", "dtype": "categorical"},
    "invited_by": {"column": "invitedBy", "kind": "static", "dtype": "user_id"},
    "last_login": {"column": "lastLogin", "kind": "snapshot", "dtype": "timestamp"},
    "plan": {"column": "plan", "kind": "snapshot", "dtype": "categorical"},
}
TRACK_ATTRIBUTES = {
    "artist_id": "categorical",
    "genre": "categorical",
    "popularity": "numeric",
    "duration_s": "numeric",
    "explicit": "numeric",
    "danceability": "numeric",
    "energy": "numeric",
    "valence": "numeric",
    "tempo": "numeric",
}

EVENT_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"  # parsed by `iso`
DAY_FIRST_EVENT_FORMAT = "%d-%m-%Y %H:%M:%S"  # the second declared format of the events file
SIGNUP_FORMAT = "%d-%m-%Y %H:%M"
VALUE_RANGE = (0, 100_000)
SENTINEL_ID = "-1"


def timestamp_range(config: SimulationConfig) -> tuple[dt.date, dt.date]:
    """Declared valid timestamp range: the simulated period (max is exclusive in spirit)."""
    return config.start_date, config.end_date + dt.timedelta(days=1)


def dataset_config(config: SimulationConfig, name: str) -> dict:
    """The dataset.yaml content (docs/reference/data.md schema) matching the written files."""
    low, high = timestamp_range(config)
    return {
        "name": name,
        "events": [
            {
                "files": EVENTS_GLOB,
                "format": "csv",
                "encoding": "utf-8",
                "columns": dict(EVENT_COLUMNS),
                "timestamp_formats": ["iso", DAY_FIRST_EVENT_FORMAT],
            },
            {
                "files": PURCHASES_FILE,
                "format": "jsonl",
                "columns": dict(PURCHASE_COLUMNS),
                "timestamp_formats": ["epoch_s"],
            },
            {
                "files": LOGINS_FILE,
                "format": "csv",
                "event_type": "LOGIN",
                "columns": dict(LOGIN_COLUMNS),
                "timestamp_formats": ["iso"],
            },
            *_experiment_source(config),
        ],
        "users": {
            "files": USERS_FILE,
            "format": "csv",
            "encoding": USERS_ENCODING,
            "columns": dict(USER_COLUMNS),
            "timestamp_formats": [SIGNUP_FORMAT, "iso"],
            "attributes": {name: dict(spec) for name, spec in USER_ATTRIBUTES.items()},
        },
        "items": {
            "files": TRACKS_FILE,
            "format": "csv",
            "columns": {"item_id": "track_id"},
            "attributes": {
                name: {"column": name, "dtype": dtype} for name, dtype in TRACK_ATTRIBUTES.items()
            },
        },
        "rules": {
            "event_types": {
                "allowed": [*EVENT_TYPES, *([EXPERIMENT_EVENT] if config.experiment else [])],
                "rename": {RAW_PLAY_NAME: "PLAY"},
                "drop": [DROPPED_EVENT_NAME],
            },
            "sentinel_ids": [SENTINEL_ID],
            "timestamp_range": {"min": low.isoformat(), "max": high.isoformat()},
            "value_range": {"min": VALUE_RANGE[0], "max": VALUE_RANGE[1]},
        },
    }


def _experiment_source(config: SimulationConfig) -> list[dict]:
    """The assignment events' source, when the config runs an experiment."""
    if config.experiment is None:
        return []
    return [
        {
            "files": EXPERIMENT_FILE,
            "format": "csv",
            "event_type": EXPERIMENT_EVENT,
            "columns": dict(EXPERIMENT_COLUMNS),
            "timestamp_formats": ["iso"],
        }
    ]
