"""Tiny hand-built event stores: the canonical tables written straight into DuckDB."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from events.store import EVENT_COLUMNS, INGEST_COLUMNS, write_parquet_copy
from features.engines.duckdb import DuckDBEngine
from features.engines.spark import SparkEngine

DAY0 = datetime(2024, 1, 1)


def write_store(
    path: Path,
    users: Sequence[tuple],
    events: Sequence[tuple],
    attributes: Sequence[str] = ("channel",),
    items: Sequence[tuple] = (),
) -> Path:
    """Create events/users/user_attributes/ingests in a DuckDB file, and its Parquet copy
    (as an ingest does); with `items`, items and item_attributes too.

    users: (user_id, signup_time, *attribute values); events: (user_id, event_time,
    event_type, area, value[, item_id]); items: (item_id, genre, valid_from, valid_to).
    """
    con = duckdb.connect(str(path))
    try:
        columns = ", ".join(f"{name} {dtype}" for name, dtype in EVENT_COLUMNS.items())
        con.execute(f"CREATE TABLE events ({columns})")
        frame = pd.DataFrame(
            [(*row, None)[:6] for row in events],
            columns=["user_id", "event_time", "event_type", "area", "value", "item_id"],
        )
        frame.insert(0, "event_id", range(len(frame)))
        con.register("new_events", frame)
        con.execute(
            "INSERT INTO events (event_id, user_id, event_time, event_date, event_type, area, "
            "value, item_id) SELECT event_id, user_id, CAST(event_time AS TIMESTAMP), "
            "CAST(CAST(event_time AS TIMESTAMP) AS DATE), event_type, area, "
            "CAST(value AS DOUBLE), CAST(item_id AS VARCHAR) FROM new_events"
        )
        if items:
            con.execute(
                "CREATE TABLE items (item_id VARCHAR, genre VARCHAR, valid_from TIMESTAMP, "
                "valid_to TIMESTAMP)"
            )
            con.executemany("INSERT INTO items VALUES (?, ?, ?, ?)", [list(row) for row in items])
            con.execute("CREATE TABLE item_attributes (name VARCHAR, kind VARCHAR, dtype VARCHAR)")
            con.execute("INSERT INTO item_attributes VALUES ('genre', 'static', 'categorical')")
        attribute_sql = "".join(f", {name} VARCHAR" for name in attributes)
        con.execute(f"CREATE TABLE users (user_id VARCHAR, signup_time TIMESTAMP{attribute_sql})")
        if users:
            marks = ", ".join("?" for _ in range(2 + len(attributes)))
            con.executemany(f"INSERT INTO users VALUES ({marks})", [list(row) for row in users])
        con.execute("CREATE TABLE user_attributes (name VARCHAR, kind VARCHAR, dtype VARCHAR)")
        for name in attributes:
            con.execute("INSERT INTO user_attributes VALUES (?, 'static', 'categorical')", [name])
        ingest_sql = ", ".join(f"{name} {dtype}" for name, dtype in INGEST_COLUMNS.items())
        con.execute(f"CREATE TABLE ingests ({ingest_sql})")
        con.execute(
            "INSERT INTO ingests (ingest_id, finished_at, dataset_digest) "
            "VALUES ('test', TIMESTAMP '2024-01-01', ?)",
            [f"digest-{path.stem}-{len(events)}-{len(users)}"],
        )
    finally:
        con.close()
    write_parquet_copy(path, replace=True)
    return path


@pytest.fixture
def tiny_store(tmp_path) -> Callable[..., DuckDBEngine]:
    """Build a store from rows and return a DuckDB engine on it (closed after the test)."""
    engines: list[DuckDBEngine] = []

    def build(
        users, events, attributes=("channel",), name="events.duckdb", items=()
    ) -> DuckDBEngine:
        engine = DuckDBEngine(write_store(tmp_path / name, users, events, attributes, items))
        engines.append(engine)
        return engine

    yield build
    for engine in engines:
        engine.close()


@pytest.fixture
def duck_and_spark(tiny_store, tmp_path, spark_session) -> Callable[..., tuple]:
    """Build the same store twice and return (a DuckDB engine, a Spark engine) on it, the
    Spark one closed after the test (it reads events.duckdb's Parquet copy while the DuckDB
    engine holds duck.duckdb)."""
    engines: list[SparkEngine] = []

    def build(users, events) -> tuple[DuckDBEngine, SparkEngine]:
        tiny_store(users, events)
        duck = tiny_store(users, events, name="duck.duckdb")
        engines.append(SparkEngine(tmp_path / "events.duckdb"))
        return duck, engines[-1]

    yield build
    for engine in engines:
        engine.close()


# The dataset config of an events-only export, events.csv (Account ID, Date, Event).
EVENTS_CSV_CONFIG = """name: saas
events:
  files: events.csv
  columns: {user_id: Account ID, timestamp: Date, event_type: Event}
"""


def ingest_export(folder: Path, files: dict[str, str], config: str) -> None:
    """Write an export's files (name: text, UTF-8) and its dataset.yaml into `folder` and
    ingest them through the CLI, as a user would."""
    from usagecast_cli.main import main

    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "dataset.yaml").write_text(config, encoding="utf-8")
    assert main(["ingest", str(folder / "dataset.yaml")]) == 0


def at(day: float, hour: int = 0) -> datetime:
    """DAY0 + day days + hour hours (events in hand-built logs)."""
    return DAY0 + pd.Timedelta(days=day, hours=hour)
