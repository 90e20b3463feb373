"""A JSON file holding one array of records (an API dump) is read like JSON Lines of the same
records: an element is a record, numbered from 1, and its raw row is its text as written."""

from __future__ import annotations

import json
import random
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from messy_exports import stored_tables, write_messy_dataset

from events.ingest import ingest_dataset


def _records(jsonl: bytes) -> list[str]:
    """The JSON Lines file's records as written (no BOM, line ending or blank line)."""
    text = jsonl.decode("utf-8").removeprefix("\ufeff")
    return [line.rstrip("\r") for line in text.split("\n") if line.strip()]


@pytest.mark.slow
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rng=st.randoms(use_true_random=False), one_line=st.booleans())
def test_an_array_of_records_stores_what_json_lines_of_them_store(
    rng: random.Random, one_line: bool
):
    with tempfile.TemporaryDirectory() as folder:
        dataset = write_messy_dataset(rng, Path(folder) / "data", "jsonl")
        if dataset.rows["events"] is None:  # a cut-off file has no whole array to compare
            return
        records = _records((dataset.config.parent / "events.jsonl").read_bytes())
        if not records:  # an empty file is refused, an empty array is not
            return
        array = "[" + (", " if one_line else ",\n").join(records) + "]"
        (dataset.config.parent / "events.json").write_text(array + "\n", encoding="utf-8")
        config = yaml.safe_load(dataset.config.read_text(encoding="utf-8"))
        config["events"][0]["files"] = "events.json"
        array_config = dataset.config.with_name("array.yaml")
        array_config.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")

        lines = stored_tables(dataset.config, Path(folder) / "lines" / "events.duckdb")
        elements = stored_tables(array_config, Path(folder) / "array" / "events.duckdb")
        if isinstance(elements, dict):  # the stored file names: events.json for events.jsonl
            elements = {
                table: [
                    tuple("events.jsonl" if field == "events.json" else field for field in row)
                    for row in stored
                ]
                for table, stored in elements.items()
            }
        assert elements == lines


def test_a_pretty_printed_array_numbers_its_elements(dataset, base_config, store, query):
    records = [
        {"uid": "1", "ts": "2014-04-22", "page": "PLAY", "props": {"device": "ios"}},
        {"uid": "2", "ts": "yesterday", "page": "SKIP"},
        5,
        {"uid": 2.0, "ts": "2014-04-23", "page": "SKIP"},
    ]
    config = base_config(
        events=[
            {
                "files": "export.json",
                "columns": {
                    "user_id": "uid",
                    "timestamp": "ts",
                    "event_type": "page",
                    "properties": "props",
                },
            }
        ]
    )
    path = dataset(files={"export.json": json.dumps(records, indent=2)}, config=config)
    summary = ingest_dataset(path, store, progress=False, allow_partial=True)

    assert summary.tables["events"].read == 4
    assert query(store, "SELECT user_id, event_type, properties FROM events ORDER BY 1") == [
        ("1", "PLAY", '{"device":"ios"}'),
        ("2", "SKIP", None),
    ]
    quarantined = query(
        store, "SELECT source_file, source_row, reason, raw FROM quarantine ORDER BY source_row"
    )
    assert [row[:3] for row in quarantined] == [
        ("export.json", 2, "unparseable_timestamp"),
        ("export.json", 3, "missing_required_field"),
    ]
    assert json.loads(quarantined[0][3]) == records[1]


def test_a_json_file_of_lines_is_read_as_lines(dataset, base_config, store, query):
    lines = '{"uid": "1", "ts": "2014-04-22", "page": "PLAY"}\n[1, 2]\n'
    config = base_config(
        events=[
            {
                "files": "events.json",
                "columns": {"user_id": "uid", "timestamp": "ts", "event_type": "page"},
            }
        ]
    )
    path = dataset(files={"events.json": lines}, config=config)
    summary = ingest_dataset(path, store, progress=False, allow_partial=True)
    assert summary.tables["events"].read == 2
    assert query(store, "SELECT source_row, reason FROM quarantine") == [
        (2, "missing_required_field")
    ]
