"""Re-ingesting the same dataset changes nothing; a changed file replaces the dataset."""

from __future__ import annotations

import json

import duckdb

from events.ingest import ingest_dataset


def test_same_digest_is_not_reloaded(dataset, store, query, digest_of):
    path = dataset()
    first = ingest_dataset(path, store, progress=False)
    before = digest_of(store)
    second = ingest_dataset(path, store, progress=False)

    assert first.reloaded and not second.reloaded
    assert second.dataset_digest == first.dataset_digest
    assert second.ingest_id == first.ingest_id
    assert second.tables == first.tables
    assert "unchanged" in second.describe()
    assert digest_of(store) == before
    assert query(store, "SELECT count(*) FROM events") == [(2,)]
    assert query(store, "SELECT count(*) FROM ingests") == [(1,)]


def test_changed_file_replaces_the_dataset_and_keeps_the_ingest_history(dataset, store, query):
    ingest_dataset(dataset(), store, progress=False)
    events = "uid,ts,page,length\n3,2014-05-01,PLAY,1\n"
    changed = ingest_dataset(dataset(files={"events.csv": events}), store, progress=False)

    assert changed.reloaded
    assert query(store, "SELECT user_id FROM events") == [("3",)]
    history = query(store, "SELECT dataset_digest, files, counts FROM ingests ORDER BY started_at")
    assert len(history) == 2 and history[0][0] != history[1][0]
    files = json.loads(history[1][1])
    assert [(f["table"], f["path"], f["rows"]) for f in files] == [
        ("users", "users.csv", 3),
        ("events", "events.csv", 1),
    ]
    assert all(len(f["sha256"]) == 64 for f in files)
    assert json.loads(history[1][2])["events"] == {"read": 1, "accepted": 1, "quarantined": {}}


def test_a_store_an_older_usagecast_wrote_is_loaded_again(dataset, store, query):
    """Same digest, but the events table lacks a canonical column: reload, not "unchanged"."""
    path = dataset()
    ingest_dataset(path, store, progress=False)
    con = duckdb.connect(str(store))
    con.execute("ALTER TABLE events DROP COLUMN event_date")
    con.close()

    again = ingest_dataset(path, store, progress=False)

    assert again.reloaded
    assert query(store, "SELECT count(*) FROM events WHERE event_date IS NOT NULL") == [(2,)]
