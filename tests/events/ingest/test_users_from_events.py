"""A dataset without a users table: users, signup and user-level attributes from the events."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from events.ingest import ConfigError, ingest_dataset
from events.quality import load_latest_report

# Invoice lines: float-like customer ids, a customer whose country changes, date-only times
# in one file and minute-level ones in the other.
LINES = (
    "Invoice,Customer,Country,When,Qty\n"
    "536365,17850.0,United Kingdom,2024-01-03 08:26,6\n"
    "536366,17850.0,France,2024-01-02 09:00,2\n"
    "536367,13047.0,,2024-01-05 10:00,1\n"
    "536368,13047.0,Norway,2024-01-06 10:00,4\n"
    "536369,12583.0,France,2024-01-04 11:30,3\n"
)
RETURNS = "Customer,Day,Country\n17850,2024-01-01,Germany\n99999,2024-01-07,Spain\n"


def events_only(**extra) -> dict:
    country = {"country": {"column": "Country", "kind": "static", "dtype": "categorical"}}
    return {
        "name": "shop",
        "events": [
            {
                "files": "lines.csv",
                "event_type": "purchase",
                "columns": {"user_id": "Customer", "timestamp": "When", "value": "Qty"},
                "user_attributes": country,
            },
            {
                "files": "returns.csv",
                "event_type": "return",
                "columns": {"user_id": "Customer", "timestamp": "Day"},
                "user_attributes": country,
            },
        ],
        **extra,
    }


def test_users_are_the_distinct_event_users_signed_up_at_their_first_event(dataset, store, query):
    path = dataset(files={"lines.csv": LINES, "returns.csv": RETURNS}, config=events_only())
    summary = ingest_dataset(path, store, progress=False)

    assert summary.tables["events"].accepted == 7 and "users" not in summary.tables
    assert query(store, "SELECT * FROM users ORDER BY user_id") == [
        ("12583", dt.datetime(2024, 1, 4, 11, 30), "France"),
        ("13047", dt.datetime(2024, 1, 5, 10, 0), "Norway"),  # the blank first value skipped
        ("17850", dt.datetime(2024, 1, 1), "Germany"),  # the first event (a return) wins
        ("99999", dt.datetime(2024, 1, 7), "Spain"),
    ]
    assert query(store, "SELECT * FROM user_attributes") == [("country", "static", "categorical")]
    assert query(store, "SELECT count(*) FROM quarantine") == [(0,)]
    # 17850's events say Germany, France, United Kingdom; 13047's blank then Norway agree.
    report = load_latest_report()
    assert report["users_from"] == "events"
    assert report["user_attribute_conflicts"] == {"country": 1}
    assert report["columns"]["users"]["rows"] == 4
    assert report["granularity"] == "timestamp"


def test_an_unparseable_user_level_attribute_quarantines_its_event(dataset, store, query):
    config = events_only()
    config["events"] = config["events"][:1]
    config["events"][0]["user_attributes"] = {
        "size": {"column": "Qty", "kind": "static", "dtype": "numeric"}
    }
    lines = LINES.replace(",6\n", ",six\n")
    summary = ingest_dataset(
        dataset(files={"lines.csv": lines}, config=config), store, progress=False
    )
    assert summary.tables["events"].quarantined == {"unparseable_value": 1}
    # 17850's first remaining event is on 2024-01-02 with 2.
    assert query(store, "SELECT size FROM users WHERE user_id = '17850'") == [(2.0,)]


def test_user_attributes_on_events_need_a_config_without_users(dataset, store, base_config):
    config = base_config()
    config["events"][0]["user_attributes"] = {
        "tier": {"column": "length", "kind": "static", "dtype": "numeric"}
    }
    with pytest.raises(ConfigError, match=r"events\[0\]\.user_attributes.*users\.attributes"):
        ingest_dataset(dataset(config=config), store, progress=False)


def test_sources_must_declare_a_user_attribute_alike(dataset, store):
    config = events_only()
    config["events"][1]["user_attributes"] = {
        "country": {"column": "Country", "kind": "snapshot", "dtype": "categorical"}
    }
    with pytest.raises(ConfigError, match=r"events\[1\]\.user_attributes\.country.*static"):
        ingest_dataset(dataset(config=config), store, progress=False)


def test_the_ingest_record_names_the_dataset(dataset, store, query):
    path = dataset(files={"lines.csv": LINES, "returns.csv": RETURNS}, config=events_only())
    ingest_dataset(path, store, progress=False)
    assert query(store, "SELECT dataset FROM ingests") == [("shop",)]
    assert json.loads(query(store, "SELECT counts FROM ingests")[0][0]).keys() == {"events"}
