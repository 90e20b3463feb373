"""The canonical event store: table names and columns every other part reads.

`usagecast ingest` writes these tables into one DuckDB file (see
contracts.workspace.event_store_path); feature sets and analytics read them through an engine.
Column names are the contract:

events       event_id BIGINT, user_id VARCHAR, event_time TIMESTAMP, event_date DATE,
             event_type VARCHAR, session_id VARCHAR, item_id VARCHAR, value DOUBLE,
             area VARCHAR, properties VARCHAR (JSON text), source_file VARCHAR,
             source_row BIGINT; stored ordered by (user_id, event_time, event_id)
users        user_id VARCHAR, signup_time TIMESTAMP, then one column per declared attribute
             (from the users table, or, for a dataset without one, derived from the events)
user_attributes  name VARCHAR, kind VARCHAR ('static' | 'snapshot'), dtype VARCHAR
             ('categorical' | 'numeric' | 'timestamp')
items        item_id VARCHAR, one column per item attribute, valid_from TIMESTAMP and
             valid_to TIMESTAMP (optional table): a row per version of an item, valid in
             [valid_from, valid_to); NULL is open (a catalogue without versions has NULL in both)
item_attributes  name VARCHAR, kind VARCHAR ('static' | 'snapshot'; absent in stores written
             before item attributes had kinds: static), dtype VARCHAR ('categorical' | 'numeric')
quarantine   table_name, source_file, source_row, reason, detail, raw (JSON of the raw row)
ingests      ingest_id, started_at, finished_at, config_path, dataset_digest, files (JSON),
             counts (JSON), dataset (the config's name), granularity ('timestamp' | 'date':
             every event time at midnight, a date-only export); both NULL in older stores

Ids are always text: a file that stores them as integers and another as strings still join.
Timestamps are naive: wall-clock time in the dataset config's `timezone` (UTC by default),
so days follow the business's calendar. event_date is the calendar date of event_time, stored
so that date joins and filters read a column with statistics of its own (DuckDB's join planner
estimates `CAST(event_time AS DATE)` as if it had event_time's millions of distinct values).
Events are clustered by user and time: per-user work (every feature set, most analytics)
then reads each user's events together instead of from all over the table.

Each ingest also writes a Parquet copy of the accepted tables (events, users, items and the
two attribute tables; never the quarantine), one folder per dataset digest, for Spark: a
cluster's executors read those files in parallel. The folder is beside the store unless
USAGECAST_PARQUET_ROOT names another one (on a cluster: a shared filesystem mounted at the
same path on the driver and every executor).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb

EVENTS = "events"
USERS = "users"
USER_ATTRIBUTES = "user_attributes"
ITEMS = "items"
ITEM_ATTRIBUTES = "item_attributes"
# When an item's row (one of its versions) holds: [valid_from, valid_to), NULL open.
ITEM_VALIDITY_COLUMNS = ("valid_from", "valid_to")


def item_version_at(item: str, event_time: str) -> str:
    """SQL condition: the `item` row (an alias of `items`) is the version of its item valid
    at `event_time`, in [valid_from, valid_to) with NULL bounds open; every reader of items
    as of an event's time joins on it."""
    return (
        f"({item}.valid_from IS NULL OR {event_time} >= {item}.valid_from) "
        f"AND ({item}.valid_to IS NULL OR {event_time} < {item}.valid_to)"
    )


QUARANTINE = "quarantine"
INGESTS = "ingests"
# A randomized experiment's logged assignment: one event per user at exposure, the
# experiment's id in item_id and the user's arm in area (`usagecast ab analyze` reads them).
EXPERIMENT_ASSIGNED = "EXPERIMENT_ASSIGNED"

EVENT_COLUMNS: dict[str, str] = {
    "event_id": "BIGINT",
    "user_id": "VARCHAR",
    "event_time": "TIMESTAMP",
    "event_date": "DATE",
    "event_type": "VARCHAR",
    "session_id": "VARCHAR",
    "item_id": "VARCHAR",
    "value": "DOUBLE",
    "area": "VARCHAR",
    "properties": "VARCHAR",
    "source_file": "VARCHAR",
    "source_row": "BIGINT",
}

QUARANTINE_COLUMNS: dict[str, str] = {
    "table_name": "VARCHAR",
    "source_file": "VARCHAR",
    "source_row": "BIGINT",
    "reason": "VARCHAR",
    "detail": "VARCHAR",
    "raw": "VARCHAR",
}

INGEST_COLUMNS: dict[str, str] = {
    "ingest_id": "VARCHAR",
    "started_at": "TIMESTAMP",
    "finished_at": "TIMESTAMP",
    "config_path": "VARCHAR",
    "dataset_digest": "VARCHAR",
    "files": "VARCHAR",
    "counts": "VARCHAR",
    "dataset": "VARCHAR",
    "granularity": "VARCHAR",
}
GRANULARITIES = ("timestamp", "date")
# The tables of the Parquet copy (present ones only: items and item_attributes are optional).
PARQUET_TABLES = (EVENTS, USERS, USER_ATTRIBUTES, ITEMS, ITEM_ATTRIBUTES)
PARQUET_ROOT_ENV = "USAGECAST_PARQUET_ROOT"


class StoreMissingError(FileNotFoundError):
    """The event store has not been created yet (run `usagecast ingest` first)."""


def open_store(path: Path, *, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """Open the DuckDB event store; read-only unless the caller writes."""
    if read_only and not path.exists():
        raise StoreMissingError(
            f"{path}: no event store here yet; run `usagecast ingest DATASET.yaml` first"
        )
    return duckdb.connect(str(path), read_only=read_only)


def latest_dataset_digest(con: duckdb.DuckDBPyConnection) -> str:
    """Digest of the data the store holds now (from the newest ingest record)."""
    row = con.execute(
        f"SELECT dataset_digest FROM {INGESTS} ORDER BY finished_at DESC LIMIT 1"
    ).fetchone()
    if row is None:
        raise StoreMissingError("the event store has no ingest record; run `usagecast ingest`")
    return str(row[0])


def latest_ingest_value(con: duckdb.DuckDBPyConnection, column: str) -> str | None:
    """One column of the newest ingest record; None when absent (a store written before the
    column existed) or never recorded."""
    if not _has_column(con, INGESTS, column):
        return None
    row = con.execute(
        f'SELECT "{column}" FROM {INGESTS} ORDER BY finished_at DESC LIMIT 1'
    ).fetchone()
    return None if row is None or row[0] is None else str(row[0])


def _table_columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    """The column names of the store's `table` (a store written before a column lacks it)."""
    return {
        row[0]
        for row in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]
        ).fetchall()
    }


def _has_column(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    """Whether the store's `table` has `column` (a store written before it existed lacks it)."""
    return column in _table_columns(con, table)


def data_granularity(con: duckdb.DuckDBPyConnection) -> str:
    """'date' when the store's events carry no time of day, else 'timestamp' (also for stores
    that did not record it)."""
    return latest_ingest_value(con, "granularity") or "timestamp"


def store_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    """The names of the store's tables (the optional ones only when the dataset has them)."""
    return {
        row[0]
        for row in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    }


def attribute_catalog(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str, str]]:
    """Each attribute's (name, kind: static | snapshot, dtype) in the catalog `table`
    (USER_ATTRIBUTES or ITEM_ATTRIBUTES), by name; none without the table. Item attributes
    of a store written before they had kinds are static."""
    if table not in store_tables(con):
        return []
    kind = "kind" if _has_column(con, table, "kind") else "'static'"
    return con.execute(f"SELECT name, {kind}, dtype FROM {table} ORDER BY name").fetchall()


def check_event_columns(con: duckdb.DuckDBPyConnection) -> None:
    """Raise StoreMissingError when `events` lacks canonical columns (an older ingest's store)."""
    _check_columns(con, EVENTS, tuple(EVENT_COLUMNS))


def check_item_columns(con: duckdb.DuckDBPyConnection) -> None:
    """Raise StoreMissingError when `items` lacks its versions' validity (an older store)."""
    _check_columns(con, ITEMS, ITEM_VALIDITY_COLUMNS)


def _check_columns(con: duckdb.DuckDBPyConnection, table: str, names: tuple[str, ...]) -> None:
    present = _table_columns(con, table)
    missing = [name for name in names if name not in present]
    if missing:
        raise StoreMissingError(
            f"the event store's {table} table has no column {', '.join(missing)}: it was "
            "written by an older usagecast; run `usagecast ingest DATASET.yaml` again"
        )


def parquet_root(store_path: Path) -> Path:
    """Where the Parquet copies of a store live: USAGECAST_PARQUET_ROOT, else
    `<store folder>/<store name>_parquet` (absolute either way: executors need full paths)."""
    configured = os.environ.get(PARQUET_ROOT_ENV)
    root = Path(configured) if configured else store_path.with_name(f"{store_path.stem}_parquet")
    return root.resolve()


def parquet_copy_dir(store_path: Path, digest: str) -> Path:
    """The folder of one dataset digest's Parquet copy: `<root>/<digest[:16]>`."""
    return parquet_root(store_path) / digest[:16]


def write_parquet_copy(
    store_path: Path, *, replace: bool, memory_limit: str | None = None
) -> Path:
    """Write the Parquet copy of the store's latest dataset; return its folder.

    An existing copy of the same digest is kept unless `replace`. The copy is written into a
    scratch folder renamed into place, so a reader sees all tables or none. `memory_limit`
    (DuckDB's syntax) bounds the copy's memory, as the ingest bounds its own.
    """
    con = open_store(store_path)
    try:
        if memory_limit is not None:
            quoted = memory_limit.replace("'", "''")
            con.execute(f"SET memory_limit = '{quoted}'")
        target = parquet_copy_dir(store_path, latest_dataset_digest(con))
        if target.exists() and not replace:
            return target
        present = store_tables(con)
        scratch = target.with_name(f".{target.name}.{os.getpid()}.writing")
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True)
        try:
            for table in PARQUET_TABLES:
                if table in present:
                    path = str(scratch / f"{table}.parquet").replace("'", "''")
                    con.execute(f"COPY {table} TO '{path}' (FORMAT parquet)")
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
    finally:
        con.close()
    if target.exists():
        shutil.rmtree(target)
    os.replace(scratch, target)
    return target
