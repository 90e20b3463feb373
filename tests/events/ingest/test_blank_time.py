"""An events source with `blank_time: no_event`: a row whose time is blank holds no event of
that source (a subscription never canceled), counted as no_event_time, which no share counts;
a time that is there but unreadable is still an error."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tiny_datasets import make_config, write_dataset

from contracts.errors import UsagecastError
from events.ingest import ingest_dataset

SUBSCRIPTIONS = (
    "id,customer,created,canceled_at\n"
    "s1,1,2024-01-05 10:00,\n"
    "s2,2,2024-01-07 11:00,2024-03-20 09:00\n"
    "s3,3,2024-02-01 08:00,\n"
    "s4,1,2024-02-02 08:00,soon\n"
)
CREATED = {
    "files": "subscriptions.csv",
    "event_type": "SUBSCRIPTION",
    "columns": {"user_id": "customer", "timestamp": "created"},
}
CANCELED = {
    "files": "subscriptions.csv",
    "event_type": "SUBSCRIPTION_CANCELED",
    "columns": {"user_id": "customer", "timestamp": "canceled_at"},
    "blank_time": "no_event",
}


def _config(*sources: dict) -> dict:
    return make_config(events=list(sources), users=None, rules={})


def test_a_subscriptions_cancellations_are_dated_by_their_own_column(dataset, store, query):
    path = dataset(files={"subscriptions.csv": SUBSCRIPTIONS}, config=_config(CREATED, CANCELED))
    summary = ingest_dataset(path, store, progress=False)
    # 3 of 8 rows read by the sources are kept: not refused, the blanks are no events
    events = summary.tables["events"]
    assert (events.read, events.accepted) == (8, 5)
    assert events.quarantined == {"no_event_time": 2, "unparseable_timestamp": 1}
    assert query(
        store,
        "SELECT user_id, event_type, strftime(event_time, '%Y-%m-%d %H:%M') FROM events "
        "ORDER BY event_time",
    ) == [
        ("1", "SUBSCRIPTION", "2024-01-05 10:00"),
        ("2", "SUBSCRIPTION", "2024-01-07 11:00"),
        ("3", "SUBSCRIPTION", "2024-02-01 08:00"),
        ("1", "SUBSCRIPTION", "2024-02-02 08:00"),
        ("2", "SUBSCRIPTION_CANCELED", "2024-03-20 09:00"),
    ]
    assert query(
        store,
        "SELECT source_row, detail FROM quarantine WHERE reason = 'no_event_time' "
        "ORDER BY source_row",
    ) == [
        (1, "canceled_at is blank: no SUBSCRIPTION_CANCELED on this row"),
        (3, "canceled_at is blank: no SUBSCRIPTION_CANCELED on this row"),
    ]
    # a row that holds no event is no error: its raw row is not copied; an error's is
    assert query(store, "SELECT reason, raw IS NULL FROM quarantine ORDER BY ALL") == [
        ("no_event_time", True),
        ("no_event_time", True),
        ("unparseable_timestamp", False),
    ]


def test_a_source_whose_every_row_holds_no_event_is_not_refused(dataset, store):
    never = "id,customer,created,canceled_at\ns1,1,2024-01-05 10:00,\ns2,2,2024-01-07 11:00,\n"
    path = dataset(files={"subscriptions.csv": never}, config=_config(CREATED, CANCELED))
    summary = ingest_dataset(path, store, progress=False)
    assert summary.tables["events"].accepted == 2
    assert summary.tables["events"].quarantined == {"no_event_time": 2}


def test_without_blank_time_a_blank_time_is_a_missing_field(dataset, store):
    plain = {k: v for k, v in CANCELED.items() if k != "blank_time"}
    path = dataset(files={"subscriptions.csv": SUBSCRIPTIONS}, config=_config(CREATED, plain))
    summary = ingest_dataset(path, store, progress=False, allow_partial=True)
    assert summary.tables["events"].quarantined["missing_required_field"] == 2


def test_blank_time_names_its_choices(dataset, store):
    config = _config(CREATED, {**CANCELED, "blank_time": "skip"})
    path = dataset(files={"subscriptions.csv": SUBSCRIPTIONS}, config=config)
    message = r"events\[1\]\.blank_time` is 'skip'; allowed: error, no_event"
    with pytest.raises(UsagecastError, match=message):
        ingest_dataset(path, store, progress=False)


CANCELED_TEXTS = st.sampled_from(["", "2024-03-20 09:00", "2024-04-01", "soon", " "])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["1", "2", ""]), CANCELED_TEXTS), max_size=10))
def test_each_row_is_an_event_no_event_or_an_error_of_each_source(drawn):
    """Every row is read by both sources; the cancellations' source keeps a row with a time,
    counts a blank one as no_event_time and an unreadable one as unparseable_timestamp."""
    lines = "".join(f"s{n},{c},2024-01-05 10:00,{t}\n" for n, (c, t) in enumerate(drawn))
    with tempfile.TemporaryDirectory() as folder:
        path = write_dataset(
            Path(folder) / "data",
            {"subscriptions.csv": "id,customer,created,canceled_at\n" + lines},
            _config(CREATED, CANCELED),
        )
        summary = ingest_dataset(
            path, Path(folder) / "events.duckdb", progress=False, allow_partial=True
        )
    events = summary.tables.get("events")
    if not drawn:
        assert events is None or events.read == 0
        return
    blank = [not t.strip() for _, t in drawn]
    customer = [bool(c) for c, _ in drawn]
    expected = {
        # blank first, whoever the customer; then no customer, in either source
        "no_event_time": sum(blank),
        "missing_required_field": sum(not c for c in customer)
        + sum(not c and not b for c, b in zip(customer, blank, strict=True)),
        "unparseable_timestamp": sum(bool(c) and t == "soon" for c, t in drawn),
    }
    assert events.read == 2 * len(drawn)
    assert events.quarantined == {reason: n for reason, n in expected.items() if n}
    assert events.accepted == events.read - sum(expected.values())
