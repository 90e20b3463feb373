"""JSON files of API pages (`{"results": [...], "next": ...}`) are read record by record
with `records:` (events/ingest/readers.py, json_records_sql); a page without its array stops
the ingest, named, rather than adding no row."""

from __future__ import annotations

import json
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.ingest import ConfigError, ingest_dataset
from events.ingest.readers import SourceFileError

SOURCE = {
    "files": "pages/*.json",
    "records": "results",
    "columns": {"user_id": "distinct_id", "timestamp": "timestamp", "event_type": "event"},
    "timestamp_formats": ["iso"],
}


def _event(user: str | None, day: int) -> dict:
    return {"event": "PLAY", "distinct_id": user, "timestamp": f"2014-04-{day:02d}T10:00:00"}


def _page(events: list[dict], next_page: str | None = None) -> dict:
    return {"next": next_page, "results": events}


def _config(base_config, source: dict) -> dict:
    return base_config(events=[source])


def test_each_pages_records_are_rows_numbered_page_by_page(dataset, store, base_config, query):
    first = json.dumps(_page([_event("1", 1), _event(None, 2)], "?page=2"), indent=2)
    lines = "\n".join(  # one page a line, the last one empty
        json.dumps(page) for page in (_page([_event("2", 3), _event("3", 4)], "?p=3"), _page([]))
    )
    files = {"pages/a.json": first, "pages/b.json": lines + "\n"}
    summary = ingest_dataset(dataset(files, _config(base_config, SOURCE)), store, progress=False)

    assert summary.tables["events"].read == 4
    assert query(store, "SELECT user_id, source_file FROM events ORDER BY event_time") == [
        ("1", "pages/a.json"),
        ("2", "pages/b.json"),
        ("3", "pages/b.json"),
    ]
    ((row, reason, raw),) = query(store, "SELECT source_row, reason, raw FROM quarantine")
    assert (row, reason) == (2, "missing_required_field")  # the first page's second record
    assert json.loads(raw) == _event(None, 2)


def test_a_nested_records_path_and_a_duplicate_across_pages(dataset, store, base_config, query):
    source = {**SOURCE, "records": "data.events"}
    pages = [{"data": {"events": [_event("1", 1)]}}, {"data": {"events": [_event("1", 1)]}}]
    files = {"pages/a.json": "\n".join(map(json.dumps, pages))}
    summary = ingest_dataset(dataset(files, _config(base_config, source)), store, progress=False)
    assert summary.tables["events"].quarantined == {"duplicate_event": 1}
    assert query(store, "SELECT source_row FROM quarantine") == [(2,)]


def test_a_page_without_its_records_stops_the_ingest_named(dataset, store, base_config):
    error_reply = {"error": "rate limited", "retry_after": 30}
    text = json.dumps(_page([_event("1", 1)])) + "\n" + json.dumps(error_reply) + "\n"
    path = dataset({"pages/a.json": text}, _config(base_config, SOURCE))
    with pytest.raises(SourceFileError) as failed:
        ingest_dataset(path, store, progress=False)
    assert (
        "pages/a.json: top-level object 2 holds nothing at `records: results`, not an array "
        "of records (its keys: error, retry_after); remove that object"
    ) in str(failed.value)
    assert not store.exists()


def test_records_is_for_json_files(dataset, store, base_config):
    csv_source = {**SOURCE, "files": "events.csv", "columns": {**SOURCE["columns"]}}
    with pytest.raises(
        SourceFileError, match=r"events.csv: `records:` is for JSON files, not csv"
    ):
        ingest_dataset(dataset(config=_config(base_config, csv_source)), store, progress=False)
    declared = {**csv_source, "format": "csv"}
    with pytest.raises(ConfigError, match=r"events\[0\]\.records.* is for JSON files, not format"):
        ingest_dataset(dataset(config=_config(base_config, declared)), store, progress=False)


@pytest.mark.parametrize("records", ["data..events", ".results", "results ", ""])
def test_records_must_be_keys_joined_by_dots(dataset, store, base_config, records):
    with pytest.raises(ConfigError, match=r"events\[0\]\.records"):
        ingest_dataset(
            dataset(config=_config(base_config, {**SOURCE, "records": records})), store, False
        )


ELEMENTS = st.one_of(
    st.builds(_event, st.sampled_from(["1", "2", "3", None]), st.integers(1, 3)),
    st.just({"event": "PLAY"}),  # no user id, no time
    st.just("not an object"),
    st.just(42),
)


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    pages=st.lists(st.lists(ELEMENTS, max_size=4), min_size=1, max_size=4),
    pretty=st.booleans(),
    parent=st.sampled_from([None, "page"]),
)
def test_every_record_of_every_page_is_accepted_or_quarantined_once(
    dataset, store, base_config, query, pages, pretty, parent
):
    """With `parent`, an object record also carries its page (less the array) under it."""
    pages[0].insert(0, _event("1", 1))  # a file whose records lack a mapped key is refused
    text = (
        json.dumps(_page(pages[0]), indent=2)
        if pretty and len(pages) == 1
        else "\n".join(json.dumps(_page(page)) for page in pages)
    )
    shutil.rmtree(store.parent, ignore_errors=True)
    source = SOURCE if parent is None else {**SOURCE, "parent": parent}
    path = dataset({"pages/a.json": text}, _config(base_config, source))
    summary = ingest_dataset(path, store, progress=False, allow_partial=True)
    records = [
        {**element, parent: {"next": None}} if parent and isinstance(element, dict) else element
        for page in pages
        for element in page
    ]
    counts = summary.tables["events"]
    assert counts.read == len(records) == counts.accepted + counts.quarantined_total
    quarantined = query(store, "SELECT source_row, raw FROM quarantine ORDER BY source_row")
    for row, raw in quarantined:  # the row number is the record's place in the file
        assert json.loads(raw) == records[row - 1]
