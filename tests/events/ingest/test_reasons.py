"""Each quarantine reason: one bad row among good ones lands in quarantine with its reason."""

from __future__ import annotations

import json

import pytest

from contracts.errors import UsagecastError
from events.ingest import ingest_dataset

GOOD = "1,2014-04-22 03:53,PLAY,10\n"

EVENT_CASES = [
    ("blank_row", ",,,\n", "every field is empty: a blank row"),
    ("repeated_header", "uid,ts,page,length\n", "the header line again"),
    ("totals_row", "Total,,,20\n", "a report's totals"),
    # Blanks are written content, not a blank row.
    ("missing_required_field", ", , ,\n", "user_id, event_time, event_type is empty"),
    ("missing_required_field", "1,,PLAY,10\n", "event_time is empty"),
    ("missing_required_field", " ,2014-04-22,PLAY,10\n", "user_id is empty"),
    ("sentinel_id", "-1,2014-04-22,PLAY,10\n", "sentinel"),
    ("scientific_notation_id", "1.23457E+18,2014-04-22,PLAY,10\n", "as Excel saves a long id"),
    ("unparseable_timestamp", "1,yesterday,PLAY,10\n", "matches none of"),
    ("timestamp_out_of_range", "1,1999-01-01,PLAY,10\n", "outside rules.timestamp_range"),
    ("dropped_event_type", "1,2014-04-22,Help,10\n", "dropped"),
    ("unknown_event_type", "1,2014-04-22,DANCE,10\n", "not in rules.event_types.allowed"),
    ("unparseable_value", "1,2014-04-22,PLAY,ten\n", "not a finite number"),
    ("value_out_of_range", "1,2014-04-22,PLAY,5000\n", "outside rules.value_range"),
    ("unknown_user", "42,2014-04-22,PLAY,10\n", "not in the users table"),
    ("duplicate_event", GOOD, "earlier row"),
]


@pytest.mark.parametrize(("reason", "bad_row", "detail"), EVENT_CASES)
def test_event_reason(dataset, store, query, reason, bad_row, detail):
    config = dataset(files={"events.csv": "uid,ts,page,length\n" + GOOD + bad_row})
    summary = ingest_dataset(config, store, progress=False)

    assert summary.tables["events"].accepted == 1
    assert summary.tables["events"].quarantined == {reason: 1}
    (row,) = query(
        store, "SELECT table_name, source_file, source_row, reason, detail, raw FROM quarantine"
    )
    assert row[:4] == ("events", "events.csv", 2, reason)
    assert detail in row[4]
    assert json.loads(row[5])["page"] == (bad_row.split(",")[2] or None)  # empty: NULL


def test_properties_that_are_not_json_are_unparseable(dataset, base_config, store, query):
    config = base_config()
    config["events"][0]["columns"]["properties"] = "props"
    path = dataset(
        files={
            "events.csv": 'uid,ts,page,length,props\n1,2014-04-22,PLAY,1,"{""a"": 1}"\n'
            "1,2014-04-22,PLAY,2,{oops\n"
        },
        config=config,
    )
    ingest_dataset(path, store, progress=False)
    assert query(store, "SELECT properties FROM events") == [('{"a": 1}',)]
    assert query(store, "SELECT source_row, reason FROM quarantine") == [(2, "unparseable_value")]


USER_CASES = [
    ("blank_row", ",,\n"),
    ("repeated_header", "id,registration,city\n"),
    ("totals_row", "Total,,\n"),
    ("missing_required_field", "4,,Oslo\n"),
    ("sentinel_id", "-1,2014-01-02,Oslo\n"),
    ("scientific_notation_id", "1.2345678901234568e+18,2014-01-02,Oslo\n"),
    ("unparseable_timestamp", "4,someday,Oslo\n"),
    ("duplicate_user", "1,2015-01-01,Lima\n"),
]


@pytest.mark.parametrize(("reason", "bad_row"), USER_CASES)
def test_user_reason(dataset, store, query, reason, bad_row):
    users = "id,registration,city\n1,2014-01-02,Paris\n2,2014-01-03,Oslo\n" + bad_row
    path = dataset(files={"users.csv": users})
    summary = ingest_dataset(path, store, progress=False)
    assert summary.tables["users"].quarantined == {reason: 1}
    assert query(store, "SELECT source_row, reason FROM quarantine") == [(3, reason)]
    # the first of two rows with the same id is the one kept
    assert query(store, "SELECT city FROM users WHERE user_id = '1'") == [("Paris",)]


def test_events_of_a_user_whose_users_row_was_quarantined_say_so(dataset, store, query):
    users = "id,registration,city\n1,2014-01-02,Paris\n2,,Oslo\n2.0,someday,Oslo\n"
    events = "uid,ts,page,length\n2,2014-04-22,PLAY,1\n42,2014-04-22,PLAY,1\n"
    path = dataset(files={"users.csv": users, "events.csv": events})
    ingest_dataset(path, store, progress=False, allow_partial=True)
    assert query(store, "SELECT detail FROM quarantine WHERE table_name = 'events'") == [
        (
            "user_id 2 is not in the users table: its row in users.csv (row 2) was quarantined "
            "as missing_required_field",
        ),
        ("user_id 42 is not in the users table",),
    ]


def test_numeric_item_attribute_and_duplicate_item(dataset, base_config, store, query):
    config = base_config(
        items={
            "files": "items.csv",
            "columns": {"item_id": "track"},
            "attributes": {"popularity": {"column": "pop", "dtype": "numeric"}},
        }
    )
    items = "track,pop\nt1,0.5\nt2,high\nt1,0.7\n"
    path = dataset(files={"items.csv": items}, config=config)
    summary = ingest_dataset(path, store, progress=False, allow_partial=True)
    assert summary.tables["items"].quarantined == {"unparseable_value": 1, "duplicate_item": 1}
    assert query(store, "SELECT item_id, popularity, valid_from, valid_to FROM items") == [
        ("t1", 0.5, None, None)
    ]
    assert query(store, "SELECT * FROM item_attributes") == [("popularity", "static", "numeric")]


def test_items_rows_without_an_id_are_rows_of_no_item_and_leave_the_table_whole(
    dataset, base_config, store, query
):
    """A products export with a row per extra image (the product's handle, no SKU): most
    rows name no item, yet the catalogue is not short of rows; without allow_partial."""
    config = base_config(
        items={
            "files": "items.csv",
            "columns": {"item_id": "sku"},
            "attributes": {"price": {"column": "price", "dtype": "numeric"}},
        }
    )
    items = "handle,sku,price\nmug,M1,14\nmug,,\nmug,,\nmug,M2,18\ntea,,\ntea,T1,6\ntea,,\n"
    path = dataset(files={"items.csv": items}, config=config)
    summary = ingest_dataset(path, store, progress=False)
    assert summary.tables["items"].quarantined == {"item_without_id": 4}
    assert query(store, "SELECT item_id, price FROM items ORDER BY item_id") == [
        ("M1", 14.0),
        ("M2", 18.0),
        ("T1", 6.0),
    ]
    details = query(store, "SELECT DISTINCT detail FROM quarantine")
    assert details == [("item_id is empty: a row of no item",)]


def test_a_catalogue_of_items_without_ids_is_still_refused(dataset, base_config, store):
    config = base_config(items={"files": "items.csv", "columns": {"item_id": "sku"}})
    path = dataset(files={"items.csv": "handle,sku\nmug,\ntea,\n"}, config=config)
    with pytest.raises(UsagecastError, match="items"):
        ingest_dataset(path, store, progress=False)


def test_a_catalogue_of_versions_keeps_every_version_valid_until_the_next(
    dataset, base_config, store, query
):
    """A products table's history, out of time order: every version is stored, valid from
    its time until the item's next version (the latest open); a version exported twice is a
    duplicate_item, a blank validity time a row error. A catalogue without versions has
    open validity (test_numeric_item_attribute_and_duplicate_item's store)."""
    config = base_config(
        items={
            "files": "items.csv",
            "columns": {"item_id": "track", "valid_from": "since"},
            "attributes": {"popularity": {"column": "pop", "dtype": "numeric"}},
        }
    )
    items = (
        "track,pop,since\n"
        "t1,0.7,2014-03-01\n"
        "t1,0.5,2014-01-01\n"
        "t2,0.9,2014-02-01\n"
        "t1,0.6,2014-03-01\n"
        "t2,0.1,\n"
    )
    path = dataset(files={"items.csv": items}, config=config)
    summary = ingest_dataset(path, store, progress=False, allow_partial=True)
    assert summary.tables["items"].quarantined == {
        "duplicate_item": 1,
        "missing_required_field": 1,
    }
    assert query(
        store,
        "SELECT item_id, popularity, strftime(valid_from, '%Y-%m-%d'), "
        "strftime(valid_to, '%Y-%m-%d') "
        "FROM items",
    ) == [
        ("t1", 0.5, "2014-01-01", "2014-03-01"),
        ("t1", 0.7, "2014-03-01", None),
        ("t2", 0.9, "2014-02-01", None),
    ]
    (detail,) = query(store, "SELECT detail FROM quarantine WHERE reason = 'duplicate_item'")
    assert detail == ("item_id t1: its version valid from 2014-03-01 00:00:00 already seen",)


def test_precedence_first_rule_wins(dataset, store, query):
    # unknown user, unparseable timestamp and unknown type at once: the timestamp comes first
    path = dataset(files={"events.csv": "uid,ts,page,length\n" + GOOD + "42,never,DANCE,x\n"})
    ingest_dataset(path, store, progress=False)
    assert query(store, "SELECT reason FROM quarantine") == [("unparseable_timestamp",)]


def test_duplicates_repeat_the_raw_row_and_keep_the_first(dataset, store, query):
    # row 2 spells row 1 another way (1.0, T, 10.0): a different raw row, not a duplicate;
    # row 3 repeats row 1 byte for byte
    rows = "1,2014-04-22 03:53,PLAY,10\n1.0,2014-04-22T03:53:00,PLAY,10.0\n"
    rows += "1,2014-04-22 03:53,PLAY,10\n"
    path = dataset(files={"events.csv": "uid,ts,page,length\n" + rows})
    ingest_dataset(path, store, progress=False)
    assert query(store, "SELECT source_row FROM events ORDER BY 1") == [(1,), (2,)]
    assert query(store, "SELECT source_row, reason FROM quarantine") == [(3, "duplicate_event")]


def test_sentinel_in_optional_id_means_no_id(dataset, base_config, store, query):
    config = base_config()
    config["events"][0]["columns"]["item_id"] = "song"
    path = dataset(
        files={
            "events.csv": "uid,ts,page,length,song\n1,2014-04-22,PLAY,1,-1\n"
            "1,2014-04-23,PLAY,1,s9\n"
        },
        config=config,
    )
    ingest_dataset(path, store, progress=False)
    assert query(store, "SELECT item_id FROM events ORDER BY event_id") == [(None,), ("s9",)]


def test_a_users_table_of_versions_keeps_each_users_earliest_version(
    dataset, base_config, store, query
):
    """A dbt snapshot: one row per version, not in time order; the earliest is the user's
    (their city as of signup), the later ones are later_version, not a refusal although
    they are most of the rows; blank or unreadable validity times are row errors."""
    config = base_config()
    config["users"]["columns"]["valid_from"] = "valid"
    users = (
        "id,registration,city,valid\n"
        "1,2014-01-02,Lima,2014-03-01\n"  # moved later: listed first
        "1,2014-01-02,Paris,2014-01-02\n"
        "1,2014-01-02,Rome,2014-05-01\n"
        "2,2014-01-03,Oslo,2014-01-03\n"
        "2,2014-01-03,Bergen,2014-02-03\n"
        "3,2014-01-04,Rome,\n"
        "4,2014-01-04,Rome,someday\n"
    )
    path = dataset(files={"users.csv": users}, config=config)
    summary = ingest_dataset(path, store, progress=False)
    counts = summary.tables["users"]
    assert (counts.read, counts.accepted) == (7, 2)
    assert counts.quarantined == {
        "later_version": 3,
        "missing_required_field": 1,
        "unparseable_timestamp": 1,
    }
    assert query(store, "SELECT user_id, city FROM users ORDER BY 1") == [
        ("1", "Paris"),
        ("2", "Oslo"),
    ]
    (detail,) = query(store, "SELECT detail FROM quarantine WHERE source_row = 1")
    assert detail == ("user_id 1: a version valid from 2014-03-01 00:00:00, after the one kept",)


def test_a_spreadsheets_blank_rows_are_counted_and_never_refuse_the_ingest(dataset, store, query):
    """Thirty blank rows below two events: read and quarantined, not errors, so the two events
    are 100% of what counts against rules.min_accepted_share."""
    events = "uid,ts,page,length\n" + GOOD + "2,2014-04-23,SKIP,1\n" + ",,,\n" * 30
    summary = ingest_dataset(dataset(files={"events.csv": events}), store, progress=False)
    counts = summary.tables["events"]
    assert (counts.read, counts.accepted, counts.quarantined) == (32, 2, {"blank_row": 30})
    assert query(store, "SELECT min(source_row), max(source_row) FROM quarantine") == [(3, 32)]


def test_exports_joined_with_their_headers_are_counted_and_never_refuse_the_ingest(
    dataset, store, query
):
    """Three monthly exports joined with `cat`: the two header lines inside are no rows of
    data, so the events are 2 of the 3 rows that count against rules.min_accepted_share
    (67%, not 2 of 5)."""
    header = "uid,ts,page,length\n"
    months = ("2014-04-22 03:53", "someday", "2014-06-22 03:53")
    joined = "".join(f"{header}1,{time},PLAY,10\n" for time in months)
    summary = ingest_dataset(dataset(files={"events.csv": joined}), store, progress=False)
    counts = summary.tables["events"]
    assert (counts.read, counts.accepted) == (5, 2)
    assert counts.quarantined == {"repeated_header": 2, "unparseable_timestamp": 1}
    assert query(store, "SELECT source_row, reason FROM quarantine ORDER BY 1") == [
        (2, "repeated_header"),
        (3, "unparseable_timestamp"),
        (4, "repeated_header"),
    ]


def test_a_grouped_reports_subtotals_are_counted_and_never_refuse_the_ingest(
    dataset, store, query
):
    """A report grouped by user with a Subtotal line under each group and a Grand Total at
    the end: 2 events, and 3 totals lines that are no rows of data, so nothing counts
    against rules.min_accepted_share."""
    events = (
        "uid,ts,page,length\n"
        + GOOD
        + ",,Subtotal,10\n2,2014-04-23,SKIP,1\n,,Subtotal,1\nGrand Total:,,,11\n"
    )
    summary = ingest_dataset(dataset(files={"events.csv": events}), store, progress=False)
    counts = summary.tables["events"]
    assert (counts.read, counts.accepted, counts.quarantined) == (5, 2, {"totals_row": 3})
    assert query(store, "SELECT source_row FROM quarantine ORDER BY 1") == [(2,), (4,), (5,)]
