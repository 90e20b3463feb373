"""Text columns holding JSON (a warehouse export's `properties` in a CSV or a Parquet string
column) are read by path as JSONL records are; a row whose column is not JSON is quarantined
with the column named (events/ingest/validate.py, raw_text and json_error_sql)."""

from __future__ import annotations

import json
from datetime import datetime
from io import BytesIO

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from events.ingest import ingest_dataset
from events.ingest.validate import raw_text

KEYS = st.sampled_from(["a", "b", "revenue", "plan tier", 'say "hi"', "it's"])
SCALARS = st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=5)
DOCUMENTS = st.recursive(
    SCALARS, lambda inner: st.dictionaries(KEYS, inner, max_size=3) | st.lists(inner, max_size=2)
)
RECORDS = st.lists(st.dictionaries(KEYS, DOCUMENTS, max_size=4), min_size=1, max_size=6)


# One in-memory DuckDB for the module (opening a database costs far more than these
# queries); each _column call replaces its one table.
CON = duckdb.connect()


def _column(values: list[str], sql: str) -> list:
    """`sql` over a table whose `json` (JSON) and `doc` (text) columns hold each value."""
    CON.execute("CREATE OR REPLACE TABLE t (n INTEGER, json JSON, doc VARCHAR)")
    CON.executemany("INSERT INTO t VALUES (?, ?, ?)", [(i, v, v) for i, v in enumerate(values)])
    return [value for (value,) in CON.execute(f"SELECT {sql} FROM t ORDER BY n").fetchall()]


@settings(max_examples=40, deadline=None)
@given(records=RECORDS, path=st.lists(KEYS, min_size=1, max_size=3), as_json=st.booleans())
def test_a_path_in_a_text_column_reads_what_the_same_path_reads_in_jsonl(records, path, as_json):
    texts = [json.dumps(record) for record in records]
    in_jsonl = raw_text("jsonl", ".".join(path), None, as_json)
    in_text = raw_text("csv", ".".join(["doc", *path]), None, as_json, json_text={"doc"})
    assert _column(texts, in_text) == _column(texts, in_jsonl)


EVENTS_CSV = (
    "uuid,event,properties,timestamp\n"
    'a1,pageview,"{""distinct_id"": ""u1"", ""$current_url"": ""/home""}",2024-03-05 10:00\n'
    'a2,purchase,"{""distinct_id"": ""u1"", ""revenue"": 9.99, ""plan"": {""tier"": ""pro""}}",'
    "2024-03-05 11:00\n"
    'a3,purchase,"{distinct_id: u2, revenue: 5}",2024-03-05 12:00\n'
    'a4,purchase,"{""revenue"": 3}",2024-03-05 13:00\n'
    "a5,purchase,,2024-03-05 14:00\n"
)
COLUMNS = {
    "user_id": "properties.distinct_id",
    "timestamp": "timestamp",
    "event_type": "event",
    "value": "properties.revenue",
    "area": "properties.plan.tier",
    "properties": "properties",
}


def _config(base_config, files: str) -> dict:
    config = base_config()
    config["events"][0] = {"files": files, "columns": COLUMNS}
    del config["rules"], config["users"]
    return config


def test_a_csvs_json_column_is_read_by_path_and_text_that_is_not_json_is_named(
    dataset, base_config, store, query
):
    path = dataset(files={"events.csv": EVENTS_CSV}, config=_config(base_config, "events.csv"))
    summary = ingest_dataset(path, store, progress=False, allow_partial=True)

    assert summary.tables["events"].read == 5
    assert query(store, "SELECT user_id, event_type, value, area FROM events ORDER BY 1, 2") == [
        ("u1", "pageview", None, None),
        ("u1", "purchase", 9.99, "pro"),
    ]
    assert query(store, "SELECT source_row, reason, detail FROM quarantine ORDER BY 1") == [
        (3, "unparseable_value", "properties is not JSON (fields are read from it by path)"),
        (4, "missing_required_field", "user_id is empty"),
        (5, "missing_required_field", "user_id is empty"),
    ]


def test_a_parquet_string_column_holding_json_is_read_by_path(dataset, base_config, store, query):
    table = pa.table(
        {
            "event": ["purchase", "purchase"],
            "timestamp": [datetime(2024, 3, 5, 10), datetime(2024, 3, 6, 10)],
            "properties": [
                json.dumps({"distinct_id": "u1", "revenue": 4.5}),
                json.dumps({"distinct_id": "u2", "plan": {"tier": "team"}}),
            ],
        }
    )
    sink = BytesIO()
    pq.write_table(table, sink)
    config = _config(base_config, "events.parquet")
    path = dataset(files={"events.parquet": sink.getvalue()}, config=config)
    ingest_dataset(path, store, progress=False)
    assert query(store, "SELECT user_id, value, area FROM events ORDER BY 1") == [
        ("u1", 4.5, None),
        ("u2", None, "team"),
    ]
