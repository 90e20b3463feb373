"""The Parquet copy an ingest writes for Spark: the accepted rows of each table, per digest."""

from __future__ import annotations

import shutil

import duckdb

from events.ingest import ingest_dataset
from events.store import PARQUET_ROOT_ENV, parquet_copy_dir

# One event of three is quarantined (an event type the rules do not allow).
EVENTS_WITH_A_REJECT = (
    "uid,ts,page,length\n1,2014-04-22 03:53,PLAY,10\n2,2014-04-23,SKIP,3.5\n3,2014-04-24,DANCE,1\n"
)


def _parquet(folder, table: str, sql: str = "SELECT * FROM t ORDER BY ALL") -> list[tuple]:
    path = str(folder / f"{table}.parquet")
    return duckdb.sql(sql.replace("FROM t", f"FROM read_parquet('{path}')")).fetchall()


def _store(store, sql: str) -> list[tuple]:
    con = duckdb.connect(str(store), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_ingest_writes_the_accepted_rows_of_every_table_beside_the_store(dataset, store):
    summary = ingest_dataset(dataset({"events.csv": EVENTS_WITH_A_REJECT}), store, progress=False)
    folder = parquet_copy_dir(store, summary.dataset_digest)
    assert folder == store.parent / "events_parquet" / summary.dataset_digest[:16]
    assert sorted(p.name for p in folder.iterdir()) == [
        "events.parquet",
        "user_attributes.parquet",
        "users.parquet",
    ]
    counts = summary.tables["events"]
    assert (counts.read, counts.accepted, counts.quarantined_total) == (3, 2, 1)
    for table in ("events", "users", "user_attributes"):
        assert _parquet(folder, table) == _store(store, f"SELECT * FROM {table} ORDER BY ALL")


def test_an_unchanged_ingest_writes_a_missing_copy_and_keeps_an_existing_one(dataset, store):
    config = dataset()
    digest = ingest_dataset(config, store, progress=False).dataset_digest
    folder = parquet_copy_dir(store, digest)
    written = (folder / "events.parquet").stat().st_mtime_ns
    assert not ingest_dataset(config, store, progress=False).reloaded
    assert (folder / "events.parquet").stat().st_mtime_ns == written
    shutil.rmtree(folder)
    assert not ingest_dataset(config, store, progress=False).reloaded
    assert _parquet(folder, "events", "SELECT count(*) FROM t") == [(2,)]


def test_the_copy_goes_where_usagecast_parquet_root_says(dataset, store, tmp_path, monkeypatch):
    monkeypatch.setenv(PARQUET_ROOT_ENV, str(tmp_path / "shared"))
    digest = ingest_dataset(dataset(), store, progress=False).dataset_digest
    assert (tmp_path / "shared" / digest[:16] / "events.parquet").is_file()
    assert not (store.parent / "events_parquet").exists()
