"""Lines with fewer fields than the header: an error naming the line and the setting, or,
with `short_lines: empty`, rows whose missing last fields are empty."""

from __future__ import annotations

import pytest

from events.ingest import ConfigError, SourceFileError, ingest_dataset, read_config
from events.ingest.starter import write_starter

# An exporter that writes a line's fields up to its last filled one: the value and the area
# are left out where empty, and a description with a line break is quoted.
SHORT = (
    "uid,ts,page,length,area\n"
    "1,2014-04-22 03:53,PLAY\n"
    '2,2014-04-22 04:00,SKIP,1,"home\nfeed"\n'
    "1,2014-04-23 05:00,SKIP,3\n"
)


def _short_config(base_config, short_lines=None):
    config = base_config()
    config["events"][0]["columns"]["area"] = "area"
    if short_lines is not None:
        config["events"][0]["short_lines"] = short_lines
    return config


def test_a_short_line_is_fatal_and_says_how_to_read_it(dataset, base_config, store):
    path = dataset(files={"events.csv": SHORT}, config=_short_config(base_config))
    with pytest.raises(SourceFileError) as raised:
        ingest_dataset(path, store, progress=False)
    assert str(raised.value).endswith(
        "events.csv: cannot read as csv (utf-8): line 2: Expected Number of Columns: 5 "
        "Found: 3 (an exporter that leaves a line's last empty fields out? set short_lines: "
        "empty on this source)"
    )
    assert not store.exists()


def test_short_lines_read_their_missing_fields_as_empty(dataset, base_config, store, query):
    path = dataset(files={"events.csv": SHORT}, config=_short_config(base_config, "empty"))
    counts = ingest_dataset(path, store, progress=False).tables["events"]
    assert (counts.read, counts.accepted) == (3, 3)
    assert query(store, "SELECT source_row, value, area FROM events ORDER BY source_row") == [
        (1, None, None),
        (2, 1.0, "home\nfeed"),
        (3, 3.0, None),
    ]


def test_a_long_line_stays_fatal_with_short_lines_empty(dataset, base_config, store):
    long_line = SHORT + "1,2014-04-24 05:00,SKIP,3,home,extra\n"
    path = dataset(files={"events.csv": long_line}, config=_short_config(base_config, "empty"))
    with pytest.raises(SourceFileError, match=r"line 5: Expected Number of Columns: 5 Found: 6$"):
        ingest_dataset(path, store, progress=False)


def test_short_lines_takes_error_or_empty(dataset, base_config, store):
    path = dataset(files={"events.csv": SHORT}, config=_short_config(base_config, "pad"))
    with pytest.raises(ConfigError, match=r"short_lines` is 'pad'; allowed: error, empty"):
        ingest_dataset(path, store, progress=False)


def test_the_starter_sets_short_lines_from_its_sample(tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    (export / "events.csv").write_text(SHORT.replace("uid,ts,page", "user_id,timestamp,event"))
    out, starter = write_starter([export], None, "short")
    (source,) = read_config(out).events
    assert source.short_lines == "empty"
    assert (
        "events.csv: 2 sampled line(s) have fewer fields than the header (their last empty "
        "fields left out): short_lines: empty reads the missing fields as empty"
    ) in starter.checks
    counts = ingest_dataset(out, tmp_path / "store" / "events.duckdb", progress=False)
    assert counts.tables["events"].accepted == 3


def test_short_lines_is_for_delimited_text_tables(dataset, base_config, store):
    config = _short_config(base_config, "empty")
    config["events"][0]["files"] = "events.jsonl"
    config["events"][0]["columns"].pop("area")
    events = '{"uid": "1", "ts": "2014-04-22", "page": "PLAY", "length": "1"}\n'
    path = dataset(files={"events.jsonl": events}, config=config)
    with pytest.raises(SourceFileError, match="`short_lines` is for delimited text tables"):
        ingest_dataset(path, store, progress=False)
