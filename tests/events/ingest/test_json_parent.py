"""Arrays of records inside objects that hold the rest of their fields: an order's
`line_items`, a user document's embedded `sessions`. `records:` reads the array's elements
as rows and `parent:` puts the object holding them, less the array, under one key of each
(events/ingest/readers.py, json_records_sql)."""

from __future__ import annotations

import json
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.ingest import ConfigError, ingest_dataset
from events.ingest.readers import SourceFileError

ORDERS = {
    "files": "orders.json",
    "records": "line_items",
    "parent": "order",
    "columns": {
        "user_id": "order.customer.id",
        "timestamp": "order.created_at",
        "event_type": "order.financial_status",
        "item_id": "sku",
        "value": "price",
    },
    "timestamp_formats": ["iso"],
}


def _order(number: int, customer: object, *items: object) -> dict:
    return {
        "id": number,
        "created_at": f"2014-04-0{number % 10}T10:00:00",
        "customer": {"id": customer},
        "financial_status": "PLAY",  # the tiny config's allowed event types
        "line_items": list(items),
    }


def _item(sku: str, price: str) -> dict:
    return {"sku": sku, "price": price, "quantity": 1}


def _refusal(path, store) -> str:
    """The SourceFileError an ingest of the dataset stops with; the store stays unwritten."""
    with pytest.raises(SourceFileError) as failed:
        ingest_dataset(path, store, progress=False)
    assert not store.exists()
    return str(failed.value)


def test_each_line_item_is_a_row_with_its_orders_fields(dataset, store, base_config, query):
    orders = [
        _order(1, 1, _item("A", "9.99"), _item("B", "4.50")),
        _order(2, 2.0, _item("C", "1.00")),  # an id written as a float
        _order(3, None, _item("D", "2.00")),  # a guest order: no customer
        _order(4, 3),  # no line item: no row
        _order(5, 3, "gift wrap"),  # an element that is no object is read as written
    ]
    text = "\n".join(json.dumps(order) for order in orders) + "\n"
    config = base_config(events=[ORDERS])
    summary = ingest_dataset(dataset({"orders.json": text}, config), store, progress=False)

    counts = summary.tables["events"]
    assert counts.read == 5 and counts.accepted == 3
    assert query(
        store, "SELECT user_id, event_type, item_id, value, source_row FROM events ORDER BY 5"
    ) == [("1", "PLAY", "A", 9.99, 1), ("1", "PLAY", "B", 4.5, 2), ("2", "PLAY", "C", 1.0, 3)]
    quarantined = query(store, "SELECT source_row, reason, raw FROM quarantine ORDER BY 1")
    assert [(row, reason) for row, reason, _ in quarantined] == [
        (4, "missing_required_field"),
        (5, "missing_required_field"),
    ]
    guest = json.loads(quarantined[0][2])
    assert guest["sku"] == "D" and guest["order"]["id"] == 3
    assert "line_items" not in guest["order"]  # the holder less its array, not a copy of it
    assert json.loads(quarantined[1][2]) == "gift wrap"


def test_a_user_documents_embedded_sessions_take_the_users_id(dataset, store, base_config, query):
    users = [
        {
            "_id": {"$oid": "1"},
            "email": "a@x.io",
            "activity": {"sessions": [{"at": {"$date": "2014-04-02T08:00:00Z"}, "kind": "LOGIN"}]},
        },
        {"_id": {"$oid": "2"}, "activity": {"sessions": []}},
    ]
    source = {
        "files": "users.json",
        "records": "activity.sessions",
        "parent": "user",
        "columns": {"user_id": "user._id.$oid", "timestamp": "at.$date", "event_type": "kind"},
        "timestamp_formats": ["iso"],
    }
    text = "\n".join(json.dumps(user) for user in users)
    config = base_config(events=[source])
    summary = ingest_dataset(dataset({"users.json": text}, config), store, progress=False)
    assert summary.tables["events"].read == summary.tables["events"].accepted == 1
    assert query(store, "SELECT user_id, event_type FROM events") == [("1", "LOGIN")]


def test_a_record_with_a_key_of_the_parents_name_stops_the_ingest(dataset, store, base_config):
    order = _order(1, 1, {**_item("A", "9.99"), "order": "first"})
    path = dataset({"orders.json": json.dumps(order)}, base_config(events=[ORDERS]))
    assert (
        "orders.json: the record in top-level object 1, at line_items[1] has a key 'order' of "
        "its own, which `parent: order` would replace"
    ) in _refusal(path, store)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({**ORDERS, "records": None}, r"events\[0\]\.parent.* goes with `records:`"),
        ({**ORDERS, "parent": "the.order"}, r"events\[0\]\.parent.* one key without dots"),
        ({**ORDERS, "parent": ""}, r"events\[0\]\.parent"),
    ],
)
def test_parent_is_one_key_beside_records(dataset, store, base_config, source, message):
    with pytest.raises(ConfigError, match=message):
        ingest_dataset(dataset(config=base_config(events=[source])), store, progress=False)


SHOPIFY_PAGES = {**ORDERS, "records": "orders[].line_items"}  # the Admin API's order pages


def test_line_items_of_the_orders_of_api_pages_are_numbered_through_both(
    dataset, store, base_config, query
):
    without_items = {k: v for k, v in _order(4, 1).items() if k != "line_items"}
    pages = [
        {"orders": [_order(1, 1, _item("A", "1.00"), _item("B", "2.00")), without_items]},
        {"orders": [{**_order(5, 2), "line_items": None}, _order(6, 3, _item("C", "3.00"))]},
    ]
    text = "\n".join(json.dumps(page) for page in pages)
    config = base_config(events=[SHOPIFY_PAGES])
    summary = ingest_dataset(dataset({"orders.json": text}, config), store, progress=False)
    assert summary.tables["events"].read == summary.tables["events"].accepted == 3
    assert query(store, "SELECT user_id, item_id, source_row FROM events ORDER BY 3") == [
        ("1", "A", 1),
        ("1", "B", 2),
        ("3", "C", 3),
    ]


def test_an_inner_array_that_is_something_else_stops_the_ingest_named(dataset, store, base_config):
    page = {"orders": [_order(1, 1, _item("A", "1.00")), {**_order(2, 1), "line_items": {}}]}
    path = dataset({"orders.json": json.dumps(page)}, base_config(events=[SHOPIFY_PAGES]))
    assert (
        "orders.json: top-level object 1, at orders[2], holds object at `records: "
        "orders[].line_items` (`line_items`), not an array of records (its keys: id, "
        "created_at, customer, financial_status, line_items); correct `records`"
    ) in _refusal(path, store)


@pytest.mark.parametrize("records", ["orders[]", "orders[].", "[].line_items", "orders[][].x"])
def test_records_through_arrays_name_a_key_after_each(dataset, store, base_config, records):
    with pytest.raises(ConfigError, match=r"events\[0\]\.records.*through arrays"):
        ingest_dataset(
            dataset(config=base_config(events=[{**ORDERS, "records": records}])), store, False
        )


ITEMS = st.one_of(
    st.builds(_item, st.sampled_from(["A", "B"]), st.sampled_from(["1.00", "-5", "x"])),
    st.just("gift wrap"),
)
ORDERS_OF_A_PAGE = st.lists(
    st.builds(
        lambda n, customer, items: _order(n, customer, *items),
        st.integers(1, 9),
        st.sampled_from([1, 2.0, None, "9"]),
        st.lists(ITEMS, max_size=3),
    ),
    max_size=3,
)


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(pages=st.lists(ORDERS_OF_A_PAGE, min_size=1, max_size=3))
def test_every_line_item_of_every_order_is_accepted_or_quarantined_once(
    dataset, store, base_config, query, pages
):
    pages[0].insert(0, _order(1, 1, _item("A", "1.00")))  # every mapped key in the file
    shutil.rmtree(store.parent, ignore_errors=True)
    text = "\n".join(json.dumps({"orders": orders}) for orders in pages)
    config = base_config(events=[SHOPIFY_PAGES])
    path = dataset({"orders.json": text}, config)
    summary = ingest_dataset(path, store, progress=False, allow_partial=True)
    records = [
        {**item, "order": {k: v for k, v in order.items() if k != "line_items"}}
        if isinstance(item, dict)
        else item
        for orders in pages
        for order in orders
        for item in order["line_items"]
    ]
    counts = summary.tables["events"]
    assert counts.read == len(records) == counts.accepted + counts.quarantined_total
    for row, raw in query(store, "SELECT source_row, raw FROM quarantine ORDER BY source_row"):
        assert json.loads(raw) == records[row - 1]
