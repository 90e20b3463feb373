"""Messy-export edge cases: each row is quarantined with its reason or the file is refused with
its line number; none is accepted silently."""

from __future__ import annotations

import pytest

from events.ingest import SourceFileError, ingest_dataset
from events.ingest.readers import MAX_LINE_BYTES

HEADER = "uid,ts,page,length\n"
GOOD = "1,2014-04-22 03:53,PLAY,10\n"


def _accounted(summary) -> None:
    for counts in summary.tables.values():
        assert counts.read == counts.accepted + counts.quarantined_total


def _with_area(config):
    config["events"][0]["columns"]["area"] = "area"
    return config


def test_csv_cut_off_inside_a_quoted_field_is_refused_at_the_line_of_the_quote(
    dataset, base_config, store
):
    events = 'uid,ts,page,length,area\n1,2014-04-22,PLAY,1,home\n2,2014-04-23,PLAY,2,"hom'
    path = dataset(files={"events.csv": events}, config=_with_area(base_config()))
    with pytest.raises(SourceFileError) as raised:
        ingest_dataset(path, store, progress=False)
    message = str(raised.value)
    assert "events.csv" in message
    assert "line 3: a quoted field is not closed" in message
    assert '"hom' not in message


def test_repeated_header_column_is_refused_naming_it(dataset, store):
    path = dataset(files={"events.csv": "uid,ts,page,length,ts\n1,2014-04-22,PLAY,1,2015-01-01\n"})
    with pytest.raises(SourceFileError, match=r"events.csv: line 1: .*column 'ts' more than once"):
        ingest_dataset(path, store, progress=False)


def test_nul_and_control_characters_in_text_fields_are_quarantined(
    dataset, base_config, store, query
):
    events = (
        "uid,ts,page,length,area\n"
        "1,2014-04-22,PLAY,1,home\n"
        "1\x00,2014-04-22,PLAY,2,home\n"
        "2,2014-04-22,PLAY,3,ho\x00me\n"
        "3,2014-04-22,PL\x07AY,4,home\n"
        '2,2014-04-22,PLAY,5,"two\tlines\r\nok"\n'
    )
    path = dataset(files={"events.csv": events}, config=_with_area(base_config()))
    summary = ingest_dataset(path, store, progress=False, allow_partial=True)

    _accounted(summary)
    assert summary.tables["events"].accepted == 2
    assert summary.tables["events"].quarantined == {"control_characters": 3}
    rows = query(store, "SELECT source_row, detail FROM quarantine ORDER BY source_row")
    assert [(row, detail.split(" holds")[0]) for row, detail in rows] == [
        (2, "user_id"),
        (3, "area"),
        (4, "event_type"),
    ]
    assert all("holds a control character" in detail for _, detail in rows)
    assert query(store, "SELECT count(*) FROM events WHERE contains(area, chr(0))") == [(0,)]


def test_iso_accepts_only_iso_8601_and_slashes_need_a_pattern(dataset, base_config, store):
    events = HEADER + "".join(
        f"1,{ts},PLAY,1\n"
        for ts in (
            "2024/02/01",
            "2024-2-1",
            "20240201",
            "2024-02-01 10:00 CET",
            "2024-02-01 10:00 UTC",
            "2024-02-01",
            "2024-02-01T10:00",
            "2024-02-01 10:00:00.5+02:00",
            "2024-02-01T11:00:00Z",
        )
    )
    summary = ingest_dataset(dataset(files={"events.csv": events}), store, progress=False)
    _accounted(summary)
    assert summary.tables["events"].accepted == 5
    assert summary.tables["events"].quarantined == {"unparseable_timestamp": 4}

    config = base_config()
    config["events"][0]["timestamp_formats"] = ["iso", "%Y/%m/%d"]
    summary = ingest_dataset(
        dataset(files={"events.csv": HEADER + "1,2024/02/01,PLAY,1\n"}, config=config),
        store,
        progress=False,
    )
    assert summary.tables["events"].accepted == 1


@pytest.mark.parametrize(
    "value", ["1_000", "inf", "nan", "-inf", " 1 000", "0x10", "1,5", "1e999"]
)
def test_numbers_must_be_plain_decimals(dataset, store, query, value):
    events = HEADER + GOOD + f'1,2014-04-23,PLAY,"{value}"\n'
    summary = ingest_dataset(dataset(files={"events.csv": events}), store, progress=False)
    _accounted(summary)
    assert summary.tables["events"].quarantined == {"unparseable_value": 1}


def test_plain_decimals_in_every_spelling_are_read(dataset, store, query):
    values = ["10", "+2", "2.5", ".5", "3.", "1e2", "1.5E+1", " 7 "]
    events = HEADER + "".join(f"1,2014-04-{10 + i},PLAY,{v}\n" for i, v in enumerate(values))
    summary = ingest_dataset(dataset(files={"events.csv": events}), store, progress=False)
    assert summary.tables["events"].accepted == len(values)
    assert query(store, "SELECT value FROM events ORDER BY event_time") == [
        (10.0,),
        (2.0,),
        (2.5,),
        (0.5,),
        (3.0,),
        (100.0,),
        (15.0,),
        (7.0,),
    ]


def test_whitespace_only_lines_are_blank_lines_but_kept_inside_quoted_fields(
    dataset, base_config, store, query
):
    events = (
        "uid,ts,page,length,area\n"
        "1,2014-04-22,PLAY,1,home\n"
        "   \n"
        "\t \n"
        '2,2014-04-22,PLAY,2,"multi\n   \nline"\n'
        "3,2014-04-22,PLAY,3,home\n"
    )
    path = dataset(files={"events.csv": events}, config=_with_area(base_config()))
    summary = ingest_dataset(path, store, progress=False)
    _accounted(summary)
    assert summary.tables["events"].read == 3
    assert query(store, "SELECT area FROM events ORDER BY user_id") == [
        ("home",),
        ("multi\n   \nline",),
        ("home",),
    ]


def test_mixed_crlf_and_lf_endings_are_read_even_deep_in_the_file(dataset, store, query):
    good = "".join(f"1,2014-04-22,PLAY,{i % 1000}\n" for i in range(30_000))
    events = HEADER + good + "2,2014-04-23,SKIP,1\r\n" + "3,2014-04-24,SKIP,2\r\n"
    summary = ingest_dataset(
        dataset(files={"events.csv": events}), store, progress=False, allow_partial=True
    )
    _accounted(summary)
    assert summary.tables["events"].read == 30_002
    assert summary.tables["events"].quarantined == {"duplicate_event": 29_000}
    assert query(store, "SELECT user_id, value FROM events WHERE event_type = 'SKIP'") == [
        ("2", 1.0),
        ("3", 2.0),
    ]


def test_crlf_file_with_a_whitespace_line_stays_crlf(dataset, store):
    events = (HEADER + GOOD + "  \n" + "2,2014-04-23,SKIP,1\n").replace("\n", "\r\n")
    summary = ingest_dataset(dataset(files={"events.csv": events}), store, progress=False)
    assert summary.tables["events"].accepted == 2


def test_fields_up_to_the_line_limit_are_read_and_longer_lines_refused(
    dataset, base_config, store, query
):
    assert MAX_LINE_BYTES >= 16 * 1024 * 1024
    big = "x" * (3 * 1024 * 1024)
    events = f"uid,ts,page,length,area\n1,2014-04-22,PLAY,1,{big}\n"
    path = dataset(files={"events.csv": events}, config=_with_area(base_config()))
    assert ingest_dataset(path, store, progress=False).tables["events"].accepted == 1
    assert query(store, "SELECT length(area) FROM events") == [(len(big),)]

    huge = "x" * (MAX_LINE_BYTES + 1)
    events = f"uid,ts,page,length,area\n1,2014-04-22,PLAY,1,a\n2,2014-04-22,PLAY,1,{huge}\n"
    path = dataset(files={"events.csv": events}, config=_with_area(base_config()))
    with pytest.raises(SourceFileError) as raised:
        ingest_dataset(path, store, progress=False)
    message = str(raised.value)
    assert "events.csv" in message
    assert "line 3: a line is longer than the 16 MiB limit" in message
    assert len(message) < 500


def test_a_utf8_bom_starts_csv_and_jsonl_files(dataset, base_config, store, query):
    config = base_config()
    config["events"].append(
        {"files": "buys.jsonl", "columns": {"user_id": "u", "timestamp": "t", "event_type": "e"}}
    )
    bom = "\ufeff"
    files = {
        "users.csv": bom + "id,registration,city\n1,2014-01-02,Paris\n",
        "events.csv": bom + HEADER + GOOD,
        "buys.jsonl": bom + '{"u": "1", "t": "2014-05-01", "e": "LOGIN"}\n',
    }
    summary = ingest_dataset(dataset(files=files, config=config), store, progress=False)
    _accounted(summary)
    assert summary.tables["users"].accepted == 1
    assert summary.tables["events"].accepted == 2
    assert query(store, "SELECT event_type FROM events ORDER BY event_time") == [
        ("PLAY",),
        ("LOGIN",),
    ]
