"""JSONL columns mapped by a dotted path into nested objects (Segment, Mixpanel exports)."""

from __future__ import annotations

import json
from datetime import datetime

import duckdb
import pytest

from events.ingest import ConfigError, SourceFileError, ingest_dataset
from events.ingest.validate import jsonl_keys, raw_text

# A Segment-like export: ISO times with milliseconds and Z, a numeric userId, an event without
# properties, revenue as text with a decimal comma and as an object, and a top-level key that
# holds a dot ("context.ip") beside a nested `context.ip` that must not be read.
SEGMENT = [
    {
        "userId": "u1",
        "event": "Order Completed",
        "timestamp": "2024-03-05T10:00:00.123Z",
        "context.ip": "10.0.0.1",
        "context": {"ip": "nested", "traits": {"plan": "pro"}},
        "properties": {"revenue": 12.5, "currency": "EUR", "product": {"sku": "SKU-1"}},
    },
    {"userId": 42, "event": "Page Viewed", "timestamp": "2024-03-05T10:01:00.000Z"},
    {
        "userId": "u1",
        "event": "Order Completed",
        "timestamp": "2024-03-05T10:02:00.500Z",
        "properties": {"revenue": "12,50", "product": {"sku": "SKU-2"}},
    },
    {
        "userId": "u2",
        "event": "Order Completed",
        "timestamp": "2024-03-05T10:03:00.000Z",
        "context": {"traits": {"plan": "free"}},
        "properties": {"revenue": {"amount": 3}},
    },
    {
        "userId": "u2",
        "event": "Order Completed",
        "timestamp": "2024-03-06T08:00:00.250Z",
        "properties": {"revenue": 7, "product": {"sku": 1001}},
    },
]
# A Mixpanel-like export: even the user and the time live under `properties`.
MIXPANEL = [
    {
        "event": "Signed Up",
        "properties": {"distinct_id": "u3", "time": 1709632800, "$insert_id": "a"},
    },
    {
        "event": "Signed Up",
        "properties": {"distinct_id": "u3", "time": 1709632800, "$insert_id": "a"},
    },
    {"event": "Logged In", "properties": {"time": 1709632900, "$insert_id": "b"}},
]


def jsonl(records: list[dict]) -> str:
    return "".join(json.dumps(record) + "\n" for record in records)


def read(records: list[dict], column: str, column_type: str | None, as_json=False) -> list:
    """raw_text's SQL run over the records, one JSON document per row (as the reader gives)."""
    con = duckdb.connect()
    try:
        con.execute("CREATE TABLE t (n INTEGER, json JSON)")
        con.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(map(json.dumps, records))))
        sql = raw_text("jsonl", column, column_type, as_json)
        return [value for (value,) in con.execute(f"SELECT {sql} FROM t ORDER BY n").fetchall()]
    finally:
        con.close()


def test_a_dotted_name_is_a_path_unless_a_record_has_it_as_a_key():
    assert jsonl_keys("properties.product.sku", is_key=False) == ["properties", "product", "sku"]
    assert jsonl_keys("context.ip", is_key=True) == ["context.ip"]
    assert jsonl_keys("userId", is_key=False) == ["userId"]


def test_a_path_reads_nested_values_as_text_and_a_missing_one_as_null():
    assert read(SEGMENT, "properties.revenue", None) == [
        "12.5",
        None,
        "12,50",
        '{"amount":3}',
        "7",
    ]
    assert read(SEGMENT, "properties.product.sku", None) == ["SKU-1", None, "SKU-2", None, "1001"]
    assert read(SEGMENT, "context.traits.plan", None) == ["pro", None, None, "free", None]
    # the top-level key holding a dot wins over the nested path of the same spelling
    assert read(SEGMENT, "context.ip", "JSON") == ["10.0.0.1", None, None, None, None]


def test_a_path_through_a_scalar_or_an_array_is_missing():
    records = [{"p": "text"}, {"p": [1, {"q": 2}]}, {"p": None}, {"p": {"q": None}}]
    assert read(records, "p.q", None) == [None, None, None, None]


def test_path_keys_with_blanks_dots_and_quotes_are_quoted():
    records = [{"order info": {'say "hi"': {"it's": "yes"}}}]
    assert read(records, """order info.say "hi".it's""", None) == ["yes"]


def test_properties_by_path_keep_nested_json_and_plain_text():
    records = [{"context": {"page": {"url": "/a"}}}, {"context": {"page": "/b"}}, {}]
    assert read(records, "context.page", None, as_json=True) == ['{"url":"/a"}', "/b", None]


def test_csv_reads_a_dotted_name_as_one_column():
    sql = raw_text("csv", "properties.revenue", "VARCHAR", as_json=False)
    con = duckdb.connect()
    try:
        value = con.execute(f"SELECT {sql} FROM (SELECT '12.5' AS \"properties.revenue\")")
        assert value.fetchall() == [("12.5",)]
    finally:
        con.close()


def _config(**segment) -> dict:
    return {
        "name": "segment",
        "events": [
            {
                "files": "segment.jsonl",
                "columns": {
                    "user_id": "userId",
                    "timestamp": "timestamp",
                    "event_type": "event",
                    "value": "properties.revenue",
                    "item_id": "properties.product.sku",
                    "area": "context.ip",
                },
                "user_attributes": {
                    "plan": {
                        "column": "context.traits.plan",
                        "kind": "static",
                        "dtype": "categorical",
                    }
                },
                **segment,
            },
            {
                "files": "mixpanel.jsonl",
                "columns": {
                    "user_id": "properties.distinct_id",
                    "timestamp": "properties.time",
                    "event_type": "event",
                },
                "timestamp_formats": ["epoch_s"],
                "dedupe": ["properties.$insert_id"],
            },
        ],
    }


def test_segment_and_mixpanel_exports_ingest_nested_fields(dataset, store, query):
    files = {"segment.jsonl": jsonl(SEGMENT), "mixpanel.jsonl": jsonl(MIXPANEL)}
    summary = ingest_dataset(dataset(files=files, config=_config()), store, progress=False)

    assert query(
        store,
        "SELECT source_file, source_row, user_id, event_time, event_type, value, item_id, area "
        "FROM events ORDER BY event_id",
    ) == [
        (
            "segment.jsonl",
            1,
            "u1",
            datetime(2024, 3, 5, 10, 0, 0, 123000),
            "Order Completed",
            12.5,
            "SKU-1",
            "10.0.0.1",
        ),
        (
            "segment.jsonl",
            2,
            "42",
            datetime(2024, 3, 5, 10, 1),
            "Page Viewed",
            None,
            None,
            None,
        ),
        (
            "segment.jsonl",
            5,
            "u2",
            datetime(2024, 3, 6, 8, 0, 0, 250000),
            "Order Completed",
            7.0,
            "1001",
            None,
        ),
        (
            "mixpanel.jsonl",
            1,
            "u3",
            datetime(2024, 3, 5, 10, 0),
            "Signed Up",
            None,
            None,
            None,
        ),
    ]
    quarantined = query(
        store, "SELECT source_file, source_row, reason, detail, raw FROM quarantine ORDER BY ALL"
    )
    assert [row[:3] for row in quarantined] == [
        ("mixpanel.jsonl", 2, "duplicate_event"),
        ("mixpanel.jsonl", 3, "missing_required_field"),
        ("segment.jsonl", 3, "unparseable_value"),
        ("segment.jsonl", 4, "unparseable_value"),
    ]
    details = {(row[0], row[1]): row[3] for row in quarantined}
    assert details["segment.jsonl", 3] == (
        'value 12,50 is not a finite number (a decimal comma? set decimal: "," on this source)'
    )
    assert details["segment.jsonl", 4] == 'value {"amount":3} is not a finite number'
    assert details["mixpanel.jsonl", 3] == "user_id is empty"
    # the raw row stays the whole line as written
    raw = {(row[0], row[1]): json.loads(row[4]) for row in quarantined}
    assert raw["segment.jsonl", 4] == SEGMENT[3] and raw["mixpanel.jsonl", 2] == MIXPANEL[1]

    assert query(store, "SELECT user_id, plan FROM users ORDER BY user_id") == [
        ("42", None),
        ("u1", "pro"),
        ("u2", None),
        ("u3", None),
    ]
    counts = summary.tables["events"]
    assert (counts.read, counts.accepted, counts.quarantined_total) == (8, 4, 4)
    assert counts.read == counts.accepted + counts.quarantined_total


def test_a_path_whose_first_key_is_in_no_record_is_fatal(dataset, store):
    config = _config()
    config["events"][0]["columns"]["value"] = "props.revenue"
    files = {"segment.jsonl": jsonl(SEGMENT), "mixpanel.jsonl": jsonl(MIXPANEL)}
    with pytest.raises(SourceFileError) as raised:
        ingest_dataset(dataset(files=files, config=config), store, progress=False)
    message = str(raised.value)
    assert "segment.jsonl" in message and "'props.revenue'" in message
    assert "events[0].columns.value is not in the file" in message
    assert "its first key 'props' is not one of them" in message
    assert not store.exists()


def test_a_dotted_attribute_or_dedupe_column_is_checked_too(dataset, store):
    config = _config()
    config["events"][1]["dedupe"] = ["props.$insert_id"]
    files = {"segment.jsonl": jsonl(SEGMENT), "mixpanel.jsonl": jsonl(MIXPANEL)}
    with pytest.raises(SourceFileError, match=r"mixpanel\.jsonl: column 'props\.\$insert_id' "):
        ingest_dataset(dataset(files=files, config=config), store, progress=False)


def test_a_derived_column_reads_a_quoted_path(dataset, store, query):
    config = _config()
    config["events"][0]["columns"]["value"] = {"expr": '"properties.revenue" * 100'}
    files = {"segment.jsonl": jsonl(SEGMENT[:2]), "mixpanel.jsonl": jsonl(MIXPANEL[:1])}
    ingest_dataset(dataset(files=files, config=config), store, progress=False)
    assert query(store, "SELECT value FROM events ORDER BY event_id") == [
        (1250.0,),
        (None,),
        (None,),
    ]

    config["events"][0]["columns"]["value"] = {"expr": "properties.revenue * 100"}
    with pytest.raises(ConfigError) as raised:
        ingest_dataset(dataset(files=files, config=config), store, progress=False)
    message = str(raised.value)
    assert "events[0].columns.value.expr" in message
    assert 'quote a name holding dots whole: "properties.revenue"' in message


def test_csv_maps_a_dotted_header_as_one_column(dataset, store, query):
    config = {
        "name": "flat",
        "events": {
            "files": "events.csv",
            "columns": {
                "user_id": "userId",
                "timestamp": "timestamp",
                "event_type": "event",
                "value": "properties.revenue",
            },
        },
    }
    csv = "userId,timestamp,event,properties.revenue\nu1,2024-03-05,Order Completed,12.5\n"
    ingest_dataset(dataset(files={"events.csv": csv}, config=config), store, progress=False)
    assert query(store, "SELECT value FROM events") == [(12.5,)]


def _ga4_param(key: str, **typed: object) -> dict:
    """One element of GA4's `event_params` as BigQuery exports it to JSON (INT64 as text)."""
    alternatives = {"string_value": None, "int_value": None, "double_value": None}
    return {"key": key, "value": {**alternatives, **typed}}


GA4_JSON = [
    {
        "user_pseudo_id": "1.1",
        "event_timestamp": "1709632800000000",
        "event_name": "page_view",
        "event_params": [
            _ga4_param("ga_session_id", int_value="1709632800"),
            _ga4_param("page_title", string_value="Pricing"),
        ],
    },
    {
        "user_pseudo_id": "1.1",
        "event_timestamp": "1709632860000000",
        "event_name": "purchase",
        "event_params": [_ga4_param("value", double_value=9.5)],
    },
    {"user_pseudo_id": "2.2", "event_timestamp": "1709632920000000", "event_name": "x"},
    {
        "user_pseudo_id": "2.2",
        "event_timestamp": "1709632980000000",
        "event_name": "y",
        "event_params": {"not": "a list"},
    },
]


def _ga4_config(**columns: str) -> dict:
    return {
        "name": "ga4",
        "events": [
            {
                "files": "events.json",
                "columns": {
                    "user_id": "user_pseudo_id",
                    "timestamp": "event_timestamp",
                    "event_type": "event_name",
                    **columns,
                },
                "timestamp_formats": ["epoch_us"],
            }
        ],
    }


def test_ga4s_json_export_reads_event_params_by_key(dataset, store, query):
    config = _ga4_config(
        session_id="event_params.ga_session_id",
        value="event_params.value",
        area="event_params.page_title",
    )
    files = {"events.json": jsonl(GA4_JSON)}
    ingest_dataset(dataset(files=files, config=config), store, progress=False)
    assert query(store, "SELECT session_id, value, area FROM events ORDER BY event_time") == [
        ("1709632800", None, "Pricing"),
        (None, 9.5, None),
        (None, None, None),
        (None, None, None),
    ]


def test_a_key_no_element_of_a_json_list_holds_is_fatal_and_names_the_keys(dataset, store):
    files = {"events.json": jsonl(GA4_JSON)}
    config = _ga4_config(session_id="event_params.ga_sesion_id")
    with pytest.raises(SourceFileError) as error:
        ingest_dataset(dataset(files=files, config=config), store, progress=False)
    assert (
        "no element of its list 'event_params' has the key 'ga_sesion_id' (its keys: "
        "ga_session_id, page_title, value)"
    ) in str(error.value)
