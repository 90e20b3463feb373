"""What real exports look like: encodings, date formats, JSONL/Parquet, mixed id types."""

from __future__ import annotations

from datetime import datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from events.ingest import ingest_dataset
from events.ingest.readers import SourceFileError


def test_latin1_day_first_dates_and_epoch_seconds(dataset, base_config, store, query):
    config = base_config()
    config["users"].update(encoding="latin-1", timestamp_formats=["%d-%m-%Y %H:%M"])
    config["events"][0]["timestamp_formats"] = ["%d-%m-%Y %H:%M", "iso", "epoch_s"]
    users = "id,registration,city\n1,22-04-2014 03:53,Zürich\n2,01-02-2014 00:00,Besançon\n"
    events = (
        "uid,ts,page,length\n"
        "1,22-04-2014 03:53,PLAY,1\n"
        "2,2014-04-23,SKIP,1\n"
        "2,1398138780,PLAY,2\n"
        "1,2014-04-22T05:53:00+02:00,PLAY,3\n"
    )
    path = dataset(
        files={"users.csv": users.encode("latin-1"), "events.csv": events}, config=config
    )
    summary = ingest_dataset(path, store, progress=False)

    assert summary.tables["events"].quarantined == {}
    assert query(store, "SELECT user_id, signup_time, city FROM users") == [
        ("1", datetime(2014, 4, 22, 3, 53), "Zürich"),
        ("2", datetime(2014, 2, 1), "Besançon"),
    ]
    assert query(store, "SELECT event_time FROM events ORDER BY event_id") == [
        (datetime(2014, 4, 22, 3, 53),),
        (datetime(2014, 4, 23),),
        (datetime(2014, 4, 22, 3, 53),),  # epoch seconds are UTC
        (datetime(2014, 4, 22, 3, 53),),  # an ISO offset is converted to naive UTC
    ]


def test_codec_duckdb_lacks_is_transcoded(dataset, base_config, store, query):
    config = base_config()
    config["users"]["encoding"] = "cp1252"
    users = "id,registration,city\n1,2014-01-02,Lódz € café\n"
    path = dataset(files={"users.csv": users.encode("cp1252")}, config=config)
    ingest_dataset(path, store, progress=False)
    assert query(store, "SELECT city FROM users") == [("Lódz € café",)]


def test_jsonl_parquet_constant_type_and_mixed_id_types(
    tmp_path, dataset, base_config, store, query
):
    table = pa.table(
        {"user": pa.array([1, 2], pa.int64()), "at_ms": pa.array([1398138780000, 1398138840000])}
    )
    pq.write_table(table, tmp_path / "data.parquet")
    jsonl = (
        '{"u": "1", "t": "2014-04-22", "e": "NextSong", "p": {"device": "ios"}}\n'
        '{"u": 2.0, "t": "2014-04-23", "e": "SKIP", "p": null}\n'
    )
    config = base_config(
        events=[
            {
                "files": "events.jsonl",
                "columns": {
                    "user_id": "u",
                    "timestamp": "t",
                    "event_type": "e",
                    "properties": "p",
                },
            },
            {
                "files": "logins/*.parquet",
                "event_type": "LOGIN",
                "columns": {"user_id": "user", "timestamp": "at_ms"},
                "timestamp_formats": ["epoch_ms"],
            },
        ]
    )
    files = {"events.jsonl": jsonl, "logins/a.parquet": (tmp_path / "data.parquet").read_bytes()}
    ingest_dataset(dataset(files=files, config=config), store, progress=False)

    assert query(
        store,
        "SELECT user_id, event_type, properties, source_file, source_row FROM events "
        "ORDER BY event_id",
    ) == [
        ("1", "PLAY", '{"device":"ios"}', "events.jsonl", 1),
        ("2", "SKIP", None, "events.jsonl", 2),
        ("1", "LOGIN", None, "logins/a.parquet", 1),
        ("2", "LOGIN", None, "logins/a.parquet", 2),
    ]


def test_row_numbers_follow_the_file_across_a_glob(dataset, base_config, store, query):
    config = base_config()
    config["events"][0]["files"] = "parts/*.csv"
    head = "uid,ts,page,length\n"
    part = head + "".join(f"{1 + i % 3},2014-04-{1 + i % 28:02d},PLAY,{i}\n" for i in range(500))
    files = {"parts/a.csv": part, "parts/b.csv": part.replace("PLAY", "SKIP")}
    ingest_dataset(dataset(files=files, config=config), store, progress=False)
    mismatched = query(
        store,
        "SELECT count(*) FROM events WHERE value <> source_row - 1 AND source_file LIKE 'parts/%'",
    )
    assert mismatched == [(0,)]
    assert query(store, "SELECT count(*) FROM events") == [(1000,)]


def test_events_are_stored_by_user_and_time_with_their_date(dataset, base_config, store, query):
    config = base_config()
    config["events"][0]["files"] = "parts/*.csv"
    head = "uid,ts,page,length\n"
    rows = "".join(
        f"{1 + i % 3},2014-04-{1 + i % 28:02d},{'PLAY' if i % 7 else 'X'},{i}\n"
        for i in range(3000)
    )
    files = {"parts/a.csv": head + rows, "parts/b.csv": head + rows.replace("PLAY", "SKIP")}
    ingest_dataset(dataset(files=files, config=config), store, progress=False, allow_partial=True)
    out_of_order = query(
        store,
        "SELECT count(*) FROM events a JOIN events b ON b.rowid = a.rowid + 1 "
        "WHERE (b.user_id, b.event_time, b.event_id) <= (a.user_id, a.event_time, a.event_id)",
    )
    assert out_of_order == [(0,)]
    wrong_dates = "SELECT count(*) FROM events WHERE event_date <> CAST(event_time AS DATE)"
    assert query(store, wrong_dates) == [(0,)]


def test_parquet_raw_rows_keep_their_types_and_a_rowid_column_is_just_data(
    tmp_path, dataset, base_config, store, query
):
    pq.write_table(
        pa.table({"uid": [1, 7], "ts": ["2014-04-22", "2014-04-22"], "rowid": [10, 11]}),
        tmp_path / "e.parquet",
    )
    config = base_config(
        events=[
            {
                "files": "e.parquet",
                "event_type": "PLAY",
                "columns": {"user_id": "uid", "timestamp": "ts"},
            }
        ]
    )
    files = {"e.parquet": (tmp_path / "e.parquet").read_bytes()}
    ingest_dataset(dataset(files=files, config=config), store, progress=False)
    assert query(store, "SELECT user_id, source_row FROM events") == [("1", 1)]
    assert query(store, "SELECT source_row, reason, raw FROM quarantine") == [
        (2, "unknown_user", '{"uid":7,"ts":"2014-04-22","rowid":11}')
    ]


def test_jsonl_without_records_reads_zero_rows(dataset, base_config, store):
    config = base_config()
    config["events"].append(
        {"files": "buys.jsonl", "columns": {"user_id": "u", "timestamp": "t", "event_type": "e"}}
    )
    summary = ingest_dataset(dataset(files={"buys.jsonl": "\n\n"}, config=config), store, False)
    assert summary.tables["events"].read == 2


def test_an_excel_sep_line_is_skipped_and_counts_as_a_line(dataset, base_config, store, query):
    config = base_config()
    config["events"][0]["delimiter"] = ";"
    events = "\ufeffsep=;\r\nuid;ts;page;length\r\n1;2014-04-22;PLAY;1\r\n2;someday;PLAY;1\r\n"
    path = dataset(files={"events.csv": events}, config=config)
    ingest_dataset(path, store, progress=False, allow_partial=True)
    assert query(store, "SELECT user_id FROM events") == [("1",)]
    assert query(store, "SELECT source_row, reason FROM quarantine") == [
        (2, "unparseable_timestamp")
    ]

    broken = dataset(
        files={"events.csv": "sep=;\nuid;ts;page;length\n1;2014-04-22\n"}, config=config
    )
    with pytest.raises(SourceFileError, match=r"events\.csv: cannot read as csv .*line 3:"):
        ingest_dataset(broken, store, progress=False)


def test_an_excel_sep_line_must_agree_with_the_delimiter(dataset, store):
    path = dataset(files={"events.csv": "sep=;\nuid;ts;page;length\n1;2014-04-22;PLAY;1\n"})
    with pytest.raises(SourceFileError, match="line 1: Excel's `sep=;` line declares"):
        ingest_dataset(path, store, progress=False)


def test_a_header_that_starts_like_a_sep_line_is_a_header(dataset, base_config, store, query):
    config = base_config()
    config["events"][0]["columns"]["user_id"] = "sep=u"
    path = dataset(
        files={"events.csv": "sep=u,ts,page,length\n1,2014-04-22,PLAY,1\n"}, config=config
    )
    ingest_dataset(path, store, progress=False)
    assert query(store, "SELECT user_id FROM events") == [("1",)]
