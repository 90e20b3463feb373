"""`fill_down`: a group's fields, written on its first row only, read for each of its rows: a
product's in an items file (Shopify's products export), an order's in an events file (its
orders export's `Financial Status`); refused when it names what the file or source lacks."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tiny_datasets import EVENTS_CSV, USERS_CSV, make_config, rows, write_dataset

from contracts.errors import UsagecastError
from events.ingest import ingest_dataset

# items.csv: handle, sku, vendor (filled down by handle), price (a variant's own: never).
ITEMS = {
    "files": "items.csv",
    "columns": {"item_id": "sku"},
    "fill_down": {"by": "handle", "attributes": ["vendor"]},
    "attributes": {
        "vendor": {"column": "vendor", "dtype": "categorical"},
        "price": {"column": "price", "dtype": "numeric"},
    },
}
# (handle or "" for none, vendor or "" for blank, price or "" for blank); the sku is the row's.
ROW = st.tuples(
    st.sampled_from(["mug", "tea", ""]),
    st.sampled_from(["Acme", "Leafco", ""]),
    st.sampled_from(["3", ""]),
)


def test_fill_down_gives_a_products_variants_its_first_rows_fields(dataset, store, query):
    """Never across handles or to a row without one; a value a row has is its own; a row of
    no item (no sku) still passes its vendor down."""
    items = (
        "handle,sku,vendor,price\n"
        "mug,M1,Acme,14\n"
        "tea,T1,Leafco,6\n"
        "mug,M2,,18\n"
        "mug,,,\n"
        "mug,M3,Other,\n"
        "mug,M4,,\n"
        ",X1,,3\n"
        "cup,C1,,5\n"
    )
    path = dataset(files={"items.csv": items}, config=make_config(items=ITEMS))
    summary = ingest_dataset(path, store, progress=False)
    assert summary.tables["items"].quarantined == {"item_without_id": 1}
    assert query(store, "SELECT item_id, vendor, price FROM items ORDER BY item_id") == [
        ("C1", None, 5.0),
        ("M1", "Acme", 14.0),
        ("M2", "Acme", 18.0),
        ("M3", "Other", None),
        ("M4", "Other", None),
        ("T1", "Leafco", 6.0),
        ("X1", None, 3.0),
    ]


@pytest.mark.parametrize(
    ("fill", "message"),
    [
        ({"by": "Handle", "attributes": ["vendor"]}, r"fill_down\.by"),
        (
            {"by": "sku", "attributes": ["vendr"]},
            "names vendr; the attributes of this source: price, vendor",
        ),
    ],
)
def test_fill_down_names_a_column_of_the_file_and_the_sources_attributes(
    dataset, store, fill, message
):
    config = make_config(items={**ITEMS, "fill_down": fill})
    path = dataset(files={"items.csv": "handle,sku,vendor,price\nmug,M1,Acme,1\n"}, config=config)
    with pytest.raises(UsagecastError, match=message):
        ingest_dataset(path, store, progress=False)


# An orders export: the status (filled down by order) makes the event type, the total is the
# order's first line's own.
ORDERS = {
    "files": "orders.csv",
    "columns": {
        "user_id": "uid",
        "timestamp": "ts",
        "event_type": {"expr": "'ORDER_' || upper(status)"},
        "value": "total",
        "item_id": "sku",
    },
    "fill_down": {"by": "order", "columns": ["status"]},
}


def test_fill_down_gives_an_orders_lines_its_first_lines_status(dataset, store, query):
    """A later line of an order takes its first line's status wherever it sits in the file; the
    total is not listed, so a further line has none; an order without a status at all has no
    event type and is quarantined with why."""
    orders = (
        "order,uid,ts,status,total,sku\n"
        "#1,1,2014-04-22 10:00,paid,30,A\n"
        "#1,1,2014-04-22 10:00,,,B\n"
        "#2,2,2014-04-23 09:00,refunded,12,A\n"
        "#3,1,2014-05-01 08:00,paid,5,C\n"
        "#2,2,2014-04-23 09:00,,,C\n"
        "#4,2,2014-05-02 08:00,,7,A\n"
    )
    config = make_config(events=[ORDERS], rules={})
    path = dataset(files={"orders.csv": orders}, config=config)
    summary = ingest_dataset(path, store, progress=False)
    assert summary.tables["events"].quarantined == {"missing_required_field": 1}
    stored = query(
        store,
        "SELECT user_id, event_type, value, item_id FROM events ORDER BY event_time, source_row",
    )
    assert stored == [
        ("1", "ORDER_PAID", 30.0, "A"),
        ("1", "ORDER_PAID", None, "B"),
        ("2", "ORDER_REFUNDED", 12.0, "A"),
        ("2", "ORDER_REFUNDED", None, "C"),
        ("1", "ORDER_PAID", 5.0, "C"),
    ]


def test_an_events_fill_down_names_columns_the_source_reads(dataset, store):
    fill = {"by": "order", "columns": ["status", "Cancelled at"]}
    config = make_config(events=[{**ORDERS, "fill_down": fill}], rules={})
    path = dataset(files={"orders.csv": "order,uid,ts,status,total,sku\n"}, config=config)
    message = (
        r"events\[0\]\.fill_down\.columns.*names Cancelled at; the columns this source reads: "
        "sku, status, total, ts, uid"
    )
    with pytest.raises(UsagecastError, match=message):
        ingest_dataset(path, store, progress=False)


def expected_items(drawn: list[tuple[str, str, str]]) -> list[tuple]:
    """(sku, vendor, price) as fill_down reads the file: a blank vendor takes the latest one
    above it with the same handle (none without a handle); the price, not listed, never."""
    latest: dict[str, str] = {}
    items = []
    for number, (handle, vendor, price) in enumerate(drawn):
        if handle and vendor:
            latest[handle] = vendor
        filled = vendor or (latest.get(handle) if handle else None)
        items.append((f"s{number:02d}", filled or None, float(price) if price else None))
    return sorted(items)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(ROW, min_size=1, max_size=12))
def test_fill_down_reads_each_blank_listed_attribute_from_the_latest_row_of_its_group(drawn):
    lines = "".join(f"{h},s{n:02d},{v},{p}\n" for n, (h, v, p) in enumerate(drawn))
    files = {
        "users.csv": USERS_CSV,
        "events.csv": EVENTS_CSV,
        "items.csv": "handle,sku,vendor,price\n" + lines,
    }
    with tempfile.TemporaryDirectory() as folder:
        path = write_dataset(Path(folder) / "data", files, make_config(items=ITEMS))
        store = Path(folder) / "store" / "events.duckdb"
        summary = ingest_dataset(path, store, progress=False)
        stored = rows(store, "SELECT item_id, vendor, price FROM items ORDER BY item_id")
    assert summary.tables["items"].accepted == len(drawn)
    assert stored == expected_items(drawn)
