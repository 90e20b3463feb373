"""The ingest records whether event times carry a time of day (granularity)."""

from __future__ import annotations

import pytest

from events.ingest import ingest_dataset
from events.quality import load_latest_report, show_latest_report
from events.store import data_granularity, open_store


@pytest.mark.parametrize(
    ("events", "granularity"),
    [
        ("uid,ts,page\n1,2014-04-22,PLAY\n2,2014-04-23 00:00:00,SKIP\n", "date"),
        ("uid,ts,page\n1,2014-04-22,PLAY\n2,2014-04-23 12:00,SKIP\n", "timestamp"),
    ],
)
def test_granularity_is_recorded_and_reported(dataset, store, base_config, events, granularity):
    config = base_config()
    del config["events"][0]["columns"]["value"]
    ingest_dataset(dataset({"events.csv": events}, config), store, progress=False)
    con = open_store(store)
    try:
        assert data_granularity(con) == granularity
    finally:
        con.close()
    assert load_latest_report()["granularity"] == granularity
    assert f"event time granularity: {granularity}" in show_latest_report()


def test_a_store_without_a_recorded_granularity_reads_as_timestamp(dataset, store, query):
    ingest_dataset(dataset(), store, progress=False)
    con = open_store(store, read_only=False)
    try:
        con.execute("ALTER TABLE ingests DROP COLUMN granularity")
        assert data_granularity(con) == "timestamp"
    finally:
        con.close()
    # Such an older store is loaded again (not reported unchanged), and then records it.
    assert ingest_dataset(dataset(), store, progress=False).reloaded
    assert query(store, "SELECT granularity FROM ingests ORDER BY finished_at") == [
        (None,),
        ("timestamp",),
    ]
