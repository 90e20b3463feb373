"""The ingest runs within a memory limit (USAGECAST_INGEST_MEMORY) and says so when it cannot."""

from __future__ import annotations

import pytest

from events.ingest import ingest_dataset
from events.ingest.load import MEMORY_ENV, IngestMemoryError


def test_a_memory_size_duckdb_cannot_read_is_a_clear_error(dataset, store, monkeypatch):
    monkeypatch.setenv(MEMORY_ENV, "lots")
    with pytest.raises(IngestMemoryError, match=f"{MEMORY_ENV}='lots' is not a memory size"):
        ingest_dataset(dataset(), store, progress=False)
    assert not store.exists()


def test_a_small_limit_gives_the_same_store(dataset, store, query, monkeypatch, tmp_path):
    config = dataset()
    ingest_dataset(config, store, progress=False)
    monkeypatch.setenv(MEMORY_ENV, "64MB")
    small = tmp_path / "small" / "events.duckdb"
    ingest_dataset(config, small, progress=False)
    for table in ("events", "users", "quarantine"):
        assert query(small, f"SELECT * FROM {table}") == query(store, f"SELECT * FROM {table}")


def test_running_out_of_memory_is_one_clear_error(dataset, store, monkeypatch):
    monkeypatch.setenv(MEMORY_ENV, "100KB")
    with pytest.raises(IngestMemoryError, match=f"set {MEMORY_ENV} higher"):
        ingest_dataset(dataset(), store, progress=False)
    assert not store.exists()
