"""Helpers that write tiny datasets (files + dataset.yaml) in code and read the store back."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

# --import-mode=importlib does not put test folders on sys.path; messy_exports is a unique name.
sys.path.insert(0, str(Path(__file__).parent))

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


def rows(store: Path, sql: str) -> list[tuple]:
    """Run one query against the store read-only."""
    con = duckdb.connect(str(store), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def base_config():
    """Factory for a valid config dict (see make_config)."""
    return make_config


@pytest.fixture
def query():
    """query(store, sql) -> rows."""
    return rows


@pytest.fixture
def digest_of():
    """sha256 of a file's bytes (to prove a store did not change)."""
    return file_digest


@pytest.fixture
def store(tmp_path) -> Path:
    return tmp_path / "store" / "events.duckdb"


@pytest.fixture
def dataset(tmp_path):
    """Factory: dataset(files=..., config=...) writes a dataset under tmp_path/data."""

    def make(files: dict[str, str | bytes] | None = None, config: dict | None = None) -> Path:
        content = {"users.csv": USERS_CSV, "events.csv": EVENTS_CSV}
        content.update(files or {})
        return write_dataset(tmp_path / "data", content, config or make_config())

    return make
