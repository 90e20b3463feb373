"""A users table without `signup_time` (Shopify's customers export has none): each user signs
up at their first accepted event; a user without one is quarantined as user_without_events,
which does not count against min_accepted_share."""

from __future__ import annotations

import pytest
from tiny_datasets import make_config

from contracts.errors import UsagecastError
from events.ingest import ingest_dataset
from events.quality import load_latest_report

CUSTOMERS = "email,country\nann@x.io,FR\nbob@x.io,DE\ncid@x.io,FR\ndan@x.io,\nann@x.io,FR\n"
ORDERS = (
    "email,created,total\n"
    "bob@x.io,2024-03-06 09:00,12\n"
    "ann@x.io,2024-03-05 10:00,30\n"
    "eve@x.io,2024-03-07 10:00,5\n"
    "ann@x.io,2024-02-01 08:00,7\n"
)
USERS = {
    "files": "customers.csv",
    "columns": {"user_id": "email"},
    "attributes": {"country": {"column": "country", "kind": "static", "dtype": "categorical"}},
}
EVENTS = {
    "files": "orders.csv",
    "event_type": "ORDER",
    "columns": {"user_id": "email", "timestamp": "created", "value": "total"},
}


def test_each_user_signs_up_at_their_first_event(dataset, store, query):
    config = make_config(events=[EVENTS], users=USERS, rules={})
    path = dataset(files={"customers.csv": CUSTOMERS, "orders.csv": ORDERS}, config=config)
    summary = ingest_dataset(path, store, progress=False)
    # 2 of 5 rows kept, but the 2 without events are no errors: 2 of 3, not refused as partial
    assert summary.tables["users"].accepted == 2
    assert summary.tables["users"].quarantined == {"duplicate_user": 1, "user_without_events": 2}
    assert summary.tables["events"].quarantined == {"unknown_user": 1}  # eve is no customer
    users = "SELECT user_id, strftime(signup_time, '%Y-%m-%d %H:%M'), country FROM users"
    assert query(store, users + " ORDER BY user_id") == [
        ("ann@x.io", "2024-02-01 08:00", "FR"),
        ("bob@x.io", "2024-03-06 09:00", "DE"),
    ]
    quarantined = query(
        store,
        "SELECT source_row, detail FROM quarantine WHERE reason = 'user_without_events' "
        "ORDER BY source_row",
    )
    assert [row for row, _ in quarantined] == [3, 4]  # cid and dan, as data rows of the file
    assert quarantined[0][1].startswith("user_id cid@x.io has no accepted event")
    assert load_latest_report()["users_from"] == "users table, each signed up at their first event"


def test_a_users_table_of_versions_needs_its_signup_time(dataset, store):
    users = {**USERS, "columns": {"user_id": "email", "valid_from": "since"}}
    config = make_config(events=[EVENTS], users=users, rules={})
    path = dataset(files={"customers.csv": CUSTOMERS, "orders.csv": ORDERS}, config=config)
    with pytest.raises(UsagecastError, match=r"users\.columns\.signup_time` is required in a"):
        ingest_dataset(path, store, progress=False)
