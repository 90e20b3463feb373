"""Parquet columns mapped by a dotted path into struct columns (BigQuery / GA4 exports)."""

from __future__ import annotations

import io
from datetime import datetime
from decimal import Decimal

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from events.ingest import SourceFileError, ingest_dataset
from events.ingest.validate import key_value_lists, key_value_text, raw_text, struct_field_paths

# GA4's BigQuery export as Parquet: microsecond epochs, the revenue a decimal inside the
# `ecommerce` struct, the device and the traffic source as structs (two levels deep for the
# campaign), a row without an ecommerce struct, a blank id and an exact repeat of row 1.
MICROS = int(datetime(2024, 3, 5, 10).timestamp()) * 1_000_000
GA4 = {
    "user_pseudo_id": ["1001.17", "1002.17", "1001.17", " ", "1001.17"],
    "event_timestamp": [MICROS, MICROS + 60_000_000, MICROS + 120_000_000, MICROS, MICROS],
    "event_name": ["purchase", "page_view", "purchase", "page_view", "purchase"],
    "ecommerce": [
        {"purchase_revenue": Decimal("19.99"), "transaction_id": "t1"},
        None,
        {"purchase_revenue": None, "transaction_id": "t2"},
        None,
        {"purchase_revenue": Decimal("19.99"), "transaction_id": "t1"},
    ],
    "device": [{"category": "mobile"}, {"category": "desktop"}, {"category": "mobile"}]
    + [{"category": "mobile"}] * 2,
    "traffic_source": [
        {"medium": "cpc", "campaign": {"name": "spring"}},
        {"medium": "organic", "campaign": {"name": None}},
        {"medium": "email", "campaign": {"name": "x"}},
    ]
    + [{"medium": "cpc", "campaign": {"name": "spring"}}] * 2,
}
REVENUE = pa.struct([("purchase_revenue", pa.decimal128(18, 2)), ("transaction_id", pa.string())])


def parquet_bytes(columns: dict, schema: dict | None = None) -> bytes:
    arrays = {
        name: pa.array(values, type=(schema or {}).get(name)) for name, values in columns.items()
    }
    sink = io.BytesIO()
    pq.write_table(pa.table(arrays), sink)
    return sink.getvalue()


def ga4_config(columns: dict[str, str], **source) -> dict:
    """A dataset over `events_*.parquet` with GA4's id, time and name, plus `columns`."""
    required = {
        "user_id": "user_pseudo_id",
        "timestamp": "event_timestamp",
        "event_type": "event_name",
    }
    return {
        "name": "ga4",
        "events": [
            {
                "files": "events_*.parquet",
                "columns": {**required, **columns},
                "timestamp_formats": ["epoch_us"],
                **source,
            }
        ],
    }


STRUCT_COLUMNS = {
    "value": "ecommerce.purchase_revenue",
    "item_id": "ecommerce.transaction_id",
    "area": "device.category",
}
USER_ATTRIBUTES = {
    "channel": {"column": "traffic_source.medium", "kind": "static", "dtype": "categorical"},
    "campaign": {
        "column": "traffic_source.campaign.name",
        "kind": "static",
        "dtype": "categorical",
    },
}


def struct_config(**columns: str) -> dict:
    return ga4_config({**STRUCT_COLUMNS, **columns}, user_attributes=USER_ATTRIBUTES)


def test_struct_fields_ingest_by_path_with_their_values_as_text(dataset, store, query):
    files = {"events_20240305.parquet": parquet_bytes(GA4, {"ecommerce": REVENUE})}
    summary = ingest_dataset(dataset(files=files, config=struct_config()), store, progress=False)

    assert summary.tables["events"].read == 5
    assert summary.tables["events"].quarantined == {
        "missing_required_field": 1,
        "duplicate_event": 1,
    }
    assert query(
        store, "SELECT source_row, user_id, event_time, value, item_id, area FROM events"
    ) == [
        (1, "1001.17", datetime(2024, 3, 5, 10), 19.99, "t1", "mobile"),
        (3, "1001.17", datetime(2024, 3, 5, 10, 2), None, "t2", "mobile"),
        (2, "1002.17", datetime(2024, 3, 5, 10, 1), None, None, "desktop"),
    ]
    assert query(store, "SELECT user_id, channel, campaign FROM users ORDER BY user_id") == [
        ("1001.17", "cpc", "spring"),
        ("1002.17", "organic", None),
    ]


def test_a_path_that_is_not_in_the_struct_names_its_fields(dataset, store):
    files = {"events_20240305.parquet": parquet_bytes(GA4, {"ecommerce": REVENUE})}
    config = struct_config(value="ecommerce.revenue")
    with pytest.raises(SourceFileError) as error:
        ingest_dataset(dataset(files=files, config=config), store, progress=False)
    message = str(error.value)
    assert "events_20240305.parquet: column 'ecommerce.revenue' mapped in events[0]" in message
    assert "its struct 'ecommerce' has fields purchase_revenue, transaction_id" in message


def test_a_column_holding_a_dot_wins_over_the_path_of_that_spelling(dataset, store, query):
    columns = {**GA4, "device.category": ["top"] * 5}
    files = {"events_20240305.parquet": parquet_bytes(columns, {"ecommerce": REVENUE})}
    ingest_dataset(dataset(files=files, config=struct_config()), store, progress=False)
    assert query(store, "SELECT DISTINCT area FROM events") == [("top",)]


def test_struct_paths_recurse_and_leave_out_lists_and_dotted_names():
    con = duckdb.connect()
    try:
        relation = con.sql(
            "SELECT {'a': {'b': 1, 'c.d': 2}, 'l': [{'x': 1}]} AS s, {'q': 1} AS \"t.u\", 3 AS n"
        )
        paths = list(struct_field_paths(zip(relation.columns, relation.types, strict=True)))
        assert paths == ["s.a", "s.a.b", "s.l"]
        read = raw_text("parquet", "s.a.b", None, as_json=False)
        whole = raw_text("parquet", "s.a", None, as_json=True)
        assert con.sql(f"SELECT {read}, {whole} FROM relation").fetchall() == [
            ("1", '{"b":1,"c.d":2}')
        ]
    finally:
        con.close()


def params(**values) -> list[dict]:
    """GA4's `event_params`: {key, value: {string_value, int_value, double_value}} elements."""
    kinds = {str: "string_value", int: "int_value", float: "double_value"}
    elements = []
    for key, value in values.items():
        typed = dict.fromkeys(kinds.values())
        typed[kinds[type(value)]] = value
        elements.append({"key": key, "value": typed})
    return elements


PARAMS = pa.list_(
    pa.struct(
        [
            ("key", pa.string()),
            (
                "value",
                pa.struct(
                    [
                        ("string_value", pa.string()),
                        ("int_value", pa.int64()),
                        ("double_value", pa.float64()),
                    ]
                ),
            ),
        ]
    )
)


def ga4_params_file(*rows: tuple[str, str, list | None]) -> bytes:
    columns = {
        "user_pseudo_id": [user for user, _, _ in rows],
        "event_timestamp": [MICROS + i * 60_000_000 for i in range(len(rows))],
        "event_name": [name for _, name, _ in rows],
        "event_params": [elements for _, _, elements in rows],
    }
    return parquet_bytes(columns, {"event_params": PARAMS})


PARAM_COLUMNS = {
    "session_id": "event_params.ga_session_id",
    "value": "event_params.value",
    "area": "event_params.page_location",
}


def params_config(**columns: str) -> dict:
    return ga4_config({**PARAM_COLUMNS, **columns})


def test_a_key_value_list_is_read_by_key(dataset, store, query):
    files = {
        "events_20240305.parquet": ga4_params_file(
            ("1.1", "page_view", params(ga_session_id=111, page_location="/home")),
            ("1.1", "purchase", params(ga_session_id=111, value=9.99, currency="EUR")),
            ("2.2", "page_view", None),
            ("2.2", "page_view", []),
        )
    }
    ingest_dataset(dataset(files=files, config=params_config()), store, progress=False)
    assert query(store, "SELECT user_id, session_id, value, area FROM events") == [
        ("1.1", "111", None, "/home"),
        ("1.1", "111", 9.99, None),
        ("2.2", None, None, None),
        ("2.2", None, None, None),
    ]


def test_a_key_no_element_holds_is_missing_where_other_files_have_it(dataset, store, query):
    files = {
        "events_20240305.parquet": ga4_params_file(("1.1", "page_view", params(ga_session_id=1))),
        "events_20240306.parquet": ga4_params_file(
            ("1.1", "page_view", params(ga_session_id=2, page_location="/new"))
        ),
    }
    config = params_config()
    del config["events"][0]["columns"]["value"]  # in neither file: that would be fatal
    ingest_dataset(dataset(files=files, config=config), store, progress=False)
    assert query(store, "SELECT source_file, session_id, area FROM events") == [
        ("events_20240305.parquet", "1", None),
        ("events_20240306.parquet", "2", "/new"),
    ]


def test_a_misspelt_key_is_fatal_and_names_the_keys_there_are(dataset, store):
    files = {
        "events_20240305.parquet": ga4_params_file(
            ("1.1", "page_view", params(ga_session_id=111, page_location="/home"))
        )
    }
    config = params_config(session_id="event_params.ga_sesion_id")
    with pytest.raises(SourceFileError) as error:
        ingest_dataset(dataset(files=files, config=config), store, progress=False)
    assert (
        "column 'event_params.ga_sesion_id' mapped in events[0].columns.session_id is not in the "
        "file (4 columns in its schema; no element of its list 'event_params' has the key "
        "'ga_sesion_id' (its keys: ga_session_id, page_location))"
    ) in str(error.value)


def test_only_lists_of_key_and_value_structs_are_key_value_lists():
    con = duckdb.connect()
    try:
        relation = con.sql(
            "SELECT [{'key': 'a', 'value': 1}] AS kv, [{'k': 'a', 'v': 1}] AS other, "
            "{'key': 'a', 'value': 1} AS one, [1, 2] AS numbers, "
            "[{'key': 'a', 'value': 1}] AS \"x.y\""
        )
        typed = zip(relation.columns, relation.types, strict=True)
        assert list(key_value_lists(typed)) == ["kv"]
        read = key_value_text("kv", "a")
        assert con.sql(f"SELECT {read} FROM relation").fetchall() == [("1",)]
    finally:
        con.close()
