"""The ingest's fast paths give what their simple definitions give, on messy exports.

- A text file that holds no control character skips the per-row check: ingesting with that
  scan turned off (every row checked, the reference) stores exactly the same tables.
- Duplicate events are found by a hash and then compared exactly: the quarantined
  duplicates are exactly the rows repeating an earlier row's fields (as read) among the rows
  no other rule rejected, a reference computed here in Python.
"""

from __future__ import annotations

import random
import tempfile
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from messy_exports import FORMATS, MessyDataset, stored_tables, write_messy_dataset

from events.ingest import read_config, readers, validate
from events.ingest.readers import InputFile, control_free, reader_sql


def _rows_as_read(dataset: MessyDataset, scratch: Path) -> list[tuple]:
    """The events file's rows as the ingest reads them, every field as text, in file order."""
    source = read_config(dataset.config).events[0]
    path = dataset.config.parent / f"events.{dataset.events_format}"
    file = InputFile(path, path.name, dataset.events_format, "")
    reader = reader_sql(file, source, scratch, 0).sql
    con = duckdb.connect()
    try:
        names = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()]
        fields = ", ".join(f"CAST({validate.ident(name)} AS VARCHAR)" for name in names)
        return con.execute(
            f"SELECT {fields} FROM {reader} WITH ORDINALITY ORDER BY ordinality"
        ).fetchall()
    finally:
        con.close()


def _expected_duplicates(rows: list[tuple], reasons: dict[int, str]) -> set[int]:
    """1-based rows repeating an earlier row among those no other reason rejected."""
    seen, duplicates = set(), set()
    for number, row in enumerate(rows, start=1):
        if reasons.get(number, validate.DUPLICATE_EVENT) != validate.DUPLICATE_EVENT:
            continue
        if row in seen:
            duplicates.add(number)
        seen.add(row)
    return duplicates


@pytest.mark.slow
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rng=st.randoms(use_true_random=False), events_format=st.sampled_from(FORMATS))
def test_fast_paths_equal_their_reference_on_messy_exports(rng: random.Random, events_format: str):
    with tempfile.TemporaryDirectory() as folder:
        dataset = write_messy_dataset(rng, Path(folder) / "data", events_format)
        fast = stored_tables(dataset.config, Path(folder) / "fast" / "events.duckdb")
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(readers, "control_free", lambda path, file_format: False)
            reference = stored_tables(dataset.config, Path(folder) / "reference" / "events.duckdb")
        assert fast == reference
        if isinstance(fast, str):
            return
        reasons = {
            row: reason for table, _, row, reason, *_ in fast["quarantine"] if table == "events"
        }
        duplicates = {row for row, reason in reasons.items() if reason == validate.DUPLICATE_EVENT}
        rows = _rows_as_read(dataset, Path(folder))
        assert duplicates == _expected_duplicates(rows, reasons)


@pytest.mark.parametrize(
    ("content", "file_format", "free"),
    [
        (b"a,b\n1,x\r\n2,\xc3\xa9\t\n", "csv", True),
        (b"a,b\n1,x\x07\n", "csv", False),
        (b"a,b\n1,\x00\n", "csv", False),
        (b"a,b\n1,\x7f\n", "csv", False),
        (b'{"a": "\\u00e9"}\n', "jsonl", True),
        (b'{"a": "\\u0007"}\n', "jsonl", False),
        (b'{"a": "\\u001F"}\n', "jsonl", False),
        (b'{"a": "\\u007f"}\n', "jsonl", False),
        (b'{"a": "\\u0007"}\n', "csv", True),
    ],
)
def test_control_free_finds_control_characters_and_their_json_escapes(
    tmp_path, content, file_format, free
):
    path = tmp_path / f"file.{file_format}"
    path.write_bytes(content)
    assert control_free(path, file_format) is free


def test_a_json_escape_cut_by_a_chunk_boundary_is_found(tmp_path):
    path = tmp_path / "file.jsonl"
    padding = b" " * (readers.HASH_CHUNK - len(b'{"a": "\\u0'))
    path.write_bytes(b'{"a": "' + padding + b'\\u0007"}\n')
    assert not control_free(path, "jsonl")
