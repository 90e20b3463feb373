"""Fixtures over tiny_datasets: datasets (files + dataset.yaml) written in code, the store read."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# --import-mode=importlib does not put test folders on sys.path; messy_exports and tiny_datasets
# are unique names.
sys.path.insert(0, str(Path(__file__).parent))

from tiny_datasets import EVENTS_CSV, USERS_CSV, file_digest, make_config, rows, write_dataset


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
