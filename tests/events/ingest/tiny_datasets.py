"""Tiny datasets (files + dataset.yaml) written in code, and the store read back: the ingest
tests' helpers (conftest.py makes fixtures of them; a unique module name to import by)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import yaml

USERS_CSV = (
    "id,registration,city\n1,2014-01-02,Paris\n2,2014-01-03 10:00,Oslo\n3,2014-01-04,Rome\n"
)
EVENTS_CSV = "uid,ts,page,length\n1,2014-04-22 03:53,PLAY,10\n2,2014-04-23,SKIP,3.5\n"


def make_config(**overrides) -> dict:
    """A valid config over users.csv and events.csv; keyword arguments replace sections."""
    config = {
        "name": "tiny",
        "events": [
            {
                "files": "events.csv",
                "columns": {
                    "user_id": "uid",
                    "timestamp": "ts",
                    "event_type": "page",
                    "value": "length",
                },
            }
        ],
        "users": {
            "files": "users.csv",
            "columns": {"user_id": "id", "signup_time": "registration"},
            "attributes": {"city": {"column": "city", "kind": "static", "dtype": "categorical"}},
        },
        "rules": {
            "event_types": {
                "allowed": ["PLAY", "SKIP", "LOGIN"],
                "rename": {"NextSong": "PLAY"},
                "drop": ["Help"],
            },
            "sentinel_ids": ["-1"],
            "timestamp_range": {"min": "2010-01-01", "max": "2030-01-01"},
            "value_range": {"min": 0, "max": 1000},
        },
    }
    config.update(overrides)
    return config


def write_dataset(folder: Path, files: dict[str, str | bytes], config: dict) -> Path:
    """Write the data files and dataset.yaml into folder; return the YAML path."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    config_path = folder / "dataset.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return config_path


# Reads stores by attaching them to one in-memory DuckDB: opening a database costs far more
# than attaching a file to an open one.
READER = duckdb.connect()


def rows(store: Path, sql: str) -> list[tuple]:
    """Run one query against the store read-only."""
    path = str(store).replace("'", "''")
    READER.execute(f"ATTACH '{path}' AS store (READ_ONLY)")
    try:
        READER.execute("USE store")
        return READER.execute(sql).fetchall()
    finally:
        READER.execute("USE memory")
        READER.execute("DETACH store")


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
